//! The typed set types besides `hash:ip,port` (`hash:ip`, `hash:net`,
//! `hash:ip,port,ip`, `hash:ip,port,net`, `bitmap:port`) against this
//! machine's kernel and the real `ipset` tool (7.17), both ways, each test
//! in a throwaway network namespace:
//!
//! - created and filled by us: `ipset save` shows exactly the expected
//!   lines (written out here as the tool prints them);
//! - created and filled by the tool (`ipset restore` of those lines): we
//!   list the same typed members;
//! - test and del, one element and in bulk (thousands of elements), IPv4
//!   and IPv6 where the type has inet6, timeouts, comments, counters,
//!   skbinfo and `nomatch` where the type takes them.

use std::fmt::Display;

use ipset_nl::{
    BulkOptions, CreateSet, Family, IpEntry, IpPortIpEntry, IpPortNetEntry, IpProto, IpsetHandle,
    NetEntry, Netns, PortEntry, SetElement, SetType, TypedEntry,
};

use clusterip_test_support::block_on;

fn setup() -> (Netns, IpsetHandle) {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    (ns, h)
}

/// Runs the real ipset in the namespace; returns (success, stdout, stderr).
fn ipset(ns: &Netns, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut v = vec!["ipset"];
    v.extend_from_slice(args);
    clusterip_test_support::run(ns.proc_path(), &v, stdin)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn save_of(ns: &Netns, name: &str) -> (String, Vec<String>) {
    let (ok, out, err) = ipset(ns, &["save", name], None);
    assert!(ok, "ipset save {name}: {err}");
    let mut lines = out.lines().map(String::from);
    let create = lines.next().unwrap_or_default();
    (create, sorted(lines.collect()))
}

/// One type, both ways: `spec` and `members` made by us must save as
/// `create` and `adds` (the tool's text, `add NAME ` left out); the same
/// text restored by the tool must list as `members` (extensions included).
fn both_ways<E>(spec: CreateSet, create: &str, members: Vec<E>, adds: &[&str])
where
    E: SetElement + PartialEq + Display,
{
    let name = spec.name.clone();
    let want: Vec<String> = sorted(adds.iter().map(|a| format!("add {name} {a}")).collect());
    // Ours -> the tool.
    let (ns, h) = setup();
    block_on(async {
        h.create(&spec, false).await.unwrap();
        let r = h
            .add_many(&name, &members, BulkOptions::default())
            .await
            .unwrap();
        assert!(r.all_applied(), "{:?}", r.failures());
    });
    let (c, lines) = save_of(&ns, &name);
    assert_eq!(c, create);
    assert_eq!(lines, want);
    // Our listing reads back what we wrote, in the save form.
    let listed = block_on(h.list(Some(&name))).unwrap().remove(0);
    assert_eq!(listed.set_type, spec.set_type);
    let ours: Vec<E> = listed.members_as().unwrap();
    let mut shown: Vec<String> = ours.iter().map(|e| format!("add {name} {e:#}")).collect();
    shown.sort();
    assert_eq!(shown, want);
    drop((ns, h));

    // The tool -> ours.
    let (ns, h) = setup();
    let text = format!("{create}\n{}\n", want.join("\n"));
    let (ok, _, err) = ipset(&ns, &["restore"], Some(&text));
    assert!(ok, "ipset restore: {err}\n{text}");
    let set = block_on(h.list(Some(&name))).unwrap().remove(0);
    assert_eq!(set.set_type, spec.set_type);
    assert_eq!(set.family, spec.family);
    let mut got: Vec<E> = set.members_as().unwrap();
    let mut expect = members.clone();
    let by_text = |a: &E, b: &E| format!("{a:#}").cmp(&format!("{b:#}"));
    got.sort_by(by_text);
    expect.sort_by(by_text);
    assert_eq!(got, expect);
    // The same members as TypedEntry, and the header as created.
    let typed = set.typed_members().unwrap();
    assert_eq!(typed.len(), members.len());
    assert!(typed.iter().all(|t| t.set_type() == spec.set_type));
    assert_eq!(set.options.timeout, spec.options.timeout);
    assert_eq!(set.options.flags, spec.options.flags);
    // A set of another type refuses to be read as this one.
    assert!(set.members_as::<PortEntry>().is_err() || spec.set_type == SetType::BitmapPort);

    // test and del, ours and the tool's.
    // (the last member: none of the cases ends with a nomatch one, which
    // the kernel reports as not matching)
    let first = members[members.len() - 1].without_extensions();
    let text = first.to_string();
    block_on(async {
        assert!(h.test(&name, &first).await.unwrap());
        assert!(ipset(&ns, &["test", &name, &text], None).0);
        h.del(&name, &first, false).await.unwrap();
        assert!(!h.test(&name, &first).await.unwrap());
        assert!(!ipset(&ns, &["test", &name, &text], None).0);
        assert!(h.del(&name, &first, false).await.is_err());
        h.del(&name, &first, true).await.unwrap();
        let left = h.list(Some(&name)).await.unwrap().remove(0);
        assert_eq!(left.members.len(), members.len() - 1);
    });
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn hash_ip_v4_with_every_extension() {
    let spec = CreateSet::hash_ip("hip").options(|o| {
        o.timeout(10)
            .counters()
            .comment()
            .skbinfo()
            .hashsize(1024)
            .maxelem(100)
            .bucketsize(12)
            .initval(1)
    });
    both_ways(
        spec,
        "create hip hash:ip family inet hashsize 1024 maxelem 100 timeout 10 counters comment skbinfo bucketsize 12 initval 0x00000001",
        vec![
            IpEntry::new(ip("10.0.0.1"))
                .timeout(0)
                .counters(1, 2)
                .comment("x y")
                .skbmark(1, u32::MAX)
                .skbprio(1, 2)
                .skbqueue(3),
            IpEntry::new(ip("10.0.0.2"))
                .timeout(0)
                .counters(0, 0)
                .skbmark(0x10, 0xff),
        ],
        &[
            "10.0.0.1 timeout 0 packets 1 bytes 2 comment \"x y\" skbmark 0x1 skbprio 1:2 skbqueue 3",
            "10.0.0.2 timeout 0 packets 0 bytes 0 skbmark 0x10/0xff",
        ],
    );
}

#[test]
fn hash_ip_v6() {
    let spec = CreateSet::hash_ip("hip6")
        .family(Family::Inet6)
        .options(|o| o.comment().initval(2));
    both_ways(
        spec,
        "create hip6 hash:ip family inet6 hashsize 1024 maxelem 65536 comment bucketsize 12 initval 0x00000002",
        vec![
            IpEntry::new(ip("2001:db8::1")).comment("one"),
            IpEntry::new(ip("fe80::2")),
        ],
        &["2001:db8::1 comment \"one\"", "fe80::2"],
    );
}

#[test]
fn hash_ip_ranges_and_networks_become_addresses() {
    let (ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_ip("r").options(|o| o.initval(3)), false)
            .await
            .unwrap();
        h.add("r", &IpEntry::new(ip("10.0.0.8")).cidr(30), false)
            .await
            .unwrap();
        h.add(
            "r",
            &IpEntry::new(ip("10.0.1.1")).ip_to(ip("10.0.1.2")),
            false,
        )
        .await
        .unwrap();
    });
    let (_, lines) = save_of(&ns, "r");
    assert_eq!(
        lines,
        sorted(
            [
                "10.0.0.8",
                "10.0.0.9",
                "10.0.0.10",
                "10.0.0.11",
                "10.0.1.1",
                "10.0.1.2"
            ]
            .iter()
            .map(|a| format!("add r {a}"))
            .collect()
        )
    );
}

