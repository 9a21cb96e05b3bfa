//! nftables-glue against this machine's own kernel, every test in
//! throwaway network namespaces (the host's namespace is never touched).
//! Reference tools (`nft`, `ipset`, `ip`) run inside the namespaces with
//! `nsenter` for cross-checks only.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use nftables_glue::*;
use nl_engine::Netns;

use clusterip_test_support::block_on;

fn tool(ns: &Netns, args: &[&str]) -> String {
    clusterip_test_support::sh(ns.proc_path(), args)
}

/// The kernel drops a deleted rule's reference to an ipset after the
/// commit, asynchronously: destroying the set right after teardown may
/// still find it in use for a moment.
fn destroy_ipset(ns: &Netns, name: &str) {
    for _ in 0..50 {
        let st = clusterip_test_support::nsenter(ns.proc_path())
            .args(["ipset", "destroy", name])
            .output()
            .unwrap();
        if st.status.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("ipset {name} still in use 5 s after teardown");
}

fn ruleset(ns: &Netns) -> String {
    tool(ns, &["nft", "list", "ruleset"])
}

fn members() -> Vec<Member> {
    vec![
        Member::tcp("10.200.3.2".parse().unwrap(), 80),
        Member::udp("10.200.3.3".parse().unwrap(), 53),
    ]
}

fn native() -> ServiceNat {
    ServiceNat::new(Membership::NativeSet {
        name: "ZGZ-CLUSTER-IP".into(),
        members: members(),
    })
}

/// The same ruleset written for `nft -f` (reference for the native-set case).
const NATIVE_NFT: &str = r#"table ip zgz-services {
	set ZGZ-CLUSTER-IP {
		type ipv4_addr . inet_proto . inet_service
		elements = { 10.200.3.2 . tcp . 80, 10.200.3.3 . udp . 53 }
	}
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		jump ZGZ-SERVICES comment "zgz service portals"
	}
	chain OUTPUT {
		type nat hook output priority -100; policy accept;
		jump ZGZ-SERVICES comment "zgz service portals"
	}
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		jump ZGZ-SERVICES-POSTROUTING comment "zgz postrouting rules"
	}
	chain ZGZ-SERVICES {
		ip daddr . meta l4proto . th dport @ZGZ-CLUSTER-IP jump ZGZ-SERVICES-MARK-MASQ comment "zgz service cluster ip + port for masquerade purpose"
	}
	chain ZGZ-SERVICES-MARK-MASQ {
		meta mark set meta mark | 0x00002000
	}
	chain ZGZ-SERVICES-POSTROUTING {
		meta mark & 0x00002000 == 0x00002000 masquerade comment "zgz service traffic requiring SNAT"
	}
}
"#;

/// A table that was there before and must survive teardown untouched.
fn add_bystander(ns: &Netns) {
    tool(ns, &["nft", "add", "table", "inet", "bystander"]);
    tool(
        ns,
        &[
            "nft",
            "add",
            "chain",
            "inet",
            "bystander",
            "input",
            "{ type filter hook input priority 0; }",
        ],
    );
    tool(
        ns,
        &[
            "nft",
            "add",
            "rule",
            "inet",
            "bystander",
            "input",
            "tcp",
            "dport",
            "22",
            "accept",
        ],
    );
}

fn table_text(full: &str, header: &str) -> String {
    let start = full
        .find(header)
        .unwrap_or_else(|| panic!("no {header} in:\n{full}"));
    let rest = &full[start..];
    let end = rest.find("\n}\n").unwrap() + 3;
    rest[..end].to_string()
}

