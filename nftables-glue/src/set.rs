//! Named sets (`NFT_MSG_*SET`) and their elements (`NFT_MSG_*SETELEM`),
//! including concatenated keys such as `ipv4_addr . inet_proto .
//! inet_service`; maps ([`SetFlags::MAP`]) whose elements carry data:
//! verdict maps (`... : verdict`, elements `: goto chain`) and data maps
//! (`... : ipv4_addr . inet_service`), named or anonymous and constant
//! (the `vmap { ... }` written inside a rule).
//!
//! Numbers from `include/uapi/linux/netfilter/nf_tables.h` (`enum
//! nft_set_attributes`, `enum nft_set_flags`, `enum
//! nft_set_elem_attributes`, `enum nft_set_elem_list_attributes`,
//! `NFT_SET_ELEM_INTERVAL_END`). Key data types are nft's own numbering
//! (nftables `include/datatype.h`, `enum datatypes`); the kernel stores
//! them without interpreting them, concatenations packed 6 bits per field.

use std::net::IpAddr;
use std::time::Duration;

use bitflags::bitflags;
use nl_engine::DecodeError;

use crate::attr::{RawAttr, Writer, get_str, get_u32, get_u64, iter};
use crate::expr::{Data, Verdict};
use crate::msg::{Command, NftMessage};
use crate::table::Family;

const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
const NFTA_SET_KEY_TYPE: u16 = 4;
const NFTA_SET_KEY_LEN: u16 = 5;
const NFTA_SET_DATA_TYPE: u16 = 6;
const NFTA_SET_DATA_LEN: u16 = 7;
const NFTA_SET_POLICY: u16 = 8;
const NFTA_SET_ID: u16 = 10;
const NFTA_SET_TIMEOUT: u16 = 11;
const NFTA_SET_GC_INTERVAL: u16 = 12;
const NFTA_SET_USERDATA: u16 = 13;
const NFTA_SET_HANDLE: u16 = 16;

const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
const NFTA_SET_ELEM_EXPIRATION: u16 = 5;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_SET_ELEM_KEY_END: u16 = 10;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;

bitflags! {
    /// `enum nft_set_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SetFlags: u32 {
        /// `NFT_SET_ANONYMOUS`
        const ANONYMOUS = 0x1;
        /// `NFT_SET_CONSTANT`
        const CONSTANT = 0x2;
        /// `NFT_SET_INTERVAL`
        const INTERVAL = 0x4;
        /// `NFT_SET_MAP`
        const MAP = 0x8;
        /// `NFT_SET_TIMEOUT`
        const TIMEOUT = 0x10;
        /// `NFT_SET_EVAL` (dynamic)
        const EVAL = 0x20;
        /// `NFT_SET_OBJECT`
        const OBJECT = 0x40;
        /// `NFT_SET_CONCAT`
        const CONCAT = 0x80;
        /// `NFT_SET_EXPR`
        const EXPR = 0x100;
        const _ = !0;
    }
}

bitflags! {
    /// `enum nft_set_elem_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ElementFlags: u32 {
        /// `NFT_SET_ELEM_INTERVAL_END`
        const INTERVAL_END = 0x1;
        /// `NFT_SET_ELEM_CATCHALL`
        const CATCHALL = 0x2;
        const _ = !0;
    }
}

/// `NFT_DATA_VERDICT`: the data type of a verdict map.
pub const DATA_VERDICT: u32 = 0xffff_ff00;

/// The length the kernel records for verdict data (`sizeof(struct
/// nft_verdict)` on 64-bit kernels); it ignores the length sent.
const VERDICT_DATA_LEN: u32 = 16;

