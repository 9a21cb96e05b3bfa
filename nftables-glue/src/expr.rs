//! Rule expressions (`NFTA_RULE_EXPRESSIONS`), typed; unknown ones are kept
//! raw and re-emitted unchanged.
//!
//! Numbers from `include/uapi/linux/netfilter/nf_tables.h`: `enum
//! nft_expr_attributes`, `nft_list_attributes`, `nft_data_attributes`,
//! `nft_verdict_attributes`, `nft_verdicts`, `nft_registers`,
//! `nft_payload_attributes`/`nft_payload_bases`, `nft_meta_attributes`/
//! `nft_meta_keys`, `nft_cmp_attributes`/`nft_cmp_ops`,
//! `nft_bitwise_attributes`/`nft_bitwise_ops`, `nft_immediate_attributes`,
//! `nft_lookup_attributes`/`nft_lookup_flags`, `nft_counter_attributes`,
//! `nft_ct_attributes`/`nft_ct_keys`, `nft_masq_attributes`,
//! `nft_nat_attributes`/`nft_nat_types`, `nft_redir_attributes`,
//! `nft_ng_attributes`/`nft_ng_types`, `nft_fib_attributes`/
//! `nft_fib_result`/`nft_fib_flags`, `nft_reject_attributes`/
//! `nft_reject_types`/`nft_reject_inet_code`;
//! `include/uapi/linux/netfilter.h` (`NF_DROP`, `NF_ACCEPT`),
//! `include/uapi/linux/netfilter/nf_nat.h` (`NF_NAT_RANGE_*`) and
//! `include/uapi/linux/netfilter/nf_conntrack_common.h` (state bits).

use bitflags::bitflags;
use nl_engine::DecodeError;

use crate::attr::{Writer, err, get_str, get_u32, get_u64, iter};
use crate::compat::Match;
use crate::table::Family;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;

/// A register (`enum nft_registers`): 0 is the verdict register, 1-4 the
/// 16-byte registers, 8-23 the 4-byte registers overlaying them.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Register(pub u32);

impl Register {
    /// `NFT_REG_VERDICT`
    pub const VERDICT: Register = Register(0);
    /// `NFT_REG_1`
    pub const R1: Register = Register(1);
    /// `NFT_REG_2`
    pub const R2: Register = Register(2);
    /// `NFT_REG_3`
    pub const R3: Register = Register(3);
    /// `NFT_REG_4`
    pub const R4: Register = Register(4);

    /// `NFT_REG32_00 + n` (n in 0..16).
    pub const fn reg32(n: u32) -> Register {
        Register(8 + n)
    }

    /// The register `nft` uses for the field that starts `offset` bytes
    /// into a value loaded from `NFT_REG_1` onwards (concatenations): a
    /// 16-byte register at 16-byte boundaries, else a 4-byte one.
    pub const fn at_offset(offset: u32) -> Register {
        if offset % 16 == 0 {
            Register(1 + offset / 16)
        } else {
            Register(8 + offset / 4)
        }
    }
}

/// A verdict (`enum nft_verdicts` and `NF_DROP`/`NF_ACCEPT`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// `NF_DROP` (0)
    Drop,
    /// `NF_ACCEPT` (1)
    Accept,
    /// `NFT_CONTINUE` (-1)
    Continue,
    /// `NFT_BREAK` (-2)
    Break,
    /// `NFT_JUMP` (-3) to a chain
    Jump(String),
    /// `NFT_GOTO` (-4) to a chain
    Goto(String),
    /// `NFT_RETURN` (-5)
    Return,
    /// Any other code (queue, stolen, ...), with its chain if any.
    Other(i32, Option<String>),
}

impl Verdict {
    fn emit(&self, w: &mut Writer) {
        let (code, chain): (i32, Option<&str>) = match self {
            Verdict::Drop => (0, None),
            Verdict::Accept => (1, None),
            Verdict::Continue => (-1, None),
            Verdict::Break => (-2, None),
            Verdict::Jump(c) => (-3, Some(c)),
            Verdict::Goto(c) => (-4, Some(c)),
            Verdict::Return => (-5, None),
            Verdict::Other(n, c) => (*n, c.as_deref()),
        };
        w.nest(NFTA_DATA_VERDICT, |v| {
            v.u32be(NFTA_VERDICT_CODE, code as u32);
            if let Some(c) = chain {
                v.str(NFTA_VERDICT_CHAIN, c);
            }
        });
    }

    fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut code = None;
        let mut chain = None;
        for a in iter(buf) {
            let (k, _, v) = a?;
            match k {
                NFTA_VERDICT_CODE => code = Some(get_u32(v, "verdict code")? as i32),
                NFTA_VERDICT_CHAIN => chain = Some(get_str(v, "verdict chain")?),
                _ => {}
            }
        }
        let code = code.ok_or_else(|| err("verdict without code"))?;
        Ok(match (code, chain) {
            (0, None) => Verdict::Drop,
            (1, None) => Verdict::Accept,
            (-1, None) => Verdict::Continue,
            (-2, None) => Verdict::Break,
            (-3, Some(c)) => Verdict::Jump(c),
            (-4, Some(c)) => Verdict::Goto(c),
            (-5, None) => Verdict::Return,
            (n, c) => Verdict::Other(n, c),
        })
    }
}

/// Data carried by `immediate`, `cmp`, `bitwise` and set elements
/// (`NFTA_DATA_VALUE` or `NFTA_DATA_VERDICT`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Data {
    /// Plain bytes, in the order they are compared with packet data.
    Value(Vec<u8>),
    /// A verdict.
    Verdict(Verdict),
}

impl Data {
    pub(crate) fn emit(&self, w: &mut Writer) {
        match self {
            Data::Value(b) => {
                w.bytes(NFTA_DATA_VALUE, b);
            }
            Data::Verdict(v) => v.emit(w),
        }
    }

    pub(crate) fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        for a in iter(buf) {
            let (k, _, v) = a?;
            match k {
                NFTA_DATA_VALUE => return Ok(Data::Value(v.to_vec())),
                NFTA_DATA_VERDICT => return Ok(Data::Verdict(Verdict::parse(v)?)),
                _ => {}
            }
        }
        Err(err("data attribute holds neither a value nor a verdict"))
    }

    /// Concatenated values (`ipv4_addr . inet_service`): each field padded
    /// to 4 bytes, as registers and map data hold them.
    ///
    /// ```
    /// use nftables_glue::Data;
    /// let d = Data::concat(&[&[10, 0, 2, 2], &8080u16.to_be_bytes()]);
    /// assert_eq!(d, Data::Value(vec![10, 0, 2, 2, 0x1f, 0x90, 0, 0]));
    /// ```
    pub fn concat(fields: &[&[u8]]) -> Self {
        let mut v = Vec::new();
        for f in fields {
            v.extend_from_slice(f);
            v.resize(v.len().div_ceil(4) * 4, 0);
        }
        Data::Value(v)
    }

    fn value(buf: &[u8]) -> Result<Vec<u8>, DecodeError> {
        match Data::parse(buf)? {
            Data::Value(v) => Ok(v),
            Data::Verdict(_) => Err(err("expected a value, got a verdict")),
        }
    }
}

