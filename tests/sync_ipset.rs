//! The ipset half of the declarative sync (`clusterip::sync`, the
//! `lb-sync` crate) on the host kernel, each test in its own throwaway
//! network namespace (root needed; a kernel without ipset makes them
//! fail): `hash:ip,port` through the desired state, and every other typed
//! set type (`hash:ip`, `hash:net`, `hash:ip,port,ip`, `hash:ip,port,net`,
//! `bitmap:port`) through the generic `Syncer::sync_sets`, checked with the
//! real `ipset` tool.

use std::collections::BTreeSet;
use std::net::IpAddr;

use clusterip::ipset::{
    BulkOptions, CreateSet, Family, IpEntry, IpPortEntry, IpPortIpEntry, IpPortNetEntry, IpProto,
    IpsetHandle, NetEntry, PortEntry, SetElement, TypedEntry,
};
use clusterip::netlink::Netns;
use clusterip::sync::{DesiredSet, DesiredState, SetStrategy, SyncOptions, Syncer};

mod common;
use common::block_on;

/// `ipset args` in `ns`, which must succeed; its stdout.
fn ipset(ns: &Netns, args: &[&str]) -> String {
    common::sh(ns, &[&["ipset"], args].concat())
}

/// The members as `ipset save` prints them.
fn saved(ns: &Netns, set: &str) -> BTreeSet<String> {
    ipset(ns, &["save", set])
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("add {set} ")))
        .map(str::to_owned)
        .collect()
}

fn members(range: std::ops::Range<u32>) -> Vec<IpPortEntry> {
    range
        .map(|i| {
            let ip = IpAddr::from([10, 96, (i / 250) as u8, (i % 250) as u8 + 1]);
            let proto = if i % 3 == 0 {
                IpProto::Udp
            } else {
                IpProto::Tcp
            };
            IpPortEntry::new(ip, proto, 80 + (i % 7) as u16)
        })
        .collect()
}

fn texts(m: &[IpPortEntry]) -> BTreeSet<String> {
    m.iter().map(ToString::to_string).collect()
}

fn setup() -> (Netns, Syncer) {
    let ns = Netns::new_anonymous().expect("new network namespace (root needed)");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    (ns, Syncer::ipset_only(h))
}

fn desired(name: &str, m: Vec<IpPortEntry>) -> DesiredState {
    DesiredState::new().with_sets(vec![DesiredSet::new(CreateSet::hash_ip_port(name), m)])
}

#[test]
fn creates_fills_then_noop() {
    let (ns, s) = setup();
    let m = members(0..2000);
    let d = desired("svc", m.clone());
    let r = block_on(s.sync(&d)).unwrap();
    assert!(r.is_converged());
    assert!(r.sets[0].created);
    assert_eq!(r.sets[0].added, 2000);
    assert_eq!(saved(&ns, "svc"), texts(&m));
    // a second sync lists the set and sends no change
    let conn = s.ipset().unwrap().connection();
    let before = conn.stats();
    let r = block_on(s.sync(&d)).unwrap();
    let after = conn.stats();
    assert!(r.is_noop(), "{r:?}");
    assert_eq!(
        after.messages_sent - before.messages_sent,
        1,
        "one list dump"
    );
}

#[test]
fn ten_percent_changed_and_foreign_sets_untouched() {
    let (ns, s) = setup();
    ipset(&ns, &["create", "other", "hash:ip,port"]);
    ipset(&ns, &["add", "other", "1.2.3.4,tcp:5"]);
    let r = block_on(s.sync(&desired("svc", members(0..1000)))).unwrap();
    assert!(r.is_converged());
    // 100 of 1000 replaced by others
    let m2 = members(100..1100);
    let r = block_on(s.sync(&desired("svc", m2.clone()))).unwrap();
    assert!(r.is_converged());
    assert_eq!((r.sets[0].added, r.sets[0].removed), (100, 100));
    assert!(!r.sets[0].created);
    assert_eq!(saved(&ns, "svc"), texts(&m2));
    assert_eq!(saved(&ns, "other").len(), 1);
}

