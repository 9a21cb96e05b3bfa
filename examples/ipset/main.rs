//! A small `ipset` built on ipset-nl: create, destroy, flush, rename, swap,
//! list, save, restore, add, del, test, with `-exist`, `-n`/`-name`, `-t`
//! and `-o save|plain|json`. Its `list` and `save` output for hash:ip,port,
//! hash:ip, hash:net, hash:ip,port,ip, hash:ip,port,net and bitmap:port
//! sets is byte-identical to the real ipset 7.17's (see
//! `tests/ipset_example.rs`); `restore` reads `ipset save` files.
//!
//! Usage: `ipset [-exist] [-n] [-t] [-o MODE] COMMAND [ARGS...]`
//!
//! The parser lives in `cli.rs` (pure, never panics; fuzzable), this file
//! talks to the kernel and prints.

mod cli;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::ExitCode;

use cli::{AdtOp, Cmd, ICMP, ICMPV6, Mode, Opts, Protocols, RestoreLine};
use std::net::IpAddr;

use ipset_nl::{
    BulkOptions, Command, ElementAttr, Entry, Error, IpProto, IpSet, IpsetHandle, ListDetail,
    SetType, TypedEntry,
};

fn header_line(s: &IpSet) -> String {
    let o = &s.options;
    let mut h = format!("family {}", s.family);
    for a in &o.other {
        if let ipset_nl::CreateAttr::Size(n) = a {
            h = format!("size {n}");
        }
    }
    // bitmap:port: its range instead of a family.
    if let Some((from, to)) = o.port_range {
        h = format!("range {from}-{to}");
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

/// `proto:port` as ipset prints it: the protocol's /etc/protocols name,
/// ICMP and ICMPv6 type/code by name when ipset has one.
fn proto_port(proto: IpProto, port: u16, protos: &Protocols) -> String {
    let pnum = proto.to_u8();
    let pname = protos
        .by_num
        .get(&pnum)
        .cloned()
        .unwrap_or_else(|| pnum.to_string());
    let port = if proto.is_icmp() {
        let (t, c) = ((port >> 8) as u8, port as u8);
        let table = if proto == IpProto::Icmp { ICMP } else { ICMPV6 };
        table
            .iter()
            .find(|(_, tt, cc)| *tt == t && *cc == c)
            .map(|(n, _, _)| n.to_string())
            .unwrap_or_else(|| format!("{t}/{c}"))
    } else {
        port.to_string()
    };
    format!("{pname}:{port}")
}

/// A network as ipset prints it: no prefix length for a single host.
fn net(ip: IpAddr, cidr: u8) -> String {
    let full = if ip.is_ipv4() { 32 } else { 128 };
    if cidr == full {
        ip.to_string()
    } else {
        format!("{ip}/{cidr}")
    }
}

/// The element part of a member (before its options), typed for the types
/// ipset-nl models.
fn element_text(s: &IpSet, m: &Entry, protos: &Protocols) -> Option<String> {
    let e = m.typed::<TypedEntry>(&s.set_type).ok()?;
    Some(match e {
        TypedEntry::IpPort(e) => format!("{},{}", e.ip, proto_port(e.proto, e.port, protos)),
        TypedEntry::IpPortIp(e) => {
            format!("{},{},{}", e.ip, proto_port(e.proto, e.port, protos), e.ip2)
        }
        TypedEntry::IpPortNet(e) => format!(
            "{},{},{}",
            e.ip,
            proto_port(e.proto, e.port, protos),
            net(e.ip2, e.cidr2)
        ),
        TypedEntry::Ip(e) => e.ip.to_string(),
        TypedEntry::Net(e) => net(e.ip, e.cidr),
        TypedEntry::Port(e) => e.port.to_string(),
        // A type a newer ipset-nl models (`TypedEntry` is non_exhaustive):
        // printed from its attributes like any other type.
        _ => return None,
    })
}

fn member_text(s: &IpSet, m: &Entry, protos: &Protocols) -> String {
    let mut out = String::new();
    match element_text(s, m, protos) {
        Some(text) => out += &text,
        None => {
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
    // The net types' exceptions: right after the timeout.
    if m.attrs
        .iter()
        .any(|a| matches!(a, ElementAttr::CadtFlags(f) if f.contains(ipset_nl::CadtFlags::NOMATCH)))
    {
        ordered += " nomatch";
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
    let mode = if save { Mode::Save } else { opts.mode };
    match mode {
        Mode::Save => {
            for s in sets {
                out += &format!("create {} {} {}\n", s.name, s.set_type, header_line(s));
                for m in &s.members {
                    out += &format!("add {} {}\n", s.name, member_text(s, m, protos));
                }
            }
        }
        Mode::Json => {
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
        Mode::Plain => {
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
    let protos = Protocols::load();
    let inv = cli::parse_args(&args, &protos)?;
    let opts = inv.opts;
    let h = IpsetHandle::new()?;
    match inv.cmd {
        Cmd::Create(spec) => h.create(&spec, opts.exist).await?,
        Cmd::Destroy(_) | Cmd::Flush(_) | Cmd::Rename(..) | Cmd::Swap(..) => {
            set_command(&h, &inv.cmd).await?
        }
        Cmd::List { save, set } => {
            let detail = if opts.names {
                ListDetail::Names
            } else if opts.terse {
                ListDetail::Headers
            } else {
                ListDetail::Full
            };
            let c = if save { Command::Save } else { Command::List };
            let sets = h.list_with(c, set.as_deref(), detail).await?;
            return Ok(print_sets(&sets, &opts, &protos, save));
        }
        Cmd::Adt {
            op,
            set,
            text,
            args,
        } => {
            let set_type = h.header(&set).await?.set_type;
            let elem = cli::parse_member(&set_type, &text, &args, &protos)?;
            match op {
                AdtOp::Add => h.add(&set, &elem, opts.exist).await?,
                AdtOp::Del => h.del(&set, &elem, opts.exist).await?,
                AdtOp::Test => {
                    if h.test(&set, &elem).await? {
                        eprintln!("Warning: {text} is in set {set}.");
                    } else {
                        return Err(cli::fail(format!("{text} is NOT in set {set}.")));
                    }
                }
            }
        }
        Cmd::Restore => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::io("read stdin", e))?;
            restore(&h, &text, opts.exist, &protos).await?;
        }
    }
    Ok(String::new())
}

/// `destroy`, `flush`, `rename` and `swap`, from the command line or a
/// restore file.
async fn set_command(h: &IpsetHandle, cmd: &Cmd) -> Result<(), Error> {
    match cmd {
        Cmd::Destroy(name) => h.destroy(name.as_deref()).await,
        Cmd::Flush(name) => h.flush(name.as_deref()).await,
        Cmd::Rename(from, to) => h.rename(from, to).await,
        Cmd::Swap(a, b) => h.swap(a, b).await,
        _ => Err(cli::fail("not a set command")),
    }
}

/// Consecutive adds (or deletes) of one set in a restore: sent in bulk,
/// each element with its line number.
struct Pending {
    op: AdtOp,
    set: String,
    elems: Vec<TypedEntry>,
    lines: Vec<usize>,
}

/// Restores an `ipset save` file, or any file of `create`, `add`, `del`,
/// `destroy`, `flush`, `rename` and `swap` lines: each line in order, with
/// the adds (and deletes) of one set in a row sent in bulk.
async fn restore(
    h: &IpsetHandle,
    text: &str,
    exist: bool,
    protos: &Protocols,
) -> Result<(), Error> {
    let mut pending: Option<Pending> = None;
    // The type of each set the file creates (others: asked of the kernel).
    let mut types: HashMap<String, SetType> = HashMap::new();
    for (no, line) in text.lines().enumerate() {
        let lineno = no + 1;
        let at = |e: Error| cli::fail(format!("Error in line {lineno}: {e}"));
        // The elements before another command are sent before it (even
        // when its line turns out malformed).
        let first = cli::split_words(line).into_iter().next();
        let command = first.as_deref().is_some_and(|w| {
            !matches!(w, "add" | "-A" | "del" | "-D" | "COMMIT") && !w.starts_with('#')
        });
        if command {
            flush_pending(h, &mut pending, exist).await?;
        }
        let (op, set, text, args) = match cli::parse_restore_line(line, protos).map_err(at)? {
            RestoreLine::Create(spec) => {
                h.create(&spec, exist).await.map_err(at)?;
                types.insert(spec.name.clone(), spec.set_type.clone());
                continue;
            }
            RestoreLine::Adt {
                op,
                set,
                text,
                args,
            } => (op, set, text, args),
            RestoreLine::Command(cmd) => {
                set_command(h, &cmd).await.map_err(at)?;
                follow(&mut types, &cmd);
                continue;
            }
            RestoreLine::Nothing => continue,
        };
        let set_type = match types.get(&set) {
            Some(t) => t.clone(),
            None => {
                let t = h.header(&set).await.map_err(at)?.set_type;
                types.insert(set.clone(), t.clone());
                t
            }
        };
        let elem = cli::parse_member(&set_type, &text, &args, protos).map_err(at)?;
        match pending.as_mut() {
            Some(p) if p.op == op && p.set == set => {
                p.elems.push(elem);
                p.lines.push(lineno);
            }
            _ => {
                flush_pending(h, &mut pending, exist).await?;
                pending = Some(Pending {
                    op,
                    set,
                    elems: vec![elem],
                    lines: vec![lineno],
                });
            }
        }
    }
    flush_pending(h, &mut pending, exist).await
}

/// The set types known by name after `cmd` ran.
fn follow(types: &mut HashMap<String, SetType>, cmd: &Cmd) {
    match cmd {
        Cmd::Destroy(None) => types.clear(),
        Cmd::Destroy(Some(name)) => {
            types.remove(name);
        }
        Cmd::Rename(from, to) => {
            if let Some(t) = types.remove(from) {
                types.insert(to.clone(), t);
            }
        }
        Cmd::Swap(a, b) => {
            let (ta, tb) = (types.remove(a), types.remove(b));
            if let Some(t) = ta {
                types.insert(b.clone(), t);
            }
            if let Some(t) = tb {
                types.insert(a.clone(), t);
            }
        }
        _ => {}
    }
}

async fn flush_pending(
    h: &IpsetHandle,
    pending: &mut Option<Pending>,
    exist: bool,
) -> Result<(), Error> {
    let Some(p) = pending.take() else {
        return Ok(());
    };
    let options = BulkOptions::new().exist(exist).stop_on_error(true);
    let r = match p.op {
        AdtOp::Del => h.del_many(&p.set, &p.elems, options).await?,
        _ => h.add_many(&p.set, &p.elems, options).await?,
    };
    if let Some((i, e)) = r.failures().first() {
        let line = p.lines.get(*i).copied().unwrap_or_default();
        return Err(cli::fail(format!("Error in line {line}: {e}")));
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
