//! The ipset half of the declarative sync (`clusterip::sync`) on the host
//! kernel, each test in its own throwaway network namespace (root needed;
//! a kernel without ipset makes them fail).

use std::collections::BTreeSet;
use std::net::IpAddr;

use clusterip::ipset::{BulkOptions, CreateSet, IpPortEntry, IpProto, IpsetHandle};
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
    DesiredState {
        sets: vec![DesiredSet::new(CreateSet::hash_ip_port(name), m)],
        ..Default::default()
    }
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
    let s = s.with_options(SyncOptions {
        sets: SetStrategy::Replace,
        ..Default::default()
    });
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
