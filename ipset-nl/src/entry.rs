//! Set members: [`IpPortEntry`] (a typed `hash:ip,port` element, with
//! ranges and per-element extensions) and [`Entry`] (any element, as its
//! attributes).

use std::fmt;
use std::net::IpAddr;

use netlink_packet_core::{NLA_F_NESTED, NLA_F_NET_BYTEORDER};
use nl_engine::Error;
use nl_engine::wire::{self, FixedAttrs};

use crate::attr::ElementAttr;
use crate::constants::{
    IPSET_ATTR_CADT_LINENO, IPSET_ATTR_DATA, IPSET_ATTR_IP, IPSET_ATTR_IPADDR_IPV4,
    IPSET_ATTR_IPADDR_IPV6, IPSET_ATTR_PORT, IPSET_ATTR_PROTO, IPSET_MAX_COMMENT_SIZE,
};
use crate::types::{IpProto, Timeout};

/// Anything that can be sent as one element of add, del or test.
///
/// ```
/// use ipset_nl::{Element, ElementAttr, IpPortEntry, IpProto};
/// let e = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, 80);
/// let mut kinds = 0;
/// e.each_attr(&mut |_| kinds += 1);
/// assert_eq!(kinds, 3); // address, port, protocol
/// assert_eq!(e.to_attrs()[0], ElementAttr::Ip("10.0.0.1".parse().unwrap()));
/// ```
pub trait Element {
    /// Gives each of the element's attributes to `f`, in the order the
    /// `ipset` tool sends them (the bulk encoder writes them straight into
    /// the message, with no list in between).
    fn each_attr(&self, f: &mut dyn FnMut(&ElementAttr));
    /// The element's attributes, in the order the `ipset` tool sends them.
    fn to_attrs(&self) -> Vec<ElementAttr> {
        let mut v = Vec::new();
        self.each_attr(&mut |a| v.push(a.clone()));
        v
    }
    /// A short description for error messages.
    fn describe(&self) -> String;
    /// Appends the element's `IPSET_ATTR_DATA` nest to `buf`, its
    /// attributes as [`each_attr`](Self::each_attr) gives them and the
    /// line number `lineno` last: what bulk add and del send per element.
    /// Element types of a fixed layout write it in one go; the default
    /// encodes each attribute.
    fn append_data(&self, buf: &mut Vec<u8>, lineno: u32) {
        append_data_of_attrs(self, buf, lineno);
    }
    /// The length in bytes of what [`append_data`](Self::append_data)
    /// appends.
    fn data_len(&self) -> usize {
        data_len_of_attrs(self)
    }
}

/// [`Element::append_data`] written attribute by attribute, without a
/// list of them or a buffer of its own.
fn append_data_of_attrs<E: Element + ?Sized>(e: &E, buf: &mut Vec<u8>, lineno: u32) {
    wire::append_nla(buf, IPSET_ATTR_DATA | NLA_F_NESTED, |b| {
        e.each_attr(&mut |a| wire::append_typed(b, a));
        wire::append_typed(b, &ElementAttr::LineNo(lineno));
    });
}

/// [`Element::data_len`] from the attributes' sizes.
fn data_len_of_attrs<E: Element + ?Sized>(e: &E) -> usize {
    // the nest's header and the line number attribute
    let mut len = 4 + 8;
    e.each_attr(&mut |a| len += wire::typed_len(std::slice::from_ref(a)));
    len
}

/// Any element, as its decoded attributes (every set type lists this way;
/// unknown attributes are kept).
///
/// ```
/// use ipset_nl::{ElementAttr, Entry};
/// let e = Entry::new(vec![ElementAttr::Ip("192.0.2.1".parse().unwrap())]);
/// assert_eq!(e.ip(), Some("192.0.2.1".parse().unwrap()));
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Entry {
    /// The attributes of the element's `DATA` nest.
    #[cfg_attr(
        feature = "serde",
        serde(default, serialize_with = "crate::serde_impls::known_element_attrs")
    )]
    pub attrs: Vec<ElementAttr>,
}

