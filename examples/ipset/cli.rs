//! The command-line and restore-file parser of the `ipset` example.
//!
//! Pure parsing: no system calls (except [`Protocols::load`], which reads
//! `/etc/protocols`), no kernel, and never a panic — every malformed input
//! is an [`Error`]. It depends only on `std` and `ipset_nl`, so a fuzz
//! target or a test can include it with
//! `#[path = ".../examples/ipset/cli.rs"] mod cli;`.

use std::collections::HashMap;
use std::net::IpAddr;

use ipset_nl::{
    CreateSet, Error, Family, IpEntry, IpPortEntry, IpPortIpEntry, IpPortNetEntry, IpProto,
    NetEntry, PortEntry, SetType, TypedEntry,
};

/// ICMP type/code names as ipset prints them (ipset's lib/icmp.c).
pub const ICMP: &[(&str, u8, u8)] = &[
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
pub const ICMPV6: &[(&str, u8, u8)] = &[
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
#[derive(Debug, Default)]
pub struct Protocols {
    /// Number to its first name.
    pub by_num: HashMap<u8, String>,
    /// Names and aliases to number.
    pub by_name: HashMap<String, u8>,
}

impl Protocols {
    /// Reads `/etc/protocols` (empty tables when it cannot be read).
    pub fn load() -> Self {
        Self::parse(&std::fs::read_to_string("/etc/protocols").unwrap_or_default())
    }

    /// Parses the text of an `/etc/protocols` file.
    pub fn parse(text: &str) -> Self {
        let mut p = Protocols::default();
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

/// `-o`: how sets are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `plain` (the default).
    Plain,
    /// `save`: the restore format.
    Save,
    /// `json` (the real tool has none).
    Json,
}

/// The global options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    /// `-exist` / `-!`.
    pub exist: bool,
    /// `-n` / `-name`.
    pub names: bool,
    /// `-t` / `-terse`.
    pub terse: bool,
    /// `-o` / `-output`.
    pub mode: Mode,
}

/// Which element command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdtOp {
    /// `add`.
    Add,
    /// `del`.
    Del,
    /// `test`.
    Test,
}

/// A parsed command.
#[derive(Debug)]
pub enum Cmd {
    /// `create NAME TYPE [OPTIONS]`.
    Create(CreateSet),
    /// `destroy [NAME]`.
    Destroy(Option<String>),
    /// `flush [NAME]`.
    Flush(Option<String>),
    /// `rename FROM TO`.
    Rename(String, String),
    /// `swap A B`.
    Swap(String, String),
    /// `list [NAME]` (`save` false) or `save [NAME]` (`save` true).
    List {
        /// `save` rather than `list`.
        save: bool,
        /// One set, or all.
        set: Option<String>,
    },
    /// `add|del|test SET ELEMENT [OPTIONS]` (the element is read with
    /// [`parse_member`] once the set's type is known).
    Adt {
        /// Which command.
        op: AdtOp,
        /// The set.
        set: String,
        /// The element as written on the command line.
        text: String,
        /// The element's options.
        args: Vec<String>,
    },
    /// `restore` (the file comes on standard input).
    Restore,
}

/// A whole command line.
#[derive(Debug)]
pub struct Invocation {
    /// Global options.
    pub opts: Opts,
    /// The command (`list` when none was given).
    pub cmd: Cmd,
}

/// One line of a restore file.
#[derive(Debug)]
pub enum RestoreLine {
    /// `create NAME TYPE [OPTIONS]`.
    Create(CreateSet),
    /// `add SET ELEMENT [OPTIONS]` or `del SET ELEMENT [OPTIONS]` (the
    /// element read with [`parse_member`] once the set's type is known).
    Adt {
        /// `Add` or `Del`.
        op: AdtOp,
        /// The set.
        set: String,
        /// The element.
        text: String,
        /// The element's options.
        args: Vec<String>,
    },
    /// `destroy`, `flush`, `rename` or `swap`, as on the command line.
    Command(Cmd),
    /// Blank, comment or `COMMIT`.
    Nothing,
}

/// A command-line error.
pub fn fail(msg: impl Into<String>) -> Error {
    Error::invalid_input("command line", msg.into())
}

/// Splits a line like a shell would for ipset: words, "double quotes".
pub fn split_words(line: &str) -> Vec<String> {
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

/// A number, decimal or `0x` hexadecimal.
pub fn num<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T, Error> {
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

fn next<'a>(it: &mut impl Iterator<Item = &'a String>) -> Option<&'a str> {
    it.next().map(String::as_str)
}

/// `create NAME TYPE [OPTIONS]`: `args` starts at the type.
pub fn parse_create(name: &str, args: &[String]) -> Result<CreateSet, Error> {
    let (ty, opts) = args
        .split_first()
        .ok_or_else(|| fail("create needs a type"))?;
    let mut spec = CreateSet::new(name, SetType::from(ty.as_str()));
    let mut it = opts.iter();
    while let Some(a) = it.next() {
        let o = &mut spec.options;
        match a.as_str() {
            "family" => {
                spec.family = next(&mut it)
                    .ok_or_else(|| fail("family needs a value"))?
                    .parse()?
            }
            "-4" => spec.family = Family::Inet,
            "-6" => spec.family = Family::Inet6,
            "hashsize" => o.hashsize = Some(num(next(&mut it), a)?),
            "maxelem" => o.maxelem = Some(num(next(&mut it), a)?),
            "timeout" => o.timeout = Some(ipset_nl::Timeout(num(next(&mut it), a)?)),
            "bucketsize" => o.bucketsize = Some(num(next(&mut it), a)?),
            "initval" => o.initval = Some(num(next(&mut it), a)?),
            "netmask" => o.netmask = Some(num(next(&mut it), a)?),
            "range" => {
                let v = next(&mut it).ok_or_else(|| fail("range needs a value"))?;
                let (x, y) = v.split_once('-').ok_or_else(|| fail("range is FROM-TO"))?;
                o.port_range = Some((num(Some(x), a)?, num(Some(y), a)?));
                spec.family = Family::Unspec;
            }
            "counters" => *o = std::mem::take(o).counters(),
            "comment" => *o = std::mem::take(o).comment(),
            "skbinfo" => *o = std::mem::take(o).skbinfo(),
            "forceadd" => *o = std::mem::take(o).forceadd(),
            other => return Err(fail(format!("unsupported create option {other:?}"))),
        }
    }
    Ok(spec)
}

/// An ICMP or ICMPv6 `TYPE/CODE` or name, as `type << 8 | code`.
pub fn parse_icmp(s: &str, table: &[(&str, u8, u8)]) -> Result<u16, Error> {
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

/// A hash:ip,port element `IP[/CIDR|-IP],[PROTO:]PORT[-PORT]` and its
/// options (`timeout`, `packets`, `bytes`, `comment`, `skbmark`,
/// `skbprio`, `skbqueue`).
pub fn parse_element(
    spec: &str,
    args: &[String],
    protos: &Protocols,
) -> Result<IpPortEntry, Error> {
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
            "timeout" => e = e.timeout(num(next(&mut it), a)?),
            "packets" => e.packets = Some(num(next(&mut it), a)?),
            "bytes" => e.bytes = Some(num(next(&mut it), a)?),
            "comment" => e = e.comment(next(&mut it).unwrap_or_default()),
            "skbmark" => {
                let v = next(&mut it).ok_or_else(|| fail("skbmark needs a value"))?;
                let (m, k) = v.split_once('/').unwrap_or((v, "0xffffffff"));
                e = e.skbmark(num(Some(m), a)?, num(Some(k), a)?);
            }
            "skbprio" => {
                let v = next(&mut it).ok_or_else(|| fail("skbprio needs a value"))?;
                let (x, y) = v
                    .split_once(':')
                    .ok_or_else(|| fail("skbprio is MAJOR:MINOR"))?;
                let x = u16::from_str_radix(x, 16).map_err(|_| fail("bad skbprio"))?;
                let y = u16::from_str_radix(y, 16).map_err(|_| fail("bad skbprio"))?;
                e = e.skbprio(x, y);
            }
            "skbqueue" => e = e.skbqueue(num(next(&mut it), a)?),
            other => return Err(fail(format!("unsupported element option {other:?}"))),
        }
    }
    e.validate()?;
    Ok(e)
}

