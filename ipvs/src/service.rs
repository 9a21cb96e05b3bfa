//! Virtual services: the address (or firewall mark) clients connect to, its
//! scheduler and persistence settings (`IPVS_CMD_ATTR_SERVICE` nest).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use netlink_packet_core::Nla;
use nl_engine::wire::Attr;
use nl_engine::{DecodeError, RawAttr};

use crate::attr;
use crate::consts::*;
use crate::stats::{Stats, StatsAttr, StatsWidth};
use crate::{Error, Result};

/// A transport protocol of a service (an `IPPROTO_*` number on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
    /// Any other protocol number.
    Other(u16),
}

impl Protocol {
    /// The `IPPROTO_*` number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
            Protocol::Other(n) => n,
        }
    }
}

impl From<u16> for Protocol {
    fn from(n: u16) -> Self {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            132 => Protocol::Sctp,
            n => Protocol::Other(n),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Sctp => f.write_str("SCTP"),
            Protocol::Other(n) => write!(f, "IP_{n}"),
        }
    }
}

/// An address family (`AF_*` number on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `AF_INET`
    Ipv4,
    /// `AF_INET6`
    Ipv6,
    /// Any other number.
    Other(u16),
}

impl Family {
    /// The `AF_*` number.
    pub fn number(self) -> u16 {
        match self {
            Family::Ipv4 => AF_INET,
            Family::Ipv6 => AF_INET6,
            Family::Other(n) => n,
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

impl From<u16> for Family {
    fn from(n: u16) -> Self {
        match n {
            AF_INET => Family::Ipv4,
            AF_INET6 => Family::Ipv6,
            n => Family::Other(n),
        }
    }
}

/// A scheduling algorithm, by its kernel module name (`ip_vs_NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheduler {
    /// `rr`: round robin.
    RoundRobin,
    /// `wrr`: weighted round robin.
    WeightedRoundRobin,
    /// `lc`: least connections.
    LeastConnection,
    /// `wlc`: weighted least connections (ipvsadm's default).
    WeightedLeastConnection,
    /// `lblc`: locality-based least connections.
    LocalityBasedLeastConnection,
    /// `lblcr`: locality-based least connections with replication.
    LocalityBasedLeastConnectionReplication,
    /// `dh`: destination hashing.
    DestinationHashing,
    /// `sh`: source hashing (flags `sh-fallback`, `sh-port`).
    SourceHashing,
    /// `sed`: shortest expected delay.
    ShortestExpectedDelay,
    /// `nq`: never queue.
    NeverQueue,
    /// `fo`: weighted failover.
    WeightedFailover,
    /// `ovf`: weighted overflow.
    WeightedOverflow,
    /// `mh`: Maglev hashing (flags `mh-fallback`, `mh-port`).
    MaglevHashing,
    /// `twos`: weighted random twos choice (kernel 6.x).
    TwoRandomChoices,
    /// Any other scheduler name the kernel knows.
    Other(String),
}

impl Scheduler {
    /// The kernel's name of the scheduler.
    pub fn name(&self) -> &str {
        match self {
            Scheduler::RoundRobin => "rr",
            Scheduler::WeightedRoundRobin => "wrr",
            Scheduler::LeastConnection => "lc",
            Scheduler::WeightedLeastConnection => "wlc",
            Scheduler::LocalityBasedLeastConnection => "lblc",
            Scheduler::LocalityBasedLeastConnectionReplication => "lblcr",
            Scheduler::DestinationHashing => "dh",
            Scheduler::SourceHashing => "sh",
            Scheduler::ShortestExpectedDelay => "sed",
            Scheduler::NeverQueue => "nq",
            Scheduler::WeightedFailover => "fo",
            Scheduler::WeightedOverflow => "ovf",
            Scheduler::MaglevHashing => "mh",
            Scheduler::TwoRandomChoices => "twos",
            Scheduler::Other(s) => s,
        }
    }

    /// The scheduler called `name` (never fails: unknown names become
    /// [`Scheduler::Other`]).
    pub fn from_name(name: &str) -> Self {
        match name {
            "rr" => Scheduler::RoundRobin,
            "wrr" => Scheduler::WeightedRoundRobin,
            "lc" => Scheduler::LeastConnection,
            "wlc" => Scheduler::WeightedLeastConnection,
            "lblc" => Scheduler::LocalityBasedLeastConnection,
            "lblcr" => Scheduler::LocalityBasedLeastConnectionReplication,
            "dh" => Scheduler::DestinationHashing,
            "sh" => Scheduler::SourceHashing,
            "sed" => Scheduler::ShortestExpectedDelay,
            "nq" => Scheduler::NeverQueue,
            "fo" => Scheduler::WeightedFailover,
            "ovf" => Scheduler::WeightedOverflow,
            "mh" => Scheduler::MaglevHashing,
            "twos" => Scheduler::TwoRandomChoices,
            other => Scheduler::Other(other.to_owned()),
        }
    }
}

impl Default for Scheduler {
    /// `wlc`, as `ipvsadm`.
    fn default() -> Self {
        Scheduler::WeightedLeastConnection
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheduler {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Scheduler::from_name(s))
    }
}

bitflags::bitflags! {
    /// Service flags (`IP_VS_SVC_F_*`), sent as the 8-byte `{flags, mask}`
    /// pair of `struct ip_vs_flags`. Scheduler flags carry their ipvsadm
    /// names as aliases of `flag-1..3`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ServiceFlags: u32 {
        /// `persistent`: connections of a client stick to one destination.
        const PERSISTENT = IP_VS_SVC_F_PERSISTENT;
        /// `hashed`: set by the kernel on every service it holds.
        const HASHED = IP_VS_SVC_F_HASHED;
        /// `ops`: one-packet scheduling (UDP only).
        const ONE_PACKET = IP_VS_SVC_F_ONEPACKET;
        /// `flag-1` (`IP_VS_SVC_F_SCHED1`).
        const SCHED_FLAG1 = IP_VS_SVC_F_SCHED1;
        /// `flag-2` (`IP_VS_SVC_F_SCHED2`).
        const SCHED_FLAG2 = IP_VS_SVC_F_SCHED2;
        /// `flag-3` (`IP_VS_SVC_F_SCHED3`).
        const SCHED_FLAG3 = IP_VS_SVC_F_SCHED3;
        /// `sh-fallback` (= `flag-1`, `IP_VS_SVC_F_SCHED_SH_FALLBACK`).
        const SH_FALLBACK = IP_VS_SVC_F_SCHED1;
        /// `sh-port` (= `flag-2`, `IP_VS_SVC_F_SCHED_SH_PORT`).
        const SH_PORT = IP_VS_SVC_F_SCHED2;
        /// `mh-fallback` (= `flag-1`, `IP_VS_SVC_F_SCHED_MH_FALLBACK`).
        const MH_FALLBACK = IP_VS_SVC_F_SCHED1;
        /// `mh-port` (= `flag-2`, `IP_VS_SVC_F_SCHED_MH_PORT`).
        const MH_PORT = IP_VS_SVC_F_SCHED2;
        // Unknown bits are kept.
        const _ = !0;
    }
}

/// The persistence netmask: which client addresses share a persistent
/// destination. IPv4 services use a mask, IPv6 services a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// An IPv4 mask (`255.255.255.255` by default).
    V4(Ipv4Addr),
    /// An IPv6 prefix length (128 by default; the kernel accepts 1..=128).
    V6(u32),
}