/// Where `payload` reads from (`enum nft_payload_bases`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PayloadBase {
    /// `NFT_PAYLOAD_LL_HEADER` (0)
    LinkLayer,
    /// `NFT_PAYLOAD_NETWORK_HEADER` (1)
    Network,
    /// `NFT_PAYLOAD_TRANSPORT_HEADER` (2)
    Transport,
    /// `NFT_PAYLOAD_INNER_HEADER` (3)
    Inner,
    /// Any other base.
    Other(u32),
}

impl PayloadBase {
    fn number(self) -> u32 {
        match self {
            PayloadBase::LinkLayer => 0,
            PayloadBase::Network => 1,
            PayloadBase::Transport => 2,
            PayloadBase::Inner => 3,
            PayloadBase::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => PayloadBase::LinkLayer,
            1 => PayloadBase::Network,
            2 => PayloadBase::Transport,
            3 => PayloadBase::Inner,
            n => PayloadBase::Other(n),
        }
    }
}

/// `payload`: load packet bytes into a register.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Payload {
    /// Destination register.
    pub dreg: Register,
    /// Header the offset counts from.
    pub base: PayloadBase,
    /// Offset in bytes.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Payload {
    /// `len` bytes at `offset` from the start of `base` into `dreg`
    /// (`@nh,96,32` is `Payload::new(Register::R1, PayloadBase::Network, 12, 4)`).
    ///
    /// ```
    /// use nftables_glue::{Payload, PayloadBase, Register};
    /// assert_eq!(Payload::new(Register::R1, PayloadBase::Network, 12, 4), Payload::ipv4_saddr(Register::R1));
    /// ```
    pub fn new(dreg: Register, base: PayloadBase, offset: u32, len: u32) -> Self {
        Payload {
            dreg,
            base,
            offset,
            len,
        }
    }
    /// `ip saddr`
    pub fn ipv4_saddr(dreg: Register) -> Self {
        Payload {
            dreg,
            base: PayloadBase::Network,
            offset: 12,
            len: 4,
        }
    }
    /// `ip daddr`
    pub fn ipv4_daddr(dreg: Register) -> Self {
        Payload {
            dreg,
            base: PayloadBase::Network,
            offset: 16,
            len: 4,
        }
    }
    /// `ip6 saddr`
    pub fn ipv6_saddr(dreg: Register) -> Self {
        Payload {
            dreg,
            base: PayloadBase::Network,
            offset: 8,
            len: 16,
        }
    }
    /// `ip6 daddr`
    pub fn ipv6_daddr(dreg: Register) -> Self {
        Payload {
            dreg,
            base: PayloadBase::Network,
            offset: 24,
            len: 16,
        }
    }
    /// `th sport` (transport source port)
    pub fn th_sport(dreg: Register) -> Self {
        Payload {
            dreg,
            base: PayloadBase::Transport,
            offset: 0,
            len: 2,
        }
    }
    /// `th dport` (transport destination port)
    pub fn th_dport(dreg: Register) -> Self {
        Payload {
            dreg,
            base: PayloadBase::Transport,
            offset: 2,
            len: 2,
        }
    }
}

/// A `meta` key (`enum nft_meta_keys`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetaKey {
    /// `NFT_META_LEN` (0)
    Len,
    /// `NFT_META_PROTOCOL` (1)
    Protocol,
    /// `NFT_META_PRIORITY` (2)
    Priority,
    /// `NFT_META_MARK` (3)
    Mark,
    /// `NFT_META_IIF` (4)
    Iif,
    /// `NFT_META_OIF` (5)
    Oif,
    /// `NFT_META_IIFNAME` (6)
    IifName,
    /// `NFT_META_OIFNAME` (7)
    OifName,
    /// `NFT_META_NFPROTO` (15)
    NfProto,
    /// `NFT_META_L4PROTO` (16)
    L4Proto,
    /// Any other key.
    Other(u32),
}

impl MetaKey {
    fn number(self) -> u32 {
        match self {
            MetaKey::Len => 0,
            MetaKey::Protocol => 1,
            MetaKey::Priority => 2,
            MetaKey::Mark => 3,
            MetaKey::Iif => 4,
            MetaKey::Oif => 5,
            MetaKey::IifName => 6,
            MetaKey::OifName => 7,
            MetaKey::NfProto => 15,
            MetaKey::L4Proto => 16,
            MetaKey::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => MetaKey::Len,
            1 => MetaKey::Protocol,
            2 => MetaKey::Priority,
            3 => MetaKey::Mark,
            4 => MetaKey::Iif,
            5 => MetaKey::Oif,
            6 => MetaKey::IifName,
            7 => MetaKey::OifName,
            15 => MetaKey::NfProto,
            16 => MetaKey::L4Proto,
            n => MetaKey::Other(n),
        }
    }
}

/// `meta`: load packet metadata, or set it.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Meta {
    /// Load `key` into `dreg`.
    Load {
        /// What to load.
        key: MetaKey,
        /// Destination register.
        dreg: Register,
    },
    /// Set `key` from `sreg` (`meta mark set ...`).
    Set {
        /// What to set.
        key: MetaKey,
        /// Source register.
        sreg: Register,
    },
}

/// A comparison (`enum nft_cmp_ops`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CmpOp {
    /// `NFT_CMP_EQ` (0)
    Eq,
    /// `NFT_CMP_NEQ` (1)
    Neq,
    /// `NFT_CMP_LT` (2)
    Lt,
    /// `NFT_CMP_LTE` (3)
    Lte,
    /// `NFT_CMP_GT` (4)
    Gt,
    /// `NFT_CMP_GTE` (5)
    Gte,
    /// Any other operator.
    Other(u32),
}

impl CmpOp {
    fn number(self) -> u32 {
        match self {
            CmpOp::Eq => 0,
            CmpOp::Neq => 1,
            CmpOp::Lt => 2,
            CmpOp::Lte => 3,
            CmpOp::Gt => 4,
            CmpOp::Gte => 5,
            CmpOp::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => CmpOp::Eq,
            1 => CmpOp::Neq,
            2 => CmpOp::Lt,
            3 => CmpOp::Lte,
            4 => CmpOp::Gt,
            5 => CmpOp::Gte,
            n => CmpOp::Other(n),
        }
    }
}

/// `cmp`: compare a register with data; the rule stops when it fails.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Cmp {
    /// Register compared.
    pub sreg: Register,
    /// Operator.
    pub op: CmpOp,
    /// Data compared with.
    pub data: Vec<u8>,
}

impl Cmp {
    /// `sreg OP data`.
    ///
    /// ```
    /// use nftables_glue::{Cmp, CmpOp, Expr, Register};
    /// let c = Cmp::new(Register::R1, CmpOp::Eq, vec![6]);
    /// assert_eq!(Expr::Cmp(c), Expr::cmp_eq(Register::R1, vec![6]));
    /// ```
    pub fn new(sreg: Register, op: CmpOp, data: Vec<u8>) -> Self {
        Cmp { sreg, op, data }
    }
}

/// `bitwise` (mask-and-xor form): `dreg = (sreg & mask) ^ xor`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Bitwise {
    /// Source register.
    pub sreg: Register,
    /// Destination register.
    pub dreg: Register,
    /// Length in bytes.
    pub len: u32,
    /// AND mask (`len` bytes).
    pub mask: Vec<u8>,
    /// XOR value (`len` bytes).
    pub xor: Vec<u8>,
}

