//! [`CtMessage`]: one nfnetlink message of the ctnetlink subsystem
//! (`nfgenmsg` header, then the attributes, kept encoded: entries decode
//! them with [`Entry::parse`](crate::Entry::parse)).

use std::fmt;

use netlink_packet_core::{NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};
use nl_engine::DecodeError;
use nl_engine::nfnl::{NFGENMSG_LEN, NfGenMsg, message_type};

use crate::constants::*;
use crate::entry::Entry;

/// A ctnetlink command (`enum cntl_msg_types`, the low byte of the message
/// type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `IPCTNL_MSG_CT_NEW`: create or update; also the type of every entry
    /// the kernel sends.
    New,
    /// `IPCTNL_MSG_CT_GET`: get one entry, or dump.
    Get,
    /// `IPCTNL_MSG_CT_DELETE`: delete one entry, or flush.
    Delete,
    /// `IPCTNL_MSG_CT_GET_CTRZERO`: get and zero the counters.
    GetCtrZero,
    /// Any other command number.
    Other(u8),
}

impl Command {
    /// The command number.
    pub fn to_u8(self) -> u8 {
        match self {
            Command::New => IPCTNL_MSG_CT_NEW,
            Command::Get => IPCTNL_MSG_CT_GET,
            Command::Delete => IPCTNL_MSG_CT_DELETE,
            Command::GetCtrZero => IPCTNL_MSG_CT_GET_CTRZERO,
            Command::Other(n) => n,
        }
    }
}

impl From<u8> for Command {
    fn from(n: u8) -> Self {
        match n {
            IPCTNL_MSG_CT_NEW => Command::New,
            IPCTNL_MSG_CT_GET => Command::Get,
            IPCTNL_MSG_CT_DELETE => Command::Delete,
            IPCTNL_MSG_CT_GET_CTRZERO => Command::GetCtrZero,
            n => Command::Other(n),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::New => f.write_str("new"),
            Command::Get => f.write_str("get"),
            Command::Delete => f.write_str("delete"),
            Command::GetCtrZero => f.write_str("get-ctrzero"),
            Command::Other(n) => write!(f, "command {n}"),
        }
    }
}

/// One ctnetlink message: a command, the `nfgenmsg` header (its family is
/// the entries' `NFPROTO_*`, 0 for both) and the encoded attributes.
///
/// ```
/// use conntrack_nl::{Command, CtMessage};
/// let m = CtMessage::new(Command::Delete, 2, vec![]);
/// let bytes = m.to_bytes();
/// assert_eq!(bytes, [2, 0, 0, 0]);
/// assert_eq!(CtMessage::from_bytes(0x102, &bytes).unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtMessage {
    /// The command.
    pub command: Command,
    /// The `nfgenmsg` header.
    pub header: NfGenMsg,
    /// The attributes, encoded.
    pub attrs: Vec<u8>,
}

impl CtMessage {
    /// A message of `family` (`NFPROTO_*`) with these encoded attributes.
    pub fn new(command: Command, family: u8, attrs: Vec<u8>) -> Self {
        CtMessage {
            command,
            header: NfGenMsg::new(family),
            attrs,
        }
    }

    /// The payload bytes (after the netlink header).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0; self.buffer_len()];
        self.serialize(&mut b);
        b
    }

    /// Decodes a payload of netlink message type `message_type`.
    pub fn from_bytes(message_type: u16, payload: &[u8]) -> Result<Self, DecodeError> {
        if (message_type >> 8) as u8 != NFNL_SUBSYS_CTNETLINK {
            return Err(DecodeError::from(format!(
                "message type {message_type:#x} is not of the ctnetlink subsystem"
            )));
        }
        let header = NfGenMsg::parse(payload)?;
        Ok(CtMessage {
            command: Command::from(message_type as u8),
            header,
            attrs: payload.get(NFGENMSG_LEN..).unwrap_or_default().to_vec(),
        })
    }

    /// The entry this message carries.
    pub fn entry(&self) -> Result<Entry, DecodeError> {
        Entry::parse(&self.attrs)
    }
}

impl NetlinkSerializable for CtMessage {
    fn message_type(&self) -> u16 {
        message_type(NFNL_SUBSYS_CTNETLINK, self.command.to_u8())
    }

    fn buffer_len(&self) -> usize {
        NFGENMSG_LEN + self.attrs.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.header.emit(buffer);
        if let Some(dst) = buffer.get_mut(NFGENMSG_LEN..NFGENMSG_LEN + self.attrs.len()) {
            dst.copy_from_slice(&self.attrs);
        }
    }
}

impl NetlinkDeserializable for CtMessage {
    type Error = DecodeError;
    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        CtMessage::from_bytes(header.message_type, payload)
    }
}

impl fmt::Display for CtMessage {
    /// `new family 2 (40 bytes of attributes)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} family {} ({} bytes of attributes)",
            self.command,
            self.header.family,
            self.attrs.len()
        )
    }
}
