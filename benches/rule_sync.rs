//! Rule-sync throughput: this project vs the reference tools vs a raw floor.
//!
//! Run everything with one command: `tools/bench` (IPVS cases in the
//! user-mode-linux guest, ipset cases on the host kernel in a throwaway
//! network namespace; writes `docs/BENCH.md` and `docs/bench.svg`).
//!
//! This is a self-made harness (`harness = false`). Modes:
//!
//! ```text
//! rule_sync run --ipvs|--ipset [--n 1000,10000] [--runs 3] [--no-strace] [--cases 1,3]
//!     measure; one tab-separated line per measurement on stdout. Enters a
//!     new network namespace first (root), never touches the caller's.
//! rule_sync exec IMPL CASE N DGRAM [FILE]
//!     one measured operation (a child of `run`), in the current namespace.
//! rule_sync render FILE... --md OUT.md --svg OUT.svg
//!     medians, ratios, the Must-show checks, the chart.
//! ```
//!
//! Cases (N services x 4 destinations; ipset: 50,000 hash:ip,port entries):
//! 1 apply from empty, 2 no-op resync, 3 resync with 10% changed, 4 full
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

// ------------------------------------------------------------------ state

fn service(i: usize) -> Service {
    Service::tcp(SocketAddr::new(
        IpAddr::from([10, (i >> 16) as u8 + 1, (i >> 8) as u8, i as u8]),
        80,
    ))
    .scheduler(Scheduler::RoundRobin)
}

fn dest(i: usize, j: usize) -> Destination {
    Destination::new(
        IpAddr::from([172, 16 + j as u8, (i >> 8) as u8, i as u8]),
        8080,
    )
    .masquerade()
}

/// N services x 4 destinations.
fn state(n: usize) -> Vec<(Service, Vec<Destination>)> {
    (0..n)
        .map(|i| (service(i), (0..4).map(|j| dest(i, j)).collect()))
        .collect()
}

/// `state(n)` with 10% of services and destinations changed: services
/// with i % 10 == 0 replaced by new ones; services with i % 10 == 1 get
/// destination 0 replaced and destination 1 re-weighted.
fn changed(n: usize) -> Vec<(Service, Vec<Destination>)> {
    let mut v = state(n);
    for (i, (s, ds)) in v.iter_mut().enumerate() {
        match i % 10 {
            0 => *s = service(n + i),
            1 => {
                ds[0] = dest(i, 9);
                ds[1].weight = Weight(5);
            }
            _ => {}
        }
    }
    v
}

fn as_entries(st: &[(Service, Vec<Destination>)]) -> Vec<ServiceEntry> {
    st.iter()
        .map(|(s, d)| ServiceEntry {
            service: s.clone(),
            destinations: d.clone(),
        })
        .collect()
}

/// The operations `state(n)` -> `changed(n)` takes (the planner's own).
fn change_ops(n: usize) -> Vec<Operation> {
    plan(
        &as_entries(&state(n)),
        &changed(n),
        &|_| true,
        Graceful::All,
    )
    .ops
}

/// `state(n)` with one backend changed: service 0's first destination
/// replaced by another (a health check took one backend out, another
/// came in).
fn one_changed(n: usize) -> Vec<(Service, Vec<Destination>)> {
    let mut v = state(n);
    if let Some((_, ds)) = v.first_mut() {
        if let Some(d) = ds.first_mut() {
            *d = dest(0, 9);
        }
    }
    v
}

/// The operations `state(n)` -> `one_changed(n)` takes.
fn one_change_ops(n: usize) -> Vec<Operation> {
    plan(
        &as_entries(&state(n)),
        &one_changed(n),
        &|_| true,
        Graceful::Off,
    )
    .ops
}

fn apply_ops(n: usize) -> Vec<Operation> {
    plan(&[], &state(n), &|_| true, Graceful::All).ops
}

fn ipvsadm_line(op: &Operation) -> String {
    let k = |k: &clusterip::ipvs::ServiceKey| match k {
        clusterip::ipvs::ServiceKey::Addr { addr, .. } => format!("-t {addr}"),
        other => format!("-f {other}"),
    };
    match op {
        Operation::AddService(s) => format!("-A {} -s {}", k(&s.key), s.scheduler),
        Operation::EditService(s) => format!("-E {} -s {}", k(&s.key), s.scheduler),
        Operation::DeleteService(key) => format!("-D {}", k(key)),
        Operation::AddDestination(key, d) => {
            format!("-a {} -r {d} -m -w {}", k(key), d.weight)
        }
        Operation::EditDestination(key, d) => {
            format!("-e {} -r {d} -m -w {}", k(key), d.weight)
        }
        Operation::DeleteDestination(key, d) => format!("-d {} -r {d}", k(key)),
        Operation::ZeroService(key) => format!("-Z {}", k(key)),
    }
}

fn elems(offset: usize) -> Vec<IpPortEntry> {
    (offset..offset + IPSET_N)
        .map(|i| {
            IpPortEntry::new(
                IpAddr::from([10, 200 + (i >> 16) as u8, (i >> 8) as u8, i as u8]),
                if i % 2 == 0 {
                    IpProto::Tcp
                } else {
                    IpProto::Udp
                },
                (1000 + i % 5000) as u16,
            )
        })
        .collect()
}

// ------------------------------------------------------------ raw floor

struct Raw {
    sock: netlink_sys::Socket,
    buf: Vec<u8>,
}

impl Raw {
    fn open(proto: isize) -> Res<Raw> {
        let mut s = netlink_sys::Socket::new(proto)?;
        s.bind_auto()?;
        s.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        let size: libc::c_int = 4 << 20;
        for opt in [libc::SO_SNDBUFFORCE, libc::SO_RCVBUFFORCE] {
            // SAFETY: setsockopt on the socket we own with a live c_int.
            unsafe {
                use std::os::fd::AsRawFd;
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok(Raw {
            sock: s,
            buf: vec![0; 1 << 20],
        })
    }

    /// Packs messages into datagrams of at most `max` bytes, each
    /// message with a sequence number (counting from `*seq`), the last of
    /// each datagram asking an ACK. Returns (datagram bytes, last sequence
    /// number) per datagram.
    fn pack_with(seq: &mut u32, msgs: Vec<Vec<u8>>, max: usize) -> Vec<(Vec<u8>, u32)> {
        let mut out: Vec<(Vec<u8>, u32)> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut last_off = 0;
        let close =
            |cur: &mut Vec<u8>, last_off: usize, seq: u32, out: &mut Vec<(Vec<u8>, u32)>| {
                let f = u16::from_ne_bytes([cur[last_off + 6], cur[last_off + 7]]) | NLM_F_ACK;
                cur[last_off + 6..last_off + 8].copy_from_slice(&f.to_ne_bytes());
                out.push((std::mem::take(cur), seq));
            };
        for mut m in msgs {
            if !cur.is_empty() && cur.len() + m.len() > max {
                close(&mut cur, last_off, *seq, &mut out);
            }
            *seq += 1;
            m[8..12].copy_from_slice(&seq.to_ne_bytes());
            last_off = cur.len();
            cur.extend_from_slice(&m);
            while cur.len() % 4 != 0 {
                cur.push(0);
            }
        }
        if !cur.is_empty() {
            close(&mut cur, last_off, *seq, &mut out);
        }
        out
    }

    /// Sends the datagrams; after each, reads until the ACK of its last
    /// message. Returns the number of error replies.
    fn send_all(&mut self, dgrams: &Records) -> Res<usize> {
        let mut errors = 0;
        for (d, last) in dgrams.iter() {
            self.sock.send(d, 0)?;
            'wait: loop {
                let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
                let mut off = 0;
                while off + 16 <= n {
                    let len = u32::from_ne_bytes(self.buf[off..off + 4].try_into()?) as usize;
                    let ty = u16::from_ne_bytes(self.buf[off + 4..off + 6].try_into()?);
                    let seq = u32::from_ne_bytes(self.buf[off + 8..off + 12].try_into()?);
                    if ty == 2 {
                        let errno = i32::from_ne_bytes(self.buf[off + 16..off + 20].try_into()?);
                        if errno != 0 {
                            errors += 1;
                        }
                        if seq == last {
                            break 'wait;
                        }
                    }
                    off += (len.max(16) + 3) & !3;
                }
            }
        }
        Ok(errors)
    }

    /// Reads one datagram of a running dump: (data messages, DONE seen).
    fn recv_part(&mut self) -> Res<(usize, bool)> {
        let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
        let mut msgs = 0;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(self.buf[off..off + 4].try_into()?) as usize;
            let ty = u16::from_ne_bytes(self.buf[off + 4..off + 6].try_into()?);
            if ty == 3 || ty == 2 {
                return Ok((msgs, true));
            }
            msgs += 1;
            off += (len.max(16) + 3) & !3;
        }
        Ok((msgs, false))
    }

