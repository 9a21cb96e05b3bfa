//! `Serialize`/`Deserialize` of the types written as names (feature
//! `serde`): the names `ipvsadm` and `ipvsadm --json` use, numbers for
//! values without a name, so that every value (`Other` ones included)
//! reads back as it was written.

use std::net::Ipv4Addr;

use nl_engine::serde_support::{deserialize_flag_names, name_or_number, serialize_flag_names};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::conn_table::ConnState;
use crate::consts::*;
use crate::daemon::DaemonState;
use crate::destination::{ForwardMethod, TunnelFlags, TunnelType};
use crate::info::Version;
use crate::service::{Family, Netmask, Protocol, Scheduler, ServiceFlags};

/// A name, or the number for a value without one.
enum NameOr<'a> {
    Name(&'a str),
    Number(u64),
}

impl Serialize for NameOr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NameOr::Name(n) => s.serialize_str(n),
            NameOr::Number(n) => s.serialize_u64(*n),
        }
    }
}

/// `"tcp"`, `"udp"`, `"sctp"`, or the protocol number.
impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Protocol::Tcp => NameOr::Name("tcp"),
            Protocol::Udp => NameOr::Name("udp"),
            Protocol::Sctp => NameOr::Name("sctp"),
            Protocol::Other(n) => NameOr::Number(u64::from(*n)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a protocol: tcp, udp, sctp or a number",
            |s| match s.to_ascii_lowercase().as_str() {
                "tcp" => Some(Protocol::Tcp),
                "udp" => Some(Protocol::Udp),
                "sctp" => Some(Protocol::Sctp),
                _ => None,
            },
            |n| u16::try_from(n).ok().map(Protocol::from),
        )
    }
}

/// `"ipv4"`, `"ipv6"`, or the `AF_*` number.
impl Serialize for Family {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Family::Ipv4 => NameOr::Name("ipv4"),
            Family::Ipv6 => NameOr::Name("ipv6"),
            Family::Other(n) => NameOr::Number(u64::from(*n)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Family {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a family: ipv4, ipv6 or an AF_* number",
            |s| match s {
                "ipv4" => Some(Family::Ipv4),
                "ipv6" => Some(Family::Ipv6),
                _ => None,
            },
            |n| u16::try_from(n).ok().map(Family::from),
        )
    }
}

/// The kernel's name: `"rr"`, `"wlc"`, ... (any name reads back, unknown
/// ones as [`Scheduler::Other`]).
impl Serialize for Scheduler {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Scheduler {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a scheduler name",
            |s| Some(Scheduler::from_name(s)),
            |_| None,
        )
    }
}

const SERVICE_FLAG_NAMES: &[(&str, u64)] = &[
    ("persistent", IP_VS_SVC_F_PERSISTENT as u64),
    ("hashed", IP_VS_SVC_F_HASHED as u64),
    ("ops", IP_VS_SVC_F_ONEPACKET as u64),
    ("flag-1", IP_VS_SVC_F_SCHED1 as u64),
    ("flag-2", IP_VS_SVC_F_SCHED2 as u64),
    ("flag-3", IP_VS_SVC_F_SCHED3 as u64),
    // Read only (the first name of a bit is the one written).
    ("sh-fallback", IP_VS_SVC_F_SCHED1 as u64),
    ("sh-port", IP_VS_SVC_F_SCHED2 as u64),
    ("mh-fallback", IP_VS_SVC_F_SCHED1 as u64),
    ("mh-port", IP_VS_SVC_F_SCHED2 as u64),
];

/// A list of `ipvsadm` names (`"persistent"`, `"hashed"`, `"ops"`,
/// `"flag-1"`..`"flag-3"`; `"sh-port"` and the like read back too),
/// unknown bits as a number.
impl Serialize for ServiceFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flag_names(u64::from(self.bits()), SERVICE_FLAG_NAMES, s)
    }
}

impl<'de> Deserialize<'de> for ServiceFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = deserialize_flag_names(d, SERVICE_FLAG_NAMES)?;
        u32::try_from(bits)
            .map(ServiceFlags::from_bits_retain)
            .map_err(|_| serde::de::Error::custom("service flags beyond 32 bits"))
    }
}

/// An IPv4 mask as a string (`"255.255.255.0"`), an IPv6 prefix length
/// as a number.
impl Serialize for Netmask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Netmask::V4(m) => s.collect_str(m),
            Netmask::V6(p) => s.serialize_u32(*p),
        }
    }
}

