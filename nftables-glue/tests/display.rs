//! `Display` of the model types in `nft`'s syntax: offline, and against
//! `nft list` itself (in a throwaway network namespace): base chains the
//! tool creates, read back, display as the tool lists them.

use nftables_glue::{
    BaseChain, ChainFlags, ChainType, Command, DataType, ElementFlags, Family, Hook, KeyType,
    Netns, NftHandle, NftMessage, Policy, Priority, RawAttr, Set, SetFlags, Table, TableFlags,
    Transaction, Verdict,
};

#[test]
fn offline() {
    let base = BaseChain::new(ChainType::Nat, Hook::Prerouting, Priority::DSTNAT);
    assert_eq!(
        base.to_string(),
        "type nat hook prerouting priority dstnat; policy accept;"
    );
    let base = BaseChain::new(ChainType::Filter, Hook::Ingress, Priority(-155))
        .with_device("eth0")
        .with_policy(Policy::Drop);
    assert_eq!(
        base.to_string(),
        "type filter hook ingress device \"eth0\" priority mangle - 5; policy drop;"
    );
    assert_eq!(Priority(-100).to_string(), "-100");
    assert_eq!(Hook::Other(9).to_string(), "hook 9");
    assert_eq!(ChainType::Other("x".into()).to_string(), "x");
    assert_eq!(ChainFlags::BASE.to_string(), "base");
    assert_eq!(TableFlags::empty().to_string(), "none");
    assert_eq!(
        (TableFlags::DORMANT | TableFlags::OWNER).to_string(),
        "dormant,owner"
    );
    assert_eq!(
        Verdict::Jump("SERVICES".into()).to_string(),
        "jump SERVICES"
    );
    assert_eq!(Verdict::Other(3, None).to_string(), "verdict 3");
    assert_eq!(
        KeyType::ipv4_proto_port().to_string(),
        "ipv4_addr . inet_proto . inet_service"
    );
    assert_eq!(DataType::Other(5, 6).to_string(), "type 5");
    assert_eq!(
        (SetFlags::INTERVAL
            | SetFlags::TIMEOUT
            | SetFlags::CONCAT
            | SetFlags::from_bits_retain(0x10000))
        .to_string(),
        "interval,timeout,0x10000"
    );
    assert_eq!(SetFlags::ANONYMOUS.to_string(), "none");
    assert_eq!(ElementFlags::INTERVAL_END.to_string(), "interval_end");
    assert_eq!(
        Set::new(Family::Ipv4, "nat", "svc", KeyType::ipv4_proto_port()).to_string(),
        "set ip nat svc"
    );
    let t = Table::new(Family::Ipv4, "demo");
    assert_eq!(
        t.to_message(Command::NewTable).to_string(),
        format!(
            "newtable family 2 ({} bytes of attributes)",
            t.to_message(Command::NewTable).attrs.len()
        )
    );
    assert_eq!(
        NftMessage::batch(Command::BatchBegin).to_string(),
        "batch begin family 0 (0 bytes of attributes)"
    );
    let raw = RawAttr::new(0x8012, vec![1, 2]);
    assert_eq!(raw.to_string(), "attr 0x8012 (2 bytes: 0102)");
    let mut tx = Transaction::new();
    tx.add_table(&t).delete_table(&t);
    assert_eq!(
        tx.to_string(),
        format!("{}\n{}", tx.changes()[0], tx.changes()[1])
    );
    assert!(tx.changes()[0].to_string().contains("table ip demo"));
}

#[test]
fn base_chains_display_as_nft_lists_them() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let nft = |args: &[&str]| {
        let o = clusterip_test_support::nsenter(ns.proc_path())
            .arg("nft")
            .args(args)
            .output()
            .expect("run nsenter nft");
        assert!(
            o.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    nft(&["add", "table", "ip", "t"]);
    let chains = [
        ("filter", "input", "10", "accept"),
        ("nat", "output", "-100", "accept"),
        ("filter", "forward", "-200", "drop"),
        ("nat", "postrouting", "100", "accept"),
        ("filter", "prerouting", "-155", "accept"),
        ("route", "output", "50", "accept"),
        ("filter", "prerouting", "-290", "accept"),
        ("filter", "prerouting", "-289", "accept"),
        ("nat", "prerouting", "-95", "accept"),
        ("nat", "postrouting", "90", "drop"),
        ("filter", "input", "0", "accept"),
    ];
    for (i, (ty, hook, prio, policy)) in chains.iter().enumerate() {
        let spec = format!("{{ type {ty} hook {hook} priority {prio}; policy {policy}; }}");
        nft(&["add", "chain", "ip", "t", &format!("c{i}"), &spec]);
    }
    nft(&[
        "add",
        "set",
        "ip",
        "t",
        "s",
        "{ type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }",
    ]);
    let listed = nft(&["list", "table", "ip", "t"]);
    let sets = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let h = NftHandle::in_netns(&ns).unwrap();
            h.list_sets(Family::Ipv4, Some("t")).await.unwrap()
        });
    assert_eq!(sets.len(), 1);
    let s = &sets[0];
    assert_eq!(s.to_string(), "set ip t s");
    assert!(
        listed.contains(&format!("\t\ttype {}\n", s.key_type)),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("\t\tflags {}\n", s.flags)),
        "{listed}"
    );
    let ours = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let h = NftHandle::in_netns(&ns).unwrap();
            h.list_chains(Family::Ipv4, Some("t")).await.unwrap()
        });
    assert_eq!(ours.len(), chains.len());
    for c in &ours {
        let base = c.base.as_ref().expect("a base chain");
        // nft: "\tchain c3 {\n\t\ttype nat hook postrouting priority srcnat - 10; policy drop;\n\t}"
        let block = listed
            .split(&format!("chain {} {{", c.name))
            .nth(1)
            .unwrap_or_else(|| panic!("{} not in {listed}", c.name));
        let line = block.lines().nth(1).unwrap().trim();
        assert_eq!(base.to_string(), line, "chain {}", c.name);
    }
}