impl Entry {
    /// An element from its attributes.
    pub fn new(attrs: Vec<ElementAttr>) -> Self {
        Entry { attrs }
    }

    /// The element's address (`IPSET_ATTR_IP`), if it has one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.attrs.iter().find_map(|a| match a {
            ElementAttr::Ip(ip) => Some(*ip),
            _ => None,
        })
    }

    /// The element's remaining timeout, if the set has timeouts.
    pub fn timeout(&self) -> Option<Timeout> {
        self.attrs.iter().find_map(|a| match a {
            ElementAttr::Timeout(t) => Some(*t),
            _ => None,
        })
    }

    /// The element read as a member of a set of type `set_type` (see
    /// [`SetElement`](crate::SetElement), [`TypedEntry`](crate::TypedEntry)).
    pub fn typed<E: crate::SetElement>(&self, set_type: &crate::SetType) -> Result<E, Error> {
        E::from_member(set_type, &self.attrs)
    }

    /// The element read as a `hash:ip,port` element.
    pub fn as_ip_port(&self) -> Result<IpPortEntry, Error> {
        IpPortEntry::from_attrs(&self.attrs)
    }
}

impl Element for Entry {
    fn each_attr(&self, f: &mut dyn FnMut(&ElementAttr)) {
        self.attrs.iter().for_each(f);
    }
    fn to_attrs(&self) -> Vec<ElementAttr> {
        self.attrs.clone()
    }
    fn describe(&self) -> String {
        format!("{:?}", self.attrs)
    }
}

/// One `hash:ip,port` element: address (IPv4 range or CIDR allowed on add
/// and del), protocol, port (range allowed; ICMP type/code for icmp and
/// icmpv6), and the per-element extensions.
///
/// ```
/// use ipset_nl::{IpPortEntry, IpProto};
/// let e = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, 80)
///     .timeout(600)
///     .comment("web");
/// assert_eq!(e.to_string(), "10.0.0.1,tcp:80");
/// let range = IpPortEntry::new("10.0.0.0".parse().unwrap(), IpProto::Udp, 1000)
///     .cidr(30)
///     .port_to(1002);
/// assert_eq!(range.to_string(), "10.0.0.0/30,udp:1000-1002");
/// let ping = IpPortEntry::icmp("2001:db8::1".parse().unwrap(), 128, 0);
/// assert_eq!(ping.to_string(), "2001:db8::1,icmpv6:128/0");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpPortEntry {
    /// The address (first address of a range).
    pub ip: IpAddr,
    /// Last address of a range (IPv4, add/del only).
    pub ip_to: Option<IpAddr>,
    /// Prefix length of a network (IPv4, add/del only).
    pub cidr: Option<u8>,
    /// The layer-4 protocol.
    pub proto: IpProto,
    /// The port, or `type << 8 | code` for ICMP/ICMPv6, 0 for other protocols.
    pub port: u16,
    /// Last port of a range (add/del only).
    pub port_to: Option<u16>,
    /// Per-element timeout in seconds (sets with timeouts).
    pub timeout: Option<Timeout>,
    /// Packet counter (sets with counters).
    pub packets: Option<u64>,
    /// Byte counter (sets with counters).
    pub bytes: Option<u64>,
    /// Comment (sets with comments).
    pub comment: Option<String>,
    /// skbinfo mark and mask (sets with skbinfo).
    pub skbmark: Option<(u32, u32)>,
    /// skbinfo priority `major:minor` (sets with skbinfo).
    pub skbprio: Option<(u16, u16)>,
    /// skbinfo queue (sets with skbinfo).
    pub skbqueue: Option<u16>,
    /// Attributes this type does not model, kept for a lossless round trip.
    #[cfg_attr(
        feature = "serde",
        serde(default, serialize_with = "crate::serde_impls::known_element_attrs")
    )]
    pub other: Vec<ElementAttr>,
}

impl IpPortEntry {
    /// `ip,proto:port`.
    pub fn new(ip: IpAddr, proto: IpProto, port: u16) -> Self {
        IpPortEntry {
            ip,
            ip_to: None,
            cidr: None,
            proto,
            port,
            port_to: None,
            timeout: None,
            packets: None,
            bytes: None,
            comment: None,
            skbmark: None,
            skbprio: None,
            skbqueue: None,
            other: Vec::new(),
        }
    }