/// The user data nft 1.0.6 writes for a verdict map keyed `ipv4_addr .
/// inet_proto . inet_service` (or the ip6 equivalent): key and data byte
/// order, key type-of record, data interval flag.
const UDATA_CONCAT_VMAP: [u8; 28] = [
    0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0, 6, 4, 0, 0, 0, 0,
];
/// The user data nft 1.0.6 writes for an anonymous verdict map keyed by a
/// host-order integer (`numgen ... vmap { 0 : ..., 1 : ... }`).
const UDATA_INTEGER_VMAP: [u8; 28] = [
    0, 4, 1, 0, 0, 0, 1, 4, 0, 0, 0, 0, 4, 8, 0, 4, 1, 0, 0, 0, 1, 0, 6, 4, 0, 0, 0, 0,
];

/// What the elements of a map map to.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MapData {
    /// A verdict (`: verdict`, a vmap): accept, drop, jump/goto a chain.
    Verdict,
    /// Values of this type (`: ipv4_addr . inet_service`).
    Value(KeyType),
}

impl MapData {
    /// `NFTA_SET_DATA_TYPE`.
    pub fn type_number(&self) -> u32 {
        match self {
            MapData::Verdict => DATA_VERDICT,
            MapData::Value(k) => k.number(),
        }
    }
    /// `NFTA_SET_DATA_LEN`.
    pub fn len(&self) -> u32 {
        match self {
            MapData::Verdict => VERDICT_DATA_LEN,
            MapData::Value(k) => k.len(),
        }
    }
    /// True for a value type with no field.
    pub fn is_empty(&self) -> bool {
        matches!(self, MapData::Value(k) if k.is_empty())
    }
}

/// A key data type, in nft's numbering.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// `integer` (4), taken as 4 bytes in host order here (what `numgen`,
    /// `meta mark` and similar yield); for another size use
    /// `Other(4, size)` (it reads back as `Integer`).
    Integer,
    /// `ipv4_addr` (7), 4 bytes
    Ipv4Addr,
    /// `ipv6_addr` (8), 16 bytes
    Ipv6Addr,
    /// `inet_proto` (12), 1 byte
    InetProto,
    /// `inet_service` (13), 2 bytes, big endian
    InetService,
    /// `mark` (19), 4 bytes, host order
    Mark,
    /// Any other type, with its size in bytes when known (0 if not).
    Other(u32, u32),
}

impl DataType {
    /// nft's number of the type.
    pub fn number(self) -> u32 {
        match self {
            DataType::Integer => 4,
            DataType::Ipv4Addr => 7,
            DataType::Ipv6Addr => 8,
            DataType::InetProto => 12,
            DataType::InetService => 13,
            DataType::Mark => 19,
            DataType::Other(n, _) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            4 => DataType::Integer,
            7 => DataType::Ipv4Addr,
            8 => DataType::Ipv6Addr,
            12 => DataType::InetProto,
            13 => DataType::InetService,
            19 => DataType::Mark,
            n => DataType::Other(n, 0),
        }
    }
    /// Size of a value of this type in bytes.
    pub fn size(self) -> u32 {
        match self {
            DataType::Integer | DataType::Ipv4Addr | DataType::Mark => 4,
            DataType::Ipv6Addr => 16,
            DataType::InetProto => 1,
            DataType::InetService => 2,
            DataType::Other(_, s) => s,
        }
    }
}

/// A set key: one data type, or a concatenation of several.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyType(pub Vec<DataType>);