/// A whole command line (without the program name): global options
/// anywhere, then the command and its arguments.
pub fn parse_args(args: &[String], _protos: &Protocols) -> Result<Invocation, Error> {
    let mut opts = Opts {
        exist: false,
        names: false,
        terse: false,
        mode: Mode::Plain,
    };
    let mut rest: Vec<&String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-exist" | "-!" => opts.exist = true,
            "-n" | "-name" => opts.names = true,
            "-t" | "-terse" => opts.terse = true,
            "-o" | "-output" => {
                opts.mode = match next(&mut it).ok_or_else(|| fail("-o needs a mode"))? {
                    "plain" => Mode::Plain,
                    "save" => Mode::Save,
                    "json" => Mode::Json,
                    other => {
                        return Err(fail(format!("Syntax error: unknown output mode '{other}'")));
                    }
                }
            }
            _ => rest.push(a),
        }
    }
    let (cmd, a) = match rest.split_first() {
        Some((c, a)) => (c.as_str(), a),
        None => ("list", &[][..]),
    };
    let need = |i: usize, what: &str| -> Result<String, Error> {
        a.get(i)
            .map(|s| s.to_string())
            .ok_or_else(|| fail(format!("missing {what}")))
    };
    let owned = |from: usize| -> Vec<String> {
        a.get(from..)
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let first = a.first().map(|s| s.to_string());
    let cmd = match cmd {
        "create" | "-N" | "n" => Cmd::Create(parse_create(&need(0, "set name")?, &owned(1))?),
        "destroy" | "x" | "-X" => Cmd::Destroy(first),
        "flush" | "-F" => Cmd::Flush(first),
        "rename" | "e" | "-E" => Cmd::Rename(need(0, "set name")?, need(1, "new name")?),
        "swap" | "w" | "-W" => Cmd::Swap(need(0, "set name")?, need(1, "set name")?),
        "list" | "-L" => Cmd::List {
            save: false,
            set: first,
        },
        "save" | "-S" => Cmd::List {
            save: true,
            set: first,
        },
        "add" | "-A" | "del" | "-D" | "test" | "-T" => {
            let op = match cmd {
                "add" | "-A" => AdtOp::Add,
                "del" | "-D" => AdtOp::Del,
                _ => AdtOp::Test,
            };
            let set = need(0, "set name")?;
            let text = need(1, "element")?;
            Cmd::Adt {
                op,
                set,
                text,
                args: owned(2),
            }
        }
        "restore" | "-R" => Cmd::Restore,
        other => return Err(fail(format!("unknown command {other}"))),
    };
    Ok(Invocation { opts, cmd })
}