impl Netmask {
    /// The default for a family: a host mask.
    pub fn host(family: Family) -> Self {
        match family {
            Family::Ipv6 => Netmask::V6(128),
            _ => Netmask::V4(Ipv4Addr::BROADCAST),
        }
    }

    fn wire(self) -> [u8; 4] {
        match self {
            Netmask::V4(m) => m.octets(),
            Netmask::V6(p) => p.to_ne_bytes(),
        }
    }

    fn from_wire(family: Family, b: [u8; 4]) -> Self {
        match family {
            Family::Ipv6 => Netmask::V6(u32::from_ne_bytes(b)),
            _ => Netmask::V4(Ipv4Addr::from(b)),
        }
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netmask::V4(m) => write!(f, "{m}"),
            Netmask::V6(p) => write!(f, "{p}"),
        }
    }
}

/// What identifies a service: protocol, address and port, or a firewall
/// mark.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// A TCP, UDP or SCTP virtual address and port.
    Addr {
        /// The protocol.
        protocol: Protocol,
        /// The virtual address and port.
        addr: SocketAddr,
    },
    /// Packets carrying this firewall mark (`ipvsadm -f`), of one family.
    Fwmark {
        /// The address family the mark applies to.
        family: Family,
        /// The mark.
        mark: u32,
    },
}

/// The attributes of a service nest that make its key, gathered as they
/// come (the full decoder and the key-only decoder read them alike).
#[derive(Default)]
struct KeyParts<'a> {
    af: Option<u16>,
    proto: Option<u16>,
    addr: Option<&'a [u8]>,
    port: Option<u16>,
    fwmark: Option<u32>,
}

