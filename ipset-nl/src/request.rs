//! The request messages of every command, exactly as [`crate::IpsetHandle`]
//! sends them (sequence number and port id are filled in by the
//! connection). Public so they can be inspected, logged or sent on another
//! transport; `tests/golden.rs` compares them with the real `ipset` tool's.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};

use crate::attr::{ElementAttr, IpsetAttr};
use crate::entry::Element;
use crate::handle::ListDetail;
use crate::message::{Command, IpsetMessage};
use crate::set::CreateSet;
use crate::types::{CmdFlags, Family, SetType};

/// `cmd` with the protocol attribute first, then `attrs`, with these
/// netlink header flags.
pub fn build(
    cmd: Command,
    protocol: u8,
    flags: u16,
    attrs: Vec<IpsetAttr>,
) -> NetlinkMessage<IpsetMessage> {
    let mut all = Vec::with_capacity(attrs.len() + 1);
    all.push(IpsetAttr::Protocol(protocol));
    all.extend(attrs);
    let mut h = NetlinkHeader::default();
    h.flags = flags;
    let mut m = NetlinkMessage::new(h, NetlinkPayload::InnerMessage(IpsetMessage::new(cmd, all)));
    m.finalize();
    m
}

const RA: u16 = NLM_F_REQUEST | NLM_F_ACK;

/// `IPSET_CMD_PROTOCOL` offering version `protocol`.
pub fn protocol(protocol: u8) -> NetlinkMessage<IpsetMessage> {
    build(Command::Protocol, protocol, RA, vec![])
}

/// `IPSET_CMD_TYPE`: the revisions of a set type for a family.
pub fn type_query(
    protocol: u8,
    set_type: &SetType,
    family: Family,
) -> NetlinkMessage<IpsetMessage> {
    build(
        Command::Type,
        protocol,
        RA,
        vec![
            IpsetAttr::TypeName(set_type.name().to_string()),
            IpsetAttr::Family(family),
        ],
    )
}

/// `IPSET_CMD_CREATE` at `revision`; without `exist`, `NLM_F_EXCL`.
pub fn create(
    protocol: u8,
    spec: &CreateSet,
    revision: u8,
    exist: bool,
) -> NetlinkMessage<IpsetMessage> {
    let flags = RA | NLM_F_CREATE | if exist { 0 } else { NLM_F_EXCL };
    build(
        Command::Create,
        protocol,
        flags,
        vec![
            IpsetAttr::SetName(spec.name.clone()),
            IpsetAttr::TypeName(spec.set_type.name().to_string()),
            IpsetAttr::Revision(revision),
            IpsetAttr::Family(spec.family),
            IpsetAttr::CreateData(spec.options.to_attrs()),
        ],
    )
}

fn name_attr(name: Option<&str>) -> Vec<IpsetAttr> {
    name.map(|n| vec![IpsetAttr::SetName(n.into())])
        .unwrap_or_default()
}

/// `IPSET_CMD_DESTROY` of one set or all.
pub fn destroy(protocol: u8, name: Option<&str>) -> NetlinkMessage<IpsetMessage> {
    build(Command::Destroy, protocol, RA | NLM_F_EXCL, name_attr(name))
}

/// `IPSET_CMD_FLUSH` of one set or all.
pub fn flush(protocol: u8, name: Option<&str>) -> NetlinkMessage<IpsetMessage> {
    build(Command::Flush, protocol, RA, name_attr(name))
}

/// `IPSET_CMD_RENAME` of `from` to `to`.
pub fn rename(protocol: u8, from: &str, to: &str) -> NetlinkMessage<IpsetMessage> {
    two_sets(protocol, Command::Rename, from, to)
}

/// `IPSET_CMD_SWAP` of `a` and `b`.
pub fn swap(protocol: u8, a: &str, b: &str) -> NetlinkMessage<IpsetMessage> {
    two_sets(protocol, Command::Swap, a, b)
}

fn two_sets(protocol: u8, cmd: Command, a: &str, b: &str) -> NetlinkMessage<IpsetMessage> {
    build(
        cmd,
        protocol,
        RA,
        vec![IpsetAttr::SetName(a.into()), IpsetAttr::SetName2(b.into())],
    )
}

/// `IPSET_CMD_HEADER` of one set.
pub fn header(protocol: u8, name: &str) -> NetlinkMessage<IpsetMessage> {
    build(Command::Header, protocol, RA, name_attr(Some(name)))
}

/// `IPSET_CMD_LIST` or `IPSET_CMD_SAVE` (`cmd`), a dump.
pub fn list(
    protocol: u8,
    cmd: Command,
    name: Option<&str>,
    detail: ListDetail,
) -> NetlinkMessage<IpsetMessage> {
    let mut attrs = name_attr(name);
    match detail {
        ListDetail::Full => {}
        ListDetail::Headers => attrs.push(IpsetAttr::Flags(CmdFlags::LIST_HEADER)),
        ListDetail::Names => attrs.push(IpsetAttr::Flags(CmdFlags::LIST_SETNAME)),
    }
    build(cmd, protocol, RA | NLM_F_DUMP, attrs)
}

/// `IPSET_CMD_ADD`, `DEL` or `TEST` (`cmd`) of one element, as the `ipset`
/// tool sends it (add and del close the element data with a line number of
/// 0; without `exist` they carry `NLM_F_EXCL`).
pub fn adt(
    protocol: u8,
    cmd: Command,
    set: &str,
    e: &impl Element,
    exist: bool,
) -> NetlinkMessage<IpsetMessage> {
    let mut a = e.to_attrs();
    if cmd != Command::Test {
        a.push(ElementAttr::LineNo(0));
    }
    let flags = if cmd == Command::Test || exist {
        RA
    } else {
        RA | NLM_F_EXCL
    };
    build(
        cmd,
        protocol,
        flags,
        vec![IpsetAttr::SetName(set.into()), IpsetAttr::ElementData(a)],
    )
}
