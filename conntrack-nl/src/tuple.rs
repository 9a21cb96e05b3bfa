//! [`Tuple`]: one direction of a connection (addresses, layer-4 protocol
//! and its ports or ICMP identifiers), the `CTA_TUPLE_ORIG` /
//! `CTA_TUPLE_REPLY` nests.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nl_engine::{DecodeError, wire};

use crate::attr::{DecodeResult, RawAttr, be16, each, nest, u8_of};
use crate::constants::*;

/// An address family of conntrack entries (`NFPROTO_*`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `NFPROTO_IPV4`
    Ipv4,
    /// `NFPROTO_IPV6`
    Ipv6,
}

impl Family {
    /// The `NFPROTO_*` number (the `nfgenmsg` family).
    pub fn number(self) -> u8 {
        match self {
            Family::Ipv4 => NFPROTO_IPV4,
            Family::Ipv6 => NFPROTO_IPV6,
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        })
    }
}

/// A layer-4 protocol, by IP protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Proto {
    /// TCP (6)
    Tcp,
    /// UDP (17)
    Udp,
    /// UDP-Lite (136)
    UdpLite,
    /// SCTP (132)
    Sctp,
    /// DCCP (33)
    Dccp,
    /// ICMP (1)
    Icmp,
    /// ICMPv6 (58)
    Icmpv6,
    /// Any other protocol number.
    Other(u8),
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => IPPROTO_TCP,
            Proto::Udp => IPPROTO_UDP,
            Proto::UdpLite => IPPROTO_UDPLITE,
            Proto::Sctp => IPPROTO_SCTP,
            Proto::Dccp => IPPROTO_DCCP,
            Proto::Icmp => IPPROTO_ICMP,
            Proto::Icmpv6 => IPPROTO_ICMPV6,
            Proto::Other(n) => n,
        }
    }

    /// True for the protocols whose tuples carry ports.
    pub fn has_ports(self) -> bool {
        matches!(
            self,
            Proto::Tcp | Proto::Udp | Proto::UdpLite | Proto::Sctp | Proto::Dccp
        )
    }
}

impl From<u8> for Proto {
    fn from(n: u8) -> Self {
        match n {
            IPPROTO_TCP => Proto::Tcp,
            IPPROTO_UDP => Proto::Udp,
            IPPROTO_UDPLITE => Proto::UdpLite,
            IPPROTO_SCTP => Proto::Sctp,
            IPPROTO_DCCP => Proto::Dccp,
            IPPROTO_ICMP => Proto::Icmp,
            IPPROTO_ICMPV6 => Proto::Icmpv6,
            n => Proto::Other(n),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::UdpLite => "udplite",
            Proto::Sctp => "sctp",
            Proto::Dccp => "dccp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
            Proto::Other(n) => return write!(f, "proto {n}"),
        })
    }
}

/// The layer-4 part of a tuple (`CTA_TUPLE_PROTO`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum L4 {
    /// A protocol with ports (TCP, UDP, UDP-Lite, SCTP, DCCP; GRE's keys
    /// travel as ports too).
    Ports {
        /// The protocol (not ICMP).
        proto: Proto,
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// ICMP (`CTA_PROTO_ICMP_*`) or ICMPv6 (`CTA_PROTO_ICMPV6_*`): the
    /// echo identifier, message type and code.
    Icmp {
        /// [`Proto::Icmp`] or [`Proto::Icmpv6`].
        proto: Proto,
        /// The identifier.
        id: u16,
        /// The ICMP type (8 is an echo request; 128 for ICMPv6).
        icmp_type: u8,
        /// The ICMP code.
        code: u8,
    },
    /// Another protocol: only its number.
    Other(Proto),
}

impl L4 {
    /// TCP with these ports.
    pub fn tcp(src: u16, dst: u16) -> Self {
        L4::Ports {
            proto: Proto::Tcp,
            src,
            dst,
        }
    }

    /// UDP with these ports.
    pub fn udp(src: u16, dst: u16) -> Self {
        L4::Ports {
            proto: Proto::Udp,
            src,
            dst,
        }
    }

    /// SCTP with these ports.
    pub fn sctp(src: u16, dst: u16) -> Self {
        L4::Ports {
            proto: Proto::Sctp,
            src,
            dst,
        }
    }

    /// ICMP (IPv4).
    pub fn icmp(id: u16, icmp_type: u8, code: u8) -> Self {
        L4::Icmp {
            proto: Proto::Icmp,
            id,
            icmp_type,
            code,
        }
    }

