//! Splitting received datagrams into netlink messages, and reading the
//! control messages (`NLMSG_ERROR`, `NLMSG_DONE`) with their extended ACK.
//!
//! Everything here works on untrusted bytes and checks every length.

use crate::error::KernelError;
use netlink_packet_core::{NetlinkHeader, Nla};

/// `NLMSG_NOOP`
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an ACK (code 0) or an error.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`
pub const NLMSG_OVERRUN: u16 = 4;
/// First message type free for families.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

/// `NLM_F_CAPPED` on an `NLMSG_ERROR`: the echoed request is only its header.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` on an `NLMSG_ERROR`/`NLMSG_DONE`: extended-ACK attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLMSGERR_ATTR_MSG` (include/uapi/linux/netlink.h)
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLMSGERR_ATTR_OFFS`
const NLMSGERR_ATTR_OFFS: u16 = 2;

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// The native-endian `u16` at `at`, if `buf` holds it.
pub fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        buf.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// The native-endian `u32` at `at`, if `buf` holds it.
pub fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        buf.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Overwrites the bytes at `at` with `bytes`, if `buf` holds them.
#[inline]
pub fn put_at(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = at
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(at..end))
    {
        dst.copy_from_slice(bytes);
    }
}

/// `NLA_F_NESTED`
pub const NLA_F_NESTED: u16 = 0x8000;

/// Appends one netlink attribute to `buf` in a single pass: its 4-byte
/// header, then whatever `value` appends, then padding to 4 bytes; the
/// length is set once the value is written. Nests are attributes whose
/// `value` appends more attributes (give `kind` with [`NLA_F_NESTED`]).
///
/// This is the fast path for messages sent in bulk: no attribute tree is
/// built and no length is computed twice.
///
/// ```
/// use nl_engine::wire::{append_nla, NLA_F_NESTED};
/// let mut b = Vec::new();
/// append_nla(&mut b, 1 | NLA_F_NESTED, |b| {
///     append_nla(b, 2, |b| b.extend_from_slice(&7u16.to_ne_bytes()));
/// });
/// assert_eq!(b.len(), 4 + 8);
/// assert_eq!(&b[..4], &[12, 0, 0x01, 0x80]);
/// assert_eq!(&b[4..10], &[6, 0, 2, 0, 7, 0]);
/// ```
#[inline]
pub fn append_nla(buf: &mut Vec<u8>, kind: u16, value: impl FnOnce(&mut Vec<u8>)) {
    let off = buf.len();
    let [k0, k1] = kind.to_ne_bytes();
    buf.extend_from_slice(&[0, 0, k0, k1]);
    value(buf);
    let len = buf.len() - off;
    put_at(
        buf,
        off,
        &u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes(),
    );
    // at most 3 bytes of padding: pushed, no copy of a slice of run-time
    // length
    for _ in len..align4(len) {
        buf.push(0);
    }
}

/// Appends one typed attribute (any [`Nla`]) with [`append_nla`]: its
/// full type field as [`Nla::kind`] gives it, flags included (the
/// `Emitable` of netlink-packet-core 0.9 drops `NLA_F_NET_BYTEORDER` when
/// `NLA_F_NESTED` is set too), then its value as [`Nla::emit_value`]
/// writes it. The bulk encoders of the family crates use it for the
/// attributes they have no direct encoder for.
///
/// ```
/// use nl_engine::RawAttr;
/// use nl_engine::wire::append_typed;
/// let mut b = Vec::new();
/// append_typed(&mut b, &RawAttr::new(0xc007, vec![1, 2]));
/// assert_eq!(b, [6, 0, 0x07, 0xc0, 1, 2, 0, 0]);
/// ```
pub fn append_typed<T: Nla>(buf: &mut Vec<u8>, a: &T) {
    append_nla(buf, a.kind(), |b| {
        let off = b.len();
        b.resize(off + a.value_len(), 0);
        if let Some(dst) = b.get_mut(off..) {
            a.emit_value(dst);
        }
    });
}

