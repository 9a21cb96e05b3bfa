//! `Display` of the model types, in the `ipset` tool's syntax: a set as
//! `ipset save` writes it (`create` line, then `add` lines), an element as
//! its `add` arguments, creation options as the `Header:` of `ipset list`.
//!
//! Kept apart from the types' modules so that their files stay as they are.

use std::fmt;

use crate::attr::{CreateAttr, ElementAttr};
use crate::bulk::{BulkReport, Outcome};
use crate::entry::Entry;
use crate::index::SetIndex;
use crate::set::{
    CreateOptions, CreateSet, IpSet, ProtocolVersion, SetCounts, SetHeader, TypeRevisions,
};
use crate::types::{CadtFlags, Family, IpProto};

/// The `range` of a bitmap set, or the `size` of a list:set, which `ipset`
/// shows instead of the family.
fn range_or_size(o: &CreateOptions) -> Option<String> {
    let mut ip = None;
    let mut ip_to = None;
    let mut cidr = None;
    let mut port = None;
    let mut port_to = None;
    for a in &o.other {
        match a {
            CreateAttr::Size(n) => return Some(format!("size {n}")),
            CreateAttr::Ip(a) => ip = Some(*a),
            CreateAttr::IpTo(a) => ip_to = Some(*a),
            CreateAttr::Cidr(c) => cidr = Some(*c),
            CreateAttr::Port(p) => port = Some(*p),
            CreateAttr::PortTo(p) => port_to = Some(*p),
            _ => {}
        }
    }
    match (ip, ip_to, cidr, port, port_to) {
        (Some(a), Some(b), _, _, _) => Some(format!("range {a}-{b}")),
        (Some(a), None, Some(c), _, _) => Some(format!("range {a}/{c}")),
        (_, _, _, Some(p), Some(q)) => Some(format!("range {p}-{q}")),
        _ => None,
    }
}

impl fmt::Display for CreateOptions {
    /// The creation options as `ipset list` shows them after the family
    /// (`hashsize 1024 maxelem 65536 timeout 600 counters comment`), a
    /// bitmap's `range` or a list:set's `size` first. `forceadd` is shown
    /// too (`ipset` 7.17's listings leave it out, its `create` takes it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = Vec::new();
        words.extend(range_or_size(self));
        if let Some(x) = self.hashsize {
            words.push(format!("hashsize {x}"));
        }
        if let Some(x) = self.maxelem {
            words.push(format!("maxelem {x}"));
        }
        if let Some(x) = self.netmask {
            words.push(format!("netmask {x}"));
        }
        for a in &self.other {
            if let CreateAttr::MarkMask(m) = a {
                words.push(format!("markmask 0x{m:08x}"));
            }
        }
        if let Some(t) = self.timeout {
            words.push(format!("timeout {t}"));
        }
        words.extend(cadt_words(self.flags).into_iter().map(str::to_string));
        if let Some(x) = self.bucketsize {
            words.push(format!("bucketsize {x}"));
        }
        if let Some(x) = self.initval {
            words.push(format!("initval 0x{x:08x}"));
        }
        f.write_str(&words.join(" "))
    }
}

/// The creation words of the extension flags, in `ipset`'s order.
fn cadt_words(flags: CadtFlags) -> Vec<&'static str> {
    [
        (CadtFlags::WITH_COUNTERS, "counters"),
        (CadtFlags::WITH_COMMENT, "comment"),
        (CadtFlags::WITH_SKBINFO, "skbinfo"),
        (CadtFlags::WITH_FORCEADD, "forceadd"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags.contains(*bit))
    .map(|(_, w)| w)
    .collect()
}