#[test]
fn interrupted_sync_converges() {
    let (ns, s) = setup();
    let m = members(0..3000);
    // a previous run created the set and got a third of the members in,
    // plus one member that is no longer wanted
    let h = s.ipset().unwrap();
    block_on(h.create(&CreateSet::hash_ip_port("svc"), false)).unwrap();
    block_on(h.add_many("svc", &m[..1000], BulkOptions::default())).unwrap();
    ipset(&ns, &["add", "svc", "9.9.9.9,udp:53"]);
    let r = block_on(s.sync(&desired("svc", m.clone()))).unwrap();
    assert!(r.is_converged());
    assert!(!r.sets[0].created);
    assert_eq!((r.sets[0].added, r.sets[0].removed), (2000, 1));
    assert_eq!(saved(&ns, "svc"), texts(&m));
    assert!(block_on(s.sync(&desired("svc", m))).unwrap().is_noop());
}

#[test]
fn replace_strategy_swaps_atomically() {
    let (ns, s) = setup();
    let s = s.with_options(SyncOptions::new().sets(SetStrategy::Replace));
    block_on(s.sync(&desired("svc", members(0..500)))).unwrap();
    let m2 = members(250..900);
    let r = block_on(s.sync(&desired("svc", m2.clone()))).unwrap();
    assert!(r.sets[0].replaced);
    assert_eq!(r.sets[0].added, 650);
    assert_eq!(r.sets[0].removed, 250);
    assert_eq!(saved(&ns, "svc"), texts(&m2));
    // only the live set remains (the temporary one was destroyed)
    let names = ipset(&ns, &["list", "-n"]);
    assert_eq!(names.trim(), "svc");
    assert!(block_on(s.sync(&desired("svc", m2))).unwrap().is_noop());
}

#[test]
fn refused_members_are_reported() {
    let (_ns, s) = setup();
    // an IPv6 member in an IPv4 set is refused by the kernel
    let mut m = members(0..10);
    m.push(IpPortEntry::new(
        "2001:db8::1".parse().unwrap(),
        IpProto::Tcp,
        80,
    ));
    let r = block_on(s.sync(&desired("svc", m))).unwrap();
    assert!(!r.is_converged());
    assert_eq!(r.sets[0].failures.len(), 1);
    assert_eq!(r.sets[0].added, 10);
}

fn v4(i: u32) -> IpAddr {
    IpAddr::from((0x0a00_0000u32 + i).to_be_bytes())
}

fn v6(i: u32) -> IpAddr {
    IpAddr::from(std::net::Ipv6Addr::from(
        (0x2001_0db8u128 << 96) | u128::from(i),
    ))
}

fn texts_of<E: std::fmt::Display>(m: &[E]) -> BTreeSet<String> {
    m.iter().map(|e| format!("{e:#}")).collect()
}

/// One set of any typed type: created and filled, a tenth changed, then
/// nothing to do; `ipset save` shows exactly the desired members each time.
fn converge<E: SetElement>(spec: CreateSet, all: Vec<E>) {
    let (ns, s) = setup();
    let name = spec.name.clone();
    let n = all.len();
    let (first, second) = (&all[..n * 9 / 10], &all[n / 10..]);
    let want = |m: &[E]| vec![DesiredSet::new(spec.clone(), m.to_vec())];
    let r = block_on(s.sync_sets(&want(first))).unwrap();
    assert!(r[0].created && r[0].failures.is_empty(), "{name}: {r:?}");
    assert_eq!(r[0].added, first.len());
    assert_eq!(saved(&ns, &name), texts_of(first), "{name}");
    let r = block_on(s.sync_sets(&want(second))).unwrap();
    assert!(!r[0].created && r[0].failures.is_empty(), "{name}");
    assert_eq!((r[0].added, r[0].removed), (n / 10, n / 10), "{name}");
    assert_eq!(saved(&ns, &name), texts_of(second), "{name}");
    // Idempotent: one list dump, no change.
    let conn = s.ipset().unwrap().connection();
    let before = conn.stats().messages_sent;
    let (plan, r) = block_on(s.sync_set_planned(&want(second)[0])).unwrap();
    assert!(
        plan.is_empty() && r.added + r.removed == 0,
        "{name}: {plan:?}"
    );
    assert_eq!(conn.stats().messages_sent - before, 1, "{name}");
}

