//! [`Entry`]: one conntrack entry (`IPCTNL_MSG_CT_NEW` messages of a dump
//! or a get, and the body of a create): both tuples, status, timeout,
//! mark, zone, id, protocol state, counters, use count.

use std::fmt;

use nl_engine::{DecodeError, wire};

use crate::attr::{DecodeResult, RawAttr, be16, be32, be64, each, nest, u8_of};
use crate::constants::*;
use crate::tuple::{Family, Tuple};

bitflags::bitflags! {
    /// `CTA_STATUS`: `enum ip_conntrack_status` bits. Bits this crate does
    /// not name are kept.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Status: u32 {
        /// `IPS_EXPECTED`: an expected connection (of a helper).
        const EXPECTED = 1 << 0;
        /// `IPS_SEEN_REPLY`: packets seen both ways (the tool's
        /// `[UNREPLIED]` when unset).
        const SEEN_REPLY = 1 << 1;
        /// `IPS_ASSURED`: will not be dropped early (`[ASSURED]`).
        const ASSURED = 1 << 2;
        /// `IPS_CONFIRMED`: in the table (every listed entry).
        const CONFIRMED = 1 << 3;
        /// `IPS_SRC_NAT`
        const SRC_NAT = 1 << 4;
        /// `IPS_DST_NAT`
        const DST_NAT = 1 << 5;
        /// `IPS_SEQ_ADJUST`
        const SEQ_ADJUST = 1 << 6;
        /// `IPS_SRC_NAT_DONE`
        const SRC_NAT_DONE = 1 << 7;
        /// `IPS_DST_NAT_DONE`
        const DST_NAT_DONE = 1 << 8;
        /// `IPS_DYING`
        const DYING = 1 << 9;
        /// `IPS_FIXED_TIMEOUT`
        const FIXED_TIMEOUT = 1 << 10;
        /// `IPS_TEMPLATE`
        const TEMPLATE = 1 << 11;
        /// `IPS_UNTRACKED`
        const UNTRACKED = 1 << 12;
        /// `IPS_HELPER`
        const HELPER = 1 << 13;
        /// `IPS_OFFLOAD` (`[OFFLOAD]`)
        const OFFLOAD = 1 << 14;
        /// `IPS_HW_OFFLOAD` (`[HW_OFFLOAD]`)
        const HW_OFFLOAD = 1 << 15;
        const _ = !0;
    }
}

impl Status {
    /// `IPS_UNCHANGEABLE_MASK`: the bits only the kernel sets; a create
    /// request leaves them out.
    pub const UNCHANGEABLE: Status = Status::SRC_NAT_DONE
        .union(Status::DST_NAT_DONE)
        .union(Status::SRC_NAT)
        .union(Status::DST_NAT)
        .union(Status::EXPECTED)
        .union(Status::CONFIRMED)
        .union(Status::DYING)
        .union(Status::SEQ_ADJUST)
        .union(Status::TEMPLATE)
        .union(Status::UNTRACKED)
        .union(Status::OFFLOAD)
        .union(Status::HW_OFFLOAD);
}

/// A TCP connection state (`enum tcp_conntrack`), as the `conntrack` tool
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpState {
    /// `TCP_CONNTRACK_NONE`
    None,
    /// `SYN_SENT`
    SynSent,
    /// `SYN_RECV`
    SynRecv,
    /// `ESTABLISHED`
    Established,
    /// `FIN_WAIT`
    FinWait,
    /// `CLOSE_WAIT`
    CloseWait,
    /// `LAST_ACK`
    LastAck,
    /// `TIME_WAIT`
    TimeWait,
    /// `CLOSE`
    Close,
    /// `SYN_SENT2` (was `LISTEN`)
    SynSent2,
    /// Any other number.
    Other(u8),
}

impl TcpState {
    /// The kernel's number.
    pub fn number(self) -> u8 {
        match self {
            TcpState::None => 0,
            TcpState::SynSent => 1,
            TcpState::SynRecv => 2,
            TcpState::Established => 3,
            TcpState::FinWait => 4,
            TcpState::CloseWait => 5,
            TcpState::LastAck => 6,
            TcpState::TimeWait => 7,
            TcpState::Close => 8,
            TcpState::SynSent2 => 9,
            TcpState::Other(n) => n,
        }
    }
}