impl KeyType {
    /// `ipv4_addr . inet_proto . inet_service`
    pub fn ipv4_proto_port() -> Self {
        KeyType(vec![
            DataType::Ipv4Addr,
            DataType::InetProto,
            DataType::InetService,
        ])
    }
    /// `ipv6_addr . inet_proto . inet_service`
    pub fn ipv6_proto_port() -> Self {
        KeyType(vec![
            DataType::Ipv6Addr,
            DataType::InetProto,
            DataType::InetService,
        ])
    }
    /// `ipv4_addr . inet_service` (a DNAT target: address and port).
    pub fn ipv4_port() -> Self {
        KeyType(vec![DataType::Ipv4Addr, DataType::InetService])
    }
    /// `ipv6_addr . inet_service`
    pub fn ipv6_port() -> Self {
        KeyType(vec![DataType::Ipv6Addr, DataType::InetService])
    }
    /// The packed type number (6 bits per field, first field highest).
    pub fn number(&self) -> u32 {
        self.0.iter().fold(0u32, |acc, t| (acc << 6) | t.number())
    }
    /// The key length: a single field's size, or the fields each padded
    /// to 4 bytes for a concatenation.
    pub fn len(&self) -> u32 {
        match self.0.as_slice() {
            [one] => one.size(),
            many => many.iter().map(|t| t.size().div_ceil(4) * 4).sum(),
        }
    }
    /// True for a key with no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Unpacks a type number.
    pub fn from_number(mut n: u32) -> Self {
        let mut v = Vec::new();
        while n != 0 {
            v.push(DataType::from_number(n & 0x3f));
            n >>= 6;
        }
        v.reverse();
        KeyType(v)
    }
}

