//! A small `ipset` built on ipset-nl: create, destroy, flush, rename, swap,
//! list, save, restore, add, del, test, with `-exist`, `-n`/`-name`, `-t`
//! and `-o save|plain|json`. Its `list` and `save` output for hash:ip,port
//! sets is byte-identical to the real ipset 7.17's (see
//! `tests/example.rs`); `restore` reads `ipset save` files.
//!
//! Usage: `ipset [-exist] [-n] [-t] [-o MODE] COMMAND [ARGS...]`

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use ipset_nl::{
    BulkOptions, Command, CreateSet, ElementAttr, Entry, Error, Family, IpPortEntry, IpProto,
    IpSet, IpsetHandle, ListDetail, SetType,
};

/// ICMP type/code names as ipset prints them (ipset's lib/icmp.c).
const ICMP: &[(&str, u8, u8)] = &[
    ("echo-reply", 0, 0),
    ("network-unreachable", 3, 0),
    ("host-unreachable", 3, 1),
    ("protocol-unreachable", 3, 2),
    ("port-unreachable", 3, 3),
    ("fragmentation-needed", 3, 4),
    ("source-route-failed", 3, 5),
    ("network-unknown", 3, 6),
    ("host-unknown", 3, 7),
    ("network-prohibited", 3, 9),
    ("host-prohibited", 3, 10),
    ("TOS-network-unreachable", 3, 11),
    ("TOS-host-unreachable", 3, 12),
    ("communication-prohibited", 3, 13),
    ("host-precedence-violation", 3, 14),
    ("precedence-cutoff", 3, 15),
    ("source-quench", 4, 0),
    ("network-redirect", 5, 0),
    ("host-redirect", 5, 1),
    ("TOS-network-redirect", 5, 2),
    ("TOS-host-redirect", 5, 3),
    ("echo-request", 8, 0),
    ("router-advertisement", 9, 0),
    ("router-solicitation", 10, 0),
    ("ttl-zero-during-transit", 11, 0),
    ("ttl-zero-during-reassembly", 11, 1),
    ("ip-header-bad", 12, 0),
    ("required-option-missing", 12, 1),
    ("timestamp-request", 13, 0),
    ("timestamp-reply", 14, 0),
    ("address-mask-request", 17, 0),
    ("address-mask-reply", 18, 0),
];

/// ICMPv6 type/code names as ipset prints them (ipset's lib/icmpv6.c).
const ICMPV6: &[(&str, u8, u8)] = &[
    ("no-route", 1, 0),
    ("communication-prohibited", 1, 1),
    ("address-unreachable", 1, 3),
    ("port-unreachable", 1, 4),
    ("packet-too-big", 2, 0),
    ("ttl-zero-during-transit", 3, 0),
    ("ttl-zero-during-reassembly", 3, 1),
    ("bad-header", 4, 0),
    ("unknown-header-type", 4, 1),
    ("unknown-option", 4, 2),
    ("echo-request", 128, 0),
    ("echo-reply", 129, 0),
    ("router-solicitation", 133, 0),
    ("router-advertisement", 134, 0),
    ("neighbour-solicitation", 135, 0),
    ("neighbour-advertisement", 136, 0),
    ("redirect", 137, 0),
];

/// /etc/protocols: number to name and name to number, as getprotobyname.
struct Protocols {
    by_num: HashMap<u8, String>,
    by_name: HashMap<String, u8>,
}

impl Protocols {
    fn load() -> Self {
        let mut p = Protocols {
            by_num: HashMap::new(),
            by_name: HashMap::new(),
        };
        let text = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut f = line.split_whitespace();
            let (Some(name), Some(num)) = (f.next(), f.next()) else {
                continue;
            };
            let Ok(num) = num.parse::<u8>() else { continue };
            p.by_num.entry(num).or_insert_with(|| name.to_string());
            p.by_name.insert(name.to_string(), num);
            for alias in f {
                p.by_name.insert(alias.to_string(), num);
            }
        }
        p
    }
}

struct Opts {
    exist: bool,
    names: bool,
    terse: bool,
    mode: String,
}

fn fail(msg: impl Into<String>) -> Error {
    Error::invalid_input("command line", msg.into())
}

