//! The nf_tables netlink message: an `nfgenmsg` header and the attributes of
//! one object, as the engine sends and receives it.
//!
//! Message numbers from `include/uapi/linux/netfilter/nf_tables.h`
//! (`enum nf_tables_msg_types`) and `nfnetlink.h` (batch messages).

use netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
};
use nl_engine::DecodeError;
use nl_engine::nfnl::{
    NFGENMSG_LEN, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NfGenMsg,
    message_type,
};

/// An nf_tables command (`enum nf_tables_msg_types`), or an nfnetlink batch
/// delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `NFT_MSG_NEWTABLE` (0)
    NewTable,
    /// `NFT_MSG_GETTABLE` (1)
    GetTable,
    /// `NFT_MSG_DELTABLE` (2)
    DelTable,
    /// `NFT_MSG_NEWCHAIN` (3)
    NewChain,
    /// `NFT_MSG_GETCHAIN` (4)
    GetChain,
    /// `NFT_MSG_DELCHAIN` (5)
    DelChain,
    /// `NFT_MSG_NEWRULE` (6)
    NewRule,
    /// `NFT_MSG_GETRULE` (7)
    GetRule,
    /// `NFT_MSG_DELRULE` (8)
    DelRule,
    /// `NFT_MSG_NEWSET` (9)
    NewSet,
    /// `NFT_MSG_GETSET` (10)
    GetSet,
    /// `NFT_MSG_DELSET` (11)
    DelSet,
    /// `NFT_MSG_NEWSETELEM` (12)
    NewSetElem,
    /// `NFT_MSG_GETSETELEM` (13)
    GetSetElem,
    /// `NFT_MSG_DELSETELEM` (14)
    DelSetElem,
    /// `NFT_MSG_NEWGEN` (15)
    NewGen,
    /// `NFT_MSG_GETGEN` (16)
    GetGen,
    /// `NFNL_MSG_BATCH_BEGIN` (0x10, no subsystem)
    BatchBegin,
    /// `NFNL_MSG_BATCH_END` (0x11, no subsystem)
    BatchEnd,
    /// Any other nf_tables command number.
    Other(u8),
}

impl Command {
    /// The command number inside the nf_tables subsystem.
    pub fn number(self) -> u8 {
        match self {
            Command::NewTable => 0,
            Command::GetTable => 1,
            Command::DelTable => 2,
            Command::NewChain => 3,
            Command::GetChain => 4,
            Command::DelChain => 5,
            Command::NewRule => 6,
            Command::GetRule => 7,
            Command::DelRule => 8,
            Command::NewSet => 9,
            Command::GetSet => 10,
            Command::DelSet => 11,
            Command::NewSetElem => 12,
            Command::GetSetElem => 13,
            Command::DelSetElem => 14,
            Command::NewGen => 15,
            Command::GetGen => 16,
            Command::BatchBegin => NFNL_MSG_BATCH_BEGIN as u8,
            Command::BatchEnd => NFNL_MSG_BATCH_END as u8,
            Command::Other(n) => n,
        }
    }

    fn from_number(n: u8) -> Self {
        match n {
            0 => Command::NewTable,
            1 => Command::GetTable,
            2 => Command::DelTable,
            3 => Command::NewChain,
            4 => Command::GetChain,
            5 => Command::DelChain,
            6 => Command::NewRule,
            7 => Command::GetRule,
            8 => Command::DelRule,
            9 => Command::NewSet,
            10 => Command::GetSet,
            11 => Command::DelSet,
            12 => Command::NewSetElem,
            13 => Command::GetSetElem,
            14 => Command::DelSetElem,
            15 => Command::NewGen,
            16 => Command::GetGen,
            n => Command::Other(n),
        }
    }
}

/// One nf_tables message: command, `nfgenmsg` header and encoded attributes.
///
/// The object modules ([`crate::Table`], [`crate::Chain`], [`crate::Rule`],
/// [`crate::Set`], [`crate::SetElements`]) produce and parse the attributes.
///
/// ```
/// use nftables_glue::{Command, Family, NftMessage, Table};
/// let msg = Table::new(Family::Ipv4, "filter").to_message(Command::NewTable);
/// assert_eq!(msg.header.family, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NftMessage {
    /// What the message does.
    pub command: Command,
    /// The nfnetlink header (family, version, resource id).
    pub header: NfGenMsg,
    /// The encoded attributes.
    pub attrs: Vec<u8>,
}

impl NftMessage {
    /// A message with encoded attributes.
    pub fn new(command: Command, family: u8, attrs: Vec<u8>) -> Self {
        NftMessage {
            command,
            header: NfGenMsg::new(family),
            attrs,
        }
    }

    /// `NFNL_MSG_BATCH_BEGIN` or `_END` for the nf_tables subsystem
    /// (family `AF_UNSPEC`, resource id `NFNL_SUBSYS_NFTABLES`).
    pub fn batch(command: Command) -> Self {
        NftMessage {
            command,
            header: NfGenMsg {
                family: 0,
                version: 0,
                res_id: u16::from(NFNL_SUBSYS_NFTABLES),
            },
            attrs: Vec::new(),
        }
    }

    /// Wraps this into a netlink message with the given header flags
    /// (`NLM_F_REQUEST` is added).
    pub fn into_netlink(self, flags: u16) -> NetlinkMessage<NftMessage> {
        let mut h = NetlinkHeader::default();
        h.flags = flags | netlink_packet_core::NLM_F_REQUEST;
        let mut m = NetlinkMessage::new(h, NetlinkPayload::InnerMessage(self));
        m.finalize();
        m
    }
}

impl NetlinkSerializable for NftMessage {
    fn message_type(&self) -> u16 {
        match self.command {
            Command::BatchBegin => NFNL_MSG_BATCH_BEGIN,
            Command::BatchEnd => NFNL_MSG_BATCH_END,
            c => message_type(NFNL_SUBSYS_NFTABLES, c.number()),
        }
    }

    fn buffer_len(&self) -> usize {
        NFGENMSG_LEN + self.attrs.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.header.emit(buffer);
        if let Some(b) = buffer.get_mut(NFGENMSG_LEN..NFGENMSG_LEN + self.attrs.len()) {
            b.copy_from_slice(&self.attrs);
        }
    }
}

impl NetlinkDeserializable for NftMessage {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        let t = header.message_type;
        let command = if t == NFNL_MSG_BATCH_BEGIN {
            Command::BatchBegin
        } else if t == NFNL_MSG_BATCH_END {
            Command::BatchEnd
        } else if t >> 8 == u16::from(NFNL_SUBSYS_NFTABLES) {
            Command::from_number((t & 0xff) as u8)
        } else {
            return Err(DecodeError::from(format!(
                "message type {t:#x} is not nf_tables"
            )));
        };
        let header = NfGenMsg::parse(payload)?;
        Ok(NftMessage {
            command,
            header,
            attrs: payload.get(NFGENMSG_LEN..).unwrap_or(&[]).to_vec(),
        })
    }
}
