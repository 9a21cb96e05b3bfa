//! Destinations (real servers) of a service (`IPVS_CMD_ATTR_DEST` nest).

use std::fmt;
use std::net::IpAddr;

use netlink_packet_core::{Emitable, Nla};
use nl_engine::wire::{Attr, FixedAttrs};
use nl_engine::{DecodeError, RawAttr};

use crate::attr;
use crate::consts::*;
use crate::service::Family;
use crate::stats::{Stats, StatsAttr, StatsWidth};

/// The attributes every destination's add, edit or delete carries, in
/// bytes: family (2), address (16), port (2), forwarding method (4),
/// weight (4), tunnel type (1), tunnel port (2), tunnel flags (2), upper
/// and lower thresholds (4 each), each with its 4-byte header and padded
/// to 4 bytes.
const FIXED_ATTRS_LEN: usize = 8 + 20 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8;

/// How packets reach a destination (`IP_VS_CONN_F_*` forwarding methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ForwardMethod {
    /// `-m`: masquerading (NAT).
    Masquerade,
    /// Local node (the kernel picks this for a destination on this host).
    Local,
    /// `-i`: IP-in-IP (or GUE/GRE) tunnelling.
    Tunnel,
    /// `-g`: direct routing (gatewaying), `ipvsadm`'s default.
    #[default]
    DirectRoute,
    /// Cache bypass.
    Bypass,
    /// Any other value of the forwarding bits.
    Other(u32),
}

impl ForwardMethod {
    /// The `IP_VS_CONN_F_*` value.
    pub fn number(self) -> u32 {
        match self {
            ForwardMethod::Masquerade => IP_VS_CONN_F_MASQ,
            ForwardMethod::Local => IP_VS_CONN_F_LOCALNODE,
            ForwardMethod::Tunnel => IP_VS_CONN_F_TUNNEL,
            ForwardMethod::DirectRoute => IP_VS_CONN_F_DROUTE,
            ForwardMethod::Bypass => IP_VS_CONN_F_BYPASS,
            ForwardMethod::Other(n) => n,
        }
    }
}

impl From<u32> for ForwardMethod {
    fn from(n: u32) -> Self {
        match n {
            IP_VS_CONN_F_MASQ => ForwardMethod::Masquerade,
            IP_VS_CONN_F_LOCALNODE => ForwardMethod::Local,
            IP_VS_CONN_F_TUNNEL => ForwardMethod::Tunnel,
            IP_VS_CONN_F_DROUTE => ForwardMethod::DirectRoute,
            IP_VS_CONN_F_BYPASS => ForwardMethod::Bypass,
            n => ForwardMethod::Other(n),
        }
    }
}

impl fmt::Display for ForwardMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardMethod::Masquerade => f.write_str("Masq"),
            ForwardMethod::Local => f.write_str("Local"),
            ForwardMethod::Tunnel => f.write_str("Tunnel"),
            ForwardMethod::DirectRoute => f.write_str("Route"),
            ForwardMethod::Bypass => f.write_str("Bypass"),
            ForwardMethod::Other(n) => write!(f, "fwd-{n}"),
        }
    }
}

/// A destination's weight (`-w`): relative share of new connections; 0
/// quiesces it (no new connections). The kernel accepts 0..=`i32::MAX`.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(pub u32);

