//! The blocking nf_tables handle against this machine's own kernel, from
//! plain `#[test]`s with no Tokio runtime of their own, each in a throwaway
//! network namespace (the host's namespace is never touched). `nft` runs
//! inside the namespace with `nsenter` for the cross-checks.

use std::time::Duration;

use nftables_glue::blocking::NftHandle;
use nftables_glue::netlink::{Config, Connection, Netns, Protocol};
use nftables_glue::{
    Chain, ChainType, Error, Expr, Family, Hook, Member, Membership, MetaKey, Priority, Register,
    Rule, ServiceNat, Table, Transaction, Verdict,
};

/// Runs `nft` in `ns`; panics with its output on failure.
fn nft(ns: &Netns, args: &[&str]) -> String {
    let mut v = vec!["nft"];
    v.extend_from_slice(args);
    clusterip_test_support::sh(ns.proc_path(), &v)
}

/// The non-empty lines of `text`, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A table, a base chain, a regular chain and rules added with the
/// blocking handle, listed by it and by `nft`; what `nft` adds is listed by
/// the handle; the table is deleted.
#[test]
fn blocking_table_chain_rule_checked_by_nft() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "the test itself has no runtime"
    );
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = NftHandle::in_netns(&ns).unwrap();
    let f = Family::Inet;
    let generation = h.generation().unwrap();

    let mut tx = Transaction::new();
    tx.add_table(&Table::new(f, "t"))
        .add_chain(&Chain::base(
            f,
            "t",
            "c",
            ChainType::Filter,
            Hook::Input,
            Priority::FILTER,
        ))
        .add_chain(&Chain::regular(f, "t", "other"))
        .append_rule(
            &Rule::new(f, "t", "c")
                .with_exprs(vec![Expr::counter(), Expr::verdict(Verdict::Accept)])
                .with_comment("a")
                .unwrap(),
        )
        .append_rule(
            &Rule::new(f, "t", "c")
                .with_exprs(vec![
                    Expr::meta_load(MetaKey::L4Proto, Register::R1),
                    Expr::cmp_eq(Register::R1, vec![6]),
                    Expr::verdict(Verdict::Jump("other".into())),
                ])
                .with_comment("b")
                .unwrap(),
        );
    h.commit(&tx).unwrap();
    assert_ne!(h.generation().unwrap(), generation);

    // the handle lists them
    let tables = h.list_tables(Family::Unspec).unwrap();
    assert_eq!(
        tables
            .iter()
            .map(|t| (t.family, t.name.as_str()))
            .collect::<Vec<_>>(),
        [(f, "t")]
    );
    let chains = h.list_chains(f, Some("t")).unwrap();
    let c = chains.iter().find(|c| c.name == "c").expect("chain c");
    assert_eq!(c.base.as_ref().map(|b| b.hook), Some(Hook::Input));
    assert!(chains.iter().any(|c| c.name == "other" && c.base.is_none()));
    assert_eq!(chains.len(), 2);
    let rules = h.list_rules(f, "t", Some("c")).unwrap();
    assert_eq!(
        rules.iter().map(|r| r.comment()).collect::<Vec<_>>(),
        [Some("a".to_owned()), Some("b".to_owned())]
    );
    assert!(rules.iter().all(|r| r.handle.is_some()));

    // nft lists the same
    assert_eq!(
        lines(&nft(&ns, &["list", "ruleset"])),
        [
            "table inet t {",
            "chain c {",
            "type filter hook input priority filter; policy accept;",
            "counter packets 0 bytes 0 accept comment \"a\"",
            "meta l4proto tcp jump other comment \"b\"",
            "}",
            "chain other {",
            "}",
            "}",
        ]
    );

    // what nft adds, the handle lists
    nft(
        &ns,
        &[
            "add", "rule", "inet", "t", "other", "udp", "dport", "53", "drop",
        ],
    );
    nft(
        &ns,
        &["add", "set", "inet", "t", "s", "{ type ipv4_addr; }"],
    );
    nft(&ns, &["add", "element", "inet", "t", "s", "{ 10.0.0.7 }"]);
    let other = h.list_rules(f, "t", Some("other")).unwrap();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(
        matches!(
            other[0].exprs.last(),
            Some(Expr::Immediate(i)) if i.data == nftables_glue::Data::Verdict(Verdict::Drop)
        ),
        "{other:?}"
    );
    assert_eq!(h.list_rules(f, "t", None).unwrap().len(), 3);
    let sets = h.list_sets(f, Some("t")).unwrap();
    assert_eq!(
        sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["s"]
    );
    let elems = h.list_elements(f, "t", "s").unwrap();
    assert_eq!(elems.len(), 1);
    assert_eq!(elems[0].key, vec![10, 0, 0, 7]);

    // deleted: nothing left for nft
    let mut tx = Transaction::new();
    tx.delete_table(&Table::new(f, "t"));
    h.commit(&tx).unwrap();
    assert_eq!(nft(&ns, &["list", "ruleset"]), "");
    assert!(h.list_tables(Family::Unspec).unwrap().is_empty());
    // a refusal is the typed error, as from the async handle
    let e = h.commit(&tx).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