impl From<u8> for TcpState {
    fn from(n: u8) -> Self {
        match n {
            0 => TcpState::None,
            1 => TcpState::SynSent,
            2 => TcpState::SynRecv,
            3 => TcpState::Established,
            4 => TcpState::FinWait,
            5 => TcpState::CloseWait,
            6 => TcpState::LastAck,
            7 => TcpState::TimeWait,
            8 => TcpState::Close,
            9 => TcpState::SynSent2,
            n => TcpState::Other(n),
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::None => "NONE",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::SynSent2 => "SYN_SENT2",
            TcpState::Other(n) => return write!(f, "state {n}"),
        })
    }
}

/// `struct nf_ct_tcp_flags`: TCP window flags of one direction
/// (`IP_CT_TCP_FLAG_*`) and, in requests, which of them to change.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags {
    /// The flags.
    pub flags: u8,
    /// The mask of flags to change (0 in replies).
    pub mask: u8,
}

/// `CTA_PROTOINFO_TCP`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpInfo {
    /// `CTA_PROTOINFO_TCP_STATE`
    pub state: TcpState,
    /// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL`
    pub wscale_orig: Option<u8>,
    /// `CTA_PROTOINFO_TCP_WSCALE_REPLY`
    pub wscale_reply: Option<u8>,
    /// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL`
    pub flags_orig: Option<TcpFlags>,
    /// `CTA_PROTOINFO_TCP_FLAGS_REPLY`
    pub flags_reply: Option<TcpFlags>,
}

impl TcpInfo {
    /// Only a state (what `conntrack -I --state` sends).
    pub fn state(state: TcpState) -> Self {
        TcpInfo {
            state,
            wscale_orig: None,
            wscale_reply: None,
            flags_orig: None,
            flags_reply: None,
        }
    }
}

/// `CTA_PROTOINFO_SCTP`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SctpInfo {
    /// `CTA_PROTOINFO_SCTP_STATE` (`enum sctp_conntrack`: 4 is ESTABLISHED).
    pub state: u8,
    /// `CTA_PROTOINFO_SCTP_VTAG_ORIGINAL`
    pub vtag_orig: u32,
    /// `CTA_PROTOINFO_SCTP_VTAG_REPLY`
    pub vtag_reply: u32,
}

/// `CTA_PROTOINFO`: per-protocol state.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtoInfo {
    /// TCP.
    Tcp(TcpInfo),
    /// SCTP.
    Sctp(SctpInfo),
    /// Another protocol's (DCCP), kept as received.
    Other(RawAttr),
}

/// `CTA_COUNTERS_ORIG` / `CTA_COUNTERS_REPLY` (with
/// `net.netfilter.nf_conntrack_acct` on).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One conntrack entry.
///
/// Listing fills what the kernel reports; for [`create`](crate::ConntrackHandle::create),
/// set the tuples, a timeout and whatever else the entry should have
/// (`id`, `use_count` and the counters are the kernel's and not sent).
///
/// ```
/// use conntrack_nl::{Entry, L4, Status, Tuple};
/// let orig = Tuple::new("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), L4::udp(5000, 53));
/// let e = Entry::new(orig).timeout(30).mark(7).status(Status::ASSURED);
/// assert_eq!(e.reply.to_string(), "udp 10.0.0.2:53 -> 10.0.0.1:5000");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The original direction (`CTA_TUPLE_ORIG`).
    pub orig: Tuple,
    /// The reply direction (`CTA_TUPLE_REPLY`): after NAT, the backend's
    /// address is its source.
    pub reply: Tuple,
    /// `CTA_STATUS`
    pub status: Status,
    /// `CTA_TIMEOUT`: seconds left (to live, when creating).
    pub timeout: Option<u32>,
    /// `CTA_MARK`
    pub mark: Option<u32>,
    /// `CTA_ZONE`; `None` is zone 0 (the kernel reports no zone then).
    pub zone: Option<u16>,
    /// `CTA_ID`: the kernel's id of the entry.
    pub id: Option<u32>,
    /// `CTA_USE`: the reference count, when reported.
    pub use_count: Option<u32>,
    /// `CTA_PROTOINFO`: protocol state (TCP state and window flags).
    pub protoinfo: Option<ProtoInfo>,
    /// `CTA_COUNTERS_ORIG`
    pub counters_orig: Option<Counters>,
    /// `CTA_COUNTERS_REPLY`
    pub counters_reply: Option<Counters>,
    /// Every other attribute (helper, NAT sequence adjustment, timestamps,
    /// labels, security context, ...), kept as received.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub other: Vec<RawAttr>,
}

