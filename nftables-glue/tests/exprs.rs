//! The typed expressions and maps against this machine's kernel, each test
//! in throwaway network namespaces: a ruleset built with this crate is
//! listed by `nft list ruleset` exactly as the same ruleset written for
//! `nft -f`, and the rules and maps `nft -f` made decode to the very typed
//! values this crate sends.

use nftables_glue::*;
use nl_engine::Netns;

use clusterip_test_support::block_on;

fn tool(ns: &Netns, args: &[&str]) -> String {
    clusterip_test_support::sh(ns.proc_path(), args)
}

fn nft_file(ns: &Netns, text: &str, tag: &str) {
    let path = std::env::temp_dir().join(format!("nft-glue-{tag}-{}.nft", std::process::id()));
    std::fs::write(&path, text).unwrap();
    tool(ns, &["nft", "-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
}

/// Every new expression, written for `nft -f`.
const REFERENCE: &str = r#"table ip t {
	map m {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.0.0.1 . tcp . 80 : goto c1 }
	}
	map d {
		type ipv4_addr : ipv4_addr . inet_service
		elements = { 10.0.0.1 : 10.0.2.2 . 80 }
	}
	chain c1 {
		numgen inc mod 2 vmap { 0 : goto c2, 1 : goto c3 }
	}
	chain c2 {
		meta l4proto tcp dnat to 10.0.2.2:8080
	}
	chain c3 {
		meta l4proto tcp dnat to 10.0.2.2-10.0.2.3:8080-8081 persistent,random
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @m
		counter packets 3 bytes 7
		fib daddr type local counter
		fib saddr . iif oif missing drop
		meta mark set numgen random mod 4 offset 1
		meta l4proto tcp dnat to ip daddr map @d
		meta l4proto tcp redirect to :8080
		ip saddr 10.9.9.9 jump c1
		ip saddr 10.9.9.8 goto c2
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		masquerade random,persistent
		snat to 10.0.0.1 fully-random
	}
	chain f {
		type filter hook input priority filter; policy accept;
		reject with tcp reset
		reject with icmp type host-unreachable
		reject
	}
}
table inet r {
	chain f {
		type filter hook input priority filter; policy accept;
		reject with icmpx type port-unreachable
		reject with icmpx type admin-prohibited
		meta nfproto ipv6 reject with icmpv6 type addr-unreachable
	}
}
"#;

/// What `nft list ruleset` prints for it.
const LISTED: &str = "table ip t {
	map m {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.0.0.1 . tcp . 80 : goto c1 }
	}

	map d {
		type ipv4_addr : ipv4_addr . inet_service
		elements = { 10.0.0.1 : 10.0.2.2 . 80 }
	}

	chain c1 {
		numgen inc mod 2 vmap { 0 : goto c2, 1 : goto c3 }
	}

	chain c2 {
		meta l4proto tcp dnat to 10.0.2.2:8080
	}

	chain c3 {
		meta l4proto tcp dnat to 10.0.2.2/31:8080-8081 random,persistent
	}

	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @m
		counter packets 3 bytes 7
		fib daddr type local counter packets 0 bytes 0
		fib saddr . iif oif missing drop
		meta mark set numgen random mod 4 offset 1
		meta l4proto tcp dnat ip to ip daddr map @d
		meta l4proto tcp redirect to :8080
		ip saddr 10.9.9.9 jump c1
		ip saddr 10.9.9.8 goto c2
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		masquerade random,persistent
		snat to 10.0.0.1 fully-random
	}

	chain f {
		type filter hook input priority filter; policy accept;
		reject with tcp reset
		reject with icmp host-unreachable
		reject
	}
}
table inet r {
	chain f {
		type filter hook input priority filter; policy accept;
		reject
		reject with icmpx admin-prohibited
		reject with icmpv6 addr-unreachable
	}
}
";

const TCP: u8 = 6;

fn imm(r: Register, v: &[u8]) -> Expr {
    Expr::immediate(r, v.to_vec())
}

fn ip_saddr_is(a: [u8; 4]) -> Vec<Expr> {
    vec![
        Expr::Payload(Payload::ipv4_saddr(Register::R1)),
        Expr::cmp_eq(Register::R1, a.to_vec()),
    ]
}

