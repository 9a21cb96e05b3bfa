//! ipset-nl's decoders over arbitrary datagrams: every ipset message
//! (`IpsetMessage`, i.e. `NetlinkDeserializable`, with its three attribute
//! sets), the kernel's error replies (with the echoed request the bulk path
//! reads line numbers from), the folding of list/save replies into sets
//! (`IpSet::from_messages`) and the typed views of their members.
//!
//! Round trips, where the crate promises losslessness: every decoded message
//! re-encodes to bytes that decode to the same message, and those bytes are
//! a fixed point of encoding; typed elements and create options survive
//! `to_attrs` -> `from_attrs`.
//!
//! Input: one datagram as the kernel would deliver it (or a request as the
//! `ipset` tool sends it: the golden captures are both).
#![no_main]

use ipset_nl::{
    Command, CreateOptions, Element, IpPortEntry, IpSet, IpsetErrno, IpsetMessage, map_error,
};
use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{Emitable, NetlinkDeserializable, NetlinkPayload, NetlinkSerializable};
use nl_engine::wire::{self, Messages, NLMSG_ERROR};

/// `NFNL_SUBSYS_IPSET`
const SUBSYS: u16 = 6;

fn round_trip(message_type: u16, m: &IpsetMessage) {
    assert_eq!(m.message_type(), message_type);
    let bytes = m.to_bytes();
    assert_eq!(bytes.len(), m.buffer_len());
    let again = IpsetMessage::from_bytes(message_type, &bytes)
        .unwrap_or_else(|e| panic!("re-encoded message does not decode: {e:?}\n{m:?}"));
    assert_eq!(&again, m, "decode -> encode -> decode changed the message");
    assert_eq!(again.to_bytes(), bytes, "encoding is not a fixed point");
}

fn check_set(set: &IpSet) {
    let _ = (set.set_type.to_string(), set.family.to_string());
    let (o, c) = CreateOptions::from_attrs(&set.options.to_attrs());
    assert_eq!(o, set.options, "create options lost in to_attrs/from_attrs");
    assert_eq!(c, Default::default());
    let _ = o.min_hash_ip_port_revision();
    // The create request that would make this set again decodes to itself.
    let create = ipset_nl::request::create(7, &set.to_create(), set.revision, true);
    let mut buf = vec![0; create.buffer_len()];
    create.emit(&mut buf);
    let raw = Messages::new(&buf).next();
    let Some(Ok(raw)) = raw else {
        panic!("create request does not split: {raw:?}");
    };
    let back = IpsetMessage::deserialize(&raw.header, raw.payload)
        .unwrap_or_else(|e| panic!("create request does not decode: {e:?}"));
    let NetlinkPayload::InnerMessage(sent) = &create.payload else {
        unreachable!()
    };
    assert_eq!(&back, sent, "create request changed in encode/decode");
    for entry in &set.members {
        let _ = (entry.ip(), entry.timeout(), entry.describe());
        if let Ok(e) = entry.as_ip_port() {
            let _ = (e.to_string(), e.validate(), e.icmp_type_code());
            let back = IpPortEntry::from_attrs(&e.to_attrs())
                .unwrap_or_else(|err| panic!("typed element does not decode again: {err}"));
            assert_eq!(back, e, "hash:ip,port element lost in to_attrs/from_attrs");
        }
    }
}

fn decode_datagram(data: &[u8], depth: usize) {
    let mut msgs = Vec::new();
    for m in Messages::new(data).flatten() {
        let ty = m.header.message_type;
        if ty == NLMSG_ERROR {
            if let Ok(Err(ke)) = wire::parse_error(&m) {
                // What the handle and the bulk path do with an error reply.
                for cmd in [Command::Add, Command::Swap, Command::Create] {
                    let _ = IpsetErrno::from_errno(ke.errno, Some("hash:ip,port")).description(cmd);
                    let _ = map_error(cmd, None, "fuzz", ke.clone()).to_string();
                }
                // ipset echoes the whole request: decode it as well.
                if let (Some(echo), 0) = (&ke.echo, depth) {
                    decode_datagram(echo, depth + 1);
                }
            }
            continue;
        }
        if ty >> 8 != SUBSYS {
            assert!(IpsetMessage::deserialize(&m.header, m.payload).is_err());
            continue;
        }
        if let Ok(msg) = IpsetMessage::deserialize(&m.header, m.payload) {
            let _ = (msg.set_name(), msg.command.to_string());
            round_trip(ty, &msg);
            msgs.push(msg);
        }
    }
    for set in IpSet::from_messages(msgs) {
        check_set(&set);
    }
}

fuzz_target!(|data: &[u8]| {
    decode_datagram(data, 0);
});