impl Entry {
    /// An entry for `orig` with the reply tuple the kernel would make
    /// without NAT ([`Tuple::inverted`]) and nothing else set.
    pub fn new(orig: Tuple) -> Self {
        let reply = orig.inverted();
        Entry::with_reply(orig, reply)
    }

    /// An entry with an explicit reply tuple (for example a DNAT one:
    /// the reply comes from the backend).
    pub fn with_reply(orig: Tuple, reply: Tuple) -> Self {
        Entry {
            orig,
            reply,
            status: Status::empty(),
            timeout: None,
            mark: None,
            zone: None,
            id: None,
            use_count: None,
            protoinfo: None,
            counters_orig: None,
            counters_reply: None,
            other: Vec::new(),
        }
    }

    /// This entry with a timeout (seconds).
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// This entry with a mark.
    pub fn mark(mut self, mark: u32) -> Self {
        self.mark = Some(mark);
        self
    }

    /// This entry in a zone.
    pub fn zone(mut self, zone: u16) -> Self {
        self.zone = Some(zone);
        self
    }

    /// This entry with these status bits.
    pub fn status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// This entry with a TCP state.
    pub fn tcp_state(mut self, state: TcpState) -> Self {
        self.protoinfo = Some(ProtoInfo::Tcp(TcpInfo::state(state)));
        self
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.orig.family()
    }

    /// The TCP state, for TCP entries that report one.
    pub fn tcp(&self) -> Option<&TcpInfo> {
        match &self.protoinfo {
            Some(ProtoInfo::Tcp(t)) => Some(t),
            _ => None,
        }
    }

    /// Appends the attributes of a create request: tuples, status (the
    /// bits only the kernel sets replaced by `CONFIRMED`, when any bit is
    /// set), timeout, protocol state, mark, zone
    /// and the kept [`other`](Self::other) attributes.
    pub fn append_create_attrs(&self, buf: &mut Vec<u8>) {
        self.orig.append_nest(buf, CTA_TUPLE_ORIG);
        self.reply.append_nest(buf, CTA_TUPLE_REPLY);
        let status = self.status.difference(Status::UNCHANGEABLE);
        if !status.is_empty() {
            // The kernel compares the status with that of the entry it has
            // just inserted, which is CONFIRMED: without it, EBUSY (the
            // `conntrack` tool sends it too).
            let status = status | Status::CONFIRMED;
            wire::append_attr(buf, CTA_STATUS, &status.bits().to_be_bytes());
        }
        if let Some(t) = self.timeout {
            wire::append_attr(buf, CTA_TIMEOUT, &t.to_be_bytes());
        }
        if let Some(p) = &self.protoinfo {
            append_protoinfo(buf, p);
        }
        if let Some(m) = self.mark {
            wire::append_attr(buf, CTA_MARK, &m.to_be_bytes());
        }
        if let Some(z) = self.zone {
            wire::append_attr(buf, CTA_ZONE, &z.to_be_bytes());
        }
        for a in &self.other {
            a.append_to(buf);
        }
    }

    /// Decodes the attributes of an entry message (after `nfgenmsg`).
    pub fn parse(buf: &[u8]) -> Result<Entry, DecodeError> {
        Self::parse_attrs(buf)
            .map_err(|reason| DecodeError::new(reason).in_object("conntrack entry"))
    }