/// The rules of [`REFERENCE`], typed, by chain (anonymous maps named
/// `__map%d`, with their elements).
fn typed_rules() -> Vec<(&'static str, Vec<Expr>)> {
    let four = |n: u32| n.to_ne_bytes().to_vec();
    let concat = |a: Vec<Expr>, b: Vec<Expr>| -> Vec<Expr> { a.into_iter().chain(b).collect() };
    vec![
        (
            "c1",
            vec![
                Expr::Numgen(Numgen::new(NumgenType::Incremental, 2, Register::R1)),
                Expr::vmap("__map%d", Register::R1),
            ],
        ),
        (
            "c2",
            concat(
                Expr::l4proto_is(TCP),
                Expr::dnat_to("10.0.2.2:8080".parse().unwrap()),
            ),
        ),
        (
            "c3",
            concat(
                Expr::l4proto_is(TCP),
                vec![
                    imm(Register::R1, &[10, 0, 2, 2]),
                    imm(Register::R2, &[10, 0, 2, 3]),
                    imm(Register::R3, &8080u16.to_be_bytes()),
                    imm(Register::R4, &8081u16.to_be_bytes()),
                    Expr::Nat(
                        Nat::new(NatType::Dnat, Family::Ipv4)
                            .with_addr_range(Register::R1, Register::R2)
                            .with_proto_range(Register::R3, Register::R4)
                            .with_flags(NatFlags::RANDOM | NatFlags::PERSISTENT),
                    ),
                ],
            ),
        ),
        (
            "pre",
            vec![
                Expr::Payload(Payload::ipv4_daddr(Register::R1)),
                Expr::meta_load(MetaKey::L4Proto, Register::reg32(1)),
                Expr::Payload(Payload::th_dport(Register::reg32(2))),
                Expr::vmap("m", Register::R1),
            ],
        ),
        (
            "pre",
            vec![Expr::Counter(Counter {
                bytes: 7,
                packets: 3,
            })],
        ),
        (
            "pre",
            vec![
                Expr::Fib(Fib::new(FibResult::AddrType, FibFlags::DADDR, Register::R1)),
                Expr::cmp_eq(Register::R1, four(RTN_LOCAL)),
                Expr::counter(),
            ],
        ),
        (
            "pre",
            vec![
                Expr::Fib(Fib::new(
                    FibResult::Oif,
                    FibFlags::SADDR | FibFlags::IIF | FibFlags::PRESENT,
                    Register::R1,
                )),
                Expr::cmp_eq(Register::R1, four(0)),
                Expr::verdict(Verdict::Drop),
            ],
        ),
        (
            "pre",
            vec![
                Expr::Numgen(Numgen::new(NumgenType::Random, 4, Register::R1).with_offset(1)),
                Expr::meta_set(MetaKey::Mark, Register::R1),
            ],
        ),
        (
            "pre",
            concat(
                Expr::l4proto_is(TCP),
                vec![
                    Expr::Payload(Payload::ipv4_daddr(Register::R1)),
                    Expr::map("d", Register::R1, Register::R1),
                    Expr::Nat(
                        Nat::new(NatType::Dnat, Family::Ipv4)
                            .with_addr_range(Register::R1, Register::R1)
                            .with_proto_range(Register::reg32(1), Register::reg32(1)),
                    ),
                ],
            ),
        ),
        (
            "pre",
            concat(
                Expr::l4proto_is(TCP),
                vec![
                    imm(Register::R1, &8080u16.to_be_bytes()),
                    Expr::Redir(Redir::new().with_proto_range(Register::R1, Register::R1)),
                ],
            ),
        ),
        (
            "pre",
            concat(
                ip_saddr_is([10, 9, 9, 9]),
                vec![Expr::verdict(Verdict::Jump("c1".into()))],
            ),
        ),
        (
            "pre",
            concat(
                ip_saddr_is([10, 9, 9, 8]),
                vec![Expr::verdict(Verdict::Goto("c2".into()))],
            ),
        ),
        (
            "post",
            vec![Expr::Masq(
                Masq::new().with_flags(NatFlags::RANDOM | NatFlags::PERSISTENT),
            )],
        ),
        (
            "post",
            vec![
                imm(Register::R1, &[10, 0, 0, 1]),
                Expr::Nat(
                    Nat::snat(Family::Ipv4, Register::R1, None).with_flags(NatFlags::FULLY_RANDOM),
                ),
            ],
        ),
        (
            "f",
            concat(Expr::l4proto_is(TCP), vec![Expr::Reject(Reject::TcpReset)]),
        ),
        // ICMP_HOST_UNREACH
        ("f", vec![Expr::Reject(Reject::Icmp(1))]),
        // plain `reject` in ip: ICMP_PORT_UNREACH
        ("f", vec![Expr::Reject(Reject::Icmp(3))]),
    ]
}

