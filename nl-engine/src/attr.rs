//! [`RawAttr`]: an attribute a crate does not interpret, kept as received.

use std::fmt;

use crate::error::DecodeError;
use crate::wire::{self, Attr, Attrs, NLA_F_NESTED, NLA_F_NET_BYTEORDER};

/// A netlink attribute kept as received: its whole type field (flags
/// [`NLA_F_NESTED`] and [`NLA_F_NET_BYTEORDER`] included) and its value.
///
/// The family crates keep every attribute they do not model (a newer
/// kernel's, or one they could not decode) as a `RawAttr` and emit it again
/// unchanged, so nothing is lost on a read-modify-write round trip.
///
/// ```
/// use nl_engine::RawAttr;
/// use nl_engine::wire::NLA_F_NESTED;
/// let a = RawAttr::new(7 | NLA_F_NESTED, vec![1, 2]);
/// assert_eq!((a.kind(), a.attr_type(), a.is_nested()), (0x8007, 7, true));
/// let mut b = Vec::new();
/// a.append_to(&mut b);
/// assert_eq!(b, [6, 0, 0x07, 0x80, 1, 2, 0, 0]);
/// assert_eq!(RawAttr::parse_all(&b).unwrap(), vec![a.clone()]);
/// assert_eq!(a.to_string(), "attr 0x8007 (2 bytes: 0102)");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttr {
    kind: u16,
    value: Vec<u8>,
}

impl RawAttr {
    /// An attribute of type field `kind` (flags included) holding `value`
    /// (without header or padding).
    pub fn new(kind: u16, value: Vec<u8>) -> Self {
        RawAttr { kind, value }
    }

    /// The attribute as it lies in a received buffer, copied.
    pub fn from_attr(a: &Attr<'_>) -> Self {
        RawAttr::new(a.raw_type, a.value.to_vec())
    }

    /// Every attribute of `buf` (a message's attribute area or a nest's
    /// value), in order; an attribute shorter than its header or longer
    /// than what is left is an error.
    pub fn parse_all(buf: &[u8]) -> Result<Vec<RawAttr>, DecodeError> {
        Attrs::new(buf)
            .map(|a| a.map(|a| RawAttr::from_attr(&a)).map_err(DecodeError::new))
            .collect()
    }

    /// The whole type field, flags included, as it goes on the wire.
    pub fn kind(&self) -> u16 {
        self.kind
    }

    /// The attribute type, flags masked off.
    pub fn attr_type(&self) -> u16 {
        self.kind & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
    }

    /// Whether [`NLA_F_NESTED`] is set.
    pub fn is_nested(&self) -> bool {
        self.kind & NLA_F_NESTED != 0
    }

    /// Whether [`NLA_F_NET_BYTEORDER`] is set.
    pub fn is_net_byteorder(&self) -> bool {
        self.kind & NLA_F_NET_BYTEORDER != 0
    }

    /// The value, without header or padding.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The value, taken out.
    pub fn into_value(self) -> Vec<u8> {
        self.value
    }

    /// Appends it to `buf` (header, value, padding) with
    /// [`wire::append_attr`], its type field unchanged.
    pub fn append_to(&self, buf: &mut Vec<u8>) {
        wire::append_attr(buf, self.kind, &self.value);
    }

    /// The bytes [`RawAttr::append_to`] appends: header, value, padding.
    pub fn buffer_len(&self) -> usize {
        wire::align4(4 + self.value.len())
    }
}

impl From<Attr<'_>> for RawAttr {
    fn from(a: Attr<'_>) -> Self {
        RawAttr::from_attr(&a)
    }
}

impl fmt::Display for RawAttr {
    /// `attr 0x8012 (3 bytes: 0a0b0c)`: the type field in hex (flags
    /// included), then the value in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attr {:#x} ({} bytes: ", self.kind, self.value.len())?;
        for b in &self.value {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// The attribute enums of the family crates implement netlink-packet-core's
/// `Nla`; their catch-all variants hold a `RawAttr` and delegate to this.
impl netlink_packet_core::Nla for RawAttr {
    fn value_len(&self) -> usize {
        self.value.len()
    }

    fn kind(&self) -> u16 {
        self.kind
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        let n = self.value.len().min(buffer.len());
        if let (Some(dst), Some(src)) = (buffer.get_mut(..n), self.value.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Nla};

    #[test]
    fn round_trips_flags_and_value() {
        let attrs = vec![
            RawAttr::new(3 | NLA_F_NET_BYTEORDER, vec![0, 0, 0, 9]),
            RawAttr::new(4 | NLA_F_NESTED, vec![5, 0, 1, 0, 7, 0, 0, 0]),
            RawAttr::new(5, vec![]),
        ];
        let mut b = Vec::new();
        for a in &attrs {
            a.append_to(&mut b);
        }
        assert_eq!(
            b.len(),
            attrs.iter().map(RawAttr::buffer_len).sum::<usize>()
        );
        assert_eq!(RawAttr::parse_all(&b).unwrap(), attrs);
        // netlink-packet-core's emitter writes the same bytes.
        let mut n = vec![0; attrs[0].buffer_len()];
        attrs[0].emit(&mut n);
        assert_eq!(n, b[..8]);
        assert_eq!(Nla::kind(&attrs[1]), 0x8004);
        assert!(attrs[1].is_nested() && !attrs[1].is_net_byteorder());
        assert_eq!(attrs[0].to_string(), "attr 0x4003 (4 bytes: 00000009)");
        assert_eq!(attrs[2].to_string(), "attr 0x5 (0 bytes: )");
    }

    #[test]
    fn malformed_is_an_error() {
        let e = RawAttr::parse_all(&[9, 0, 1, 0]).unwrap_err();
        assert!(e.reason().contains("out of bounds"), "{e}");
        assert!(RawAttr::parse_all(&[1, 0]).is_err());
    }
}
