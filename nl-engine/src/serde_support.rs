//! Helpers shared by the `serde` features of the family crates (feature
//! `serde`): the few representations their model types have in common,
//! written once.
//!
//! - [`secs`], [`opt_secs`], [`opt_millis`]: a [`Duration`] as whole
//!   seconds or milliseconds (the kernel's units for timeouts), not serde's
//!   `{"secs", "nanos"}`;
//! - [`name_or_number`]: reads an enum with an `Other(n)` variant, written
//!   as its name, or as the number when it has none;
//! - [`serialize_flag_names`]/[`deserialize_flag_names`]: flag bits as a
//!   list of names (unknown bits as one number), read back from names or
//!   numbers; [`bitflags_names`] does it for any `bitflags` type by its
//!   constants' names.
//!
//! These are for human-readable formats (JSON, YAML, TOML): reading back
//! needs a self-describing format.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};

/// A [`Duration`] as whole seconds (`#[serde(with = "nl_engine::serde_support::secs")]`).
///
/// Fractions of a second are dropped when writing.
pub mod secs {
    use super::*;

    /// Writes whole seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    /// Reads whole seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_secs(n))
    }
}

/// An optional [`Duration`] as whole seconds or null
/// (`#[serde(with = "nl_engine::serde_support::opt_secs")]`).
pub mod opt_secs {
    use super::*;

    /// Writes whole seconds, or none.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    /// Reads whole seconds, or none.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let n: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(n.map(Duration::from_secs))
    }
}

/// An optional [`Duration`] as whole milliseconds or null (nf_tables'
/// unit; `#[serde(with = "nl_engine::serde_support::opt_millis")]`).
pub mod opt_millis {
    use super::*;

    /// Writes whole milliseconds (saturating), or none.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    /// Reads whole milliseconds, or none.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let n: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(n.map(Duration::from_millis))
    }
}

/// Reads a value written as a name (string) or as a number: `from_name`
/// and `from_number` say which values they accept; `expecting` names what
/// was expected in the error.
pub fn name_or_number<'de, D, T>(
    d: D,
    expecting: &'static str,
    from_name: impl FnOnce(&str) -> Option<T>,
    from_number: impl FnOnce(u64) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<F, G, T> {
        expecting: &'static str,
        from_name: F,
        from_number: G,
        _t: PhantomData<T>,
    }
    impl<'de, F, G, T> Visitor<'de> for V<F, G, T>
    where
        F: FnOnce(&str) -> Option<T>,
        G: FnOnce(u64) -> Option<T>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            let expecting = self.expecting;
            (self.from_name)(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &expecting))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            let expecting = self.expecting;
            (self.from_number)(v)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &expecting))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            match u64::try_from(v) {
                Ok(n) => self.visit_u64(n),
                Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self.expecting)),
            }
        }
    }
    d.deserialize_any(V {
        expecting,
        from_name,
        from_number,
        _t: PhantomData,
    })
}

/// Flag bits as a list of names (`names` in order, each written when all
/// its bits are set and not already written under an earlier name), the
/// bits no name covers as one trailing number.
pub fn serialize_flag_names<S: Serializer>(
    bits: u64,
    names: &[(&str, u64)],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut left = bits;
    let mut out: Vec<&str> = Vec::new();
    for &(name, b) in names {
        if b != 0 && bits & b == b && left & b != 0 {
            out.push(name);
            left &= !b;
        }
    }
    let mut seq = s.serialize_seq(Some(out.len() + usize::from(left != 0)))?;
    for name in out {
        seq.serialize_element(name)?;
    }
    if left != 0 {
        seq.serialize_element(&left)?;
    }
    seq.end()
}

/// Reads flag bits written by [`serialize_flag_names`]: a list of names
/// (from `names`, matched exactly) and numbers, or a single number.
pub fn deserialize_flag_names<'de, D: Deserializer<'de>>(
    d: D,
    names: &[(&str, u64)],
) -> Result<u64, D::Error> {
    struct Elem<'a>(&'a [(&'a str, u64)]);
    impl<'de> de::DeserializeSeed<'de> for Elem<'_> {
        type Value = u64;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
            let names = self.0;
            name_or_number(
                d,
                "a flag name or number",
                |s| names.iter().find(|(n, _)| *n == s).map(|(_, b)| *b),
                Some,
            )
        }
    }
    struct V<'a>(&'a [(&'a str, u64)]);
    impl<'de> Visitor<'de> for V<'_> {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of flag names or numbers")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut bits = 0;
            while let Some(b) = seq.next_element_seed(Elem(self.0))? {
                bits |= b;
            }
            Ok(bits)
        }
    }
    d.deserialize_any(V(names))
}

/// The names of a `bitflags` type's flags as written by [`bitflags_names`]:
/// its constants' names in lower case with `-` for `_` (`HW_OFFLOAD` is
/// `"hw-offload"`), unnamed constants left out.
fn flag_table<T: bitflags::Flags>() -> Vec<(String, u64)>
where
    T::Bits: Into<u64>,
{
    T::FLAGS
        .iter()
        .filter(|f| f.is_named() && !f.name().starts_with('_'))
        .map(|f| {
            (
                f.name().to_ascii_lowercase().replace('_', "-"),
                f.value().bits().into(),
            )
        })
        .collect()
}

/// A `bitflags` type as a list of its flags' names (lower case, `-` for
/// `_`), the bits no name covers as one trailing number; read back from
/// those names or numbers. `#[serde(with = "...bitflags_names")]`, or the
/// two functions called from a type's own `Serialize`/`Deserialize`.
pub mod bitflags_names {
    use super::*;

    /// Writes the names of the set flags (see [`serialize_flag_names`]).
    pub fn serialize<T, S>(flags: &T, s: S) -> Result<S::Ok, S::Error>
    where
        T: bitflags::Flags,
        T::Bits: Into<u64>,
        S: Serializer,
    {
        let table = flag_table::<T>();
        let names: Vec<(&str, u64)> = table.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        serialize_flag_names(flags.bits().into(), &names, s)
    }

    /// Reads names and numbers back (bits beyond the type's width are an
    /// error).
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: bitflags::Flags,
        T::Bits: Into<u64> + TryFrom<u64>,
        D: Deserializer<'de>,
    {
        let table = flag_table::<T>();
        let names: Vec<(&str, u64)> = table.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        let bits = deserialize_flag_names(d, &names)?;
        T::Bits::try_from(bits)
            .map(T::from_bits_retain)
            .map_err(|_| de::Error::custom(format_args!("flag bits {bits:#x} too wide")))
    }
}