    pub(crate) fn parse_attrs(buf: &[u8]) -> Result<Entry, String> {
        let mut orig = None;
        let mut reply = None;
        let mut e = Entry::with_reply(placeholder(), placeholder());
        each(buf, |a| {
            match a.kind() {
                CTA_TUPLE_ORIG => orig = Some(Tuple::parse_attrs(a.value)?),
                CTA_TUPLE_REPLY => reply = Some(Tuple::parse_attrs(a.value)?),
                CTA_STATUS => e.status = Status::from_bits_retain(be32(a.value, "status")?),
                CTA_TIMEOUT => e.timeout = Some(be32(a.value, "timeout")?),
                CTA_MARK => e.mark = Some(be32(a.value, "mark")?),
                CTA_ZONE => e.zone = Some(be16(a.value, "zone")?),
                CTA_ID => e.id = Some(be32(a.value, "id")?),
                CTA_USE => e.use_count = Some(be32(a.value, "use")?),
                CTA_PROTOINFO => e.protoinfo = parse_protoinfo(a.value)?,
                CTA_COUNTERS_ORIG => e.counters_orig = Some(parse_counters(a.value)?),
                CTA_COUNTERS_REPLY => e.counters_reply = Some(parse_counters(a.value)?),
                _ => e.other.push(RawAttr::from_attr(&a)),
            }
            Ok(())
        })?;
        e.orig = orig.ok_or("conntrack entry without an original tuple")?;
        e.reply = reply.ok_or("conntrack entry without a reply tuple")?;
        Ok(e)
    }
}

fn placeholder() -> Tuple {
    use std::net::{IpAddr, Ipv4Addr};
    let a = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    Tuple::new(a, a, crate::tuple::L4::Other(crate::tuple::Proto::Other(0)))
}

fn append_protoinfo(buf: &mut Vec<u8>, p: &ProtoInfo) {
    match p {
        ProtoInfo::Tcp(t) => nest(buf, CTA_PROTOINFO, |b| {
            nest(b, CTA_PROTOINFO_TCP, |b| {
                wire::append_attr(b, CTA_PROTOINFO_TCP_STATE, &[t.state.number()]);
                if let Some(w) = t.wscale_orig {
                    wire::append_attr(b, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, &[w]);
                }
                if let Some(w) = t.wscale_reply {
                    wire::append_attr(b, CTA_PROTOINFO_TCP_WSCALE_REPLY, &[w]);
                }
                if let Some(f) = t.flags_orig {
                    wire::append_attr(b, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &[f.flags, f.mask]);
                }
                if let Some(f) = t.flags_reply {
                    wire::append_attr(b, CTA_PROTOINFO_TCP_FLAGS_REPLY, &[f.flags, f.mask]);
                }
            })
        }),
        ProtoInfo::Sctp(s) => nest(buf, CTA_PROTOINFO, |b| {
            nest(b, CTA_PROTOINFO_SCTP, |b| {
                wire::append_attr(b, CTA_PROTOINFO_SCTP_STATE, &[s.state]);
                wire::append_attr(
                    b,
                    CTA_PROTOINFO_SCTP_VTAG_ORIGINAL,
                    &s.vtag_orig.to_be_bytes(),
                );
                wire::append_attr(
                    b,
                    CTA_PROTOINFO_SCTP_VTAG_REPLY,
                    &s.vtag_reply.to_be_bytes(),
                );
            })
        }),
        ProtoInfo::Other(raw) => nest(buf, CTA_PROTOINFO, |b| raw.append_to(b)),
    }
}

fn tcp_flags(v: &[u8], what: &str) -> DecodeResult<TcpFlags> {
    match v {
        [flags, mask] => Ok(TcpFlags {
            flags: *flags,
            mask: *mask,
        }),
        _ => Err(format!("{what}: expected 2 bytes, got {}", v.len())),
    }
}