impl<'a> KeyParts<'a> {
    /// Keeps the attribute `kind` with value `v` if it belongs to the key
    /// (then `true`; an address of another size than 4 or 16 does not).
    fn take(&mut self, kind: u16, v: &'a [u8]) -> std::result::Result<bool, DecodeError> {
        match kind {
            IPVS_SVC_ATTR_AF => self.af = Some(attr::u16_ne(v, "service af")?),
            IPVS_SVC_ATTR_PROTOCOL => self.proto = Some(attr::u16_ne(v, "service protocol")?),
            IPVS_SVC_ATTR_ADDR if v.len() == 4 || v.len() == 16 => self.addr = Some(v),
            IPVS_SVC_ATTR_PORT => self.port = Some(attr::u16_be(v, "service port")?),
            IPVS_SVC_ATTR_FWMARK => self.fwmark = Some(attr::u32_ne(v, "service fwmark")?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The key: the firewall mark when it is set (or there is no
    /// address), else protocol, address and port.
    fn key(self) -> std::result::Result<ServiceKey, DecodeError> {
        let af = self.af.ok_or("service without address family")?;
        Ok(match (self.fwmark, self.proto, self.addr) {
            (Some(mark), _, _) if mark != 0 || self.addr.is_none() => ServiceKey::Fwmark {
                family: Family::from(af),
                mark,
            },
            (_, Some(p), Some(a)) => ServiceKey::Addr {
                protocol: Protocol::from(p),
                addr: SocketAddr::new(attr::parse_addr(Some(af), a)?, self.port.unwrap_or(0)),
            },
            _ => return Err("service with neither fwmark nor protocol and address".into()),
        })
    }
}

impl ServiceKey {
    /// `-t ADDR:PORT`
    pub fn tcp(addr: SocketAddr) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
        }
    }
    /// `-u ADDR:PORT`
    pub fn udp(addr: SocketAddr) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
        }
    }
    /// `--sctp-service ADDR:PORT`
    pub fn sctp(addr: SocketAddr) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr,
        }
    }
    /// `-f MARK` (IPv4)
    pub fn fwmark(mark: u32) -> Self {
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark,
        }
    }
    /// `-f MARK -6`
    pub fn fwmark6(mark: u32) -> Self {
        ServiceKey::Fwmark {
            family: Family::Ipv6,
            mark,
        }
    }

    /// The address family of the service.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(&addr.ip()),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// The identifying attributes alone (what `GET_DEST` dumps take).
    pub(crate) fn attrs(&self) -> Vec<ServiceAttr> {
        let mut v = vec![ServiceAttr::Af(self.family().number())];
        match self {
            ServiceKey::Addr { protocol, addr } => {
                v.push(ServiceAttr::Protocol(protocol.number()));
                v.push(ServiceAttr::Addr(attr::addr_bytes(&addr.ip()).to_vec()));
                v.push(ServiceAttr::Port(addr.port()));
            }
            ServiceKey::Fwmark { mark, .. } => v.push(ServiceAttr::Fwmark(*mark)),
        }
        v
    }

    /// [`attrs`](Self::attrs), appended straight to `buf` (the bulk path;
    /// the same bytes, see the test `fast_requests_match_the_typed_encoder`).
    pub(crate) fn append_attrs(&self, buf: &mut Vec<u8>) {
        attr::append_bytes(buf, IPVS_SVC_ATTR_AF, &self.family().number().to_ne_bytes());
        match self {
            ServiceKey::Addr { protocol, addr } => {
                attr::append_bytes(
                    buf,
                    IPVS_SVC_ATTR_PROTOCOL,
                    &protocol.number().to_ne_bytes(),
                );
                attr::append_addr(buf, IPVS_SVC_ATTR_ADDR, &addr.ip());
                attr::append_bytes(buf, IPVS_SVC_ATTR_PORT, &addr.port().to_be_bytes());
            }
            ServiceKey::Fwmark { mark, .. } => {
                attr::append_bytes(buf, IPVS_SVC_ATTR_FWMARK, &mark.to_ne_bytes())
            }
        }
    }

    /// [`attrs_full`](Self::attrs_full), appended straight to `buf`.
    pub(crate) fn append_attrs_full(&self, buf: &mut Vec<u8>, netmask: Option<Netmask>) {
        self.append_attrs(buf);
        attr::append_cstr(buf, IPVS_SVC_ATTR_SCHED_NAME, "");
        append_flags(buf, 0, !0);
        attr::append_bytes(buf, IPVS_SVC_ATTR_TIMEOUT, &0u32.to_ne_bytes());
        let m = netmask.map_or([0; 4], |m| m.wire());
        attr::append_bytes(buf, IPVS_SVC_ATTR_NETMASK, &m);
    }

    /// The key with the neutral settings `ipvsadm` sends along when it only
    /// names a service (delete, zero, destination changes): empty scheduler,
    /// no flags, no timeout, `netmask`.
    pub(crate) fn attrs_full(&self, netmask: Option<Netmask>) -> Vec<ServiceAttr> {
        let mut v = self.attrs();
        v.push(ServiceAttr::SchedName(String::new()));
        v.push(ServiceAttr::Flags { flags: 0, mask: !0 });
        v.push(ServiceAttr::Timeout(0));
        v.push(ServiceAttr::Netmask(match netmask {
            Some(m) => m.wire(),
            None => [0; 4],
        }));
        v
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { protocol, addr } => write!(f, "{protocol} {addr}"),
            ServiceKey::Fwmark { family, mark } => match family {
                Family::Ipv4 => write!(f, "FWM {mark}"),
                Family::Ipv6 => write!(f, "FWM {mark} IPv6"),
                Family::Other(n) => write!(f, "FWM {mark} family {n}"),
            },
        }
    }
}

