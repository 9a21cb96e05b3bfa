//! nftables-glue's decoders over arbitrary datagrams: `NftMessage`
//! (`NetlinkDeserializable`), then every object decoder (tables, chains,
//! sets, set elements, rules with their expressions, the `nft_compat`
//! `set`/`ipvs` matches inside them) on every message, whatever its
//! command says.
//!
//! Round trips, where the crate promises losslessness: a decoded object
//! re-encoded with `to_message` decodes to the same object, and that
//! encoding is a fixed point; a rule's expression list survives
//! `Expr::emit_list` -> `Expr::parse_list`.
//!
//! Input: one datagram (a batch as `nft -f`/`iptables-nft` send it, or the
//! kernel's dump replies).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlink_packet_core::NetlinkDeserializable;
use nftables_glue::{Chain, Command, Expr, NftMessage, Rule, Set, SetElements, Table};
use nl_engine::wire::Messages;

/// Decodes `m` as `T`; when it decodes, checks the round trip.
fn check<T: PartialEq + std::fmt::Debug>(
    m: &NftMessage,
    parse: fn(&NftMessage) -> Result<T, netlink_packet_core::DecodeError>,
    to_message: fn(&T, Command) -> NftMessage,
) -> Option<T> {
    let t = parse(m).ok()?;
    let again_msg = to_message(&t, m.command);
    let again = parse(&again_msg)
        .unwrap_or_else(|e| panic!("re-encoded object does not decode: {e:?}\n{t:?}"));
    assert_eq!(again, t, "decode -> encode -> decode changed the object");
    assert_eq!(
        to_message(&again, m.command),
        again_msg,
        "encoding is not a fixed point"
    );
    Some(t)
}

fuzz_target!(|data: &[u8]| {
    for raw in Messages::new(data).flatten() {
        let Ok(m) = NftMessage::deserialize(&raw.header, raw.payload) else {
            continue;
        };
        let _ = format!("{:?}", m.command);
        if let Some(t) = check(&m, Table::parse, Table::to_message) {
            let _ = (t.to_string(), t.emit_key());
        }
        if let Some(c) = check(&m, Chain::parse, Chain::to_message) {
            let _ = (c.to_string(), c.emit_key(), c.same_definition(&c));
        }
        if let Some(s) = check(&m, Set::parse, Set::to_message) {
            let _ = (s.emit_key(), s.same_definition(&s), s.key_type.len());
        }
        let _ = check(&m, SetElements::parse, SetElements::to_message);
        if let Some(r) = check(&m, Rule::parse, Rule::to_message) {
            let _ = (r.to_string(), r.comment(), r.emit_key(), r.same_content(&r));
            let list = Expr::emit_list(&r.exprs);
            let back = Expr::parse_list(&list)
                .unwrap_or_else(|e| panic!("expressions do not decode again: {e:?}"));
            assert_eq!(back, r.exprs, "expressions changed in emit_list/parse_list");
            for e in &r.exprs {
                let _ = e.name();
            }
        }
    }
});