    /// Runs one dump request; scans only headers until DONE.
    fn dump(&mut self, req: &[u8]) -> Res<usize> {
        self.sock.send(req, 0)?;
        let mut msgs = 0;
        loop {
            let (m, done) = self.recv_part()?;
            msgs += m;
            if done {
                return Ok(msgs);
            }
        }
    }

    /// Runs the dump requests `reqs` over the sockets `socks`, one dump in
    /// flight on each (as `IpvsHandle::config_snapshot` pipelines its
    /// destination dumps over `DEFAULT_PIPELINE` connections), and returns
    /// the data messages received.
    fn dump_pipelined(socks: &mut [Raw], reqs: &[&[u8]]) -> Res<usize> {
        let mut next = 0;
        let mut busy = vec![false; socks.len()];
        for (s, b) in socks.iter_mut().zip(busy.iter_mut()) {
            if let Some(r) = reqs.get(next) {
                s.sock.send(r, 0)?;
                next += 1;
                *b = true;
            }
        }
        let mut total = 0;
        while busy.iter().any(|b| *b) {
            for (s, b) in socks.iter_mut().zip(busy.iter_mut()) {
                if !*b {
                    continue;
                }
                let (m, done) = s.recv_part()?;
                total += m;
                if done {
                    *b = false;
                    if let Some(r) = reqs.get(next) {
                        s.sock.send(r, 0)?;
                        next += 1;
                        *b = true;
                    }
                }
            }
        }
        Ok(total)
    }
}

/// Writes pre-encoded datagrams (or requests) for a floor run:
/// `[u32 length][u32 last sequence number][bytes]` each.
fn write_records(path: &std::path::Path, recs: &[(Vec<u8>, u32)]) -> Res<()> {
    let mut f = std::io::BufWriter::new(File::create(path)?);
    for (b, seq) in recs {
        f.write_all(&(b.len() as u32).to_ne_bytes())?;
        f.write_all(&seq.to_ne_bytes())?;
        f.write_all(b)?;
    }
    f.flush()?;
    Ok(())
}

/// A floor's whole input in memory: the file read in one go (every page
/// touched while reading it, before the clock starts) and where each
/// record lies in it; nothing is copied again.
struct Records {
    all: Vec<u8>,
    recs: Vec<(std::ops::Range<usize>, u32)>,
}

impl Records {
    /// Reads what [`write_records`] wrote.
    fn read(path: &str) -> Res<Records> {
        let all = std::fs::read(path)?;
        let mut recs = Vec::new();
        let mut off = 0;
        while off + 8 <= all.len() {
            let len = u32::from_ne_bytes(all[off..off + 4].try_into()?) as usize;
            let seq = u32::from_ne_bytes(all[off + 4..off + 8].try_into()?);
            let range = off + 8..off + 8 + len;
            all.get(range.clone()).ok_or("short record file")?;
            recs.push((range, seq));
            off += 8 + len;
        }
        Ok(Records { all, recs })
    }

    fn len(&self) -> usize {
        self.recs.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], u32)> {
        self.recs
            .iter()
            .filter_map(|(r, seq)| self.all.get(r.clone()).map(|b| (b, *seq)))
    }
}