fn parse_protoinfo(buf: &[u8]) -> DecodeResult<Option<ProtoInfo>> {
    let mut out = None;
    each(buf, |a| {
        out = Some(match a.kind() {
            CTA_PROTOINFO_TCP => {
                let mut t = TcpInfo::state(TcpState::None);
                each(a.value, |x| {
                    match x.kind() {
                        CTA_PROTOINFO_TCP_STATE => {
                            t.state = TcpState::from(u8_of(x.value, "TCP state")?)
                        }
                        CTA_PROTOINFO_TCP_WSCALE_ORIGINAL => {
                            t.wscale_orig = Some(u8_of(x.value, "TCP window scale")?)
                        }
                        CTA_PROTOINFO_TCP_WSCALE_REPLY => {
                            t.wscale_reply = Some(u8_of(x.value, "TCP window scale")?)
                        }
                        CTA_PROTOINFO_TCP_FLAGS_ORIGINAL => {
                            t.flags_orig = Some(tcp_flags(x.value, "TCP flags")?)
                        }
                        CTA_PROTOINFO_TCP_FLAGS_REPLY => {
                            t.flags_reply = Some(tcp_flags(x.value, "TCP flags")?)
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
                ProtoInfo::Tcp(t)
            }
            CTA_PROTOINFO_SCTP => {
                let mut s = SctpInfo {
                    state: 0,
                    vtag_orig: 0,
                    vtag_reply: 0,
                };
                each(a.value, |x| {
                    match x.kind() {
                        CTA_PROTOINFO_SCTP_STATE => s.state = u8_of(x.value, "SCTP state")?,
                        CTA_PROTOINFO_SCTP_VTAG_ORIGINAL => {
                            s.vtag_orig = be32(x.value, "SCTP vtag")?
                        }
                        CTA_PROTOINFO_SCTP_VTAG_REPLY => s.vtag_reply = be32(x.value, "SCTP vtag")?,
                        _ => {}
                    }
                    Ok(())
                })?;
                ProtoInfo::Sctp(s)
            }
            _ => ProtoInfo::Other(RawAttr::from_attr(&a)),
        });
        Ok(())
    })?;
    Ok(out)
}

fn parse_counters(buf: &[u8]) -> DecodeResult<Counters> {
    let mut c = Counters::default();
    each(buf, |a| {
        match a.kind() {
            CTA_COUNTERS_PACKETS => c.packets = be64(a.value, "packet counter")?,
            CTA_COUNTERS_BYTES => c.bytes = be64(a.value, "byte counter")?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

impl fmt::Display for Entry {
    /// The original tuple, then what differs in the reply (`udp
    /// 10.0.0.1:5000 -> 10.96.0.10:53 (reply from 10.244.1.5:53)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.orig)?;
        let inv = self.orig.inverted();
        if self.reply.src != inv.src || self.reply.l4 != inv.l4 {
            match self.reply.l4.ports() {
                Some((sp, _)) => match self.reply.src {
                    std::net::IpAddr::V6(a) => write!(f, " (reply from [{a}]:{sp})")?,
                    a => write!(f, " (reply from {a}:{sp})")?,
                },
                None => write!(f, " (reply from {})", self.reply.src)?,
            }
        }
        if let Some(z) = self.zone {
            write!(f, " zone {z}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Status {
    /// The bits by the names of `conntrack --status` (`ASSURED,SEEN_REPLY`,
    /// unknown bits in hex); `UNSET` when none is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 16] = [
            "EXPECTED",
            "SEEN_REPLY",
            "ASSURED",
            "CONFIRMED",
            "SRC_NAT",
            "DST_NAT",
            "SEQ_ADJUST",
            "SRC_NAT_DONE",
            "DST_NAT_DONE",
            "DYING",
            "FIXED_TIMEOUT",
            "TEMPLATE",
            "UNTRACKED",
            "HELPER",
            "OFFLOAD",
            "HW_OFFLOAD",
        ];
        if self.is_empty() {
            return f.write_str("UNSET");
        }
        let mut first = true;
        for (bit, name) in NAMES.iter().enumerate() {
            if self.bits() & (1 << bit) != 0 {
                f.write_str(if first { "" } else { "," })?;
                f.write_str(name)?;
                first = false;
            }
        }
        let rest = self.bits() & !0xffff;
        if rest != 0 {
            write!(f, "{}{rest:#x}", if first { "" } else { "," })?;
        }
        Ok(())
    }
}

impl fmt::Display for TcpFlags {
    /// `flags=0x0a mask=0x00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flags={:#04x} mask={:#04x}", self.flags, self.mask)
    }
}

impl fmt::Display for TcpInfo {
    /// The state, as `conntrack -L` shows it (`ESTABLISHED`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)
    }
}

impl fmt::Display for SctpInfo {
    /// The state, as `conntrack -L` shows it (`ESTABLISHED`; `state N`
    /// beyond `enum sctp_conntrack`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 10] = [
            "NONE",
            "CLOSED",
            "COOKIE_WAIT",
            "COOKIE_ECHOED",
            "ESTABLISHED",
            "SHUTDOWN_SENT",
            "SHUTDOWN_RECD",
            "SHUTDOWN_ACK_SENT",
            "HEARTBEAT_SENT",
            "HEARTBEAT_ACKED",
        ];
        match NAMES.get(usize::from(self.state)) {
            Some(name) => f.write_str(name),
            None => write!(f, "state {}", self.state),
        }
    }
}

impl fmt::Display for ProtoInfo {
    /// The protocol state (TCP, SCTP) as `conntrack -L` shows it; another
    /// protocol's attribute as received.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoInfo::Tcp(t) => write!(f, "{t}"),
            ProtoInfo::Sctp(s) => write!(f, "{s}"),
            ProtoInfo::Other(a) => write!(f, "{a}"),
        }
    }
}

impl fmt::Display for Counters {
    /// As `conntrack -L` shows them: `packets=3 bytes=180`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "packets={} bytes={}", self.packets, self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::L4;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn full() -> Entry {
        let orig = Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::tcp(1, 2));
        let mut e = Entry::new(orig)
            .timeout(10)
            .mark(3)
            .zone(4)
            .status(Status::ASSURED | Status::SEEN_REPLY);
        e.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
            state: TcpState::Established,
            wscale_orig: Some(7),
            wscale_reply: Some(8),
            flags_orig: Some(TcpFlags { flags: 1, mask: 2 }),
            flags_reply: Some(TcpFlags { flags: 3, mask: 4 }),
        }));
        e.other.push(RawAttr::new(
            0x8000 | CTA_SYNPROXY,
            vec![8, 0, 1, 0, 0, 0, 0, 0],
        ));
        e
    }

    #[test]
    fn create_attrs_parse_back() {
        let e = full();
        let mut b = Vec::new();
        e.append_create_attrs(&mut b);
        let back = Entry::parse(&b).unwrap();
        let mut want = e.clone();
        // the status a create sends carries CONFIRMED
        want.status |= Status::CONFIRMED;
        assert_eq!(back, want);
    }

    #[test]
    fn sctp_and_counters() {
        let mut b = Vec::new();
        let orig = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::sctp(1, 2));
        let mut e = Entry::new(orig).timeout(5);
        e.protoinfo = Some(ProtoInfo::Sctp(SctpInfo {
            state: 3,
            vtag_orig: 0x11,
            vtag_reply: 0x22,
        }));
        e.append_create_attrs(&mut b);
        crate::attr::nest(&mut b, CTA_COUNTERS_ORIG, |b| {
            wire::append_attr(b, CTA_COUNTERS_PACKETS, &5u64.to_be_bytes());
            wire::append_attr(b, CTA_COUNTERS_BYTES, &500u64.to_be_bytes());
        });
        let back = Entry::parse(&b).unwrap();
        assert_eq!(back.protoinfo, e.protoinfo);
        assert_eq!(
            back.counters_orig,
            Some(Counters {
                packets: 5,
                bytes: 500
            })
        );
        assert_eq!(back.counters_reply, None);
    }

    #[test]
    fn truncated_or_corrupt_input_is_an_error_not_a_panic() {
        let mut b = Vec::new();
        full().append_create_attrs(&mut b);
        for n in 0..b.len() {
            let _ = Entry::parse(&b[..n]);
        }
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0xff;
            let _ = Entry::parse(&c);
        }
        assert!(Entry::parse(&[]).is_err(), "no tuples");
        // a 3-byte status
        let mut b = Vec::new();
        full().orig.append_nest(&mut b, CTA_TUPLE_ORIG);
        full().reply.append_nest(&mut b, CTA_TUPLE_REPLY);
        wire::append_attr(&mut b, CTA_STATUS, &[0, 0, 1]);
        let e = Entry::parse(&b).unwrap_err();
        assert!(e.to_string().contains("status"), "{e}");
        assert_eq!(e.object(), Some("conntrack entry"));
    }

    #[test]
    fn display_shows_the_nat_reply() {
        let orig = Tuple::new(ip("10.0.0.1"), ip("10.96.0.10"), L4::udp(5000, 53));
        let reply = Tuple::new(ip("10.244.1.5"), ip("10.0.0.1"), L4::udp(5353, 5000));
        let e = Entry::with_reply(orig.clone(), reply);
        assert_eq!(
            e.to_string(),
            "udp 10.0.0.1:5000 -> 10.96.0.10:53 (reply from 10.244.1.5:5353)"
        );
        assert_eq!(
            Entry::new(orig).zone(2).to_string(),
            "udp 10.0.0.1:5000 -> 10.96.0.10:53 zone 2"
        );
    }
}