/// One attribute of the service nest (`IPVS_SVC_ATTR_*`), as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceAttr {
    /// `IPVS_SVC_ATTR_AF` (u16)
    Af(u16),
    /// `IPVS_SVC_ATTR_PROTOCOL` (u16)
    Protocol(u16),
    /// `IPVS_SVC_ATTR_ADDR` (4 or 16 bytes, network order)
    Addr(Vec<u8>),
    /// `IPVS_SVC_ATTR_PORT` (be16)
    Port(u16),
    /// `IPVS_SVC_ATTR_FWMARK` (u32)
    Fwmark(u32),
    /// `IPVS_SVC_ATTR_SCHED_NAME` (string)
    SchedName(String),
    /// `IPVS_SVC_ATTR_FLAGS` (`struct ip_vs_flags`)
    Flags {
        /// The flag values.
        flags: u32,
        /// Which flags to change.
        mask: u32,
    },
    /// `IPVS_SVC_ATTR_TIMEOUT` (u32 seconds)
    Timeout(u32),
    /// `IPVS_SVC_ATTR_NETMASK` (4 bytes: an IPv4 mask, or an IPv6 prefix length as u32)
    Netmask([u8; 4]),
    /// `IPVS_SVC_ATTR_STATS`
    Stats(Vec<StatsAttr>),
    /// `IPVS_SVC_ATTR_PE_NAME` (string)
    PeName(String),
    /// `IPVS_SVC_ATTR_STATS64`
    Stats64(Vec<StatsAttr>),
    /// Any other attribute, kept as received.
    Other(RawAttr),
}

impl Nla for ServiceAttr {
    fn value_len(&self) -> usize {
        use ServiceAttr::*;
        match self {
            Af(_) | Protocol(_) | Port(_) => 2,
            Addr(a) => a.len(),
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            SchedName(s) | PeName(s) => s.len() + 1,
            Flags { .. } => 8,
            Stats(a) | Stats64(a) => a.as_slice().buffer_len(),
            Other(n) => n.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use ServiceAttr::*;
        match self {
            Af(_) => IPVS_SVC_ATTR_AF,
            Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            Addr(_) => IPVS_SVC_ATTR_ADDR,
            Port(_) => IPVS_SVC_ATTR_PORT,
            Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            Flags { .. } => IPVS_SVC_ATTR_FLAGS,
            Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            Stats(_) => IPVS_SVC_ATTR_STATS,
            PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            Stats64(_) => IPVS_SVC_ATTR_STATS64,
            Other(n) => n.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use ServiceAttr::*;
        match self {
            Af(v) | Protocol(v) => attr::put(buffer, &v.to_ne_bytes()),
            Port(v) => attr::put(buffer, &v.to_be_bytes()),
            Addr(a) => attr::put(buffer, a),
            Fwmark(v) | Timeout(v) => attr::put(buffer, &v.to_ne_bytes()),
            Netmask(b) => attr::put(buffer, b),
            SchedName(s) | PeName(s) => attr::put(buffer, &attr::cstr(s)),
            Flags { flags, mask } => {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&flags.to_ne_bytes());
                b[4..].copy_from_slice(&mask.to_ne_bytes());
                attr::put(buffer, &b)
            }
            Stats(a) | Stats64(a) => attr::emit_all(buffer, a),
            Other(n) => n.emit_value(buffer),
        }
    }
}

use netlink_packet_core::Emitable;

impl ServiceAttr {
    /// Parses one attribute of a service nest.
    pub fn parse(buf: &Attr<'_>) -> std::result::Result<Self, DecodeError> {
        let v = buf.value;
        Ok(match buf.kind() {
            IPVS_SVC_ATTR_AF => ServiceAttr::Af(attr::u16_ne(v, "service af")?),
            IPVS_SVC_ATTR_PROTOCOL => ServiceAttr::Protocol(attr::u16_ne(v, "service protocol")?),
            IPVS_SVC_ATTR_ADDR if v.len() == 4 || v.len() == 16 => ServiceAttr::Addr(v.to_vec()),
            IPVS_SVC_ATTR_PORT => ServiceAttr::Port(attr::u16_be(v, "service port")?),
            IPVS_SVC_ATTR_FWMARK => ServiceAttr::Fwmark(attr::u32_ne(v, "service fwmark")?),
            IPVS_SVC_ATTR_SCHED_NAME => ServiceAttr::SchedName(attr::string(v, "scheduler")?),
            IPVS_SVC_ATTR_FLAGS => match v.split_first_chunk::<4>() {
                Some((flags, mask)) if mask.len() == 4 => ServiceAttr::Flags {
                    flags: attr::u32_ne(flags, "service flags")?,
                    mask: attr::u32_ne(mask, "service flags mask")?,
                },
                _ => ServiceAttr::Other(attr::unknown(buf)),
            },
            IPVS_SVC_ATTR_TIMEOUT => ServiceAttr::Timeout(attr::u32_ne(v, "service timeout")?),
            IPVS_SVC_ATTR_NETMASK => match <[u8; 4]>::try_from(v) {
                Ok(mask) => ServiceAttr::Netmask(mask),
                Err(_) => ServiceAttr::Other(attr::unknown(buf)),
            },
            IPVS_SVC_ATTR_STATS => ServiceAttr::Stats(StatsAttr::parse_nest(v)?),
            IPVS_SVC_ATTR_PE_NAME => ServiceAttr::PeName(attr::string(v, "pe name")?),
            IPVS_SVC_ATTR_STATS64 => ServiceAttr::Stats64(StatsAttr::parse_nest(v)?),
            _ => ServiceAttr::Other(attr::unknown(buf)),
        })
    }

