//! Attribute plumbing shared by the object modules: reading fixed-size
//! values from untrusted bytes, and [`RawAttr`], the attribute this crate
//! does not model, kept and emitted again unchanged.

use nl_engine::wire::{self, Attr, Attrs};

/// An attribute this crate does not model (or could not decode), kept as
/// received and emitted again unchanged: the engine's one type for them.
pub use nl_engine::RawAttr;

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