/// Writes one attribute at the start of `buf`: its header, the value that
/// `value` writes into the `value_len` bytes it is given, then zero
/// padding to 4 bytes. Returns the attribute's padded length, which is
/// what the caller sized `buf` with; writes nothing when `buf` is shorter.
///
/// This is the writer for buffers sized in advance (netlink-packet-core's
/// `Emitable::emit`); [`append_nla`] is the one for growing buffers.
///
/// ```
/// use nl_engine::wire::{append_attr, put_nla};
/// let mut b = [0xff; 12];
/// assert_eq!(put_nla(&mut b, 3, 5, |v| v.copy_from_slice(&[1, 2, 3, 4, 5])), 12);
/// let mut a = Vec::new();
/// append_attr(&mut a, 3, &[1, 2, 3, 4, 5]);
/// assert_eq!(b[..], a[..]);
/// ```
pub fn put_nla(
    buf: &mut [u8],
    kind: u16,
    value_len: usize,
    value: impl FnOnce(&mut [u8]),
) -> usize {
    let len = 4usize.saturating_add(value_len);
    let padded = align4(len);
    if let Some(attr) = buf.get_mut(..padded) {
        let [l0, l1] = u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes();
        let [k0, k1] = kind.to_ne_bytes();
        put_at(attr, 0, &[l0, l1, k0, k1]);
        if let Some(v) = attr.get_mut(4..len) {
            value(v);
        }
        if let Some(pad) = attr.get_mut(len..) {
            pad.fill(0);
        }
    }
    padded
}

/// Writes typed attributes (any [`Nla`]) one after another into `buf`,
/// sized with [`typed_len`], with [`put_nla`]: each with its full type
/// field as [`Nla::kind`] gives it, flags included (the `Emitable` of
/// netlink-packet-core 0.9 drops `NLA_F_NET_BYTEORDER` when
/// `NLA_F_NESTED` is set too, so an unknown attribute carrying both would
/// not be re-emitted as it was received).
///
/// ```
/// use nl_engine::RawAttr;
/// use nl_engine::wire::{emit_typed, typed_len};
/// let attrs = [RawAttr::new(0xc007, vec![1, 2]), RawAttr::new(1, vec![])];
/// let mut b = vec![0; typed_len(&attrs)];
/// emit_typed(&mut b, &attrs);
/// assert_eq!(b, [6, 0, 0x07, 0xc0, 1, 2, 0, 0, 4, 0, 1, 0]);
/// ```
pub fn emit_typed<T: Nla>(buf: &mut [u8], attrs: &[T]) {
    let mut off = 0usize;
    for a in attrs {
        let Some(rest) = buf.get_mut(off..) else {
            return;
        };
        off = off.saturating_add(put_nla(rest, a.kind(), a.value_len(), |v| a.emit_value(v)));
    }
}

/// The bytes [`emit_typed`] writes for `attrs`: headers, values, padding.
pub fn typed_len<T: Nla>(attrs: &[T]) -> usize {
    attrs
        .iter()
        .map(|a| align4(4usize.saturating_add(a.value_len())))
        .sum()
}

/// `NLA_F_NET_BYTEORDER`
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;

/// Attributes of a fixed layout written into a stack array of `N` bytes,
/// then appended to a message in one copy: the bulk encoders' path for
/// objects whose attributes always have the same sizes (an IPVS
/// destination, a plain ipset element). Writes past `N` bytes are dropped
/// (never a panic); [`finish`](Self::finish) says whether all of it fit.
///
/// ```
/// use nl_engine::wire::{FixedAttrs, append_attr, append_nla};
/// let mut f = FixedAttrs::<24>::new();
/// f.nest_header(24, 0x8001);
/// f.attr(3, &[1, 2, 3, 4, 5]);
/// f.attr(4, &7u16.to_ne_bytes());
/// let mut fixed = Vec::new();
/// fixed.extend_from_slice(&f.finish().unwrap());
/// let mut one_by_one = Vec::new();
/// append_nla(&mut one_by_one, 0x8001, |b| {
///     append_attr(b, 3, &[1, 2, 3, 4, 5]);
///     append_attr(b, 4, &7u16.to_ne_bytes());
/// });
/// assert_eq!(fixed, one_by_one);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedAttrs<const N: usize> {
    buf: [u8; N],
    at: usize,
}

impl<const N: usize> Default for FixedAttrs<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FixedAttrs<N> {
    /// An empty layout.
    #[inline]
    pub fn new() -> Self {
        FixedAttrs { buf: [0; N], at: 0 }
    }

    /// Writes a nest's header: its whole length `len` (header included)
    /// and its type `kind`; the nest's attributes follow.
    #[inline]
    pub fn nest_header(&mut self, len: u16, kind: u16) {
        let ([l0, l1], [k0, k1]) = (len.to_ne_bytes(), kind.to_ne_bytes());
        self.raw(&[l0, l1, k0, k1]);
    }