impl fmt::Display for CadtFlags {
    /// The flags by their `ipset` words (`counters`, `comment`, `skbinfo`,
    /// `forceadd`, `nomatch`, `before`, `physdev`, `wildcard`; unknown bits
    /// in hex), space-separated; empty when none is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = cadt_words(*self).into_iter().map(str::to_string).collect();
        let more = [
            (CadtFlags::NOMATCH, "nomatch"),
            (CadtFlags::BEFORE, "before"),
            (CadtFlags::PHYSDEV, "physdev"),
            (CadtFlags::IFACE_WILDCARD, "wildcard"),
        ];
        for (bit, w) in more {
            if self.contains(bit) {
                words.push(w.to_string());
            }
        }
        let known = CadtFlags::WITH_COUNTERS
            | CadtFlags::WITH_COMMENT
            | CadtFlags::WITH_SKBINFO
            | CadtFlags::WITH_FORCEADD
            | CadtFlags::NOMATCH
            | CadtFlags::BEFORE
            | CadtFlags::PHYSDEV
            | CadtFlags::IFACE_WILDCARD;
        let rest = self.bits() & !known.bits();
        if rest != 0 {
            words.push(format!("{rest:#x}"));
        }
        f.write_str(&words.join(" "))
    }
}

/// The header of `ipset list` / the tail of `ipset save`'s `create` line:
/// the family (unless a range or size stands for it), then the options.
fn header(f: &mut fmt::Formatter<'_>, family: Family, o: &CreateOptions) -> fmt::Result {
    let opts = o.to_string();
    if range_or_size(o).is_none() {
        write!(f, "family {family}")?;
        if !opts.is_empty() {
            f.write_str(" ")?;
        }
    }
    f.write_str(&opts)
}

impl fmt::Display for CreateSet {
    /// The `ipset` command that creates it: `create svc hash:ip,port family
    /// inet timeout 600 counters` (the revision is the kernel's choice and
    /// not shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "create {} {} ", self.name, self.set_type)?;
        header(f, self.family, &self.options)
    }
}

impl fmt::Display for Entry {
    /// The element as `ipset save` writes it after `add NAME`:
    /// `10.0.0.1,tcp:80 timeout 30 packets 0 bytes 0 comment "web"`
    /// (its parts in `ipset`'s order: address or network, protocol and
    /// port, second address, mark, MAC address, interface, set name; ICMP
    /// as `icmp:TYPE/CODE`; a host's prefix length left out; then
    /// `nomatch` and the extensions).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ip = String::new();
        let mut port: Option<u16> = None;
        let mut port_to: Option<u16> = None;
        let mut ip2 = String::new();
        // A prefix is shown unless it is a host's (as `ipset` does).
        let host_len = |a: &std::net::IpAddr| if a.is_ipv4() { 32 } else { 128 };
        let (mut cidr, mut cidr2, mut host, mut host2) = (None, None, 32, 32);
        let mut rest: Vec<String> = Vec::new();
        let mut proto = None;
        let mut flags = CadtFlags::empty();
        let (mut timeout, mut packets, mut bytes) = (None, None, None);
        let mut ext: Vec<String> = Vec::new();
        for a in &self.attrs {
            match a {
                ElementAttr::Ip(a) => {
                    ip.insert_str(0, &a.to_string());
                    host = host_len(a);
                }
                ElementAttr::IpTo(a) => ip.push_str(&format!("-{a}")),
                ElementAttr::Cidr(c) => cidr = Some(*c),
                ElementAttr::Ip2(a) => {
                    ip2.insert_str(0, &a.to_string());
                    host2 = host_len(a);
                }
                ElementAttr::Ip2To(a) => ip2.push_str(&format!("-{a}")),
                ElementAttr::Cidr2(c) => cidr2 = Some(*c),
                ElementAttr::Port(p) => port = Some(*p),
                ElementAttr::PortTo(p) => port_to = Some(*p),
                ElementAttr::Proto(p) => proto = Some(IpProto::from(*p)),
                ElementAttr::Mark(m) => rest.push(format!("0x{m:08x}")),
                ElementAttr::Ether(e) => rest.push(
                    e.iter()
                        .map(|b| format!("{b:02X}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                ),
                ElementAttr::Iface(n) | ElementAttr::Name(n) => rest.push(n.clone()),
                ElementAttr::CadtFlags(c) => flags = *c,
                ElementAttr::Timeout(t) => timeout = Some(*t),
                ElementAttr::Packets(p) => packets = Some(*p),
                ElementAttr::Bytes(b) => bytes = Some(*b),
                ElementAttr::Comment(c) => ext.push(format!("comment \"{c}\"")),
                ElementAttr::SkbMark { mark, mask } if *mask == u32::MAX => {
                    ext.push(format!("skbmark 0x{mark:x}"))
                }
                ElementAttr::SkbMark { mark, mask } => {
                    ext.push(format!("skbmark 0x{mark:x}/0x{mask:x}"))
                }
                ElementAttr::SkbPrio { major, minor } => {
                    ext.push(format!("skbprio {major:x}:{minor:x}"))
                }
                ElementAttr::SkbQueue(q) => ext.push(format!("skbqueue {q}")),
                _ => {}
            }
        }
        if let Some(c) = cidr.filter(|&c| c != host) {
            ip.push_str(&format!("/{c}"));
        }
        if let Some(c) = cidr2.filter(|&c| c != host2) {
            ip2.push_str(&format!("/{c}"));
        }
        let mut port = match port {
            None => String::new(),
            Some(n) => match proto {
                Some(p @ (IpProto::Icmp | IpProto::IcmpV6)) => {
                    let [t, c] = n.to_be_bytes();
                    format!("{p}:{t}/{c}")
                }
                Some(p) => format!("{p}:{n}"),
                None => n.to_string(),
            },
        };
        if let Some(to) = port_to {
            port.push_str(&format!("-{to}"));
        }
        let parts: Vec<&str> = [ip.as_str(), port.as_str(), ip2.as_str()]
            .into_iter()
            .chain(rest.iter().map(String::as_str))
            .filter(|s| !s.is_empty())
            .collect();
        f.write_str(&parts.join(","))?;
        if flags.contains(CadtFlags::NOMATCH) {
            f.write_str(" nomatch")?;
        }
        if let Some(t) = timeout {
            write!(f, " timeout {t}")?;
        }
        if let Some(p) = packets {
            write!(f, " packets {p}")?;
        }
        if let Some(b) = bytes {
            write!(f, " bytes {b}")?;
        }
        for e in ext {
            write!(f, " {e}")?;
        }
        Ok(())
    }
}

impl fmt::Display for IpSet {
    /// The set as `ipset save` writes it: its `create` line, then one `add`
    /// line per member (lines separated by `\n`, no newline at the end).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "create {} {} ", self.name, self.set_type)?;
        header(f, self.family, &self.options)?;
        for m in &self.members {
            write!(f, "\nadd {} {m}", self.name)?;
        }
        Ok(())
    }
}

impl fmt::Display for SetHeader {
    /// `Name: svc Type: hash:ip,port Revision: 6 Family: inet` (the fields
    /// of `ipset list`'s header, on one line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Name: {} Type: {} Revision: {} Family: {}",
            self.name, self.set_type, self.revision, self.family
        )
    }
}