    /// ICMPv6.
    pub fn icmpv6(id: u16, icmp_type: u8, code: u8) -> Self {
        L4::Icmp {
            proto: Proto::Icmpv6,
            id,
            icmp_type,
            code,
        }
    }

    /// The protocol.
    pub fn proto(&self) -> Proto {
        match *self {
            L4::Ports { proto, .. } | L4::Icmp { proto, .. } | L4::Other(proto) => proto,
        }
    }

    /// Source and destination ports, for protocols with ports.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            L4::Ports { src, dst, .. } => Some((src, dst)),
            _ => None,
        }
    }
}

/// One direction of a connection: `CTA_TUPLE_ORIG` or `CTA_TUPLE_REPLY`.
///
/// ```
/// use conntrack_nl::{L4, Tuple};
/// let t = Tuple::new("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), L4::udp(1, 2));
/// assert_eq!(t.to_string(), "udp 10.0.0.1:1 -> 10.0.0.2:2");
/// assert_eq!(t.inverted().to_string(), "udp 10.0.0.2:2 -> 10.0.0.1:1");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address (both of the same family).
    pub dst: IpAddr,
    /// Protocol, ports or ICMP identifiers.
    pub l4: L4,
    /// `CTA_TUPLE_ZONE`: a zone for this direction only (rare; the entry's
    /// zone is [`Entry::zone`](crate::Entry::zone)).
    pub zone: Option<u16>,
    /// Attributes of the nest this crate does not model.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub other: Vec<RawAttr>,
}

impl Tuple {
    /// A tuple without direction zone.
    pub fn new(src: IpAddr, dst: IpAddr, l4: L4) -> Self {
        Tuple {
            src,
            dst,
            l4,
            zone: None,
            other: Vec::new(),
        }
    }

    /// The address family (of `src`).
    pub fn family(&self) -> Family {
        Family::of(&self.src)
    }

    /// The tuple of the other direction, as the kernel makes it for an
    /// entry without NAT: addresses and ports swapped; for ICMP echo
    /// requests (type 8, ICMPv6 128) and other queries, the reply type.
    pub fn inverted(&self) -> Tuple {
        let l4 = match self.l4 {
            L4::Ports { proto, src, dst } => L4::Ports {
                proto,
                src: dst,
                dst: src,
            },
            L4::Icmp {
                proto,
                id,
                icmp_type,
                code,
            } => L4::Icmp {
                proto,
                id,
                icmp_type: invert_icmp_type(proto, icmp_type),
                code,
            },
            other => other,
        };
        Tuple {
            src: self.dst,
            dst: self.src,
            l4,
            zone: self.zone,
            other: Vec::new(),
        }
    }

    /// Checks the tuple can be sent: both addresses of one family, a
    /// protocol its [`L4`] variant fits.
    pub fn validate(&self) -> nl_engine::Result<()> {
        let bad =
            |why: &str| nl_engine::Error::invalid_input(format!("conntrack tuple {self}"), why);
        if Family::of(&self.src) != Family::of(&self.dst) {
            return Err(bad("source and destination of different address families"));
        }
        match self.l4 {
            L4::Ports {
                proto: Proto::Icmp | Proto::Icmpv6,
                ..
            } => Err(bad("ports given for ICMP")),
            L4::Icmp { proto, .. } if !matches!(proto, Proto::Icmp | Proto::Icmpv6) => Err(bad(
                "ICMP fields given for a protocol other than ICMP/ICMPv6",
            )),
            L4::Icmp { proto, .. } if (proto == Proto::Icmp) != (self.family() == Family::Ipv4) => {
                Err(bad("ICMP goes with IPv4 and ICMPv6 with IPv6"))
            }
            _ => Ok(()),
        }
    }