impl Default for Weight {
    /// 1, as `ipvsadm`.
    fn default() -> Self {
        Weight(1)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Encapsulation of a tunnelling destination (`--tun-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TunnelType {
    /// `ipip` (the default).
    #[default]
    Ipip,
    /// `gue`: Generic UDP Encapsulation (needs a tunnel port).
    Gue,
    /// `gre`
    Gre,
    /// Any other number.
    Other(u8),
}

impl TunnelType {
    /// The `IP_VS_CONN_F_TUNNEL_TYPE_*` number.
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
            TunnelType::Other(n) => n,
        }
    }
}

impl From<u8> for TunnelType {
    fn from(n: u8) -> Self {
        match n {
            IP_VS_CONN_F_TUNNEL_TYPE_IPIP => TunnelType::Ipip,
            IP_VS_CONN_F_TUNNEL_TYPE_GUE => TunnelType::Gue,
            IP_VS_CONN_F_TUNNEL_TYPE_GRE => TunnelType::Gre,
            n => TunnelType::Other(n),
        }
    }
}

bitflags::bitflags! {
    /// Tunnel checksum options (`IP_VS_TUNNEL_ENCAP_FLAG_*`); empty is
    /// `--tun-nocsum`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TunnelFlags: u16 {
        /// `--tun-csum`
        const CSUM = IP_VS_TUNNEL_ENCAP_FLAG_CSUM;
        /// `--tun-remcsum`
        const REMCSUM = IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM;
        // Unknown bits are kept.
        const _ = !0;
    }
}

impl TunnelFlags {
    /// `--tun-nocsum` (no bit set).
    pub const NOCSUM: TunnelFlags = TunnelFlags::empty();
}

/// One attribute of the destination nest (`IPVS_DEST_ATTR_*`), as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestAttr {
    /// `IPVS_DEST_ATTR_ADDR` (4 or 16 bytes)
    Addr(Vec<u8>),
    /// `IPVS_DEST_ATTR_PORT` (be16)
    Port(u16),
    /// `IPVS_DEST_ATTR_FWD_METHOD` (u32)
    FwdMethod(u32),
    /// `IPVS_DEST_ATTR_WEIGHT` (u32)
    Weight(u32),
    /// `IPVS_DEST_ATTR_U_THRESH` (u32)
    UpperThreshold(u32),
    /// `IPVS_DEST_ATTR_L_THRESH` (u32)
    LowerThreshold(u32),
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS` (u32)
    ActiveConns(u32),
    /// `IPVS_DEST_ATTR_INACT_CONNS` (u32)
    InactiveConns(u32),
    /// `IPVS_DEST_ATTR_PERSIST_CONNS` (u32)
    PersistentConns(u32),
    /// `IPVS_DEST_ATTR_STATS`
    Stats(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_ADDR_FAMILY` (u16)
    AddrFamily(u16),
    /// `IPVS_DEST_ATTR_STATS64`
    Stats64(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_TUN_TYPE` (u8)
    TunType(u8),
    /// `IPVS_DEST_ATTR_TUN_PORT` (be16)
    TunPort(u16),
    /// `IPVS_DEST_ATTR_TUN_FLAGS` (u16)
    TunFlags(u16),
    /// Any other attribute, kept as received.
    Other(RawAttr),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Addr(a) => a.len(),
            Port(_) | AddrFamily(_) | TunPort(_) | TunFlags(_) => 2,
            TunType(_) => 1,
            FwdMethod(_) | Weight(_) | UpperThreshold(_) | LowerThreshold(_) | ActiveConns(_)
            | InactiveConns(_) | PersistentConns(_) => 4,
            Stats(a) | Stats64(a) => a.as_slice().buffer_len(),
            Other(n) => n.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Addr(_) => IPVS_DEST_ATTR_ADDR,
            Port(_) => IPVS_DEST_ATTR_PORT,
            FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            UpperThreshold(_) => IPVS_DEST_ATTR_U_THRESH,
            LowerThreshold(_) => IPVS_DEST_ATTR_L_THRESH,
            ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            InactiveConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            PersistentConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            Stats(_) => IPVS_DEST_ATTR_STATS,
            AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            Stats64(_) => IPVS_DEST_ATTR_STATS64,
            TunType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            TunPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            TunFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            Other(n) => n.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use DestAttr::*;
        match self {
            Addr(a) => attr::put(buffer, a),
            Port(v) | TunPort(v) => attr::put(buffer, &v.to_be_bytes()),
            AddrFamily(v) | TunFlags(v) => attr::put(buffer, &v.to_ne_bytes()),
            TunType(v) => attr::put(buffer, &[*v]),
            FwdMethod(v) | Weight(v) | UpperThreshold(v) | LowerThreshold(v) | ActiveConns(v)
            | InactiveConns(v) | PersistentConns(v) => attr::put(buffer, &v.to_ne_bytes()),
            Stats(a) | Stats64(a) => attr::emit_all(buffer, a),
            Other(n) => n.emit_value(buffer),
        }
    }
}

impl DestAttr {
    /// Parses one attribute of a destination nest.
    pub fn parse(buf: &Attr<'_>) -> Result<Self, DecodeError> {
        let v = buf.value;
        let u32v = |what| attr::u32_ne(v, what);
        Ok(match buf.kind() {
            IPVS_DEST_ATTR_ADDR if v.len() == 4 || v.len() == 16 => DestAttr::Addr(v.to_vec()),
            IPVS_DEST_ATTR_PORT => DestAttr::Port(attr::u16_be(v, "dest port")?),
            IPVS_DEST_ATTR_FWD_METHOD => DestAttr::FwdMethod(u32v("fwd method")?),
            IPVS_DEST_ATTR_WEIGHT => DestAttr::Weight(u32v("weight")?),
            IPVS_DEST_ATTR_U_THRESH => DestAttr::UpperThreshold(u32v("upper threshold")?),
            IPVS_DEST_ATTR_L_THRESH => DestAttr::LowerThreshold(u32v("lower threshold")?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => DestAttr::ActiveConns(u32v("active conns")?),
            IPVS_DEST_ATTR_INACT_CONNS => DestAttr::InactiveConns(u32v("inactive conns")?),
            IPVS_DEST_ATTR_PERSIST_CONNS => DestAttr::PersistentConns(u32v("persistent conns")?),
            IPVS_DEST_ATTR_STATS => DestAttr::Stats(StatsAttr::parse_nest(v)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => DestAttr::AddrFamily(attr::u16_ne(v, "dest af")?),
            IPVS_DEST_ATTR_STATS64 => DestAttr::Stats64(StatsAttr::parse_nest(v)?),
            IPVS_DEST_ATTR_TUN_TYPE => DestAttr::TunType(attr::u8_ne(v, "tunnel type")?),
            IPVS_DEST_ATTR_TUN_PORT => DestAttr::TunPort(attr::u16_be(v, "tunnel port")?),
            IPVS_DEST_ATTR_TUN_FLAGS => DestAttr::TunFlags(attr::u16_ne(v, "tunnel flags")?),
            _ => DestAttr::Other(attr::unknown(buf)),
        })
    }

    /// Parses a whole destination nest.
    pub fn parse_nest(value: &[u8]) -> Result<Vec<Self>, DecodeError> {
        attr::parse_all(value, DestAttr::parse)
    }
}

/// A destination (real server) of a service: what `ipvsadm -a`/`-e`
/// configure.
///
/// ```no_run
/// use ipvs_nl::{Destination, IpvsHandle, ServiceKey, TunnelFlags, TunnelType, Weight};
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = IpvsHandle::new().await?;
/// let svc = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
/// // ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 3 -x 100 -y 10
/// let d = Destination::new("192.168.0.2".parse().unwrap(), 8080)
///     .masquerade()
///     .weight(Weight(3))
///     .upper_threshold(100)
///     .lower_threshold(10);
/// ipvs.add_destination(&svc, &d).await?;
/// // ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.3 -i --tun-type gue --tun-port 6080 --tun-remcsum
/// let t = Destination::new("192.168.0.3".parse().unwrap(), 80)
///     .tunnel(TunnelType::Gue, 6080, TunnelFlags::REMCSUM);
/// ipvs.add_destination(&svc, &t).await?;
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The real server's address (its family may differ from the service's,
    /// with tunnelling).
    pub addr: IpAddr,
    /// The real server's port.
    pub port: u16,
    /// How packets are forwarded.
    pub forward: ForwardMethod,
    /// Weight.
    pub weight: Weight,
    /// Upper connection threshold (`-x`), 0 for none.
    pub upper_threshold: u32,
    /// Lower connection threshold (`-y`), 0 for none.
    pub lower_threshold: u32,
    /// Tunnel encapsulation (tunnelling only).
    pub tunnel_type: TunnelType,
    /// Tunnel port (GUE).
    pub tunnel_port: u16,
    /// Tunnel checksum options.
    pub tunnel_flags: TunnelFlags,
    /// Active connections (reported by the kernel).
    pub active_conns: u32,
    /// Inactive connections (reported by the kernel).
    pub inactive_conns: u32,
    /// Persistent connection templates (reported by the kernel).
    pub persistent_conns: u32,
    /// Statistics (reported by the kernel; never sent). Boxed: a
    /// destination built to be sent carries none, and its size is what
    /// bulk plans and desired states are made of.
    pub stats: Option<Box<Stats>>,
    /// Attributes this crate does not know, re-emitted as they came.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl Destination {
    /// `-r ADDR:PORT` with `ipvsadm`'s defaults (direct routing, weight 1).
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Destination {
            addr,
            port,
            forward: ForwardMethod::DirectRoute,
            weight: Weight::default(),
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_flags: TunnelFlags::NOCSUM,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: None,
            unknown: Vec::new(),
        }
    }
    /// `-m`
    pub fn masquerade(mut self) -> Self {
        self.forward = ForwardMethod::Masquerade;
        self
    }
    /// `-g`
    pub fn direct_route(mut self) -> Self {
        self.forward = ForwardMethod::DirectRoute;
        self
    }
    /// `-i` (IP-in-IP)
    pub fn ipip(mut self) -> Self {
        self.forward = ForwardMethod::Tunnel;
        self
    }
    /// `-i --tun-type TYPE --tun-port PORT --tun-{nocsum,csum,remcsum}`
    pub fn tunnel(mut self, kind: TunnelType, port: u16, flags: TunnelFlags) -> Self {
        self.forward = ForwardMethod::Tunnel;
        self.tunnel_type = kind;
        self.tunnel_port = port;
        self.tunnel_flags = flags;
        self
    }
    /// Any forwarding method.
    pub fn forward(mut self, f: ForwardMethod) -> Self {
        self.forward = f;
        self
    }
    /// `-w WEIGHT`
    pub fn weight(mut self, w: Weight) -> Self {
        self.weight = w;
        self
    }
    /// `-x UPPER`
    pub fn upper_threshold(mut self, n: u32) -> Self {
        self.upper_threshold = n;
        self
    }
    /// `-y LOWER`
    pub fn lower_threshold(mut self, n: u32) -> Self {
        self.lower_threshold = n;
        self
    }

    /// The address family of the destination.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// Statistics (64-bit when the kernel sent them).
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_deref()
    }

    /// The attributes of an add, edit or delete, in `ipvsadm`'s order.
    pub fn to_attrs(&self) -> Vec<DestAttr> {
        let mut v = vec![
            DestAttr::AddrFamily(attr::af_of(&self.addr)),
            DestAttr::Addr(attr::addr_bytes(&self.addr).to_vec()),
            DestAttr::Port(self.port),
            DestAttr::FwdMethod(self.forward.number()),
            DestAttr::Weight(self.weight.0),
            DestAttr::TunType(self.tunnel_type.number()),
            DestAttr::TunPort(self.tunnel_port),
            DestAttr::TunFlags(self.tunnel_flags.bits()),
            DestAttr::UpperThreshold(self.upper_threshold),
            DestAttr::LowerThreshold(self.lower_threshold),
        ];
        v.extend(self.unknown.iter().cloned().map(DestAttr::Other));
        v
    }

    /// [`to_attrs`](Self::to_attrs), appended straight to `buf` (the bulk
    /// path; the same bytes): the attributes every destination has, of
    /// fixed sizes, written into one stack array and appended in one copy,
    /// then any unknown ones.
    pub(crate) fn append_attrs(&self, buf: &mut Vec<u8>) {
        let mut f = FixedAttrs::<FIXED_ATTRS_LEN>::new();
        f.attr(
            IPVS_DEST_ATTR_ADDR_FAMILY,
            &attr::af_of(&self.addr).to_ne_bytes(),
        );
        f.attr(IPVS_DEST_ATTR_ADDR, &attr::addr_bytes(&self.addr));
        f.attr(IPVS_DEST_ATTR_PORT, &self.port.to_be_bytes());
        f.attr(
            IPVS_DEST_ATTR_FWD_METHOD,
            &self.forward.number().to_ne_bytes(),
        );
        f.attr(IPVS_DEST_ATTR_WEIGHT, &self.weight.0.to_ne_bytes());
        f.attr(IPVS_DEST_ATTR_TUN_TYPE, &[self.tunnel_type.number()]);
        f.attr(IPVS_DEST_ATTR_TUN_PORT, &self.tunnel_port.to_be_bytes());
        f.attr(
            IPVS_DEST_ATTR_TUN_FLAGS,
            &self.tunnel_flags.bits().to_ne_bytes(),
        );
        f.attr(IPVS_DEST_ATTR_U_THRESH, &self.upper_threshold.to_ne_bytes());
        f.attr(IPVS_DEST_ATTR_L_THRESH, &self.lower_threshold.to_ne_bytes());
        // every value above has a fixed size, so the layout is always
        // whole (the test fast_requests_match_the_typed_encoder holds it to
        // the typed encoder's bytes); were it not, the typed encoder writes
        // the destination rather than a part of it being lost
        match f.finish() {
            Some(fixed) => {
                buf.extend_from_slice(&fixed);
                for n in &self.unknown {
                    attr::append_typed(buf, &DestAttr::Other(n.clone()));
                }
            }
            None => self
                .to_attrs()
                .iter()
                .for_each(|a| attr::append_typed(buf, a)),
        }
    }

    /// Reads a destination nest (typed attributes). `service_family` is
    /// used when the kernel sends no address family attribute (kernels
    /// before 3.18).
    pub fn from_attrs(
        attrs: &[DestAttr],
        service_family: Option<Family>,
    ) -> Result<Self, DecodeError> {
        // One decoder: the typed attributes are read back from their bytes.
        Destination::decode(&attr::to_bytes(attrs), service_family)
    }

    /// Reads a destination nest straight from the kernel's bytes (the dump
    /// read path: no attribute tree, no allocation but unknown
    /// attributes). A known attribute of an unexpected size is an error or
    /// kept as unknown exactly as [`DestAttr::parse`] decides.
    pub fn decode(nest: &[u8], service_family: Option<Family>) -> Result<Self, DecodeError> {
        Destination::decode_with(nest, service_family, true).map_err(|e| e.in_object("destination"))
    }

    /// [`decode`](Self::decode), statistics skipped unread when `stats` is
    /// false (configuration reads).
    pub(crate) fn decode_with(
        nest: &[u8],
        service_family: Option<Family>,
        stats: bool,
    ) -> Result<Self, DecodeError> {
        // The family may come after the address, so the address is read
        // once the whole nest has been seen (the last of each wins; an
        // IPv4-sized address anywhere is refused for IPv6, as the typed
        // path refuses it).
        let mut af = service_family.map(Family::number);
        let mut addr: Option<&[u8]> = None;
        let mut short_addr = false;
        let mut d = Destination::new(IpAddr::from([0u8; 4]), 0);
        let mut s32 = None;
        let mut s64 = None;
        for a in attr::each(nest) {
            let a = a?;
            let v = a.value;
            let u32v = |what| attr::u32_ne(v, what);
            match a.kind() {
                IPVS_DEST_ATTR_ADDR if v.len() == 4 || v.len() == 16 => {
                    short_addr |= v.len() == 4;
                    addr = Some(v);
                }
                IPVS_DEST_ATTR_PORT => d.port = attr::u16_be(v, "dest port")?,
                IPVS_DEST_ATTR_FWD_METHOD => d.forward = ForwardMethod::from(u32v("fwd method")?),
                IPVS_DEST_ATTR_WEIGHT => d.weight = Weight(u32v("weight")?),
                IPVS_DEST_ATTR_U_THRESH => d.upper_threshold = u32v("upper threshold")?,
                IPVS_DEST_ATTR_L_THRESH => d.lower_threshold = u32v("lower threshold")?,
                IPVS_DEST_ATTR_ACTIVE_CONNS => d.active_conns = u32v("active conns")?,
                IPVS_DEST_ATTR_INACT_CONNS => d.inactive_conns = u32v("inactive conns")?,
                IPVS_DEST_ATTR_PERSIST_CONNS => d.persistent_conns = u32v("persistent conns")?,
                IPVS_DEST_ATTR_STATS | IPVS_DEST_ATTR_STATS64 if !stats => {}
                IPVS_DEST_ATTR_STATS => s32 = Some(Stats::decode(v, StatsWidth::Bits32)?),
                IPVS_DEST_ATTR_ADDR_FAMILY => af = Some(attr::u16_ne(v, "dest af")?),
                IPVS_DEST_ATTR_STATS64 => s64 = Some(Stats::decode(v, StatsWidth::Bits64)?),
                IPVS_DEST_ATTR_TUN_TYPE => {
                    d.tunnel_type = TunnelType::from(attr::u8_ne(v, "tunnel type")?);
                }
                IPVS_DEST_ATTR_TUN_PORT => d.tunnel_port = attr::u16_be(v, "tunnel port")?,
                IPVS_DEST_ATTR_TUN_FLAGS => {
                    d.tunnel_flags =
                        TunnelFlags::from_bits_retain(attr::u16_ne(v, "tunnel flags")?);
                }
                _ => d.unknown.push(attr::unknown(&a)),
            }
        }
        let addr = addr.ok_or("destination without address")?;
        if short_addr && af == Some(AF_INET6) {
            return Err("IPv6 address of 4 bytes".into());
        }
        d.addr = attr::parse_addr(af, addr)?;
        d.stats = s64.or(s32).map(Box::new);
        Ok(d)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::net::SocketAddr::new(self.addr, self.port))
    }
}

impl fmt::Display for TunnelType {
    /// The `--tun-type` name: `ipip`, `gue`, `gre`, or `tun-type-N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelType::Ipip => f.write_str("ipip"),
            TunnelType::Gue => f.write_str("gue"),
            TunnelType::Gre => f.write_str("gre"),
            TunnelType::Other(n) => write!(f, "tun-type-{n}"),
        }
    }
}

impl fmt::Display for TunnelFlags {
    /// The checksum option as `ipvsadm --tun-info` shows it: `nocsum`,
    /// `csum`, `remcsum` (unknown bits in hex, comma-separated).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nocsum");
        }
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { "," };
            first = false;
            f.write_str(s)
        };
        if self.contains(TunnelFlags::CSUM) {
            sep(f)?;
            f.write_str("csum")?;
        }
        if self.contains(TunnelFlags::REMCSUM) {
            sep(f)?;
            f.write_str("remcsum")?;
        }
        let rest = self.bits() & !(TunnelFlags::CSUM | TunnelFlags::REMCSUM).bits();
        if rest != 0 {
            sep(f)?;
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}
