//! Generic netlink: resolving a family's id through the controller.

use netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
};

use crate::conn::Connection;
use crate::error::{DecodeError, Error, Result};
use crate::wire::{Attrs, append_attr};

/// What the generic netlink controller says about a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family's name, e.g. `IPVS`.
    pub name: String,
    /// The id to put in the `nlmsg_type` of its messages.
    pub id: u16,
    /// The family's version.
    pub version: u32,
    /// The highest attribute number the family accepts at top level.
    pub max_attr: u32,
}

/// Asks the controller (`CTRL_CMD_GETFAMILY`) for the family called `name`.
///
/// A kernel without the family answers `ENOENT`; that comes back as
/// [`Error::Unsupported`] so callers can tell the user which module to load.
pub async fn resolve_family(conn: &Connection, name: &str) -> Result<Family> {
    let msg = CtrlMessage {
        cmd: CTRL_CMD_GETFAMILY,
        family_name: Some(name.to_owned()),
        ..CtrlMessage::default()
    };
    let msg = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg));
    let context = format!("resolve generic netlink family {name}");
    let replies = match conn.request(&context, msg).await {
        Ok(r) => r,
        Err(Error::NotFound { context, .. }) => {
            return Err(Error::Unsupported {
                context,
                what: format!("the {name} generic netlink family"),
                hint: "the kernel module providing it is not loaded or not built".into(),
            });
        }
        Err(e) => return Err(e),
    };
    let mut family = Family {
        name: name.to_owned(),
        id: 0,
        version: 0,
        max_attr: 0,
    };
    for reply in replies {
        family.id = reply.family_id.unwrap_or(family.id);
        family.version = reply.version.unwrap_or(family.version);
        family.max_attr = reply.max_attr.unwrap_or(family.max_attr);
    }
    if family.id == 0 {
        return Err(Error::Decode {
            context,
            reason: "controller reply carries no family id".into(),
        });
    }
    Ok(family)
}

/// `GENL_ID_CTRL`: the controller's message type.
const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY` (include/uapi/linux/genetlink.h)
const CTRL_CMD_GETFAMILY: u8 = 3;
/// The controller's version, as `genl_ctrl` registers it.
const CTRL_VERSION: u8 = 2;
/// `CTRL_ATTR_FAMILY_ID` (u16)
const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (string)
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `CTRL_ATTR_VERSION` (u32)
const CTRL_ATTR_VERSION: u16 = 3;
/// `CTRL_ATTR_MAXATTR` (u32)
const CTRL_ATTR_MAXATTR: u16 = 5;
/// `struct genlmsghdr`: cmd, version, reserved u16.
const GENL_HDRLEN: usize = 4;

/// A generic netlink controller message (`nlctrl`), reduced to what
/// [`resolve_family`] sends and reads; every other attribute of a reply is
/// skipped. The engine decodes it itself: netlink-packet-generic 0.5's
/// `GenlCtrl` parser panics on some malformed attributes (a `CTRL_ATTR_POLICY`
/// nest whose inner attribute claims more bytes than it holds; found by
/// fuzzing).
///
/// ```
/// use nl_engine::genl::CtrlMessage;
/// use nl_engine::netlink_packet_core::{NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};
/// let m = CtrlMessage { cmd: 1, family_id: Some(0x1c), family_name: Some("IPVS".into()), ..Default::default() };
/// let mut b = vec![0; m.buffer_len()];
/// m.serialize(&mut b);
/// assert_eq!(CtrlMessage::deserialize(&NetlinkHeader::default(), &b).unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtrlMessage {
    /// The command (`CTRL_CMD_GETFAMILY` 3 in requests, `NEWFAMILY` 1 in replies).
    pub cmd: u8,
    /// `CTRL_ATTR_FAMILY_ID`
    pub family_id: Option<u16>,
    /// `CTRL_ATTR_FAMILY_NAME`
    pub family_name: Option<String>,
    /// `CTRL_ATTR_VERSION`
    pub version: Option<u32>,
    /// `CTRL_ATTR_MAXATTR`
    pub max_attr: Option<u32>,
}