    /// Writes one attribute: header, `value`, zero padding to 4 bytes.
    #[inline]
    pub fn attr(&mut self, kind: u16, value: &[u8]) {
        let at = self.at;
        self.at = at.saturating_add(self.buf.get_mut(at..).map_or(N, |rest| {
            put_nla(rest, kind, value.len(), |v| put_at(v, 0, value))
        }));
    }

    #[inline]
    fn raw(&mut self, bytes: &[u8]) {
        if let Some(dst) = self
            .buf
            .get_mut(self.at..self.at.saturating_add(bytes.len()))
        {
            dst.copy_from_slice(bytes);
        }
        self.at = self.at.saturating_add(bytes.len());
    }

    /// The bytes, when exactly `N` were written; `None` when the writes
    /// fell short of or overran the layout.
    #[inline]
    pub fn finish(self) -> Option<[u8; N]> {
        (self.at == N).then_some(self.buf)
    }
}

/// Appends one attribute whose value is `value`: [`append_nla`] for a
/// value known in advance, in one reservation and without going back to
/// fix the header (the bulk encoders write tens of thousands per batch).
///
/// ```
/// use nl_engine::wire::{append_attr, append_nla};
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// append_attr(&mut a, 3, &[1, 2, 3, 4, 5]);
/// append_nla(&mut b, 3, |b| b.extend_from_slice(&[1, 2, 3, 4, 5]));
/// assert_eq!(a, b);
/// assert_eq!(a, [9, 0, 3, 0, 1, 2, 3, 4, 5, 0, 0, 0]);
/// ```
#[inline]
pub fn append_attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    let padded = align4(len);
    let [l0, l1] = u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes();
    let [k0, k1] = kind.to_ne_bytes();
    // Most values are a few bytes: the whole attribute is put together on
    // the stack and appended as one fixed-size copy (which the compiler
    // turns into a couple of moves), then cut to its padded length.
    let mut small = [
        l0, l1, k0, k1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    if padded <= small.len() {
        if let Some(dst) = small.get_mut(4..len) {
            dst.copy_from_slice(value);
        }
        let end = buf.len() + padded;
        buf.extend_from_slice(&small);
        buf.truncate(end);
        return;
    }
    buf.reserve(padded);
    buf.extend_from_slice(&[l0, l1, k0, k1]);
    buf.extend_from_slice(value);
    for _ in len..padded {
        buf.push(0);
    }
}

/// One attribute as it lies in a received buffer (nothing copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The whole type field, flags ([`NLA_F_NESTED`],
    /// [`NLA_F_NET_BYTEORDER`]) included.
    pub raw_type: u16,
    /// The value, without header or padding.
    pub value: &'a [u8],
}

impl Attr<'_> {
    /// The attribute type, flags masked off.
    pub fn kind(&self) -> u16 {
        self.raw_type & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
    }
}

/// Iterates over the attributes of a buffer (a message's attribute area or
/// a nest's value): the read path of large dumps, with one bounds check per
/// attribute and no allocation. Accepts and refuses exactly what
/// `netlink_packet_core::NlasIterator` does: an attribute shorter than its
/// header or longer than what is left is an error, after which iteration
/// stops.
///
/// ```
/// use nl_engine::wire::{Attrs, append_nla};
/// let mut b = Vec::new();
/// append_nla(&mut b, 1, |b| b.extend_from_slice(&[7]));
/// append_nla(&mut b, 2, |b| b.extend_from_slice(b"ab"));
/// let got: Vec<(u16, Vec<u8>)> = Attrs::new(&b)
///     .map(|a| a.map(|a| (a.kind(), a.value.to_vec())))
///     .collect::<Result<_, _>>()
///     .unwrap();
/// assert_eq!(got, vec![(1, vec![7]), (2, b"ab".to_vec())]);
/// assert!(Attrs::new(&[9, 0, 1, 0]).next().unwrap().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// The attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs { rest: buf }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let (Some(len), Some(raw_type)) = (u16_at(rest, 0), u16_at(rest, 2)) else {
            return Some(Err(format!(
                "{} trailing bytes, less than an attribute header",
                rest.len()
            )));
        };
        let len = usize::from(len);
        let Some(value) = rest.get(4..len) else {
            return Some(Err(format!(
                "attribute length {len} out of bounds ({} bytes left)",
                rest.len()
            )));
        };
        self.rest = rest.get(align4(len)..).unwrap_or_default();
        Some(Ok(Attr { raw_type, value }))
    }
}