/// Splits a line like a shell would for ipset: words, "double quotes".
fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inq = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                inq = !inq;
                any = true;
            }
            c if c.is_whitespace() && !inq => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn num<T: std::str::FromStr>(s: Option<&String>, what: &str) -> Result<T, Error> {
    let s = s.ok_or_else(|| fail(format!("{what} needs a value")))?;
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x") {
        if let Ok(v) = u64::from_str_radix(h, 16) {
            return v
                .to_string()
                .parse()
                .map_err(|_| fail(format!("{what}: {s} out of range")));
        }
    }
    t.parse()
        .map_err(|_| fail(format!("Syntax error: '{s}' is invalid as number")))
}

fn parse_create(name: &str, args: &[String]) -> Result<CreateSet, Error> {
    let ty = args.first().ok_or_else(|| fail("create needs a type"))?;
    let mut spec = CreateSet::new(name, SetType::from(ty.as_str()));
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let o = &mut spec.options;
        match a.as_str() {
            "family" => {
                spec.family = it
                    .next()
                    .ok_or_else(|| fail("family needs a value"))?
                    .parse()?
            }
            "-4" => spec.family = Family::Inet,
            "-6" => spec.family = Family::Inet6,
            "hashsize" => o.hashsize = Some(num(it.next(), a)?),
            "maxelem" => o.maxelem = Some(num(it.next(), a)?),
            "timeout" => o.timeout = Some(ipset_nl::Timeout(num(it.next(), a)?)),
            "bucketsize" => o.bucketsize = Some(num(it.next(), a)?),
            "initval" => o.initval = Some(num(it.next(), a)?),
            "netmask" => o.netmask = Some(num(it.next(), a)?),
            "counters" => *o = std::mem::take(o).counters(),
            "comment" => *o = std::mem::take(o).comment(),
            "skbinfo" => *o = std::mem::take(o).skbinfo(),
            "forceadd" => *o = std::mem::take(o).forceadd(),
            other => return Err(fail(format!("unsupported create option {other:?}"))),
        }
    }
    Ok(spec)
}

fn parse_icmp(s: &str, table: &[(&str, u8, u8)]) -> Result<u16, Error> {
    if let Some((t, c)) = s.split_once('/') {
        let t: u8 = t.parse().map_err(|_| fail(format!("bad icmp type {s}")))?;
        let c: u8 = c.parse().map_err(|_| fail(format!("bad icmp code {s}")))?;
        return Ok((u16::from(t) << 8) | u16::from(c));
    }
    table
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, t, c)| (u16::from(*t) << 8) | u16::from(*c))
        .ok_or_else(|| fail(format!("Cannot parse {s} as an ICMP type/code.")))
}

fn parse_element(spec: &str, args: &[String], protos: &Protocols) -> Result<IpPortEntry, Error> {
    let (ippart, portpart) = spec.split_once(',').ok_or_else(|| {
        fail(format!(
            "Syntax error: Second element is missing from {spec}."
        ))
    })?;
    let (ipstr, cidr, ipto) = if let Some((a, c)) = ippart.split_once('/') {
        (
            a,
            Some(c.parse::<u8>().map_err(|_| fail("bad cidr"))?),
            None,
        )
    } else if let Some((a, b)) = ippart.split_once('-') {
        (a, None, Some(b))
    } else {
        (ippart, None, None)
    };
    let ip: IpAddr = ipstr
        .parse()
        .map_err(|_| fail(format!("Syntax error: cannot parse {ipstr}")))?;
    let (proto, port) = match portpart.split_once(':') {
        Some((p, rest)) => {
            let proto = match p.to_ascii_lowercase().as_str() {
                "icmpv6" | "ipv6-icmp" => IpProto::IcmpV6,
                other => match protos.by_name.get(other) {
                    Some(n) => IpProto::from(*n),
                    None => p.parse::<IpProto>()?,
                },
            };
            (proto, rest)
        }
        None => (IpProto::Tcp, portpart),
    };
    let mut e = match proto {
        IpProto::Icmp => IpPortEntry::new(ip, proto, parse_icmp(port, ICMP)?),
        IpProto::IcmpV6 => IpPortEntry::new(ip, proto, parse_icmp(port, ICMPV6)?),
        _ => {
            let (a, b) = match port.split_once('-') {
                Some((a, b)) => (a, Some(b)),
                None => (port, None),
            };
            let from: u16 = a
                .parse()
                .map_err(|_| fail(format!("cannot parse '{a}' as a port")))?;
            let mut e = IpPortEntry::new(ip, proto, from);
            if let Some(b) = b {
                e = e.port_to(b.parse().map_err(|_| fail(format!("bad port {b}")))?);
            }
            e
        }
    };
    if let Some(c) = cidr {
        e = e.cidr(c);
    }
    if let Some(t) = ipto {
        e = e.ip_to(t.parse().map_err(|_| fail(format!("bad address {t}")))?);
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "timeout" => e = e.timeout(num(it.next(), a)?),
            "packets" => e.packets = Some(num(it.next(), a)?),
            "bytes" => e.bytes = Some(num(it.next(), a)?),
            "comment" => e = e.comment(it.next().cloned().unwrap_or_default()),
            "skbmark" => {
                let v = it.next().ok_or_else(|| fail("skbmark needs a value"))?;
                let (m, k) = v.split_once('/').unwrap_or((v, "0xffffffff"));
                e = e.skbmark(num(Some(&m.to_string()), a)?, num(Some(&k.to_string()), a)?);
            }
            "skbprio" => {
                let v = it.next().ok_or_else(|| fail("skbprio needs a value"))?;
                let (x, y) = v
                    .split_once(':')
                    .ok_or_else(|| fail("skbprio is MAJOR:MINOR"))?;
                let x = u16::from_str_radix(x, 16).map_err(|_| fail("bad skbprio"))?;
                let y = u16::from_str_radix(y, 16).map_err(|_| fail("bad skbprio"))?;
                e = e.skbprio(x, y);
            }
            "skbqueue" => e = e.skbqueue(num(it.next(), a)?),
            other => return Err(fail(format!("unsupported element option {other:?}"))),
        }
    }
    e.validate()?;
    Ok(e)
}

