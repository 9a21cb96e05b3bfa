//! Helpers shared by the umbrella package's integration tests
//! (`tests/*.rs`, each of which declares `mod common;`) and the guest
//! tests (`guest-tests/tests/*.rs`, `#[path]` to this file). Cargo builds
//! only the files directly in `tests/` as test targets, so this module is
//! no test of its own. What needs no `clusterip` type is in the
//! `clusterip-test-support` crate (`test-support/`); the helpers here that
//! take a [`Netns`] hand its path to that crate's.
//!
//! - [`block_on`]: a current-thread Tokio runtime (never `#[tokio::test]`:
//!   the "macros" feature is not allowed in this workspace).
//! - [`netns_with_lo`], [`netns_with_ipvs`]: throwaway network namespaces.
//! - [`nsenter`], [`sh`], [`tool`], [`run_in`], [`run_in_merged`]: reference
//!   tools (and our examples) run inside a namespace with
//!   `nsenter --net=PATH`.
//! - [`unprivileged_self`]: this test binary re-run as an unprivileged child
//!   (uid/gid 65534, no capabilities) inside a namespace.
//! - [`example`], [`example_next_to_test`]: the example binaries, built by
//!   cargo (host tests) or found next to the test binary (guest tests, whose
//!   file system is read-only).
//! - [`compare_bad_input`]: the verdict on one bad input given to one of our
//!   examples and to the reference tool it replaces.
//! - [`data`]: the seeds' keepalived files under `tests/data/keepalived`.

// Every test file includes this whole module but uses only some of its
// helpers; the rest would warn as dead code in that file's test target.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

use clusterip::ipvs::IpvsHandle;
use clusterip::netlink::Netns;

pub use clusterip_test_support::{block_on, merged, require_guest};

/// A `Command` for `nsenter --net=PATH` into `ns`; add the program and its
/// arguments.
pub fn nsenter(ns: &Netns) -> Command {
    clusterip_test_support::nsenter(ns.proc_path())
}

/// Runs `args` (a program and its arguments) in `ns`, asserts that it
/// succeeded (the message shows its output) and returns its stdout.
pub fn sh(ns: &Netns, args: &[&str]) -> String {
    clusterip_test_support::sh(ns.proc_path(), args)
}

/// Runs `args` (a program and its arguments) in `ns`, success or not:
/// (success, stdout followed by stderr).
pub fn tool(ns: &Netns, args: &[&str]) -> (bool, String) {
    clusterip_test_support::tool(ns.proc_path(), args)
}

/// Runs `prog args` in `ns` with `stdin` written to its standard input
/// (then closed) and returns its output.
pub fn run_in(ns: &Netns, prog: impl AsRef<OsStr>, args: &[&str], stdin: &str) -> Output {
    clusterip_test_support::run_in(ns.proc_path(), prog, args, stdin)
}

/// [`run_in`], as (success, stdout followed by stderr).
pub fn run_in_merged(
    ns: &Netns,
    prog: impl AsRef<OsStr>,
    args: &[&str],
    stdin: &str,
) -> (bool, String) {
    let out = run_in(ns, prog, args, stdin);
    (out.status.success(), merged(&out))
}

/// A fresh throwaway network namespace (root needed) with `lo` up.
pub fn netns_with_lo() -> Netns {
    let ns = Netns::new_anonymous().expect("new network namespace (root needed)");
    sh(&ns, &["ip", "link", "set", "lo", "up"]);
    ns
}

/// [`netns_with_lo`] and an IPVS handle in it; fails when the kernel has no
/// IPVS, and outside a guest kernel ([`require_guest`]).
pub fn netns_with_ipvs() -> (Netns, IpvsHandle) {
    require_guest();
    let ns = netns_with_lo();
    let h = block_on(IpvsHandle::in_netns(&ns)).expect("IPVS must be available in the guest");
    (ns, h)
}

/// Re-runs this test binary inside `ns` as an unprivileged child: uid and
/// gid 65534, no groups, no capabilities (`setpriv`), running only the
/// test `test` (`--exact`, `--nocapture`) with the environment variable
/// `key=value` set so that the child knows it is the child. Returns its
/// output, whatever its exit status.
pub fn unprivileged_self(ns: &Netns, test: &str, key: &str, value: &str) -> Output {
    let exe = std::env::current_exe().unwrap();
    nsenter(ns)
        .args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(exe)
        .args(["--exact", test, "--nocapture"])
        .env(key, value)
        .output()
        .unwrap()
}

