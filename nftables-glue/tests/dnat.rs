//! [`ServiceDnat`] against this machine's kernel, every test in throwaway
//! network namespaces: the table as `nft` lists it, idempotence (a second
//! ensure sends no transaction), updates limited to the service changed,
//! drift repaired, teardown; and real TCP traffic through it: a client, a
//! "node" holding the table, two backends, connections to the VIP balanced
//! round robin, randomly or by weight, an endpoint taken out (weight 0,
//! removed), IPv4 and IPv6.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use nftables_glue::*;
use nl_engine::Netns;

use clusterip_test_support::dnat::{Addrs, Server, V4, V6, ask, ip, wire};

use clusterip_test_support::block_on;

fn tool(ns: &Netns, args: &[&str]) -> String {
    clusterip_test_support::sh(ns.proc_path(), args)
}

fn ruleset(ns: &Netns) -> String {
    tool(ns, &["nft", "list", "ruleset"])
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn two_services() -> ServiceDnat {
    ServiceDnat::new(vec![
        DnatService::tcp(
            sa("10.96.0.10:80"),
            vec![sa("10.0.2.2:8080"), sa("10.0.3.2:8080")],
        ),
        DnatService::udp(sa("10.96.0.11:53"), vec![]),
    ])
}

/// The table of [`two_services`], written for `nft -f`.
const TWO_SERVICES_NFT: &str = "table ip clusterip-dnat {
	map services {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.10 . tcp . 80 : goto service-8682A91C-tcp-80, 10.96.0.11 . udp . 53 : goto service-F6B895B3-udp-53 }
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @services
	}
	chain nat-output {
		type nat hook output priority -100; policy accept;
		ip daddr . meta l4proto . th dport vmap @services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00004000 masquerade
	}
	chain service-8682A91C-tcp-80 {
		numgen inc mod 2 vmap { 0 : goto endpoint-9CDDBEB3, 1 : goto endpoint-2B0D38CA }
	}
	chain endpoint-9CDDBEB3 {
		meta mark set meta mark | 0x00004000
		meta l4proto tcp dnat to 10.0.2.2:8080
	}
	chain endpoint-2B0D38CA {
		meta mark set meta mark | 0x00004000
		meta l4proto tcp dnat to 10.0.3.2:8080
	}
	chain service-F6B895B3-udp-53 {
		reject
	}
}
";

/// What `nft list ruleset` prints for it (after `ensure`, and after `nft
/// -f` of [`TWO_SERVICES_NFT`]).
const TWO_SERVICES_LISTED: &str = "table ip clusterip-dnat {
	map services {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.11 . udp . 53 : goto service-F6B895B3-udp-53,
			     10.96.0.10 . tcp . 80 : goto service-8682A91C-tcp-80 }
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @services
	}

	chain nat-output {
		type nat hook output priority -100; policy accept;
		ip daddr . meta l4proto . th dport vmap @services
	}

	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00004000 masquerade
	}

	chain service-8682A91C-tcp-80 {
		numgen inc mod 2 vmap { 0 : goto endpoint-9CDDBEB3, 1 : goto endpoint-2B0D38CA }
	}

	chain endpoint-9CDDBEB3 {
		meta mark set meta mark | 0x00004000
		meta l4proto tcp dnat to 10.0.2.2:8080
	}

	chain endpoint-2B0D38CA {
		meta mark set meta mark | 0x00004000
		meta l4proto tcp dnat to 10.0.3.2:8080
	}

	chain service-F6B895B3-udp-53 {
		reject
	}
}
";

