//! `nft_compat` matches: xtables matches carried inside nf_tables rules, as
//! iptables-nft does for `-m set` (ipset) and `-m ipvs`.
//!
//! Attribute numbers from `include/uapi/linux/netfilter/nf_tables_compat.h`
//! (`enum nft_match_attributes`); structures from
//! `include/uapi/linux/netfilter/xt_set.h` (`struct xt_set_info`,
//! `xt_set_info_match_v1`, `xt_set_info_match_v4`),
//! `include/uapi/linux/netfilter/ipset/ip_set.h` (`IPSET_INV_MATCH`,
//! `IPSET_DIM_*_SRC`, `struct ip_set_counter_match`, `IPSET_COUNTER_*`,
//! `IPSET_FLAG_*`) and `include/uapi/linux/netfilter/xt_ipvs.h`
//! (`struct xt_ipvs_mtinfo`, `XT_IPVS_*`). All structures are in host byte
//! order except the fields the headers mark `__be`.

use std::net::IpAddr;

use bitflags::bitflags;
use nl_engine::DecodeError;

use crate::attr::{Writer, get_str, get_u32, iter};

const NFTA_MATCH_NAME: u16 = 1;
const NFTA_MATCH_REV: u16 = 2;
const NFTA_MATCH_INFO: u16 = 3;

/// `XT_ALIGN`: xtables structures are padded to 8 bytes.
const fn xt_align(n: usize) -> usize {
    (n + 7) & !7
}

/// Which address/port of the packet one dimension of an ipset is matched
/// against (`src`/`dst` of `--match-set NAME dst,dst`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// `src`
    Src,
    /// `dst`
    Dst,
}

/// An ipset counter condition (`struct ip_set_counter_match`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CounterCondition {
    /// `IPSET_COUNTER_NONE` (0): no condition.
    None,
    /// `IPSET_COUNTER_EQ` (1)
    Eq(u64),
    /// `IPSET_COUNTER_NE` (2)
    Ne(u64),
    /// `IPSET_COUNTER_LT` (3)
    Lt(u64),
    /// `IPSET_COUNTER_GT` (4)
    Gt(u64),
    /// Any other operator with its value.
    Other(u8, u64),
}

impl CounterCondition {
    fn parts(self) -> (u8, u64) {
        match self {
            CounterCondition::None => (0, 0),
            CounterCondition::Eq(v) => (1, v),
            CounterCondition::Ne(v) => (2, v),
            CounterCondition::Lt(v) => (3, v),
            CounterCondition::Gt(v) => (4, v),
            CounterCondition::Other(o, v) => (o, v),
        }
    }
    fn from_parts(op: u8, v: u64) -> Self {
        match op {
            0 if v == 0 => CounterCondition::None,
            1 => CounterCondition::Eq(v),
            2 => CounterCondition::Ne(v),
            3 => CounterCondition::Lt(v),
            4 => CounterCondition::Gt(v),
            o => CounterCondition::Other(o, v),
        }
    }
}

bitflags! {
    /// Match flags of `xt_set_info_match_v3`/`_v4` (`IPSET_FLAG_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct XtSetFlags: u32 {
        /// `IPSET_FLAG_SKIP_COUNTER_UPDATE` (`! --update-counters`)
        const SKIP_COUNTER_UPDATE = 1 << 3;
        /// `IPSET_FLAG_SKIP_SUBCOUNTER_UPDATE` (`! --update-subcounters`)
        const SKIP_SUBCOUNTER_UPDATE = 1 << 4;
        /// `IPSET_FLAG_MATCH_COUNTERS`
        const MATCH_COUNTERS = 1 << 5;
        /// `IPSET_FLAG_RETURN_NOMATCH` (`--return-nomatch`)
        const RETURN_NOMATCH = 1 << 7;
        const _ = !0;
    }
}

