//! Traffic statistics of a service or destination (`IPVS_*_ATTR_STATS` and
//! `IPVS_*_ATTR_STATS64`).

use netlink_packet_core::Nla;
use nl_engine::wire::Attr;
use nl_engine::{DecodeError, RawAttr};

use crate::attr;
use crate::consts::*;

/// One attribute of a statistics nest, kept as sent so a nest survives a
/// decode/encode round trip byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsAttr {
    /// A 32-bit counter (`kind` is an `IPVS_STATS_ATTR_*` number).
    U32(u16, u32),
    /// A 64-bit counter.
    U64(u16, u64),
    /// `IPVS_STATS_ATTR_PAD` (alignment filler for 64-bit values).
    Pad,
    /// Anything else.
    Other(RawAttr),
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::U32(..) => 4,
            StatsAttr::U64(..) => 8,
            StatsAttr::Pad => 0,
            StatsAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            StatsAttr::U32(k, _) | StatsAttr::U64(k, _) => *k,
            StatsAttr::Pad => IPVS_STATS_ATTR_PAD,
            StatsAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            StatsAttr::U32(_, v) => attr::put(buffer, &v.to_ne_bytes()),
            StatsAttr::U64(_, v) => attr::put(buffer, &v.to_ne_bytes()),
            StatsAttr::Pad => {}
            StatsAttr::Other(n) => n.emit_value(buffer),
        }
    }
}

impl StatsAttr {
    pub(crate) fn parse(buf: &Attr<'_>) -> Result<Self, DecodeError> {
        let v = buf.value;
        let k = buf.kind();
        Ok(match (k, v.len()) {
            (IPVS_STATS_ATTR_PAD, 0) => StatsAttr::Pad,
            (IPVS_STATS_ATTR_CONNS..=IPVS_STATS_ATTR_OUTBPS, 4) => {
                StatsAttr::U32(k, attr::u32_ne(v, "stats counter")?)
            }
            (IPVS_STATS_ATTR_CONNS..=IPVS_STATS_ATTR_OUTBPS, 8) => {
                StatsAttr::U64(k, attr::u64_ne(v, "stats counter")?)
            }
            _ => StatsAttr::Other(attr::unknown(buf)),
        })
    }

    pub(crate) fn parse_nest(value: &[u8]) -> Result<Vec<Self>, DecodeError> {
        attr::parse_all(value, StatsAttr::parse)
    }
}

/// Which kernel block statistics were read from.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsWidth {
    /// `STATS64`: every counter and rate is 64-bit.
    #[default]
    Bits64,
    /// `STATS` (kernels before 4.1 have only this): counters and rates
    /// are 32-bit (byte counts are 64-bit), so they wrap.
    Bits32,
}

/// Counters and rates of a service or destination.
///
/// Rates are the kernel's estimates per second, updated every two seconds.
///
/// ```no_run
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = ipvs_nl::IpvsHandle::new().await?;
/// for svc in ipvs.services().await? {
///     if let Some(st) = svc.stats() {
///         println!("{}: {} connections, {} bytes in", svc.key(), st.conns, st.inbytes);
///     }
/// }
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Incoming packets.
    pub inpkts: u64,
    /// Outgoing packets.
    pub outpkts: u64,
    /// Incoming bytes.
    pub inbytes: u64,
    /// Outgoing bytes.
    pub outbytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
    /// Which block the values came from.
    pub width: StatsWidth,
}

impl Stats {
    /// Reads a statistics nest (typed attributes).
    pub fn from_attrs(attrs: &[StatsAttr], width: StatsWidth) -> Self {
        // One decoder: the typed attributes are read back from their bytes.
        Stats::decode(&attr::to_bytes(attrs), width).unwrap_or(Stats {
            width,
            ..Stats::default()
        })
    }

    /// Reads a statistics nest straight from the kernel's bytes: counters
    /// of 4 or 8 bytes, anything else (padding, unknown attributes) skipped.
    pub(crate) fn decode(nest: &[u8], width: StatsWidth) -> Result<Self, DecodeError> {
        let mut s = Stats {
            width,
            ..Stats::default()
        };
        for a in attr::each(nest) {
            let a = a?;
            let v = a.value;
            let v = match v.len() {
                4 => u64::from(attr::u32_ne(v, "stats counter")?),
                8 => attr::u64_ne(v, "stats counter")?,
                _ => continue,
            };
            let slot = match a.kind() {
                IPVS_STATS_ATTR_CONNS => &mut s.conns,
                IPVS_STATS_ATTR_INPKTS => &mut s.inpkts,
                IPVS_STATS_ATTR_OUTPKTS => &mut s.outpkts,
                IPVS_STATS_ATTR_INBYTES => &mut s.inbytes,
                IPVS_STATS_ATTR_OUTBYTES => &mut s.outbytes,
                IPVS_STATS_ATTR_CPS => &mut s.cps,
                IPVS_STATS_ATTR_INPPS => &mut s.inpps,
                IPVS_STATS_ATTR_OUTPPS => &mut s.outpps,
                IPVS_STATS_ATTR_INBPS => &mut s.inbps,
                IPVS_STATS_ATTR_OUTBPS => &mut s.outbps,
                _ => continue,
            };
            *slot = v;
        }
        Ok(s)
    }
}

impl std::fmt::Display for StatsWidth {
    /// `64-bit` or `32-bit`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatsWidth::Bits64 => "64-bit",
            StatsWidth::Bits32 => "32-bit",
        })
    }
}

impl std::fmt::Display for Stats {
    /// The counters, then the rates, named as the columns of `ipvsadm
    /// --stats` and `--rate`, with exact numbers:
    /// `conns 1 inpkts 2 outpkts 3 inbytes 4 outbytes 5 cps 0 inpps 0
    /// outpps 0 inbps 0 outbps 0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "conns {} inpkts {} outpkts {} inbytes {} outbytes {} \
             cps {} inpps {} outpps {} inbps {} outbps {}",
            self.conns,
            self.inpkts,
            self.outpkts,
            self.inbytes,
            self.outbytes,
            self.cps,
            self.inpps,
            self.outpps,
            self.inbps,
            self.outbps
        )
    }
}