/// The example `name`, built (or found up to date) by cargo on first use,
/// with the cargo running the test, its target directory and profile: a
/// test never runs a stale or missing binary, and a failed build fails it.
pub fn example(name: &str) -> PathBuf {
    static BINS: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let mut bins = BINS.get_or_init(Default::default).lock().unwrap();
    if let Some((_, p)) = bins.iter().find(|(n, _)| n == name) {
        return p.clone();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut c = Command::new(cargo);
    c.args(["build", "--example", name])
        .arg("--manifest-path")
        .arg(clusterip_test_support::workspace_root().join("Cargo.toml"))
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        c.arg("--release");
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("run cargo build --example {name}: {e}"));
    assert!(out.status.success(), "cargo build --example {name} failed");
    // The artifact message of the example names its executable.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = stdout
        .lines()
        .filter(|l| {
            l.contains(r#""reason":"compiler-artifact""#)
                && l.contains(r#""kind":["example"]"#)
                && l.contains(&format!(r#""name":"{name}""#))
        })
        .find_map(|l| {
            let from = l.find(r#""executable":""#)? + r#""executable":""#.len();
            let rest = &l[from..];
            Some(PathBuf::from(&rest[..rest.find('"')?]))
        })
        .unwrap_or_else(|| panic!("cargo reported no executable for example {name}"));
    assert!(exe.is_file(), "{} missing", exe.display());
    bins.push((name.to_owned(), exe.clone()));
    exe
}

/// The example `name` that cargo built next to this test binary
/// (`target/<profile>/deps/TEST-HASH` -> `target/<profile>/examples/NAME`;
/// `cargo test --no-run` builds it). For guest tests, whose file system is
/// read-only: a missing binary fails the test.
pub fn example_next_to_test(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build --example {name}` (same profile) before running this test",
        bin.display()
    );
    bin
}

/// One bad input (`args`) given to the reference `tool` and to our example,
/// each as (accepted, stdout + stderr, the kernel state afterwards). Appends
/// a line on both answers to `report` and returns what is wrong with ours
/// (empty: nothing): it accepts what the tool refuses or the reverse; it
/// refuses with a message that names neither `token` nor matches the tool's
/// message; it panicked; it left a different state.
pub fn compare_bad_input<S: PartialEq>(
    tool: &str,
    args: &str,
    token: &str,
    (ref_ok, ref_text, ref_state): (bool, &str, &S),
    (our_ok, our_text, our_state): (bool, &str, &S),
    report: &mut String,
) -> Vec<String> {
    *report += &format!(
        "{args:?}: {tool} ok={ref_ok} {:?} | ours ok={our_ok} {:?}\n",
        ref_text.trim(),
        our_text.trim()
    );
    let mut bad = Vec::new();
    if ref_ok != our_ok {
        bad.push("acceptance differs".to_owned());
    }
    // Our examples reproduce the tools' own messages; where the tool does
    // not name the value, the same message is the expected answer.
    if !our_ok && !our_text.contains(token) && our_text.trim() != ref_text.trim() {
        bad.push(format!(
            "message names neither the value nor matches {tool}"
        ));
    }
    if our_text.contains("panicked") {
        bad.push("panic".to_owned());
    }
    if ref_state != our_state {
        bad.push("state differs".to_owned());
    }
    bad
}

/// A file of the seeds' keepalived configurations
/// (`tests/data/keepalived/<p>`).
pub fn data(p: &str) -> PathBuf {
    clusterip_test_support::workspace_root()
        .join("tests/data/keepalived")
        .join(p)
}

/// Reads with `read` until two consecutive reads agree, and returns that
/// value; panics (showing the last read) if five reads never settle.
///
/// For dumps made by the reference tools: IPVS resumes a service dump at a
/// position counted over the services of *all* network namespaces (one
/// global table) and never flags an interrupted dump. The kernel runs the
/// dump again for every datagram, the last one too, which on 6.1 carries
/// only `NLMSG_DONE` (`strace` of `ipvsadm -Sn` in the guest: 9 services in
/// one datagram, then `NLMSG_DONE` in a second). A service added in another
/// namespace between two runs makes the next one repeat our last service
/// (CI: `-A -f 8 -6` listed twice), a deleted one makes it skip one; tests
/// in other namespaces, or the kernel cleaning up a dropped namespace, do
/// that. Our library reads again itself (`IpvsHandle::services`); `ipvsadm`
/// does not. A wrong state stays wrong on every read, so this hides nothing
/// but the race.
pub fn settled<T: PartialEq + std::fmt::Debug>(mut read: impl FnMut() -> T) -> T {
    let mut last = read();
    for _ in 0..4 {
        let next = read();
        if next == last {
            return next;
        }
        last = next;
    }
    panic!("five reads in a row never agreed; the last: {last:?}")
}

/// A read of IPVS made again while the crate reports it interrupted
/// ([`Error::DumpInterrupted`](clusterip::netlink::Error::DumpInterrupted):
/// no two of its dumps agreed, because IPVS resumes a dump at a position
/// counted over every namespace's services and the other tests of the
/// binary, running in parallel, changed theirs meanwhile), up to 50 times
/// 20 ms apart; any other outcome is returned (and an error panics).
pub fn uninterrupted<T>(mut read: impl FnMut() -> clusterip::netlink::Result<T>) -> T {
    let mut tries = 0;
    loop {
        match read() {
            Err(clusterip::netlink::Error::DumpInterrupted { .. }) if tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("after {tries} interrupted reads: {e}"),
            Ok(v) => return v,
        }
    }
}

/// What `ipvsadm -Sn` prints for exactly `want`, written here from
/// ipvsadm's save format and the desired state's plain fields (not by the
/// library's planner or formatter), sorted line by line: the independent
/// oracle the guest tests compare the reference tool's listing against.
/// Covers what those tests build (address services without persistence,
/// destinations without thresholds); anything else panics, so that a test
/// that needs more extends this oracle instead of passing unchecked.
pub fn ipvsadm_save_of(
    want: &[(clusterip::ipvs::Service, Vec<clusterip::ipvs::Destination>)],
) -> Vec<String> {
    use clusterip::ipvs::{ForwardMethod, Protocol, ServiceFlags, ServiceKey};
    let mut lines = Vec::new();
    for (s, ds) in want {
        let ServiceKey::Addr { protocol, addr } = &s.key else {
            panic!("oracle: only address services: {:?}", s.key)
        };
        let p = match protocol {
            Protocol::Tcp => "-t",
            Protocol::Udp => "-u",
            Protocol::Sctp => "--sctp-service",
            other => panic!("oracle: protocol {other:?}"),
        };
        assert!(
            !s.flags.contains(ServiceFlags::PERSISTENT) && s.pe_name.is_none(),
            "oracle: persistence is not covered"
        );
        lines.push(format!("-A {p} {addr} -s {}", s.scheduler.name()));
        for d in ds {
            assert!(
                d.upper_threshold == 0 && d.lower_threshold == 0,
                "oracle: thresholds are not covered"
            );
            let m = match d.forward {
                ForwardMethod::Masquerade => "-m",
                ForwardMethod::DirectRoute => "-g",
                ForwardMethod::Tunnel => "-i",
                ref other => panic!("oracle: forwarding {other:?}"),
            };
            let r = std::net::SocketAddr::new(d.addr, d.port);
            lines.push(format!("-a {p} {addr} -r {r} {m} -w {}", d.weight.0));
        }
    }
    lines.sort();
    lines
}

/// Asserts that the reference `ipvsadm -Sn` in `ns` lists exactly `want`
/// (every service, scheduler, destination, method and weight; order
/// aside), read until two reads agree ([`settled`]). On a difference the
/// message shows the lines only one side has.
pub fn assert_ipvsadm_lists(
    ns: &Netns,
    want: &[(clusterip::ipvs::Service, Vec<clusterip::ipvs::Destination>)],
) {
    let expect = ipvsadm_save_of(want);
    let got = settled(|| {
        let mut v: Vec<String> = sh(ns, &["ipvsadm", "-Sn"])
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    });
    if got != expect {
        let missing: Vec<&String> = expect.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<&String> = got.iter().filter(|l| !expect.contains(l)).collect();
        panic!(
            "ipvsadm -Sn lists {} lines, {} expected; missing (first 10): {:?}; unexpected (first 10): {:?}",
            got.len(),
            expect.len(),
            &missing[..missing.len().min(10)],
            &extra[..extra.len().min(10)]
        );
    }
}
