//! [`NftMonitor`] against this machine's kernel, in throwaway network
//! namespaces: changes made with the `nft` tool (and with this crate)
//! arrive as typed events, transaction by transaction, each closed by its
//! generation; nothing from another namespace.

use std::time::Duration;

use nftables_glue::*;
use nl_engine::Netns;

use clusterip_test_support::block_on;

fn nft_cmd(ns: &Netns, args: &[&str]) {
    let mut v = vec!["nft"];
    v.extend_from_slice(args);
    clusterip_test_support::sh(ns.proc_path(), &v);
}

/// The events of one transaction: up to and including its generation.
fn transaction(mon: &mut NftMonitor) -> (Vec<NftEvent>, Generation) {
    block_on(async {
        let mut events = Vec::new();
        loop {
            let e = tokio::time::timeout(Duration::from_secs(5), mon.next())
                .await
                .expect("an event within 5 s")
                .unwrap();
            match e {
                NftEvent::NewGen(g) => return (events, g),
                e => events.push(e),
            }
        }
    })
}

fn nothing_more(mon: &mut NftMonitor) {
    let r = block_on(async { tokio::time::timeout(Duration::from_millis(300), mon.next()).await });
    assert!(r.is_err(), "unexpected event {r:?}");
}

#[test]
fn nft_changes_arrive_as_typed_events() {
    let ns = Netns::new_anonymous().unwrap();
    let other = Netns::new_anonymous().unwrap();
    let mut mon = NftMonitor::in_netns(&ns).unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();

    // A change in another namespace is not seen.
    nft_cmd(&other, &["add", "table", "ip", "elsewhere"]);
    nothing_more(&mut mon);

    // One transaction from nft -f: table, chain, map, element, rule.
    let path = std::env::temp_dir().join(format!("nft-glue-mon-{}.nft", std::process::id()));
    std::fs::write(
        &path,
        "table ip t {
	map m {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.0.0.1 . tcp . 80 : goto c }
	}
	chain c {
		meta l4proto tcp dnat to 10.0.2.2:8080
	}
}
",
    )
    .unwrap();
    nft_cmd(&ns, &["-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let (events, g) = transaction(&mut mon);
    assert_eq!(g.process.as_deref(), Some("nft"));
    assert!(g.pid.is_some());
    assert_eq!(g.id, block_on(nft.generation()).unwrap());
    assert_eq!(events.len(), 5, "{events:#?}");
    let NftEvent::NewTable(t) = &events[0] else {
        panic!("{events:#?}")
    };
    assert_eq!((t.family, t.name.as_str()), (Family::Ipv4, "t"));
    let NftEvent::NewChain(c) = &events[1] else {
        panic!("{events:#?}")
    };
    assert_eq!((c.table.as_str(), c.name.as_str()), ("t", "c"));
    let NftEvent::NewSet(s) = &events[2] else {
        panic!("{events:#?}")
    };
    assert_eq!(s.name, "m");
    assert_eq!(s.map_data(), Some(MapData::Verdict));
    assert_eq!(s.key_type, KeyType::ipv4_proto_port());
    let NftEvent::NewSetElem(e) = &events[3] else {
        panic!("{events:#?}")
    };
    assert_eq!(e.set, "m");
    assert_eq!(
        e.elements,
        [SetElement::verdict(
            SetElement::service("10.0.0.1".parse().unwrap(), 6, 80).key,
            Verdict::Goto("c".into())
        )]
    );
    let NftEvent::NewRule(r) = &events[4] else {
        panic!("{events:#?}")
    };
    assert_eq!(r.chain, "c");
    let mut want = Expr::l4proto_is(6);
    want.extend(Expr::dnat_to("10.0.2.2:8080".parse().unwrap()));
    assert_eq!(r.exprs, want);
    let handle = r.handle.expect("the new rule's handle");
    for e in &events {
        assert_eq!(e.table(), Some("t"));
    }

    // A rule deleted by handle.
    nft_cmd(
        &ns,
        &[
            "delete",
            "rule",
            "ip",
            "t",
            "c",
            "handle",
            &handle.to_string(),
        ],
    );
    let (events, g2) = transaction(&mut mon);
    assert_eq!(g2.id, g.id.wrapping_add(1));
    assert!(
        matches!(&events[..], [NftEvent::DelRule(r)] if r.handle == Some(handle) && r.chain == "c"),
        "{events:#?}"
    );

    // An element deleted.
    nft_cmd(
        &ns,
        &[
            "delete",
            "element",
            "ip",
            "t",
            "m",
            "{ 10.0.0.1 . tcp . 80 }",
        ],
    );
    let (events, _) = transaction(&mut mon);
    assert!(
        matches!(&events[..], [NftEvent::DelSetElem(e)] if e.set == "m" && e.elements.len() == 1),
        "{events:#?}"
    );

    // The table deleted: its set, chain and itself.
    nft_cmd(&ns, &["delete", "table", "ip", "t"]);
    let (events, _) = transaction(&mut mon);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NftEvent::DelSet(s) if s.name == "m")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NftEvent::DelChain(c) if c.name == "c")),
        "{events:#?}"
    );
    assert!(
        matches!(events.last(), Some(NftEvent::DelTable(t)) if t.name == "t"),
        "{events:#?}"
    );
    nothing_more(&mut mon);
}

