//! Small typed values: families, layer-4 protocols, set types, flags,
//! timeouts.

use std::fmt;
use std::str::FromStr;

use nl_engine::Error;

/// The address family of a set (`IPSET_ATTR_FAMILY`, `NFPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Family {
    /// `NFPROTO_UNSPEC` (0): sets without addresses (`list:set`, `hash:mac`).
    Unspec,
    /// `NFPROTO_IPV4` (2), printed `inet`.
    #[default]
    Inet,
    /// `NFPROTO_IPV6` (10), printed `inet6`.
    Inet6,
    /// Any other value, kept as is.
    Other(u8),
}

impl Family {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Family::Unspec => 0,
            Family::Inet => 2,
            Family::Inet6 => 10,
            Family::Other(v) => v,
        }
    }
}

impl From<u8> for Family {
    fn from(v: u8) -> Self {
        match v {
            0 => Family::Unspec,
            2 => Family::Inet,
            10 => Family::Inet6,
            v => Family::Other(v),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Family::Inet => f.write_str("inet"),
            Family::Inet6 => f.write_str("inet6"),
            Family::Unspec => f.write_str("any"),
            Family::Other(v) => write!(f, "family-{v}"),
        }
    }
}

impl FromStr for Family {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "inet" | "ipv4" => Ok(Family::Inet),
            "inet6" | "ipv6" => Ok(Family::Inet6),
            "any" | "unspec" => Ok(Family::Unspec),
            _ => Err(Error::invalid_input(
                format!("family {s:?}"),
                "expected inet or inet6",
            )),
        }
    }
}

/// A layer-4 protocol of a `hash:ip,port` element (`IPSET_ATTR_PROTO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpProto {
    /// ICMP (1): the "port" is `type << 8 | code`.
    Icmp,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMPv6 (58): the "port" is `type << 8 | code`.
    IcmpV6,
    /// SCTP (132).
    Sctp,
    /// UDP-Lite (136).
    UdpLite,
    /// Any other protocol number (its port must be 0).
    Other(u8),
}

impl IpProto {
    /// The protocol number.
    pub fn to_u8(self) -> u8 {
        match self {
            IpProto::Icmp => 1,
            IpProto::Tcp => 6,
            IpProto::Udp => 17,
            IpProto::IcmpV6 => 58,
            IpProto::Sctp => 132,
            IpProto::UdpLite => 136,
            IpProto::Other(v) => v,
        }
    }

    /// True for protocols with real ports (tcp, udp, sctp, udplite).
    pub fn has_ports(self) -> bool {
        matches!(
            self,
            IpProto::Tcp | IpProto::Udp | IpProto::Sctp | IpProto::UdpLite
        )
    }

    /// True for ICMP and ICMPv6 (type/code instead of a port).
    pub fn is_icmp(self) -> bool {
        matches!(self, IpProto::Icmp | IpProto::IcmpV6)
    }
}

impl From<u8> for IpProto {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProto::Icmp,
            6 => IpProto::Tcp,
            17 => IpProto::Udp,
            58 => IpProto::IcmpV6,
            132 => IpProto::Sctp,
            136 => IpProto::UdpLite,
            v => IpProto::Other(v),
        }
    }
}

impl fmt::Display for IpProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProto::Icmp => f.write_str("icmp"),
            IpProto::Tcp => f.write_str("tcp"),
            IpProto::Udp => f.write_str("udp"),
            IpProto::IcmpV6 => f.write_str("icmpv6"),
            IpProto::Sctp => f.write_str("sctp"),
            IpProto::UdpLite => f.write_str("udplite"),
            IpProto::Other(v) => write!(f, "{v}"),
        }
    }
}

impl FromStr for IpProto {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "icmp" => IpProto::Icmp,
            "tcp" => IpProto::Tcp,
            "udp" => IpProto::Udp,
            "icmpv6" | "ipv6-icmp" => IpProto::IcmpV6,
            "sctp" => IpProto::Sctp,
            "udplite" => IpProto::UdpLite,
            other => match other.parse::<u8>() {
                Ok(n) => IpProto::from(n),
                Err(_) => {
                    return Err(Error::invalid_input(
                        format!("protocol {s:?}"),
                        "expected tcp, udp, sctp, udplite, icmp, icmpv6 or a number",
                    ));
                }
            },
        })
    }
}

/// A set type (`IPSET_ATTR_TYPENAME`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SetType {
    /// `hash:ip,port`: the type this crate models completely.
    HashIpPort,
    /// `hash:ip`
    HashIp,
    /// `hash:net`
    HashNet,
    /// `hash:ip,port,ip`
    HashIpPortIp,
    /// `hash:ip,port,net`
    HashIpPortNet,
    /// `hash:net,port`
    HashNetPort,
    /// `bitmap:ip`
    BitmapIp,
    /// `bitmap:port`
    BitmapPort,
    /// `list:set`
    ListSet,
    /// Any other type, by name.
    Other(String),
}