/// One line of an `ipset save` file (errors without the line number).
pub fn parse_restore_line(line: &str, protos: &Protocols) -> Result<RestoreLine, Error> {
    let w = split_words(line);
    let Some(first) = w.first() else {
        return Ok(RestoreLine::Nothing);
    };
    let at = |i: usize| w.get(i..).unwrap_or_default();
    match first.as_str() {
        "create" | "-N" => {
            let name = w.get(1).ok_or_else(|| fail("missing set name"))?;
            Ok(RestoreLine::Create(parse_create(name, at(2))?))
        }
        op @ ("add" | "-A" | "del" | "-D") => {
            let set = w.get(1).ok_or_else(|| fail("missing set name"))?.clone();
            let text = w.get(2).ok_or_else(|| fail("missing element"))?.clone();
            Ok(RestoreLine::Adt {
                op: if matches!(op, "add" | "-A") {
                    AdtOp::Add
                } else {
                    AdtOp::Del
                },
                set,
                text,
                args: at(3).to_vec(),
            })
        }
        "COMMIT" => Ok(RestoreLine::Nothing),
        c if c.starts_with('#') => Ok(RestoreLine::Nothing),
        // The set commands, read by the command line's parser (as the
        // real tool reads restore lines by its own).
        _ => match parse_args(&w, protos)?.cmd {
            c @ (Cmd::Destroy(_) | Cmd::Flush(_) | Cmd::Rename(..) | Cmd::Swap(..)) => {
                Ok(RestoreLine::Command(c))
            }
            _ => Err(fail(format!("unsupported restore command {first}"))),
        },
    }
}