    /// `ip,icmp:type/code` (IPv4) or `ip,icmpv6:type/code` (IPv6).
    pub fn icmp(ip: IpAddr, icmp_type: u8, code: u8) -> Self {
        let proto = if ip.is_ipv4() {
            IpProto::Icmp
        } else {
            IpProto::IcmpV6
        };
        Self::new(ip, proto, (u16::from(icmp_type) << 8) | u16::from(code))
    }

    /// The ICMP type and code, for icmp/icmpv6 elements.
    pub fn icmp_type_code(&self) -> Option<(u8, u8)> {
        self.proto
            .is_icmp()
            .then_some(((self.port >> 8) as u8, self.port as u8))
    }

    /// Up to and including address `to` (IPv4 only).
    pub fn ip_to(mut self, to: IpAddr) -> Self {
        self.ip_to = Some(to);
        self
    }
    /// The network `ip/cidr` (IPv4 only).
    pub fn cidr(mut self, cidr: u8) -> Self {
        self.cidr = Some(cidr);
        self
    }
    /// Up to and including port `to`.
    pub fn port_to(mut self, to: u16) -> Self {
        self.port_to = Some(to);
        self
    }
    /// Per-element timeout, seconds.
    pub fn timeout(mut self, secs: u32) -> Self {
        self.timeout = Some(Timeout(secs));
        self
    }
    /// Initial packet and byte counters.
    pub fn counters(mut self, packets: u64, bytes: u64) -> Self {
        self.packets = Some(packets);
        self.bytes = Some(bytes);
        self
    }
    /// Comment.
    pub fn comment(mut self, c: impl Into<String>) -> Self {
        self.comment = Some(c.into());
        self
    }
    /// skbinfo mark/mask.
    pub fn skbmark(mut self, mark: u32, mask: u32) -> Self {
        self.skbmark = Some((mark, mask));
        self
    }
    /// skbinfo priority.
    pub fn skbprio(mut self, major: u16, minor: u16) -> Self {
        self.skbprio = Some((major, minor));
        self
    }
    /// skbinfo queue.
    pub fn skbqueue(mut self, queue: u16) -> Self {
        self.skbqueue = Some(queue);
        self
    }

    /// Checks what the kernel would refuse less clearly.
    pub fn validate(&self) -> Result<(), Error> {
        let what = || format!("element {self}");
        if self.ip.is_ipv6() && (self.ip_to.is_some() || self.cidr.is_some_and(|c| c != 128)) {
            return Err(Error::invalid_input(
                what(),
                "hash:ip,port takes address ranges and networks for IPv4 only",
            ));
        }
        if let Some(to) = self.ip_to {
            if to.is_ipv4() != self.ip.is_ipv4() {
                return Err(Error::invalid_input(
                    what(),
                    "range ends of different families",
                ));
            }
        }
        if self.cidr.is_some_and(|c| c > 32 && self.ip.is_ipv4()) {
            return Err(Error::invalid_input(what(), "IPv4 prefix longer than 32"));
        }
        if self.proto == IpProto::Icmp && self.ip.is_ipv6()
            || self.proto == IpProto::IcmpV6 && self.ip.is_ipv4()
        {
            return Err(Error::invalid_input(
                what(),
                "icmp goes with IPv4 addresses, icmpv6 with IPv6",
            ));
        }
        if self
            .comment
            .as_ref()
            .is_some_and(|c| c.len() > IPSET_MAX_COMMENT_SIZE)
        {
            return Err(Error::invalid_input(
                what(),
                "comment longer than 255 bytes",
            ));
        }
        Ok(())
    }