#[test]
fn hash_net_v4_v6_nomatch() {
    let spec = CreateSet::hash_net("n4").options(|o| o.timeout(5).counters().initval(4));
    both_ways(
        spec,
        "create n4 hash:net family inet hashsize 1024 maxelem 65536 timeout 5 counters bucketsize 12 initval 0x00000004",
        vec![
            NetEntry::new(ip("10.0.0.0"), 8).timeout(0).counters(0, 0),
            NetEntry::new(ip("192.168.1.0"), 24)
                .nomatch()
                .timeout(0)
                .counters(5, 6),
            NetEntry::host(ip("172.16.0.1")).timeout(0).counters(0, 0),
        ],
        &[
            "10.0.0.0/8 timeout 0 packets 0 bytes 0",
            "192.168.1.0/24 timeout 0 nomatch packets 5 bytes 6",
            "172.16.0.1 timeout 0 packets 0 bytes 0",
        ],
    );
    let spec = CreateSet::hash_net("n6")
        .family(Family::Inet6)
        .options(|o| o.comment().initval(5));
    both_ways(
        spec,
        "create n6 hash:net family inet6 hashsize 1024 maxelem 65536 comment bucketsize 12 initval 0x00000005",
        vec![
            NetEntry::new(ip("2001:db8::"), 64).nomatch().comment("n"),
            NetEntry::host(ip("2001:db8:1::1")),
        ],
        &["2001:db8::/64 nomatch comment \"n\"", "2001:db8:1::1"],
    );
}

