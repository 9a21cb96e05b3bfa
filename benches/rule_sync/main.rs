//! Rule-sync throughput: this project vs the reference tools vs a raw floor.
//!
//! Run everything with one command: `tools/bench` (IPVS cases in the
//! user-mode-linux guest, ipset cases on the host kernel in a throwaway
//! network namespace; writes `docs/BENCH.md` and `docs/bench.svg`).
//!
//! This is a self-made harness (`harness = false`). Modes:
//!
//! ```text
//! rule_sync run --ipvs|--ipset [--n 1000,10000] [--runs 3] [--judged-runs 15]
//!               [--no-strace] [--cases 1,3]
//!     measure; one tab-separated line per measurement on stdout. Enters a
//!     new network namespace first (root), never touches the caller's.
//!     In the cases judged against the raw floor (1, 1w, 5a, 5b) every
//!     implementation but the reference tool runs --judged-runs times
//!     (default: three times --runs), the tool --runs times.
//! rule_sync exec IMPL CASE N DGRAM [FILE]
//!     one measured operation (a child of `run`), in the current namespace.
//! rule_sync render FILE... --md OUT.md --svg OUT.svg
//!     medians, ratios, the Must-show checks, the chart.
//! ```
//!
//! Cases (N services x 4 destinations; ipset: 50,000 hash:ip,port entries):
//! 1 apply from empty, 1w the same in a warm process (its second time,
//! the first in a namespace of its own: a long-lived daemon's cost; only
//! with `--cases 1w`), 2 no-op resync, 3 resync with 10% changed, 4 full
//! read, 5a ipset add, 5b ipset atomic replace. Implementations: `ours`
//! (`clusterip::sync::Syncer`, `IpvsHandle::config_snapshot`, `IpsetHandle`
//! bulk/replace), `stats` (case 4: `IpvsHandle::snapshot`, statistics
//! decoded too), `ipvsadm` (this project's `ipvsadm -R`), `tool` (`ipvsadm -R` / `ipvsadm -Sn` / `ipset restore`
//! fed equivalent input), `floor` (the same messages pre-encoded before the
//! clock starts, sent in datagrams of up to 1 MiB, an ACK asked only of the
//! last message of each datagram, replies only scanned for their headers).
//!
//! Each measurement is a separate process: wall time (whole process, from
//! spawn to exit), the operation's own time as the process measured it
//! (ours and floor), user and system CPU, peak RSS and page faults
//! (`wait4`), and in a separate run under `strace -f -c`, the number of
//! system calls.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use clusterip::ipset::{BulkOptions, CreateSet, Element, IpPortEntry, IpProto, IpsetHandle};
use clusterip::ipvs::{
    Destination, IpvsHandle, IpvsMessage, Operation, Scheduler, Service, ServiceEntry, Weight,
};
use clusterip::netlink::netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use clusterip::netlink::netlink_packet_generic::GenlMessage;
use clusterip::netlink::{Connection, Netns};
use clusterip::sync::{Graceful, Syncer, plan};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const IPSET_N: usize = 50_000;
const SET: &str = "bench";
/// The table size every implementation creates the cases' sets with:
/// room for all `IPSET_N` entries. A set created smaller grows its table
/// while the entries arrive, and each growth waits for the readers of the
/// old table (an RCU grace period, `synchronize_rcu` in the kernel's
/// hash resize): about 45 ms off the CPU per run here, the same for every
/// client, which buried the clients' own cost in noise.
const IPSET_HASHSIZE: u32 = 65536;

/// The set of the ipset cases, named `name`, as every implementation
/// creates it.
fn ipset_spec(name: &str) -> CreateSet {
    CreateSet::hash_ip_port(name).options(|o| o.hashsize(IPSET_HASHSIZE))
}
/// The datagram sizes the sweep tries for the write cases, the engine's
/// default (64 KiB) first. The best one for the floor is then used by both
/// the floor and this project's engine, so neither is judged at a size
/// that suits only the other.
const SWEEP: [usize; 5] = [64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

mod exec;
mod floor;
mod render;
mod run;
mod state;
use exec::*;
use floor::*;
use render::*;
use run::*;
use state::*;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let res = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("exec") if args.len() >= 5 => {
            let n = args[3].parse().unwrap_or(0);
            let dgram = args[4].parse().unwrap_or(0);
            exec(
                &args[1],
                &args[2],
                n,
                dgram,
                args.get(5).map(String::as_str),
            )
        }
        Some("render") => render(&args[1..]),
        _ => {
            eprintln!(
                "rule_sync: the rule-sync benchmark. Run it with tools/bench (see benches/rule_sync/)."
            );
            Ok(())
        }
    };
    if let Err(e) = res {
        eprintln!("rule_sync: {e}");
        std::process::exit(1);
    }
}