/// The `set` match (`xt_set`): is the packet's address/port tuple in an
/// ipset? The set is named by its kernel index (see
/// [`ipset_nl::index_of`]).
///
/// ```
/// use nftables_glue::compat::{Direction, XtSetMatch};
/// // -m set --match-set ZGZ-CLUSTER-IP dst,dst   (set index 0)
/// let m = XtSetMatch::new(0, &[Direction::Dst, Direction::Dst]);
/// assert_eq!(m.encode().len(), 48);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct XtSetMatch {
    /// Structure revision: 1 (`xt_set_info_match_v1`) or 4 (`_v4`, what
    /// iptables 1.8 sends).
    pub revision: u32,
    /// The set's kernel index (`ip_set_id_t`).
    pub index: u16,
    /// One direction per dimension (at most 6).
    pub directions: Vec<Direction>,
    /// `! --match-set` (`IPSET_INV_MATCH`).
    pub invert: bool,
    /// Packet counter condition (revision 4).
    pub packets: CounterCondition,
    /// Byte counter condition (revision 4).
    pub bytes: CounterCondition,
    /// Match flags (revision 4).
    pub flags: XtSetFlags,
}

impl XtSetMatch {
    /// A revision-4 match of set `index` in `directions`.
    pub fn new(index: u16, directions: &[Direction]) -> Self {
        XtSetMatch {
            revision: 4,
            index,
            directions: directions.to_vec(),
            invert: false,
            packets: CounterCondition::None,
            bytes: CounterCondition::None,
            flags: XtSetFlags::empty(),
        }
    }

    /// `! --match-set`.
    pub fn with_invert(mut self) -> Self {
        self.invert = true;
        self
    }
    /// Another structure revision (1 or 4).
    pub fn with_revision(mut self, revision: u32) -> Self {
        self.revision = revision;
        self
    }
    /// `--packets-eq`/`-lt`/`-gt N` (revision 4).
    pub fn with_packets(mut self, c: CounterCondition) -> Self {
        self.packets = c;
        self
    }
    /// `--bytes-eq`/`-lt`/`-gt N` (revision 4).
    pub fn with_bytes(mut self, c: CounterCondition) -> Self {
        self.bytes = c;
        self
    }
    /// Match flags (`--return-nomatch`, `! --update-counters`, ...; revision 4).
    pub fn with_flags(mut self, flags: XtSetFlags) -> Self {
        self.flags |= flags;
        self
    }

    fn info_flags(&self) -> u8 {
        let mut f = u8::from(self.invert);
        for (i, d) in self.directions.iter().enumerate().take(6) {
            if *d == Direction::Src {
                f |= 1 << (i + 1);
            }
        }
        f
    }

    /// The match structure as the kernel expects it (padded to 8 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(48);
        b.extend_from_slice(&self.index.to_ne_bytes());
        b.push(self.directions.len().min(6) as u8);
        b.push(self.info_flags());
        if self.revision >= 4 {
            b.resize(8, 0);
            for c in [self.packets, self.bytes] {
                let (op, v) = c.parts();
                b.extend_from_slice(&v.to_ne_bytes());
                b.push(op);
                b.resize(xt_align(b.len()), 0);
            }
            b.extend_from_slice(&self.flags.bits().to_ne_bytes());
        }
        b.resize(xt_align(b.len()), 0);
        b
    }

    fn decode(rev: u32, info: &[u8]) -> Option<Self> {
        let index = u16::from_ne_bytes([*info.first()?, *info.get(1)?]);
        let dim = *info.get(2)?;
        let f = *info.get(3)?;
        if dim > 6 || f & !0x7f != 0 {
            return None;
        }
        let directions = (0..dim)
            .map(|i| {
                if f & (1 << (i + 1)) != 0 {
                    Direction::Src
                } else {
                    Direction::Dst
                }
            })
            .collect();
        let mut m = XtSetMatch::new(index, &[]);
        m.revision = rev;
        m.directions = directions;
        m.invert = f & 1 != 0;
        if rev == 4 {
            let u64at = |o: usize| -> Option<u64> {
                Some(u64::from_ne_bytes(info.get(o..o + 8)?.try_into().ok()?))
            };
            m.packets = CounterCondition::from_parts(*info.get(16)?, u64at(8)?);
            m.bytes = CounterCondition::from_parts(*info.get(32)?, u64at(24)?);
            m.flags = XtSetFlags::from_bits_retain(u32::from_ne_bytes(
                info.get(40..44)?.try_into().ok()?,
            ));
        } else if rev != 1 {
            return None;
        }
        Some(m)
    }
}