fn typed_inet_rules() -> Vec<Vec<Expr>> {
    vec![
        vec![Expr::Reject(Reject::Icmpx(IcmpxCode::PortUnreachable))],
        vec![Expr::Reject(Reject::Icmpx(IcmpxCode::AdminProhibited))],
        vec![
            Expr::meta_load(MetaKey::NfProto, Register::R1),
            Expr::cmp_eq(Register::R1, vec![10]),
            // ICMPV6_ADDR_UNREACH
            Expr::Reject(Reject::Icmp(3)),
        ],
    ]
}

fn maps() -> Vec<(Set, Vec<SetElement>)> {
    let f = Family::Ipv4;
    vec![
        (
            Set::map(f, "t", "m", KeyType::ipv4_proto_port(), MapData::Verdict),
            vec![SetElement::verdict(
                SetElement::service("10.0.0.1".parse().unwrap(), TCP, 80).key,
                Verdict::Goto("c1".into()),
            )],
        ),
        (
            Set::map(
                f,
                "t",
                "d",
                KeyType(vec![DataType::Ipv4Addr]),
                MapData::Value(KeyType::ipv4_port()),
            ),
            vec![
                SetElement::new(vec![10, 0, 0, 1])
                    .with_data(Data::concat(&[&[10, 0, 2, 2], &80u16.to_be_bytes()])),
            ],
        ),
    ]
}

fn numgen_map() -> (Set, Vec<SetElement>) {
    (
        Set::anonymous_map(
            Family::Ipv4,
            "t",
            KeyType(vec![DataType::Integer]),
            MapData::Verdict,
        ),
        vec![
            SetElement::verdict(0u32.to_ne_bytes().to_vec(), Verdict::Goto("c2".into())),
            SetElement::verdict(1u32.to_ne_bytes().to_vec(), Verdict::Goto("c3".into())),
        ],
    )
}

/// The reference ruleset, built with this crate in one transaction.
fn ours() -> Transaction {
    let f = Family::Ipv4;
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(f, "t"));
    for (s, _) in maps() {
        tx.add_set(&s);
    }
    for c in ["c1", "c2", "c3"] {
        tx.add_chain(&Chain::regular(f, "t", c));
    }
    // (after the chains their verdicts name)
    for (s, els) in maps() {
        tx.add_elements(&SetElements::new(f, "t", s.name.clone(), els));
    }
    tx.add_chain(&Chain::base(
        f,
        "t",
        "pre",
        ChainType::Nat,
        Hook::Prerouting,
        Priority::DSTNAT,
    ));
    tx.add_chain(&Chain::base(
        f,
        "t",
        "post",
        ChainType::Nat,
        Hook::Postrouting,
        Priority::SRCNAT,
    ));
    tx.add_chain(&Chain::base(
        f,
        "t",
        "f",
        ChainType::Filter,
        Hook::Input,
        Priority(0),
    ));
    for (chain, exprs) in typed_rules() {
        let r = Rule::new(f, "t", chain).with_exprs(exprs);
        if chain == "c1" {
            let (m, els) = numgen_map();
            tx.add_anonymous_map(&m, els, &r);
        } else {
            tx.append_rule(&r);
        }
    }
    let i = Family::Inet;
    tx.add_table(&Table::new(i, "r"));
    tx.add_chain(&Chain::base(
        i,
        "r",
        "f",
        ChainType::Filter,
        Hook::Input,
        Priority(0),
    ));
    for exprs in typed_inet_rules() {
        tx.append_rule(&Rule::new(i, "r", "f").with_exprs(exprs));
    }
    tx
}

