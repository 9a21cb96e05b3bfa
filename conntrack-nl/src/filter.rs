//! [`Filter`]: which entries a filtered dump or bulk delete selects, and
//! the kernel-side dump filter (`CTA_FILTER`, `CTA_MARK`/`CTA_MARK_MASK`)
//! it becomes.

use std::fmt;
use std::net::IpAddr;

use nl_engine::{Error, Result, wire};

use crate::attr::nest;
use crate::constants::*;
use crate::entry::Entry;
use crate::tuple::{Family, Proto};

/// A selection of conntrack entries. Every field set must match; an empty
/// filter selects everything.
///
/// The kernel (5.9 and later) applies it during the dump; entries are
/// checked again here, so a kernel that ignores part of it (older ones)
/// gives the same result.
///
/// ```
/// use conntrack_nl::{Filter, Proto};
/// // UDP to the VIP 10.96.0.10:53 answered by the backend 10.244.1.5:53.
/// let f = Filter::new()
///     .proto(Proto::Udp)
///     .orig_dst("10.96.0.10".parse().unwrap(), Some(53))
///     .reply_src("10.244.1.5".parse().unwrap(), Some(53));
/// assert_eq!(f.to_string(), "udp orig dst 10.96.0.10:53 reply src 10.244.1.5:53");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Only entries of this family (also implied by an address below).
    pub family: Option<Family>,
    /// Only entries of this layer-4 protocol.
    pub proto: Option<Proto>,
    /// Destination address of the original direction (the VIP).
    pub orig_dst: Option<IpAddr>,
    /// Destination port of the original direction (the VIP's port); needs
    /// [`proto`](Self::proto) of a protocol with ports.
    pub orig_dst_port: Option<u16>,
    /// Source address of the reply direction (the backend that answered,
    /// after DNAT).
    pub reply_src: Option<IpAddr>,
    /// Source port of the reply direction (the backend's port); needs
    /// [`proto`](Self::proto) of a protocol with ports.
    pub reply_src_port: Option<u16>,
    /// Mark and mask: entries whose `mark & mask == value & mask`.
    pub mark: Option<(u32, u32)>,
}

impl Filter {
    /// The filter selecting every entry.
    pub fn new() -> Self {
        Filter::default()
    }

    /// Only entries of `family`.
    pub fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// Only entries of protocol `proto`.
    pub fn proto(mut self, proto: Proto) -> Self {
        self.proto = Some(proto);
        self
    }

    /// Only entries whose original destination is `addr` (and `port`).
    pub fn orig_dst(mut self, addr: IpAddr, port: Option<u16>) -> Self {
        self.orig_dst = Some(addr);
        self.orig_dst_port = port;
        self
    }

    /// Only entries whose reply source is `addr` (and `port`).
    pub fn reply_src(mut self, addr: IpAddr, port: Option<u16>) -> Self {
        self.reply_src = Some(addr);
        self.reply_src_port = port;
        self
    }

    /// Only entries with `mark & mask == value & mask`.
    pub fn mark(mut self, value: u32, mask: u32) -> Self {
        self.mark = Some((value, mask));
        self
    }

    /// The family the filter is restricted to: the explicit one or that of
    /// its addresses. [`Error::InvalidInput`] when they disagree or a port
    /// is given without a protocol with ports.
    pub fn effective_family(&self) -> Result<Option<Family>> {
        let mut fam = self.family;
        for a in [self.orig_dst, self.reply_src].into_iter().flatten() {
            let f = Family::of(&a);
            match fam {
                Some(g) if g != f => {
                    return Err(Error::invalid_input(
                        format!("conntrack filter {self}"),
                        "addresses and family disagree",
                    ));
                }
                _ => fam = Some(f),
            }
        }
        let has_port = self.orig_dst_port.is_some() || self.reply_src_port.is_some();
        if has_port && !self.proto.is_some_and(Proto::has_ports) {
            return Err(Error::invalid_input(
                format!("conntrack filter {self}"),
                "a port needs a protocol with ports (tcp, udp, udplite, sctp, dccp)",
            ));
        }
        Ok(fam)
    }

    /// True when `e` is selected.
    pub fn matches(&self, e: &Entry) -> bool {
        let fam_ok = self.family.is_none_or(|f| e.family() == f);
        let proto_ok = self.proto.is_none_or(|p| e.orig.l4.proto() == p);
        let od = self.orig_dst.is_none_or(|a| e.orig.dst == a);
        let odp = self
            .orig_dst_port
            .is_none_or(|p| e.orig.l4.ports().is_some_and(|(_, d)| d == p));
        let rs = self.reply_src.is_none_or(|a| e.reply.src == a);
        let rsp = self
            .reply_src_port
            .is_none_or(|p| e.reply.l4.ports().is_some_and(|(s, _)| s == p));
        let mark = self
            .mark
            .is_none_or(|(v, m)| e.mark.unwrap_or(0) & m == v & m);
        fam_ok && proto_ok && od && odp && rs && rsp && mark
    }