bitflags! {
    /// Which fields of an `ipvs` match are set (`XT_IPVS_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct XtIpvsFields: u8 {
        /// `XT_IPVS_IPVS_PROPERTY`: the packet belongs to an IPVS connection.
        const IPVS_PROPERTY = 1 << 0;
        /// `XT_IPVS_PROTO`
        const PROTO = 1 << 1;
        /// `XT_IPVS_VADDR`
        const VADDR = 1 << 2;
        /// `XT_IPVS_VPORT`
        const VPORT = 1 << 3;
        /// `XT_IPVS_DIR`
        const DIR = 1 << 4;
        /// `XT_IPVS_METHOD`
        const METHOD = 1 << 5;
        /// `XT_IPVS_VPORTCTL`
        const VPORTCTL = 1 << 6;
        const _ = !0;
    }
}

/// The `ipvs` match (`struct xt_ipvs_mtinfo`, revision 0): properties of
/// the IPVS connection a packet belongs to.
///
/// ```
/// use nftables_glue::compat::{XtIpvsFields, XtIpvsMatch};
/// // -m ipvs --ipvs --vaddr 10.200.3.2/32 --vport 80 --vproto tcp
/// let m = XtIpvsMatch::new()
///     .with_ipvs()
///     .with_vaddr("10.200.3.2".parse().unwrap(), 32)
///     .with_vport(80)
///     .with_vproto(6);
/// assert_eq!(m.fields, XtIpvsFields::IPVS_PROPERTY | XtIpvsFields::PROTO | XtIpvsFields::VADDR | XtIpvsFields::VPORT);
/// assert_eq!(m.encode().len(), 40);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct XtIpvsMatch {
    /// Virtual address (`--vaddr`).
    pub vaddr: Option<IpAddr>,
    /// Prefix length of the virtual address mask.
    pub vmask_prefix: u8,
    /// Virtual port (`--vport`).
    pub vport: u16,
    /// Protocol (`--vproto`).
    pub l4proto: u8,
    /// Forwarding method (`--vmethod`: `IP_VS_CONN_F_*` & `IP_VS_CONN_F_FWD_MASK`).
    pub fwd_method: u8,
    /// Control-connection port (`--vportctl`).
    pub vportctl: u16,
    /// Inverted fields (`!`).
    pub invert: XtIpvsFields,
    /// Fields set.
    pub fields: XtIpvsFields,
}

impl XtIpvsMatch {
    /// `-m ipvs` with no condition yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// `--ipvs`: the packet belongs to an IPVS connection.
    pub fn with_ipvs(mut self) -> Self {
        self.fields |= XtIpvsFields::IPVS_PROPERTY;
        self
    }
    /// `--vaddr ADDR/PREFIX`.
    pub fn with_vaddr(mut self, addr: IpAddr, prefix: u8) -> Self {
        self.vaddr = Some(addr);
        self.vmask_prefix = prefix;
        self.fields |= XtIpvsFields::VADDR;
        self
    }
    /// `--vport PORT`.
    pub fn with_vport(mut self, port: u16) -> Self {
        self.vport = port;
        self.fields |= XtIpvsFields::VPORT;
        self
    }
    /// `--vproto PROTO` (an IP protocol number).
    pub fn with_vproto(mut self, proto: u8) -> Self {
        self.l4proto = proto;
        self.fields |= XtIpvsFields::PROTO;
        self
    }
    /// `--vmethod` (`IP_VS_CONN_F_*` forwarding method bits).
    pub fn with_vmethod(mut self, method: u8) -> Self {
        self.fwd_method = method;
        self.fields |= XtIpvsFields::METHOD;
        self
    }
    /// `--vportctl PORT`.
    pub fn with_vportctl(mut self, port: u16) -> Self {
        self.vportctl = port;
        self.fields |= XtIpvsFields::VPORTCTL;
        self
    }
    /// `! ` before these conditions (they must be set too).
    pub fn with_invert(mut self, fields: XtIpvsFields) -> Self {
        self.invert |= fields;
        self
    }

    fn addr16(a: Option<IpAddr>) -> [u8; 16] {
        let mut b = [0u8; 16];
        match a {
            Some(IpAddr::V4(v)) => b[..4].copy_from_slice(&v.octets()),
            Some(IpAddr::V6(v)) => b = v.octets(),
            None => {}
        }
        b
    }

    fn mask16(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        let bits = match self.vaddr {
            Some(IpAddr::V4(_)) => usize::from(self.vmask_prefix.min(32)),
            Some(IpAddr::V6(_)) => usize::from(self.vmask_prefix.min(128)),
            None => 0,
        };
        for (i, byte) in b.iter_mut().enumerate() {
            let left = bits.saturating_sub(i * 8).min(8);
            *byte = if left == 0 { 0 } else { 0xffu8 << (8 - left) };
        }
        b
    }