/// A named set.
///
/// ```
/// use nftables_glue::{Family, KeyType, Set};
/// let s = Set::new(Family::Ipv4, "zgz-services", "ZGZ-CLUSTER-IP", KeyType::ipv4_proto_port());
/// assert_eq!(s.key_len, 12);
/// assert_eq!(s.key_type.number(), 0x730d);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Set {
    /// Family of its table.
    pub family: Family,
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// Flags (`timeout`, `interval`, ...).
    pub flags: SetFlags,
    /// Key type.
    pub key_type: KeyType,
    /// Key length in bytes.
    pub key_len: u32,
    /// Data type and length of a map's values.
    pub data: Option<(u32, u32)>,
    /// Selection policy (performance 0, memory 1).
    pub policy: Option<u32>,
    /// Default element timeout (needs [`SetFlags::TIMEOUT`]).
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "nl_engine::serde_support::opt_millis")
    )]
    pub timeout: Option<Duration>,
    /// Garbage collection interval.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "nl_engine::serde_support::opt_millis")
    )]
    pub gc_interval: Option<Duration>,
    /// Transaction-local id, to use the set in the same transaction.
    pub id: Option<u32>,
    /// User data (nft keeps key byte order and type hints here).
    pub userdata: Option<Vec<u8>>,
    /// Kernel handle (read back).
    pub handle: Option<u64>,
    /// Attributes not interpreted here.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl Set {
    /// A set of `key` in `table`.
    pub fn new(
        family: Family,
        table: impl Into<String>,
        name: impl Into<String>,
        key: KeyType,
    ) -> Self {
        Set {
            family,
            table: table.into(),
            name: name.into(),
            flags: SetFlags::empty(),
            key_len: key.len(),
            key_type: key,
            data: None,
            policy: None,
            timeout: None,
            gc_interval: None,
            id: None,
            userdata: None,
            handle: None,
            unknown: Vec::new(),
        }
    }

    /// A named map from `key` to `data` ([`SetFlags::MAP`]).
    ///
    /// ```
    /// use nftables_glue::{Family, KeyType, MapData, Set, SetFlags};
    /// // map services { type ipv4_addr . inet_proto . inet_service : verdict }
    /// let m = Set::map(Family::Ipv4, "t", "services", KeyType::ipv4_proto_port(), MapData::Verdict);
    /// assert!(m.flags.contains(SetFlags::MAP));
    /// assert_eq!(m.map_data(), Some(MapData::Verdict));
    /// ```
    pub fn map(
        family: Family,
        table: impl Into<String>,
        name: impl Into<String>,
        key: KeyType,
        data: MapData,
    ) -> Self {
        let concat_vmap = key.0.len() > 1 && data == MapData::Verdict;
        let mut s = Set::new(family, table, name, key);
        s.flags = SetFlags::MAP;
        s.data = Some((data.type_number(), data.len()));
        if concat_vmap {
            s.userdata = Some(UDATA_CONCAT_VMAP.to_vec());
        }
        s
    }

    /// An anonymous constant map, as `nft` makes for a `vmap { ... }` or
    /// `map { ... }` written inside a rule: named `__map%d` (the kernel
    /// picks the number), bound to the one rule that uses it (by the
    /// set's transaction id, see [`crate::Transaction::add_anonymous_map`])
    /// and deleted with it.
    pub fn anonymous_map(
        family: Family,
        table: impl Into<String>,
        key: KeyType,
        data: MapData,
    ) -> Self {
        let integer_vmap = key.0 == [DataType::Integer] && data == MapData::Verdict;
        let mut s = Set::map(family, table, "__map%d", key, data);
        s.flags |= SetFlags::ANONYMOUS | SetFlags::CONSTANT;
        if integer_vmap {
            s.userdata = Some(UDATA_INTEGER_VMAP.to_vec());
        }
        s
    }

    /// What this map's elements map to (`None` for a plain set).
    pub fn map_data(&self) -> Option<MapData> {
        if !self.flags.contains(SetFlags::MAP) {
            return None;
        }
        let (t, _) = self.data?;
        Some(if t == DATA_VERDICT {
            MapData::Verdict
        } else {
            MapData::Value(KeyType::from_number(t))
        })
    }

    /// This set with a default element timeout (sets [`SetFlags::TIMEOUT`]).
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.flags |= SetFlags::TIMEOUT;
        self.timeout = Some(t);
        self
    }

    /// This set with more flags (`interval`, `constant`, ...).
    pub fn with_flags(mut self, flags: SetFlags) -> Self {
        self.flags |= flags;
        self
    }
    /// This set with a selection policy (performance 0, memory 1).
    pub fn with_policy(mut self, policy: u32) -> Self {
        self.policy = Some(policy);
        self
    }
    /// This set with a garbage collection interval.
    pub fn with_gc_interval(mut self, gc_interval: Duration) -> Self {
        self.gc_interval = Some(gc_interval);
        self
    }
    /// This set with a transaction-local id, to use it in the same transaction.
    pub fn with_id(mut self, id: u32) -> Self {
        self.id = Some(id);
        self
    }
    /// This set with user data.
    pub fn with_userdata(mut self, userdata: Vec<u8>) -> Self {
        self.userdata = Some(userdata);
        self
    }

    /// The user data nft 1.0.6 writes for a set declared with a
    /// concatenated `type` key (key byte order record 0 with value 0, and
    /// its key-type record), captured from `nft -f`; with it `nft list`
    /// prints the set exactly as nft itself would.
    pub fn nft_concat_userdata() -> Vec<u8> {
        vec![
            0x00, 0x04, 0, 0, 0, 0, 0x03, 0x08, 0x00, 0x04, 0x0d, 0, 0, 0, 0x01, 0x00,
        ]
    }

    /// Encodes the attributes in libnftnl's order.
    pub fn emit(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_SET_TABLE, &self.table)
            .str(NFTA_SET_NAME, &self.name);
        if let Some(h) = self.handle {
            w.u64be(NFTA_SET_HANDLE, h);
        }
        w.u32be(NFTA_SET_FLAGS, self.flags.bits());
        w.u32be(NFTA_SET_KEY_TYPE, self.key_type.number())
            .u32be(NFTA_SET_KEY_LEN, self.key_len);
        if let Some((t, l)) = self.data {
            w.u32be(NFTA_SET_DATA_TYPE, t).u32be(NFTA_SET_DATA_LEN, l);
        }
        if let Some(id) = self.id {
            w.u32be(NFTA_SET_ID, id);
        }
        if let Some(p) = self.policy {
            w.u32be(NFTA_SET_POLICY, p);
        }
        if let Some(t) = self.timeout {
            w.u64be(NFTA_SET_TIMEOUT, t.as_millis() as u64);
        }
        if let Some(t) = self.gc_interval {
            w.u32be(
                NFTA_SET_GC_INTERVAL,
                u32::try_from(t.as_millis()).unwrap_or(u32::MAX),
            );
        }
        if let Some(u) = &self.userdata {
            w.bytes(NFTA_SET_USERDATA, u);
        }
        w.raw(&self.unknown);
        w.finish()
    }

    /// Encodes what identifies the set.
    pub fn emit_key(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_SET_TABLE, &self.table)
            .str(NFTA_SET_NAME, &self.name);
        w.finish()
    }

    /// This set as a message of `command`.
    pub fn to_message(&self, command: Command) -> NftMessage {
        let attrs = match command {
            Command::NewSet => self.emit(),
            _ => self.emit_key(),
        };
        NftMessage::new(command, self.family.number(), attrs)
    }

    /// True when both define the same set (ignoring id, handle, user data;
    /// the length of verdict data, which the kernel sets itself).
    pub fn same_definition(&self, o: &Set) -> bool {
        let data = |s: &Set| match s.data {
            Some((DATA_VERDICT, _)) => Some((DATA_VERDICT, 0)),
            d => d,
        };
        self.family == o.family
            && self.table == o.table
            && self.name == o.name
            && self.flags == o.flags
            && self.key_type.number() == o.key_type.number()
            && self.key_len == o.key_len
            && data(self) == data(o)
            && self.timeout == o.timeout
    }

    /// Decodes a set message.
    pub fn parse(msg: &NftMessage) -> Result<Self, DecodeError> {
        let mut s = Set::new(
            Family::from_number(msg.header.family),
            "",
            "",
            KeyType(vec![]),
        );
        let (mut dt, mut dl) = (None, None);
        for a in iter(&msg.attrs) {
            let (kind, full, v) = a?;
            match kind {
                NFTA_SET_TABLE => s.table = get_str(v, "set table")?,
                NFTA_SET_NAME => s.name = get_str(v, "set name")?,
                NFTA_SET_FLAGS => s.flags = SetFlags::from_bits_retain(get_u32(v, "set flags")?),
                NFTA_SET_KEY_TYPE => s.key_type = KeyType::from_number(get_u32(v, "key type")?),
                NFTA_SET_KEY_LEN => s.key_len = get_u32(v, "key len")?,
                NFTA_SET_DATA_TYPE => dt = Some(get_u32(v, "data type")?),
                NFTA_SET_DATA_LEN => dl = Some(get_u32(v, "data len")?),
                NFTA_SET_POLICY => s.policy = Some(get_u32(v, "policy")?),
                NFTA_SET_ID => s.id = Some(get_u32(v, "set id")?),
                NFTA_SET_TIMEOUT => s.timeout = Some(Duration::from_millis(get_u64(v, "timeout")?)),
                NFTA_SET_GC_INTERVAL => {
                    s.gc_interval =
                        Some(Duration::from_millis(u64::from(get_u32(v, "gc interval")?)))
                }
                NFTA_SET_USERDATA => s.userdata = Some(v.to_vec()),
                NFTA_SET_HANDLE => s.handle = Some(get_u64(v, "set handle")?),
                _ => s.unknown.push(RawAttr::new(full, v.to_vec())),
            }
        }
        if let (Some(t), Some(l)) = (dt, dl) {
            s.data = Some((t, l));
        }
        Ok(s)
    }
}

