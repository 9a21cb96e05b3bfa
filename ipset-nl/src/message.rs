//! [`IpsetMessage`]: one nfnetlink message of the ipset subsystem
//! (`nfgenmsg` header, then command-level attributes).

use std::fmt;

use netlink_packet_core::{NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};
use nl_engine::DecodeError;
use nl_engine::nfnl::{NFGENMSG_LEN, NFNL_SUBSYS_IPSET, NfGenMsg, message_type};
use nl_engine::wire::{self, Attrs};

use crate::attr::IpsetAttr;
use crate::constants::*;

/// An ipset command (`enum ipset_cmd`, the low byte of the message type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `IPSET_CMD_PROTOCOL`: protocol version negotiation.
    Protocol,
    /// `IPSET_CMD_CREATE`
    Create,
    /// `IPSET_CMD_DESTROY`
    Destroy,
    /// `IPSET_CMD_FLUSH`
    Flush,
    /// `IPSET_CMD_RENAME`
    Rename,
    /// `IPSET_CMD_SWAP`
    Swap,
    /// `IPSET_CMD_LIST` (also the type of list and save replies)
    List,
    /// `IPSET_CMD_SAVE`
    Save,
    /// `IPSET_CMD_ADD`
    Add,
    /// `IPSET_CMD_DEL`
    Del,
    /// `IPSET_CMD_TEST`
    Test,
    /// `IPSET_CMD_HEADER`
    Header,
    /// `IPSET_CMD_TYPE`: revision negotiation.
    Type,
    /// `IPSET_CMD_GET_BYNAME`
    GetByName,
    /// `IPSET_CMD_GET_BYINDEX`
    GetByIndex,
    /// Any other command number.
    Other(u8),
}

impl Command {
    /// The command number.
    pub fn to_u8(self) -> u8 {
        match self {
            Command::Protocol => IPSET_CMD_PROTOCOL,
            Command::Create => IPSET_CMD_CREATE,
            Command::Destroy => IPSET_CMD_DESTROY,
            Command::Flush => IPSET_CMD_FLUSH,
            Command::Rename => IPSET_CMD_RENAME,
            Command::Swap => IPSET_CMD_SWAP,
            Command::List => IPSET_CMD_LIST,
            Command::Save => IPSET_CMD_SAVE,
            Command::Add => IPSET_CMD_ADD,
            Command::Del => IPSET_CMD_DEL,
            Command::Test => IPSET_CMD_TEST,
            Command::Header => IPSET_CMD_HEADER,
            Command::Type => IPSET_CMD_TYPE,
            Command::GetByName => IPSET_CMD_GET_BYNAME,
            Command::GetByIndex => IPSET_CMD_GET_BYINDEX,
            Command::Other(v) => v,
        }
    }
}

impl From<u8> for Command {
    fn from(v: u8) -> Self {
        match v {
            IPSET_CMD_PROTOCOL => Command::Protocol,
            IPSET_CMD_CREATE => Command::Create,
            IPSET_CMD_DESTROY => Command::Destroy,
            IPSET_CMD_FLUSH => Command::Flush,
            IPSET_CMD_RENAME => Command::Rename,
            IPSET_CMD_SWAP => Command::Swap,
            IPSET_CMD_LIST => Command::List,
            IPSET_CMD_SAVE => Command::Save,
            IPSET_CMD_ADD => Command::Add,
            IPSET_CMD_DEL => Command::Del,
            IPSET_CMD_TEST => Command::Test,
            IPSET_CMD_HEADER => Command::Header,
            IPSET_CMD_TYPE => Command::Type,
            IPSET_CMD_GET_BYNAME => Command::GetByName,
            IPSET_CMD_GET_BYINDEX => Command::GetByIndex,
            v => Command::Other(v),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Command::Protocol => "protocol",
            Command::Create => "create",
            Command::Destroy => "destroy",
            Command::Flush => "flush",
            Command::Rename => "rename",
            Command::Swap => "swap",
            Command::List => "list",
            Command::Save => "save",
            Command::Add => "add",
            Command::Del => "del",
            Command::Test => "test",
            Command::Header => "header",
            Command::Type => "type",
            Command::GetByName => "get-by-name",
            Command::GetByIndex => "get-by-index",
            Command::Other(v) => return write!(f, "command {v}"),
        };
        f.write_str(s)
    }
}

/// One ipset message: a command, the `nfgenmsg` header and the
/// command-level attributes, in order.
///
/// ```
/// use ipset_nl::{Command, IpsetAttr, IpsetMessage};
/// let msg = IpsetMessage::new(Command::Flush, vec![
///     IpsetAttr::Protocol(7),
///     IpsetAttr::SetName("blocklist".into()),
/// ]);
/// let bytes = msg.to_bytes();
/// assert_eq!(IpsetMessage::from_bytes(0x604, &bytes).unwrap(), msg);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpsetMessage {
    /// The command.
    pub command: Command,
    /// The `nfgenmsg` header; ipset always sends family `AF_INET`.
    pub header: NfGenMsg,
    /// The attributes.
    pub attrs: Vec<IpsetAttr>,
}

impl IpsetMessage {
    /// A message with the `nfgenmsg` header ipset uses (`AF_INET`, version 0).
    pub fn new(command: Command, attrs: Vec<IpsetAttr>) -> Self {
        IpsetMessage {
            command,
            header: NfGenMsg::new(libc::AF_INET as u8),
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
        if (message_type >> 8) as u8 != NFNL_SUBSYS_IPSET {
            return Err(DecodeError::new(format!(
                "message type {message_type:#x} is not of the ipset subsystem"
            )));
        }
        let cmd = message_type as u8;
        let header = NfGenMsg::parse(payload)?;
        let rest = payload.get(NFGENMSG_LEN..).unwrap_or_default();
        let attrs = Attrs::new(rest)
            .map(|n| IpsetAttr::parse(&n.map_err(DecodeError::new)?, cmd))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpsetMessage {
            command: Command::from(cmd),
            header,
            attrs,
        })
    }

    /// The first `SETNAME` attribute.
    pub fn set_name(&self) -> Option<&str> {
        self.attrs.iter().find_map(|a| match a {
            IpsetAttr::SetName(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

impl NetlinkSerializable for IpsetMessage {
    fn message_type(&self) -> u16 {
        message_type(NFNL_SUBSYS_IPSET, self.command.to_u8())
    }

    fn buffer_len(&self) -> usize {
        NFGENMSG_LEN + wire::typed_len(&self.attrs)
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.header.emit(buffer);
        if let Some(rest) = buffer.get_mut(NFGENMSG_LEN..) {
            crate::attr::emit_nest(rest, &self.attrs);
        }
    }
}

impl NetlinkDeserializable for IpsetMessage {
    type Error = DecodeError;
    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        IpsetMessage::from_bytes(header.message_type, payload)
    }
}
