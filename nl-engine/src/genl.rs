//! Generic netlink: resolving a family's id through the controller.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};

use crate::conn::Connection;
use crate::error::{Error, Result};

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
    let msg = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
    });
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
        for nla in reply.payload.nlas {
            match nla {
                GenlCtrlAttrs::FamilyId(id) => family.id = id,
                GenlCtrlAttrs::Version(v) => family.version = v,
                GenlCtrlAttrs::MaxAttr(m) => family.max_attr = m,
                _ => {}
            }
        }
    }
    if family.id == 0 {
        return Err(Error::Decode {
            context,
            reason: "controller reply carries no family id".into(),
        });
    }
    Ok(family)
}
