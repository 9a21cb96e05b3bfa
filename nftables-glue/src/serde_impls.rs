//! `Serialize`/`Deserialize` of the types written as names (feature
//! `serde`): families and chain types by nft's names, flags as lists of
//! their names (`hw-offload`, `interval`, ...), numbers for values without
//! a name, so that every value (`Other` ones included) reads back as it was
//! written.

use nl_engine::serde_support::{bitflags_names, name_or_number};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chain::{ChainFlags, ChainType};
use crate::compat::{XtIpvsFields, XtSetFlags};
use crate::expr::{CtState, FibFlags, NatFlags};
use crate::set::{ElementFlags, SetFlags};
use crate::table::{Family, TableFlags};

/// nft's name (`"ip"`, `"ip6"`, `"inet"`, `"arp"`, `"bridge"`,
/// `"netdev"`, `"unspec"`), or the `NFPROTO_*` number.
impl Serialize for Family {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Family::Other(n) => s.serialize_u8(*n),
            f => s.serialize_str(&f.nft_name()),
        }
    }
}

impl<'de> Deserialize<'de> for Family {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a family: ip, ip6, inet, arp, bridge, netdev, unspec or a number",
            |s| {
                [0u8, 1, 2, 3, 5, 7, 10]
                    .into_iter()
                    .map(Family::from_number)
                    .find(|f| f.nft_name() == s)
            },
            |n| u8::try_from(n).ok().map(Family::from_number),
        )
    }
}

/// The type's name: `"filter"`, `"nat"`, `"route"` or any other.
impl Serialize for ChainType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a chain type name",
            |s| Some(ChainType::from_name(s.to_owned())),
            |_| None,
        )
    }
}

/// Flags as lists of their constants' names, lower case with `-`.
macro_rules! flags_by_name {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                bitflags_names::serialize(self, s)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                bitflags_names::deserialize(d)
            }
        }
    )*};
}

flags_by_name!(
    TableFlags,
    ChainFlags,
    SetFlags,
    ElementFlags,
    CtState,
    NatFlags,
    FibFlags,
    XtSetFlags,
    XtIpvsFields
);
