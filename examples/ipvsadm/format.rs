//! ipvsadm 1.31's listings, byte for byte, from ipvs-nl's types; and the
//! `--json` documents (docs/ipvsadm-json.md).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use std::time::Duration;

use ipvs_nl::{
    ConnEntry, ConnState, Destination, Family, ForwardMethod, Info, Netmask, Protocol, Scheduler,
    Service, ServiceEntry, ServiceKey, Stats, SyncDaemon, Timeouts, TunnelFlags, TunnelType,
    Weight,
};
use serde::Serialize;

use crate::cli::{
    FMT_EXACT, FMT_NOSORT, FMT_NUMERIC, FMT_PERSISTENTCONN, FMT_RATE, FMT_RULE, FMT_STATS,
    FMT_THRESHOLDS, FMT_TUN_INFO,
};
use crate::names::Names;

const SVC_F_PERSISTENT: u32 = 0x1;
const SVC_F_ONEPACKET: u32 = 0x4;
const SVC_F_SCHED1: u32 = 0x8;
const SVC_F_SCHED2: u32 = 0x10;
const SVC_F_SCHED3: u32 = 0x20;
const SCHED_BITS: u32 = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3;

/// glibc's `inet_ntop(AF_INET6)` (IPv4-compatible and -mapped addresses
/// end in dotted quads).
pub fn ntop6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    // longest run of zero words (the first on a tie), at least 2 long
    let (mut best, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if i == best {
            if i == 0 {
                s.push(':');
            }
            s.push(':');
            i += best_len;
            continue;
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            let _ = write!(s, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return s;
        }
        let _ = write!(s, "{:x}", w[i]);
        if i < 7 {
            s.push(':');
        }
        i += 1;
    }
    s
}

fn ntop(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ntop6(v6),
    }
}

fn proto_lc(p: u16) -> Option<&'static str> {
    match p {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        _ => None,
    }
}