fn header_line(s: &IpSet) -> String {
    let o = &s.options;
    let mut h = format!("family {}", s.family);
    for a in &o.other {
        if let ipset_nl::CreateAttr::Size(n) = a {
            h = format!("size {n}");
        }
    }
    if let Some(x) = o.hashsize {
        h += &format!(" hashsize {x}");
    }
    if let Some(x) = o.maxelem {
        h += &format!(" maxelem {x}");
    }
    if let Some(x) = o.netmask {
        h += &format!(" netmask {x}");
    }
    if let Some(t) = o.timeout {
        h += &format!(" timeout {t}");
    }
    if o.has_counters() {
        h += " counters";
    }
    if o.has_comment() {
        h += " comment";
    }
    if o.has_skbinfo() {
        h += " skbinfo";
    }
    if let Some(x) = o.bucketsize {
        h += &format!(" bucketsize {x}");
    }
    if let Some(x) = o.initval {
        h += &format!(" initval 0x{x:08x}");
    }
    h
}

fn member_text(s: &IpSet, m: &Entry, protos: &Protocols) -> String {
    let mut out = String::new();
    match (s.set_type == SetType::HashIpPort).then(|| m.as_ip_port()) {
        Some(Ok(e)) => {
            out += &e.ip.to_string();
            let pnum = e.proto.to_u8();
            let pname = protos
                .by_num
                .get(&pnum)
                .cloned()
                .unwrap_or_else(|| pnum.to_string());
            let port = match e.icmp_type_code() {
                Some((t, c)) => {
                    let table = if e.proto == IpProto::Icmp {
                        ICMP
                    } else {
                        ICMPV6
                    };
                    table
                        .iter()
                        .find(|(_, tt, cc)| *tt == t && *cc == c)
                        .map(|(n, _, _)| n.to_string())
                        .unwrap_or_else(|| format!("{t}/{c}"))
                }
                None => e.port.to_string(),
            };
            out += &format!(",{pname}:{port}");
        }
        _ => {
            // Other types: their address-like parts, in order.
            let mut parts = Vec::new();
            for a in &m.attrs {
                match a {
                    ElementAttr::Ip(ip) | ElementAttr::Ip2(ip) => parts.push(ip.to_string()),
                    ElementAttr::Cidr(c) | ElementAttr::Cidr2(c) => {
                        if let Some(l) = parts.last_mut() {
                            *l += &format!("/{c}");
                        }
                    }
                    ElementAttr::Port(p) => parts.push(p.to_string()),
                    ElementAttr::Name(n) | ElementAttr::Iface(n) => parts.push(n.clone()),
                    ElementAttr::Ether(e) => parts.push(
                        e.iter()
                            .map(|b| format!("{b:02X}"))
                            .collect::<Vec<_>>()
                            .join(":"),
                    ),
                    _ => {}
                }
            }
            out += &parts.join(",");
        }
    }
    // ipset prints packets before bytes whatever order they came in.
    let mut ordered = String::new();
    if let Some(t) = m.timeout() {
        ordered += &format!(" timeout {t}");
    }
    let packets = m.attrs.iter().find_map(|a| match a {
        ElementAttr::Packets(p) => Some(*p),
        _ => None,
    });
    let bytes = m.attrs.iter().find_map(|a| match a {
        ElementAttr::Bytes(p) => Some(*p),
        _ => None,
    });
    if let Some(p) = packets {
        ordered += &format!(" packets {p}");
    }
    if let Some(b) = bytes {
        ordered += &format!(" bytes {b}");
    }
    out += &ordered;
    for a in &m.attrs {
        match a {
            ElementAttr::Comment(c) => out += &format!(" comment \"{c}\""),
            ElementAttr::SkbMark { mark, mask } => {
                if *mask == 0xffff_ffff {
                    out += &format!(" skbmark 0x{mark:x}")
                } else {
                    out += &format!(" skbmark 0x{mark:x}/0x{mask:x}")
                }
            }
            ElementAttr::SkbPrio { major, minor } => {
                out += &format!(" skbprio {major:x}:{minor:x}")
            }
            ElementAttr::SkbQueue(q) => out += &format!(" skbqueue {q}"),
            _ => {}
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o += "\\\"",
            '\\' => o += "\\\\",
            c if (c as u32) < 0x20 => o += &format!("\\u{:04x}", c as u32),
            c => o.push(c),
        }
    }
    o + "\""
}

