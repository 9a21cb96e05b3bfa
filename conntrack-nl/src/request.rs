//! The request messages of every operation, exactly as
//! [`ConntrackHandle`](crate::ConntrackHandle) sends them (the connection
//! fills in sequence number and port id, and adds `NLM_F_REQUEST` with
//! `NLM_F_ACK` or `NLM_F_DUMP`). Public so they can be inspected, logged
//! or sent on another transport; `tests/golden.rs` compares them with the
//! `conntrack` tool's.

use netlink_packet_core::{
    NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};

use crate::constants::*;
use crate::entry::Entry;
use crate::filter::Filter;
use crate::message::{Command, CtMessage};
use crate::tuple::{Family, Tuple};

/// `cmd` for `family` (`NFPROTO_*`, 0 for both) with these encoded
/// attributes and netlink header flags.
pub fn build(cmd: Command, family: u8, flags: u16, attrs: Vec<u8>) -> NetlinkMessage<CtMessage> {
    let mut h = NetlinkHeader::default();
    h.flags = flags;
    let mut m = NetlinkMessage::new(
        h,
        NetlinkPayload::InnerMessage(CtMessage::new(cmd, family, attrs)),
    );
    m.finalize();
    m
}

fn family_number(f: Option<Family>) -> u8 {
    f.map_or(NFPROTO_UNSPEC, Family::number)
}

/// `IPCTNL_MSG_CT_GET` of a dump of `family` (both with `None`), with the
/// kernel-side part of `filter` (see [`Filter::append_dump_attrs`]).
pub fn dump(family: Option<Family>, filter: Option<&Filter>) -> NetlinkMessage<CtMessage> {
    let mut attrs = Vec::new();
    if let Some(f) = filter {
        f.append_dump_attrs(&mut attrs, family);
    }
    build(Command::Get, family_number(family), NLM_F_REQUEST, attrs)
}

fn tuple_attrs(tuple: &Tuple, zone: Option<u16>, id: Option<u32>) -> Vec<u8> {
    let mut attrs = Vec::new();
    tuple.append_nest(&mut attrs, CTA_TUPLE_ORIG);
    if let Some(z) = zone {
        nl_engine::wire::append_attr(&mut attrs, CTA_ZONE, &z.to_be_bytes());
    }
    if let Some(id) = id {
        nl_engine::wire::append_attr(&mut attrs, CTA_ID, &id.to_be_bytes());
    }
    attrs
}

/// `IPCTNL_MSG_CT_GET` of the entry whose original tuple is `tuple`, in
/// `zone` (0 with `None`).
pub fn get(tuple: &Tuple, zone: Option<u16>) -> NetlinkMessage<CtMessage> {
    let fam = tuple.family().number();
    build(
        Command::Get,
        fam,
        NLM_F_REQUEST,
        tuple_attrs(tuple, zone, None),
    )
}

/// `IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE | NLM_F_EXCL`: create `entry`
/// (see [`Entry::append_create_attrs`] for what is sent).
pub fn create(entry: &Entry) -> NetlinkMessage<CtMessage> {
    let mut attrs = Vec::new();
    entry.append_create_attrs(&mut attrs);
    build(
        Command::New,
        entry.family().number(),
        NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
        attrs,
    )
}

/// `IPCTNL_MSG_CT_DELETE` of the entry whose original tuple is `tuple`,
/// in `zone`; with `id`, only if the kernel's entry still has that id (so
/// a newer entry reusing the tuple is left alone: `ENOENT`).
pub fn delete(tuple: &Tuple, zone: Option<u16>, id: Option<u32>) -> NetlinkMessage<CtMessage> {
    build(
        Command::Delete,
        tuple.family().number(),
        NLM_F_REQUEST,
        tuple_attrs(tuple, zone, id),
    )
}

/// `IPCTNL_MSG_CT_DELETE` without a tuple: flush every entry of `family`
/// (of both with `None`).
///
/// The kernel takes the family as a filter only from `nfgenmsg` version 1
/// on (version 0 flushes everything whatever the family, for old tools
/// that always sent `AF_INET`), so a flush of one family is sent as
/// version 1.
pub fn flush(family: Option<Family>) -> NetlinkMessage<CtMessage> {
    let mut m = build(
        Command::Delete,
        family_number(family),
        NLM_F_REQUEST,
        Vec::new(),
    );
    if family.is_some() {
        if let NetlinkPayload::InnerMessage(ct) = &mut m.payload {
            ct.header.version = 1;
        }
    }
    m
}