/// The floor's input for `case`, encoded by the runner (outside every
/// measured process): datagrams for writes, requests for reads.
fn floor_input(case: &str, n: usize, family: u16, dgram: usize) -> Res<Vec<(Vec<u8>, u32)>> {
    use clusterip::ipset::{Command as C, IpsetAttr as A};
    let pack = |msgs: Vec<Vec<u8>>| Raw::pack_with(&mut 0, msgs, dgram);
    Ok(match case {
        "1" | "3" | "6" => {
            let ops = match case {
                "1" => apply_ops(n),
                "3" => change_ops(n),
                _ => one_change_ops(n),
            };
            pack(
                ops.iter()
                    .map(|o| genl(family, o.message(), NLM_F_REQUEST))
                    .collect(),
            )
        }
        "2" | "4" => std::iter::once(genl(
            family,
            IpvsMessage::dump_services(),
            NLM_F_REQUEST | NLM_F_DUMP,
        ))
        .chain(state(n).iter().map(|(s, _)| {
            genl(
                family,
                IpvsMessage::dump_destinations(&s.key),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
        }))
        .map(|b| (b, 0))
        .collect(),
        "5a" => pack(ipset_adds(SET, &elems(0))),
        "5b" => {
            let tmp = "bench-tmp";
            let spec = CreateSet::hash_ip_port(tmp);
            let mut v = vec![ipset_msg(
                C::Create,
                NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
                vec![
                    A::SetName(tmp.into()),
                    A::TypeName("hash:ip,port".into()),
                    A::Revision(6),
                    A::Family(clusterip::ipset::Family::Inet),
                    A::CreateData(spec.options.to_attrs()),
                ],
            )];
            v.extend(ipset_adds(tmp, &elems(IPSET_N / 2)));
            v.push(ipset_msg(
                C::Swap,
                NLM_F_REQUEST,
                vec![A::SetName(tmp.into()), A::SetName2(SET.into())],
            ));
            v.push(ipset_msg(
                C::Destroy,
                NLM_F_REQUEST,
                vec![A::SetName(tmp.into())],
            ));
            pack(v)
        }
        _ => return Err(format!("no floor for case {case}").into()),
    })
}

fn genl(family: u16, p: IpvsMessage, flags: u16) -> Vec<u8> {
    let mut g = GenlMessage::from_payload(p);
    g.set_resolved_family_id(family);
    let mut h = NetlinkHeader::default();
    h.flags = flags;
    let mut m = NetlinkMessage::new(h, NetlinkPayload::InnerMessage(g));
    m.finalize();
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

fn ipset_msg(
    cmd: clusterip::ipset::Command,
    flags: u16,
    attrs: Vec<clusterip::ipset::IpsetAttr>,
) -> Vec<u8> {
    let m = clusterip::ipset::request::build(cmd, 7, flags, attrs);
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

/// ADD messages of as many elements as fit in 64 KiB each.
fn ipset_adds(set: &str, es: &[IpPortEntry]) -> Vec<Vec<u8>> {
    use clusterip::ipset::{Command as C, ElementAttr, IpsetAttr as A};
    let mut out = Vec::new();
    let mut chunk: Vec<Vec<ElementAttr>> = Vec::new();
    let mut size = 0;
    let flush = |chunk: &mut Vec<Vec<ElementAttr>>, out: &mut Vec<Vec<u8>>| {
        out.push(ipset_msg(
            C::Add,
            NLM_F_REQUEST | NLM_F_EXCL,
            vec![
                A::SetName(set.into()),
                A::LineNo(0),
                A::Adt(std::mem::take(chunk)),
            ],
        ));
    };
    for e in es {
        let mut a = e.to_attrs();
        a.push(ElementAttr::LineNo(0));
        // DATA nest: ip nest 12 + port 8 + proto 8 + lineno 8 + header 4
        let sz = 40;
        if size + sz > 65000 {
            flush(&mut chunk, &mut out);
            size = 0;
        }
        size += sz;
        chunk.push(a);
    }
    if !chunk.is_empty() {
        flush(&mut chunk, &mut out);
    }
    out
}

// ------------------------------------------------------------------ exec

/// A connection in the current namespace whose batches are packed into
/// datagrams of up to `dgram` bytes (0: the engine's default).
fn connection(proto: clusterip::netlink::Protocol, dgram: usize) -> Res<Connection> {
    let mut config = clusterip::netlink::Config::default();
    if dgram > 0 {
        config.max_datagram = dgram;
    }
    Ok(Connection::open_with(proto, &Netns::current(), config)?)
}

/// One measured operation; prints "op_ns changes".
fn exec(imp: &str, case: &str, n: usize, dgram: usize, file: Option<&str>) -> Res<()> {
    let rt = rt();
    let ipvs = || async {
        let conn = connection(clusterip::netlink::Protocol::Generic, dgram)?;
        Res::<IpvsHandle>::Ok(IpvsHandle::with_connection(conn).await?)
    };
    let ipset = || -> Res<IpsetHandle> {
        Ok(IpsetHandle::with_connection(connection(
            clusterip::netlink::Protocol::Netfilter,
            dgram,
        )?)?)
    };
    let (ns, changes) = match (imp, case) {
        // case 6, the change a daemon that knows it sends: those operations
        // only, no read
        ("incr", "6") => {
            let ops = one_change_ops(n);
            rt.block_on(async {
                let h = ipvs().await?;
                let t = op_start();
                let r = h.apply(&ops).await?;
                let el = op_end(t);
                if !r.all_ok() {
                    return Err(format!("refused: {:?}", r.errors()).into());
                }
                Res::Ok((el, r.len()))
            })?
        }
        ("ours", "1" | "2" | "3" | "6") => {
            let want = match case {
                "3" => changed(n),
                "6" => one_changed(n),
                _ => state(n),
            };
            rt.block_on(async {
                let h = ipvs().await?;
                let s = Syncer::ipvs_only(h);
                let t = op_start();
                let r = s.sync_services(&want).await?;
                let el = op_end(t);
                if !r.is_converged() {
                    return Err(format!("not converged: {:?}", r.failed.first()).into());
                }
                Res::Ok((el, r.changes()))
            })?
        }
        // ours: what `ipvsadm -S` reads (configuration and connection
        // counters); stats: the same with every statistics block decoded
        ("ours" | "stats", "4") => rt.block_on(async {
            let h = ipvs().await?;
            let t = op_start();
            let s = if imp == "ours" {
                h.config_snapshot().await?
            } else {
                h.snapshot().await?
            };
            let el = op_end(t);
            if s.len() != n {
                return Err(format!("read {} services, expected {n}", s.len()).into());
            }
            Res::Ok((el, 0))
        })?,
        ("ours", "5a") => {
            let es = elems(0);
            rt.block_on(async {
                let h = ipset()?;
                let t = op_start();
                let r = h.add_many(SET, &es, BulkOptions::default()).await?;
                let el = op_end(t);
                if !r.all_applied() {
                    return Err("add refused".into());
                }
                Res::Ok((el, r.applied()))
            })?
        }
        ("ours", "5b") => {
            let es = elems(IPSET_N / 2);
            rt.block_on(async {
                let h = ipset()?;
                let t = op_start();
                let r = h.replace(&CreateSet::hash_ip_port(SET), &es).await?;
                Res::Ok((op_end(t), r.applied()))
            })?
        }
        ("floor", "1" | "3" | "6" | "5a" | "5b") => {
            // The input, encoded and packed by the runner, read whole
            // before the clock starts.
            let dg = Records::read(file.ok_or("floor needs its input file")?)?;
            let proto = if case.starts_with('5') {
                netlink_sys::protocols::NETLINK_NETFILTER
            } else {
                netlink_sys::protocols::NETLINK_GENERIC
            };
            let mut raw = Raw::open(proto)?;
            let t = op_start();
            let errors = raw.send_all(&dg)?;
            let el = op_end(t);
            if errors > 0 {
                return Err(format!("{errors} errors").into());
            }
            (el, dg.len())
        }
        ("floor", "2" | "4") => {
            // the service dump, then the N destination dumps over as many
            // sockets as our reader pipelines them over
            let reqs = Records::read(file.ok_or("floor needs its input file")?)?;
            let all: Vec<&[u8]> = reqs.iter().map(|(r, _)| r).collect();
            let (svc_req, dest_reqs) = all.split_first().ok_or("no requests")?;
            let proto = netlink_sys::protocols::NETLINK_GENERIC;
            let mut raw = Raw::open(proto)?;
            let mut pipe = (0..clusterip::ipvs::DEFAULT_PIPELINE)
                .map(|_| Raw::open(proto))
                .collect::<Res<Vec<_>>>()?;
            let t = op_start();
            let got = raw.dump(svc_req)?;
            let d = Raw::dump_pipelined(&mut pipe, dest_reqs)?;
            let el = op_end(t);
            if got != n || d != 4 * n {
                return Err(format!("read {got} services, {d} destinations").into());
            }
            (el, 0)
        }
        _ => return Err(format!("unknown exec {imp} {case}").into()),
    };
    // Our own peak RSS: wait4's ru_maxrss would include the runner's, which
    // Linux records at exec.
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .unwrap_or(-1);
    let op_faults = FAULTS_AT_END.load(Ordering::Relaxed) - FAULTS_AT_START.load(Ordering::Relaxed);
    println!("{} {changes} {hwm} {op_faults}", ns.as_nanos());
    Ok(())
}

/// Minor page faults of this process when the measured operation began
/// and when it ended.
static FAULTS_AT_START: AtomicI64 = AtomicI64::new(0);
static FAULTS_AT_END: AtomicI64 = AtomicI64::new(0);

/// Starts the clock of the measured operation (and notes the page faults
/// so far).
fn op_start() -> Instant {
    FAULTS_AT_START.store(faults_so_far().0, Ordering::Relaxed);
    Instant::now()
}

/// Stops the clock of the measured operation started at `t` (and notes the
/// page faults so far).
fn op_end(t: Instant) -> Duration {
    let el = t.elapsed();
    FAULTS_AT_END.store(faults_so_far().0, Ordering::Relaxed);
    el
}

/// This process's page faults so far (minor, major), from getrusage.
fn faults_so_far() -> (i64, i64) {
    // SAFETY: getrusage writes one rusage into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid pointer to our rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (-1, -1);
    }
    (ru.ru_minflt, ru.ru_majflt)
}

// ------------------------------------------------------------------- run

struct Measure {
    wall: Duration,
    op: Option<Duration>,
    changes: Option<usize>,
    user: Duration,
    sys: Duration,
    maxrss_kib: i64,
    /// Page faults (minor and major), from `wait4`'s rusage.
    faults: i64,
    /// Minor page faults inside the operation (ours and floor report them).
    op_faults: Option<i64>,
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Spawns `cmd` (stdin from `input`), waits with wait4 for its rusage.
fn measure(cmd: &mut Command, input: Option<&str>) -> Res<Measure> {
    cmd.stdin(match input {
        Some(p) => Stdio::from(File::open(p)?),
        None => Stdio::null(),
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    // Drain output on threads so the child never blocks on a full pipe.
    let mut so = child.stdout.take().ok_or("stdout")?;
    let mut se = child.stderr.take().ok_or("stderr")?;
    let ho = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut so, &mut s);
        s
    });
    let he = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut se, &mut s);
        s
    });
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; status and ru are live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t.elapsed();
    if rc != pid {
        return Err(std::io::Error::last_os_error().into());
    }
    let out = ho.join().unwrap_or_default();
    let err = he.join().unwrap_or_default();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("{cmd:?} failed ({status}): {err}").into());
    }
    let mut it = out.split_whitespace();
    let op = it
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_nanos);
    let changes = it.next().and_then(|s| s.parse().ok());
    // ours and floor report their own VmHWM; for the tools ru_maxrss is an
    // upper bound (it includes the runner's high-water mark at exec)
    let own_hwm = it
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|v| *v > 0);
    let op_faults = it.next().and_then(|s| s.parse::<i64>().ok());
    Ok(Measure {
        wall,
        op,
        changes,
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
        maxrss_kib: own_hwm.unwrap_or(ru.ru_maxrss),
        faults: ru.ru_minflt + ru.ru_majflt,
        op_faults,
    })
}

