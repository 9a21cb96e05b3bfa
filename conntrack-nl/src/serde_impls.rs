//! `Serialize`/`Deserialize` of the types written as names (feature
//! `serde`): the `conntrack` tool's names (`tcp`, `ESTABLISHED`,
//! `assured`, ...), numbers for values without a name, so that every value
//! (`Other` ones included) reads back as it was written.

use nl_engine::serde_support::{deserialize_flag_names, name_or_number, serialize_flag_names};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::entry::{Status, TcpState};
use crate::tuple::Proto;

/// `"tcp"`, `"udp"`, `"udplite"`, `"sctp"`, `"dccp"`, `"icmp"`,
/// `"icmpv6"`, or the protocol number.
impl Serialize for Proto {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Proto::Other(n) => s.serialize_u8(*n),
            p => s.collect_str(p),
        }
    }
}

impl<'de> Deserialize<'de> for Proto {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a protocol: tcp, udp, udplite, sctp, dccp, icmp, icmpv6 or a number",
            |s| {
                [
                    Proto::Tcp,
                    Proto::Udp,
                    Proto::UdpLite,
                    Proto::Sctp,
                    Proto::Dccp,
                    Proto::Icmp,
                    Proto::Icmpv6,
                ]
                .into_iter()
                .find(|p| p.to_string() == s)
            },
            |n| u8::try_from(n).ok().map(Proto::from),
        )
    }
}

/// The kernel's name (`"ESTABLISHED"`, `"TIME_WAIT"`, ...), or the number.
impl Serialize for TcpState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TcpState::Other(n) => s.serialize_u8(*n),
            t => s.collect_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for TcpState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(
            d,
            "a TCP state name (ESTABLISHED, ...) or a number",
            |s| (0..=9u8).map(TcpState::from).find(|t| t.to_string() == s),
            |n| u8::try_from(n).ok().map(TcpState::from),
        )
    }
}

const STATUS_NAMES: &[(&str, u64)] = &[
    ("expected", Status::EXPECTED.bits() as u64),
    ("seen-reply", Status::SEEN_REPLY.bits() as u64),
    ("assured", Status::ASSURED.bits() as u64),
    ("confirmed", Status::CONFIRMED.bits() as u64),
    ("src-nat", Status::SRC_NAT.bits() as u64),
    ("dst-nat", Status::DST_NAT.bits() as u64),
    ("seq-adjust", Status::SEQ_ADJUST.bits() as u64),
    ("src-nat-done", Status::SRC_NAT_DONE.bits() as u64),
    ("dst-nat-done", Status::DST_NAT_DONE.bits() as u64),
    ("dying", Status::DYING.bits() as u64),
    ("fixed-timeout", Status::FIXED_TIMEOUT.bits() as u64),
    ("template", Status::TEMPLATE.bits() as u64),
    ("untracked", Status::UNTRACKED.bits() as u64),
    ("helper", Status::HELPER.bits() as u64),
    ("offload", Status::OFFLOAD.bits() as u64),
    ("hw-offload", Status::HW_OFFLOAD.bits() as u64),
];

/// A list of names (`"seen-reply"`, `"assured"`, `"confirmed"`, ...),
/// unknown bits as a number.
impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_flag_names(u64::from(self.bits()), STATUS_NAMES, s)
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = deserialize_flag_names(d, STATUS_NAMES)?;
        u32::try_from(bits)
            .map(Status::from_bits_retain)
            .map_err(|_| serde::de::Error::custom("status bits beyond 32 bits"))
    }
}