impl fmt::Display for SetCounts {
    /// As `ipset list` shows them, on one line: `Size in memory: 512
    /// References: 0 Number of entries: 1` (0 for what the kernel did not
    /// say).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Size in memory: {} References: {} Number of entries: {}",
            self.memsize.unwrap_or(0),
            self.references.unwrap_or(0),
            self.elements.unwrap_or(0)
        )
    }
}

impl fmt::Display for ProtocolVersion {
    /// `protocol 7` or `protocol 7 (min 6)`, as `ipset version` names it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol {}", self.version)?;
        if let Some(m) = self.min {
            write!(f, " (min {m})")?;
        }
        Ok(())
    }
}

impl fmt::Display for TypeRevisions {
    /// `revisions 0-7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revisions {}-{}", self.min, self.max)
    }
}

impl fmt::Display for SetIndex {
    /// `index 3` or `index 3 family inet`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {}", self.index)?;
        if let Some(fam) = self.family {
            write!(f, " family {fam}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Display> fmt::Display for Outcome<E> {
    /// `applied`, `not attempted`, or `failed: ` and the error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Applied => f.write_str("applied"),
            Outcome::NotAttempted => f.write_str("not attempted"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

impl fmt::Display for BulkReport {
    /// `2 of 3 elements applied, 1 failed, 0 not attempted (1 message, 1
    /// datagram)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} elements applied, {} failed, {} not attempted ({} messages, {} datagrams)",
            self.applied(),
            self.len(),
            self.failures().len(),
            self.not_attempted_count(),
            self.messages,
            self.datagrams
        )
    }
}
