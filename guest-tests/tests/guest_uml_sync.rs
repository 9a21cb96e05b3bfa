//! The declarative sync engine (`clusterip::sync`) against a real IPVS:
//! run inside the user-mode-linux guest (`tools/guest --kernel uml`),
//! never on a host without IPVS. Built only with the `guest` feature of
//! this package (clusterip-guest-tests):
//!
//! ```text
//! cargo test -p clusterip-guest-tests --features guest --test guest_uml_sync --no-run
//! tools/guest --kernel uml -- target/.../guest_uml_sync-HASH --test-threads=1
//! ```
//!
//! Every test makes its own network namespace (with `lo` up), so nothing is
//! left behind; a kernel without IPVS makes them fail.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use clusterip::ipvs::{
    Destination, IpvsHandle, Scheduler, Service, ServiceEntry, ServiceKey, Timeouts, Weight,
};
use clusterip::netlink::Netns;
use clusterip::sync::{Change, DesiredState, Graceful, Ownership, SyncOptions, Syncer, plan};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::{block_on, netns_with_ipvs, sh};

fn syncer(h: &IpvsHandle) -> Syncer {
    Syncer::ipvs_only(h.clone())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `n` services x 4 masquerading destinations, port `port`.
fn state(n: usize, port: u16) -> Vec<(Service, Vec<Destination>)> {
    (0..n)
        .map(|i| {
            let s = Service::tcp(SocketAddr::new(
                IpAddr::from([10, 1, (i / 250) as u8, (i % 250) as u8 + 1]),
                port,
            ))
            .scheduler(Scheduler::RoundRobin);
            let ds = (0..4u8)
                .map(|j| {
                    Destination::new(
                        IpAddr::from([192, 168, j, (i % 250) as u8 + 1]),
                        8000 + (i / 250) as u16,
                    )
                    .masquerade()
                })
                .collect();
            (s, ds)
        })
        .collect()
}

fn snapshot(h: &IpvsHandle) -> Vec<ServiceEntry> {
    common::uninterrupted(|| block_on(h.snapshot()))
}

/// The kernel holds exactly `want`: the reference `ipvsadm -Sn` lists
/// every service and destination of it, with scheduler, method and weight,
/// and nothing else (an oracle independent of the planner under test).
fn assert_holds(ns: &Netns, want: &[(Service, Vec<Destination>)]) {
    common::assert_ipvsadm_lists(ns, want);
}

#[test]
fn from_empty_then_noop_resync_sends_no_change() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    let want = state(300, 80);
    let s = syncer(&h);
    let desired = DesiredState::new().with_services(want.clone());
    let before = h.connection().stats();
    let r = block_on(s.sync(&desired)).unwrap();
    let after = h.connection().stats();
    assert!(r.is_converged(), "{:?}", r.failed);
    assert_eq!(r.applied.len(), 300 * 5);
    assert_eq!(r.rounds, 1);
    // batched: far fewer datagrams than operations (the service dump is one)
    assert!(
        after.datagrams_sent - before.datagrams_sent < 40,
        "{before:?} -> {after:?}"
    );
    assert_holds(&ns, &want);

    // the second sync reads (one service dump on the handle's connection;
    // the destination dumps go over the snapshot's own connections) and
    // sends nothing
    let before = h.connection().stats();
    let r = block_on(s.sync(&desired)).unwrap();
    let after = h.connection().stats();
    assert!(r.is_noop(), "{:?}", r.applied);
    assert_eq!(r.changes(), 0);
    // reads only: one service dump, or, when it spanned several datagrams,
    // repeated until two reads agree (more when tests in other namespaces
    // change their services meanwhile: IPVS's table is global)
    let sent = after.messages_sent - before.messages_sent;
    let most = u64::from(h.connection().config().dump_retries) + 2;
    assert!((1..=most).contains(&sent), "{sent} messages");
    assert_eq!(after.datagrams_sent - before.datagrams_sent, sent);
}

#[test]
fn ten_percent_changed() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    let mut want = state(200, 80);
    let s = syncer(&h);
    let r = block_on(s.sync_services(&want)).unwrap();
    assert!(r.is_converged());
    // 10% of the services change: 5 deleted, 5 added, 5 rescheduled,
    // 5 with one destination replaced and one re-weighted
    want.drain(0..5);
    want.extend(state(205, 80).into_iter().skip(200));
    for (svc, _) in want.iter_mut().skip(10).take(5) {
        *svc = svc.clone().scheduler(Scheduler::WeightedLeastConnection);
    }
    for (svc, ds) in want.iter_mut().skip(20).take(5) {
        let _ = svc;
        ds[0] = Destination::new(ip("172.16.0.1"), 9000).masquerade();
        ds[1].weight = Weight(7);
    }
    let r = block_on(s.sync_services(&want)).unwrap();
    assert!(r.is_converged(), "{:?}", r.failed);
    let count = |f: fn(&Change) -> bool| r.applied.iter().filter(&f).count();
    assert_eq!(count(|c| matches!(c, Change::DeleteService(_))), 5);
    assert_eq!(count(|c| matches!(c, Change::AddService(_))), 5);
    assert_eq!(count(|c| matches!(c, Change::EditService(_))), 5);
    // 5 new services x 4, plus 5 replacement destinations
    assert_eq!(count(|c| matches!(c, Change::AddDestination(..))), 25);
    assert_eq!(count(|c| matches!(c, Change::EditDestination(..))), 5);
    // the replaced destinations are idle: deleted at once
    assert_eq!(count(|c| matches!(c, Change::DeleteDestination(..))), 5);
    assert_eq!(r.applied.len(), 50);
    assert_holds(&ns, &want);
    assert!(block_on(s.sync_services(&want)).unwrap().is_noop());
}

