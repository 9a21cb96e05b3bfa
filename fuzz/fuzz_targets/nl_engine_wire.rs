//! nl-engine's datagram splitter and control-message readers over arbitrary
//! received datagrams: `wire::Messages`, `wire::parse_error`,
//! `wire::parse_done`, the `nfgenmsg` header and the generic netlink
//! controller reply that `genl::resolve_family` decodes (`genl::CtrlMessage`,
//! checked to survive encode -> decode).
//!
//! The attribute walker `wire::Attrs` agrees with netlink-packet-core's
//! `NlasIterator` on the whole input and on every value (nests).
//!
//! Input: one datagram as the kernel would deliver it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{NetlinkDeserializable, NetlinkSerializable};
use nl_engine::genl::CtrlMessage;
use nl_engine::nfnl::NfGenMsg;
use nl_engine::wire::{self, Messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN};
use nl_engine::{Error, KernelError};

/// `GENL_ID_CTRL`: the controller's message type.
const GENL_ID_CTRL: u16 = 0x10;

fn classify(ke: KernelError) {
    let _ = ke.to_string();
    let e = Error::from_kernel("fuzz", ke);
    let _ = (e.to_string(), e.errno(), e.context());
}

/// `wire::Attrs` (the dump read path's attribute walker) accepts, refuses
/// and yields exactly what netlink-packet-core's `NlasIterator` does.
fn attrs_agree(buf: &[u8]) {
    let ours: Vec<Option<(u16, &[u8])>> = wire::Attrs::new(buf)
        .map(|a| a.ok().map(|a| (a.raw_type, a.value)))
        .collect();
    let theirs: Vec<Option<(u16, Vec<u8>)>> = netlink_packet_core::NlasIterator::new(buf)
        .map(|n| {
            n.ok().map(|n| {
                let raw = u16::from_ne_bytes([n.into_inner()[2], n.into_inner()[3]]);
                (raw, n.value().to_vec())
            })
        })
        .collect();
    let theirs: Vec<Option<(u16, &[u8])>> = theirs
        .iter()
        .map(|o| o.as_ref().map(|(k, v)| (*k, v.as_slice())))
        .collect();
    assert_eq!(ours, theirs, "wire::Attrs differs from NlasIterator");
    for (_, v) in ours.into_iter().flatten() {
        if v.len() < buf.len() {
            attrs_agree(v);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    attrs_agree(data);
    let mut count = 0usize;
    let mut covered = 0usize;
    for m in Messages::new(data) {
        count += 1;
        // Every call yields progress: at most one message (or error) per
        // 16 bytes, plus the final error.
        assert!(
            count <= data.len() / NLMSG_HDRLEN + 1,
            "iterator does not advance"
        );
        let Ok(m) = m else { continue };
        assert_eq!(m.payload.len() + NLMSG_HDRLEN, m.header.length as usize);
        covered += m.header.length as usize;
        assert!(covered <= data.len());
        // The readers must cope with any payload, whatever the type says.
        match wire::parse_error(&m) {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(ke)) => {
                assert!(ke.errno != 0);
                classify(ke);
            }
        }
        if let Err(ke) = wire::parse_done(&m) {
            classify(ke);
        }
        let _ = NfGenMsg::parse(m.payload);
        match m.header.message_type {
            NLMSG_ERROR | NLMSG_DONE => {}
            GENL_ID_CTRL => {
                if let Ok(c) = CtrlMessage::deserialize(&m.header, m.payload) {
                    let mut b = vec![0; c.buffer_len()];
                    c.serialize(&mut b);
                    let again = CtrlMessage::deserialize(&m.header, &b)
                        .unwrap_or_else(|e| panic!("re-encoded controller message: {e:?}"));
                    assert_eq!(again, c, "controller message changed in encode/decode");
                }
            }
            _ => {}
        }
    }
});
