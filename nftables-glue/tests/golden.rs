//! Golden bytes: what this crate encodes against what `nft -f` and
//! `iptables-nft` sent for the same rules, and decoding of captured kernel
//! replies. How the files in `tests/data/` were captured: see
//! `tests/data/README.md`.

use nftables_glue::compat::{Direction, XtIpvsMatch, XtSetMatch};
use nftables_glue::*;

fn datagrams(file: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

/// Splits a datagram into (type, flags, payload) messages.
fn messages(d: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= d.len() {
        let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
        let ty = u16::from_ne_bytes(d[off + 4..off + 6].try_into().unwrap());
        let flags = u16::from_ne_bytes(d[off + 6..off + 8].try_into().unwrap());
        out.push((ty, flags, d[off + 16..off + len].to_vec()));
        off += (len + 3) & !3;
    }
    out
}

/// Zeroes sequence numbers and port ids, and masks NLM_F_ACK (0x4).
fn normalize(d: &[u8]) -> Vec<u8> {
    let mut d = d.to_vec();
    let mut off = 0;
    while off + 16 <= d.len() {
        let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
        let flags = u16::from_ne_bytes(d[off + 6..off + 8].try_into().unwrap()) & !0x4;
        d[off + 6..off + 8].copy_from_slice(&flags.to_ne_bytes());
        d[off + 8..off + 16].fill(0);
        off += (len + 3) & !3;
    }
    d
}

fn native(family: Family, addr: &str) -> ServiceNat {
    let mut nat = ServiceNat::new(Membership::NativeSet {
        name: "ZGZ-CLUSTER-IP".into(),
        members: vec![Member::tcp(addr.parse().unwrap(), 80)],
    });
    nat.family = family;
    nat.fully_random = true; // native4.nft says `masquerade fully-random`
    nat
}

fn assert_same_batch(ours: &[u8], golden: &[u8]) {
    let (a, b) = (normalize(ours), normalize(golden));
    let (ma, mb) = (messages(&a), messages(&b));
    assert_eq!(ma.len(), mb.len(), "message count");
    for (i, (x, y)) in ma.iter().zip(&mb).enumerate() {
        assert_eq!(x, y, "message {i} differs");
    }
    assert_eq!(a, b);
}

#[test]
fn service_nat_native4_batch_is_what_nft_f_sends() {
    let golden = &datagrams("nft_f_native4.hex")[0];
    let tx = native(Family::Ipv4, "10.200.3.2")
        .create_transaction(None)
        .unwrap();
    let ours = tx.to_bytes();
    assert_same_batch(&ours, golden);
    // Every command asks for an ACK; the batch delimiters do not.
    let m = messages(&ours);
    assert_eq!(m.first().unwrap().1 & 0x4, 0);
    assert_eq!(m.last().unwrap().1 & 0x4, 0);
    assert!(m[1..m.len() - 1].iter().all(|(_, f, _)| f & 0x4 != 0));
}

#[test]
fn service_nat_native6_batch_is_what_nft_f_sends() {
    let golden = &datagrams("nft_f_native6.hex")[0];
    let tx = native(Family::Ipv6, "fd00:200::3:2")
        .create_transaction(None)
        .unwrap();
    assert_same_batch(&tx.to_bytes(), golden);
}

fn rule_message(file: &str) -> (u16, Vec<u8>) {
    let d = &datagrams(file)[0];
    let (_, flags, payload) = messages(d)
        .into_iter()
        .find(|(t, _, _)| *t == 0x0a06)
        .unwrap();
    (flags, payload)
}

fn encode(m: &NftMessage) -> Vec<u8> {
    use nl_engine::netlink_packet_core::NetlinkSerializable;
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

#[test]
fn xt_set_rule_is_what_iptables_nft_sends() {
    let (flags, golden) = rule_message("iptables_nft_set_rule.hex");
    assert_eq!(flags & !0x4, 0x0c01);
    let mut r = Rule::new(Family::Ipv4, "nat", "ZGZ-SERVICES").with_exprs(vec![
        Expr::Match(Match::Set(XtSetMatch::new(
            0,
            &[Direction::Dst, Direction::Dst],
        ))),
        Expr::counter(),
        Expr::verdict(Verdict::Accept),
    ]);
    r.compat = Some(RuleCompat::default());
    assert_eq!(encode(&r.to_message(Command::NewRule)), golden);
    let mut tx = Transaction::new();
    tx.append_rule(&r);
    assert_eq!(tx.changes()[0].flags, 0x0c00);
}

#[test]
fn xt_ipvs_rule_is_what_iptables_nft_sends() {
    let (_, golden) = rule_message("iptables_nft_ipvs_rule.hex");
    let ipvs = XtIpvsMatch::new()
        .with_ipvs()
        .with_vaddr("10.200.3.2".parse().unwrap(), 32)
        .with_vport(80)
        .with_vproto(6);
    let mut r = Rule::new(Family::Ipv4, "nat", "ZGZ-SERVICES").with_exprs(vec![
        Expr::Match(Match::Set(XtSetMatch::new(1, &[Direction::Src]))),
        Expr::Match(Match::Ipvs(ipvs)),
        Expr::counter(),
        Expr::verdict(Verdict::Accept),
    ]);
    r.compat = Some(RuleCompat::default());
    assert_eq!(encode(&r.to_message(Command::NewRule)), golden);
}

/// Every captured message decodes into typed values that re-encode to the
/// same bytes (nothing lost), with every expression typed.
#[test]
fn captured_batches_decode_losslessly() {
    use nl_engine::netlink_packet_core::{NetlinkDeserializable, NetlinkHeader};
    for file in [
        "nft_f_native4.hex",
        "nft_f_native6.hex",
        "iptables_nft_set_rule.hex",
        "iptables_nft_ipvs_rule.hex",
    ] {
        for d in datagrams(file) {
            for (ty, _, payload) in messages(&d) {
                let mut h = NetlinkHeader::default();
                h.message_type = ty;
                let m = NftMessage::deserialize(&h, &payload).unwrap();
                let again = match m.command {
                    Command::NewTable => Table::parse(&m).unwrap().to_message(m.command),
                    Command::NewChain => Chain::parse(&m).unwrap().to_message(m.command),
                    Command::NewSet => Set::parse(&m).unwrap().to_message(m.command),
                    Command::NewSetElem => SetElements::parse(&m).unwrap().to_message(m.command),
                    Command::NewRule => {
                        let r = Rule::parse(&m).unwrap();
                        assert!(
                            !r.exprs.iter().any(|e| matches!(e, Expr::Raw(_))),
                            "{file}: {r:?}"
                        );
                        assert!(
                            !r.exprs
                                .iter()
                                .any(|e| matches!(e, Expr::Match(Match::Other { .. }))),
                            "{r:?}"
                        );
                        r.to_message(m.command)
                    }
                    _ => m.clone(),
                };
                let mut again = again;
                again.header = m.header;
                assert_eq!(
                    encode(&again),
                    payload,
                    "{file}: {:?} not re-encoded identically",
                    m.command
                );
            }
        }
    }
}

#[test]
fn kernel_dump_replies_decode() {
    use nl_engine::netlink_packet_core::{NetlinkDeserializable, NetlinkHeader};
    let (mut rules, mut sets, mut chains, mut elems) = (vec![], vec![], vec![], vec![]);
    for d in datagrams("nft_list_native4_replies.hex") {
        for (ty, _, payload) in messages(&d) {
            if ty >> 8 != 10 {
                continue;
            }
            let mut h = NetlinkHeader::default();
            h.message_type = ty;
            let m = NftMessage::deserialize(&h, &payload).unwrap();
            match m.command {
                Command::NewRule => rules.push(Rule::parse(&m).unwrap()),
                Command::NewSet => sets.push(Set::parse(&m).unwrap()),
                Command::NewChain => chains.push(Chain::parse(&m).unwrap()),
                Command::NewSetElem => elems.extend(SetElements::parse(&m).unwrap().elements),
                _ => {}
            }
        }
    }
    assert_eq!(chains.len(), 6);
    let pre = chains.iter().find(|c| c.name == "PREROUTING").unwrap();
    let base = pre.base.as_ref().unwrap();
    assert_eq!(
        (base.hook, base.priority, base.chain_type.clone()),
        (Hook::Prerouting, Priority::DSTNAT, ChainType::Nat)
    );
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].key_type, KeyType::ipv4_proto_port());
    assert_eq!(sets[0].key_len, 12);
    assert_eq!(
        elems,
        vec![SetElement::service("10.200.3.2".parse().unwrap(), 6, 80)]
    );
    assert_eq!(rules.len(), 6);
    assert!(rules.iter().all(|r| r.handle.is_some()));
    assert!(
        rules
            .iter()
            .flat_map(|r| &r.exprs)
            .all(|e| !matches!(e, Expr::Raw(_)))
    );
    let svc = rules.iter().find(|r| r.chain == "ZGZ-SERVICES").unwrap();
    assert_eq!(
        svc.comment().as_deref(),
        Some("zgz service cluster ip + port for masquerade purpose")
    );
    // What ServiceNat wants is what the kernel reports for nft's own rules.
    let want = native(Family::Ipv4, "10.200.3.2")
        .create_transaction(None)
        .unwrap();
    let want_rules: Vec<Rule> = want
        .changes()
        .iter()
        .filter(|c| c.message.command == Command::NewRule)
        .map(|c| Rule::parse(&c.message).unwrap())
        .collect();
    for w in &want_rules {
        assert!(
            rules.iter().any(|r| r.same_content(w)),
            "no kernel rule like {w:?}"
        );
    }
}