#[test]
fn drift_of_a_service_table_is_seen_and_repaired() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let mut mon = NftMonitor::for_handle(&nft).unwrap();
    let dp = ServiceDnat::new(vec![DnatService::tcp(
        "10.96.0.10:80".parse().unwrap(),
        vec!["10.0.2.2:8080".parse().unwrap()],
    )]);

    // Our own transaction: its events, with this thread as committer
    // (the kernel names the task: thread id and thread name).
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let (events, g) = transaction(&mut mon);
    let me = std::fs::read_link("/proc/thread-self").unwrap();
    let tid: u32 = me.file_name().unwrap().to_str().unwrap().parse().unwrap();
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    assert_eq!(g.pid, Some(tid));
    assert_eq!(g.process.as_deref(), Some(comm.trim_end()));
    assert!(events.iter().all(|e| e.table() == Some("clusterip-dnat")));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NftEvent::NewSet(s) if s.flags.contains(SetFlags::ANONYMOUS)))
    );

    // Someone flushes a service chain: the monitor says which, ensure repairs it.
    let chain = dp.services[0].service_chain();
    nft_cmd(&ns, &["flush", "chain", "ip", "clusterip-dnat", &chain]);
    let (events, g) = transaction(&mut mon);
    assert_eq!(g.process.as_deref(), Some("nft"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NftEvent::DelRule(r) if r.chain == chain)),
        "{events:#?}"
    );
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let (events, _) = transaction(&mut mon);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NftEvent::NewRule(r) if r.chain == chain)),
        "{events:#?}"
    );
    assert!(!block_on(dp.ensure(&nft)).unwrap());
    nothing_more(&mut mon);
}

#[test]
fn lost_notifications_are_reported_as_an_overrun() {
    use nftables_glue::netlink::{Config, Connection, Protocol};
    let ns = Netns::new_anonymous().unwrap();
    // A tiny receive buffer (the kernel rounds it up to its minimum).
    let config = Config::new().with_recv_buffer(1);
    let conn = Connection::open_with(Protocol::Netfilter, &ns, config).unwrap();
    let nft = NftHandle::with_connection(conn).unwrap();
    let mut mon = NftMonitor::for_handle(&nft).unwrap();
    // One transaction of 300 rules: far more notifications than fit.
    let mut text = String::from("table ip t {\n\tchain c {\n");
    for i in 0..300 {
        text.push_str(&format!(
            "\t\tip saddr 10.1.{}.{} accept\n",
            i / 250,
            i % 250
        ));
    }
    text.push_str("\t}\n}\n");
    let path = std::env::temp_dir().join(format!("nft-glue-overrun-{}.nft", std::process::id()));
    std::fs::write(&path, text).unwrap();
    nft_cmd(&ns, &["-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let got = block_on(async {
        let mut n = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), mon.next())
                .await
                .expect("an event or the overrun within 5 s")
            {
                Ok(_) => n += 1,
                Err(e) => return (n, e),
            }
        }
    });
    assert!(matches!(got.1, Error::Overrun { .. }), "{:?}", got.1);
    assert!(got.0 < 300, "{} events before the overrun", got.0);
    // What was queued before the loss is still delivered; then the
    // monitor goes on: the next change arrives, whole.
    block_on(async {
        while let Ok(r) = tokio::time::timeout(Duration::from_millis(300), mon.next()).await {
            if let Err(e) = r {
                assert!(matches!(e, Error::Overrun { .. }), "{e:?}");
            }
        }
    });
    nft_cmd(&ns, &["add", "table", "ip", "after"]);
    let (events, g) = transaction(&mut mon);
    assert!(
        matches!(&events[..], [NftEvent::NewTable(t)] if t.name == "after"),
        "{events:#?}"
    );
    assert_eq!(g.id, block_on(nft.generation()).unwrap());
}