    /// Parses a whole service nest.
    pub fn parse_nest(value: &[u8]) -> std::result::Result<Vec<Self>, DecodeError> {
        attr::parse_all(value, ServiceAttr::parse)
    }
}

/// A virtual service: what `ipvsadm -A`/`-E` configure and `-L` lists.
///
/// Built like the command it replaces:
///
/// ```no_run
/// use ipvs_nl::{IpvsHandle, Scheduler, Service, ServiceFlags};
/// use std::time::Duration;
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = IpvsHandle::new().await?;
/// // ipvsadm -A -t 10.0.0.1:80 -s rr -p 300
/// let web = Service::tcp("10.0.0.1:80".parse().unwrap())
///     .scheduler(Scheduler::RoundRobin)
///     .persistent(Duration::from_secs(300));
/// ipvs.add_service(&web).await?;
/// // ipvsadm -A -f 7 -s sh -b sh-fallback,sh-port
/// let marked = Service::fwmark(7)
///     .scheduler(Scheduler::SourceHashing)
///     .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT);
/// ipvs.add_service(&marked).await?;
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// What identifies the service.
    pub key: ServiceKey,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Flags (persistence, one-packet, scheduler flags).
    pub flags: ServiceFlags,
    /// Which flags an edit changes (all by default; the kernel reports all).
    pub flags_mask: u32,
    /// The persistence timeout (meaningful with [`ServiceFlags::PERSISTENT`]).
    #[cfg_attr(feature = "serde", serde(with = "nl_engine::serde_support::secs"))]
    pub timeout: Duration,
    /// The persistence netmask.
    pub netmask: Netmask,
    /// The persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
    /// Statistics, as the kernel reported them (never sent). Boxed: a
    /// service built to be sent carries none, and its size is what bulk
    /// plans and desired states are made of.
    pub stats: Option<Box<Stats>>,
    /// Attributes this crate does not know, re-emitted as they came.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl Service {
    /// A service with `ipvsadm`'s defaults (`wlc`, no persistence).
    pub fn new(key: ServiceKey) -> Self {
        Service {
            key,
            scheduler: Scheduler::default(),
            flags: ServiceFlags::empty(),
            flags_mask: !0,
            timeout: Duration::ZERO,
            netmask: Netmask::host(key.family()),
            pe_name: None,
            stats: None,
            unknown: Vec::new(),
        }
    }
    /// `-t ADDR:PORT`
    pub fn tcp(addr: SocketAddr) -> Self {
        Self::new(ServiceKey::tcp(addr))
    }
    /// `-u ADDR:PORT`
    pub fn udp(addr: SocketAddr) -> Self {
        Self::new(ServiceKey::udp(addr))
    }
    /// `--sctp-service ADDR:PORT`
    pub fn sctp(addr: SocketAddr) -> Self {
        Self::new(ServiceKey::sctp(addr))
    }
    /// `-f MARK` (IPv4)
    pub fn fwmark(mark: u32) -> Self {
        Self::new(ServiceKey::fwmark(mark))
    }
    /// `-f MARK -6`
    pub fn fwmark6(mark: u32) -> Self {
        Self::new(ServiceKey::fwmark6(mark))
    }
    /// `-s NAME`
    pub fn scheduler(mut self, s: Scheduler) -> Self {
        self.scheduler = s;
        self
    }
    /// `-b FLAGS` (adds to the flags already set).
    pub fn flags(mut self, f: ServiceFlags) -> Self {
        self.flags |= f;
        self
    }
    /// `-p SECONDS`: persistence with this timeout.
    pub fn persistent(mut self, timeout: Duration) -> Self {
        self.flags |= ServiceFlags::PERSISTENT;
        self.timeout = timeout;
        self
    }
    /// `-M NETMASK` (IPv4 mask or IPv6 prefix length).
    pub fn netmask(mut self, m: Netmask) -> Self {
        self.netmask = m;
        self
    }
    /// `-o`: one-packet scheduling (UDP only).
    pub fn one_packet(mut self) -> Self {
        self.flags |= ServiceFlags::ONE_PACKET;
        self
    }
    /// `--pe NAME` (`sip`).
    pub fn persistence_engine(mut self, name: &str) -> Self {
        self.pe_name = Some(name.to_owned());
        self
    }