/// System calls of one run under `strace -f -c`.
fn syscalls(cmd: &[String], input: Option<&str>) -> Res<u64> {
    let out = std::env::temp_dir().join(format!("rule_sync-strace-{}", std::process::id()));
    let mut c = Command::new("strace");
    c.arg("-f").arg("-c").arg("-o").arg(&out).args(cmd);
    measure(&mut c, input)?;
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    let total = text
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with("total"))
        .ok_or("no strace total")?;
    let f: Vec<&str> = total.split_whitespace().collect();
    Ok(f.get(3).ok_or("strace total")?.parse()?)
}

fn sh(args: &[&str]) -> Res<()> {
    let st = Command::new(args[0]).args(&args[1..]).status()?;
    if !st.success() {
        return Err(format!("{args:?} failed").into());
    }
    Ok(())
}

/// Moves this thread (and the children it spawns) into a new network
/// namespace with `lo` up.
fn fresh_netns() -> Res<()> {
    // SAFETY: unshare of the calling thread's network namespace; no memory
    // is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    sh(&[&which("ip"), "link", "set", "lo", "up"])
}

fn which(tool: &str) -> String {
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = format!("{d}/{tool}");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    tool.to_string()
}

struct Runner {
    cases: Vec<String>,
    /// This project's `ipvsadm` example (`--ipvsadm PATH`), measured in
    /// cases 1 and 3 with `ipvsadm -R`'s input.
    ipvsadm_example: Option<String>,
    exe: String,
    runs: usize,
    strace: bool,
    tmp: std::path::PathBuf,
}

impl Runner {
    fn emit(&self, case: &str, n: usize, imp: &str, m: &Measure, sc: Option<u64>) {
        println!(
            "R\t{case}\t{n}\t{imp}\t{:.6}\t{}\t{}\t{:.6}\t{:.6}\t{}\t{}\t{}\t{}",
            m.wall.as_secs_f64(),
            m.op.map(|d| format!("{:.6}", d.as_secs_f64()))
                .unwrap_or("-".into()),
            m.changes.map(|c| c.to_string()).unwrap_or("-".into()),
            m.user.as_secs_f64(),
            m.sys.as_secs_f64(),
            m.maxrss_kib,
            sc.map(|c| c.to_string()).unwrap_or("-".into()),
            m.faults,
            m.op_faults.map(|c| c.to_string()).unwrap_or("-".into()),
        );
        let _ = std::io::stdout().flush();
    }

    /// Runs every implementation of one case `runs` times, with `setup`
    /// before each run, plus one strace run each. The runs are interleaved
    /// (run 1 of every implementation, then run 2, ...) so that a change of
    /// the machine's speed during the case (a shared host) weighs on all of
    /// them alike.
    fn case(
        &self,
        case: &str,
        n: usize,
        impls: &[(&str, Vec<String>, Option<&str>)],
        setup: &mut dyn FnMut() -> Res<()>,
        verify: &mut dyn FnMut() -> Res<()>,
    ) -> Res<()> {
        if !self.cases.is_empty() && !self.cases.iter().any(|c| c == case) {
            return Ok(());
        }
        for _ in 0..self.runs {
            for (imp, argv, input) in impls {
                setup()?;
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                let m = measure(&mut c, *input)?;
                // the kernel state the run left, counted and compared
                verify().map_err(|e| format!("case {case} n={n} {imp}: {e}"))?;
                self.emit(case, n, imp, &m, None);
                eprintln!(
                    "bench: case {case} n={n} {imp}: {:.3} s",
                    m.wall.as_secs_f64()
                );
            }
        }
        if self.strace {
            for (imp, argv, input) in impls {
                setup()?;
                let c = syscalls(argv, *input)?;
                verify().map_err(|e| format!("case {case} n={n} {imp} (strace): {e}"))?;
                println!("S\t{case}\t{n}\t{imp}\t{c}");
            }
        }
        Ok(())
    }

    /// The command line of a measured run of `ours` or `floor`; for the
    /// floor, its pre-encoded input is written first (once per case and N).
    fn ours(&self, imp: &str, case: &str, n: usize, family: u16, dgram: usize) -> Res<Vec<String>> {
        let mut argv = vec![
            self.exe.clone(),
            "exec".into(),
            imp.into(),
            case.into(),
            n.to_string(),
            dgram.to_string(),
        ];
        if imp == "floor" {
            let path = self.tmp.join(format!("floor-{case}-{n}-{dgram}"));
            if !path.exists() {
                write_records(&path, &floor_input(case, n, family, dgram)?)?;
            }
            argv.push(path.to_string_lossy().into_owned());
        }
        Ok(argv)
    }

    /// The datagram size for the write case `case`: the raw floor run
    /// `runs` times at each size of [`SWEEP`] (with `setup` before and
    /// `verify` after each run), the size of the lowest median operation
    /// time. Prints one `D` line per size and a `B` line for the choice.
    fn sweep(
        &self,
        case: &str,
        n: usize,
        family: u16,
        setup: &mut dyn FnMut() -> Res<()>,
        verify: &mut dyn FnMut() -> Res<()>,
    ) -> Res<usize> {
        let mut best = (f64::INFINITY, SWEEP[0]);
        for size in SWEEP {
            let argv = self.ours("floor", case, n, family, size)?;
            let mut ops = Vec::new();
            for _ in 0..self.runs {
                setup()?;
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                let m = measure(&mut c, None)?;
                verify().map_err(|e| format!("sweep case {case} n={n} {size}: {e}"))?;
                ops.push(
                    m.op.ok_or("the floor reported no operation time")?
                        .as_secs_f64(),
                );
            }
            let med = median(&ops);
            println!("D\t{case}\t{n}\t{size}\t{med:.6}");
            eprintln!("bench: sweep case {case} n={n} datagram {size}: {med:.4} s");
            if med < best.0 {
                best = (med, size);
            }
        }
        println!("B\t{case}\t{n}\t{}", best.1);
        Ok(best.1)
    }

    fn file(&self, name: &str, lines: impl Iterator<Item = String>) -> Res<String> {
        let p = self.tmp.join(name);
        let mut f = std::io::BufWriter::new(File::create(&p)?);
        for l in lines {
            writeln!(f, "{l}")?;
        }
        f.flush()?;
        Ok(p.to_string_lossy().into_owned())
    }