impl Bitwise {
    /// `dreg = (sreg & mask) ^ xor`, on as many bytes as `mask` has (`xor`
    /// must be as long).
    ///
    /// ```
    /// use nftables_glue::{Bitwise, Expr, Register};
    /// let b = Bitwise::new(Register::R1, Register::R1, 0xff00u32.to_ne_bytes().to_vec(), vec![0; 4]);
    /// assert_eq!(Expr::Bitwise(b), Expr::bitwise_u32(Register::R1, 0xff00, 0));
    /// ```
    pub fn new(sreg: Register, dreg: Register, mask: Vec<u8>, xor: Vec<u8>) -> Self {
        Bitwise {
            sreg,
            dreg,
            len: u32::try_from(mask.len()).unwrap_or(u32::MAX),
            mask,
            xor,
        }
    }
}

/// `immediate`: load data (or set the verdict).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Immediate {
    /// Destination register ([`Register::VERDICT`] for verdicts).
    pub dreg: Register,
    /// Data loaded.
    pub data: Data,
}

impl Immediate {
    /// `data` into `dreg` ([`Register::VERDICT`] with [`Data::Verdict`]
    /// for a verdict).
    ///
    /// ```
    /// use nftables_glue::{Data, Expr, Immediate, Register};
    /// let i = Immediate::new(Register::R1, Data::Value(vec![10, 0, 0, 1]));
    /// assert_eq!(Expr::Immediate(i), Expr::immediate(Register::R1, vec![10, 0, 0, 1]));
    /// ```
    pub fn new(dreg: Register, data: Data) -> Self {
        Immediate { dreg, data }
    }
}

/// `lookup`: is the register's content an element of a set?
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Lookup {
    /// Set name.
    pub set: String,
    /// Set id, for a set created in the same transaction (never read back).
    pub set_id: Option<u32>,
    /// Register holding the key.
    pub sreg: Register,
    /// Destination register for maps.
    pub dreg: Option<Register>,
    /// Match when absent instead (`NFT_LOOKUP_F_INV`).
    pub invert: bool,
}

impl Lookup {
    /// `sreg @set`: the rule goes on when the key in `sreg` is an element.
    ///
    /// ```
    /// use nftables_glue::{Expr, Lookup, Register};
    /// // ip daddr != @blocked
    /// let l = Lookup::new("blocked", Register::R1).inverted();
    /// assert!(l.invert);
    /// // ... vmap @m
    /// let v = Lookup::new("m", Register::R1).with_dreg(Register::VERDICT);
    /// assert_eq!(Expr::Lookup(v), Expr::vmap("m", Register::R1));
    /// ```
    pub fn new(set: impl Into<String>, sreg: Register) -> Self {
        Lookup {
            set: set.into(),
            set_id: None,
            sreg,
            dreg: None,
            invert: false,
        }
    }
    /// A map lookup: the element's value into `dreg`.
    pub fn with_dreg(mut self, dreg: Register) -> Self {
        self.dreg = Some(dreg);
        self
    }
    /// The set by its transaction id too (a set created in the same
    /// transaction).
    pub fn with_set_id(mut self, id: u32) -> Self {
        self.set_id = Some(id);
        self
    }
    /// Match when the key is absent (`!= @set`).
    pub fn inverted(mut self) -> Self {
        self.invert = true;
        self
    }
}

/// `counter`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counter {
    /// Bytes counted.
    pub bytes: u64,
    /// Packets counted.
    pub packets: u64,
}

/// A conntrack key (`enum nft_ct_keys`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CtKey {
    /// `NFT_CT_STATE` (0)
    State,
    /// `NFT_CT_DIRECTION` (1)
    Direction,
    /// `NFT_CT_STATUS` (2)
    Status,
    /// `NFT_CT_MARK` (3)
    Mark,
    /// Any other key.
    Other(u32),
}

impl CtKey {
    fn number(self) -> u32 {
        match self {
            CtKey::State => 0,
            CtKey::Direction => 1,
            CtKey::Status => 2,
            CtKey::Mark => 3,
            CtKey::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => CtKey::State,
            1 => CtKey::Direction,
            2 => CtKey::Status,
            3 => CtKey::Mark,
            n => CtKey::Other(n),
        }
    }
}

bitflags! {
    /// Conntrack state bits as `ct state` loads them
    /// (`NF_CT_STATE_BIT(ctinfo)`, `NF_CT_STATE_INVALID_BIT`,
    /// `NF_CT_STATE_UNTRACKED_BIT`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CtState: u32 {
        /// invalid
        const INVALID = 1 << 0;
        /// established (`IP_CT_ESTABLISHED` 0)
        const ESTABLISHED = 1 << 1;
        /// related (`IP_CT_RELATED` 1)
        const RELATED = 1 << 2;
        /// new (`IP_CT_NEW` 2)
        const NEW = 1 << 3;
        /// untracked
        const UNTRACKED = 1 << 6;
        const _ = !0;
    }
}

/// `ct`: load a conntrack key.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Ct {
    /// What to load.
    pub key: CtKey,
    /// Destination register.
    pub dreg: Register,
    /// Direction (original 0, reply 1) for directional keys.
    pub direction: Option<u8>,
}

impl Ct {
    /// `ct KEY` into `dreg`.
    ///
    /// ```
    /// use nftables_glue::{Ct, CtKey, Register};
    /// // ct state
    /// let c = Ct::new(CtKey::State, Register::R1);
    /// assert_eq!(c.direction, None);
    /// // ct original proto-dst (key 12, directional)
    /// let d = Ct::new(CtKey::Other(12), Register::R1).with_direction(0);
    /// assert_eq!(d.direction, Some(0));
    /// ```
    pub fn new(key: CtKey, dreg: Register) -> Self {
        Ct {
            key,
            dreg,
            direction: None,
        }
    }
    /// The direction of a directional key (original 0, reply 1).
    pub fn with_direction(mut self, direction: u8) -> Self {
        self.direction = Some(direction);
        self
    }
}

bitflags! {
    /// NAT range flags (`NF_NAT_RANGE_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct NatFlags: u32 {
        /// `NF_NAT_RANGE_MAP_IPS`
        const MAP_IPS = 1 << 0;
        /// `NF_NAT_RANGE_PROTO_SPECIFIED`
        const PROTO_SPECIFIED = 1 << 1;
        /// `NF_NAT_RANGE_PROTO_RANDOM` (`random`)
        const RANDOM = 1 << 2;
        /// `NF_NAT_RANGE_PERSISTENT` (`persistent`)
        const PERSISTENT = 1 << 3;
        /// `NF_NAT_RANGE_PROTO_RANDOM_FULLY` (`fully-random`)
        const FULLY_RANDOM = 1 << 4;
        const _ = !0;
    }
}

/// `masq`: masquerade (source NAT to the outgoing interface's address).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Masq {
    /// Flags (`fully-random`, `random`, `persistent`).
    pub flags: NatFlags,
    /// Register holding the lowest port, if a port range is given.
    pub proto_min: Option<Register>,
    /// Register holding the highest port.
    pub proto_max: Option<Register>,
}