/// One message cut out of a datagram.
#[derive(Debug)]
pub struct RawMessage<'a> {
    /// Its header.
    pub header: NetlinkHeader,
    /// Its payload (after the 16-byte header), exactly `length - 16` bytes.
    pub payload: &'a [u8],
}

/// Iterates over the messages of a received datagram.
pub struct Messages<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Messages<'a> {
    /// The messages in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { buf, off: 0 }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<RawMessage<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..)?;
        if rest.is_empty() {
            return None;
        }
        let (Some(len), Some(message_type), Some(flags), Some(seq), Some(port)) = (
            u32_at(rest, 0),
            u16_at(rest, 4),
            u16_at(rest, 6),
            u32_at(rest, 8),
            u32_at(rest, 12),
        ) else {
            self.off = self.buf.len();
            return Some(Err(format!(
                "{} trailing bytes, less than a netlink header",
                rest.len()
            )));
        };
        let len = len as usize;
        let Some(payload) = rest.get(NLMSG_HDRLEN..len).filter(|_| len >= NLMSG_HDRLEN) else {
            self.off = self.buf.len();
            return Some(Err(format!(
                "message length {len} out of bounds ({} bytes left)",
                rest.len()
            )));
        };
        let mut header = NetlinkHeader::default();
        header.length = len as u32;
        header.message_type = message_type;
        header.flags = flags;
        header.sequence_number = seq;
        header.port_number = port;
        self.off += align4(len).min(rest.len());
        Some(Ok(RawMessage { header, payload }))
    }
}

fn read_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// Reads the extended-ACK attributes (message, offset) into `err`.
fn parse_ack_tlvs(mut tlvs: &[u8], err: &mut KernelError) {
    while let (Some(len), Some(kind)) = (u16_at(tlvs, 0), u16_at(tlvs, 2)) {
        let len = len as usize;
        let kind = kind & 0x3fff;
        let Some(value) = tlvs.get(4..len) else {
            return;
        };
        match kind {
            NLMSGERR_ATTR_MSG => {
                let text = value.split(|&b| b == 0).next().unwrap_or_default();
                let msg = String::from_utf8_lossy(text).into_owned();
                if !msg.is_empty() {
                    err.message = Some(msg);
                }
            }
            NLMSGERR_ATTR_OFFS => {
                if let Some(o) = u32_at(value, 0) {
                    err.bad_attr_offset = Some(o);
                }
            }
            _ => {}
        }
        tlvs = tlvs.get(align4(len)..).unwrap_or_default();
    }
}

/// Reads an `NLMSG_ERROR` payload: `Ok(())` for an ACK, the error otherwise.
pub fn parse_error(msg: &RawMessage<'_>) -> Result<Result<(), KernelError>, String> {
    let code = read_i32(msg.payload).ok_or("NLMSG_ERROR shorter than its error code")?;
    if code == 0 {
        return Ok(Ok(()));
    }
    let mut err = KernelError::from_errno(code.checked_neg().unwrap_or(i32::MAX));
    if msg.header.flags & NLM_F_CAPPED == 0 {
        // The whole request echoed back (a kernel without NETLINK_CAP_ACK,
        // or a family that builds its own error message, like ipset).
        let echoed = u32_at(msg.payload, 4).unwrap_or(0) as usize;
        if echoed > NLMSG_HDRLEN {
            err.echo = msg
                .payload
                .get(4..4usize.saturating_add(echoed))
                .map(<[u8]>::to_vec);
        }
    }
    if msg.header.flags & NLM_F_ACK_TLVS != 0 {
        // The echoed request: its header only when capped, else all of it.
        let echoed = if msg.header.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            u32_at(msg.payload, 4).map_or(NLMSG_HDRLEN, |l| l as usize)
        };
        if let Some(tlvs) = msg.payload.get(4usize.saturating_add(align4(echoed))..) {
            parse_ack_tlvs(tlvs, &mut err);
        }
    }
    Ok(Err(err))
}