impl CtrlMessage {
    fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![self.cmd, CTRL_VERSION, 0, 0];
        if let Some(id) = self.family_id {
            append_attr(&mut b, CTRL_ATTR_FAMILY_ID, &id.to_ne_bytes());
        }
        if let Some(name) = &self.family_name {
            let mut v = name.as_bytes().to_vec();
            v.push(0);
            append_attr(&mut b, CTRL_ATTR_FAMILY_NAME, &v);
        }
        if let Some(v) = self.version {
            append_attr(&mut b, CTRL_ATTR_VERSION, &v.to_ne_bytes());
        }
        if let Some(m) = self.max_attr {
            append_attr(&mut b, CTRL_ATTR_MAXATTR, &m.to_ne_bytes());
        }
        b
    }
}

impl NetlinkSerializable for CtrlMessage {
    fn message_type(&self) -> u16 {
        GENL_ID_CTRL
    }
    fn buffer_len(&self) -> usize {
        self.to_bytes().len()
    }
    fn serialize(&self, buffer: &mut [u8]) {
        let b = self.to_bytes();
        let n = b.len().min(buffer.len());
        if let (Some(dst), Some(src)) = (buffer.get_mut(..n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
}

impl NetlinkDeserializable for CtrlMessage {
    type Error = DecodeError;
    fn deserialize(
        _header: &NetlinkHeader,
        payload: &[u8],
    ) -> std::result::Result<Self, DecodeError> {
        let cmd = *payload
            .first()
            .ok_or_else(|| DecodeError::from("controller message without a genetlink header"))?;
        let attrs = payload.get(GENL_HDRLEN..).ok_or_else(|| {
            DecodeError::from("controller message shorter than its genetlink header")
        })?;
        let mut m = CtrlMessage {
            cmd,
            ..CtrlMessage::default()
        };
        for nla in Attrs::new(attrs) {
            let nla = nla.map_err(|e| DecodeError::new(e).in_object("controller message"))?;
            let v = nla.value;
            let bad =
                |what: &str| DecodeError::from(format!("controller {what} of {} bytes", v.len()));
            match nla.kind() {
                CTRL_ATTR_FAMILY_ID => {
                    let b: [u8; 2] = v.try_into().map_err(|_| bad("family id"))?;
                    m.family_id = Some(u16::from_ne_bytes(b));
                }
                CTRL_ATTR_FAMILY_NAME => {
                    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
                    let name = v.get(..end).unwrap_or_default();
                    m.family_name = Some(String::from_utf8_lossy(name).into_owned());
                }
                CTRL_ATTR_VERSION => {
                    let b: [u8; 4] = v.try_into().map_err(|_| bad("version"))?;
                    m.version = Some(u32::from_ne_bytes(b));
                }
                CTRL_ATTR_MAXATTR => {
                    let b: [u8; 4] = v.try_into().map_err(|_| bad("maxattr"))?;
                    m.max_attr = Some(u32::from_ne_bytes(b));
                }
                _ => {}
            }
        }
        Ok(m)
    }
}

impl std::fmt::Display for Family {
    /// As iproute2's `genl ctrl get name NAME` shows a family, on one line:
    /// `Name: nlctrl ID: 0x10  Version: 0x2  max attribs: 0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Name: {} ID: {:#x}  Version: {:#x}  max attribs: {}",
            self.name, self.id, self.version, self.max_attr
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz target `nl_engine_wire`): a `CTRL_ATTR_POLICY`
    /// nest (8) whose inner attribute claims more bytes than it holds made
    /// netlink-packet-generic's `GenlCtrl` parser panic; the engine's own
    /// decoder skips it.
    #[test]
    fn malformed_policy_nest_is_skipped() {
        let mut p = vec![1, 2, 0, 0];
        append_attr(&mut p, CTRL_ATTR_FAMILY_ID, &0x1cu16.to_ne_bytes());
        // POLICY nest holding an attribute of claimed length 0x6000.
        append_attr(&mut p, 8 | 0x8000, &[0x00, 0x60, 1, 0, 0, 0, 0, 0]);
        let m = CtrlMessage::deserialize(&NetlinkHeader::default(), &p).unwrap();
        assert_eq!(m.family_id, Some(0x1c));
        // A short family id is an error, not a panic.
        let mut p = vec![1, 2, 0, 0];
        append_attr(&mut p, CTRL_ATTR_FAMILY_ID, &[1]);
        assert!(CtrlMessage::deserialize(&NetlinkHeader::default(), &p).is_err());
        assert!(CtrlMessage::deserialize(&NetlinkHeader::default(), &[1]).is_err());
    }
}