impl Masq {
    /// `masquerade` without flags or ports.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds flags (`random`, `persistent`, `fully-random`).
    pub fn with_flags(mut self, flags: NatFlags) -> Self {
        self.flags |= flags;
        self
    }
    /// `to :PORT-PORT`: the port range in these registers (adds
    /// [`NatFlags::PROTO_SPECIFIED`], as the kernel lists it).
    pub fn with_proto_range(mut self, min: Register, max: Register) -> Self {
        self.proto_min = Some(min);
        self.proto_max = Some(max);
        self.flags |= NatFlags::PROTO_SPECIFIED;
        self
    }
}

/// `redir`: redirect to the local machine (the incoming interface's
/// primary address), optionally to a port range.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Redir {
    /// Flags (`random`, `persistent`, ...; the kernel adds
    /// [`NatFlags::PROTO_SPECIFIED`] when a port register is given).
    pub flags: NatFlags,
    /// Register holding the lowest port.
    pub proto_min: Option<Register>,
    /// Register holding the highest port.
    pub proto_max: Option<Register>,
}

impl Redir {
    /// `redirect` without flags or ports.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds flags (`random`, `persistent`, `fully-random`).
    pub fn with_flags(mut self, flags: NatFlags) -> Self {
        self.flags |= flags;
        self
    }
    /// `to :PORT-PORT`: the port range in these registers (adds
    /// [`NatFlags::PROTO_SPECIFIED`], as the kernel lists it).
    pub fn with_proto_range(mut self, min: Register, max: Register) -> Self {
        self.proto_min = Some(min);
        self.proto_max = Some(max);
        self.flags |= NatFlags::PROTO_SPECIFIED;
        self
    }
}

/// The kind of `nat` (`enum nft_nat_types`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NatType {
    /// `NFT_NAT_SNAT` (0)
    Snat,
    /// `NFT_NAT_DNAT` (1)
    Dnat,
    /// Any other value.
    Other(u32),
}

impl NatType {
    fn number(self) -> u32 {
        match self {
            NatType::Snat => 0,
            NatType::Dnat => 1,
            NatType::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => NatType::Snat,
            1 => NatType::Dnat,
            n => NatType::Other(n),
        }
    }
}

/// `nat`: source or destination NAT to the addresses and ports held in
/// registers (`snat to ...`, `dnat to ...`).
///
/// The kernel keeps it normalized and lists it so: an address range has
/// both registers (min = max for one address), a port range both, and
/// the flags carry [`NatFlags::MAP_IPS`] / [`NatFlags::PROTO_SPECIFIED`]
/// for them. [`Nat::dnat`] and [`Nat::snat`] build that form, so that a
/// rule read back compares equal to the one sent.
///
/// ```
/// use nftables_glue::{Family, Nat, NatFlags, NatType, Register};
/// // dnat ip to <reg 1>:<reg 2>
/// let n = Nat::dnat(Family::Ipv4, Register::R1, Some(Register::R2));
/// assert_eq!(n.nat_type, NatType::Dnat);
/// assert_eq!(n.flags, NatFlags::MAP_IPS | NatFlags::PROTO_SPECIFIED);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Nat {
    /// snat or dnat.
    pub nat_type: NatType,
    /// Address family of the addresses (`NFTA_NAT_FAMILY`: ip or ip6).
    pub family: Family,
    /// Register holding the lowest address.
    pub addr_min: Option<Register>,
    /// Register holding the highest address.
    pub addr_max: Option<Register>,
    /// Register holding the lowest port.
    pub proto_min: Option<Register>,
    /// Register holding the highest port.
    pub proto_max: Option<Register>,
    /// Range flags (`NFTA_NAT_FLAGS`; emitted when not empty).
    pub flags: NatFlags,
}

impl Nat {
    /// `snat`/`dnat` of `family` addresses, without registers or flags
    /// yet (the builders below add them).
    ///
    /// ```
    /// use nftables_glue::{Family, Nat, NatFlags, NatType, Register};
    /// // dnat ip to <reg 1>-<reg 2>:<reg 3>-<reg 4> random
    /// let n = Nat::new(NatType::Dnat, Family::Ipv4)
    ///     .with_addr_range(Register::R1, Register::R2)
    ///     .with_proto_range(Register::R3, Register::R4)
    ///     .with_flags(NatFlags::RANDOM);
    /// assert_eq!(n.flags, NatFlags::MAP_IPS | NatFlags::PROTO_SPECIFIED | NatFlags::RANDOM);
    /// ```
    pub fn new(nat_type: NatType, family: Family) -> Self {
        Nat {
            nat_type,
            family,
            addr_min: None,
            addr_max: None,
            proto_min: None,
            proto_max: None,
            flags: NatFlags::empty(),
        }
    }
    /// `to ADDR-ADDR`: the address range in these registers (adds
    /// [`NatFlags::MAP_IPS`]).
    pub fn with_addr_range(mut self, min: Register, max: Register) -> Self {
        self.addr_min = Some(min);
        self.addr_max = Some(max);
        self.flags |= NatFlags::MAP_IPS;
        self
    }
    /// `:PORT-PORT`: the port range in these registers (adds
    /// [`NatFlags::PROTO_SPECIFIED`]).
    pub fn with_proto_range(mut self, min: Register, max: Register) -> Self {
        self.proto_min = Some(min);
        self.proto_max = Some(max);
        self.flags |= NatFlags::PROTO_SPECIFIED;
        self
    }
    /// Adds flags (`random`, `persistent`, `fully-random`).
    pub fn with_flags(mut self, flags: NatFlags) -> Self {
        self.flags |= flags;
        self
    }

    fn to_one(nat_type: NatType, family: Family, addr: Register, port: Option<Register>) -> Self {
        let mut flags = NatFlags::MAP_IPS;
        if port.is_some() {
            flags |= NatFlags::PROTO_SPECIFIED;
        }
        Nat {
            nat_type,
            family,
            addr_min: Some(addr),
            addr_max: Some(addr),
            proto_min: port,
            proto_max: port,
            flags,
        }
    }

    /// `dnat to ADDR[:PORT]`, the address in `addr`, the port (if any) in
    /// `port`, in the kernel's normalized form.
    pub fn dnat(family: Family, addr: Register, port: Option<Register>) -> Self {
        Self::to_one(NatType::Dnat, family, addr, port)
    }

    /// `snat to ADDR[:PORT]`, in the kernel's normalized form.
    pub fn snat(family: Family, addr: Register, port: Option<Register>) -> Self {
        Self::to_one(NatType::Snat, family, addr, port)
    }
}

/// How `numgen` makes its numbers (`enum nft_ng_types`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NumgenType {
    /// `NFT_NG_INCREMENTAL` (0): `inc`, a counter shared by every packet
    /// through the expression (round robin).
    Incremental,
    /// `NFT_NG_RANDOM` (1): `random`.
    Random,
    /// Any other value.
    Other(u32),
}

impl NumgenType {
    fn number(self) -> u32 {
        match self {
            NumgenType::Incremental => 0,
            NumgenType::Random => 1,
            NumgenType::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => NumgenType::Incremental,
            1 => NumgenType::Random,
            n => NumgenType::Other(n),
        }
    }
}

/// `numgen`: a number in `offset .. offset + modulus` (4 bytes, host
/// order) into `dreg`.
///
/// ```
/// use nftables_glue::{Numgen, NumgenType, Register};
/// // numgen inc mod 2 offset 1
/// let ng = Numgen::new(NumgenType::Incremental, 2, Register::R1).with_offset(1);
/// assert_eq!((ng.modulus, ng.offset), (2, 1));
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Numgen {
    /// `inc` or `random`.
    pub kind: NumgenType,
    /// How many different numbers (`mod N`).
    pub modulus: u32,
    /// Added to each number (`offset N`; the kernel lists it always).
    pub offset: u32,
    /// Destination register.
    pub dreg: Register,
}