    /// Reads an element from its attributes (as listed by the kernel).
    pub fn from_attrs(attrs: &[ElementAttr]) -> Result<Self, Error> {
        let mut ip = None;
        let mut proto = None;
        let mut port = None;
        let mut e = IpPortEntry::new(IpAddr::from([0, 0, 0, 0]), IpProto::Tcp, 0);
        for a in attrs {
            match a {
                ElementAttr::Ip(v) => ip = Some(*v),
                ElementAttr::IpTo(v) => e.ip_to = Some(*v),
                ElementAttr::Cidr(v) => e.cidr = Some(*v),
                ElementAttr::Port(v) => port = Some(*v),
                ElementAttr::PortTo(v) => e.port_to = Some(*v),
                ElementAttr::Proto(v) => proto = Some(IpProto::from(*v)),
                ElementAttr::Timeout(v) => e.timeout = Some(*v),
                ElementAttr::Packets(v) => e.packets = Some(*v),
                ElementAttr::Bytes(v) => e.bytes = Some(*v),
                ElementAttr::Comment(v) => e.comment = Some(v.clone()),
                ElementAttr::SkbMark { mark, mask } => e.skbmark = Some((*mark, *mask)),
                ElementAttr::SkbPrio { major, minor } => e.skbprio = Some((*major, *minor)),
                ElementAttr::SkbQueue(v) => e.skbqueue = Some(*v),
                ElementAttr::LineNo(_) => {}
                other => e.other.push(other.clone()),
            }
        }
        let missing = |what: &str| Error::Decode {
            context: "read hash:ip,port element".into(),
            reason: format!("element without {what}: {attrs:?}"),
        };
        e.ip = ip.ok_or_else(|| missing("address"))?;
        e.proto = proto.ok_or_else(|| missing("protocol"))?;
        e.port = port.ok_or_else(|| missing("port"))?;
        Ok(e)
    }
}

impl IpPortEntry {
    /// Address, port and protocol only: no range, extension or other
    /// attribute (the layout [`Element::append_data`] writes in one go).
    fn is_plain(&self) -> bool {
        self.ip_to.is_none()
            && self.cidr.is_none()
            && self.port_to.is_none()
            && self.timeout.is_none()
            && self.packets.is_none()
            && self.bytes.is_none()
            && self.comment.is_none()
            && self.skbmark.is_none()
            && self.skbprio.is_none()
            && self.skbqueue.is_none()
            && self.other.is_empty()
    }
}

/// The DATA nest of a plain IPv4 `hash:ip,port` element, in bytes: the
/// nest header (4), the address nest (4 + 8), port (8), protocol (8), line
/// number (8).
const PLAIN_V4_LEN: usize = 4 + 12 + 8 + 8 + 8;
/// The same for IPv6 (an address nest of 4 + 20).
const PLAIN_V6_LEN: usize = 4 + 24 + 8 + 8 + 8;

/// The DATA nest of a plain `hash:ip,port` element: the nest header, the
/// address nest, port, protocol, line number; `ADDR` bytes of address,
/// `LEN` bytes in all (`None` if they differ from what was written, which
/// the sizes below rule out).
fn plain_ip_port_data<const ADDR: usize, const LEN: usize>(
    kind: u16,
    addr: [u8; ADDR],
    port: u16,
    proto: u8,
    lineno: u32,
) -> Option<[u8; LEN]> {
    let nbo = NLA_F_NET_BYTEORDER;
    let mut f = FixedAttrs::<LEN>::new();
    // lengths of at most 4 + 4 + 4 + 16 + 8 + 8 + 8 = 52
    f.nest_header(LEN as u16, IPSET_ATTR_DATA | NLA_F_NESTED);
    f.nest_header(8 + ADDR as u16, IPSET_ATTR_IP | NLA_F_NESTED);
    f.attr(kind | nbo, &addr);
    f.attr(IPSET_ATTR_PORT | nbo, &port.to_be_bytes());
    f.attr(IPSET_ATTR_PROTO, &[proto]);
    // the kernel reads line numbers in host order (see ElementAttr::LineNo)
    f.attr(IPSET_ATTR_CADT_LINENO | nbo, &lineno.to_ne_bytes());
    f.finish()
}