impl SetType {
    /// The type name on the wire.
    pub fn name(&self) -> &str {
        match self {
            SetType::HashIpPort => "hash:ip,port",
            SetType::HashIp => "hash:ip",
            SetType::HashNet => "hash:net",
            SetType::HashIpPortIp => "hash:ip,port,ip",
            SetType::HashIpPortNet => "hash:ip,port,net",
            SetType::HashNetPort => "hash:net,port",
            SetType::BitmapIp => "bitmap:ip",
            SetType::BitmapPort => "bitmap:port",
            SetType::ListSet => "list:set",
            SetType::Other(s) => s,
        }
    }
}

impl From<&str> for SetType {
    fn from(s: &str) -> Self {
        match s {
            "hash:ip,port" => SetType::HashIpPort,
            "hash:ip" => SetType::HashIp,
            "hash:net" => SetType::HashNet,
            "hash:ip,port,ip" => SetType::HashIpPortIp,
            "hash:ip,port,net" => SetType::HashIpPortNet,
            "hash:net,port" => SetType::HashNetPort,
            "bitmap:ip" => SetType::BitmapIp,
            "bitmap:port" => SetType::BitmapPort,
            "list:set" => SetType::ListSet,
            s => SetType::Other(s.to_string()),
        }
    }
}

impl fmt::Display for SetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

bitflags::bitflags! {
    /// Flags at command level (`IPSET_ATTR_FLAGS`, `enum ipset_cmd_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CmdFlags: u32 {
        /// `IPSET_FLAG_EXIST`
        const EXIST = 1 << 0;
        /// `IPSET_FLAG_LIST_SETNAME`: list names only.
        const LIST_SETNAME = 1 << 1;
        /// `IPSET_FLAG_LIST_HEADER`: list headers only.
        const LIST_HEADER = 1 << 2;
        /// `IPSET_FLAG_SKIP_COUNTER_UPDATE`
        const SKIP_COUNTER_UPDATE = 1 << 3;
        /// `IPSET_FLAG_SKIP_SUBCOUNTER_UPDATE`
        const SKIP_SUBCOUNTER_UPDATE = 1 << 4;
        /// `IPSET_FLAG_MATCH_COUNTERS`
        const MATCH_COUNTERS = 1 << 5;
        /// `IPSET_FLAG_RETURN_NOMATCH`
        const RETURN_NOMATCH = 1 << 7;
        /// `IPSET_FLAG_MAP_SKBMARK`
        const MAP_SKBMARK = 1 << 8;
        /// `IPSET_FLAG_MAP_SKBPRIO`
        const MAP_SKBPRIO = 1 << 9;
        /// `IPSET_FLAG_MAP_SKBQUEUE`
        const MAP_SKBQUEUE = 1 << 10;
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Flags at CADT level (`IPSET_ATTR_CADT_FLAGS`, `enum ipset_cadt_flags`):
    /// in create data they select the set's extensions.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CadtFlags: u32 {
        /// `IPSET_FLAG_BEFORE` (list:set elements)
        const BEFORE = 1 << 0;
        /// `IPSET_FLAG_PHYSDEV` (hash:net,iface elements)
        const PHYSDEV = 1 << 1;
        /// `IPSET_FLAG_NOMATCH` (net elements)
        const NOMATCH = 1 << 2;
        /// `IPSET_FLAG_WITH_COUNTERS`
        const WITH_COUNTERS = 1 << 3;
        /// `IPSET_FLAG_WITH_COMMENT`
        const WITH_COMMENT = 1 << 4;
        /// `IPSET_FLAG_WITH_FORCEADD`
        const WITH_FORCEADD = 1 << 5;
        /// `IPSET_FLAG_WITH_SKBINFO`
        const WITH_SKBINFO = 1 << 6;
        /// `IPSET_FLAG_IFACE_WILDCARD`
        const IFACE_WILDCARD = 1 << 7;
        const _ = !0;
    }
}

/// A timeout in seconds (`IPSET_ATTR_TIMEOUT`); 0 on an element means
/// "never expires" in a set with timeouts.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timeout(pub u32);

impl Timeout {
    /// A timeout of `secs` seconds.
    pub const fn from_secs(secs: u32) -> Self {
        Timeout(secs)
    }
    /// The timeout in seconds.
    pub const fn as_secs(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for v in [0u8, 1, 2, 10, 77] {
            assert_eq!(Family::from(v).to_u8(), v);
        }
        for v in 0..=255u8 {
            assert_eq!(IpProto::from(v).to_u8(), v);
        }
        assert_eq!("ipv6-icmp".parse::<IpProto>().unwrap(), IpProto::IcmpV6);
        assert_eq!("132".parse::<IpProto>().unwrap(), IpProto::Sctp);
        assert!("nope".parse::<IpProto>().is_err());
        for t in ["hash:ip,port", "hash:mac", "list:set"] {
            assert_eq!(SetType::from(t).name(), t);
        }
        assert_eq!(CadtFlags::from_bits_retain(0x78).bits(), 0x78);
        assert!(CadtFlags::from_bits_retain(0x8000).bits() == 0x8000);
    }
}
