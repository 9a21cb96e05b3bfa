//! ipvsadm's `process_options`: the parser of one command line, its value
//! parsers (service, timeout, fwmark, scheduler flags), and the tokenizer
//! of `-R` restore lines.

use std::borrow::Cow;

use super::*;

pub(super) const SERVICE_ADDR: u8 = 1;
pub(super) const SERVICE_PORT: u8 = 2;

/// ipvsadm's `parse_service`: fills af/addr/port (and netmask 128 for
/// IPv6), returns SERVICE_ADDR|SERVICE_PORT bits (0 on error).
pub(super) fn parse_service(
    buf: &str,
    protocol: u16,
    af: &mut u16,
    addr: &mut [u8; 16],
    port: &mut u16,
    netmask: &mut u32,
    lookup: &dyn Lookup,
) -> u8 {
    // The usual `a.b.c.d:PORT` first, read in one pass: what the rules
    // below make of it (the address as inet_aton reads it, the port as
    // string_to_number does plain digits); anything else, a port with a
    // sign, spaces or more than 5 digits, or one they refuse, is left to
    // them.
    if let Some((a, [b':', p @ ..])) = dotted_decimal_prefix(buf.as_bytes()) {
        if let Some(n) = plain_port(p) {
            *addr = [0; 16];
            if let Some(v4) = addr.get_mut(..4) {
                v4.copy_from_slice(&a);
            }
            *af = AF_INET;
            *port = n;
            return SERVICE_ADDR | SERVICE_PORT;
        }
    }
    service_by_rules(buf, protocol, af, addr, port, netmask, lookup)
}

/// A port of 1 to 5 decimal digits at most 65535, read directly (what
/// `string_to_number(p, 0, 65535)` makes of such digits); `None` for
/// anything else.
fn plain_port(p: &[u8]) -> Option<u16> {
    // at most 5 digits: no overflow
    if !(1..=5).contains(&p.len()) || !p.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = p.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok()
}

/// [`parse_service`] by ipvsadm's rules alone.
fn service_by_rules(
    buf: &str,
    protocol: u16,
    af: &mut u16,
    addr: &mut [u8; 16],
    port: &mut u16,
    netmask: &mut u32,
    lookup: &dyn Lookup,
) -> u8 {
    if str_is_digit(buf) {
        return 0;
    }
    let mut host: &str = buf;
    let mut portp: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return 0;
        };
        let after = &inner[close + 1..];
        let Some(p) = after.strip_prefix(':') else {
            return 0;
        };
        host = &inner[..close];
        portp = Some(p);
    }
    if let Some(a6) = inet_pton6(host) {
        *addr = a6;
        *af = AF_INET6;
        *netmask = 128;
    } else {
        match host.rfind(':') {
            Some(p) => {
                portp = Some(&host[p + 1..]);
                host = &host[..p];
            }
            // "[1.2.3.4]:80": the port is lost, as in ipvsadm.
            None => portp = None,
        }
        let a4 = inet_aton(host).or_else(|| lookup.host_v4(host));
        match a4 {
            Some(a) => {
                *addr = [0; 16];
                addr[..4].copy_from_slice(&a);
                *af = AF_INET;
            }
            None => return 0,
        }
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = portp {
        result |= SERVICE_PORT;
        if let Some(n) = string_to_number(p, 0, 65535) {
            *port = n as u16;
        } else if let Some(n) = proto_name(protocol).and_then(|pn| lookup.service_port(p, pn)) {
            *port = n;
        } else {
            return 0;
        }
    }
    result
}

pub(super) fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Failure> {
    match buf {
        None => Ok(PERSISTENT_TIMEOUT),
        Some(b) => string_to_number(b, min, max)
            .map(|n| n as u32)
            .ok_or_else(|| fail(format!("invalid timeout value `{b}' specified"))),
    }
}

