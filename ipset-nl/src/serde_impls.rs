//! `Serialize`/`Deserialize` of the types written as names (feature
//! `serde`): ipset's own names (`inet`, `tcp`, `hash:ip,port`, `counters`,
//! ...), numbers for values without a name, so that every value (`Other`
//! ones included) reads back as it was written.

use nl_engine::serde_support::{deserialize_flag_names, name_or_number, serialize_flag_names};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::attr::{CreateAttr, ElementAttr};
use crate::types::{CadtFlags, CmdFlags, Family, IpProto, SetType};

/// `"inet"`, `"inet6"`, `"any"`, or the `NFPROTO_*` number.
impl Serialize for Family {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Family::Other(n) => s.serialize_u8(*n),
            f => s.collect_str(f),
        }
    }
}

impl<'de> Deserialize<'de> for Family {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a family: inet, inet6, any or a number",
            |s| s.parse().ok(),
            |n| u8::try_from(n).ok().map(Family::from),
        )
    }
}

/// `"tcp"`, `"udp"`, `"icmp"`, ..., or the protocol number.
impl Serialize for IpProto {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IpProto::Other(n) => s.serialize_u8(*n),
            p => s.collect_str(p),
        }
    }
}

impl<'de> Deserialize<'de> for IpProto {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a protocol: tcp, udp, sctp, udplite, icmp, icmpv6 or a number",
            |s| s.parse().ok(),
            |n| u8::try_from(n).ok().map(IpProto::from),
        )
    }
}

/// The type's name: `"hash:ip,port"`, `"bitmap:port"`, ... (any name reads
/// back, unknown ones as [`SetType::Other`]).
impl Serialize for SetType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for SetType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(d, "a set type name", |s| Some(SetType::from(s)), |_| None)
    }
}

const CMD_FLAG_NAMES: &[(&str, u64)] = &[
    ("exist", CmdFlags::EXIST.bits() as u64),
    ("list-setname", CmdFlags::LIST_SETNAME.bits() as u64),
    ("list-header", CmdFlags::LIST_HEADER.bits() as u64),
    (
        "skip-counter-update",
        CmdFlags::SKIP_COUNTER_UPDATE.bits() as u64,
    ),
    (
        "skip-subcounter-update",
        CmdFlags::SKIP_SUBCOUNTER_UPDATE.bits() as u64,
    ),
    ("match-counters", CmdFlags::MATCH_COUNTERS.bits() as u64),
    ("return-nomatch", CmdFlags::RETURN_NOMATCH.bits() as u64),
    ("map-skbmark", CmdFlags::MAP_SKBMARK.bits() as u64),
    ("map-skbprio", CmdFlags::MAP_SKBPRIO.bits() as u64),
    ("map-skbqueue", CmdFlags::MAP_SKBQUEUE.bits() as u64),
];

/// A list of names (`"exist"`, `"list-header"`, ...), unknown bits as a
/// number.
impl Serialize for CmdFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flag_names(u64::from(self.bits()), CMD_FLAG_NAMES, s)
    }
}

impl<'de> Deserialize<'de> for CmdFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = deserialize_flag_names(d, CMD_FLAG_NAMES)?;
        u32::try_from(bits)
            .map(CmdFlags::from_bits_retain)
            .map_err(|_| serde::de::Error::custom("command flags beyond 32 bits"))
    }
}

const CADT_FLAG_NAMES: &[(&str, u64)] = &[
    ("before", CadtFlags::BEFORE.bits() as u64),
    ("physdev", CadtFlags::PHYSDEV.bits() as u64),
    ("nomatch", CadtFlags::NOMATCH.bits() as u64),
    ("counters", CadtFlags::WITH_COUNTERS.bits() as u64),
    ("comment", CadtFlags::WITH_COMMENT.bits() as u64),
    ("forceadd", CadtFlags::WITH_FORCEADD.bits() as u64),
    ("skbinfo", CadtFlags::WITH_SKBINFO.bits() as u64),
    ("wildcard", CadtFlags::IFACE_WILDCARD.bits() as u64),
];

/// A list of ipset's names (`"counters"`, `"comment"`, `"forceadd"`,
/// `"skbinfo"`, `"nomatch"`, ...), unknown bits as a number.
impl Serialize for CadtFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flag_names(u64::from(self.bits()), CADT_FLAG_NAMES, s)
    }
}

impl<'de> Deserialize<'de> for CadtFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = deserialize_flag_names(d, CADT_FLAG_NAMES)?;
        u32::try_from(bits)
            .map(CadtFlags::from_bits_retain)
            .map_err(|_| serde::de::Error::custom("CADT flags beyond 32 bits"))
    }
}

/// Element attributes without the raw ones this crate does not know
/// (those have no serde form; they are left out, as the `unknown` fields
/// of the other crates).
pub(crate) fn known_element_attrs<S: Serializer>(
    attrs: &[ElementAttr],
    s: S,
) -> Result<S::Ok, S::Error> {
    let known = || attrs.iter().filter(|a| !matches!(a, ElementAttr::Other(_)));
    let mut seq = s.serialize_seq(Some(known().count()))?;
    for a in known() {
        seq.serialize_element(a)?;
    }
    seq.end()
}

/// Create attributes without the raw ones (see [`known_element_attrs`]).
pub(crate) fn known_create_attrs<S: Serializer>(
    attrs: &[CreateAttr],
    s: S,
) -> Result<S::Ok, S::Error> {
    let known = || attrs.iter().filter(|a| !matches!(a, CreateAttr::Other(_)));
    let mut seq = s.serialize_seq(Some(known().count()))?;
    for a in known() {
        seq.serialize_element(a)?;
    }
    seq.end()
}