#[test]
fn service_nat_native_set_ensure_idempotent_teardown() {
    let ns = Netns::new_anonymous().unwrap();
    add_bystander(&ns);
    let before = ruleset(&ns);
    let nft = NftHandle::in_netns(&ns).unwrap();
    let nat = native();
    assert!(block_on(nat.ensure(&nft)).unwrap());

    // The listing is exactly what nft prints for the same ruleset loaded by nft itself.
    let reference = Netns::new_anonymous().unwrap();
    let path = std::env::temp_dir().join(format!("nft-glue-ref-{}.nft", std::process::id()));
    std::fs::write(&path, NATIVE_NFT).unwrap();
    tool(&reference, &["nft", "-f", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let after = ruleset(&ns);
    let ours = table_text(&after, "table ip zgz-services {");
    assert_eq!(ours, ruleset(&reference));
    assert!(
        ours.contains("jump ZGZ-SERVICES comment \"zgz service portals\""),
        "{ours}"
    );
    assert!(
        ours.contains("type ipv4_addr . inet_proto . inet_service"),
        "{ours}"
    );
    assert!(after.contains("table inet bystander"), "{after}");

    // Second run: nothing sent, nothing changed (same generation, same text).
    let generation = block_on(nft.generation()).unwrap();
    assert!(!block_on(nat.ensure(&nft)).unwrap());
    assert_eq!(block_on(nft.generation()).unwrap(), generation);
    assert_eq!(ruleset(&ns), after);

    // A changed membership is applied in one transaction, and converges again.
    let mut nat2 = nat.clone();
    nat2.membership = Membership::NativeSet {
        name: "ZGZ-CLUSTER-IP".into(),
        members: vec![Member::tcp("10.200.3.9".parse().unwrap(), 443)],
    };
    assert!(block_on(nat2.ensure(&nft)).unwrap());
    let g2 = block_on(nft.generation()).unwrap();
    assert_eq!(
        g2,
        generation.wrapping_add(1),
        "one transaction, one generation"
    );
    assert!(ruleset(&ns).contains("10.200.3.9 . tcp . 443"));
    assert!(!block_on(nat2.ensure(&nft)).unwrap());

    assert!(block_on(nat2.teardown(&nft)).unwrap());
    assert_eq!(ruleset(&ns), before);
    assert!(!block_on(nat2.teardown(&nft)).unwrap());
}

#[test]
fn service_nat_ipset_membership_ensure_idempotent_teardown() {
    let ns = Netns::new_anonymous().unwrap();
    tool(&ns, &["ipset", "create", "OTHER", "hash:ip"]);
    tool(&ns, &["ipset", "create", "ZGZ-CLUSTER-IP", "hash:ip,port"]);
    tool(
        &ns,
        &["ipset", "add", "ZGZ-CLUSTER-IP", "10.200.3.2,tcp:80"],
    );
    assert_eq!(ipset_nl::index_of(&ns, "ZGZ-CLUSTER-IP").unwrap(), Some(1));
    assert_eq!(ipset_nl::index_of(&ns, "OTHER").unwrap(), Some(0));
    assert_eq!(ipset_nl::index_of(&ns, "NOPE").unwrap(), None);
    add_bystander(&ns);
    let before = ruleset(&ns);
    let nft = NftHandle::in_netns(&ns).unwrap();
    let nat = ServiceNat::new(Membership::Ipset {
        name: "ZGZ-CLUSTER-IP".into(),
    });
    assert!(block_on(nat.ensure(&nft)).unwrap());
    let after = ruleset(&ns);
    let ours = table_text(&after, "table ip zgz-services {");
    let expected = NATIVE_NFT
        .replace(
            "\tset ZGZ-CLUSTER-IP {\n\t\ttype ipv4_addr . inet_proto . inet_service\n\t\telements = { 10.200.3.2 . tcp . 80, 10.200.3.3 . udp . 53 }\n\t}\n",
            "",
        )
        .replace("ip daddr . meta l4proto . th dport @ZGZ-CLUSTER-IP", "xt match set")
        .replace("}\n\tchain", "}\n\n\tchain");
    assert_eq!(ours, expected);
    // The compat match carries the ipset's index, typed on read-back.
    let rules =
        block_on(nft.list_rules(Family::Ipv4, "zgz-services", Some("ZGZ-SERVICES"))).unwrap();
    assert_eq!(rules.len(), 1);
    match &rules[0].exprs[0] {
        Expr::Match(Match::Set(m)) => {
            assert_eq!(m.index, 1);
            assert_eq!(
                m.directions,
                vec![compat::Direction::Dst, compat::Direction::Dst]
            );
        }
        e => panic!("{e:?}"),
    }
    // The ipset is now referenced by the rule: ipset refuses to destroy it.
    let st = clusterip_test_support::nsenter(ns.proc_path())
        .args(["ipset", "destroy", "ZGZ-CLUSTER-IP"])
        .output()
        .unwrap();
    assert!(!st.status.success());

    let generation = block_on(nft.generation()).unwrap();
    assert!(!block_on(nat.ensure(&nft)).unwrap());
    assert_eq!(block_on(nft.generation()).unwrap(), generation);
    assert_eq!(ruleset(&ns), after);

    assert!(block_on(nat.teardown(&nft)).unwrap());
    assert_eq!(ruleset(&ns), before);
    destroy_ipset(&ns, "ZGZ-CLUSTER-IP");
}

#[test]
fn service_nat_needs_the_ipset() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let nat = ServiceNat::new(Membership::Ipset {
        name: "ZGZ-CLUSTER-IP".into(),
    });
    let e = block_on(nat.ensure(&nft)).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("ZGZ-CLUSTER-IP"), "{e}");
    assert_eq!(ruleset(&ns), "");
}