/// One set element.
///
/// ```
/// use nftables_glue::SetElement;
/// // 10.200.3.2 . tcp . 80
/// let e = SetElement::service("10.200.3.2".parse().unwrap(), 6, 80);
/// assert_eq!(e.key, [10, 200, 3, 2, 6, 0, 0, 0, 0, 80, 0, 0]);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SetElement {
    /// Key bytes (concatenated fields each padded to 4 bytes).
    pub key: Vec<u8>,
    /// End of an interval.
    pub key_end: Option<Vec<u8>>,
    /// A map's value.
    pub data: Option<Data>,
    /// Element flags.
    pub flags: Option<ElementFlags>,
    /// Timeout of this element.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "nl_engine::serde_support::opt_millis")
    )]
    pub timeout: Option<Duration>,
    /// Time left (read back).
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "nl_engine::serde_support::opt_millis")
    )]
    pub expiration: Option<Duration>,
    /// User data (nft keeps element comments here).
    pub userdata: Option<Vec<u8>>,
    /// Attributes not interpreted here.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl SetElement {
    /// An element with this key.
    pub fn new(key: Vec<u8>) -> Self {
        SetElement {
            key,
            key_end: None,
            data: None,
            flags: None,
            timeout: None,
            expiration: None,
            userdata: None,
            unknown: Vec::new(),
        }
    }

    /// This element mapping to `data` (in a map).
    pub fn with_data(mut self, data: Data) -> Self {
        self.data = Some(data);
        self
    }

    /// This element as an interval ending at `key_end`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nftables_glue::SetElement;
    /// // 10.0.0.0-10.0.0.255 timeout 60s
    /// let e = SetElement::new(vec![10, 0, 0, 0])
    ///     .with_key_end(vec![10, 0, 0, 255])
    ///     .with_timeout(Duration::from_secs(60));
    /// assert_eq!(e.key_end.as_deref(), Some(&[10, 0, 0, 255][..]));
    /// ```
    pub fn with_key_end(mut self, key_end: Vec<u8>) -> Self {
        self.key_end = Some(key_end);
        self
    }
    /// This element with flags (`interval end`, ...).
    pub fn with_flags(mut self, flags: ElementFlags) -> Self {
        self.flags = Some(flags);
        self
    }
    /// This element with its own timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// This element with user data (nft keeps comments here).
    pub fn with_userdata(mut self, userdata: Vec<u8>) -> Self {
        self.userdata = Some(userdata);
        self
    }

    /// An element of a verdict map: `key : verdict`.
    ///
    /// ```
    /// use nftables_glue::{Data, SetElement, Verdict};
    /// // 0 : goto endpoint-a (a numgen key: 4 bytes, host order)
    /// let e = SetElement::verdict(0u32.to_ne_bytes().to_vec(), Verdict::Goto("endpoint-a".into()));
    /// assert_eq!(e.data, Some(Data::Verdict(Verdict::Goto("endpoint-a".into()))));
    /// ```
    pub fn verdict(key: Vec<u8>, verdict: Verdict) -> Self {
        SetElement::new(key).with_data(Data::Verdict(verdict))
    }

    /// A concatenated key: each field padded to 4 bytes.
    pub fn concat(fields: &[&[u8]]) -> Self {
        let mut k = Vec::new();
        for f in fields {
            k.extend_from_slice(f);
            k.resize(k.len().div_ceil(4) * 4, 0);
        }
        SetElement::new(k)
    }

    /// `ADDR . PROTO . PORT` for `ipv4_addr|ipv6_addr . inet_proto . inet_service`.
    pub fn service(addr: IpAddr, proto: u8, port: u16) -> Self {
        let a = match addr {
            IpAddr::V4(v) => v.octets().to_vec(),
            IpAddr::V6(v) => v.octets().to_vec(),
        };
        SetElement::concat(&[&a, &[proto], &port.to_be_bytes()])
    }

    fn emit(&self, w: &mut Writer) {
        w.nest(NFTA_LIST_ELEM, |e| {
            if let Some(f) = self.flags {
                e.u32be(NFTA_SET_ELEM_FLAGS, f.bits());
            }
            if let Some(t) = self.timeout {
                e.u64be(NFTA_SET_ELEM_TIMEOUT, t.as_millis() as u64);
            }
            e.nest(NFTA_SET_ELEM_KEY, |k| {
                k.bytes(1, &self.key);
            });
            if let Some(k) = &self.key_end {
                e.nest(NFTA_SET_ELEM_KEY_END, |n| {
                    n.bytes(1, k);
                });
            }
            if let Some(d) = &self.data {
                e.nest(NFTA_SET_ELEM_DATA, |n| d.emit(n));
            }
            if let Some(u) = &self.userdata {
                e.bytes(NFTA_SET_ELEM_USERDATA, u);
            }
            e.raw(&self.unknown);
        });
    }

    fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut el = SetElement::new(Vec::new());
        for a in iter(buf) {
            let (k, full, v) = a?;
            match k {
                NFTA_SET_ELEM_KEY => match Data::parse(v)? {
                    Data::Value(b) => el.key = b,
                    Data::Verdict(_) => return Err(crate::attr::err("element key is a verdict")),
                },
                NFTA_SET_ELEM_KEY_END => {
                    if let Data::Value(b) = Data::parse(v)? {
                        el.key_end = Some(b)
                    }
                }
                NFTA_SET_ELEM_DATA => el.data = Some(Data::parse(v)?),
                NFTA_SET_ELEM_FLAGS => {
                    el.flags = Some(ElementFlags::from_bits_retain(get_u32(v, "element flags")?))
                }
                NFTA_SET_ELEM_TIMEOUT => {
                    el.timeout = Some(Duration::from_millis(get_u64(v, "timeout")?))
                }
                NFTA_SET_ELEM_EXPIRATION => {
                    el.expiration = Some(Duration::from_millis(get_u64(v, "expiration")?))
                }
                NFTA_SET_ELEM_USERDATA => el.userdata = Some(v.to_vec()),
                _ => el.unknown.push(RawAttr::new(full, v.to_vec())),
            }
        }
        Ok(el)
    }
}