fn cut(mut s: String, n: usize) -> String {
    if s.len() > n {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// ipvsadm's `addrport_to_anyname`.
pub fn addrport(addr: &IpAddr, port: u16, proto: u16, format: u32, names: &Names) -> String {
    let (l, r) = if addr.is_ipv4() { ("", "") } else { ("[", "]") };
    let s = if format & FMT_NUMERIC != 0 {
        format!("{l}{}{r}:{port}", ntop(addr))
    } else {
        let host = names
            .host_name(*addr)
            .map(str::to_owned)
            .unwrap_or_else(|| ntop(addr));
        let srv = proto_lc(proto)
            .and_then(|p| names.service_name(port, p))
            .map(str::to_owned)
            .unwrap_or_else(|| port.to_string());
        format!("{l}{host}{r}:{srv}")
    };
    cut(s, 59)
}

/// What ipvsadm's `ipvs_service_entry_t` holds, from a [`Service`].
struct SvcView<'a> {
    s: &'a Service,
    af: u16,
    protocol: u16,
    addr: Option<IpAddr>,
    port: u16,
    fwmark: u32,
}

impl<'a> SvcView<'a> {
    fn new(s: &'a Service) -> Self {
        match s.key {
            ServiceKey::Addr { protocol, addr } => SvcView {
                s,
                af: if addr.is_ipv4() { 2 } else { 10 },
                protocol: protocol.number(),
                addr: Some(addr.ip()),
                port: addr.port(),
                fwmark: 0,
            },
            ServiceKey::Fwmark { family, mark } => SvcView {
                s,
                af: family.number(),
                protocol: 0,
                addr: None,
                port: 0,
                fwmark: mark,
            },
        }
    }
    fn flags(&self) -> u32 {
        self.s.flags.bits()
    }
}

fn words(a: Option<&IpAddr>) -> [u32; 4] {
    let mut b = [0u8; 16];
    match a {
        Some(IpAddr::V4(v4)) => b[..4].copy_from_slice(&v4.octets()),
        Some(IpAddr::V6(v6)) => b = v6.octets(),
        None => {}
    }
    let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// `ipvs_cmp_services` (with its wrapping subtractions).
fn cmp_services(a: &SvcView<'_>, b: &SvcView<'_>) -> i32 {
    let r = a.fwmark.wrapping_sub(b.fwmark) as i32;
    if r != 0 {
        return r;
    }
    let r = i32::from(a.af) - i32::from(b.af);
    if r != 0 {
        return r;
    }
    let r = i32::from(a.protocol) - i32::from(b.protocol);
    if r != 0 {
        return r;
    }
    let (wa, wb) = (words(a.addr.as_ref()), words(b.addr.as_ref()));
    let r = if a.af == 10 {
        let mut r = 0;
        for i in 0..4 {
            r = wa[i].wrapping_sub(wb[i]) as i32;
            if r != 0 {
                break;
            }
        }
        r
    } else {
        wa[0].wrapping_sub(wb[0]) as i32
    };
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// `ipvs_cmp_dests`
fn cmp_dests(a: &Destination, b: &Destination) -> i32 {
    let (wa, wb) = (words(Some(&a.addr)), words(Some(&b.addr)));
    let r = if a.addr.is_ipv6() {
        let mut r = 0;
        for i in 0..4 {
            r = wa[i].wrapping_sub(wb[i]) as i32;
            if r != 0 {
                break;
            }
        }
        r
    } else {
        wa[0].wrapping_sub(wb[0]) as i32
    };
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// glibc's `qsort` for these sizes: a top-down merge sort (`msort`),
/// reproduced so that ipvsadm's inconsistent comparisons order alike.
fn msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut v[..n1], cmp);
    msort(&mut v[n1..], cmp);
    let (left, right) = v.split_at(n1);
    let mut out = Vec::with_capacity(n);
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            out.push(left[i].clone());
            i += 1;
        } else {
            out.push(right[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    v.clone_from_slice(&out);
}

/// Sorts services and their destinations as ipvsadm does (unless `--nosort`).
pub fn sort_entries(entries: &mut [ServiceEntry], format: u32) {
    if format & FMT_NOSORT != 0 {
        return;
    }
    msort(entries, &|a: &ServiceEntry, b: &ServiceEntry| {
        cmp_services(&SvcView::new(&a.service), &SvcView::new(&b.service))
    });
    for e in entries.iter_mut() {
        msort(&mut e.destinations, &cmp_dests);
    }
}

fn largenum(out: &mut String, i: u64, format: u32) {
    if format & FMT_EXACT != 0 {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>w$}");
        return;
    }
    let _ = if i < 100_000_000 {
        write!(out, "{i:>9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        write!(out, "{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:>8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", i / 1_000_000_000_000)
    };
}

fn sched_flags(s: &SvcView<'_>) -> String {
    let f = s.flags();
    let mut v = Vec::new();
    match s.s.scheduler.name() {
        "sh" => {
            if f & SVC_F_SCHED1 != 0 {
                v.push("sh-fallback");
            }
            if f & SVC_F_SCHED2 != 0 {
                v.push("sh-port");
            }
        }
        "mh" => {
            if f & SVC_F_SCHED1 != 0 {
                v.push("mh-fallback");
            }
            if f & SVC_F_SCHED2 != 0 {
                v.push("mh-port");
            }
        }
        _ => {
            if f & SVC_F_SCHED1 != 0 {
                v.push("flag-1");
            }
            if f & SVC_F_SCHED2 != 0 {
                v.push("flag-2");
            }
            if f & SVC_F_SCHED3 != 0 {
                v.push("flag-3");
            }
        }
    }
    v.join(",")
}

/// `print_title`
pub fn title(format: u32) -> String {
    let t = "Prot LocalAddress:Port";
    if format & FMT_STATS != 0 {
        format!(
            "{t:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else if format & FMT_RATE != 0 {
        format!(
            "{t:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    } else if format & FMT_THRESHOLDS != 0 {
        format!(
            "{t:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if format & FMT_PERSISTENTCONN != 0 {
        format!(
            "{t:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if format & FMT_TUN_INFO != 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".into()
    } else if format & FMT_RULE == 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".into()
    } else {
        String::new()
    }
}

fn fwd_name(f: ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masquerade => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel => "Tunnel",
        ForwardMethod::DirectRoute => "Route",
        _ => "(null)",
    }
}

fn fwd_switch(f: ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masquerade => "-m",
        ForwardMethod::Tunnel => "-i",
        ForwardMethod::Local | ForwardMethod::DirectRoute => "-g",
        _ => "(null)",
    }
}

const TUNFLAGS: [&str; 3] = ["-c", "+c", "r+c"];
const TUN_FLAGS_OPTS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

fn tun_flag(d: &Destination, table: &[&'static str; 3]) -> &'static str {
    table
        .get(usize::from(d.tunnel_flags.bits()))
        .copied()
        .unwrap_or("")
}

fn tun_info(d: &Destination) -> Option<String> {
    if d.forward != ForwardMethod::Tunnel {
        return None;
    }
    let s = match d.tunnel_type.number() {
        0 => "ipip".to_string(),
        1 => format!("gue:{}:{}", d.tunnel_port, tun_flag(d, &TUNFLAGS)),
        2 => format!("gre:{}", tun_flag(d, &TUNFLAGS)),
        _ => return None,
    };
    Some(cut(s, 15))
}

/// ipvsadm reads destination statistics from the 64-bit block with its
/// 32-bit parser: counters and rates keep their low 32 bits, byte counts
/// stay whole.
fn dest_stats(d: &Destination) -> Stats {
    let mut s = d.stats.as_deref().copied().unwrap_or_default();
    let lo = |v: u64| v & 0xffff_ffff;
    s.conns = lo(s.conns);
    s.inpkts = lo(s.inpkts);
    s.outpkts = lo(s.outpkts);
    s.cps = lo(s.cps);
    s.inpps = lo(s.inpps);
    s.outpps = lo(s.outpps);
    s.inbps = lo(s.inbps);
    s.outbps = lo(s.outbps);
    s
}

/// `print_service_entry`: the service line and its destinations.
pub fn service_entry(out: &mut String, e: &ServiceEntry, format: u32, names: &Names) {
    let v = SvcView::new(&e.service);
    let rule = format & FMT_RULE != 0;
    let svc_name = if v.fwmark != 0 || v.addr.is_none() {
        let m = v.fwmark as i32;
        match (rule, v.af == 10) {
            (true, true) => format!("-f {m} -6"),
            (true, false) => format!("-f {m}"),
            (false, true) => format!("FWM  {m} IPv6"),
            (false, false) => format!("FWM  {m}"),
        }
    } else {
        let addr = v.addr.unwrap_or(IpAddr::from([0u8; 4]));
        let vname = addrport(&addr, v.port, v.protocol, format, names);
        if rule {
            let stype = match v.protocol {
                6 => "-t",
                17 => "-u",
                132 => "--sctp-service",
                _ => "--xxx-service",
            };
            format!("{stype} {vname}")
        } else {
            let stype = match v.protocol {
                6 => "TCP",
                17 => "UDP",
                132 => "SCTP",
                _ => "?",
            };
            let s = format!("{stype:<4} {vname}");
            if v.af != 10 { cut(s, 33) } else { s }
        }
    };
    let flags = v.flags();
    let sched = e.service.scheduler.name();
    let netmask_str = |prefix: &str| -> String {
        match e.service.netmask {
            Netmask::V4(m) if v.af == 2 && u32::from(m) != 0xffff_ffff => {
                format!(" {prefix} {m}")
            }
            Netmask::V6(p) if v.af == 10 && p != 128 => format!(" {prefix} {}", p as i32),
            _ => String::new(),
        }
    };
    let pe = e.service.pe_name.as_deref().unwrap_or("");
    let stats = e.service.stats.as_deref().copied().unwrap_or_default();
    if rule {
        let _ = write!(out, "-A {svc_name} -s {sched}");
        if flags & SVC_F_PERSISTENT != 0 {
            let _ = write!(out, " -p {}", e.service.timeout.as_secs() as u32);
            out.push_str(&netmask_str("-M"));
        }
        if !pe.is_empty() {
            let _ = write!(out, " --pe {pe}");
        }
        if flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if flags & SCHED_BITS != 0 {
            let _ = write!(out, " -b {}", sched_flags(&v));
        }
    } else if format & FMT_STATS != 0 {
        let _ = write!(out, "{svc_name:<33}");
        for x in [
            stats.conns,
            stats.inpkts,
            stats.outpkts,
            stats.inbytes,
            stats.outbytes,
        ] {
            largenum(out, x, format);
        }
    } else if format & FMT_RATE != 0 {
        let _ = write!(out, "{svc_name:<33}");
        for x in [
            stats.cps,
            stats.inpps,
            stats.outpps,
            stats.inbps,
            stats.outbps,
        ] {
            largenum(out, x, format);
        }
    } else {
        let _ = write!(out, "{svc_name} {sched}");
        if flags & SCHED_BITS != 0 {
            let _ = write!(out, " ({})", sched_flags(&v));
        }
        if flags & SVC_F_PERSISTENT != 0 {
            let _ = write!(out, " persistent {}", e.service.timeout.as_secs() as u32);
            out.push_str(&netmask_str("mask"));
            if !pe.is_empty() {
                let _ = write!(out, " pe {pe}");
            }
        }
        if flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    for d in &e.destinations {
        let mut dname = addrport(&d.addr, d.port, v.protocol, format, names);
        if !rule && d.addr.is_ipv4() {
            dname = cut(dname, 28);
        }
        let w = d.weight.0 as i32;
        let st = dest_stats(d);
        if rule {
            let sw = fwd_switch(d.forward);
            if d.forward == ForwardMethod::Tunnel {
                let _ = match d.tunnel_type.number() {
                    2 => writeln!(
                        out,
                        "-a {svc_name} -r {dname} {sw} -w {w} --tun-type gre {}",
                        tun_flag(d, &TUN_FLAGS_OPTS)
                    ),
                    1 => writeln!(
                        out,
                        "-a {svc_name} -r {dname} {sw} -w {w} --tun-type gue --tun-port {} {}",
                        d.tunnel_port,
                        tun_flag(d, &TUN_FLAGS_OPTS)
                    ),
                    0 => writeln!(out, "-a {svc_name} -r {dname} {sw} -w {w} --tun-type ipip"),
                    _ => writeln!(out, "-a {svc_name} -r {dname} {sw} -w {w}"),
                };
            } else {
                let _ = writeln!(out, "-a {svc_name} -r {dname} {sw} -w {w}");
            }
        } else if format & FMT_STATS != 0 {
            let _ = write!(out, "  -> {dname:<28}");
            for x in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                largenum(out, x, format);
            }
            out.push('\n');
        } else if format & FMT_RATE != 0 {
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                st.cps, st.inpps, st.outpps
            );
            largenum(out, st.inbps, format);
            largenum(out, st.outbps, format);
            out.push('\n');
        } else if format & FMT_THRESHOLDS != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                d.upper_threshold, d.lower_threshold, d.active_conns, d.inactive_conns
            );
        } else if format & FMT_PERSISTENTCONN != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                d.weight.0, d.persistent_conns, d.active_conns, d.inactive_conns
            );
        } else if format & FMT_TUN_INFO != 0 {
            let ti = tun_info(d).unwrap_or_else(|| "n/a".into());
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {ti:<13} {w:<6} {:<10} {:<10}",
                fwd_name(d.forward),
                d.active_conns,
                d.inactive_conns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {w:<6} {:<10} {:<10}",
                fwd_name(d.forward),
                d.active_conns,
                d.inactive_conns
            );
        }
    }
}

/// The version line of `-L`.
pub fn version_line(info: &Info) -> String {
    let (a, b, c) = info.version.parts();
    format!(
        "IP Virtual Server version {a}.{b}.{c} (size={})\n",
        info.conn_tab_size as i32
    )
}

/// `list_all` after its version line (and `-S` with [`FMT_RULE`]).
pub fn list_all(info: &Info, entries: &mut [ServiceEntry], format: u32, names: &Names) -> String {
    let _ = info;
    let mut out = String::new();
    sort_entries(entries, format);
    out.push_str(&title(format));
    for e in entries.iter() {
        service_entry(&mut out, e, format, names);
    }
    out
}

/// `list_timeout`
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp.as_secs() as i32,
        t.tcp_fin.as_secs() as i32,
        t.udp.as_secs() as i32
    )
}

