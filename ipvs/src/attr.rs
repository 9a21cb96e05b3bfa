//! Small helpers shared by the attribute codecs of every object.

use netlink_packet_core::Nla;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::consts::{AF_INET, AF_INET6};
use nl_engine::wire::{Attr, Attrs};
pub(crate) use nl_engine::wire::{append_nla, append_typed};
use nl_engine::{DecodeError, RawAttr};

/// Copies `bytes` into the start of `buffer` (which the caller sized with
/// `value_len`); never panics on a size mismatch.
pub(crate) fn put(buffer: &mut [u8], bytes: &[u8]) {
    let n = bytes.len().min(buffer.len());
    if let (Some(dst), Some(src)) = (buffer.get_mut(..n), bytes.get(..n)) {
        dst.copy_from_slice(src);
    }
}

/// Emits attributes one after another into `buffer` (sized with their
/// `buffer_len`), each with its full type field (see
/// [`nl_engine::wire::emit_typed`]; found by fuzzing).
pub(crate) fn emit_all<T: Nla>(buffer: &mut [u8], attrs: &[T]) {
    nl_engine::wire::emit_typed(buffer, attrs);
}

/// Appends an attribute whose value is `value` (the direct encoders of
/// the bulk path).
#[inline]
pub(crate) fn append_bytes(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    nl_engine::wire::append_attr(buf, kind, value);
}

/// Appends a NUL-terminated string attribute.
#[inline]
pub(crate) fn append_cstr(buf: &mut Vec<u8>, kind: u16, s: &str) {
    append_nla(buf, kind, |b| {
        b.extend_from_slice(s.as_bytes());
        b.push(0);
    });
}

/// Appends an address attribute: 16 bytes (IPv4 in the first four), as
/// [`addr_bytes`].
#[inline]
pub(crate) fn append_addr(buf: &mut Vec<u8>, kind: u16, addr: &IpAddr) {
    append_bytes(buf, kind, &addr_bytes(addr));
}

/// Parses every attribute of `buf` with `f`.
pub(crate) fn parse_all<T>(
    buf: &[u8],
    mut f: impl FnMut(&Attr<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for a in each(buf) {
        out.push(f(&a?)?);
    }
    Ok(out)
}

/// An unknown attribute, kept whole (flags included) to be re-emitted.
pub(crate) fn unknown(a: &Attr<'_>) -> RawAttr {
    RawAttr::from_attr(a)
}

/// An address as IPVS carries it: always the 16 bytes of a
/// `union nf_inet_addr`, IPv4 in the first four (as `ipvsadm` sends it).
#[inline]
pub(crate) fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b.copy_from_slice(&a.octets()),
    }
    b
}

/// Reads an address attribute of family `af` (4 or 16 bytes for IPv4, 16 for
/// IPv6). With an unknown family, 4 bytes mean IPv4 and 16 mean IPv6.
pub(crate) fn parse_addr(af: Option<u16>, value: &[u8]) -> Result<IpAddr, DecodeError> {
    let v4 = |v: &[u8]| -> Result<IpAddr, DecodeError> {
        let b: [u8; 4] = v
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| DecodeError::from(format!("IPv4 address of {} bytes", v.len())))?;
        Ok(IpAddr::V4(Ipv4Addr::from(b)))
    };
    let v6 = |v: &[u8]| -> Result<IpAddr, DecodeError> {
        let b: [u8; 16] = v
            .try_into()
            .map_err(|_| DecodeError::from(format!("IPv6 address of {} bytes", v.len())))?;
        Ok(IpAddr::V6(Ipv6Addr::from(b)))
    };
    match af {
        Some(AF_INET) => v4(value),
        Some(AF_INET6) => v6(value),
        _ if value.len() == 4 => v4(value),
        _ => v6(value),
    }
}

/// The address family number of an address.
#[inline]
pub(crate) fn af_of(addr: &IpAddr) -> u16 {
    match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// A NUL-terminated string attribute value.
pub(crate) fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

macro_rules! num {
    ($name:ident, $t:ty, $from:ident) => {
        pub(crate) fn $name(value: &[u8], what: &str) -> Result<$t, DecodeError> {
            let b = value
                .try_into()
                .map_err(|_| DecodeError::from(format!("{what}: {} bytes", value.len())))?;
            Ok(<$t>::$from(b))
        }
    };
}
num!(u8_ne, u8, from_ne_bytes);
num!(u16_ne, u16, from_ne_bytes);
num!(u16_be, u16, from_be_bytes);
num!(u32_ne, u32, from_ne_bytes);
num!(u64_ne, u64, from_ne_bytes);

/// A string attribute (NUL terminator optional).
pub(crate) fn string(value: &[u8], what: &str) -> Result<String, DecodeError> {
    str_of(value, what).map(str::to_owned)
}

/// A string attribute, borrowed (NUL terminator optional).
pub(crate) fn str_of<'a>(value: &'a [u8], what: &str) -> Result<&'a str, DecodeError> {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    let s = value.get(..end).unwrap_or_default();
    std::str::from_utf8(s).map_err(|e| DecodeError::from(format!("{what}: {e}")))
}

/// The attributes of a nest, straight from the bytes (the direct decoders).
pub(crate) fn each(nest: &[u8]) -> impl Iterator<Item = Result<Attr<'_>, DecodeError>> {
    Attrs::new(nest).map(|a| a.map_err(DecodeError::new))
}

/// Typed attributes emitted back to the bytes they came from (the typed
/// `from_attrs` constructors decode those bytes with the one decoder each
/// object has, which reads the kernel's bytes directly).
pub(crate) fn to_bytes<T: Nla>(attrs: &[T]) -> Vec<u8> {
    let mut buf = vec![0u8; nl_engine::wire::typed_len(attrs)];
    emit_all(&mut buf, attrs);
    buf
}

/// The first attribute of kind `kind` in the top level of a generic
/// netlink payload (after the 4-byte `genlmsghdr`), unparsed: the dump
/// read path takes the object nest from there without a message tree.
pub(crate) fn genl_nest(payload: &[u8], kind: u16) -> Result<Option<&[u8]>, DecodeError> {
    let attrs = payload.get(4..).ok_or_else(|| {
        DecodeError::from(format!(
            "generic netlink payload of {} bytes",
            payload.len()
        ))
    })?;
    for a in each(attrs) {
        let a = a?;
        if a.kind() == kind {
            return Ok(Some(a.value));
        }
    }
    Ok(None)
}