    fn ipvs(&self, n: usize) -> Res<()> {
        let rt = rt();
        // Every write case starts in a fresh namespace: the kernel keeps
        // deleted destinations in a trash list that each later add scans,
        // so a flushed namespace makes adds of the same destinations far
        // slower (70 s instead of 3 s for N=10000 under UML).
        let h = std::cell::RefCell::new(rt.block_on(IpvsHandle::new())?);
        let fam = h.borrow().family_id();
        let fresh = || -> Res<()> {
            // empty the old namespace synchronously so that its teardown
            // does not run during the next measurement
            rt.block_on(h.borrow().flush())?;
            fresh_netns()?;
            *h.borrow_mut() = rt.block_on(IpvsHandle::new())?;
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        };
        let ipvsadm = which("ipvsadm");
        let full = state(n);
        let to_state = || -> Res<()> {
            fresh()?;
            let r = rt.block_on(Syncer::ipvs_only(h.borrow().clone()).sync_services(&full))?;
            if !r.is_converged() {
                return Err("setup failed".into());
            }
            Ok(())
        };
        // What the kernel must hold after a run: every service and
        // destination, counted and compared with the expected state.
        let holds = |want: &[(Service, Vec<Destination>)]| -> Res<()> {
            let snap = rt.block_on(h.borrow().config_snapshot())?;
            let got_d: usize = snap.iter().map(|e| e.destinations.len()).sum();
            let want_d: usize = want.iter().map(|(_, d)| d.len()).sum();
            if snap.len() != want.len() || got_d != want_d {
                return Err(format!(
                    "the kernel holds {} services and {got_d} destinations, expected {} and {want_d}",
                    snap.len(),
                    want.len()
                )
                .into());
            }
            let key = |s: &Service, d: &Destination| {
                format!("{} {}:{} {}", s.key, d.addr, d.port, d.weight.0)
            };
            let got: std::collections::BTreeSet<String> = snap
                .iter()
                .flat_map(|e| e.destinations.iter().map(|d| key(&e.service, d)))
                .collect();
            let missing = want
                .iter()
                .flat_map(|(s, ds)| ds.iter().map(move |d| key(s, d)))
                .find(|k| !got.contains(k));
            match missing {
                Some(k) => Err(format!("the kernel lacks {k}").into()),
                None => Ok(()),
            }
        };
        let want_changed = changed(n);
        let restore = self.file(
            &format!("restore-{n}"),
            apply_ops(n).iter().map(ipvsadm_line),
        )?;
        let change = self.file(
            &format!("change-{n}"),
            change_ops(n).iter().map(ipvsadm_line),
        )?;
        let tool_r = vec![ipvsadm.clone(), "-R".into()];
        let tool_s = vec![ipvsadm.clone(), "-Sn".into()];

        // this project's ipvsadm example, fed what ipvsadm -R is fed
        let ours_r = self
            .ipvsadm_example
            .as_ref()
            .map(|e| vec![e.clone(), "-R".to_string()]);
        let write_impls: Vec<&str> = ["ours", "ipvsadm", "tool", "floor"]
            .into_iter()
            .filter(|i| *i != "ipvsadm" || ours_r.is_some())
            .collect();
        let want = |c: &str| self.cases.is_empty() || self.cases.iter().any(|x| x == c);
        // the datagram size of the write cases, by the floor's sweep
        let dgram = if want("1") || want("3") || want("6") {
            self.sweep("1", n, fam, &mut || fresh(), &mut || holds(&full))?
        } else {
            0
        };
        let argv_of = |imp: &str, case: &str| -> Res<Vec<String>> {
            match imp {
                "tool" => Ok(tool_r.clone()),
                "ipvsadm" => Ok(ours_r.clone().unwrap_or_default()),
                _ => self.ours(imp, case, n, fam, dgram),
            }
        };
        // The write cases' implementations: the tools read the lines of
        // the case (1: from empty, 3: the 10% change).
        let writers = |case: &str| {
            let lines = if case == "1" { &restore } else { &change };
            write_impls
                .iter()
                .map(|&imp| {
                    let input = matches!(imp, "tool" | "ipvsadm").then_some(lines.as_str());
                    Ok((imp, argv_of(imp, case)?, input))
                })
                .collect::<Res<Vec<_>>>()
        };
        // case 1: from empty
        self.case("1", n, &writers("1")?, &mut || fresh(), &mut || {
            holds(&full)
        })?;
        // cases 2 and 4 on the full state
        if !want("2") && !want("4") && !want("3") && !want("6") {
            return fresh();
        }
        to_state()?;
        holds(&full)?;
        for (case, tool) in [("4", &tool_s), ("2", &tool_s)] {
            let impls: &[&str] = if case == "4" {
                &["ours", "stats", "tool", "floor"]
            } else {
                &["ours", "tool", "floor"]
            };
            let impls = impls
                .iter()
                .map(|&imp| {
                    let argv = if imp == "tool" {
                        tool.clone()
                    } else {
                        self.ours(imp, case, n, fam, 0)?
                    };
                    Ok((imp, argv, None))
                })
                .collect::<Res<Vec<_>>>()?;
            // reads change nothing: the state is compared once, after
            self.case(case, n, &impls, &mut || Ok(()), &mut || Ok(()))?;
            holds(&full)?;
        }
        // case 3: 10% changed, from the full state each time
        self.case("3", n, &writers("3")?, &mut || to_state(), &mut || {
            holds(&want_changed)
        })?;
        // case 6: one backend changed, from the full state each time: the
        // sync (read, plan, apply), the two operations alone (what a
        // daemon that knows the change sends), the floor, and a reload of
        // the whole configuration with the tool
        if want("6") {
            let want_one = one_changed(n);
            let reload_file = self.file(
                &format!("reload-{n}"),
                plan(&[], &want_one, &|_| true, Graceful::Off)
                    .ops
                    .iter()
                    .map(ipvsadm_line),
            )?;
            let reload = vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("{ipvsadm} -C && {ipvsadm} -R"),
            ];
            let impls = vec![
                ("ours", self.ours("ours", "6", n, fam, dgram)?, None),
                ("incr", self.ours("incr", "6", n, fam, dgram)?, None),
                ("tool", reload, Some(reload_file.as_str())),
                ("floor", self.ours("floor", "6", n, fam, dgram)?, None),
            ];
            self.case("6", n, &impls, &mut || to_state(), &mut || holds(&want_one))?;
        }
        fresh()?;
        Ok(())
    }

    fn ipset(&self) -> Res<()> {
        let ipset = which("ipset");
        let rt = rt();
        let h = IpsetHandle::new()?;
        let spec = CreateSet::hash_ip_port(SET);
        let fresh = |fill: bool| -> Res<()> {
            rt.block_on(async {
                let _ = h.destroy(Some(SET)).await;
                let _ = h.destroy(Some("bench-tmp")).await;
                h.create(&spec, false).await?;
                if fill {
                    h.add_many(SET, &elems(0), BulkOptions::default()).await?;
                }
                Res::Ok(())
            })
        };
        // What the set must hold after a run: exactly these entries (and
        // no temporary set left).
        let holds = |want: &[IpPortEntry]| -> Res<()> {
            rt.block_on(async {
                let sets = h.list(None).await?;
                let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
                if names != [SET] {
                    return Err(format!("sets after the run: {names:?}").into());
                }
                let got: std::collections::BTreeSet<String> = sets[0]
                    .ip_port_members()?
                    .iter()
                    .map(|e| e.to_string())
                    .collect();
                let expect: std::collections::BTreeSet<String> =
                    want.iter().map(|e| e.to_string()).collect();
                if got != expect {
                    return Err(format!(
                        "the set holds {} entries, expected {} ({} of them)",
                        got.len(),
                        expect.len(),
                        got.intersection(&expect).count()
                    )
                    .into());
                }
                Res::Ok(())
            })
        };
        let adds = self.file(
            "ipset-add",
            elems(0).iter().map(|e| format!("add {SET} {e}")),
        )?;
        let replace = self.file(
            "ipset-replace",
            std::iter::once("create bench-tmp hash:ip,port".to_string())
                .chain(
                    elems(IPSET_N / 2)
                        .iter()
                        .map(|e| format!("add bench-tmp {e}")),
                )
                .chain([
                    format!("swap bench-tmp {SET}"),
                    "destroy bench-tmp".to_string(),
                ]),
        )?;
        let tool = vec![ipset.clone(), "restore".into()];
        let (e0, e1) = (elems(0), elems(IPSET_N / 2));
        // the datagram size, by the floor's sweep of case 5a
        let dgram = self.sweep("5a", IPSET_N, 0, &mut || fresh(false), &mut || holds(&e0))?;
        for (case, input, fill, after) in [("5a", &adds, false, &e0), ("5b", &replace, true, &e1)] {
            let impls = ["ours", "tool", "floor"]
                .into_iter()
                .map(|imp| {
                    let argv = if imp == "tool" {
                        tool.clone()
                    } else {
                        self.ours(imp, case, IPSET_N, 0, dgram)?
                    };
                    Ok((imp, argv, (imp == "tool").then_some(input.as_str())))
                })
                .collect::<Res<Vec<_>>>()?;
            self.case(case, IPSET_N, &impls, &mut || fresh(fill), &mut || {
                holds(after)
            })?;
        }
        rt.block_on(async {
            let _ = h.destroy(Some(SET)).await;
        });
        Ok(())
    }
}