/// Futures over the async handle inside ([`ServiceNat::ensure`]) run with
/// the blocking handle's `block_on`.
#[test]
fn blocking_handle_runs_service_nat() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = NftHandle::in_netns(&ns).unwrap();
    let nat = ServiceNat::new(Membership::NativeSet {
        name: "ZGZ-CLUSTER-IP".into(),
        members: vec![Member::tcp("10.200.3.2".parse().unwrap(), 80)],
    });
    assert!(h.block_on(nat.ensure(h.handle())).unwrap());
    assert!(!h.block_on(nat.ensure(h.handle())).unwrap());
    let text = nft(
        &ns,
        &["list", "set", "ip", "zgz-services", "ZGZ-CLUSTER-IP"],
    );
    assert!(text.contains("10.200.3.2 . tcp . 80"), "{text}");
    assert!(
        h.list_chains(Family::Ipv4, Some("zgz-services"))
            .unwrap()
            .iter()
            .any(|c| c.name == "ZGZ-SERVICES")
    );
    assert!(h.block_on(nat.teardown(h.handle())).unwrap());
    assert_eq!(nft(&ns, &["list", "ruleset"]), "");
}

/// Refused, with an error and no panic, on a thread inside a Tokio
/// runtime; fine on other plain threads and again outside.
#[test]
fn blocking_handle_inside_a_runtime_and_across_threads() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = NftHandle::in_netns(&ns).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = h.list_tables(Family::Unspec).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("nftables_glue::blocking::NftHandle::list_tables: "),
            "{text}"
        );
        assert!(text.contains("inside a Tokio runtime"), "{text}");
        let mut tx = Transaction::new();
        tx.add_table(&Table::new(Family::Ipv4, "x"));
        assert!(h.commit(&tx).is_err());
        let e = NftHandle::new().unwrap_err();
        assert!(e.to_string().contains("inside a Tokio runtime"), "{e}");
        let e = h.block_on(async { Ok(()) }).unwrap_err();
        assert!(e.to_string().contains("inside a Tokio runtime"), "{e}");
    });
    // the refused commit sent nothing
    assert_eq!(nft(&ns, &["list", "ruleset"]), "");
    std::thread::scope(|s| {
        for i in 0..3 {
            let h = &h;
            s.spawn(move || {
                let mut tx = Transaction::new();
                tx.add_table(&Table::new(Family::Ipv4, format!("t{i}")));
                h.commit(&tx).unwrap();
            });
        }
    });
    assert_eq!(h.list_tables(Family::Ipv4).unwrap().len(), 3);
    assert_eq!(
        lines(&nft(&ns, &["list", "tables"])).len(),
        3,
        "{}",
        nft(&ns, &["list", "tables"])
    );
    rt.block_on(async move { drop(h) });
}

/// with_connection: a netfilter connection with its own timeout is used;
/// another protocol is refused.
#[test]
fn blocking_handle_over_a_given_connection() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let config = Config::new().with_timeout(Duration::from_secs(3));
    let conn = Connection::open_with(Protocol::Netfilter, &ns, config).unwrap();
    let h = NftHandle::with_connection(conn)
        .unwrap()
        .with_timeout(Duration::from_secs(4));
    assert_eq!(h.connection().config().timeout, Duration::from_secs(4));
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "given"));
    h.commit(&tx).unwrap();
    assert_eq!(nft(&ns, &["list", "ruleset"]), "table ip given {\n}\n");
    let route = Connection::open(Protocol::Route, &ns).unwrap();
    let e = NftHandle::with_connection(route).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
}