/// `list_daemon` (ipvsadm keeps the first two the kernel reports).
pub fn daemons(ds: &[SyncDaemon]) -> String {
    let mut out = String::new();
    for d in ds.iter().take(2) {
        let n = d.state.number();
        let kind = if n & 1 != 0 {
            "master"
        } else if n & 2 != 0 {
            "backup"
        } else {
            continue;
        };
        let _ = write!(
            out,
            "{kind} sync daemon (mcast={}, syncid={}",
            d.interface, d.sync_id as i32
        );
        if let Some(l) = d.max_len.filter(|&l| l != 0) {
            let _ = write!(out, ", maxlen={l}");
        }
        if let Some(g) = d.group {
            let _ = write!(out, ", group={}", ntop(&g));
        }
        if let Some(p) = d.port.filter(|&p| p != 0) {
            let _ = write!(out, ", port={p}");
        }
        if let Some(t) = d.ttl.filter(|&t| t != 0) {
            let _ = write!(out, ", ttl={t}");
        }
        out.push_str(")\n");
    }
    out
}

fn conn_proto(p: Protocol) -> String {
    match p {
        Protocol::Other(1) => "ICMP".into(),
        Protocol::Other(58) => "ICMPv6".into(),
        p => p.to_string(),
    }
}

/// `list_conn`
pub fn connections(conns: &[ConnEntry], format: u32, names: &Names) -> String {
    let mut out = String::from("IPVS connection entries\n");
    let pc = format & FMT_PERSISTENTCONN != 0;
    if pc {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in conns {
        let proto = conn_proto(c.protocol);
        let pn = match c.protocol {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
            _ => 0,
        };
        let name = |a: &SocketAddr| addrport(&a.ip(), a.port(), pn, format, names);
        let (cn, vn, dn) = (name(&c.client), name(&c.virtual_addr), name(&c.destination));
        let secs = c.expires.as_secs();
        let exp = format!("{:02}:{:02}", secs / 60, secs % 60);
        let state = c.state.name();
        match (&c.pe_name, &c.pe_data) {
            (Some(n), Some(d)) if pc => {
                let _ = writeln!(
                    out,
                    "{proto:<3} {exp:<6} {state:<11} {cn:<18} {vn:<18} {dn:<16} {n:<18} {d}"
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{proto:<3} {exp:<6} {state:<11} {cn:<18} {vn:<18} {dn}"
                );
            }
        }
    }
    out
}

// ------------------------------------------------------------------ JSON
//
// The documents are serde views of ipvs-nl's types: the values that have a
// serde form of their own in ipvs-nl (feature `serde`: scheduler, family,
// netmask, forwarding method, tunnel type and checksum, weight, the version,
// timeouts, sync daemons, connection states) are written by it; the views
// only flatten the service key, split counters from rates and write
// addresses as `inet_ntop` does.

/// One document: serde_json's compact form and a newline.
fn json_doc(v: &impl Serialize) -> String {
    // Serializing these views cannot fail: no map with non-string keys, no
    // failing Serialize impl.
    let mut s = serde_json::to_string(v).unwrap_or_default();
    s.push('\n');
    s
}

/// `Stats`: the counters of a [`Stats`].
#[derive(Serialize)]
struct JsonCounters {
    conns: u64,
    inpkts: u64,
    outpkts: u64,
    inbytes: u64,
    outbytes: u64,
}

/// `Rates`: the rates of a [`Stats`].
#[derive(Serialize)]
struct JsonRates {
    cps: u64,
    inpps: u64,
    outpps: u64,
    inbps: u64,
    outbps: u64,
}

fn counters_rates(s: Option<&Stats>) -> (JsonCounters, JsonRates) {
    let s = s.copied().unwrap_or_default();
    (
        JsonCounters {
            conns: s.conns,
            inpkts: s.inpkts,
            outpkts: s.outpkts,
            inbytes: s.inbytes,
            outbytes: s.outbytes,
        },
        JsonRates {
            cps: s.cps,
            inpps: s.inpps,
            outpps: s.outpps,
            inbps: s.inbps,
            outbps: s.outbps,
        },
    )
}

/// `Tunnel`
#[derive(Serialize)]
struct JsonTunnel {
    #[serde(rename = "type")]
    kind: TunnelType,
    port: u16,
    checksum: TunnelFlags,
}

/// `Destination`
#[derive(Serialize)]
struct JsonDest {
    address: String,
    port: u16,
    family: Family,
    forward: ForwardMethod,
    weight: Weight,
    upper_threshold: u32,
    lower_threshold: u32,
    active_conns: u32,
    inactive_conns: u32,
    persistent_conns: u32,
    tunnel: Option<JsonTunnel>,
    stats: JsonCounters,
    rates: JsonRates,
}

impl JsonDest {
    fn new(d: &Destination) -> Self {
        let (stats, rates) = counters_rates(d.stats());
        JsonDest {
            address: ntop(&d.addr),
            port: d.port,
            family: Family::of(&d.addr),
            forward: d.forward,
            weight: d.weight,
            upper_threshold: d.upper_threshold,
            lower_threshold: d.lower_threshold,
            active_conns: d.active_conns,
            inactive_conns: d.inactive_conns,
            persistent_conns: d.persistent_conns,
            tunnel: (d.forward == ForwardMethod::Tunnel).then_some(JsonTunnel {
                kind: d.tunnel_type,
                port: d.tunnel_port,
                checksum: d.tunnel_flags,
            }),
            stats,
            rates,
        }
    }
}

/// `Service`
#[derive(Serialize)]
struct JsonService<'a> {
    protocol: Option<String>,
    fwmark: Option<u32>,
    family: Family,
    address: Option<String>,
    port: Option<u16>,
    scheduler: &'a Scheduler,
    sched_flags: Vec<&'a str>,
    persistent: bool,
    timeout: u64,
    netmask: Netmask,
    pe: Option<&'a str>,
    one_packet: bool,
    flags: u32,
    stats: JsonCounters,
    rates: JsonRates,
    destinations: Vec<JsonDest>,
}