fn run(args: &[String]) -> Res<()> {
    let mut ns = vec![1000, 10000];
    let mut runs = 3;
    let mut strace = true;
    let mut what = "";
    let mut cases = Vec::new();
    let mut ipvsadm_example = None;
    let mut guest = "host".to_string();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--ipvs" => what = "ipvs",
            "--ipset" => what = "ipset",
            "--no-strace" => strace = false,
            "--ipvsadm" => {
                i += 1;
                ipvsadm_example = Some(args.get(i).ok_or("--ipvsadm needs a path")?.clone());
            }
            "--guest" => {
                i += 1;
                guest = args.get(i).ok_or("--guest needs a name")?.clone();
            }
            "--n" => {
                i += 1;
                ns = args
                    .get(i)
                    .ok_or("--n needs a list")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--cases" => {
                i += 1;
                cases = args
                    .get(i)
                    .ok_or("--cases needs a list")?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
            }
            "--runs" => {
                i += 1;
                runs = args.get(i).ok_or("--runs needs a number")?.parse()?;
            }
            a => return Err(format!("unknown argument {a}").into()),
        }
        i += 1;
    }
    // Our own network namespace: nothing of the caller's is touched.
    fresh_netns()?;
    let tmp = std::env::temp_dir().join(format!("rule_sync-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let r = Runner {
        cases,
        ipvsadm_example,
        exe: std::env::current_exe()?.to_string_lossy().into_owned(),
        runs,
        strace,
        tmp: tmp.clone(),
    };
    let uname = Command::new("uname").arg("-srm").output()?;
    println!(
        "K\t{what}\t{}\t{guest}",
        String::from_utf8_lossy(&uname.stdout).trim()
    );
    println!("C\t{what}\t{runs}");
    let res = match what {
        "ipvs" => ns.iter().try_for_each(|&n| r.ipvs(n)),
        "ipset" => r.ipset(),
        _ => Err("run needs --ipvs or --ipset".into()),
    };
    let _ = std::fs::remove_dir_all(&tmp);
    res
}

// ---------------------------------------------------------------- render

#[derive(Default)]
struct Cell {
    wall: Vec<f64>,
    op: Vec<f64>,
    user: Vec<f64>,
    sys: Vec<f64>,
    rss: Vec<f64>,
    faults: Vec<f64>,
    op_faults: Vec<f64>,
    changes: Option<u64>,
    syscalls: Option<u64>,
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

const CASES: [(&str, &str); 7] = [
    ("1", "apply N x 4 from empty"),
    ("2", "no-op resync"),
    ("3", "resync, 10% changed"),
    ("4", "full read"),
    ("6", "one backend changed"),
    ("5a", "ipset: add 50,000 entries"),
    ("5b", "ipset: atomic replace"),
];
const IMPLS: [&str; 6] = ["ours", "incr", "stats", "ipvsadm", "tool", "floor"];

fn tool_name(case: &str) -> &'static str {
    match case {
        "1" | "3" => "ipvsadm -R",
        "2" | "4" => "ipvsadm -Sn",
        "6" => "reload: ipvsadm -C; ipvsadm -R",
        _ => "ipset restore",
    }
}