#[test]
fn hash_net_range_becomes_networks() {
    let (ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_net("r").options(|o| o.initval(6)), false)
            .await
            .unwrap();
        h.add("r", &NetEntry::range(ip("10.0.0.0"), ip("10.0.0.5")), false)
            .await
            .unwrap();
    });
    let (_, lines) = save_of(&ns, "r");
    assert_eq!(
        lines,
        vec!["add r 10.0.0.0/30".to_string(), "add r 10.0.0.4/31".into()]
    );
}

#[test]
fn hash_ip_port_ip_v4_v6() {
    let spec = CreateSet::hash_ip_port_ip("ppi").options(|o| o.counters().initval(7));
    both_ways(
        spec,
        "create ppi hash:ip,port,ip family inet hashsize 1024 maxelem 65536 counters bucketsize 12 initval 0x00000007",
        vec![
            IpPortIpEntry::new(ip("10.0.0.1"), IpProto::Tcp, 80, ip("10.0.0.2")).counters(0, 0),
            IpPortIpEntry::new(ip("10.0.0.1"), IpProto::Udp, 53, ip("10.0.0.3")).counters(3, 4),
            IpPortIpEntry::new(ip("10.0.0.1"), IpProto::Sctp, 9, ip("10.0.0.1")).counters(0, 0),
        ],
        &[
            "10.0.0.1,tcp:80,10.0.0.2 packets 0 bytes 0",
            "10.0.0.1,udp:53,10.0.0.3 packets 3 bytes 4",
            "10.0.0.1,sctp:9,10.0.0.1 packets 0 bytes 0",
        ],
    );
    let spec = CreateSet::hash_ip_port_ip("ppi6")
        .family(Family::Inet6)
        .options(|o| o.timeout(9).initval(8));
    both_ways(
        spec,
        "create ppi6 hash:ip,port,ip family inet6 hashsize 1024 maxelem 65536 timeout 9 bucketsize 12 initval 0x00000008",
        vec![
            IpPortIpEntry::new(ip("2001:db8::1"), IpProto::Tcp, 443, ip("2001:db8::1")).timeout(0),
            IpPortIpEntry::new(ip("2001:db8::1"), IpProto::Udp, 443, ip("fd00::9")).timeout(0),
        ],
        &[
            "2001:db8::1,tcp:443,2001:db8::1 timeout 0",
            "2001:db8::1,udp:443,fd00::9 timeout 0",
        ],
    );
}