impl<'a> JsonService<'a> {
    fn new(e: &'a ServiceEntry, sched_flags: &'a str) -> Self {
        let v = SvcView::new(&e.service);
        let s = &e.service;
        let flags = v.flags();
        let (stats, rates) = counters_rates(s.stats());
        let (protocol, fwmark) = match s.key {
            ServiceKey::Addr { protocol, .. } => (Some(protocol.to_string()), None),
            ServiceKey::Fwmark { mark, .. } => (None, Some(mark)),
        };
        JsonService {
            protocol,
            fwmark,
            family: Family::from(v.af),
            address: v.addr.as_ref().map(ntop),
            port: v.addr.map(|_| v.port),
            scheduler: &s.scheduler,
            sched_flags: sched_flags.split(',').filter(|x| !x.is_empty()).collect(),
            persistent: flags & SVC_F_PERSISTENT != 0,
            timeout: s.timeout.as_secs(),
            netmask: s.netmask,
            pe: s.pe_name.as_deref(),
            one_packet: flags & SVC_F_ONEPACKET != 0,
            flags,
            stats,
            rates,
            destinations: e.destinations.iter().map(JsonDest::new).collect(),
        }
    }
}

/// `-L --json`: version, table size and every service with its destinations.
pub fn json_services(info: Option<&Info>, entries: &[ServiceEntry]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        info: Option<&'a Info>,
        services: Vec<JsonService<'a>>,
    }
    let flags: Vec<String> = entries
        .iter()
        .map(|e| sched_flags(&SvcView::new(&e.service)))
        .collect();
    json_doc(&Doc {
        info,
        services: entries
            .iter()
            .zip(&flags)
            .map(|(e, f)| JsonService::new(e, f))
            .collect(),
    })
}