#[test]
fn transaction_is_atomic_and_names_the_failing_object() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "t1"))
        .add_chain(&Chain::regular(Family::Ipv4, "t1", "ok"))
        .add_chain(&Chain::regular(Family::Ipv4, "missing-table", "c"));
    let e = block_on(nft.commit(&tx)).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string().contains("add chain ip missing-table c"),
        "{e}"
    );
    // Nothing of the batch was applied.
    assert!(
        block_on(nft.list_tables(Family::Unspec))
            .unwrap()
            .is_empty()
    );
    assert_eq!(ruleset(&ns), "");
    // create (EXCL) of an existing table is refused.
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "t1"));
    block_on(nft.commit(&tx)).unwrap();
    let mut tx = Transaction::new();
    tx.create_table(&Table::new(Family::Ipv4, "t1"));
    let e = block_on(nft.commit(&tx)).unwrap_err();
    assert!(matches!(e, Error::Exists { .. }), "{e:?}");
}

#[test]
fn rules_append_insert_replace_delete_by_handle() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let f = Family::Inet;
    let rule = |comment: &str, exprs: Vec<Expr>| {
        Rule::new(f, "t", "c")
            .with_exprs(exprs)
            .with_comment(comment)
            .unwrap()
    };
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
        .append_rule(&rule(
            "a",
            vec![Expr::counter(), Expr::verdict(Verdict::Accept)],
        ))
        .append_rule(&rule(
            "b",
            vec![Expr::verdict(Verdict::Jump("other".into()))],
        ));
    block_on(nft.commit(&tx)).unwrap();
    let rs = block_on(nft.list_rules(f, "t", Some("c"))).unwrap();
    assert_eq!(
        rs.iter().map(|r| r.comment().unwrap()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let (ha, hb) = (rs[0].handle.unwrap(), rs[1].handle.unwrap());

    let mut states = Expr::ct_state_in(CtState::ESTABLISHED | CtState::RELATED);
    states.push(Expr::verdict(Verdict::Accept));
    let mut replacement = rule(
        "d",
        vec![
            Expr::meta_load(MetaKey::NfProto, Register::R1),
            Expr::cmp_eq(Register::R1, vec![2]),
            Expr::verdict(Verdict::Goto("other".into())),
        ],
    );
    replacement.handle = Some(hb);
    let mut del = Rule::new(f, "t", "c");
    del.handle = Some(ha);
    let mut tx = Transaction::new();
    tx.insert_rule(&rule("c", states))
        .replace_rule(&replacement)
        .delete_rule(&del)
        .append_rule(&rule("e", vec![Expr::verdict(Verdict::Return)]))
        .append_rule(&rule(
            "f",
            vec![
                Expr::meta_load(MetaKey::L4Proto, Register::R1),
                Expr::cmp_eq(Register::R1, vec![6]),
                Expr::verdict(Verdict::Drop),
            ],
        ));
    block_on(nft.commit(&tx)).unwrap();
    let rs = block_on(nft.list_rules(f, "t", Some("c"))).unwrap();
    assert_eq!(
        rs.iter().map(|r| r.comment().unwrap()).collect::<Vec<_>>(),
        ["c", "d", "e", "f"]
    );
    assert_eq!(rs[1].handle, Some(hb));
    assert!(
        rs.iter()
            .flat_map(|r| &r.exprs)
            .all(|e| !matches!(e, Expr::Raw(_))),
        "{rs:?}"
    );
    let text = tool(&ns, &["nft", "list", "chain", "inet", "t", "c"]);
    let body: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        body,
        [
            "table inet t {",
            "chain c {",
            "type filter hook input priority filter; policy accept;",
            "ct state established,related accept comment \"c\"",
            "meta nfproto ipv4 goto other comment \"d\"",
            "return comment \"e\"",
            "meta l4proto tcp drop comment \"f\"",
            "}",
            "}",
        ]
    );
    // Chains and tables read back typed.
    let chains = block_on(nft.list_chains(f, Some("t"))).unwrap();
    let c = chains.iter().find(|c| c.name == "c").unwrap();
    assert_eq!(c.base.as_ref().unwrap().hook, Hook::Input);
    assert!(chains.iter().any(|c| c.name == "other" && c.base.is_none()));
    let mut tx = Transaction::new();
    tx.delete_table(&Table::new(f, "t"));
    block_on(nft.commit(&tx)).unwrap();
    assert_eq!(ruleset(&ns), "");
}