impl Element for IpPortEntry {
    fn append_data(&self, buf: &mut Vec<u8>, lineno: u32) {
        if !self.is_plain() {
            return append_data_of_attrs(self, buf, lineno);
        }
        let proto = self.proto.to_u8();
        let whole = match self.ip {
            IpAddr::V4(a) => plain_ip_port_data::<4, PLAIN_V4_LEN>(
                IPSET_ATTR_IPADDR_IPV4,
                a.octets(),
                self.port,
                proto,
                lineno,
            )
            .map(|b| buf.extend_from_slice(&b)),
            IpAddr::V6(a) => plain_ip_port_data::<16, PLAIN_V6_LEN>(
                IPSET_ATTR_IPADDR_IPV6,
                a.octets(),
                self.port,
                proto,
                lineno,
            )
            .map(|b| buf.extend_from_slice(&b)),
        };
        if whole.is_none() {
            append_data_of_attrs(self, buf, lineno);
        }
    }

    fn data_len(&self) -> usize {
        match (self.is_plain(), self.ip) {
            (true, IpAddr::V4(_)) => PLAIN_V4_LEN,
            (true, IpAddr::V6(_)) => PLAIN_V6_LEN,
            (false, _) => data_len_of_attrs(self),
        }
    }

    fn each_attr(&self, f: &mut dyn FnMut(&ElementAttr)) {
        f(&ElementAttr::Ip(self.ip));
        if let Some(to) = self.ip_to {
            f(&ElementAttr::IpTo(to));
        }
        if let Some(c) = self.cidr {
            f(&ElementAttr::Cidr(c));
        }
        f(&ElementAttr::Port(self.port));
        if let Some(p) = self.port_to {
            f(&ElementAttr::PortTo(p));
        }
        if let Some(t) = self.timeout {
            f(&ElementAttr::Timeout(t));
        }
        f(&ElementAttr::Proto(self.proto.to_u8()));
        if let Some(b) = self.bytes {
            f(&ElementAttr::Bytes(b));
        }
        if let Some(p) = self.packets {
            f(&ElementAttr::Packets(p));
        }
        if let Some(c) = &self.comment {
            f(&ElementAttr::Comment(c.clone()));
        }
        if let Some((mark, mask)) = self.skbmark {
            f(&ElementAttr::SkbMark { mark, mask });
        }
        if let Some((major, minor)) = self.skbprio {
            f(&ElementAttr::SkbPrio { major, minor });
        }
        if let Some(q) = self.skbqueue {
            f(&ElementAttr::SkbQueue(q));
        }
        self.other.iter().for_each(f);
    }

    fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for IpPortEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ip)?;
        if let Some(to) = self.ip_to {
            write!(f, "-{to}")?;
        }
        if let Some(c) = self.cidr {
            write!(f, "/{c}")?;
        }
        match self.icmp_type_code() {
            Some((t, c)) => write!(f, ",{}:{t}/{c}", self.proto)?,
            None => write!(f, ",{}:{}", self.proto, self.port)?,
        }
        if let Some(to) = self.port_to {
            write!(f, "-{to}")?;
        }
        if f.alternate() {
            let x = crate::typed::Extensions {
                timeout: self.timeout,
                packets: self.packets,
                bytes: self.bytes,
                comment: self.comment.clone(),
                skbmark: self.skbmark,
                skbprio: self.skbprio,
                skbqueue: self.skbqueue,
            };
            x.write(f, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_round_trip() {
        let e = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, 80)
            .timeout(50)
            .counters(5, 100)
            .comment("hi")
            .skbmark(0x10, 0xff)
            .skbprio(1, 2)
            .skbqueue(3);
        let back = IpPortEntry::from_attrs(&e.to_attrs()).unwrap();
        assert_eq!(back, e);
        assert!(IpPortEntry::from_attrs(&[ElementAttr::Port(1)]).is_err());
        let bad = IpPortEntry::new("::1".parse().unwrap(), IpProto::Tcp, 1).cidr(64);
        assert!(bad.validate().is_err());
        let bad = IpPortEntry::icmp("::1".parse().unwrap(), 1, 1);
        assert!(bad.validate().is_ok());
        let mut bad = bad;
        bad.proto = IpProto::Icmp;
        assert!(bad.validate().is_err());
    }
}