#[test]
fn hash_ip_port_net_v4_v6() {
    let spec = CreateSet::hash_ip_port_net("ppn").options(|o| o.timeout(7).comment().initval(9));
    both_ways(
        spec,
        "create ppn hash:ip,port,net family inet hashsize 1024 maxelem 65536 timeout 7 comment bucketsize 12 initval 0x00000009",
        vec![
            IpPortNetEntry::new(ip("10.0.0.1"), IpProto::Tcp, 80, ip("10.1.0.0"), 16)
                .nomatch()
                .timeout(0)
                .comment("c"),
            IpPortNetEntry::new(ip("10.0.0.1"), IpProto::Tcp, 81, ip("10.1.0.1"), 32).timeout(0),
        ],
        &[
            "10.0.0.1,tcp:80,10.1.0.0/16 timeout 0 nomatch comment \"c\"",
            "10.0.0.1,tcp:81,10.1.0.1 timeout 0",
        ],
    );
    let spec = CreateSet::hash_ip_port_net("ppn6")
        .family(Family::Inet6)
        .options(|o| o.skbinfo().initval(10));
    both_ways(
        spec,
        "create ppn6 hash:ip,port,net family inet6 hashsize 1024 maxelem 65536 skbinfo bucketsize 12 initval 0x0000000a",
        vec![
            IpPortNetEntry::new(ip("2001:db8::1"), IpProto::Udp, 53, ip("2001:db8:ff::"), 48)
                .skbqueue(2),
            IpPortNetEntry::new(ip("2001:db8::1"), IpProto::Udp, 54, ip("2001:db8:ff::"), 48),
        ],
        &[
            "2001:db8::1,udp:53,2001:db8:ff::/48 skbqueue 2",
            "2001:db8::1,udp:54,2001:db8:ff::/48",
        ],
    );
}

#[test]
fn bitmap_port_with_extensions() {
    let spec = CreateSet::bitmap_port("bp", 1, 1000)
        .options(|o| o.timeout(3).counters().comment().skbinfo());
    both_ways(
        spec,
        "create bp bitmap:port range 1-1000 timeout 3 counters comment skbinfo",
        vec![
            PortEntry::new(80).timeout(0).counters(0, 0),
            PortEntry::new(100).timeout(0).counters(0, 0).comment("r"),
            PortEntry::new(1000)
                .timeout(0)
                .counters(1, 1)
                .skbprio(0x10, 0x1f),
        ],
        &[
            "80 timeout 0 packets 0 bytes 0",
            "100 timeout 0 packets 0 bytes 0 comment \"r\"",
            "1000 timeout 0 packets 1 bytes 1 skbprio 10:1f",
        ],
    );
    // A port range becomes its ports; a port outside the range is refused.
    let (ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::bitmap_port("b", 10, 20), false)
            .await
            .unwrap();
        h.add("b", &PortEntry::new(11).port_to(13), false)
            .await
            .unwrap();
        assert!(h.add("b", &PortEntry::new(21), false).await.is_err());
        let set = h.list(Some("b")).await.unwrap().remove(0);
        assert_eq!(set.options.port_range, Some((10, 20)));
        assert_eq!(
            set.port_members().unwrap(),
            vec![PortEntry::new(11), PortEntry::new(12), PortEntry::new(13)]
        );
    });
    let (c, lines) = save_of(&ns, "b");
    assert_eq!(c, "create b bitmap:port range 10-20");
    assert_eq!(lines, ["add b 11", "add b 12", "add b 13"]);
}

#[test]
fn element_timeouts_count_down() {
    let (ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_net("t").options(|o| o.timeout(600)), false)
            .await
            .unwrap();
        h.add("t", &NetEntry::new(ip("10.0.0.0"), 8).timeout(300), false)
            .await
            .unwrap();
        h.add("t", &NetEntry::new(ip("11.0.0.0"), 8), false)
            .await
            .unwrap();
        let set = h.list(Some("t")).await.unwrap().remove(0);
        for n in set.net_members().unwrap() {
            let t = n.ext.timeout.unwrap().as_secs();
            let max = if n.ip == ip("10.0.0.0") { 300 } else { 600 };
            assert!(t <= max && t + 10 > max, "{n:#}");
        }
    });
    // The tool sees the same countdown (300 or a little less).
    let (_, lines) = save_of(&ns, "t");
    let left: u32 = lines
        .iter()
        .find_map(|l| l.strip_prefix("add t 10.0.0.0/8 timeout "))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(left <= 300 && left > 290, "{lines:?}");
}