#[test]
fn listed_as_nft_lists_the_same_table() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let dp = two_services();
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert_eq!(ruleset(&ns), TWO_SERVICES_LISTED);

    let reference = Netns::new_anonymous().unwrap();
    let path = std::env::temp_dir().join(format!("nft-glue-dnat-{}.nft", std::process::id()));
    std::fs::write(&path, TWO_SERVICES_NFT).unwrap();
    tool(&reference, &["nft", "-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(ruleset(&reference), TWO_SERVICES_LISTED);

    // The table nft made is the desired state too: nothing to do there.
    let theirs = NftHandle::in_netns(&reference).unwrap();
    assert!(block_on(dp.plan(&theirs)).unwrap().is_empty());
}

#[test]
fn ensure_is_idempotent_and_updates_touch_one_service() {
    let ns = Netns::new_anonymous().unwrap();
    // A bystander table, never touched.
    tool(&ns, &["nft", "add", "table", "inet", "bystander"]);
    let nft = NftHandle::in_netns(&ns).unwrap();
    let mut dp = two_services();
    let g0 = block_on(nft.generation()).unwrap();
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let g1 = block_on(nft.generation()).unwrap();
    assert_eq!(g1, g0.wrapping_add(1), "one transaction");

    // Second ensure: reads only. Every request it sent was a datagram of
    // one message (dumps and generation queries); a transaction is one
    // datagram of at least three (batch begin, change, batch end).
    let before = nft.connection().stats();
    assert!(!block_on(dp.ensure(&nft)).unwrap());
    let after = nft.connection().stats();
    let msgs = after.messages_sent - before.messages_sent;
    let dgrams = after.datagrams_sent - before.datagrams_sent;
    assert!(msgs > 0);
    assert_eq!(msgs, dgrams, "no batch sent by the second ensure");
    assert_eq!(block_on(nft.generation()).unwrap(), g1);
    let listing = ruleset(&ns);

    // One endpoint of the TCP service replaced: only its chains and its
    // anonymous map change; one transaction.
    let svc = dp.services[0].clone();
    let udp_chain = dp.services[1].service_chain();
    let handles = |nft: &NftHandle, chain: &str| -> Vec<u64> {
        block_on(nft.list_rules(Family::Ipv4, "clusterip-dnat", Some(chain)))
            .unwrap()
            .iter()
            .map(|r| r.handle.unwrap())
            .collect()
    };
    let untouched = [
        "nat-prerouting".to_string(),
        "nat-output".to_string(),
        "nat-postrouting".to_string(),
        udp_chain.clone(),
        svc.endpoint_chain(&sa("10.0.2.2:8080")),
    ];
    let kept: Vec<Vec<u64>> = untouched.iter().map(|c| handles(&nft, c)).collect();
    dp.services[0].endpoints[1] = sa("10.0.4.2:8080").into();
    let tx = block_on(dp.plan(&nft)).unwrap();
    let ours = [
        svc.service_chain(),
        svc.endpoint_chain(&sa("10.0.3.2:8080")),
        svc.endpoint_chain(&sa("10.0.4.2:8080")),
        "__map%d".to_string(),
    ];
    assert!(!tx.is_empty());
    for c in tx.changes() {
        assert!(
            ours.iter().any(|n| c.context.ends_with(&format!(" {n}"))),
            "{} touches something else than the service's chains",
            c.context
        );
    }
    block_on(nft.commit(&tx)).unwrap();
    assert_eq!(block_on(nft.generation()).unwrap(), g1.wrapping_add(1));
    assert!(!block_on(dp.ensure(&nft)).unwrap(), "converged");
    let now: Vec<Vec<u64>> = untouched.iter().map(|c| handles(&nft, c)).collect();
    assert_eq!(now, kept, "rules of other chains not replaced");
    let text = ruleset(&ns);
    assert!(text.contains("dnat to 10.0.4.2:8080"), "{text}");
    assert!(!text.contains("10.0.3.2"), "{text}");
    assert_ne!(text, listing);

    // A service removed: its map element and chains go, nothing else.
    dp.services.remove(1);
    let tx = block_on(dp.plan(&nft)).unwrap();
    for c in tx.changes() {
        assert!(
            c.context.ends_with(&format!(" {udp_chain}"))
                || c.context.ends_with(" clusterip-dnat services"),
            "{}",
            c.context
        );
    }
    block_on(nft.commit(&tx)).unwrap();
    assert!(!ruleset(&ns).contains("udp"));

    // Drift: someone else removes the map element and adds a chain; the
    // next ensure repairs exactly that.
    tool(
        &ns,
        &[
            "nft",
            "delete",
            "element",
            "ip",
            "clusterip-dnat",
            "services",
            "{ 10.96.0.10 . tcp . 80 }",
        ],
    );
    tool(
        &ns,
        &["nft", "add", "chain", "ip", "clusterip-dnat", "stray"],
    );
    let tx = block_on(dp.plan(&nft)).unwrap();
    let contexts: Vec<&str> = tx.changes().iter().map(|c| c.context.as_str()).collect();
    assert_eq!(
        contexts,
        [
            "flush chain ip clusterip-dnat stray",
            "add 1 element(s) to set ip clusterip-dnat services",
            "delete chain ip clusterip-dnat stray",
        ]
    );
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert!(!block_on(dp.ensure(&nft)).unwrap());

    // Teardown: the table goes, the bystander stays.
    assert!(block_on(dp.teardown(&nft)).unwrap());
    assert_eq!(ruleset(&ns), "table inet bystander {\n}\n");
    assert!(!block_on(dp.teardown(&nft)).unwrap());
}

#[test]
fn a_plan_made_stale_by_another_commit_is_refused() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let dp = two_services();
    let tx = block_on(dp.plan(&nft)).unwrap();
    assert_eq!(tx.generation(), Some(block_on(nft.generation()).unwrap()));
    // Someone else commits in between.
    tool(&ns, &["nft", "add", "table", "inet", "other"]);
    let err = block_on(nft.commit(&tx)).unwrap_err();
    assert!(Transaction::is_stale(&err), "{err:?}");
    assert_eq!(ruleset(&ns), "table inet other {\n}\n", "nothing applied");
    // ensure computes afresh and converges.
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert!(!block_on(dp.ensure(&nft)).unwrap());
    // An up-to-date plan bound to the current generation commits.
    let mut dp2 = two_services();
    dp2.services.pop();
    let tx = block_on(dp2.plan(&nft)).unwrap();
    block_on(nft.commit(&tx)).unwrap();
    assert!(!ruleset(&ns).contains("udp"));
}