#[test]
fn graceful_termination_with_live_udp_connections() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    for cmd in [
        "ip link add v0 type veth peer name v1",
        "ip link set v0 up",
        "ip link set v1 up",
        "ip addr add 192.168.7.1/24 dev v0",
        "ip addr add 10.0.0.1/32 dev lo",
    ] {
        sh(&ns, &cmd.split(' ').collect::<Vec<_>>());
    }
    // UDP connection entries expire after 3 s
    block_on(h.set_timeouts(&Timeouts {
        udp: Duration::from_secs(3),
        ..Default::default()
    }))
    .unwrap();
    let svc = Service::udp("10.0.0.1:9999".parse().unwrap()).scheduler(Scheduler::RoundRobin);
    let keep = Destination::new(ip("192.168.7.2"), 7777).masquerade();
    let leave = Destination::new(ip("192.168.7.3"), 7777).masquerade();
    let s = syncer(&h);
    let both = vec![(svc.clone(), vec![keep.clone(), leave.clone()])];
    assert!(block_on(s.sync_services(&both)).unwrap().is_converged());
    // traffic from several client ports: round robin gives both
    // destinations connections
    ns.run(|| {
        for _ in 0..4 {
            let c = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            c.send_to(b"hello", "10.0.0.1:9999").unwrap();
        }
    })
    .unwrap();
    let conns = |d: &Destination| {
        block_on(h.destinations(&svc.key))
            .unwrap()
            .into_iter()
            .find(|x| x.addr == d.addr)
            .map(|x| (x.weight, x.active_conns + x.inactive_conns))
    };
    let (_, busy) = conns(&leave).unwrap();
    assert!(busy > 0, "no connection on the leaving destination");

    // it leaves the desired state: weight 0, kept
    let one = vec![(svc.clone(), vec![keep.clone()])];
    let r = block_on(s.sync_services(&one)).unwrap();
    assert_eq!(r.applied.len(), 1, "{:?}", r.applied);
    assert!(
        matches!(r.applied.iter().next(), Some(Change::EditDestination(_, d)) if d.ip() == leave.addr)
    );
    assert_eq!(r.draining.len(), 1);
    assert_eq!(conns(&leave).unwrap().0, Weight(0));
    // while it is busy, syncs send nothing and keep it
    let r = block_on(s.sync_services(&one)).unwrap();
    assert!(r.applied.is_empty() && r.draining.len() == 1);
    assert!(conns(&leave).is_some());
    // once its connections expired, the next sync deletes it
    let t0 = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let r = block_on(s.sync_services(&one)).unwrap();
        if r.draining.is_empty() {
            let all: Vec<Change> = r.applied.iter().collect();
            assert!(matches!(&all[..], [Change::DeleteDestination(_, d)] if d.ip() == leave.addr));
            break;
        }
        assert!(r.applied.is_empty());
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "connections never expired"
        );
    }
    assert!(conns(&leave).is_none());
    assert!(conns(&keep).is_some());
    assert_holds(&ns, &one);

    // Graceful::Off deletes a busy destination at once
    let s2 = Syncer::ipvs_only(h.clone()).with_options(SyncOptions::new().graceful(Graceful::Off));
    ns.run(|| {
        let c = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        c.send_to(b"hello", "10.0.0.1:9999").unwrap();
    })
    .unwrap();
    assert!(conns(&keep).unwrap().1 > 0);
    let r = block_on(s2.sync_services(&[(svc.clone(), vec![])])).unwrap();
    let all: Vec<Change> = r.applied.iter().collect();
    assert!(matches!(&all[..], [Change::DeleteDestination(..)]));
    assert!(r.draining.is_empty());
}

#[test]
fn interrupted_sync_converges() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    let want = state(150, 80);
    // a previous run died half-way: half of its operations reached the kernel
    let p = plan(&[], &want, &|_| true, Graceful::All);
    let half = p.ops.len() / 2 + 1; // cut inside a service's destinations
    let res = block_on(h.apply(&p.ops[..half])).unwrap();
    assert!(res.all_ok(), "{:?}", res.errors());
    // and something stale was left behind
    let stale = Service::tcp("10.200.0.1:80".parse().unwrap());
    block_on(h.add_service(&stale)).unwrap();
    let r = block_on(syncer(&h).sync_services(&want)).unwrap();
    assert!(r.is_converged(), "{:?}", r.failed);
    assert_eq!(r.applied.len(), p.ops.len() - half + 1);
    assert!(r.applied.contains(&Change::DeleteService(stale.key)));
    assert_holds(&ns, &want);
    assert!(block_on(syncer(&h).sync_services(&want)).unwrap().is_noop());
}