    /// The identifying key.
    pub fn key(&self) -> ServiceKey {
        self.key
    }
    /// Statistics (64-bit when the kernel sent them, else the 32-bit block).
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_deref()
    }
    /// True when persistent.
    pub fn is_persistent(&self) -> bool {
        self.flags.contains(ServiceFlags::PERSISTENT)
    }

    /// Checks what `ipvsadm` refuses before sending (the kernel accepts it
    /// silently): one-packet scheduling on a non-UDP service, and names
    /// longer than the kernel keeps. Scheduler flags are not checked against
    /// the scheduler: `flag-1..3` are valid with any scheduler (the kernel and
    /// ipvsadm accept them), and the `sh-*`/`mh-*` names are aliases of the
    /// same bits.
    pub fn validate(&self) -> Result<()> {
        if self.flags.contains(ServiceFlags::ONE_PACKET) {
            let udp = matches!(
                self.key,
                ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    ..
                } | ServiceKey::Fwmark { .. }
            );
            if !udp {
                return Err(Error::invalid_input(
                    format!("flags of service {}", self.key),
                    "one-packet scheduling is only for UDP virtual services",
                ));
            }
        }
        if let Some(pe) = &self.pe_name {
            if pe.len() >= IP_VS_PENAME_MAXLEN {
                return Err(Error::invalid_input(
                    format!("persistence engine {pe:?}"),
                    "name too long",
                ));
            }
        }
        if self.scheduler.name().len() >= IP_VS_SCHEDNAME_MAXLEN {
            return Err(Error::invalid_input(
                format!("scheduler {:?}", self.scheduler.name()),
                "name too long",
            ));
        }
        Ok(())
    }

    /// The attributes of an add or edit, in `ipvsadm`'s order.
    pub fn to_attrs(&self) -> Vec<ServiceAttr> {
        let mut v = self.key.attrs();
        v.push(ServiceAttr::SchedName(self.scheduler.name().to_owned()));
        if let Some(pe) = &self.pe_name {
            v.push(ServiceAttr::PeName(pe.clone()));
        }
        v.push(ServiceAttr::Flags {
            flags: self.flags.bits(),
            mask: self.flags_mask,
        });
        v.push(ServiceAttr::Timeout(
            u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX),
        ));
        v.push(ServiceAttr::Netmask(self.netmask.wire()));
        v.extend(self.unknown.iter().cloned().map(ServiceAttr::Other));
        v
    }

    /// [`to_attrs`](Self::to_attrs), appended straight to `buf` (the bulk
    /// path; the same bytes).
    pub(crate) fn append_attrs(&self, buf: &mut Vec<u8>) {
        self.key.append_attrs(buf);
        attr::append_cstr(buf, IPVS_SVC_ATTR_SCHED_NAME, self.scheduler.name());
        if let Some(pe) = &self.pe_name {
            attr::append_cstr(buf, IPVS_SVC_ATTR_PE_NAME, pe);
        }
        append_flags(buf, self.flags.bits(), self.flags_mask);
        let timeout = u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX);
        attr::append_bytes(buf, IPVS_SVC_ATTR_TIMEOUT, &timeout.to_ne_bytes());
        attr::append_bytes(buf, IPVS_SVC_ATTR_NETMASK, &self.netmask.wire());
        for n in &self.unknown {
            attr::append_typed(buf, &ServiceAttr::Other(n.clone()));
        }
    }

    /// Reads a service nest (typed attributes).
    pub fn from_attrs(attrs: &[ServiceAttr]) -> std::result::Result<Self, DecodeError> {
        // One decoder: the typed attributes are read back from their bytes.
        Service::decode(&attr::to_bytes(attrs))
    }

    /// Reads a service nest straight from the kernel's bytes (the dump
    /// read path: no attribute tree, no allocation but an unknown
    /// scheduler's or persistence engine's name and unknown attributes).
    /// A known attribute of an unexpected size is kept as unknown, as
    /// [`ServiceAttr::parse`] does.
    pub fn decode(nest: &[u8]) -> std::result::Result<Self, DecodeError> {
        Service::decode_with(nest, true).map_err(|e| e.in_object("service"))
    }

    /// The key of a service nest alone (the other attributes skipped
    /// unread): what a re-read of the service dump compares.
    pub(crate) fn decode_key(nest: &[u8]) -> std::result::Result<ServiceKey, DecodeError> {
        let read = || {
            let mut key = KeyParts::default();
            for a in attr::each(nest) {
                let a = a?;
                key.take(a.kind(), a.value)?;
            }
            key.key()
        };
        read().map_err(|e| e.in_object("service"))
    }

    /// [`decode`](Self::decode), statistics skipped unread when `stats` is
    /// false (configuration reads: [`IpvsHandle::config_snapshot`](crate::IpvsHandle::config_snapshot)).
    pub(crate) fn decode_with(nest: &[u8], stats: bool) -> std::result::Result<Self, DecodeError> {
        let mut key = KeyParts::default();
        let mut sched = None;
        let mut flags = (0, !0);
        let mut timeout = 0;
        let mut netmask = None;
        let mut pe = None;
        let mut s32 = None;
        let mut s64 = None;
        let mut unknown = Vec::new();
        for a in attr::each(nest) {
            let a = a?;
            let v = a.value;
            if key.take(a.kind(), v)? {
                continue;
            }
            match a.kind() {
                IPVS_SVC_ATTR_SCHED_NAME => sched = Some(attr::str_of(v, "scheduler")?),
                IPVS_SVC_ATTR_FLAGS if v.len() == 8 => {
                    let (f, m) = v.split_at(4);
                    flags = (
                        attr::u32_ne(f, "service flags")?,
                        attr::u32_ne(m, "service flags mask")?,
                    );
                }
                IPVS_SVC_ATTR_TIMEOUT => timeout = attr::u32_ne(v, "service timeout")?,
                IPVS_SVC_ATTR_NETMASK if v.len() == 4 => netmask = <[u8; 4]>::try_from(v).ok(),
                IPVS_SVC_ATTR_STATS | IPVS_SVC_ATTR_STATS64 if !stats => {}
                IPVS_SVC_ATTR_STATS => s32 = Some(Stats::decode(v, StatsWidth::Bits32)?),
                IPVS_SVC_ATTR_PE_NAME => pe = Some(attr::string(v, "pe name")?),
                IPVS_SVC_ATTR_STATS64 => s64 = Some(Stats::decode(v, StatsWidth::Bits64)?),
                _ => unknown.push(attr::unknown(&a)),
            }
        }
        let key = key.key()?;
        // The netmask follows the address actually read: with an unknown
        // `af`, a 16-byte address is IPv6 (found by fuzzing: the netmask
        // was read as IPv4 and the service did not survive a round trip).
        let family = key.family();
        Ok(Service {
            key,
            scheduler: Scheduler::from_name(sched.unwrap_or_default()),
            flags: ServiceFlags::from_bits_retain(flags.0),
            flags_mask: flags.1,
            timeout: Duration::from_secs(u64::from(timeout)),
            netmask: netmask
                .map(|b| Netmask::from_wire(family, b))
                .unwrap_or(Netmask::host(family)),
            pe_name: pe,
            stats: s64.or(s32).map(Box::new),
            unknown,
        })
    }
}

