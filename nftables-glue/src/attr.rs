//! Attribute writing and reading shared by every object module.
//!
//! Emitting is done by a small writer so that the attribute order matches
//! what `nft` sends byte for byte (see the golden tests); reading goes
//! through netlink-packet-core's [`NlasIterator`].

use netlink_packet_core::{DecodeError, NLA_F_NESTED, NlaBuffer, NlasIterator};

/// An attribute this crate does not interpret, kept to be re-emitted as is.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttr {
    /// The attribute type including its flag bits (`NLA_F_NESTED`, ...).
    pub kind: u16,
    /// The value bytes.
    pub value: Vec<u8>,
}

/// Appends netlink attributes to a buffer.
#[derive(Debug, Default, Clone)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer::default()
    }

    pub(crate) fn bytes(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = 4 + value.len();
        // Attribute lengths are 16-bit; longer values are refused by the
        // callers' size checks, this only keeps the arithmetic honest.
        let l = u16::try_from(len).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&l.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        let pad = (4 - len % 4) % 4;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub(crate) fn u32be(&mut self, kind: u16, v: u32) -> &mut Self {
        self.bytes(kind, &v.to_be_bytes())
    }

    pub(crate) fn u64be(&mut self, kind: u16, v: u64) -> &mut Self {
        self.bytes(kind, &v.to_be_bytes())
    }

    /// A NUL-terminated string.
    pub(crate) fn str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.bytes(kind, &v)
    }

    /// A nested attribute whose content `f` writes.
    pub(crate) fn nest(&mut self, kind: u16, f: impl FnOnce(&mut Writer)) -> &mut Self {
        let mut w = Writer::new();
        f(&mut w);
        self.bytes(kind | NLA_F_NESTED, &w.buf)
    }

    pub(crate) fn raw(&mut self, attrs: &[RawAttr]) -> &mut Self {
        for a in attrs {
            self.bytes(a.kind, &a.value);
        }
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Iterates over the attributes in `buf`: (type without flags, full type, value).
pub(crate) fn iter(buf: &[u8]) -> impl Iterator<Item = Result<(u16, u16, &[u8]), DecodeError>> {
    NlasIterator::new(buf).map(|r| {
        r.map(|nla: NlaBuffer<&[u8]>| {
            let kind = nla.kind();
            let len = usize::from(nla.length());
            let b: &[u8] = nla.into_inner();
            let full = match b {
                [_, _, lo, hi, ..] => u16::from_ne_bytes([*lo, *hi]),
                _ => kind,
            };
            let value: &[u8] = b.get(4..len.min(b.len())).unwrap_or(&[]);
            (kind, full, value)
        })
    })
}

pub(crate) fn err(what: impl Into<String>) -> DecodeError {
    DecodeError::from(what.into())
}

pub(crate) fn get_u32(v: &[u8], what: &str) -> Result<u32, DecodeError> {
    let b: [u8; 4] = v
        .try_into()
        .map_err(|_| err(format!("{what}: expected 4 bytes, got {}", v.len())))?;
    Ok(u32::from_be_bytes(b))
}

pub(crate) fn get_u64(v: &[u8], what: &str) -> Result<u64, DecodeError> {
    let b: [u8; 8] = v
        .try_into()
        .map_err(|_| err(format!("{what}: expected 8 bytes, got {}", v.len())))?;
    Ok(u64::from_be_bytes(b))
}

pub(crate) fn get_str(v: &[u8], what: &str) -> Result<String, DecodeError> {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    let s = v.get(..end).unwrap_or_default();
    String::from_utf8(s.to_vec()).map_err(|_| err(format!("{what}: not UTF-8")))
}

/// Checks a name fits a 16-bit attribute and the kernel's limits.
pub(crate) fn check_name(what: &str, name: &str, max: usize) -> Result<(), nl_engine::Error> {
    if name.is_empty() || name.len() >= max || name.contains('\0') {
        return Err(nl_engine::Error::invalid_input(
            format!("{what} {name:?}"),
            format!("must be 1 to {} bytes without NUL", max - 1),
        ));
    }
    Ok(())
}