/// Elements of one set, as a `NEWSETELEM`/`DELSETELEM` message carries them.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetElements {
    /// Family of the table.
    pub family: Family,
    /// The table.
    pub table: String,
    /// The set.
    pub set: String,
    /// The set's transaction id, when it is created in the same transaction.
    pub set_id: Option<u32>,
    /// The elements (none in a delete means: flush the set).
    pub elements: Vec<SetElement>,
}

impl SetElements {
    /// These elements of a set created in the same transaction (by its id).
    pub fn with_set_id(mut self, set_id: u32) -> Self {
        self.set_id = Some(set_id);
        self
    }

    /// Elements of `set`.
    pub fn new(
        family: Family,
        table: impl Into<String>,
        set: impl Into<String>,
        elements: Vec<SetElement>,
    ) -> Self {
        SetElements {
            family,
            table: table.into(),
            set: set.into(),
            set_id: None,
            elements,
        }
    }

    /// Encodes the attributes in nft's order.
    pub fn emit(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_SET_ELEM_LIST_TABLE, &self.table)
            .str(NFTA_SET_ELEM_LIST_SET, &self.set);
        if let Some(id) = self.set_id {
            w.u32be(NFTA_SET_ELEM_LIST_SET_ID, id);
        }
        if !self.elements.is_empty() {
            w.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |l| {
                for e in &self.elements {
                    e.emit(l);
                }
            });
        }
        w.finish()
    }

    /// As a message of `command`.
    pub fn to_message(&self, command: Command) -> NftMessage {
        NftMessage::new(command, self.family.number(), self.emit())
    }

    /// Decodes a set-element message.
    pub fn parse(msg: &NftMessage) -> Result<Self, DecodeError> {
        let mut s = SetElements::new(Family::from_number(msg.header.family), "", "", Vec::new());
        for a in iter(&msg.attrs) {
            let (k, _, v) = a?;
            match k {
                NFTA_SET_ELEM_LIST_TABLE => s.table = get_str(v, "element table")?,
                NFTA_SET_ELEM_LIST_SET => s.set = get_str(v, "element set")?,
                NFTA_SET_ELEM_LIST_SET_ID => s.set_id = Some(get_u32(v, "set id")?),
                NFTA_SET_ELEM_LIST_ELEMENTS => {
                    for e in iter(v) {
                        let (_, _, ev) = e?;
                        s.elements.push(SetElement::parse(ev)?);
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }
}