fn print_sets(sets: &[IpSet], opts: &Opts, protos: &Protocols, save: bool) -> String {
    let mut out = String::new();
    if opts.names {
        for s in sets {
            out += &format!("{}\n", s.name);
        }
        return out;
    }
    let mode = if save { "save" } else { opts.mode.as_str() };
    match mode {
        "save" => {
            for s in sets {
                out += &format!("create {} {} {}\n", s.name, s.set_type, header_line(s));
                for m in &s.members {
                    out += &format!("add {} {}\n", s.name, member_text(s, m, protos));
                }
            }
        }
        "json" => {
            out += "[\n";
            for (i, s) in sets.iter().enumerate() {
                let members: Vec<String> = s
                    .members
                    .iter()
                    .map(|m| json_str(&member_text(s, m, protos)))
                    .collect();
                out += &format!(
                    "  {{\"name\": {}, \"type\": {}, \"revision\": {}, \"header\": {}, \"size_in_memory\": {}, \"references\": {}, \"entries\": {}, \"members\": [{}]}}{}\n",
                    json_str(&s.name),
                    json_str(s.set_type.name()),
                    s.revision,
                    json_str(&header_line(s)),
                    s.counts.memsize.unwrap_or(0),
                    s.counts.references.unwrap_or(0),
                    s.counts.elements.unwrap_or(0),
                    members.join(", "),
                    if i + 1 < sets.len() { "," } else { "" }
                );
            }
            out += "]\n";
        }
        _ => {
            for (i, s) in sets.iter().enumerate() {
                if i > 0 {
                    out += "\n";
                }
                out += &format!(
                    "Name: {}\nType: {}\nRevision: {}\nHeader: {}\nSize in memory: {}\nReferences: {}\nNumber of entries: {}\n",
                    s.name,
                    s.set_type,
                    s.revision,
                    header_line(s),
                    s.counts.memsize.unwrap_or(0),
                    s.counts.references.unwrap_or(0),
                    s.counts.elements.unwrap_or(0)
                );
                if !opts.terse {
                    out += "Members:\n";
                    for m in &s.members {
                        out += &member_text(s, m, protos);
                        out += "\n";
                    }
                }
            }
        }
    }
    out
}