    /// The match structure (40 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(40);
        b.extend_from_slice(&Self::addr16(self.vaddr));
        b.extend_from_slice(&self.mask16());
        b.extend_from_slice(&self.vport.to_be_bytes());
        b.push(self.l4proto);
        b.push(self.fwd_method);
        b.extend_from_slice(&self.vportctl.to_be_bytes());
        b.push(self.invert.bits());
        b.push(self.fields.bits());
        b
    }

    fn decode(info: &[u8], v6: bool) -> Option<Self> {
        if info.len() != 40 {
            return None;
        }
        let (a, rest) = info.split_first_chunk::<16>()?;
        let (mask, rest) = rest.split_first_chunk::<16>()?;
        let [p0, p1, l4proto, fwd_method, c0, c1, invert, fields] = *rest else {
            return None;
        };
        let vaddr = if a.iter().all(|&x| x == 0) && mask.iter().all(|&x| x == 0) {
            None
        } else if v6 {
            Some(IpAddr::from(*a))
        } else {
            let o: [u8; 4] = *a.first_chunk::<4>()?;
            Some(IpAddr::from(o))
        };
        let prefix = mask.iter().map(|b| b.count_ones()).sum::<u32>() as u8;
        Some(XtIpvsMatch {
            vaddr,
            vmask_prefix: prefix,
            vport: u16::from_be_bytes([p0, p1]),
            l4proto,
            fwd_method,
            vportctl: u16::from_be_bytes([c0, c1]),
            invert: XtIpvsFields::from_bits_retain(invert),
            fields: XtIpvsFields::from_bits_retain(fields),
        })
    }
}

/// An `nft_compat` match expression.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Match {
    /// `set` (ipset membership).
    Set(XtSetMatch),
    /// `ipvs` (revision 0).
    Ipvs(XtIpvsMatch),
    /// Any other match, or one whose structure did not decode exactly.
    Other {
        /// Match name (`NFTA_MATCH_NAME`).
        name: String,
        /// Revision (`NFTA_MATCH_REV`).
        rev: u32,
        /// The raw structure (`NFTA_MATCH_INFO`).
        info: Vec<u8>,
    },
}

impl Match {
    fn parts(&self) -> (&str, u32, Vec<u8>) {
        match self {
            Match::Set(s) => ("set", s.revision, s.encode()),
            Match::Ipvs(i) => ("ipvs", 0, i.encode()),
            Match::Other { name, rev, info } => (name, *rev, info.clone()),
        }
    }

    pub(crate) fn emit(&self, w: &mut Writer) {
        let (name, rev, info) = self.parts();
        w.str(NFTA_MATCH_NAME, name)
            .u32be(NFTA_MATCH_REV, rev)
            .bytes(NFTA_MATCH_INFO, &info);
    }

    /// Decodes the content of the expression's `NFTA_EXPR_DATA`; `None` when
    /// it carries attributes other than name, revision and info.
    pub(crate) fn parse(d: &[u8]) -> Result<Option<Self>, DecodeError> {
        let (mut name, mut rev, mut info) = (None, None, None);
        for a in iter(d) {
            let (k, _, v) = a?;
            match k {
                NFTA_MATCH_NAME => name = Some(get_str(v, "match name")?),
                NFTA_MATCH_REV => rev = Some(get_u32(v, "match revision")?),
                NFTA_MATCH_INFO => info = Some(v.to_vec()),
                _ => return Ok(None),
            }
        }
        let (Some(name), Some(rev), Some(info)) = (name, rev, info) else {
            return Ok(None);
        };
        // Typed only when re-encoding gives back exactly the same bytes.
        let typed = match (name.as_str(), rev) {
            ("set", 1 | 4) => XtSetMatch::decode(rev, &info).map(Match::Set),
            ("ipvs", 0) => XtIpvsMatch::decode(&info, false)
                .filter(|m| m.encode() == info)
                .or_else(|| XtIpvsMatch::decode(&info, true))
                .map(Match::Ipvs),
            _ => None,
        };
        Ok(Some(match typed {
            Some(t) if t.parts().2 == info => t,
            _ => Match::Other { name, rev, info },
        }))
    }
}