/// `IPVS_SVC_ATTR_FLAGS` (`struct ip_vs_flags`), appended.
fn append_flags(buf: &mut Vec<u8>, flags: u32, mask: u32) {
    let mut b = [0u8; 8];
    let (f, m) = b.split_at_mut(4);
    f.copy_from_slice(&flags.to_ne_bytes());
    m.copy_from_slice(&mask.to_ne_bytes());
    attr::append_bytes(buf, IPVS_SVC_ATTR_FLAGS, &b);
}

impl fmt::Display for Family {
    /// `IPv4`, `IPv6`, or `AF n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Family::Ipv4 => f.write_str("IPv4"),
            Family::Ipv6 => f.write_str("IPv6"),
            Family::Other(n) => write!(f, "AF {n}"),
        }
    }
}

impl fmt::Display for ServiceFlags {
    /// The flags by their `ipvsadm` names, comma-separated (`persistent`,
    /// `hashed`, `ops`, `flag-1`..`flag-3`; unknown bits in hex); `none`
    /// when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (ServiceFlags::PERSISTENT, "persistent"),
            (ServiceFlags::HASHED, "hashed"),
            (ServiceFlags::ONE_PACKET, "ops"),
            (ServiceFlags::SCHED_FLAG1, "flag-1"),
            (ServiceFlags::SCHED_FLAG2, "flag-2"),
            (ServiceFlags::SCHED_FLAG3, "flag-3"),
        ];
        let mut rest = self.bits();
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                f.write_str(if first { "" } else { "," })?;
                f.write_str(name)?;
                rest &= !flag.bits();
                first = false;
            }
        }
        if rest != 0 {
            write!(f, "{}{rest:#x}", if first { "" } else { "," })?;
        } else if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl Service {
    /// The scheduler flags by the names `ipvsadm` gives them for this
    /// scheduler (`sh-fallback`, `mh-port`, `flag-3`, ...).
    pub(crate) fn sched_flag_names(&self) -> Vec<&'static str> {
        let (one, two) = match self.scheduler.name() {
            "sh" => ("sh-fallback", "sh-port"),
            "mh" => ("mh-fallback", "mh-port"),
            _ => ("flag-1", "flag-2"),
        };
        [
            (ServiceFlags::SCHED_FLAG1, one),
            (ServiceFlags::SCHED_FLAG2, two),
            (ServiceFlags::SCHED_FLAG3, "flag-3"),
        ]
        .into_iter()
        .filter(|(flag, _)| self.flags.contains(*flag))
        .map(|(_, name)| name)
        .collect()
    }
}

