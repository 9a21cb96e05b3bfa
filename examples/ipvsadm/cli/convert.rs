//! The C library's conversions ipvsadm relies on, byte for byte: `strtol`,
//! `inet_aton`, `inet_pton` and ipvsadm's `string_to_number`.

#[allow(unused_imports)]
use super::*;

pub(super) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtol(s, &end, base)`: (value, bytes consumed, overflowed).
pub(super) fn strtol(s: &[u8], base: u32) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    // the magnitude, and whether it went past u64 (then past i64 too)
    let mut v: u64 = 0;
    let mut past = false;
    while i < s.len() {
        let Some(d) = (s[i] as char).to_digit(base) else {
            break;
        };
        match v
            .checked_mul(u64::from(base))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(x) => v = x,
            None => past = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    const MIN_MAGNITUDE: u64 = 1 << 63;
    match (neg, past) {
        (false, false) if v <= i64::MAX as u64 => (v as i64, i, false),
        (false, _) => (i64::MAX, i, true),
        (true, false) if v <= MIN_MAGNITUDE => (0i64.wrapping_sub_unsigned(v), i, false),
        (true, _) => (i64::MIN, i, true),
    }
}

/// ipvsadm's `string_to_number`: the whole string a decimal number in
/// `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let b = s.as_bytes();
    let (n, used, over) = strtol(b, 10);
    if used == b.len() && used != 0 && !over && min <= n && n <= max {
        Some(n)
    } else {
        None
    }
}

/// glibc `inet_aton` (a, a.b, a.b.c, a.b.c.d; octal and hex parts;
/// anything after a white space ignored).
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    // the usual form first: four decimal parts of at most 255, no leading
    // zero (which would make a part octal), nothing after
    if let Some(a) = dotted_decimal(s.as_bytes()) {
        return Some(a);
    }
    let b = s.as_bytes();
    // the parts before the last (at most 3)
    let mut parts = [0u64; 3];
    let mut nparts = 0;
    let mut i = 0;
    let mut val: u64;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        // strtoul(cp, &endp, 0)
        let (base, skip) = if b.get(i) == Some(&b'0')
            && matches!(b.get(i + 1), Some(b'x') | Some(b'X'))
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            (16, 2)
        } else if b.get(i) == Some(&b'0') {
            (8, 0)
        } else {
            (10, 0)
        };
        let mut j = i + skip;
        let mut v: u64 = 0;
        while let Some(d) = b.get(j).and_then(|&x| (x as char).to_digit(base)) {
            v = v
                .saturating_mul(u64::from(base))
                .saturating_add(u64::from(d));
            j += 1;
        }
        if v > 0xffff_ffff {
            return None;
        }
        val = v;
        i = j;
        if b.get(i) == Some(&b'.') {
            let slot = parts.get_mut(nparts)?;
            if val > 0xff {
                return None;
            }
            *slot = val;
            nparts += 1;
            i += 1;
        } else {
            break;
        }
    }
    if let Some(&ch) = b.get(i) {
        if !ch.is_ascii() || !is_c_space(ch) {
            return None;
        }
    }
    let max: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    if val > max[nparts.min(3)] {
        return None;
    }
    let mut word: u32 = 0;
    for (k, p) in parts.iter().take(nparts).enumerate() {
        word |= (*p as u32) << (24 - 8 * k);
    }
    word |= val as u32;
    Some(word.to_be_bytes())
}

/// `a.b.c.d`, each part decimal without a leading zero and at most 255,
/// and nothing else: what [`inet_aton`] reads the same way by its general
/// rules; `None` for anything else (which it then reads by them).
pub(super) fn dotted_decimal(b: &[u8]) -> Option<[u8; 4]> {
    match dotted_decimal_prefix(b) {
        Some((a, [])) => Some(a),
        _ => None,
    }
}

/// [`dotted_decimal`] at the start of `b`, and the bytes after it.
pub(super) fn dotted_decimal_prefix(b: &[u8]) -> Option<([u8; 4], &[u8])> {
    let mut out = [0u8; 4];
    let mut i = 0;
    for (k, o) in out.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v: u16 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - start == 3 {
                break;
            }
            v = v * 10 + u16::from(c - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b.get(start) == Some(&b'0')) {
            return None;
        }
        *o = u8::try_from(v).ok()?;
    }
    Some((out, b.get(i..)?))
}

/// `inet_pton(AF_INET6, ...)`
pub fn inet_pton6(s: &str) -> Option<[u8; 16]> {
    // every IPv6 address has two colons at least ("::"): anything else
    // (an IPv4 address with a port) is refused without a parse
    s.bytes().filter(|&b| b == b':').nth(1)?;
    s.parse::<std::net::Ipv6Addr>().ok().map(|a| a.octets())
}

/// `inet_pton(AF_INET, ...)`
pub fn inet_pton4(s: &str) -> Option<[u8; 4]> {
    s.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets())
}

pub(super) fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn proto_name(p: u16) -> Option<&'static str> {
    match p {
        IPPROTO_TCP => Some("tcp"),
        IPPROTO_UDP => Some("udp"),
        IPPROTO_SCTP => Some("sctp"),
        _ => None,
    }
}