#[test]
fn every_typed_set_type_converges() {
    const N: u32 = 2000;
    converge(
        CreateSet::hash_ip("hip").options(|o| o.comment()),
        (0..N)
            .map(|i| IpEntry::new(v4(i)).comment(format!("n{i}")))
            .collect(),
    );
    converge(
        CreateSet::hash_ip("hip6").family(Family::Inet6),
        (0..N).map(|i| IpEntry::new(v6(i))).collect(),
    );
    converge(
        CreateSet::hash_net("net"),
        (0..N)
            .map(|i| {
                let e = NetEntry::new(v4(i << 8), 24);
                if i % 5 == 0 { e.nomatch() } else { e }
            })
            .collect(),
    );
    converge(
        CreateSet::hash_net("net6").family(Family::Inet6),
        (0..N).map(|i| NetEntry::new(v6(i << 16), 112)).collect(),
    );
    converge(
        CreateSet::hash_ip_port_ip("ppi"),
        (0..N)
            .map(|i| IpPortIpEntry::new(v4(1), IpProto::Tcp, i as u16 + 1, v4(i)))
            .collect(),
    );
    converge(
        CreateSet::hash_ip_port_net("ppn6").family(Family::Inet6),
        (0..N)
            .map(|i| IpPortNetEntry::new(v6(1), IpProto::Udp, 53, v6(i << 8), 120))
            .collect(),
    );
    converge(
        CreateSet::bitmap_port("ports", 1, 65535),
        (1..=N).map(|i| PortEntry::new(i as u16)).collect(),
    );
}

#[test]
fn hash_net_nomatch_flips_and_foreign_members_go() {
    let (ns, s) = setup();
    ipset(&ns, &["create", "nets", "hash:net", "timeout", "100"]);
    ipset(&ns, &["add", "nets", "10.0.0.0/8", "timeout", "0"]);
    ipset(&ns, &["add", "nets", "192.168.0.0/16", "timeout", "0"]);
    let want = vec![DesiredSet::new(
        CreateSet::hash_net("nets").options(|o| o.timeout(100)),
        vec![
            NetEntry::new(v4(0), 8).nomatch().timeout(0),
            NetEntry::new("172.16.0.0".parse().unwrap(), 12).timeout(0),
        ],
    )];
    let r = block_on(s.sync_sets(&want)).unwrap();
    assert!(r[0].failures.is_empty(), "{r:?}");
    assert_eq!((r[0].added, r[0].removed), (2, 2));
    assert_eq!(
        saved(&ns, "nets"),
        ["10.0.0.0/8 timeout 0 nomatch", "172.16.0.0/12 timeout 0"]
            .map(String::from)
            .into()
    );
    let again = block_on(s.sync_sets(&want)).unwrap();
    assert_eq!((again[0].added, again[0].removed), (0, 0));
}

#[test]
fn mixed_types_in_one_call_and_replace() {
    let (ns, s) = setup();
    let s = s.with_options(SyncOptions::new().sets(SetStrategy::Replace));
    let sets = |k: u32| -> Vec<DesiredSet<TypedEntry>> {
        vec![
            DesiredSet::new(
                CreateSet::hash_ip("ips"),
                (k..k + 300).map(|i| IpEntry::new(v4(i)).into()).collect(),
            ),
            DesiredSet::new(
                CreateSet::hash_net("nets"),
                (k..k + 300)
                    .map(|i| NetEntry::new(v4(i << 8), 24).into())
                    .collect(),
            ),
        ]
    };
    let r = block_on(s.sync_sets(&sets(0))).unwrap();
    assert!(r.iter().all(|r| r.created && r.added == 300));
    let r = block_on(s.sync_sets(&sets(100))).unwrap();
    assert!(r.iter().all(|r| r.replaced && r.removed == 100), "{r:?}");
    let ips: Vec<TypedEntry> = (100..400).map(|i| IpEntry::new(v4(i)).into()).collect();
    assert_eq!(saved(&ns, "ips"), texts_of(&ips));
    assert_eq!(saved(&ns, "nets").len(), 300);
    assert_eq!(
        ipset(&ns, &["list", "-n"]).lines().collect::<BTreeSet<_>>(),
        ["ips", "nets"].into()
    );
}

#[test]
fn a_set_of_another_type_is_refused() {
    let (ns, s) = setup();
    ipset(&ns, &["create", "x", "hash:ip"]);
    let want = vec![DesiredSet::new(
        CreateSet::hash_net("x"),
        vec![NetEntry::new(v4(0), 8)],
    )];
    let e = block_on(s.sync_sets(&want)).unwrap_err();
    assert!(e.to_string().contains("exists as hash:ip"), "{e}");
    // Members of the wrong type for the spec are refused before any change.
    let bad = vec![DesiredSet::new(
        CreateSet::hash_ip("y"),
        vec![NetEntry::new(v4(0), 8)],
    )];
    assert!(block_on(s.sync_sets(&bad)).is_err());
    assert_eq!(ipset(&ns, &["list", "-n"]).trim(), "x");
}