/// Thousands of members of each type in bulk: added, all listed by the
/// tool, tested, half deleted, replaced.
#[test]
fn bulk_thousands_of_every_type() {
    const N: u32 = 4000;
    fn v4(i: u32) -> std::net::IpAddr {
        std::net::IpAddr::from((0x0a00_0000u32 + i).to_be_bytes())
    }
    fn v6(i: u32) -> std::net::IpAddr {
        std::net::IpAddr::from(std::net::Ipv6Addr::from(
            (0x2001_0db8u128 << 96) | u128::from(i),
        ))
    }
    fn run<E: SetElement + Display>(spec: CreateSet, make: impl Fn(u32) -> E) {
        let (ns, h) = setup();
        let name = spec.name.clone();
        let members: Vec<E> = (0..N).map(make).collect();
        block_on(async {
            h.create(&spec, false).await.unwrap();
            let r = h
                .add_many(&name, &members, BulkOptions::default())
                .await
                .unwrap();
            assert!(r.all_applied(), "{name}: {:?}", r.failures().first());
            assert!(r.messages < members.len() / 10, "{name}: {}", r.messages);
            let t = h.test_many(&name, &members[..100]).await.unwrap();
            assert!(t.all_applied());
        });
        let (_, lines) = save_of(&ns, &name);
        let want = sorted(
            members
                .iter()
                .map(|e| format!("add {name} {e:#}"))
                .collect(),
        );
        assert_eq!(lines, want, "{name}");
        block_on(async {
            let half = &members[..(N / 2) as usize];
            let r = h
                .del_many(&name, half, BulkOptions::default())
                .await
                .unwrap();
            assert!(r.all_applied());
            let set = h.list(Some(&name)).await.unwrap().remove(0);
            assert_eq!(set.typed_members().unwrap().len(), (N / 2) as usize);
            // Atomic replace with the first half again.
            h.replace(&spec, half).await.unwrap();
        });
        let (_, lines) = save_of(&ns, &name);
        assert_eq!(lines.len(), (N / 2) as usize, "{name}");
        assert!(lines.contains(&format!("add {name} {:#}", members[0])));
    }
    run(
        CreateSet::hash_ip("a").options(|o| o.maxelem(1 << 20)),
        |i| IpEntry::new(v4(i)),
    );
    run(CreateSet::hash_ip("a6").family(Family::Inet6), |i| {
        IpEntry::new(v6(i))
    });
    run(CreateSet::hash_net("n").options(|o| o.comment()), |i| {
        NetEntry::new(v4(i << 8), 24).comment(format!("n{i}"))
    });
    run(CreateSet::hash_net("n6").family(Family::Inet6), |i| {
        NetEntry::new(v6(i << 16), 112)
    });
    run(CreateSet::hash_ip_port_ip("ppi"), |i| {
        IpPortIpEntry::new(v4(1), IpProto::Tcp, i as u16 + 1, v4(i))
    });
    run(
        CreateSet::hash_ip_port_net("ppn6").family(Family::Inet6),
        |i| IpPortNetEntry::new(v6(1), IpProto::Udp, i as u16 + 1, v6(i << 8), 120),
    );
    run(
        CreateSet::bitmap_port("bp", 0, 65535).options(|o| o.timeout(100)),
        |i| PortEntry::new(i as u16).timeout(0),
    );
    // TypedEntry members, read back as TypedEntry.
    let (_ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_net("x"), false).await.unwrap();
        let typed: Vec<TypedEntry> = vec![
            NetEntry::new(v4(0), 8).into(),
            NetEntry::new(v4(1 << 24), 16).nomatch().into(),
        ];
        let r = h
            .add_many("x", &typed, BulkOptions::default())
            .await
            .unwrap();
        assert!(r.all_applied());
        let set = h.list(Some("x")).await.unwrap().remove(0);
        let mut got = set.typed_members().unwrap();
        got.sort_by_key(|e| e.to_string());
        assert_eq!(got, typed);
    });
}