/// The options of a member as one `ipset save` text: the word splitter
/// took the quotes off the comment, they are put back.
fn options_quoted(args: &[String]) -> String {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        out.push(a.clone());
        if a == "comment" {
            let c = it.next().cloned().unwrap_or_default();
            out.push(format!("\"{c}\""));
        }
    }
    out.join(" ")
}

/// A member of a set of type `set_type`: `text` is the element
/// (`IP[/CIDR|-IP],[PROTO:]PORT[-PORT],...` as the type has it), `args`
/// its options (`timeout`, `nomatch`, `packets`, `bytes`, `comment`,
/// `skbmark`, `skbprio`, `skbqueue`).
pub fn parse_member(
    set_type: &SetType,
    text: &str,
    args: &[String],
    protos: &Protocols,
) -> Result<TypedEntry, Error> {
    let opts = options_quoted(args);
    let (ext, nomatch) = ipset_nl::parse_extensions(&opts)?;
    let no_nomatch = || {
        if nomatch {
            Err(fail("nomatch belongs to the net types"))
        } else {
            Ok(())
        }
    };
    // `IP...,PROTO:PORT` of the types with a port, read as hash:ip,port.
    let ip_port = |head: &str| parse_element(head, &[], protos);
    let split3 = |t: &str| -> Result<(String, String), Error> {
        let (a, rest) = t
            .split_once(',')
            .ok_or_else(|| fail(format!("Syntax error: Second element is missing from {t}.")))?;
        let (b, c) = rest
            .split_once(',')
            .ok_or_else(|| fail(format!("Syntax error: Third element is missing from {t}.")))?;
        Ok((format!("{a},{b}"), c.to_string()))
    };
    Ok(match set_type {
        SetType::HashIpPort => {
            no_nomatch()?;
            TypedEntry::IpPort(parse_element(text, args, protos)?)
        }
        SetType::HashIpPortIp => {
            no_nomatch()?;
            let (head, third) = split3(text)?;
            let e = ip_port(&head)?;
            let ip2: IpAddr = third
                .parse()
                .map_err(|_| fail(format!("Syntax error: cannot parse {third}")))?;
            let mut t = IpPortIpEntry::new(e.ip, e.proto, e.port, ip2);
            (t.ip_to, t.cidr, t.port_to, t.ext) = (e.ip_to, e.cidr, e.port_to, ext);
            TypedEntry::IpPortIp(t)
        }
        SetType::HashIpPortNet => {
            let (head, third) = split3(text)?;
            let e = ip_port(&head)?;
            let n: NetEntry = third.parse()?;
            let mut t = IpPortNetEntry::new(e.ip, e.proto, e.port, n.ip, n.cidr);
            (t.ip_to, t.cidr, t.port_to, t.ip2_to) = (e.ip_to, e.cidr, e.port_to, n.ip_to);
            (t.nomatch, t.ext) = (nomatch, ext);
            TypedEntry::IpPortNet(t)
        }
        SetType::HashIp => {
            no_nomatch()?;
            let mut e: IpEntry = text.parse()?;
            e.ext = ext;
            TypedEntry::Ip(e)
        }
        SetType::HashNet => {
            let mut e: NetEntry = text.parse()?;
            (e.nomatch, e.ext) = (nomatch, ext);
            TypedEntry::Net(e)
        }
        SetType::BitmapPort => {
            no_nomatch()?;
            // ipset also takes `proto:port` here (tcp and udp only).
            let port = match text.split_once(':') {
                Some(("tcp" | "udp", port)) => port,
                _ => text,
            };
            let mut e: PortEntry = port.parse()?;
            e.ext = ext;
            TypedEntry::Port(e)
        }
        other => return Err(fail(format!("members of {other} sets are not supported"))),
    })
}
