//! The `serde` feature: tables, chains, rules (every expression kind this
//! crate types), sets, elements and the planners' inputs read back as they
//! were written; and a ruleset the real `nft` built in a throwaway network
//! namespace, listed by this crate as JSON that says what `nft -j` says,
//! read back equal, and built again from that JSON alone under another
//! table name: `nft list` prints the same table (kernel -> JSON -> kernel).

use std::fmt::Debug;
use std::process::Command;
use std::time::Duration;

use nftables_glue::*;
use nl_engine::Netns;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) -> Value {
    let text = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, v, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn model_types_round_trip() {
    let t = Table::new(Family::Inet, "filter");
    let v = round_trip(&t);
    assert_eq!(v["family"], "inet");
    assert_eq!(v["flags"], json!([]));
    let mut odd = Table::new(Family::Other(99), "x");
    odd.flags = TableFlags::DORMANT | TableFlags::from_bits_retain(0x100);
    let v = round_trip(&odd);
    assert_eq!(v["family"], 99);
    assert_eq!(v["flags"], json!(["dormant", 0x100]));

    let c = Chain::base(
        Family::Ipv6,
        "nat",
        "pre",
        ChainType::Nat,
        Hook::Prerouting,
        Priority::DSTNAT,
    )
    .with_policy(Policy::Drop);
    let v = round_trip(&c);
    assert_eq!(v["family"], "ip6");
    assert_eq!(v["base"]["chain_type"], "nat");
    assert_eq!(v["base"]["hook"], "prerouting");
    assert_eq!(v["base"]["priority"], -100);
    assert_eq!(v["base"]["policy"], "drop");
    round_trip(&Chain::base(
        Family::Netdev,
        "t",
        "c",
        ChainType::Other("weird".into()),
        Hook::Other(9),
        Priority(5),
    ));

    let r = Rule::new(Family::Ipv4, "nat", "pre")
        .with_exprs(vec![
            Expr::Payload(Payload::ipv4_daddr(Register::R1)),
            Expr::cmp_eq(Register::R1, vec![10, 0, 0, 1]),
            Expr::Counter(Counter::default()),
            Expr::verdict(Verdict::Jump("svc".into())),
            Expr::Raw(RawExpr {
                name: "quota".into(),
                data: Some(vec![1, 2, 3]),
            }),
        ])
        .with_comment("a \"rule\"")
        .unwrap();
    let v = round_trip(&r);
    assert_eq!(v["exprs"][3]["immediate"]["data"]["verdict"]["jump"], "svc");
    assert_eq!(v["exprs"][4]["raw"]["name"], "quota");

    let mut s = Set::new(
        Family::Ipv4,
        "t",
        "s",
        KeyType(vec![
            DataType::Ipv4Addr,
            DataType::InetProto,
            DataType::InetService,
        ]),
    );
    s.flags = SetFlags::TIMEOUT;
    s.timeout = Some(Duration::from_millis(1500));
    let v = round_trip(&s);
    assert_eq!(v["timeout"], 1500);
    assert_eq!(v["flags"], json!(["timeout"]));
    let mut e = SetElement::service("10.200.3.2".parse().unwrap(), 6, 80);
    e.expiration = Some(Duration::from_secs(3));
    round_trip(&SetElements::new(Family::Ipv4, "t", "s", vec![e]));

    let dnat = ServiceDnat::new(vec![DnatService::tcp(
        "10.96.0.10:80".parse().unwrap(),
        vec!["10.0.2.2:8080".parse().unwrap()],
    )]);
    round_trip(&dnat);
    round_trip(&ServiceNat::new(Membership::NativeSet {
        name: "ZGZ".into(),
        members: vec![Member::tcp("10.200.3.2".parse().unwrap(), 80)],
    }));
    assert!(serde_json::from_value::<Family>(json!("no-such-family")).is_err());
    assert!(serde_json::from_value::<SetFlags>(json!(["no-such-flag"])).is_err());
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn nft(ns: &Netns, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg("nft")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Everything of one table, as this crate lists it.
#[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
struct Dump {
    table: Table,
    chains: Vec<Chain>,
    sets: Vec<Set>,
    elements: Vec<Vec<SetElement>>,
    rules: Vec<Rule>,
}

fn dump(h: &NftHandle, name: &str) -> Dump {
    block_on(async {
        let table = h
            .list_tables(Family::Ipv4)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap();
        let chains = h.list_chains(Family::Ipv4, Some(name)).await.unwrap();
        let sets = h.list_sets(Family::Ipv4, Some(name)).await.unwrap();
        let mut elements = Vec::new();
        for s in &sets {
            elements.push(h.list_elements(Family::Ipv4, name, &s.name).await.unwrap());
        }
        let rules = h.list_rules(Family::Ipv4, name, None).await.unwrap();
        Dump {
            table,
            chains,
            sets,
            elements,
            rules,
        }
    })
}

#[test]
fn kernel_ruleset_as_json_matches_nft_and_is_built_again() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = NftHandle::in_netns(&ns).unwrap();
    let script = r#"
table ip svc {
    set backends {
        type ipv4_addr . inet_proto . inet_service
        flags timeout
        timeout 1h
        elements = { 10.200.3.2 . tcp . 80 timeout 0s, 10.200.3.3 . udp . 53 }
    }
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 10.96.0.10 tcp dport 80 counter packets 7 bytes 420 jump svc-web comment "web portal"
        ip daddr . meta l4proto . th dport @backends ct state established,related accept
    }
    chain svc-web {
        numgen inc mod 2 vmap { 0 : jump ep-a, 1 : jump ep-b }
    }
    chain ep-a {
        meta mark set mark or 0x4000 meta l4proto tcp dnat to 10.0.2.2:8080
    }
    chain ep-b {
        meta l4proto tcp dnat to 10.0.3.2:8080
    }
    chain post {
        type nat hook postrouting priority srcnat; policy drop;
        meta mark & 0x4000 == 0x4000 masquerade fully-random
    }
}
"#;
    let path = std::env::temp_dir().join(format!("serde-nft-{}.nft", std::process::id()));
    std::fs::write(&path, script).unwrap();
    nft(&ns, &["-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();

    let d = dump(&h, "svc");
    let json = serde_json::to_string(&d).unwrap();
    let ours: Value = serde_json::from_str(&json).unwrap();

    // What `nft -j` says, in our JSON.
    let theirs: Value = serde_json::from_str(&nft(&ns, &["-j", "list", "ruleset"])).unwrap();
    let items = theirs["nftables"].as_array().unwrap();
    let mut chains = 0;
    let mut rules = 0;
    for item in items {
        if let Some(t) = item.get("table") {
            assert_eq!(t["name"], ours["table"]["name"]);
            assert_eq!(t["family"], ours["table"]["family"]);
            assert_eq!(t["handle"], ours["table"]["handle"]);
        } else if let Some(c) = item.get("chain") {
            chains += 1;
            let mine = ours["chains"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == c["name"])
                .unwrap_or_else(|| panic!("{c} not in {json}"));
            assert_eq!(mine["handle"], c["handle"], "{c}");
            match c.get("hook") {
                Some(hook) => {
                    let b = &mine["base"];
                    assert_eq!(b["hook"], *hook, "{c}");
                    assert_eq!(b["chain_type"], c["type"], "{c}");
                    assert_eq!(b["priority"], c["prio"], "{c}");
                    assert_eq!(b["policy"], c["policy"], "{c}");
                }
                None => assert_eq!(mine["base"], Value::Null, "{c}"),
            }
        } else if let Some(s) = item.get("set") {
            let mine = &ours["sets"][0];
            assert_eq!(mine["name"], s["name"]);
            assert_eq!(mine["handle"], s["handle"]);
            assert_eq!(mine["timeout"], s["timeout"].as_u64().unwrap() * 1000);
            assert!(s["flags"].as_array().unwrap().contains(&json!("timeout")));
            assert!(
                mine["flags"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("timeout"))
            );
            assert_eq!(
                ours["elements"][0].as_array().unwrap().len(),
                s["elem"].as_array().unwrap().len()
            );
        } else if let Some(r) = item.get("rule") {
            rules += 1;
            let mine = ours["rules"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["handle"] == r["handle"])
                .unwrap_or_else(|| panic!("{r} not in {json}"));
            assert_eq!(mine["chain"], r["chain"], "{r}");
            let rule: Rule = serde_json::from_value(mine.clone()).unwrap();
            assert_eq!(
                rule.comment().as_deref(),
                r.get("comment").and_then(Value::as_str),
                "{r}"
            );
            if r.get("comment").is_some() {
                // the counter's values
                let counter = r["expr"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find_map(|e| e.get("counter"))
                    .unwrap();
                let ours_counter = mine["exprs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find_map(|e| e.get("counter"))
                    .unwrap();
                assert_eq!(ours_counter["packets"], counter["packets"], "{r}");
                assert_eq!(ours_counter["bytes"], counter["bytes"], "{r}");
            }
        }
    }
    assert_eq!(chains, ours["chains"].as_array().unwrap().len());
    assert_eq!(rules, ours["rules"].as_array().unwrap().len());
    assert_eq!(rules, 6);

    // Read back: the same listing (unknown attributes aside).
    let back: Dump = serde_json::from_str(&json).unwrap();
    let mut known = dump(&h, "svc");
    known.table.unknown.clear();
    known.chains.iter_mut().for_each(|c| c.unknown.clear());
    known.sets.iter_mut().for_each(|s| s.unknown.clear());
    known.rules.iter_mut().for_each(|r| r.unknown.clear());
    for e in known.elements.iter_mut().flatten() {
        e.unknown.clear();
        // counts down while the test runs
        e.expiration = None;
    }
    let mut back_cmp = serde_json::from_str::<Dump>(&json).unwrap();
    back_cmp
        .elements
        .iter_mut()
        .flatten()
        .for_each(|e| e.expiration = None);
    assert_eq!(back_cmp, known);

    // From the JSON alone, the same table again as `svc2`.
    let mut tx = Transaction::new();
    let mut table = back.table.clone();
    table.name = "svc2".into();
    table.handle = None;
    tx.add_table(&table);
    for c in &back.chains {
        let mut c = c.clone();
        c.table = "svc2".into();
        c.handle = None;
        tx.add_chain(&c);
    }
    for (s, elems) in back.sets.iter().zip(&back.elements) {
        let mut s = s.clone();
        s.table = "svc2".into();
        s.handle = None;
        tx.add_set(&s);
        let elems: Vec<SetElement> = elems
            .iter()
            .cloned()
            .map(|mut e| {
                e.expiration = None;
                e
            })
            .collect();
        tx.add_elements(&SetElements::new(Family::Ipv4, "svc2", &s.name, elems));
    }
    // Anonymous sets (the vmap) are part of the rules' listing in nft but
    // kernel sets of their own: the rules that use one name it; build them
    // too, from the same JSON.
    for r in &back.rules {
        let mut r = r.clone();
        r.table = "svc2".into();
        r.handle = None;
        r.position = None;
        tx.append_rule(&r);
    }
    block_on(h.commit(&tx)).unwrap();
    let norm = |name: &str| {
        nft(&ns, &["list", "table", "ip", name])
            .replace(&format!("table ip {name} "), "table ip X ")
            .lines()
            // an element's time left counts down
            .map(|l| l.split(" expires ").next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(norm("svc2"), norm("svc"));
}