impl Numgen {
    /// `numgen inc|random mod MODULUS` into `dreg` (offset 0).
    pub fn new(kind: NumgenType, modulus: u32, dreg: Register) -> Self {
        Numgen {
            kind,
            modulus,
            offset: 0,
            dreg,
        }
    }
    /// `offset N`.
    pub fn with_offset(mut self, offset: u32) -> Self {
        self.offset = offset;
        self
    }
}

/// What `fib` looks up (`enum nft_fib_result`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FibResult {
    /// `NFT_FIB_RESULT_OIF` (1): output interface index (`oif`).
    Oif,
    /// `NFT_FIB_RESULT_OIFNAME` (2): output interface name (`oifname`).
    OifName,
    /// `NFT_FIB_RESULT_ADDRTYPE` (3): address type (`type`: local, unicast, ...).
    AddrType,
    /// Any other value.
    Other(u32),
}

impl FibResult {
    fn number(self) -> u32 {
        match self {
            FibResult::Oif => 1,
            FibResult::OifName => 2,
            FibResult::AddrType => 3,
            FibResult::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            1 => FibResult::Oif,
            2 => FibResult::OifName,
            3 => FibResult::AddrType,
            n => FibResult::Other(n),
        }
    }
}

bitflags! {
    /// `enum nft_fib_flags`: which packet fields key the lookup.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FibFlags: u32 {
        /// `NFTA_FIB_F_SADDR`: the source address
        const SADDR = 1 << 0;
        /// `NFTA_FIB_F_DADDR`: the destination address
        const DADDR = 1 << 1;
        /// `NFTA_FIB_F_MARK`: the packet mark
        const MARK = 1 << 2;
        /// `NFTA_FIB_F_IIF`: the input interface
        const IIF = 1 << 3;
        /// `NFTA_FIB_F_OIF`: the output interface
        const OIF = 1 << 4;
        /// `NFTA_FIB_F_PRESENT`: only whether a result exists (`missing`/`exists`)
        const PRESENT = 1 << 5;
        const _ = !0;
    }
}

/// The address type `fib ... type` yields (`RTN_LOCAL`, from
/// `include/uapi/linux/rtnetlink.h`), for comparisons.
pub const RTN_LOCAL: u32 = 2;

/// `fib`: a routing lookup (`fib daddr type`, `fib saddr . iif oif`).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Fib {
    /// What to look up.
    pub result: FibResult,
    /// The keys of the lookup.
    pub flags: FibFlags,
    /// Destination register.
    pub dreg: Register,
}

impl Fib {
    /// `fib KEYS RESULT` into `dreg`.
    ///
    /// ```
    /// use nftables_glue::{Fib, FibFlags, FibResult, Register};
    /// // fib daddr type
    /// let f = Fib::new(FibResult::AddrType, FibFlags::DADDR, Register::R1);
    /// assert_eq!(f.result, FibResult::AddrType);
    /// ```
    pub fn new(result: FibResult, flags: FibFlags, dreg: Register) -> Self {
        Fib {
            result,
            flags,
            dreg,
        }
    }
}

/// ICMPv4/v6-independent reject codes (`enum nft_reject_inet_code`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcmpxCode {
    /// `NFT_REJECT_ICMPX_NO_ROUTE` (0)
    NoRoute,
    /// `NFT_REJECT_ICMPX_PORT_UNREACH` (1)
    PortUnreachable,
    /// `NFT_REJECT_ICMPX_HOST_UNREACH` (2)
    HostUnreachable,
    /// `NFT_REJECT_ICMPX_ADMIN_PROHIBITED` (3)
    AdminProhibited,
    /// Any other value.
    Other(u8),
}

impl IcmpxCode {
    fn number(self) -> u8 {
        match self {
            IcmpxCode::NoRoute => 0,
            IcmpxCode::PortUnreachable => 1,
            IcmpxCode::HostUnreachable => 2,
            IcmpxCode::AdminProhibited => 3,
            IcmpxCode::Other(n) => n,
        }
    }
    fn from_number(n: u8) -> Self {
        match n {
            0 => IcmpxCode::NoRoute,
            1 => IcmpxCode::PortUnreachable,
            2 => IcmpxCode::HostUnreachable,
            3 => IcmpxCode::AdminProhibited,
            n => IcmpxCode::Other(n),
        }
    }
}

/// `reject` (`enum nft_reject_types` with its code).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reject {
    /// `NFT_REJECT_ICMP_UNREACH` (0): an ICMP (ip) or ICMPv6 (ip6)
    /// destination-unreachable with this code (`reject with icmp
    /// port-unreachable` is code 3; plain `reject` in ip is that).
    Icmp(u8),
    /// `NFT_REJECT_TCP_RST` (1): `reject with tcp reset`.
    TcpReset,
    /// `NFT_REJECT_ICMPX_UNREACH` (2): family-independent code (inet,
    /// bridge, netdev; plain `reject` in inet is port unreachable).
    Icmpx(IcmpxCode),
    /// Any other type, with its code if any.
    Other(u32, Option<u8>),
}

/// `objref`: use a stateful object (counter, quota, ct helper, ...) by
/// name, or the one a map yields.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Objref {
    /// `NFTA_OBJREF_IMM_TYPE` and `_IMM_NAME`: a named object.
    Immediate {
        /// The object type (`NFT_OBJECT_COUNTER` 1, `_QUOTA` 2, ...).
        obj_type: u32,
        /// Its name.
        name: String,
    },
    /// `NFTA_OBJREF_SET_SREG` and `_SET_NAME` (`_SET_ID`): the object an
    /// object map yields for the key in `sreg`.
    Map {
        /// Register holding the key.
        sreg: Register,
        /// The object map.
        set: String,
        /// The map's transaction id, when created in the same transaction.
        set_id: Option<u32>,
    },
}

/// An expression this crate does not type (or that carries attributes it
/// does not know): its name and the raw content of `NFTA_EXPR_DATA`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawExpr {
    /// Expression name (`NFTA_EXPR_NAME`).
    pub name: String,
    /// Encoded `NFTA_EXPR_DATA` content, if present.
    pub data: Option<Vec<u8>>,
}

/// One expression of a rule.
///
/// ```
/// use nftables_glue::{Expr, Payload, Register, Verdict};
/// let exprs = vec![
///     Expr::Payload(Payload::ipv4_daddr(Register::R1)),
///     Expr::cmp_eq(Register::R1, vec![10, 200, 3, 2]),
///     Expr::verdict(Verdict::Accept),
/// ];
/// assert_eq!(exprs[2].name(), "immediate");
/// ```
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expr {
    /// `payload`
    Payload(Payload),
    /// `meta`
    Meta(Meta),
    /// `cmp`
    Cmp(Cmp),
    /// `bitwise`
    Bitwise(Bitwise),
    /// `immediate`
    Immediate(Immediate),
    /// `lookup`
    Lookup(Lookup),
    /// `counter`
    Counter(Counter),
    /// `ct`
    Ct(Ct),
    /// `masq`
    Masq(Masq),
    /// `nat` (`snat`, `dnat`)
    Nat(Nat),
    /// `redir` (`redirect`)
    Redir(Redir),
    /// `numgen`
    Numgen(Numgen),
    /// `fib`
    Fib(Fib),
    /// `reject`
    Reject(Reject),
    /// `objref`
    Objref(Objref),
    /// `match` (nft_compat: an xtables match such as `set` or `ipvs`)
    Match(Match),
    /// Anything else, kept as is.
    Raw(RawExpr),
}