#[test]
fn inet_table_serves_both_families() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let mut dp = two_services();
    dp.family = Family::Inet;
    dp.services.push(DnatService::tcp(
        sa("[fd00:96::10]:80"),
        vec![sa("[fd00:2::2]:8080")],
    ));
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert!(!block_on(dp.ensure(&nft)).unwrap());
    let text = ruleset(&ns);
    for want in [
        "map services6 {",
        "type ipv6_addr . inet_proto . inet_service : verdict",
        "ip6 daddr . meta l4proto . th dport vmap @services6",
        "meta l4proto tcp dnat ip to 10.0.2.2:8080",
        "meta l4proto tcp dnat ip6 to [fd00:2::2]:8080",
        "numgen inc mod 1 vmap { 0 : goto endpoint-",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    // A family mismatch is refused before anything is sent.
    dp.family = Family::Ipv4;
    assert!(matches!(
        block_on(dp.ensure(&nft)),
        Err(Error::InvalidInput { .. })
    ));
}

// ---------------------------------------------------------------- traffic

fn sock(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// client -- node -- backend-1 / backend-2 (veth pairs); the node holds
/// the table and forwards. Each backend answers its own name on port 8080.
fn balances_connections(family: Family, a: &Addrs) {
    let client = Netns::new_anonymous().unwrap();
    let node = Netns::new_anonymous().unwrap();
    let b1 = Netns::new_anonymous().unwrap();
    let b2 = Netns::new_anonymous().unwrap();
    for ns in [&client, &node, &b1, &b2] {
        ip(ns.proc_path(), "link set lo up");
    }
    let (client_p, node_p) = (client.proc_path(), node.proc_path());
    wire(&client_p, &node_p, &b1.proc_path(), &b2.proc_path(), a);
    // The node's own connections need a route for the VIP before DNAT
    // (the output hook runs after the routing decision): any will do.
    ip(&node_p, &format!("{} route add default via {}", a.ip, a.b1));
    node.run(|| std::fs::write(a.forwarding, "1"))
        .unwrap()
        .unwrap();

    let _s1 = Server::start(b1.proc_path(), sock(a.b1, 8080), "backend-1");
    let _s2 = Server::start(b2.proc_path(), sock(a.b2, 8080), "backend-2");
    // The backends answer directly.
    assert_eq!(ask(&client_p, sock(a.b1, 8080)), "backend-1");
    assert_eq!(ask(&client_p, sock(a.b2, 8080)), "backend-2");

    let nft = NftHandle::in_netns(&node).unwrap();
    let vip = sock(a.vip, 80);
    let mut dp = ServiceDnat::new(vec![DnatService::tcp(
        vip,
        vec![sock(a.b1, 8080), sock(a.b2, 8080)],
    )]);
    dp.family = family;
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert!(!block_on(dp.ensure(&nft)).unwrap());

    // Round robin: strictly alternating, both backends.
    let answers: Vec<String> = (0..8).map(|_| ask(&client_p, vip)).collect();
    for w in answers.windows(2) {
        assert_ne!(w[0], w[1], "not alternating: {answers:?}");
    }
    assert!(answers.iter().any(|x| x == "backend-1"), "{answers:?}");
    assert!(answers.iter().any(|x| x == "backend-2"), "{answers:?}");
    // From the node itself (the output hook) too.
    let own: Vec<String> = (0..2).map(|_| ask(&node_p, vip)).collect();
    assert_ne!(own[0], own[1], "{own:?}");

    // Random: both backends within 24 connections (all on one: 2^-23).
    dp.balance = Balance::Random;
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert!(ruleset(&node).contains("numgen random mod 2 vmap"));
    let answers: Vec<String> = (0..24).map(|_| ask(&client_p, vip)).collect();
    assert!(answers.iter().any(|x| x == "backend-1"), "{answers:?}");
    assert!(answers.iter().any(|x| x == "backend-2"), "{answers:?}");

    // Weighted round robin (IPVS wrr): 2 to 1, interleaved.
    dp.balance = Balance::RoundRobin;
    dp.services[0].endpoints[0].weight = 2;
    assert!(block_on(dp.ensure(&nft)).unwrap());
    assert!(ruleset(&node).contains("numgen inc mod 3 vmap"));
    let answers: Vec<String> = (0..6).map(|_| ask(&client_p, vip)).collect();
    let ones = answers.iter().filter(|x| *x == "backend-1").count();
    assert_eq!(ones, 4, "{answers:?}");
    for w in answers.windows(2) {
        assert!(w[0] == "backend-1" || w[1] == "backend-1", "{answers:?}");
    }

    // Weight 0: no new connections to backend 2.
    dp.services[0].endpoints[1].weight = 0;
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let answers: Vec<String> = (0..4).map(|_| ask(&client_p, vip)).collect();
    assert_eq!(answers, ["backend-1"; 4]);

    // Back to equal weights, then endpoint 2 removed: everything to
    // backend 1.
    dp.services[0].endpoints[0].weight = 1;
    dp.services[0].endpoints[1].weight = 1;
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let answers: Vec<String> = (0..2).map(|_| ask(&client_p, vip)).collect();
    assert_ne!(answers[0], answers[1]);
    dp.services[0].endpoints.pop();
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let answers: Vec<String> = (0..4).map(|_| ask(&client_p, vip)).collect();
    assert_eq!(answers, ["backend-1"; 4]);

    // No endpoint: refused at once (ICMP port unreachable, not a timeout).
    dp.services[0].endpoints.clear();
    assert!(block_on(dp.ensure(&nft)).unwrap());
    let err = client
        .run(move || TcpStream::connect_timeout(&vip, Duration::from_secs(5)).unwrap_err())
        .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");

    // Torn down: the VIP is nobody's.
    assert!(block_on(dp.teardown(&nft)).unwrap());
    assert_eq!(ruleset(&node), "");
}

#[test]
fn balances_connections_ipv4() {
    balances_connections(Family::Ipv4, &V4);
}

#[test]
fn balances_connections_ipv6() {
    balances_connections(Family::Ipv6, &V6);
}