    /// True when the filter compares tuple fields, which the kernel can
    /// filter on only per family.
    pub(crate) fn has_tuple_fields(&self) -> bool {
        self.proto.is_some() || self.orig_dst.is_some() || self.reply_src.is_some()
    }

    /// Appends the kernel-side dump filter: `CTA_MARK` and `CTA_MARK_MASK`,
    /// and, for a dump of one family, `CTA_TUPLE_ORIG`/`CTA_TUPLE_REPLY`
    /// holding the fields to compare with `CTA_FILTER` naming them
    /// (`CTA_FILTER_FLAG_*`): protocol and ports, and IPv4 addresses (the
    /// kernel's comparison of IPv6 addresses is inverted; those are left to
    /// [`matches`](Self::matches)).
    pub fn append_dump_attrs(&self, buf: &mut Vec<u8>, family: Option<Family>) {
        if let Some((v, m)) = self.mark {
            wire::append_attr(buf, CTA_MARK, &v.to_be_bytes());
            wire::append_attr(buf, CTA_MARK_MASK, &m.to_be_bytes());
        }
        if family.is_none() || !self.has_tuple_fields() {
            return;
        }
        let proto = self.proto.map(Proto::number);
        let ports_ok = self.proto.is_some_and(Proto::has_ports);
        let orig_port = self.orig_dst_port.filter(|_| ports_ok);
        let reply_port = self.reply_src_port.filter(|_| ports_ok);
        // Linux (5.9 to at least 6.18) compares IPv6 addresses of a dump
        // filter the wrong way round (`!ipv6_addr_cmp` in
        // `ctnetlink_filter_match_tuple`: an equal address fails, any other
        // passes), so IPv6 addresses are compared here only.
        let v4 = family == Some(Family::Ipv4);
        let orig_addr = self.orig_dst.filter(|_| v4);
        let reply_addr = self.reply_src.filter(|_| v4);
        let orig_flags = direction(buf, CTA_TUPLE_ORIG, proto, orig_addr, false, orig_port);
        let reply_flags = direction(buf, CTA_TUPLE_REPLY, proto, reply_addr, true, reply_port);
        nest(buf, CTA_FILTER, |b| {
            wire::append_attr(b, CTA_FILTER_ORIG_FLAGS, &orig_flags.to_ne_bytes());
            wire::append_attr(b, CTA_FILTER_REPLY_FLAGS, &reply_flags.to_ne_bytes());
        });
    }
}