pub(super) fn parse_fwmark(buf: &str) -> Result<u32, Failure> {
    let b = buf.as_bytes();
    let (l, used, over) = strtol(b, 10);
    if used != b.len() || used == 0 || over || l <= 0 || l > i64::from(u32::MAX) {
        return Err(fail(format!("invalid fwmark value `{buf}' specified")));
    }
    Ok(l as u32)
}

pub(super) fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Failure> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let need = match flag {
            "flag-1" => {
                flags |= SVC_F_SCHED1;
                None
            }
            "flag-2" => {
                flags |= SVC_F_SCHED2;
                None
            }
            "flag-3" => {
                flags |= SVC_F_SCHED3;
                None
            }
            "sh-fallback" => {
                flags |= SVC_F_SCHED1;
                Some("sh")
            }
            "sh-port" => {
                flags |= SVC_F_SCHED2;
                Some("sh")
            }
            "mh-fallback" => {
                flags |= SVC_F_SCHED1;
                Some("mh")
            }
            "mh-port" => {
                flags |= SVC_F_SCHED2;
                Some("mh")
            }
            _ => return Err(fail(format!("invalid scheduler flag `{flag}'"))),
        };
        if let Some(s) = need {
            if s != sched {
                return Err(fail(format!("incompatible scheduler flag `{flag}'")));
            }
        }
    }
    if !any {
        // ipvsadm dereferences a NULL token here (it crashes); refuse instead.
        return Err(fail(format!("invalid scheduler flag `{arg}'")));
    }
    Ok(flags)
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// ipvsadm's defaults, before the options are read.
fn initial() -> Parsed {
    Parsed {
        cmd: Cmd::None,
        svc: Svc {
            netmask: 0xffff_ffff,
            ..Svc::default()
        },
        dest: Dest {
            weight: 1,
            conn_flags: CONN_F_DROUTE,
            ..Dest::default()
        },
        daemon: Daemon::default(),
        timeout: TimeoutSet::default(),
        options: 0,
        format: 0,
        json: false,
    }
}

/// The two lines `ipvsadm -S -n` writes for a plain service and its
/// destinations, read directly (no option scanning):
///
/// ```text
/// -A -t|-u|--sctp-service ADDRESS:PORT -s SCHEDULER
/// -a -t|-u|--sctp-service ADDRESS:PORT -r ADDRESS[:PORT] -g|-m|-i -w WEIGHT
/// ```
///
/// Addresses and ports numeric. The result is what [`parse`] makes of the
/// same line (the test `saved_lines_read_directly_as_parse_reads_them`
/// compares the two); `None` for any other line, and for one of these
/// shapes that [`parse`] would refuse, so that it is read (and refused)
/// there.
pub fn parse_saved(line: &str) -> Option<Parsed> {
    // the separators of `restore_line`, cut at their bytes
    let sep = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut words = [""; 9];
    let mut n = 0;
    let mut start = None;
    for (i, b) in line.bytes().chain([b' ']).enumerate() {
        match (sep(b), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                start = None;
                let w = line.get(s..i)?;
                // a restore drops the word `ipvsadm` wherever it is
                if w == "ipvsadm" {
                    return None;
                }
                *words.get_mut(n)? = w;
                n += 1;
            }
            _ => {}
        }
    }
    let protocol = match words[1] {
        "-t" => IPPROTO_TCP,
        "-u" => IPPROTO_UDP,
        "--sctp-service" => IPPROTO_SCTP,
        _ => return None,
    };
    let mut p = initial();
    p.svc.protocol = protocol;
    set_option(&mut p.options, OPTC_SERVICE).ok()?;
    let s = &mut p.svc;
    let r = parse_service(
        words[2],
        protocol,
        &mut s.af,
        &mut s.addr,
        &mut s.port,
        &mut s.netmask,
        &NoLookup,
    );
    if r & SERVICE_ADDR == 0 {
        return None;
    }
    match (n, words[0], words[3], words[5], words[6]) {
        (5, "-A", "-s", _, _) => {
            let sched = words[4];
            if sched.is_empty()
                || sched.len() > 15
                || !sched.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return None;
            }
            p.cmd = Cmd::Add;
            set_option(&mut p.options, OPTC_SCHEDULER).ok()?;
            p.svc.sched_name = sched.to_owned();
            generic_opt_check(p.cmd, p.options).ok()?;
            // a zero port is refused by `parse`
            (p.svc.port != 0).then_some(p)
        }
        (8, "-a", "-r", fwd, "-w") => {
            p.cmd = Cmd::AddDest;
            set_option(&mut p.options, OPTC_SERVER).ok()?;
            let (mut af, mut addr, mut port, mut nm) =
                (p.svc.af, p.svc.addr, p.svc.port, p.svc.netmask);
            let r = parse_service(
                words[4], protocol, &mut af, &mut addr, &mut port, &mut nm, &NoLookup,
            );
            if r & SERVICE_ADDR == 0 {
                return None;
            }
            (p.dest.af, p.dest.addr, p.dest.port) = (af, addr, port);
            if r == SERVICE_ADDR {
                p.dest.port = p.svc.port;
            }
            p.dest.conn_flags = match fwd {
                "-g" => CONN_F_DROUTE,
                "-m" => CONN_F_MASQ,
                "-i" => CONN_F_TUNNEL,
                _ => return None,
            };
            set_option(&mut p.options, OPTC_FORWARD).ok()?;
            set_option(&mut p.options, OPTC_WEIGHT).ok()?;
            p.dest.weight = u32::try_from(string_to_number(words[7], 0, INT_MAX)?).ok()?;
            generic_opt_check(p.cmd, p.options).ok()?;
            let fwd = p.dest.conn_flags;
            if fwd == CONN_F_TUNNEL || fwd == CONN_F_DROUTE {
                p.dest.port = p.svc.port;
            }
            if p.dest.af != p.svc.af && fwd != CONN_F_TUNNEL {
                return None;
            }
            tunnel_opt_check(p.dest.tun_type, p.options).ok()?;
            Some(p)
        }
        _ => None,
    }
}

