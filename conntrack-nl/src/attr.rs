//! Attribute plumbing shared by the object modules: reading fixed-size
//! values from untrusted bytes, and [`RawAttr`], the attribute this crate
//! does not model, kept and emitted again unchanged.

use nl_engine::wire::{self, Attr, Attrs};

/// An attribute this crate does not model (or could not decode), kept as
/// received: its whole type field (flags included) and its value. Emitted
/// again unchanged.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttr {
    /// The type field, `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` included.
    pub kind: u16,
    /// The value, without header or padding.
    pub value: Vec<u8>,
}

impl RawAttr {
    /// The attribute as received.
    pub fn from_attr(a: &Attr<'_>) -> Self {
        RawAttr {
            kind: a.raw_type,
            value: a.value.to_vec(),
        }
    }

    /// Appends it to `buf`.
    pub fn append_to(&self, buf: &mut Vec<u8>) {
        wire::append_attr(buf, self.kind, &self.value);
    }
}

/// A decoding failure: what was wrong, as text (the engine wraps it in
/// `Error::Decode` with the operation's context).
pub(crate) type DecodeResult<T> = Result<T, String>;

/// Iterates the attributes of `buf`, failing on the first malformed one.
pub(crate) fn each(
    buf: &[u8],
    mut f: impl FnMut(Attr<'_>) -> DecodeResult<()>,
) -> DecodeResult<()> {
    for a in Attrs::new(buf) {
        f(a?)?;
    }
    Ok(())
}

fn fixed<const N: usize>(v: &[u8], what: &str) -> DecodeResult<[u8; N]> {
    v.try_into()
        .map_err(|_| format!("{what}: expected {N} bytes, got {}", v.len()))
}

pub(crate) fn u8_of(v: &[u8], what: &str) -> DecodeResult<u8> {
    let [b] = fixed::<1>(v, what)?;
    Ok(b)
}

pub(crate) fn be16(v: &[u8], what: &str) -> DecodeResult<u16> {
    fixed(v, what).map(u16::from_be_bytes)
}

pub(crate) fn be32(v: &[u8], what: &str) -> DecodeResult<u32> {
    fixed(v, what).map(u32::from_be_bytes)
}

pub(crate) fn be64(v: &[u8], what: &str) -> DecodeResult<u64> {
    fixed(v, what).map(u64::from_be_bytes)
}

/// Appends a nest (`NLA_F_NESTED` set) whose content `f` appends.
pub(crate) fn nest(buf: &mut Vec<u8>, kind: u16, f: impl FnOnce(&mut Vec<u8>)) {
    wire::append_nla(buf, kind | wire::NLA_F_NESTED, f);
}

impl std::fmt::Display for RawAttr {
    /// `attr 0x8012 (3 bytes: 0a0b0c)`: the type field in hex (flags
    /// included), then the value in hex.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "attr {:#x} ({} bytes: ", self.kind, self.value.len())?;
        for b in &self.value {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}