/// Appends one direction's tuple nest for a dump filter and returns its
/// `CTA_FILTER_FLAG_*` bits. `src` says whether `addr`/`port` are the
/// source (reply direction) or destination (original direction).
fn direction(
    buf: &mut Vec<u8>,
    kind: u16,
    proto: Option<u8>,
    addr: Option<IpAddr>,
    src: bool,
    port: Option<u16>,
) -> u32 {
    let mut flags = 0;
    if proto.is_some() {
        flags |= CTA_FILTER_FLAG_CTA_PROTO_NUM;
    }
    if addr.is_some() {
        flags |= if src {
            CTA_FILTER_FLAG_CTA_IP_SRC
        } else {
            CTA_FILTER_FLAG_CTA_IP_DST
        };
    }
    if port.is_some() {
        flags |= if src {
            CTA_FILTER_FLAG_CTA_PROTO_SRC_PORT
        } else {
            CTA_FILTER_FLAG_CTA_PROTO_DST_PORT
        };
    }
    if flags == 0 {
        return 0;
    }
    nest(buf, kind, |b| {
        if let Some(a) = addr {
            nest(b, CTA_TUPLE_IP, |b| match (a, src) {
                (IpAddr::V4(a), true) => wire::append_attr(b, CTA_IP_V4_SRC, &a.octets()),
                (IpAddr::V4(a), false) => wire::append_attr(b, CTA_IP_V4_DST, &a.octets()),
                (IpAddr::V6(a), true) => wire::append_attr(b, CTA_IP_V6_SRC, &a.octets()),
                (IpAddr::V6(a), false) => wire::append_attr(b, CTA_IP_V6_DST, &a.octets()),
            });
        }
        if let Some(p) = proto {
            nest(b, CTA_TUPLE_PROTO, |b| {
                wire::append_attr(b, CTA_PROTO_NUM, &[p]);
                if let Some(port) = port {
                    let k = if src {
                        CTA_PROTO_SRC_PORT
                    } else {
                        CTA_PROTO_DST_PORT
                    };
                    wire::append_attr(b, k, &port.to_be_bytes());
                }
            });
        }
    });
    flags
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(fam) = self.family {
            parts.push(fam.to_string());
        }
        if let Some(p) = self.proto {
            parts.push(p.to_string());
        }
        let ap = |a: &IpAddr, p: Option<u16>| match (a, p) {
            (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
            (a, Some(p)) => format!("{a}:{p}"),
            (a, None) => a.to_string(),
        };
        match (self.orig_dst, self.orig_dst_port) {
            (Some(a), p) => parts.push(format!("orig dst {}", ap(&a, p))),
            (None, Some(p)) => parts.push(format!("orig dport {p}")),
            _ => {}
        }
        match (self.reply_src, self.reply_src_port) {
            (Some(a), p) => parts.push(format!("reply src {}", ap(&a, p))),
            (None, Some(p)) => parts.push(format!("reply sport {p}")),
            _ => {}
        }
        if let Some((v, m)) = self.mark {
            parts.push(format!("mark {v:#x}/{m:#x}"));
        }
        if parts.is_empty() {
            return f.write_str("(all)");
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::{L4, Tuple};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nat(vip: &str, vport: u16, backend: &str, bport: u16) -> Entry {
        let orig = Tuple::new(ip("10.0.0.1"), ip(vip), L4::udp(5000, vport));
        let reply = Tuple::new(ip(backend), ip("10.0.0.1"), L4::udp(bport, 5000));
        Entry::with_reply(orig, reply)
    }

    #[test]
    fn matches_each_field() {
        let f = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(ip("10.96.0.10"), Some(53))
            .reply_src(ip("10.244.1.5"), Some(5353));
        assert!(f.matches(&nat("10.96.0.10", 53, "10.244.1.5", 5353)));
        assert!(!f.matches(&nat("10.96.0.11", 53, "10.244.1.5", 5353)));
        assert!(!f.matches(&nat("10.96.0.10", 54, "10.244.1.5", 5353)));
        assert!(!f.matches(&nat("10.96.0.10", 53, "10.244.1.6", 5353)));
        assert!(!f.matches(&nat("10.96.0.10", 53, "10.244.1.5", 5354)));
        let m = Filter::new().mark(0x10, 0xf0);
        assert!(m.matches(&nat("10.96.0.10", 53, "10.244.1.5", 1).mark(0x1f)));
        assert!(!m.matches(&nat("10.96.0.10", 53, "10.244.1.5", 1).mark(0x20)));
        assert!(!Filter::new().family(Family::Ipv6).matches(&nat(
            "10.96.0.10",
            53,
            "10.244.1.5",
            1
        )));
        assert!(Filter::new().matches(&nat("10.96.0.10", 53, "10.244.1.5", 1)));
    }

    #[test]
    fn inconsistent_filters_are_refused() {
        let f = Filter::new()
            .orig_dst(ip("10.0.0.1"), None)
            .reply_src(ip("fd00::1"), None);
        assert!(f.effective_family().is_err());
        let f = Filter::new().orig_dst(ip("10.0.0.1"), Some(53));
        assert!(f.effective_family().is_err());
        let f = Filter::new()
            .proto(Proto::Icmp)
            .orig_dst(ip("10.0.0.1"), Some(53));
        assert!(f.effective_family().is_err());
        let f = Filter::new()
            .proto(Proto::Udp)
            .reply_src(ip("fd00::1"), Some(1));
        assert_eq!(f.effective_family().unwrap(), Some(Family::Ipv6));
    }

    #[test]
    fn dump_attrs() {
        // IPv4: addresses and ports, flags naming them
        let f = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(ip("10.96.0.10"), Some(53))
            .mark(1, 0xff);
        let mut b = Vec::new();
        f.append_dump_attrs(&mut b, Some(Family::Ipv4));
        let kinds: Vec<u16> = nl_engine::wire::Attrs::new(&b)
            .map(|a| a.unwrap().kind())
            .collect();
        assert_eq!(
            kinds,
            [
                CTA_MARK,
                CTA_MARK_MASK,
                CTA_TUPLE_ORIG,
                CTA_TUPLE_REPLY,
                CTA_FILTER
            ]
        );
        let filter = nl_engine::wire::Attrs::new(&b).last().unwrap().unwrap();
        let flags: Vec<u32> = nl_engine::wire::Attrs::new(filter.value)
            .map(|a| u32::from_ne_bytes(a.unwrap().value.try_into().unwrap()))
            .collect();
        assert_eq!(
            flags,
            [
                CTA_FILTER_FLAG_CTA_PROTO_NUM
                    | CTA_FILTER_FLAG_CTA_IP_DST
                    | CTA_FILTER_FLAG_CTA_PROTO_DST_PORT,
                CTA_FILTER_FLAG_CTA_PROTO_NUM
            ]
        );
        // no family: only the mark
        let mut b = Vec::new();
        f.append_dump_attrs(&mut b, None);
        assert_eq!(nl_engine::wire::Attrs::new(&b).count(), 2);
    }
}