impl Expr {
    /// The kernel's name of this expression.
    pub fn name(&self) -> &str {
        match self {
            Expr::Payload(_) => "payload",
            Expr::Meta(_) => "meta",
            Expr::Cmp(_) => "cmp",
            Expr::Bitwise(_) => "bitwise",
            Expr::Immediate(_) => "immediate",
            Expr::Lookup(_) => "lookup",
            Expr::Counter(_) => "counter",
            Expr::Ct(_) => "ct",
            Expr::Masq(_) => "masq",
            Expr::Nat(_) => "nat",
            Expr::Redir(_) => "redir",
            Expr::Numgen(_) => "numgen",
            Expr::Fib(_) => "fib",
            Expr::Reject(_) => "reject",
            Expr::Objref(_) => "objref",
            Expr::Match(_) => "match",
            Expr::Raw(r) => &r.name,
        }
    }

    /// `cmp eq`.
    pub fn cmp_eq(sreg: Register, data: Vec<u8>) -> Self {
        Expr::Cmp(Cmp {
            sreg,
            op: CmpOp::Eq,
            data,
        })
    }

    /// A verdict (`immediate` into the verdict register).
    pub fn verdict(v: Verdict) -> Self {
        Expr::Immediate(Immediate {
            dreg: Register::VERDICT,
            data: Data::Verdict(v),
        })
    }

    /// `meta KEY` into `dreg`.
    pub fn meta_load(key: MetaKey, dreg: Register) -> Self {
        Expr::Meta(Meta::Load { key, dreg })
    }

    /// `meta KEY set` from `sreg`.
    pub fn meta_set(key: MetaKey, sreg: Register) -> Self {
        Expr::Meta(Meta::Set { key, sreg })
    }

    /// `lookup` of `sreg` in the named set.
    pub fn lookup(set: impl Into<String>, sreg: Register) -> Self {
        Expr::Lookup(Lookup {
            set: set.into(),
            set_id: None,
            sreg,
            dreg: None,
            invert: false,
        })
    }

    /// `bitwise` on 4 bytes: `reg = (reg & mask) ^ xor` (host byte order
    /// values, as marks are).
    pub fn bitwise_u32(reg: Register, mask: u32, xor: u32) -> Self {
        Expr::Bitwise(Bitwise {
            sreg: reg,
            dreg: reg,
            len: 4,
            mask: mask.to_ne_bytes().to_vec(),
            xor: xor.to_ne_bytes().to_vec(),
        })
    }

    /// `immediate` of plain bytes into `dreg` (addresses, ports to NAT to).
    pub fn immediate(dreg: Register, value: Vec<u8>) -> Self {
        Expr::Immediate(Immediate {
            dreg,
            data: Data::Value(value),
        })
    }

    /// `lookup` of `sreg` in the verdict map `set` (`... vmap @set`): the
    /// element's verdict becomes the rule's.
    pub fn vmap(set: impl Into<String>, sreg: Register) -> Self {
        Expr::Lookup(Lookup {
            set: set.into(),
            set_id: None,
            sreg,
            dreg: Some(Register::VERDICT),
            invert: false,
        })
    }

    /// `lookup` of `sreg` in the data map `set`, the value into `dreg`
    /// (`... map @set`).
    pub fn map(set: impl Into<String>, sreg: Register, dreg: Register) -> Self {
        Expr::Lookup(Lookup {
            set: set.into(),
            set_id: None,
            sreg,
            dreg: Some(dreg),
            invert: false,
        })
    }

    /// The expressions of `dnat to ADDR:PORT` (`dnat ip to` / `dnat ip6
    /// to`; the table's family decides in ip and ip6 tables): both loaded
    /// into registers 1 and 2, then `nat`, as `nft` writes it.
    ///
    /// ```
    /// use nftables_glue::Expr;
    /// let e = Expr::dnat_to("10.0.2.2:8080".parse().unwrap());
    /// assert_eq!(e.len(), 3);
    /// assert_eq!(e[2].name(), "nat");
    /// ```
    pub fn dnat_to(to: std::net::SocketAddr) -> Vec<Expr> {
        let (family, addr) = match to.ip() {
            std::net::IpAddr::V4(a) => (Family::Ipv4, a.octets().to_vec()),
            std::net::IpAddr::V6(a) => (Family::Ipv6, a.octets().to_vec()),
        };
        vec![
            Expr::immediate(Register::R1, addr),
            Expr::immediate(Register::R2, to.port().to_be_bytes().to_vec()),
            Expr::Nat(Nat::dnat(family, Register::R1, Some(Register::R2))),
        ]
    }

    /// `meta l4proto PROTO` (the match `nft` puts before a port mapping).
    pub fn l4proto_is(proto: u8) -> Vec<Expr> {
        vec![
            Expr::meta_load(MetaKey::L4Proto, Register::R1),
            Expr::cmp_eq(Register::R1, vec![proto]),
        ]
    }

    /// A zeroed `counter`.
    pub fn counter() -> Self {
        Expr::Counter(Counter::default())
    }

    /// `masquerade`, optionally `fully-random`.
    pub fn masquerade(fully_random: bool) -> Self {
        let flags = if fully_random {
            NatFlags::FULLY_RANDOM
        } else {
            NatFlags::empty()
        };
        Expr::Masq(Masq {
            flags,
            proto_min: None,
            proto_max: None,
        })
    }

    /// The expressions of `ct state & STATES != 0` (match any of `states`).
    pub fn ct_state_in(states: CtState) -> Vec<Expr> {
        vec![
            Expr::Ct(Ct {
                key: CtKey::State,
                dreg: Register::R1,
                direction: None,
            }),
            Expr::bitwise_u32(Register::R1, states.bits(), 0),
            Expr::Cmp(Cmp {
                sreg: Register::R1,
                op: CmpOp::Neq,
                data: vec![0; 4],
            }),
        ]
    }

    /// `meta mark & mask == value`.
    pub fn mark_match(value: u32, mask: u32) -> Vec<Expr> {
        vec![
            Expr::meta_load(MetaKey::Mark, Register::R1),
            Expr::bitwise_u32(Register::R1, mask, 0),
            Expr::cmp_eq(Register::R1, value.to_ne_bytes().to_vec()),
        ]
    }

    /// `meta mark set mark & ~mask ^ value` (iptables `--set-xmark value/mask`).
    pub fn mark_set_xmark(value: u32, mask: u32) -> Vec<Expr> {
        vec![
            Expr::meta_load(MetaKey::Mark, Register::R1),
            Expr::bitwise_u32(Register::R1, !mask, value),
            Expr::meta_set(MetaKey::Mark, Register::R1),
        ]
    }