#[test]
fn sets_with_timeouts_and_concatenated_keys() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let f = Family::Ipv6;
    let mut s =
        Set::new(f, "t", "svc6", KeyType::ipv6_proto_port()).with_timeout(Duration::from_secs(300));
    s.userdata = Some(Set::nft_concat_userdata());
    let mut e1 = SetElement::service("fd00:200::1".parse().unwrap(), 6, 443);
    e1.timeout = Some(Duration::from_secs(60));
    let e2 = SetElement::service("fd00:200::2".parse().unwrap(), 17, 53);
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(f, "t"))
        .add_set(&s)
        .add_elements(&SetElements::new(
            f,
            "t",
            "svc6",
            vec![e1.clone(), e2.clone()],
        ));
    block_on(nft.commit(&tx)).unwrap();
    let sets = block_on(nft.list_sets(f, Some("t"))).unwrap();
    assert_eq!(sets.len(), 1);
    assert!(sets[0].same_definition(&s), "{:?}", sets[0]);
    assert!(sets[0].flags.contains(SetFlags::TIMEOUT));
    let mut els = block_on(nft.list_elements(f, "t", "svc6")).unwrap();
    els.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(els.len(), 2);
    assert_eq!(els[0].key, e1.key);
    assert_eq!(els[0].timeout, Some(Duration::from_secs(60)));
    assert_eq!(els[1].key, e2.key);
    // The set's default timeout applies: the element expires within 300 s.
    assert!(
        els[1]
            .expiration
            .is_some_and(|e| e <= Duration::from_secs(300) && e > Duration::from_secs(240)),
        "{:?}",
        els[1]
    );
    let text = tool(&ns, &["nft", "list", "set", "ip6", "t", "svc6"]);
    assert!(
        text.contains("type ipv6_addr . inet_proto . inet_service"),
        "{text}"
    );
    assert!(text.contains("timeout 5m"), "{text}");
    assert!(
        text.contains("fd00:200::1 . tcp . 443 timeout 1m"),
        "{text}"
    );
    assert!(text.contains("fd00:200::2 . udp . 53 expires"), "{text}");
    // Delete one element, then the set and the table.
    let mut tx = Transaction::new();
    tx.delete_elements(&SetElements::new(f, "t", "svc6", vec![e1]));
    block_on(nft.commit(&tx)).unwrap();
    assert_eq!(
        block_on(nft.list_elements(f, "t", "svc6")).unwrap().len(),
        1
    );
    let mut tx = Transaction::new();
    tx.flush_set(&s)
        .delete_set(&s)
        .delete_table(&Table::new(f, "t"));
    block_on(nft.commit(&tx)).unwrap();
    assert_eq!(ruleset(&ns), "");
}

