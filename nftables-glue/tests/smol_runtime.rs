//! The async nf_tables handle and monitor driven by smol's executor
//! (async-io's `block_on` and reactor), with no Tokio runtime anywhere in
//! this test process, against this machine's own kernel in a throwaway
//! network namespace (the host's namespace is never touched). `nft` runs
//! inside the namespace with `nsenter` for the cross-checks.
//!
//! Built only with the `smol` feature (alone, `--no-default-features
//! --features smol`, or with the default `tokio` too: Tokio is then used
//! only where a Tokio runtime is current, and here none ever is).

use std::process::Command;
use std::time::Duration;

use async_io::block_on;
use nftables_glue::netlink::Netns;
use nftables_glue::{
    Chain, ChainType, Error, Expr, Family, Hook, MetaKey, NftEvent, NftHandle, NftMonitor,
    Priority, Register, Rule, Table, Transaction, Verdict,
};

/// Runs `nft` in `ns`; panics with its output on failure.
fn nft(ns: &Netns, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg("nft")
        .args(args)
        .output()
        .expect("run nsenter nft");
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The non-empty lines of `text`, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn assert_send<T: Send>(_: &T) {}

/// Every future used below is `Send` under this build's features too
/// (checked by the compiler: the futures are made, never polled).
fn futures_are_send(h: &NftHandle, mon: &mut NftMonitor, tx: &Transaction) {
    let f = Family::Inet;
    assert_send(&h.commit(tx));
    assert_send(&h.generation());
    assert_send(&h.list_tables(f));
    assert_send(&h.list_chains(f, Some("t")));
    assert_send(&h.list_rules(f, "t", Some("c")));
    assert_send(&h.list_sets(f, Some("t")));
    assert_send(&h.list_elements(f, "t", "s"));
    assert_send(&mon.next());
}

/// A table, a base chain and rules committed under smol, listed back by
/// the handle and by `nft`, seen by a monitor (a multicast subscription on
/// async-io's reactor), what `nft` adds listed by the handle, the table
/// deleted.
#[test]
fn smol_table_chain_rule_checked_by_nft() {
    let _ = futures_are_send;
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "no Tokio runtime in this test"
    );
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let f = Family::Inet;
    block_on(async {
        let h = NftHandle::in_netns(&ns).unwrap();
        let mut mon = NftMonitor::for_handle(&h).unwrap();
        let generation = h.generation().await.unwrap();

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
        h.commit(&tx).await.unwrap();
        assert_ne!(h.generation().await.unwrap(), generation);

        // the monitor sees the new table first, within a bounded wait
        // (async-io's timer)
        let first = futures_lite::future::or(async { Some(mon.next().await) }, async {
            async_io::Timer::after(Duration::from_secs(5)).await;
            None
        })
        .await
        .expect("a notification within 5 s")
        .unwrap();
        assert!(
            matches!(&first, NftEvent::NewTable(t) if t.name == "t"),
            "{first:?}"
        );

        // the handle lists them
        let tables = h.list_tables(Family::Unspec).await.unwrap();
        assert_eq!(
            tables
                .iter()
                .map(|t| (t.family, t.name.as_str()))
                .collect::<Vec<_>>(),
            [(f, "t")]
        );
        let chains = h.list_chains(f, Some("t")).await.unwrap();
        assert_eq!(chains.len(), 2);
        let c = chains.iter().find(|c| c.name == "c").expect("chain c");
        assert_eq!(c.base.as_ref().map(|b| b.hook), Some(Hook::Input));
        let rules = h.list_rules(f, "t", Some("c")).await.unwrap();
        assert_eq!(
            rules.iter().map(|r| r.comment()).collect::<Vec<_>>(),
            [Some("a".to_owned()), Some("b".to_owned())]
        );

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
        assert_eq!(h.list_rules(f, "t", Some("other")).await.unwrap().len(), 1);
        assert_eq!(h.list_rules(f, "t", None).await.unwrap().len(), 3);
        let elems = h.list_elements(f, "t", "s").await.unwrap();
        assert_eq!(elems.len(), 1);
        assert_eq!(elems[0].key, vec![10, 0, 0, 7]);

        // deleted: nothing left for nft; a refusal is the typed error
        let mut tx = Transaction::new();
        tx.delete_table(&Table::new(f, "t"));
        h.commit(&tx).await.unwrap();
        assert_eq!(nft(&ns, &["list", "ruleset"]), "");
        assert!(h.list_tables(Family::Unspec).await.unwrap().is_empty());
        let e = h.commit(&tx).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    });
}