    fn emit_data(&self, w: &mut Writer) {
        match self {
            Expr::Payload(p) => {
                w.u32be(1, p.dreg.0)
                    .u32be(2, p.base.number())
                    .u32be(3, p.offset)
                    .u32be(4, p.len);
            }
            Expr::Meta(Meta::Load { key, dreg }) => {
                w.u32be(2, key.number()).u32be(1, dreg.0);
            }
            Expr::Meta(Meta::Set { key, sreg }) => {
                w.u32be(2, key.number()).u32be(3, sreg.0);
            }
            Expr::Cmp(c) => {
                w.u32be(1, c.sreg.0).u32be(2, c.op.number());
                w.nest(3, |d| {
                    d.bytes(NFTA_DATA_VALUE, &c.data);
                });
            }
            Expr::Bitwise(b) => {
                w.u32be(1, b.sreg.0)
                    .u32be(2, b.dreg.0)
                    .u32be(6, 0)
                    .u32be(3, b.len);
                w.nest(4, |d| {
                    d.bytes(NFTA_DATA_VALUE, &b.mask);
                });
                w.nest(5, |d| {
                    d.bytes(NFTA_DATA_VALUE, &b.xor);
                });
            }
            Expr::Immediate(i) => {
                w.u32be(1, i.dreg.0);
                w.nest(2, |d| i.data.emit(d));
            }
            Expr::Lookup(l) => {
                w.u32be(2, l.sreg.0).str(1, &l.set);
                if let Some(id) = l.set_id {
                    w.u32be(4, id);
                }
                if let Some(d) = l.dreg {
                    w.u32be(3, d.0);
                }
                if l.invert {
                    w.u32be(5, 1);
                }
            }
            Expr::Counter(c) => {
                w.u64be(1, c.bytes).u64be(2, c.packets);
            }
            Expr::Ct(c) => {
                w.u32be(2, c.key.number()).u32be(1, c.dreg.0);
                if let Some(d) = c.direction {
                    w.bytes(3, &[d]);
                }
            }
            Expr::Masq(m) => {
                if !m.flags.is_empty() {
                    w.u32be(1, m.flags.bits());
                }
                if let Some(r) = m.proto_min {
                    w.u32be(2, r.0);
                }
                if let Some(r) = m.proto_max {
                    w.u32be(3, r.0);
                }
            }
            Expr::Nat(n) => {
                w.u32be(1, n.nat_type.number())
                    .u32be(2, u32::from(n.family.number()));
                if let Some(r) = n.addr_min {
                    w.u32be(3, r.0);
                }
                if let Some(r) = n.addr_max {
                    w.u32be(4, r.0);
                }
                if let Some(r) = n.proto_min {
                    w.u32be(5, r.0);
                }
                if let Some(r) = n.proto_max {
                    w.u32be(6, r.0);
                }
                if !n.flags.is_empty() {
                    w.u32be(7, n.flags.bits());
                }
            }
            Expr::Redir(r) => {
                if let Some(x) = r.proto_min {
                    w.u32be(1, x.0);
                }
                if let Some(x) = r.proto_max {
                    w.u32be(2, x.0);
                }
                if !r.flags.is_empty() {
                    w.u32be(3, r.flags.bits());
                }
            }
            Expr::Numgen(n) => {
                w.u32be(1, n.dreg.0)
                    .u32be(2, n.modulus)
                    .u32be(3, n.kind.number())
                    .u32be(4, n.offset);
            }
            Expr::Fib(f) => {
                w.u32be(1, f.dreg.0)
                    .u32be(2, f.result.number())
                    .u32be(3, f.flags.bits());
            }
            Expr::Reject(r) => {
                let (t, code) = match *r {
                    Reject::Icmp(c) => (0, Some(c)),
                    Reject::TcpReset => (1, None),
                    Reject::Icmpx(c) => (2, Some(c.number())),
                    Reject::Other(t, c) => (t, c),
                };
                w.u32be(1, t);
                if let Some(c) = code {
                    w.bytes(2, &[c]);
                }
            }
            Expr::Objref(Objref::Immediate { obj_type, name }) => {
                w.u32be(1, *obj_type).str(2, name);
            }
            Expr::Objref(Objref::Map { sreg, set, set_id }) => {
                w.u32be(3, sreg.0).str(4, set);
                if let Some(id) = set_id {
                    w.u32be(5, *id);
                }
            }
            Expr::Match(m) => m.emit(w),
            Expr::Raw(r) => {
                if let Some(d) = &r.data {
                    w.buf.extend_from_slice(d);
                }
            }
        }
    }

    /// Writes this expression as one `NFTA_LIST_ELEM`.
    pub(crate) fn emit(&self, w: &mut Writer) {
        w.nest(NFTA_LIST_ELEM, |e| {
            e.str(NFTA_EXPR_NAME, self.name());
            match self {
                Expr::Raw(RawExpr { data: None, .. }) => {}
                _ => {
                    e.nest(NFTA_EXPR_DATA, |d| self.emit_data(d));
                }
            }
        });
    }

    /// Encodes a list of expressions (the content of `NFTA_RULE_EXPRESSIONS`).
    pub fn emit_list(exprs: &[Expr]) -> Vec<u8> {
        let mut w = Writer::new();
        for e in exprs {
            e.emit(&mut w);
        }
        w.finish()
    }

    /// Decodes a list of expressions.
    pub fn parse_list(buf: &[u8]) -> Result<Vec<Expr>, DecodeError> {
        let mut out = Vec::new();
        for a in iter(buf) {
            let (k, _, v) = a?;
            if k != NFTA_LIST_ELEM {
                return Err(err(format!("unexpected attribute {k} in expression list")));
            }
            out.push(Expr::parse(v)?);
        }
        Ok(out)
    }

    /// Decodes one expression (the content of an `NFTA_LIST_ELEM`).
    pub fn parse(buf: &[u8]) -> Result<Expr, DecodeError> {
        let mut name = None;
        let mut data = None;
        for a in iter(buf) {
            let (k, _, v) = a?;
            match k {
                NFTA_EXPR_NAME => name = Some(get_str(v, "expression name")?),
                NFTA_EXPR_DATA => data = Some(v),
                _ => {}
            }
        }
        let name = name.ok_or_else(|| err("expression without a name"))?;
        let typed = match data {
            Some(d) => Self::parse_typed(&name, d)?,
            None => None,
        };
        Ok(typed.unwrap_or(Expr::Raw(RawExpr {
            name,
            data: data.map(<[u8]>::to_vec),
        })))
    }