// ---------------------------------------------------------------- packets

fn ip(ns: &Netns, args: &str) {
    let v: Vec<&str> = std::iter::once("ip")
        .chain(args.split_whitespace())
        .collect();
    tool(ns, &v);
}

/// Accepts one connection on `port` in `ns` and returns the peer address it saw.
fn serve_once(ns: &Netns, addr: &str, port: u16) -> std::thread::JoinHandle<IpAddr> {
    let ns = ns.clone();
    let bind = SocketAddr::new(addr.parse().unwrap(), port);
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        ns.run(move || {
            let l = TcpListener::bind(bind).unwrap();
            tx.send(()).unwrap();
            l.set_nonblocking(false).unwrap();
            let (mut s, peer) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            s.write_all(b"pong").unwrap();
            peer.ip()
        })
        .unwrap()
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    h
}

fn connect(ns: &Netns, to: &str) {
    let to: SocketAddr = to.parse().unwrap();
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"pong");
    })
    .unwrap();
}

/// The addresses of the masquerade topology for one family.
struct Topology {
    family: Family,
    /// `ip` option selecting the family (`-4`, `-6`)
    ip: &'static str,
    client: &'static str,
    router_client_side: &'static str,
    router_server_side: &'static str,
    server: &'static str,
    prefix: u8,
    /// the router's forwarding sysctl
    forwarding: &'static str,
    /// `ipset create` family option
    ipset_family: &'static str,
}

const V4: Topology = Topology {
    family: Family::Ipv4,
    ip: "-4",
    client: "10.200.1.2",
    router_client_side: "10.200.1.1",
    router_server_side: "10.200.2.1",
    server: "10.200.2.2",
    prefix: 24,
    forwarding: "/proc/sys/net/ipv4/ip_forward",
    ipset_family: "inet",
};

const V6: Topology = Topology {
    family: Family::Ipv6,
    ip: "-6",
    client: "fd00:200:1::2",
    router_client_side: "fd00:200:1::1",
    router_server_side: "fd00:200:2::1",
    server: "fd00:200:2::2",
    prefix: 64,
    forwarding: "/proc/sys/net/ipv6/conf/all/forwarding",
    ipset_family: "inet6",
};

fn sockaddr(ip: &str, port: u16) -> String {
    SocketAddr::new(ip.parse().unwrap(), port).to_string()
}

