//! Attributes this crate does not interpret survive a decode/encode round
//! trip unchanged (type field with its flags, value), as `RawAttr`s, the
//! engine's one type for them, re-exported at `nftables_glue::RawAttr`.

use nftables_glue::netlink::netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkSerializable,
};
use nftables_glue::{Chain, Command, Family, NftMessage, RawAttr, Table};

/// The message as the kernel would send it, through the
/// `NetlinkDeserializable` impl users of netlink-proto get.
fn over_the_wire(m: &NftMessage) -> NftMessage {
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    let mut h = NetlinkHeader::default();
    h.message_type = m.message_type();
    NftMessage::deserialize(&h, &b).unwrap()
}

#[test]
fn unknown_table_and_chain_attributes_round_trip() {
    let unknown = vec![
        RawAttr::new(0x40, vec![1, 2, 3]),
        RawAttr::new(0x41 | 0x8000, vec![5, 0, 1, 0, 9, 0, 0, 0]),
        RawAttr::new(0x42 | 0x4000, vec![0, 0, 0, 7]),
    ];
    let mut t = Table::new(Family::Inet, "raw");
    t.unknown = unknown.clone();
    let back = Table::parse(&over_the_wire(&t.to_message(Command::NewTable))).unwrap();
    assert_eq!(back.unknown, unknown);
    assert_eq!(back, t);
    // and again: what was kept is emitted byte for byte
    assert_eq!(back.emit(), t.emit());

    let mut c = Chain::regular(Family::Inet, "raw", "c");
    c.unknown = unknown.clone();
    let back = Chain::parse(&over_the_wire(&c.to_message(Command::NewChain))).unwrap();
    assert_eq!(back.unknown, unknown);
    assert_eq!(back.unknown[1].attr_type(), 0x41);
    assert!(back.unknown[1].is_nested());
    assert!(back.unknown[2].is_net_byteorder());
}

#[test]
fn malformed_attributes_are_decode_errors() {
    // an attribute claiming 9 bytes where 4 are left
    let m = NftMessage::new(Command::NewTable, 1, vec![9, 0, 1, 0]);
    let e: nftables_glue::netlink::DecodeError = Table::parse(&m).unwrap_err();
    assert!(e.to_string().contains("out of bounds"), "{e}");
    let e: nftables_glue::Error = e.into_error("list tables");
    assert!(matches!(e, nftables_glue::Error::Decode { .. }), "{e:?}");
}