async fn run(args: Vec<String>) -> Result<String, Error> {
    let mut opts = Opts {
        exist: false,
        names: false,
        terse: false,
        mode: "plain".into(),
    };
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-exist" | "-!" => opts.exist = true,
            "-n" | "-name" => opts.names = true,
            "-t" | "-terse" => opts.terse = true,
            "-o" | "-output" => opts.mode = it.next().ok_or_else(|| fail("-o needs a mode"))?,
            _ => rest.push(a),
        }
    }
    if !matches!(opts.mode.as_str(), "plain" | "save" | "json") {
        return Err(fail(format!(
            "Syntax error: unknown output mode '{}'",
            opts.mode
        )));
    }
    let h = IpsetHandle::new()?;
    let protos = Protocols::load();
    let cmd = rest.first().cloned().unwrap_or_else(|| "list".into());
    let a = rest.get(1..).unwrap_or_default().to_vec();
    let need = |i: usize, what: &str| -> Result<String, Error> {
        a.get(i)
            .cloned()
            .ok_or_else(|| fail(format!("missing {what}")))
    };
    match cmd.as_str() {
        "create" | "-N" | "n" => {
            let spec = parse_create(&need(0, "set name")?, a.get(1..).unwrap_or_default())?;
            h.create(&spec, opts.exist).await?;
        }
        "destroy" | "x" | "-X" => h.destroy(a.first().map(String::as_str)).await?,
        "flush" | "-F" => h.flush(a.first().map(String::as_str)).await?,
        "rename" | "e" | "-E" => {
            h.rename(&need(0, "set name")?, &need(1, "new name")?)
                .await?
        }
        "swap" | "w" | "-W" => h.swap(&need(0, "set name")?, &need(1, "set name")?).await?,
        "list" | "-L" | "save" | "-S" => {
            let save = matches!(cmd.as_str(), "save" | "-S");
            let detail = if opts.names {
                ListDetail::Names
            } else if opts.terse {
                ListDetail::Headers
            } else {
                ListDetail::Full
            };
            let c = if save { Command::Save } else { Command::List };
            let sets = h
                .list_with(c, a.first().map(String::as_str), detail)
                .await?;
            return Ok(print_sets(&sets, &opts, &protos, save));
        }
        "add" | "-A" | "del" | "-D" | "test" | "-T" => {
            let set = need(0, "set name")?;
            let e = parse_element(
                &need(1, "element")?,
                a.get(2..).unwrap_or_default(),
                &protos,
            )?;
            match cmd.as_str() {
                "add" | "-A" => h.add(&set, &e, opts.exist).await?,
                "del" | "-D" => h.del(&set, &e, opts.exist).await?,
                _ => {
                    if h.test(&set, &e).await? {
                        eprintln!("Warning: {} is in set {set}.", a[1]);
                    } else {
                        return Err(fail(format!("{} is NOT in set {set}.", a[1])));
                    }
                }
            }
        }
        "restore" | "-R" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::io("read stdin", e))?;
            restore(&h, &text, opts.exist, &protos).await?;
        }
        other => return Err(fail(format!("unknown command {other}"))),
    }
    Ok(String::new())
}

/// Restores an `ipset save` file: creates in order, and the adds of each
/// set in bulk.
async fn restore(
    h: &IpsetHandle,
    text: &str,
    exist: bool,
    protos: &Protocols,
) -> Result<(), Error> {
    let mut pending: Vec<(String, Vec<IpPortEntry>, Vec<usize>)> = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let w = split_words(line);
        let Some(first) = w.first() else { continue };
        let lineno = no + 1;
        let at = |e: Error| fail(format!("Error in line {lineno}: {e}"));
        match first.as_str() {
            "create" | "-N" => {
                flush_adds(h, &mut pending, exist).await?;
                let name = w.get(1).ok_or_else(|| at(fail("missing set name")))?;
                let spec = parse_create(name, w.get(2..).unwrap_or_default()).map_err(at)?;
                h.create(&spec, exist).await.map_err(at)?;
            }
            "add" | "-A" => {
                let name = w.get(1).ok_or_else(|| at(fail("missing set name")))?;
                let el = w.get(2).ok_or_else(|| at(fail("missing element")))?;
                let e = parse_element(el, w.get(3..).unwrap_or_default(), protos).map_err(at)?;
                match pending.last_mut() {
                    Some((n, v, l)) if n == name => {
                        v.push(e);
                        l.push(lineno);
                    }
                    _ => pending.push((name.clone(), vec![e], vec![lineno])),
                }
            }
            "COMMIT" => {}
            c if c.starts_with('#') => {}
            other => return Err(at(fail(format!("unsupported restore command {other}")))),
        }
    }
    flush_adds(h, &mut pending, exist).await
}

async fn flush_adds(
    h: &IpsetHandle,
    pending: &mut Vec<(String, Vec<IpPortEntry>, Vec<usize>)>,
    exist: bool,
) -> Result<(), Error> {
    for (set, elems, lines) in pending.drain(..) {
        let r = h
            .add_many(
                &set,
                &elems,
                BulkOptions {
                    exist,
                    stop_on_error: true,
                    ..Default::default()
                },
            )
            .await?;
        if let Some((i, e)) = r.failures().first() {
            return Err(fail(format!("Error in line {}: {e}", lines[*i])));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ipset: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ipset: {e}");
            ExitCode::FAILURE
        }
    }
}