impl fmt::Display for Service {
    /// The service line of `ipvsadm -Ln`: key (as ipvsadm writes it, the
    /// protocol in a 4-wide column), scheduler, scheduler flags,
    /// persistence (timeout, a netmask other than a host's, engine), `ops`.
    ///
    /// ```
    /// use ipvs_nl::{Scheduler, Service};
    /// let s = Service::tcp("10.0.0.1:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
    /// assert_eq!(s.to_string(), "TCP  10.0.0.1:80 rr");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            ServiceKey::Addr { protocol, addr } => {
                let p = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                    _ => "?",
                };
                write!(f, "{p:<4} {addr}")?;
            }
            ServiceKey::Fwmark { family, mark } => {
                write!(f, "FWM  {mark}")?;
                if family == Family::Ipv6 {
                    f.write_str(" IPv6")?;
                }
            }
        }
        write!(f, " {}", self.scheduler)?;
        let sched = self.sched_flag_names();
        if !sched.is_empty() {
            write!(f, " ({})", sched.join(","))?;
        }
        if self.flags.contains(ServiceFlags::PERSISTENT) {
            write!(f, " persistent {}", self.timeout.as_secs())?;
            if self.netmask != Netmask::host(self.key.family()) {
                write!(f, " mask {}", self.netmask)?;
            }
            if let Some(pe) = self.pe_name.as_deref().filter(|p| !p.is_empty()) {
                write!(f, " pe {pe}")?;
            }
        }
        if self.flags.contains(ServiceFlags::ONE_PACKET) {
            f.write_str(" ops")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz target `ipvs_message`): an unknown address
    /// family with a 16-byte address gave an IPv6 key with an IPv4 netmask.
    #[test]
    fn netmask_follows_the_address_read() {
        let attrs = [
            ServiceAttr::Af(96),
            ServiceAttr::Protocol(6),
            ServiceAttr::Addr([10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].to_vec()),
            ServiceAttr::Port(443),
        ];
        let s = Service::from_attrs(&attrs).unwrap();
        assert_eq!(s.key.family(), Family::Ipv6);
        assert_eq!(s.netmask, Netmask::host(Family::Ipv6));
        assert_eq!(Service::from_attrs(&s.to_attrs()).unwrap(), s);
    }

    /// The key-only decoder (the confirming re-read of a service dump)
    /// reads the key the full decoder reads, for every kind of key, and
    /// refuses what the full decoder refuses.
    #[test]
    fn the_key_alone_is_the_key_of_the_service() {
        let v6: std::net::IpAddr = "2001:db8::7".parse().unwrap();
        let services = [
            Service::tcp(SocketAddr::from(([10, 0, 0, 1], 80))),
            Service::udp(SocketAddr::new(v6, 53)),
            Service::sctp(SocketAddr::from(([10, 0, 0, 2], 0))),
            Service::fwmark(7),
            Service::fwmark6(u32::MAX),
            Service::new(ServiceKey::Addr {
                protocol: Protocol::Other(99),
                addr: SocketAddr::from(([192, 0, 2, 1], 65535)),
            }),
        ];
        for s in &services {
            let mut nest = Vec::new();
            s.append_attrs(&mut nest);
            assert_eq!(Service::decode_key(&nest).unwrap(), s.key, "{s:?}");
            assert_eq!(Service::decode(&nest).unwrap().key, s.key, "{s:?}");
        }
        // the fuzz case above: unknown family, 16-byte address
        let attrs = [
            ServiceAttr::Af(96),
            ServiceAttr::Protocol(6),
            ServiceAttr::Addr([10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].to_vec()),
            ServiceAttr::Port(443),
        ];
        let nest = attr::to_bytes(&attrs);
        assert_eq!(
            Service::decode_key(&nest).unwrap(),
            Service::decode(&nest).unwrap().key
        );
        // malformed or keyless nests are refused, naming the service
        let keyless = attr::to_bytes(&[ServiceAttr::Af(2), ServiceAttr::Port(80)]);
        for bad in [&[9u8, 0, 1, 0][..], &keyless] {
            assert!(Service::decode(bad).is_err());
            let e = Service::decode_key(bad).unwrap_err();
            assert_eq!(e.object(), Some("service"), "{e}");
        }
    }

    /// A malformed nest is a `DecodeError` naming the object, which
    /// becomes an `Error::Decode` with the operation's context.
    #[test]
    fn decode_errors_name_the_service() {
        // an attribute claiming 9 bytes where 4 are left
        let e = Service::decode(&[9, 0, 1, 0]).unwrap_err();
        assert_eq!(e.object(), Some("service"));
        assert!(e.reason().contains("out of bounds"), "{e}");
        let e = e.into_error("list services");
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        assert!(e.to_string().contains("service: attribute length 9"), "{e}");
    }
}