/// `-L --timeout --json`
pub fn json_timeouts(t: &Timeouts) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        timeouts: &'a Timeouts,
    }
    json_doc(&Doc { timeouts: t })
}

/// `-L --daemon --json`
pub fn json_daemons(ds: &[SyncDaemon]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        daemons: &'a [SyncDaemon],
    }
    json_doc(&Doc { daemons: ds })
}

/// `Endpoint`
#[derive(Serialize)]
struct JsonEndpoint {
    address: String,
    port: u16,
}

impl From<&SocketAddr> for JsonEndpoint {
    fn from(a: &SocketAddr) -> Self {
        JsonEndpoint {
            address: ntop(&a.ip()),
            port: a.port(),
        }
    }
}

/// `Connection`
#[derive(Serialize)]
struct JsonConn<'a> {
    protocol: String,
    client: JsonEndpoint,
    #[serde(rename = "virtual")]
    virtual_addr: JsonEndpoint,
    destination: JsonEndpoint,
    state: &'a ConnState,
    #[serde(with = "nl_engine::serde_support::secs")]
    expires: Duration,
    template: bool,
    pe_name: Option<&'a str>,
    pe_data: Option<&'a str>,
}

/// `-L -c --json`
pub fn json_connections(conns: &[ConnEntry]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        connections: Vec<JsonConn<'a>>,
    }
    json_doc(&Doc {
        connections: conns
            .iter()
            .map(|c| JsonConn {
                protocol: conn_proto(c.protocol),
                client: (&c.client).into(),
                virtual_addr: (&c.virtual_addr).into(),
                destination: (&c.destination).into(),
                state: &c.state,
                expires: c.expires,
                template: c.is_template(),
                pe_name: c.pe_name.as_deref(),
                pe_data: c.pe_data.as_deref(),
            })
            .collect(),
    })
}