    /// Appends the tuple's attributes (the content of a `CTA_TUPLE_*` nest).
    pub fn append_attrs(&self, buf: &mut Vec<u8>) {
        nest(buf, CTA_TUPLE_IP, |b| match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                wire::append_attr(b, CTA_IP_V4_SRC, &s.octets());
                wire::append_attr(b, CTA_IP_V4_DST, &d.octets());
            }
            (s, d) => {
                wire::append_attr(b, CTA_IP_V6_SRC, &v6(s).octets());
                wire::append_attr(b, CTA_IP_V6_DST, &v6(d).octets());
            }
        });
        nest(buf, CTA_TUPLE_PROTO, |b| {
            wire::append_attr(b, CTA_PROTO_NUM, &[self.l4.proto().number()]);
            match self.l4 {
                L4::Ports { src, dst, .. } => {
                    wire::append_attr(b, CTA_PROTO_SRC_PORT, &src.to_be_bytes());
                    wire::append_attr(b, CTA_PROTO_DST_PORT, &dst.to_be_bytes());
                }
                L4::Icmp {
                    proto,
                    id,
                    icmp_type,
                    code,
                } => {
                    let (i, t, c) = if proto == Proto::Icmpv6 {
                        (
                            CTA_PROTO_ICMPV6_ID,
                            CTA_PROTO_ICMPV6_TYPE,
                            CTA_PROTO_ICMPV6_CODE,
                        )
                    } else {
                        (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)
                    };
                    // code, type, id: the order of the `conntrack` tool
                    wire::append_attr(b, c, &[code]);
                    wire::append_attr(b, t, &[icmp_type]);
                    wire::append_attr(b, i, &id.to_be_bytes());
                }
                L4::Other(_) => {}
            }
        });
        if let Some(z) = self.zone {
            wire::append_attr(buf, CTA_TUPLE_ZONE, &z.to_be_bytes());
        }
        for a in &self.other {
            a.append_to(buf);
        }
    }

    /// Appends the tuple as the nest `kind` (`CTA_TUPLE_ORIG`,
    /// `CTA_TUPLE_REPLY`).
    pub fn append_nest(&self, buf: &mut Vec<u8>, kind: u16) {
        nest(buf, kind, |b| self.append_attrs(b));
    }

    /// Decodes the content of a `CTA_TUPLE_*` nest.
    pub fn parse(buf: &[u8]) -> Result<Tuple, DecodeError> {
        Self::parse_attrs(buf).map_err(|reason| DecodeError::new(reason).in_object("tuple"))
    }

    pub(crate) fn parse_attrs(buf: &[u8]) -> Result<Tuple, String> {
        let mut src = None;
        let mut dst = None;
        let mut proto = None;
        let mut ports: (Option<u16>, Option<u16>) = (None, None);
        let mut icmp: (Option<u16>, Option<u8>, Option<u8>) = (None, None, None);
        let mut zone = None;
        let mut other = Vec::new();
        each(buf, |a| {
            match a.kind() {
                CTA_TUPLE_IP => each(a.value, |ip| {
                    match ip.kind() {
                        CTA_IP_V4_SRC => src = Some(IpAddr::V4(v4_of(ip.value)?)),
                        CTA_IP_V4_DST => dst = Some(IpAddr::V4(v4_of(ip.value)?)),
                        CTA_IP_V6_SRC => src = Some(IpAddr::V6(v6_of(ip.value)?)),
                        CTA_IP_V6_DST => dst = Some(IpAddr::V6(v6_of(ip.value)?)),
                        _ => {}
                    }
                    Ok(())
                })?,
                CTA_TUPLE_PROTO => each(a.value, |p| {
                    match p.kind() {
                        CTA_PROTO_NUM => proto = Some(Proto::from(u8_of(p.value, "protocol")?)),
                        CTA_PROTO_SRC_PORT => ports.0 = Some(be16(p.value, "source port")?),
                        CTA_PROTO_DST_PORT => ports.1 = Some(be16(p.value, "destination port")?),
                        CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => {
                            icmp.0 = Some(be16(p.value, "ICMP id")?)
                        }
                        CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                            icmp.1 = Some(u8_of(p.value, "ICMP type")?)
                        }
                        CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                            icmp.2 = Some(u8_of(p.value, "ICMP code")?)
                        }
                        _ => {}
                    }
                    Ok(())
                })?,
                CTA_TUPLE_ZONE => zone = Some(be16(a.value, "tuple zone")?),
                _ => other.push(RawAttr::from_attr(&a)),
            }
            Ok(())
        })?;
        let (Some(src), Some(dst)) = (src, dst) else {
            return Err("conntrack tuple without both addresses".into());
        };
        let proto = proto.ok_or("conntrack tuple without a protocol number")?;
        let l4 = match (proto, ports, icmp) {
            // (GRE, protocol 47, carries its keys as ports)
            (p, (Some(src), Some(dst)), _) if !matches!(p, Proto::Icmp | Proto::Icmpv6) => {
                L4::Ports { proto: p, src, dst }
            }
            (p @ (Proto::Icmp | Proto::Icmpv6), _, (Some(id), Some(icmp_type), Some(code))) => {
                L4::Icmp {
                    proto: p,
                    id,
                    icmp_type,
                    code,
                }
            }
            (p, _, _) => L4::Other(p),
        };
        Ok(Tuple {
            src,
            dst,
            l4,
            zone,
            other,
        })
    }
}