#[test]
fn concurrent_syncers_converge() {
    common::require_guest();
    let (ns, _h) = netns_with_ipvs();
    // two syncers with the same desired state race each other
    let want = state(150, 80);
    let run = |w: Vec<(Service, Vec<Destination>)>, o: Ownership| {
        let ns = ns.clone();
        std::thread::spawn(move || {
            block_on(async {
                let h = IpvsHandle::in_netns(&ns).await.unwrap();
                let s = Syncer::ipvs_only(h).with_options(SyncOptions::new().ownership(o));
                s.sync_services(&w).await.unwrap()
            })
        })
    };
    let a = run(want.clone(), Ownership::All);
    let b = run(want.clone(), Ownership::All);
    let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
    assert!(ra.is_converged(), "{:?}", ra.failed);
    assert!(rb.is_converged(), "{:?}", rb.failed);
    // every change was made exactly once between them
    assert_eq!(ra.applied.len() + rb.applied.len(), 150 * 5);
    assert_holds(&ns, &want);

    // two syncers owning disjoint services (port 80 and port 443) change
    // their own at the same time and leave the other's alone
    let web = state(100, 80);
    let tls = state(120, 443);
    let port = |p: u16| {
        Ownership::matching(
            move |k: &ServiceKey| matches!(k, ServiceKey::Addr { addr, .. } if addr.port() == p),
        )
    };
    let a = run(web.clone(), port(80));
    let b = run(tls.clone(), port(443));
    let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
    assert!(ra.is_converged() && rb.is_converged());
    assert_eq!(
        ra.applied
            .iter()
            .filter(|c| matches!(c, Change::DeleteService(_)))
            .count(),
        50
    );
    let mut all = web.clone();
    all.extend(tls.clone());
    assert_holds(&ns, &all);
}

#[test]
fn listed_ownership_leaves_foreign_services_alone() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    sh(&ns, &["ipvsadm", "-A", "-t", "10.9.9.9:80", "-s", "rr"]);
    let s =
        Syncer::ipvs_only(h.clone()).with_options(SyncOptions::new().ownership(Ownership::Listed));
    let want = state(3, 80);
    assert!(block_on(s.sync_services(&want)).unwrap().is_converged());
    // dropping everything deletes only what this syncer was given
    let r = block_on(s.sync_services(&[])).unwrap();
    assert_eq!(r.applied.len(), 3);
    let left = snapshot(&h);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].service.key,
        ServiceKey::tcp("10.9.9.9:80".parse().unwrap())
    );
    // a fresh syncer with Ownership::All would take it
    let r = block_on(syncer(&h).sync_services(&[])).unwrap();
    assert_eq!(r.applied.len(), 1);
    assert!(snapshot(&h).is_empty());
}

/// A sync from empty streams its operations from the desired state; each
/// refusal is reported at its own change and the rest is applied: an
/// invalid service (refused before sending; its destinations then find no
/// service) and a destination the kernel refuses (lower threshold above
/// upper).
#[test]
fn from_empty_refusals_are_reported_by_change() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    let mut want = state(40, 80);
    want[5].0 = want[5].0.clone().one_packet();
    want[20].1[1] = want[20].1[1].clone().upper_threshold(1).lower_threshold(5);
    let s = syncer(&h).with_options(SyncOptions::new().max_rounds(1));
    let r = block_on(s.sync_services(&want)).unwrap();
    let bad = want[5].0.key;
    let failed: Vec<(Change, String)> = r
        .failed
        .iter()
        .map(|(op, e)| (Change::of(op.borrowed()).unwrap(), e.to_string()))
        .collect();
    assert_eq!(failed.len(), 6, "{failed:#?}");
    assert_eq!(failed[0].0, Change::AddService(bad));
    assert!(failed[0].1.contains("one-packet"), "{}", failed[0].1);
    for (i, (c, e)) in failed[1..5].iter().enumerate() {
        let d = &want[5].1[i];
        assert_eq!(
            *c,
            Change::AddDestination(bad, SocketAddr::new(d.addr, d.port))
        );
        assert!(e.contains("not found"), "{e}");
    }
    let d = &want[20].1[1];
    assert_eq!(
        failed[5].0,
        Change::AddDestination(want[20].0.key, SocketAddr::new(d.addr, d.port))
    );
    assert!(failed[5].1.contains("threshold"), "{}", failed[5].1);
    assert_eq!(r.applied.len(), 40 * 5 - 6);
    assert!(!r.applied.contains(&Change::AddService(bad)));
    assert!(r.applied.contains(&Change::AddService(want[6].0.key)));
    // the kernel holds the rest (the reference tool's listing)
    let mut held = want.clone();
    held[20].1.remove(1);
    held.remove(5);
    assert_holds(&ns, &held);
}