/// Decoders never panic: every truncation and many byte flips of the
/// captured messages decode to a value or an error.
#[test]
fn decoders_survive_garbage() {
    use nl_engine::netlink_packet_core::{NetlinkDeserializable, NetlinkHeader};
    let mut inputs = Vec::new();
    for file in [
        "nft_f_native4.hex",
        "iptables_nft_ipvs_rule.hex",
        "nft_list_native4_replies.hex",
    ] {
        for d in datagrams(file) {
            for (ty, _, payload) in messages(&d) {
                inputs.push((ty, payload));
            }
        }
    }
    for (ty, payload) in inputs {
        let mut variants = Vec::new();
        for cut in 0..payload.len() {
            variants.push(payload[..cut].to_vec());
        }
        for i in (0..payload.len()).step_by(3) {
            let mut p = payload.clone();
            p[i] ^= 0xa5;
            variants.push(p);
        }
        for p in variants {
            let mut h = NetlinkHeader::default();
            h.message_type = ty;
            if let Ok(m) = NftMessage::deserialize(&h, &p) {
                let _ = Table::parse(&m);
                let _ = Chain::parse(&m);
                let _ = Set::parse(&m);
                let _ = SetElements::parse(&m);
                if let Ok(r) = Rule::parse(&m) {
                    let _ = r.comment();
                    let _ = r.to_message(Command::NewRule);
                }
            }
        }
    }
}

#[test]
fn large_element_lists_are_split() {
    let els: Vec<SetElement> = (0..20_000u32)
        .map(|i| {
            SetElement::service(
                std::net::IpAddr::from((0x0a00_0000 + i).to_be_bytes()),
                6,
                80,
            )
        })
        .collect();
    let mut tx = Transaction::new();
    tx.add_elements(&SetElements::new(Family::Ipv4, "t", "s", els));
    assert!(tx.len() > 1);
    let total: usize = tx
        .changes()
        .iter()
        .map(|c| SetElements::parse(&c.message).unwrap().elements.len())
        .sum();
    assert_eq!(total, 20_000);
    assert!(tx.changes().iter().all(|c| c.message.attrs.len() < 65_000));
}