/// Parses one command line (`argv[0]` included) as ipvsadm's
/// `process_options` does, up to (not including) the kernel work.
/// `reading_stdin` is true for the lines of a `-R` restore.
pub fn parse<S: AsRef<str>>(
    argv: &[S],
    reading_stdin: bool,
    lookup: &dyn Lookup,
) -> Result<Outcome, Failure> {
    let program = argv.first().map(S::as_ref).unwrap_or("ipvsadm");
    let mut p = initial();
    let mut popt = Popt::new(argv);

    // The first option must be the command.
    let (c0, arg0) = match popt.next_opt() {
        Ok(Some(x)) => x,
        _ => return Err(tryhelp(program)),
    };
    let daemon_state = |a: &Option<Cow<str>>| match a.as_deref() {
        Some("master") => Some(STATE_MASTER),
        Some("backup") => Some(STATE_BACKUP),
        _ => None,
    };
    p.cmd = match c0 {
        0x41 => Cmd::Add,         // A
        0x45 => Cmd::Edit,        // E
        0x44 => Cmd::Del,         // D
        0x61 => Cmd::AddDest,     // a
        0x65 => Cmd::EditDest,    // e
        0x64 => Cmd::DelDest,     // d
        0x43 => Cmd::Flush,       // C
        0x4c | 0x6c => Cmd::List, // L l
        0x5a => Cmd::Zero,        // Z
        TAG_SET => Cmd::Timeout,
        0x52 => Cmd::Restore, // R
        0x53 => Cmd::Save,    // S
        TAG_START_DAEMON => {
            p.daemon.state = daemon_state(&arg0)
                .ok_or_else(|| fail("illegal start-daemon parameter specified"))?;
            Cmd::StartDaemon
        }
        TAG_STOP_DAEMON => {
            p.daemon.state =
                daemon_state(&arg0).ok_or_else(|| fail("illegal start_daemon specified"))?;
            Cmd::StopDaemon
        }
        0x68 => return Ok(Outcome::Help),    // h
        0x76 => return Ok(Outcome::Version), // v
        _ => return Err(tryhelp(program)),
    };

    let mut sched_flags_arg = String::new();
    loop {
        let (opt, arg) = match popt.next_opt() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                return Err(Failure {
                    message: format!("{}: {}\n", popt.bad_option(), e.text()),
                    status: 255,
                    fatal: false,
                });
            }
        };
        let a = arg.as_deref().unwrap_or("");
        let o = &mut p.options;
        match opt {
            0x74 | 0x75 | TAG_SCTP_SERVICE => {
                set_option(o, OPTC_SERVICE)?;
                p.svc.protocol = match opt {
                    0x74 => IPPROTO_TCP,
                    0x75 => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                let s = &mut p.svc;
                let r = parse_service(
                    a,
                    s.protocol,
                    &mut s.af,
                    &mut s.addr,
                    &mut s.port,
                    &mut s.netmask,
                    lookup,
                );
                if r & SERVICE_ADDR == 0 {
                    return Err(fail("illegal virtual server address[:port] specified"));
                }
            }
            0x66 => {
                set_option(o, OPTC_SERVICE)?;
                p.svc.af = AF_INET;
                p.svc.protocol = IPPROTO_TCP;
                p.svc.fwmark = parse_fwmark(a)?;
            }
            0x73 => {
                set_option(o, OPTC_SCHEDULER)?;
                p.svc.sched_name = truncate(a, 15);
            }
            0x70 => {
                set_option(o, OPTC_PERSISTENT)?;
                p.svc.flags |= SVC_F_PERSISTENT;
                p.svc.timeout = parse_timeout(arg.as_deref(), 1, MAX_TIMEOUT)?;
            }
            0x4d => {
                set_option(o, OPTC_NETMASK)?;
                if p.svc.af != AF_INET6 {
                    let m = inet_aton(a).or_else(|| lookup.host_v4(a));
                    match m {
                        Some(m) => p.svc.netmask = u32::from_be_bytes(m),
                        None => {
                            return Err(fail("illegal virtual server persistent mask specified"));
                        }
                    }
                } else {
                    // atoi(): strtol truncated to int, stored in a u32
                    let (n, _, _) = strtol(a.as_bytes(), 10);
                    p.svc.netmask = n as i32 as u32;
                    if p.svc.netmask < 1 || p.svc.netmask > 128 {
                        return Err(fail("illegal ipv6 netmask specified"));
                    }
                }
            }
            0x72 => {
                set_option(o, OPTC_SERVER)?;
                let mut af = p.svc.af;
                let mut addr = p.svc.addr;
                let mut port = p.svc.port;
                let mut nm = p.svc.netmask;
                let r = parse_service(
                    a,
                    p.svc.protocol,
                    &mut af,
                    &mut addr,
                    &mut port,
                    &mut nm,
                    lookup,
                );
                p.dest.af = af;
                p.dest.addr = addr;
                p.dest.port = port;
                if r & SERVICE_ADDR == 0 {
                    return Err(fail("illegal real server address[:port] specified"));
                }
                if r == SERVICE_ADDR {
                    p.dest.port = p.svc.port;
                }
            }
            0x69 => {
                set_option(o, OPTC_FORWARD)?;
                p.dest.conn_flags = CONN_F_TUNNEL;
            }
            0x67 => {
                set_option(o, OPTC_FORWARD)?;
                p.dest.conn_flags = CONN_F_DROUTE;
            }
            0x6d => {
                set_option(o, OPTC_FORWARD)?;
                p.dest.conn_flags = CONN_F_MASQ;
            }
            0x77 => {
                set_option(o, OPTC_WEIGHT)?;
                // Debian raises ipvsadm's 65535 limit to INT_MAX.
                p.dest.weight = string_to_number(a, 0, INT_MAX)
                    .ok_or_else(|| fail("illegal weight specified"))?
                    as u32;
            }
            0x78 => {
                set_option(o, OPTC_UTHRESHOLD)?;
                p.dest.u_threshold = string_to_number(a, 0, INT_MAX)
                    .ok_or_else(|| fail("illegal u_threshold specified"))?
                    as u32;
            }
            0x79 => {
                set_option(o, OPTC_LTHRESHOLD)?;
                p.dest.l_threshold = string_to_number(a, 0, INT_MAX)
                    .ok_or_else(|| fail("illegal l_threshold specified"))?
                    as u32;
            }
            0x63 => set_option(o, OPTC_CONNECTION)?,
            0x6e => {
                set_option(o, OPTC_NUMERIC)?;
                p.format |= FMT_NUMERIC;
            }
            TAG_MCAST_INTERFACE => {
                set_option(o, OPTC_MCAST)?;
                p.daemon.mcast_ifn = truncate(a, 15);
            }
            0x49 => {
                set_option(o, OPTC_SYNCID)?;
                p.daemon.syncid = string_to_number(a, 0, 255)
                    .ok_or_else(|| fail("illegal syncid specified"))?
                    as u32;
            }
            TAG_TIMEOUT => set_option(o, OPTC_TIMEOUT)?,
            TAG_DAEMON => set_option(o, OPTC_DAEMON)?,
            TAG_STATS => {
                set_option(o, OPTC_STATS)?;
                p.format |= FMT_STATS;
            }
            TAG_RATE => {
                set_option(o, OPTC_RATE)?;
                p.format |= FMT_RATE;
            }
            TAG_THRESHOLDS => {
                set_option(o, OPTC_THRESHOLDS)?;
                p.format |= FMT_THRESHOLDS;
            }
            TAG_PERSISTENTCONN => {
                set_option(o, OPTC_PERSISTENTCONN)?;
                p.format |= FMT_PERSISTENTCONN;
            }
            TAG_NO_SORT => {
                set_option(o, OPTC_NOSORT)?;
                p.format |= FMT_NOSORT;
            }
            TAG_SORT => {}
            TAG_JSON => p.json = true,
            0x58 => {
                set_option(o, OPTC_EXACT)?;
                p.format |= FMT_EXACT;
            }
            0x36 => {
                if p.svc.fwmark != 0 {
                    p.svc.af = AF_INET6;
                    p.svc.netmask = 128;
                } else {
                    return Err(fail("-6 used before -f\n"));
                }
            }
            0x6f => {
                set_option(o, OPTC_ONEPACKET)?;
                p.svc.flags |= SVC_F_ONEPACKET;
            }
            TAG_PE => {
                set_option(o, OPTC_PE)?;
                p.svc.pe_name = truncate(a, 15);
            }
            0x62 => {
                set_option(o, OPTC_SCHED_FLAGS)?;
                sched_flags_arg = truncate(a, 127);
            }
            TAG_MCAST_GROUP => {
                set_option(o, OPTC_MCAST_GROUP)?;
                if a.contains(':') {
                    match inet_pton6(a) {
                        Some(g) if g[0] == 0xff => p.daemon.mcast_group = g,
                        _ => return Err(fail(format!("invalid IPv6 mcast-group `{a}'"))),
                    }
                    p.daemon.mcast_af = AF_INET6;
                } else {
                    match inet_pton4(a) {
                        Some(g) if (224..=239).contains(&g[0]) => {
                            p.daemon.mcast_group = [0; 16];
                            p.daemon.mcast_group[..4].copy_from_slice(&g);
                        }
                        _ => return Err(fail(format!("invalid IPv4 mcast-group `{a}'"))),
                    }
                    p.daemon.mcast_af = AF_INET;
                }
            }
            TAG_MCAST_PORT => {
                set_option(o, OPTC_MCAST_PORT)?;
                p.daemon.mcast_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal mcast-port specified"))?
                    as u16;
            }
            TAG_MCAST_TTL => {
                set_option(o, OPTC_MCAST_TTL)?;
                p.daemon.mcast_ttl = string_to_number(a, 1, 255)
                    .ok_or_else(|| fail("illegal mcast-ttl specified"))?
                    as u8;
            }
            TAG_SYNC_MAXLEN => {
                set_option(o, OPTC_SYNC_MAXLEN)?;
                p.daemon.sync_maxlen = string_to_number(a, 1, 65535 - 20 - 8)
                    .ok_or_else(|| fail("illegal sync-maxlen specified"))?
                    as u16;
            }
            TAG_TUN_INFO => {
                set_option(o, OPTC_TUN_INFO)?;
                p.format |= FMT_TUN_INFO;
            }
            TAG_TUN_TYPE => {
                set_option(o, OPTC_TUN_TYPE)?;
                p.dest.tun_type = match a {
                    "ipip" => 0,
                    "gue" => 1,
                    "gre" => 2,
                    _ => return Err(fail("illegal tunnel type specified")),
                };
            }
            TAG_TUN_PORT => {
                set_option(o, OPTC_TUN_PORT)?;
                p.dest.tun_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal tunnel port specified"))?
                    as u16;
            }
            TAG_TUN_NOCSUM => set_option(o, OPTC_TUN_NOCSUM)?,
            TAG_TUN_CSUM => {
                set_option(o, OPTC_TUN_CSUM)?;
                p.dest.tun_flags |= 1;
            }
            TAG_TUN_REMCSUM => {
                set_option(o, OPTC_TUN_REMCSUM)?;
                p.dest.tun_flags |= 2;
            }
            _ => {
                return Err(fail(format!("invalid option `{}'", popt.bad_option())));
            }
        }
    }

    if p.cmd == Cmd::Timeout {
        let a = popt.get_arg();
        let b = popt.get_arg();
        let c = popt.get_arg();
        match (a, b, c) {
            (Some(a), Some(b), Some(c)) => {
                p.timeout.tcp = parse_timeout(Some(a), 0, MAX_TIMEOUT)?;
                p.timeout.tcp_fin = parse_timeout(Some(b), 0, MAX_TIMEOUT)?;
                p.timeout.udp = parse_timeout(Some(c), 0, MAX_TIMEOUT)?;
            }
            _ => return Err(fail("--set option requires 3 timeout values")),
        }
    }
    if let Some(extra) = popt.get_arg() {
        return Err(fail(format!("unexpected argument {extra}")));
    }
    if !sched_flags_arg.is_empty() {
        p.svc.flags &= !(SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3);
        p.svc.flags |= parse_sched_flags(&p.svc.sched_name, &sched_flags_arg)?;
    }

    // process_options()
    generic_opt_check(p.cmd, p.options)?;
    if matches!(p.cmd, Cmd::Add | Cmd::Edit) {
        if p.svc.fwmark == 0 && p.svc.port == 0 && p.svc.flags & SVC_F_PERSISTENT == 0 {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        if p.svc.flags & SVC_F_ONEPACKET != 0 && p.svc.fwmark == 0 && p.svc.protocol != IPPROTO_UDP
        {
            return Err(fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if p.svc.sched_name.is_empty() {
            p.svc.sched_name = "wlc".into();
        }
    }
    if p.cmd == Cmd::StartDaemon && p.daemon.mcast_ifn.is_empty() {
        p.daemon.mcast_ifn = "eth0".into();
    }
    let fwd = p.dest.conn_flags & 7;
    if matches!(p.cmd, Cmd::AddDest | Cmd::EditDest) {
        if p.svc.fwmark == 0 && (fwd == CONN_F_TUNNEL || fwd == CONN_F_DROUTE) {
            p.dest.port = p.svc.port;
        }
        if p.dest.af != p.svc.af && fwd != CONN_F_TUNNEL {
            return Err(fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun_opts = [
            OPTC_TUN_TYPE,
            OPTC_TUN_PORT,
            OPTC_TUN_NOCSUM,
            OPTC_TUN_CSUM,
            OPTC_TUN_REMCSUM,
        ];
        if tun_opts.iter().any(|&t| p.has(t)) && fwd != CONN_F_TUNNEL {
            return Err(fail("Tunnel options conflict with forward method"));
        }
        tunnel_opt_check(p.dest.tun_type, p.options)?;
    }
    if p.cmd == Cmd::List {
        let any = |bits: &[u32]| bits.iter().any(|&b| p.has(b));
        if (any(&[OPTC_CONNECTION, OPTC_TIMEOUT, OPTC_DAEMON])
            && any(&[OPTC_STATS, OPTC_RATE, OPTC_THRESHOLDS]))
            || (any(&[OPTC_TIMEOUT, OPTC_DAEMON]) && p.has(OPTC_PERSISTENTCONN))
        {
            return Err(fail("options conflicts in the list command"));
        }
    }
    if p.cmd == Cmd::Restore && reading_stdin {
        return Err(tryhelp(program));
    }
    Ok(Outcome::Run(Box::new(p)))
}

/// One line of a restore stream as a command line, as ipvsadm's
/// `config_stream_read` makes it: white-space separated words, the word
/// `ipvsadm` dropped, `program` put in front as argv[0]. `None` for a line
/// with no word.
pub fn restore_line<'a>(line: &'a str, program: &'a str) -> Option<Vec<&'a str>> {
    let mut argv = Vec::with_capacity(16);
    argv.push(program);
    // The separators are ASCII: cut at their bytes (every cut is a char
    // boundary), without decoding the line's chars.
    let sep = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut rest = line;
    while !rest.is_empty() {
        let start = rest.bytes().position(|b| !sep(&b)).unwrap_or(rest.len());
        let tail = rest.get(start..).unwrap_or("");
        let len = tail.bytes().position(|b| sep(&b)).unwrap_or(tail.len());
        let (word, after) = tail.split_at(len);
        if !word.is_empty() && word != "ipvsadm" {
            argv.push(word);
        }
        rest = after;
    }
    (argv.len() > 1).then_some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    type ServiceFn = fn(&str, u16, &mut u16, &mut [u8; 16], &mut u16, &mut u32, &dyn Lookup) -> u8;

    fn run(f: ServiceFn, text: &str) -> (u8, u16, [u8; 16], u16, u32) {
        let (mut af, mut addr, mut port, mut nm) = (0, [7; 16], 9, 3);
        let r = f(
            text,
            IPPROTO_TCP,
            &mut af,
            &mut addr,
            &mut port,
            &mut nm,
            &NoLookup,
        );
        (r, af, addr, port, nm)
    }

    /// The one-pass reading of `a.b.c.d:PORT` changes no result of
    /// ipvsadm's rules, on 100,000 generated addresses with ports.
    #[test]
    fn the_usual_service_form_is_read_as_the_rules_read_it() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let parts = ["0", "1", "10", "255", "256", "01", "0x1", "", "999"];
        let ports = [
            "80", "080", "+80", "65535", "65536", "0", "", "-1", "8:9", "http", " 1", "00080",
            "000080", "99999", "8a",
        ];
        let mut fast = 0;
        for _ in 0..100_000 {
            let mut pick = |opts: &[&'static str]| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                opts[(seed % opts.len() as u64) as usize]
            };
            let dots = [
                pick(&[".", ".", ".", ":"]),
                pick(&[".", "."]),
                pick(&[".", ".", ""]),
            ];
            let text = format!(
                "{}{}{}{}{}{}{}:{}",
                pick(&parts),
                dots[0],
                pick(&parts),
                dots[1],
                pick(&parts),
                dots[2],
                pick(&parts),
                pick(&ports)
            );
            assert_eq!(
                run(parse_service, &text),
                run(service_by_rules, &text),
                "{text:?}"
            );
            fast += usize::from(dotted_decimal_prefix(text.as_bytes()).is_some());
        }
        assert!(fast > 1_000, "{fast}");
        assert_eq!(run(parse_service, "10.0.0.1:080").3, 80);
    }
}