/// The rules of a table as (chain, expressions), the anonymous map's
/// kernel name put back to `__map%d`.
fn listed_rules(nft: &NftHandle, family: Family, table: &str) -> Vec<(String, Vec<Expr>)> {
    block_on(nft.list_rules(family, table, None))
        .unwrap()
        .into_iter()
        .map(|r| {
            let exprs = r
                .exprs
                .into_iter()
                .map(|e| match e {
                    Expr::Lookup(mut l) if l.set.starts_with("__map") => {
                        l.set = "__map%d".into();
                        Expr::Lookup(l)
                    }
                    e => e,
                })
                .collect();
            (r.chain, exprs)
        })
        .collect()
}

#[test]
fn every_expression_listed_as_nft_lists_it_and_decoded_as_sent() {
    // Ours, in one transaction.
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    block_on(nft.commit(&ours())).unwrap();
    assert_eq!(tool(&ns, &["nft", "list", "ruleset"]), LISTED);

    // nft's, from the text.
    let reference = Netns::new_anonymous().unwrap();
    nft_file(&reference, REFERENCE, "exprs");
    assert_eq!(tool(&reference, &["nft", "list", "ruleset"]), LISTED);

    // nft's rules decode to exactly the typed values we sent (no raw
    // expression left), and so do ours read back.
    let theirs = NftHandle::in_netns(&reference).unwrap();
    let want: Vec<(String, Vec<Expr>)> = typed_rules()
        .into_iter()
        .map(|(c, e)| (c.to_string(), e))
        .collect();
    for h in [&theirs, &nft] {
        let got = listed_rules(h, Family::Ipv4, "t");
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w);
            assert!(!g.1.iter().any(|e| matches!(e, Expr::Raw(_))), "{g:?}");
        }
        let inet: Vec<Vec<Expr>> = listed_rules(h, Family::Inet, "r")
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        assert_eq!(inet, typed_inet_rules());
    }

    // The maps: same definitions, same elements (verdicts and
    // concatenated data), the anonymous map included.
    let sets = block_on(theirs.list_sets(Family::Ipv4, Some("t"))).unwrap();
    let (anon, anon_els) = numgen_map();
    for (want, els) in maps().into_iter().chain([(anon, anon_els)]) {
        let have = sets
            .iter()
            .find(|s| {
                s.name == want.name || (want.name == "__map%d" && s.name.starts_with("__map"))
            })
            .unwrap_or_else(|| panic!("no set {}", want.name));
        let mut w = want.clone();
        w.name = have.name.clone();
        assert!(have.same_definition(&w), "{have:?}\n{w:?}");
        assert_eq!(have.map_data(), want.map_data());
        let mut got = block_on(theirs.list_elements(Family::Ipv4, "t", &have.name)).unwrap();
        got.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(got, els, "elements of {}", have.name);
    }
}

#[test]
fn objref_decodes_and_is_listed() {
    // A named counter (created with nft: this crate has no object
    // builder) used by `counter name`, from nft and from us.
    let setup = "table ip t {\n\tcounter hits {\n\t}\n\tchain c {\n\t}\n}\n";
    let reference = Netns::new_anonymous().unwrap();
    nft_file(&reference, setup, "objref-ref");
    tool(
        &reference,
        &[
            "nft", "add", "rule", "ip", "t", "c", "counter", "name", "hits",
        ],
    );
    let ours = Netns::new_anonymous().unwrap();
    nft_file(&ours, setup, "objref-ours");
    let want = vec![Expr::Objref(Objref::Immediate {
        obj_type: 1,
        name: "hits".into(),
    })];
    let nft = NftHandle::in_netns(&ours).unwrap();
    let mut tx = Transaction::new();
    tx.append_rule(&Rule::new(Family::Ipv4, "t", "c").with_exprs(want.clone()));
    block_on(nft.commit(&tx)).unwrap();
    let listing = tool(&ours, &["nft", "list", "chain", "ip", "t", "c"]);
    assert!(listing.contains("\t\tcounter name \"hits\"\n"), "{listing}");
    assert_eq!(
        listing,
        tool(&reference, &["nft", "list", "chain", "ip", "t", "c"])
    );
    let theirs = NftHandle::in_netns(&reference).unwrap();
    for h in [&theirs, &nft] {
        let rules = block_on(h.list_rules(Family::Ipv4, "t", Some("c"))).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].exprs, want);
    }
}
