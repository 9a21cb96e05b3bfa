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

/// Decodes `m` as `T`; when it decodes, checks the round trip through the
/// object's creating command (`new`: what `to_message` emits everything
/// for), after `read_back` cleared the fields the kernel reports but a
/// request never carries (documented "read back" on each type).
fn check<T: PartialEq + std::fmt::Debug + Clone>(
    m: &NftMessage,
    new: Command,
    parse: fn(&NftMessage) -> Result<T, nl_engine::DecodeError>,
    to_message: fn(&T, Command) -> NftMessage,
    read_back: fn(&mut T),
) -> Option<T> {
    let t = parse(m).ok()?;
    // Any command must encode (keys only for deletes and gets).
    let _ = to_message(&t, m.command);
    let mut want = t.clone();
    read_back(&mut want);
    let again_msg = to_message(&want, new);
    let again = parse(&again_msg)
        .unwrap_or_else(|e| panic!("re-encoded object does not decode: {e:?}\n{want:?}"));
    assert_eq!(again, want, "decode -> encode -> decode changed the object");
    assert_eq!(
        to_message(&again, new),
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
        if let Some(t) = check(
            &m,
            Command::NewTable,
            Table::parse,
            Table::to_message,
            |t| {
                t.use_count = None;
                t.owner = None;
            },
        ) {
            let _ = (t.to_string(), t.emit_key());
        }
        if let Some(c) = check(
            &m,
            Command::NewChain,
            Chain::parse,
            Chain::to_message,
            |c| {
                c.flags = None;
                c.use_count = None;
            },
        ) {
            let _ = (c.to_string(), c.emit_key(), c.same_definition(&c));
        }
        if let Some(s) = check(&m, Command::NewSet, Set::parse, Set::to_message, |_| {}) {
            let _ = (s.emit_key(), s.same_definition(&s), s.key_type.len());
        }
        let _ = check(
            &m,
            Command::NewSetElem,
            SetElements::parse,
            SetElements::to_message,
            |s| s.elements.iter_mut().for_each(|e| e.expiration = None),
        );
        if let Some(r) = check(&m, Command::NewRule, Rule::parse, Rule::to_message, |_| {}) {
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