fn render(args: &[String]) -> Res<()> {
    let mut files = Vec::new();
    let mut md_out = None;
    let mut svg_out = None;
    let mut machine = String::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--md" => {
                i += 1;
                md_out = args.get(i).cloned();
            }
            "--svg" => {
                i += 1;
                svg_out = args.get(i).cloned();
            }
            "--machine" => {
                i += 1;
                machine = args.get(i).cloned().unwrap_or_default();
            }
            f => files.push(f.to_string()),
        }
        i += 1;
    }
    let mut cells: BTreeMap<(String, usize, String), Cell> = BTreeMap::new();
    let mut kernels = Vec::new();
    // the datagram sweep: (case, N) -> [(size, median floor operation)]
    let mut sweeps: BTreeMap<(String, usize), Vec<(usize, f64)>> = BTreeMap::new();
    let mut chosen: BTreeMap<(String, usize), usize> = BTreeMap::new();
    let mut run_counts: Vec<String> = Vec::new();
    for f in &files {
        for l in std::fs::read_to_string(f)?.lines() {
            let c: Vec<&str> = l.split('\t').collect();
            match c.first() {
                Some(&"R") if c.len() >= 11 => {
                    let e = cells
                        .entry((c[1].into(), c[2].parse()?, c[3].into()))
                        .or_default();
                    e.wall.push(c[4].parse()?);
                    if let Ok(v) = c[5].parse() {
                        e.op.push(v);
                    }
                    e.changes = c[6].parse().ok();
                    e.user.push(c[7].parse()?);
                    e.sys.push(c[8].parse()?);
                    e.rss.push(c[9].parse::<f64>()? / 1024.0);
                    if let Some(Ok(f)) = c.get(11).map(|f| f.parse()) {
                        e.faults.push(f);
                    }
                    if let Some(Ok(f)) = c.get(12).map(|f| f.parse()) {
                        e.op_faults.push(f);
                    }
                }
                Some(&"D") if c.len() >= 5 => {
                    sweeps
                        .entry((c[1].into(), c[2].parse()?))
                        .or_default()
                        .push((c[3].parse()?, c[4].parse()?));
                }
                Some(&"B") if c.len() >= 4 => {
                    chosen.insert((c[1].into(), c[2].parse()?), c[3].parse()?);
                }
                Some(&"C") if c.len() >= 3 => {
                    run_counts.push(format!("{} runs of each {} measurement", c[2], c[1]));
                }
                Some(&"S") if c.len() >= 5 => {
                    let e = cells
                        .entry((c[1].into(), c[2].parse()?, c[3].into()))
                        .or_default();
                    e.syscalls = c[4].parse().ok();
                }
                Some(&"K") if c.len() >= 3 => kernels.push(format!(
                    "{}: `{}`",
                    if c[1] == "ipvs" {
                        match c.get(3).copied() {
                            Some("uml") => "IPVS cases (user-mode-linux guest)",
                            Some("qemu") => "IPVS cases (QEMU guest, TCG)",
                            _ => "IPVS cases",
                        }
                    } else {
                        "ipset cases (host kernel, own network namespace)"
                    },
                    c[2]
                )),
                _ => {}
            }
        }
    }
    let mut md = String::new();
    writeln!(
        md,
        "| case | N | implementation | median wall (s) | ours ÷ this | operation (s) | syscalls | ours ÷ this (syscalls) | user CPU (s) | sys CPU (s) | peak RSS (MiB) | page faults | page faults in the operation |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    let ns: std::collections::BTreeSet<usize> = cells.keys().map(|k| k.1).collect();
    let get = |c: &str, n: usize, i: &str| cells.get(&(c.to_string(), n, i.to_string()));
    let mut groups = Vec::new();
    for (case, title) in CASES {
        for &n in &ns {
            let Some(ours) = get(case, n, "ours") else {
                continue;
            };
            let ow = median(&ours.wall);
            let mut bars = Vec::new();
            for imp in IMPLS {
                let Some(c) = get(case, n, imp) else { continue };
                let w = median(&c.wall);
                let label = match imp {
                    "ours" if case == "4" => "this project (config_snapshot)".to_string(),
                    "ours" if case == "6" => "this project (sync: read, plan, apply)".to_string(),
                    "ours" => "this project".to_string(),
                    "stats" => "this project, with statistics (snapshot)".to_string(),
                    "incr" => "this project, the change alone (apply)".to_string(),
                    "ipvsadm" => "this project's ipvsadm -R".to_string(),
                    "tool" => tool_name(case).to_string(),
                    _ => "raw floor".to_string(),
                };
                let sc_ratio = match (ours.syscalls, c.syscalls) {
                    (Some(a), Some(b)) if a > 0 => format!("{:.3}", a as f64 / b as f64),
                    _ => "-".into(),
                };
                writeln!(
                    md,
                    "| {case} {title} | {n} | {label} | {w:.3} | {:.2} | {} | {} | {sc_ratio} | {:.3} | {:.3} | {:.1} | {} | {} |",
                    ow / w,
                    if c.op.is_empty() {
                        "-".to_string()
                    } else {
                        format!("{:.3}", median(&c.op))
                    },
                    c.syscalls.map(|s| s.to_string()).unwrap_or("-".into()),
                    median(&c.user),
                    median(&c.sys),
                    median(&c.rss),
                    if c.faults.is_empty() {
                        "-".to_string()
                    } else {
                        format!("{:.0}", median(&c.faults))
                    },
                    if c.op_faults.is_empty() {
                        "-".to_string()
                    } else {
                        format!("{:.0}", median(&c.op_faults))
                    },
                )?;
                bars.push((label, w));
            }
            groups.push((format!("{case} {title}, N={n}"), bars));
        }
    }
    // Must-show checks
    let mut checks = String::new();
    let w = |c: &str, n: usize, i: &str| get(c, n, i).map(|x| median(&x.wall));
    let sc = |c: &str, n: usize, i: &str| get(c, n, i).and_then(|x| x.syscalls);
    let verdict = |ok: bool| if ok { "**holds**" } else { "**does not hold**" };
    let op = |c: &str, n: usize, i: &str| {
        get(c, n, i)
            .filter(|x| !x.op.is_empty())
            .map(|x| median(&x.op))
    };
    let op_faults = |c: &str, n: usize, i: &str| {
        get(c, n, i)
            .filter(|x| !x.op_faults.is_empty())
            .map(|x| format!("{:.0}", median(&x.op_faults)))
            .unwrap_or_else(|| "-".to_string())
    };
    // The floor is a lower bound or it is wrong: checked on every row.
    let mut floor_wrong = Vec::new();
    let mut floor_rows = 0;
    for (case, _) in CASES {
        for &n in &ns {
            if let (Some(o), Some(f)) = (op(case, n, "ours"), op(case, n, "floor")) {
                floor_rows += 1;
                if f > o {
                    floor_wrong.push(format!(
                        "case {case} N={n} (floor {f:.4} s > ours {o:.4} s)"
                    ));
                }
            }
        }
    }
    writeln!(
        checks,
        "- The raw floor's operation time is at most ours on every row ({floor_rows} rows): {}{}",
        verdict(floor_wrong.is_empty()),
        if floor_wrong.is_empty() {
            String::new()
        } else {
            format!(" — the floor is wrong on {}", floor_wrong.join(", "))
        }
    )?;
    for &n in &ns {
        if let (Some(t), Some(f)) = (w("1", n, "tool"), w("1", n, "floor")) {
            if let (Some(oo), Some(fo), Some(ow)) =
                (op("1", n, "ours"), op("1", n, "floor"), w("1", n, "ours"))
            {
                writeln!(
                    checks,
                    "- Case 1, N={n}: the operation (input in memory to state in the kernel), ours {oo:.3} s vs raw floor {fo:.3} s = {:.3}x (target ≤ 1.1x): {}; wall time beside it: ours {ow:.3} s, floor {f:.3} s = {:.3}x; page faults in the operation: ours {}, floor {}",
                    oo / fo,
                    verdict(oo <= 1.1 * fo),
                    ow / f,
                    op_faults("1", n, "ours"),
                    op_faults("1", n, "floor"),
                )?;
            }
            // the sync (issue 8), then this project's ipvsadm -R on the
            // very lines ipvsadm -R reads (issue 4), against the tool
            let lines = 5 * n;
            for (imp, tag, who) in [
                ("ours", String::new(), "ours"),
                (
                    "ipvsadm",
                    format!(" (issue 4, {lines} lines)"),
                    "this project's `ipvsadm -R`",
                ),
            ] {
                let Some(o) = w("1", n, imp) else { continue };
                writeln!(
                    checks,
                    "- Case 1, N={n}{tag}: wall time, {who} {o:.3} s vs `ipvsadm -R` {t:.3} s = {:.1}x faster (target: not slower): {}",
                    t / o,
                    verdict(o <= t)
                )?;
                if imp == "ipvsadm" {
                    writeln!(
                        checks,
                        "- Case 1, N={n}{tag}: wall time only (the example reports no operation time of its own), {who} {o:.3} s vs raw floor {f:.3} s = {:.3}x (target ≤ 1.1x): {}",
                        o / f,
                        verdict(o <= 1.1 * f)
                    )?;
                }
                if let (Some(so), Some(st)) = (sc("1", n, imp), sc("1", n, "tool")) {
                    writeln!(
                        checks,
                        "- Case 1, N={n}{tag}: system calls, {who} {so} vs `ipvsadm -R` {st} = {:.0}x fewer (target ≥ 100x): {}",
                        st as f64 / so as f64,
                        verdict(st >= 100 * so)
                    )?;
                }
            }
        }
        if let (Some(o2), Some(o4)) = (op("2", n, "ours"), op("4", n, "ours")) {
            let ch = get("2", n, "ours").and_then(|c| c.changes);
            writeln!(
                checks,
                "- Case 2, N={n}: the operation, no-op resync {o2:.3} s vs full read {o4:.3} s = {:.2}x (target ≤ 2x): {}; changes sent: {} (target 0): {}",
                o2 / o4,
                verdict(o2 <= 2.0 * o4),
                ch.map(|c| c.to_string()).unwrap_or("?".into()),
                verdict(ch == Some(0))
            )?;
        }
        if let (Some(o), Some(t)) = (w("4", n, "ours"), w("4", n, "tool")) {
            writeln!(
                checks,
                "- Case 4, N={n}: wall time (the tool reports no operation time), full read ours (`config_snapshot`: what `ipvsadm -S` reads) {o:.3} s vs `ipvsadm -Sn` {t:.3} s = {:.2}x faster (target ≥ 3x): {}",
                t / o,
                verdict(t >= 3.0 * o)
            )?;
            if let Some(st) = w("4", n, "stats") {
                writeln!(
                    checks,
                    "- Case 4, N={n}, with every statistics block decoded too (`snapshot`, more than `ipvsadm -Sn` reads): {st:.3} s = {:.2}x faster than `ipvsadm -Sn`",
                    t / st
                )?;
            }
        }
    }
    for &n in &ns {
        if let (Some(o), Some(i), Some(t), Some(oo), Some(io)) = (
            w("6", n, "ours"),
            w("6", n, "incr"),
            w("6", n, "tool"),
            op("6", n, "ours"),
            op("6", n, "incr"),
        ) {
            writeln!(
                checks,
                "- Case 6, N={n}: one backend changed: the change alone (what a daemon that knows it sends) {io:.4} s of operation ({i:.3} s wall), a full sync (read, plan, apply) {oo:.3} s of operation ({o:.3} s wall), a reload of the whole configuration (`ipvsadm -C; ipvsadm -R`) {t:.3} s wall: the reload takes {:.0}x the wall time of the change alone and {:.1}x that of the full sync",
                t / i,
                t / o
            )?;
        }
    }
    for case in ["5a", "5b"] {
        let n = IPSET_N;
        if let (Some(o), Some(t), Some(oo), Some(fo)) = (
            w(case, n, "ours"),
            w(case, n, "tool"),
            op(case, n, "ours"),
            op(case, n, "floor"),
        ) {
            writeln!(
                checks,
                "- Case {case}: wall time, ours {o:.3} s vs `ipset restore` {t:.3} s = {:.2}x faster (target ≥ 5x): {}; the operation, ours {oo:.3} s vs raw floor {fo:.3} s = {:.2}x (target ≤ 1.3x): {}",
                t / o,
                verdict(t >= 5.0 * o),
                oo / fo,
                verdict(oo <= 1.3 * fo)
            )?;
        }
    }
    // the datagram sweep
    let mut sweep_md = String::new();
    for ((case, n), rows) in &sweeps {
        let best = chosen.get(&(case.clone(), *n)).copied();
        let cells: Vec<String> = rows
            .iter()
            .map(|(size, t)| {
                let mark = if Some(*size) == best { " (chosen)" } else { "" };
                format!("{} KiB {t:.4} s{mark}", size / 1024)
            })
            .collect();
        writeln!(sweep_md, "- case {case}, N={n}: {}", cells.join("; "))?;
    }
    // The same comparisons by CPU time (user + system of the measured
    // process), which the load of a shared machine disturbs less than wall
    // time.
    let cpu = |c: &str, n: usize, i: &str| get(c, n, i).map(|x| median(&x.user) + median(&x.sys));
    writeln!(
        checks,
        "\nBy CPU time (user + system of the measured process; in the guest that includes the kernel work done in its system calls):\n"
    )?;
    for (case, title) in CASES {
        for &n in &ns {
            if let (Some(o), Some(t), Some(f)) = (
                cpu(case, n, "ours"),
                cpu(case, n, "tool"),
                cpu(case, n, "floor"),
            ) {
                writeln!(
                    checks,
                    "- Case {case} ({title}), N={n}: ours {o:.3} s; {} {t:.3} s ({:.2}x ours); raw floor {f:.3} s (ours = {:.2}x floor)",
                    tool_name(case),
                    t / o,
                    o / f
                )?;
            }
        }
    }
    let table = md;
    print!("{table}\n{checks}");
    if let Some(p) = svg_out {
        std::fs::write(&p, svg(&groups))?;
    }
    if let Some(p) = md_out {
        let mut doc = String::new();
        writeln!(doc, "# Rule-sync benchmark\n")?;
        writeln!(
            doc,
            "Produced by `tools/bench` (source: `benches/rule_sync.rs`); every number below comes from that one run. Times are medians of the runs, which are interleaved (run 1 of every implementation of a case, then run 2, ...) so that the shared host speeding up or slowing down during a case weighs on all implementations alike; wall time is the whole process (spawn to exit), so process start-up and reading or building its input count for every implementation alike; \"operation\" is the time the process itself measured from its input in memory to the kernel holding the result (ours: read, plan, encode, send; floor: send only). System calls: one extra run under `strace -f -c`. Peak RSS: the process's own `VmHWM` for ours and the floor, `wait4`'s `ru_maxrss` for the tools (an upper bound: it includes the runner's size at exec). Page faults: the process's minor and major faults (`wait4`); under user-mode-linux each costs tens of microseconds, so they weigh on wall time there. Page faults in the operation: the minor faults between the start and the end of the operation's clock (ours and floor; `getrusage`): the floor's input was faulted in before its clock started, ours encodes into memory it maps during the operation.\n"
        )?;
        writeln!(doc, "## Machine\n\n{machine}\n")?;
        writeln!(doc, "Runs: {}.\n", run_counts.join("; "))?;
        for k in &kernels {
            writeln!(doc, "- {k}")?;
        }
        writeln!(doc, "\n## What is compared\n")?;
        writeln!(
            doc,
            "- **this project**: `clusterip::sync::Syncer::sync_services` (read, plan, batched apply) for cases 1-3, `IpvsHandle::config_snapshot` for case 4 (configuration and connection counters, what `ipvsadm -S` reads; the kernel sends statistics too, skipped unread), `IpsetHandle::add_many` / `IpsetHandle::replace` for 5a/5b.\n- **this project, with statistics** (case 4): `IpvsHandle::snapshot`, every statistics block decoded as well (more than `ipvsadm -Sn` reads)."
        )?;
        writeln!(
            doc,
            "- **reference tool**: `ipvsadm -R` fed the same changes as `ipvsadm` lines (cases 1 and 3; it only writes, it does not read or diff), `ipvsadm -Sn` (cases 2 and 4: a tool-based resync must at least read the state), `ipset restore` of `add` lines (5a) or create/add/swap/destroy (5b)."
        )?;
        writeln!(
            doc,
            "- **this project's ipvsadm -R** (cases 1 and 3, issue 4): `target/release/examples/ipvsadm -R` fed the very lines `ipvsadm -R` is fed.\n- **raw floor**: the same netlink messages encoded and packed by the runner before the measured process starts (an ACK asked only of each datagram's last message); the process reads its whole input file into memory before its clock starts (every page touched), then only sends the datagrams and scans the replies for headers; for reads, the service dump and then the N destination dumps over as many sockets as our reader pipelines them over (`DEFAULT_PIPELINE`), one dump in flight on each. Its operation time is checked to be at most ours on every row (a floor above ours would be a wrong floor).\n- **datagram size**: before the write cases, the raw floor runs at each size from 64 KiB to 1 MiB; the size with its lowest median operation time is then used by both the floor and this project's engine (`Config::max_datagram`) in cases 1 and 3 (the size of case 5a in 5a and 5b).\n- **checked after every run**: the kernel state each write run leaves (ours, this project's `ipvsadm -R`, `ipvsadm -R`, the floor, also in the sweep and the strace runs) is read back and compared with the expected state, every service and destination (with weight) or every set member; a run that left anything else stops the benchmark.\n"
        )?;
        writeln!(
            doc,
            "Cases: N services × 4 masquerading destinations (rr). Case 3 replaces every tenth service and, in another tenth, replaces one destination and re-weights another (0.9 × N operations). 5a adds 50,000 hash:ip,port entries to an empty set; 5b atomically replaces a full set of 50,000 with 50,000 others (half overlapping).\n"
        )?;
        writeln!(
            doc,
            "## Results\n\n![chart](bench.svg)\n\n{table}\n## Datagram size sweep (raw floor, median operation time)\n\n{sweep_md}\n## Must-show targets\n\nVerdicts against the raw floor are on the operation time (input in memory to state in the kernel), with wall time beside; against the reference tools, which report no operation time, on wall time.\n\n{checks}"
        )?;
        std::fs::write(&p, doc)?;
    }
    Ok(())
}