/// The reply type of an ICMP query (the kernel's `invmap` in
/// `nf_conntrack_proto_icmp{,v6}.c`); other types are kept.
fn invert_icmp_type(proto: Proto, t: u8) -> u8 {
    let pairs: &[(u8, u8)] = if proto == Proto::Icmpv6 {
        &[(128, 129), (129, 128), (139, 140), (140, 139)]
    } else {
        &[
            (8, 0),
            (0, 8),
            (13, 14),
            (14, 13),
            (15, 16),
            (16, 15),
            (17, 18),
            (18, 17),
        ]
    };
    pairs.iter().find(|(a, _)| *a == t).map_or(t, |(_, b)| *b)
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

fn v4_of(v: &[u8]) -> DecodeResult<Ipv4Addr> {
    <[u8; 4]>::try_from(v)
        .map(Ipv4Addr::from)
        .map_err(|_| format!("IPv4 address of {} bytes", v.len()))
}

fn v6_of(v: &[u8]) -> DecodeResult<Ipv6Addr> {
    <[u8; 16]>::try_from(v)
        .map(Ipv6Addr::from)
        .map_err(|_| format!("IPv6 address of {} bytes", v.len()))
}

fn fmt_addr_port(f: &mut fmt::Formatter<'_>, a: &IpAddr, port: Option<u16>) -> fmt::Result {
    match (a, port) {
        (IpAddr::V6(a), Some(p)) => write!(f, "[{a}]:{p}"),
        (a, Some(p)) => write!(f, "{a}:{p}"),
        (a, None) => write!(f, "{a}"),
    }
}

impl fmt::Display for Tuple {
    /// `udp 10.0.0.1:1 -> 10.0.0.2:2`, `icmp 10.0.0.1 -> 10.0.0.2 type 8 code 0 id 7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.l4.proto())?;
        let (sp, dp) = self.l4.ports().unzip();
        fmt_addr_port(f, &self.src, sp)?;
        f.write_str(" -> ")?;
        fmt_addr_port(f, &self.dst, dp)?;
        if let L4::Icmp {
            id,
            icmp_type,
            code,
            ..
        } = self.l4
        {
            write!(f, " type {icmp_type} code {code} id {id}")?;
        }
        if let Some(z) = self.zone {
            write!(f, " zone {z}")?;
        }
        Ok(())
    }
}

impl fmt::Display for L4 {
    /// The layer-4 words of `conntrack -L`: `sport=5000 dport=53`,
    /// `type=8 code=0 id=7`; nothing for a protocol without them (as
    /// `conntrack` shows nothing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            L4::Ports { src, dst, .. } => write!(f, "sport={src} dport={dst}"),
            L4::Icmp {
                id,
                icmp_type,
                code,
                ..
            } => write!(f, "type={icmp_type} code={code} id={id}"),
            L4::Other(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_every_kind() {
        let mut zoned = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::tcp(1, 2));
        zoned.zone = Some(9);
        for t in [
            zoned,
            Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::udp(3, 4)),
            Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::icmp(7, 8, 0)),
            Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::icmpv6(7, 128, 0)),
            Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::Other(Proto::Other(47))),
        ] {
            let mut b = Vec::new();
            t.append_attrs(&mut b);
            assert_eq!(Tuple::parse(&b).unwrap(), t);
            assert!(t.validate().is_ok(), "{t}");
        }
    }

    #[test]
    fn invert_and_display() {
        let t = Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::icmpv6(7, 128, 0));
        assert_eq!(t.inverted().l4, L4::icmpv6(7, 129, 0));
        assert_eq!(
            t.to_string(),
            "icmpv6 fd00::1 -> fd00::2 type 128 code 0 id 7"
        );
        let u = Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::udp(1, 2));
        assert_eq!(u.to_string(), "udp [fd00::1]:1 -> [fd00::2]:2");
    }

    #[test]
    fn invalid_tuples() {
        let mixed = Tuple::new(ip("10.0.0.1"), ip("fd00::2"), L4::udp(1, 2));
        assert!(mixed.validate().is_err());
        let icmp6_on_v4 = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::icmpv6(1, 128, 0));
        assert!(icmp6_on_v4.validate().is_err());
        let ports_on_icmp = Tuple::new(
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            L4::Ports {
                proto: Proto::Icmp,
                src: 1,
                dst: 2,
            },
        );
        assert!(ports_on_icmp.validate().is_err());
        assert!(Tuple::parse(&[]).is_err());
    }
}