/// Reads an `NLMSG_DONE` payload: a dump's final status.
pub fn parse_done(msg: &RawMessage<'_>) -> Result<(), KernelError> {
    let code = read_i32(msg.payload).unwrap_or(0);
    if code >= 0 {
        return Ok(());
    }
    let mut err = KernelError::from_errno(code.checked_neg().unwrap_or(i32::MAX));
    if msg.header.flags & NLM_F_ACK_TLVS != 0 {
        if let Some(tlvs) = msg.payload.get(4..) {
            parse_ack_tlvs(tlvs, &mut err);
        }
    }
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_attr_is_append_nla_for_every_length() {
        for n in 0..=40u8 {
            let value: Vec<u8> = (1..=n).collect();
            let (mut a, mut b) = (vec![7u8], vec![7u8]);
            append_attr(&mut a, 0x4005, &value);
            append_nla(&mut b, 0x4005, |b| b.extend_from_slice(&value));
            assert_eq!(a, b, "{n}");
            assert_eq!(a.len(), 1 + align4(4 + usize::from(n)));
            let got: Vec<_> = Attrs::new(&a[1..]).collect();
            assert_eq!(
                got,
                vec![Ok(Attr {
                    raw_type: 0x4005,
                    value: &value
                })]
            );
        }
    }

    fn hdr(len: u32, ty: u16, flags: u16, seq: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v
    }

    #[test]
    fn splits_and_rejects_bad_lengths() {
        let mut d = hdr(20, 0x20, 0, 1);
        d.extend_from_slice(&[1, 2, 3, 4]);
        d.extend(hdr(16, NLMSG_DONE, 0, 1));
        let v: Vec<_> = Messages::new(&d).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].as_ref().unwrap().payload, &[1, 2, 3, 4]);

        let bad = hdr(400, 0x20, 0, 1);
        let v: Vec<_> = Messages::new(&bad).collect();
        assert!(v[0].is_err());
        let v: Vec<_> = Messages::new(&bad[..7]).collect();
        assert!(v[0].is_err());
        let tiny = hdr(3, 0x20, 0, 1);
        assert!(Messages::new(&tiny).next().unwrap().is_err());
    }

    #[test]
    fn error_with_extack() {
        // error -22, capped echo of a 16-byte header, then MSG and OFFS TLVs.
        let mut payload = (-22i32).to_ne_bytes().to_vec();
        payload.extend(hdr(40, 0x1c, 5, 9));
        let text = b"Unknown scheduler\0";
        let l = 4 + text.len();
        payload.extend_from_slice(&(l as u16).to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(text);
        payload.resize(align4(payload.len()), 0);
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&2u16.to_ne_bytes());
        payload.extend_from_slice(&24u32.to_ne_bytes());
        let mut d = hdr((16 + payload.len()) as u32, NLMSG_ERROR, 0x300, 9);
        d.extend(payload);
        let m = Messages::new(&d).next().unwrap().unwrap();
        let e = parse_error(&m).unwrap().unwrap_err();
        assert_eq!(e.errno, 22);
        assert_eq!(e.message.as_deref(), Some("Unknown scheduler"));
        assert_eq!(e.bad_attr_offset, Some(24));
    }

    #[test]
    fn ack_and_truncated_error() {
        let mut d = hdr(36, NLMSG_ERROR, 0x100, 3);
        d.extend_from_slice(&0i32.to_ne_bytes());
        d.extend(hdr(16, 0x20, 5, 3));
        let m = Messages::new(&d).next().unwrap().unwrap();
        assert!(parse_error(&m).unwrap().is_ok());
        let short = hdr(18, NLMSG_ERROR, 0, 3);
        let mut s = short.clone();
        s.extend_from_slice(&[0, 0]);
        let m = Messages::new(&s).next().unwrap().unwrap();
        assert!(parse_error(&m).is_err());
        // ACK_TLVS with garbage TLVs must not panic.
        let mut g = hdr(28, NLMSG_ERROR, 0x300, 1);
        g.extend_from_slice(&(-1i32).to_ne_bytes());
        g.extend_from_slice(&[0xff; 8]);
        let m = Messages::new(&g).next().unwrap().unwrap();
        assert_eq!(parse_error(&m).unwrap().unwrap_err().errno, 1);
    }

    #[test]
    fn done_codes() {
        let mut d = hdr(20, NLMSG_DONE, 0, 1);
        d.extend_from_slice(&0i32.to_ne_bytes());
        let m = Messages::new(&d).next().unwrap().unwrap();
        assert!(parse_done(&m).is_ok());
        let mut d = hdr(20, NLMSG_DONE, 0, 1);
        d.extend_from_slice(&(-16i32).to_ne_bytes());
        let m = Messages::new(&d).next().unwrap().unwrap();
        assert_eq!(parse_done(&m).unwrap_err().errno, 16);
        let d = hdr(16, NLMSG_DONE, 0, 1);
        let m = Messages::new(&d).next().unwrap().unwrap();
        assert!(parse_done(&m).is_ok());
    }
}