fn svg(groups: &[(String, Vec<(String, f64)>)]) -> String {
    let row = 16.0;
    let gap = 14.0;
    let left = 300.0;
    let width = 900.0;
    let barw = width - left - 120.0;
    let mut y = 40.0;
    let mut body = String::new();
    let color = |label: &str| match label {
        "this project" => "#2b7bb9",
        "this project's ipvsadm -R" => "#6fa8dc",
        "raw floor" => "#7a7a7a",
        _ => "#d9822b",
    };
    for (title, bars) in groups {
        let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9);
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.0}" font-size="12" font-weight="bold">{}</text>"#,
            y + 12.0,
            xml(title)
        );
        for (i, (label, v)) in bars.iter().enumerate() {
            let w = (v / max * barw).max(1.0);
            let _ = writeln!(
                body,
                r#"<text x="{:.0}" y="{:.0}" font-size="11" text-anchor="end">{}</text><rect x="{left}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="{}"/><text x="{:.1}" y="{:.0}" font-size="11">{v:.3} s</text>"#,
                left - 6.0,
                y + row * (i as f64 + 1.0) + 12.0,
                xml(label),
                y + row * (i as f64 + 1.0) + 2.0,
                row - 3.0,
                color(label),
                left + w + 4.0,
                y + row * (i as f64 + 1.0) + 12.0,
            );
        }
        y += row * (bars.len() as f64 + 1.0) + gap;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{:.0}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="10" y="22" font-size="15" font-weight="bold">Rule sync: median wall time per case (shorter is better; bars scaled per case)</text>
{body}</svg>
"#,
        y + 10.0
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

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
                "rule_sync: the rule-sync benchmark. Run it with tools/bench (see benches/rule_sync.rs)."
            );
            Ok(())
        }
    };
    if let Err(e) = res {
        eprintln!("rule_sync: {e}");
        std::process::exit(1);
    }
}