    /// A typed expression, or `None` when the name or an attribute is not
    /// known here (the caller then keeps it raw, losslessly).
    fn parse_typed(name: &str, d: &[u8]) -> Result<Option<Expr>, DecodeError> {
        let mut a: [Option<&[u8]>; 9] = [None; 9];
        for at in iter(d) {
            let (k, _, v) = at?;
            match a.get_mut(usize::from(k)) {
                Some(slot) if k > 0 => *slot = Some(v),
                _ => return Ok(None),
            }
        }
        let u = |i: usize, what: &str| -> Result<Option<u32>, DecodeError> {
            a.get(i)
                .copied()
                .flatten()
                .map(|v| get_u32(v, what))
                .transpose()
        };
        let only = |allowed: &[usize]| {
            a.iter()
                .enumerate()
                .all(|(i, v)| v.is_none() || allowed.contains(&i))
        };
        Ok(match name {
            "payload" if only(&[1, 2, 3, 4]) => {
                let (Some(dreg), Some(base), Some(offset), Some(len)) =
                    (u(1, "dreg")?, u(2, "base")?, u(3, "offset")?, u(4, "len")?)
                else {
                    return Ok(None);
                };
                Some(Expr::Payload(Payload {
                    dreg: Register(dreg),
                    base: PayloadBase::from_number(base),
                    offset,
                    len,
                }))
            }
            "meta" if only(&[1, 2, 3]) => {
                let Some(key) = u(2, "meta key")? else {
                    return Ok(None);
                };
                let key = MetaKey::from_number(key);
                match (u(1, "dreg")?, u(3, "sreg")?) {
                    (Some(r), None) => Some(Expr::Meta(Meta::Load {
                        key,
                        dreg: Register(r),
                    })),
                    (None, Some(r)) => Some(Expr::Meta(Meta::Set {
                        key,
                        sreg: Register(r),
                    })),
                    _ => None,
                }
            }
            "cmp" if only(&[1, 2, 3]) => {
                let (Some(sreg), Some(op), Some(data)) = (u(1, "sreg")?, u(2, "op")?, a[3]) else {
                    return Ok(None);
                };
                Some(Expr::Cmp(Cmp {
                    sreg: Register(sreg),
                    op: CmpOp::from_number(op),
                    data: Data::value(data)?,
                }))
            }
            "bitwise" if only(&[1, 2, 3, 4, 5, 6]) => {
                if u(6, "op")?.unwrap_or(0) != 0 {
                    return Ok(None);
                }
                let (Some(sreg), Some(dreg), Some(len), Some(mask), Some(xor)) =
                    (u(1, "sreg")?, u(2, "dreg")?, u(3, "len")?, a[4], a[5])
                else {
                    return Ok(None);
                };
                Some(Expr::Bitwise(Bitwise {
                    sreg: Register(sreg),
                    dreg: Register(dreg),
                    len,
                    mask: Data::value(mask)?,
                    xor: Data::value(xor)?,
                }))
            }
            "immediate" if only(&[1, 2]) => {
                let (Some(dreg), Some(data)) = (u(1, "dreg")?, a[2]) else {
                    return Ok(None);
                };
                Some(Expr::Immediate(Immediate {
                    dreg: Register(dreg),
                    data: Data::parse(data)?,
                }))
            }
            "lookup" if only(&[1, 2, 3, 4, 5]) => {
                let (Some(set), Some(sreg)) = (a[1], u(2, "sreg")?) else {
                    return Ok(None);
                };
                let flags = u(5, "flags")?.unwrap_or(0);
                if flags & !1 != 0 {
                    return Ok(None);
                }
                Some(Expr::Lookup(Lookup {
                    set: get_str(set, "lookup set")?,
                    set_id: u(4, "set id")?,
                    sreg: Register(sreg),
                    dreg: u(3, "dreg")?.map(Register),
                    invert: flags & 1 != 0,
                }))
            }
            "counter" if only(&[1, 2]) => Some(Expr::Counter(Counter {
                bytes: a[1].map(|v| get_u64(v, "bytes")).transpose()?.unwrap_or(0),
                packets: a[2]
                    .map(|v| get_u64(v, "packets"))
                    .transpose()?
                    .unwrap_or(0),
            })),
            "ct" if only(&[1, 2, 3]) => {
                let (Some(key), Some(dreg)) = (u(2, "ct key")?, u(1, "dreg")?) else {
                    return Ok(None);
                };
                let direction = match a[3] {
                    Some([d]) => Some(*d),
                    Some(_) => return Ok(None),
                    None => None,
                };
                Some(Expr::Ct(Ct {
                    key: CtKey::from_number(key),
                    dreg: Register(dreg),
                    direction,
                }))
            }
            "masq" if only(&[1, 2, 3]) => Some(Expr::Masq(Masq {
                flags: NatFlags::from_bits_retain(u(1, "flags")?.unwrap_or(0)),
                proto_min: u(2, "proto min")?.map(Register),
                proto_max: u(3, "proto max")?.map(Register),
            })),
            "nat" if only(&[1, 2, 3, 4, 5, 6, 7]) => {
                let (Some(t), Some(fam)) = (u(1, "nat type")?, u(2, "nat family")?) else {
                    return Ok(None);
                };
                let Ok(fam) = u8::try_from(fam) else {
                    return Ok(None);
                };
                Some(Expr::Nat(Nat {
                    nat_type: NatType::from_number(t),
                    family: Family::from_number(fam),
                    addr_min: u(3, "addr min")?.map(Register),
                    addr_max: u(4, "addr max")?.map(Register),
                    proto_min: u(5, "proto min")?.map(Register),
                    proto_max: u(6, "proto max")?.map(Register),
                    flags: NatFlags::from_bits_retain(u(7, "nat flags")?.unwrap_or(0)),
                }))
            }
            "redir" if only(&[1, 2, 3]) => Some(Expr::Redir(Redir {
                proto_min: u(1, "proto min")?.map(Register),
                proto_max: u(2, "proto max")?.map(Register),
                flags: NatFlags::from_bits_retain(u(3, "redir flags")?.unwrap_or(0)),
            })),
            "numgen" if only(&[1, 2, 3, 4]) => {
                let (Some(dreg), Some(modulus), Some(kind)) =
                    (u(1, "dreg")?, u(2, "modulus")?, u(3, "numgen type")?)
                else {
                    return Ok(None);
                };
                Some(Expr::Numgen(Numgen {
                    kind: NumgenType::from_number(kind),
                    modulus,
                    offset: u(4, "offset")?.unwrap_or(0),
                    dreg: Register(dreg),
                }))
            }
            "fib" if only(&[1, 2, 3]) => {
                let (Some(dreg), Some(result), Some(flags)) =
                    (u(1, "dreg")?, u(2, "fib result")?, u(3, "fib flags")?)
                else {
                    return Ok(None);
                };
                Some(Expr::Fib(Fib {
                    result: FibResult::from_number(result),
                    flags: FibFlags::from_bits_retain(flags),
                    dreg: Register(dreg),
                }))
            }
            "reject" if only(&[1, 2]) => {
                let Some(t) = u(1, "reject type")? else {
                    return Ok(None);
                };
                let code = match a[2] {
                    Some([c]) => Some(*c),
                    Some(_) => return Ok(None),
                    None => None,
                };
                Some(Expr::Reject(match (t, code) {
                    (0, Some(c)) => Reject::Icmp(c),
                    (1, None) => Reject::TcpReset,
                    (2, Some(c)) => Reject::Icmpx(IcmpxCode::from_number(c)),
                    (t, c) => Reject::Other(t, c),
                }))
            }
            "objref" if only(&[1, 2]) => {
                let (Some(obj_type), Some(name)) = (u(1, "object type")?, a[2]) else {
                    return Ok(None);
                };
                Some(Expr::Objref(Objref::Immediate {
                    obj_type,
                    name: get_str(name, "object name")?,
                }))
            }
            "objref" if only(&[3, 4, 5]) => {
                let (Some(sreg), Some(set)) = (u(3, "sreg")?, a[4]) else {
                    return Ok(None);
                };
                Some(Expr::Objref(Objref::Map {
                    sreg: Register(sreg),
                    set: get_str(set, "object map")?,
                    set_id: u(5, "set id")?,
                }))
            }
            "match" => Match::parse(d)?.map(Expr::Match),
            _ => None,
        })
    }
}