/// client -- router -- server, joined by veth pairs. The router runs the
/// service NAT chains (table of `t.family`) with the server's port 8080 as
/// the only member: a connection to it reaches the server from the
/// router's address (masqueraded), one to port 8081 keeps the client's
/// address. Then the same with the ipset membership, 8081 the member.
fn masquerades_member_traffic_only(t: &Topology) {
    let client = Netns::new_anonymous().unwrap();
    let router = Netns::new_anonymous().unwrap();
    let server = Netns::new_anonymous().unwrap();
    ip(
        &client,
        &format!(
            "link add vc type veth peer name vrc netns {}",
            router.proc_path()
        ),
    );
    ip(
        &server,
        &format!(
            "link add vs type veth peer name vrs netns {}",
            router.proc_path()
        ),
    );
    // nodad: IPv6 addresses usable at once (no duplicate detection wait)
    let nodad = if t.family == Family::Ipv6 {
        " nodad"
    } else {
        ""
    };
    let addr = |ns: &Netns, a: &str, dev: &str| {
        ip(
            ns,
            &format!("{} addr add {a}/{} dev {dev}{nodad}", t.ip, t.prefix),
        );
    };
    addr(&client, t.client, "vc");
    ip(&client, "link set vc up");
    ip(&client, "link set lo up");
    ip(
        &client,
        &format!("{} route add default via {}", t.ip, t.router_client_side),
    );
    addr(&server, t.server, "vs");
    ip(&server, "link set vs up");
    ip(&server, "link set lo up");
    ip(
        &server,
        &format!("{} route add default via {}", t.ip, t.router_server_side),
    );
    addr(&router, t.router_client_side, "vrc");
    addr(&router, t.router_server_side, "vrs");
    ip(&router, "link set vrc up");
    ip(&router, "link set vrs up");
    router
        .run(|| std::fs::write(t.forwarding, "1"))
        .unwrap()
        .unwrap();
    let (masqueraded, kept): (IpAddr, IpAddr) = (
        t.router_server_side.parse().unwrap(),
        t.client.parse().unwrap(),
    );

    let nft = NftHandle::in_netns(&router).unwrap();
    let mut nat = ServiceNat::new(Membership::NativeSet {
        name: "ZGZ-CLUSTER-IP".into(),
        members: vec![Member::tcp(t.server.parse().unwrap(), 8080)],
    });
    nat.family = t.family;
    // The chains made (a second ensure changes nothing); a connection to
    // `member` masqueraded, one to `other` not.
    let check = |nat: &ServiceNat, member: u16, other: u16| {
        assert!(block_on(nat.ensure(&nft)).unwrap());
        assert!(
            !block_on(nat.ensure(&nft)).unwrap(),
            "second ensure: no change"
        );
        let h = serve_once(&server, t.server, member);
        connect(&client, &sockaddr(t.server, member));
        assert_eq!(
            h.join().unwrap(),
            masqueraded,
            "member {member}: masqueraded"
        );
        let h = serve_once(&server, t.server, other);
        connect(&client, &sockaddr(t.server, other));
        assert_eq!(h.join().unwrap(), kept, "non-member {other}: address kept");
    };
    check(&nat, 8080, 8081);

    // Same with the ipset membership (the seeds' design).
    assert!(block_on(nat.teardown(&nft)).unwrap());
    tool(
        &router,
        &[
            "ipset",
            "create",
            "ZGZ-CLUSTER-IP",
            "hash:ip,port",
            "family",
            t.ipset_family,
        ],
    );
    let member = format!("{},tcp:8081", t.server);
    tool(&router, &["ipset", "add", "ZGZ-CLUSTER-IP", &member]);
    nat.membership = Membership::Ipset {
        name: "ZGZ-CLUSTER-IP".into(),
    };
    check(&nat, 8081, 8080);
    assert!(block_on(nat.teardown(&nft)).unwrap());
    destroy_ipset(&router, "ZGZ-CLUSTER-IP");
}

#[test]
fn masquerades_member_traffic_only_ipv4() {
    masquerades_member_traffic_only(&V4);
}

#[test]
fn masquerades_member_traffic_only_ipv6() {
    masquerades_member_traffic_only(&V6);
}

#[test]
fn handle_over_a_given_connection() {
    use nftables_glue::netlink::{Config, Connection, Protocol};
    let ns = Netns::new_anonymous().unwrap();
    let config = Config::new().with_timeout(Duration::from_secs(3));
    let conn = Connection::open_with(Protocol::Netfilter, &ns, config).unwrap();
    let nft = NftHandle::with_connection(conn).unwrap();
    assert_eq!(nft.connection().config().timeout, Duration::from_secs(3));
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "given"));
    block_on(nft.commit(&tx)).unwrap();
    assert_eq!(ruleset(&ns), "table ip given {\n}\n");
    // A connection of another protocol is refused up front, named.
    let route = Connection::open(Protocol::Route, &ns).unwrap();
    let e = NftHandle::with_connection(route).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("nf_tables handle"), "{e}");
}