impl<'de> Deserialize<'de> for Netmask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "an IPv4 mask or an IPv6 prefix length",
            |s| s.parse::<Ipv4Addr>().ok().map(Netmask::V4),
            |n| u32::try_from(n).ok().map(Netmask::V6),
        )
    }
}

/// `"masquerade"`, `"local"`, `"tunnel"`, `"route"`, `"bypass"`, or the
/// `IP_VS_CONN_F_*` number.
impl Serialize for ForwardMethod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ForwardMethod::Masquerade => NameOr::Name("masquerade"),
            ForwardMethod::Local => NameOr::Name("local"),
            ForwardMethod::Tunnel => NameOr::Name("tunnel"),
            ForwardMethod::DirectRoute => NameOr::Name("route"),
            ForwardMethod::Bypass => NameOr::Name("bypass"),
            ForwardMethod::Other(n) => NameOr::Number(u64::from(*n)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ForwardMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a forwarding method: masquerade, local, tunnel, route, bypass or a number",
            |s| match s {
                "masquerade" => Some(ForwardMethod::Masquerade),
                "local" => Some(ForwardMethod::Local),
                "tunnel" => Some(ForwardMethod::Tunnel),
                "route" => Some(ForwardMethod::DirectRoute),
                "bypass" => Some(ForwardMethod::Bypass),
                _ => None,
            },
            |n| u32::try_from(n).ok().map(ForwardMethod::from),
        )
    }
}

/// `"ipip"`, `"gue"`, `"gre"`, or the number.
impl Serialize for TunnelType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TunnelType::Ipip => NameOr::Name("ipip"),
            TunnelType::Gue => NameOr::Name("gue"),
            TunnelType::Gre => NameOr::Name("gre"),
            TunnelType::Other(n) => NameOr::Number(u64::from(*n)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TunnelType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a tunnel type: ipip, gue, gre or a number",
            |s| match s {
                "ipip" => Some(TunnelType::Ipip),
                "gue" => Some(TunnelType::Gue),
                "gre" => Some(TunnelType::Gre),
                _ => None,
            },
            |n| u8::try_from(n).ok().map(TunnelType::from),
        )
    }
}

/// As `ipvsadm --tun-info` shows it: `"nocsum"` (none), `"csum"`,
/// `"remcsum"`; any other combination as its number.
impl Serialize for TunnelFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.bits() {
            0 => NameOr::Name("nocsum"),
            IP_VS_TUNNEL_ENCAP_FLAG_CSUM => NameOr::Name("csum"),
            IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM => NameOr::Name("remcsum"),
            n => NameOr::Number(u64::from(n)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TunnelFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a tunnel checksum option: nocsum, csum, remcsum or a number",
            |s| match s {
                "nocsum" => Some(TunnelFlags::empty()),
                "csum" => Some(TunnelFlags::CSUM),
                "remcsum" => Some(TunnelFlags::REMCSUM),
                _ => None,
            },
            |n| u16::try_from(n).ok().map(TunnelFlags::from_bits_retain),
        )
    }
}

/// `"1.2.1"` (a number reads back too).
impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a version: \"MAJOR.MINOR.PATCH\" or a version code",
            |s| {
                let mut it = s.split('.').map(|p| p.parse::<u8>().ok());
                match (it.next(), it.next(), it.next(), it.next()) {
                    (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => {
                        Some(Version(u32::from_be_bytes([0, a, b, c])))
                    }
                    _ => None,
                }
            },
            |n| u32::try_from(n).ok().map(Version),
        )
    }
}

/// `"master"`, `"backup"`, or the number.
impl Serialize for DaemonState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DaemonState::Master => NameOr::Name("master"),
            DaemonState::Backup => NameOr::Name("backup"),
            DaemonState::Other(n) => NameOr::Number(u64::from(*n)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for DaemonState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a daemon state: master, backup or a number",
            |s| match s {
                "master" => Some(DaemonState::Master),
                "backup" => Some(DaemonState::Backup),
                _ => None,
            },
            |n| u32::try_from(n).ok().map(DaemonState::from),
        )
    }
}

/// The kernel's name (`"ESTABLISHED"`, `"UDP"`, ...).
impl Serialize for ConnState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ConnState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a connection state name",
            |s| Some(ConnState::from_name(s)),
            |_| None,
        )
    }
}
