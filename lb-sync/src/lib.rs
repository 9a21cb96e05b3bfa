//! Declarative sync: a desired state in, the kernel brought to it with the
//! fewest changes.
//!
//! A [`Syncer`] reads what the kernel holds (one pipelined IPVS
//! [`config_snapshot`](ipvs::IpvsHandle::config_snapshot): statistics skipped,
//! one `ipset list` per managed set),
//! computes the minimal change set against a [`DesiredState`] (add, edit,
//! delete services; add, edit, drain, delete destinations; add and delete
//! set members) and applies it in batches ([`IpvsHandle::apply`](ipvs::IpvsHandle::apply): many
//! changes per datagram, one acknowledgement per datagram;
//! [`IpsetHandle::add_many`](ipset::IpsetHandle::add_many)/[`IpsetHandle::del_many`](ipset::IpsetHandle::del_many): many elements per
//! message). It returns what it changed, and which changes the kernel
//! refused ([`SyncReport`]).
//!
//! Large changes stay cheap: the plan borrows the services and
//! destinations it sends from the desired state and the snapshot
//! ([`ipvs_nl::OperationRef`]) and the report names each change by its
//! keys, compactly ([`Changes`]): a sync of 10,000 services x 4
//! destinations from empty holds about 0.8 MB besides its input (the
//! datagram being filled, the report's 380 kB, the set of desired keys),
//! where copied operations took 8 MB.
//!
//! - **Idempotent**: when the kernel already matches, a sync reads and
//!   sends no change at all.
//! - **Convergent**: nothing is remembered between syncs but the set of
//!   services this syncer was given ([`Ownership::Listed`]); after an
//!   interrupted sync, a crash, or a concurrent writer, the next sync reads
//!   the kernel again and finishes the job. Within one sync, a change the
//!   kernel refused because the state moved under it (another writer) is
//!   retried after a fresh read, up to [`SyncOptions::max_rounds`] times.
//! - **Graceful termination** ([`Graceful`]), as kube-proxy does it: a
//!   destination that leaves the desired state while it still carries
//!   connections is first set to weight 0 (no new connections) and deleted
//!   by a later sync once it has no active and no inactive connections;
//!   an idle destination is deleted at once. Services that leave the
//!   desired state are deleted.
//! - **Coexistence** ([`Ownership`]): a syncer deletes only services it
//!   owns: every service of the namespace, the services it was given, or
//!   those matching a filter. Sets not named in the desired state are never
//!   touched.
//!
//! ```no_run
//! use lb_sync::ipset::{CreateSet, IpPortEntry, IpProto};
//! use lb_sync::ipvs::{Destination, Scheduler, Service};
//! use lb_sync::{DesiredSet, DesiredState, Syncer};
//! # async fn f() -> lb_sync::netlink::Result<()> {
//! let syncer = Syncer::in_netns(&lb_sync::netlink::Netns::current()).await?;
//! let web = Service::tcp("10.96.0.10:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
//! let backends = vec![
//!     Destination::new("10.244.1.5".parse().unwrap(), 8080).masquerade(),
//!     Destination::new("10.244.2.7".parse().unwrap(), 8080).masquerade(),
//! ];
//! let desired = DesiredState::new()
//!     .with_service(web, backends)
//!     .with_set(DesiredSet::new(
//!         CreateSet::hash_ip_port("cluster-ips"),
//!         vec![IpPortEntry::new("10.96.0.10".parse().unwrap(), IpProto::Tcp, 80)],
//!     ));
//! let report = syncer.sync(&desired).await?;
//! println!("{} changes, {} refused", report.changes(), report.failed.len());
//! // Nothing to do the second time.
//! assert!(syncer.sync(&desired).await?.is_noop());
//! # Ok(()) }
//! ```
//!
//! Sets of every type `ipset-nl` types sync the same way ([`DesiredSet`]
//! is generic over the member type; [`Syncer::sync_sets`] takes sets of
//! one member type, [`ipset::TypedEntry`] mixes types):
//!
//! ```no_run
//! use lb_sync::ipset::{CreateSet, IpEntry, NetEntry, TypedEntry};
//! use lb_sync::{DesiredSet, Syncer};
//! # async fn f() -> lb_sync::netlink::Result<()> {
//! let syncer = Syncer::ipset_only(lb_sync::ipset::IpsetHandle::new()?);
//! let sets: Vec<DesiredSet<TypedEntry>> = vec![
//!     DesiredSet::new(
//!         CreateSet::hash_ip("node-ips"),
//!         vec![IpEntry::new("192.0.2.10".parse().unwrap()).into()],
//!     ),
//!     DesiredSet::new(
//!         CreateSet::hash_net("load-balancer-source-ranges"),
//!         vec![NetEntry::new("203.0.113.0".parse().unwrap(), 24).into()],
//!     ),
//! ];
//! for r in syncer.sync_sets(&sets).await? {
//!     println!("{}: +{} -{}", r.name, r.added, r.removed);
//! }
//! # Ok(()) }
//! ```
//!
//! # Runtime
//!
//! The async handles run under Tokio (the default feature `tokio`) or any
//! executor with the feature `smol` (async-io's reactor and timer: smol,
//! async-std, ...); both may be on, Tokio being used where a Tokio runtime
//! is current. With `default-features = false, features = ["smol"]` no
//! Tokio is built. See nl-engine's
//! [Choosing the runtime](nl_engine#choosing-the-runtime).

//! # Feature `serde`
//!
//! With the `serde` feature (which turns on ipvs-nl's and ipset-nl's)
//! [`DesiredState`], [`DesiredSet`], [`Plan`], [`Changes`] and the
//! strategies implement serde's `Serialize` and `Deserialize`: a daemon
//! reads its desired services and sets from JSON, YAML, ...
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use lb_sync::DesiredState;
//! let state: DesiredState = serde_json::from_str(r#"{"services": [], "sets": []}"#).unwrap();
//! assert_eq!(state, DesiredState::default());
//! # }
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use nl_engine::{Error, Netns, Result};

/// The ipset crate this one syncs with (`ipset-nl`).
pub use ipset_nl as ipset;
/// The IPVS crate this one syncs with (`ipvs-nl`).
pub use ipvs_nl as ipvs;
/// The netlink engine under both (`nl-engine`).
pub use nl_engine as netlink;

mod hash;
mod report;
pub use report::{Change, Changes, ChangesIter, SetReport, SyncReport};

pub mod blocking;
mod plan;
mod state;
mod syncer;
pub use plan::{Plan, SetPlan, plan, plan_set, same_destination, same_service, validate};
pub use state::{DesiredSet, DesiredState, Graceful, Ownership, SetStrategy, SyncOptions};
pub use syncer::{Syncer, read_set};

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use crate::plan::SCAN_MAX;

    use std::net::SocketAddr;

    use ipvs_nl::{Destination, Operation, Service, ServiceEntry, ServiceFlags, Weight};

    use super::*;
    use std::net::IpAddr;

    fn svc(i: u32) -> Service {
        Service::tcp(SocketAddr::from((
            [10, 0, (i / 250) as u8, (i % 250) as u8 + 1],
            80,
        )))
    }
    fn dst(j: u8) -> Destination {
        Destination::new(IpAddr::from([192, 168, 0, j]), 8080).masquerade()
    }
    fn entry(s: &Service, ds: &[Destination]) -> ServiceEntry {
        let mut s = s.clone();
        s.flags |= ServiceFlags::HASHED;
        ServiceEntry {
            service: s,
            destinations: ds.to_vec(),
        }
    }

    #[test]
    fn from_empty_adds_everything_in_order() {
        let want = vec![(svc(1), vec![dst(1), dst(2)]), (svc(2), vec![dst(3)])];
        let p = plan(&[], &want, &|_| true, Graceful::All);
        assert_eq!(p.ops.len(), 5);
        assert!(matches!(p.ops[0], Operation::AddService(_)));
        assert!(matches!(p.ops[3], Operation::AddService(_)));
    }

    #[test]
    fn same_state_is_a_noop_despite_kernel_only_fields() {
        let want = vec![(svc(1), vec![dst(1)])];
        let mut d = dst(1);
        d.active_conns = 3;
        d.tunnel_port = 99; // ignored for a masquerading destination
        let cur = [entry(&svc(1), &[d])];
        assert!(plan(&cur, &want, &|_| true, Graceful::All).ops.is_empty());
    }

    #[test]
    fn edits_services_and_destinations() {
        let s = svc(1).scheduler(ipvs_nl::Scheduler::RoundRobin);
        let want = vec![(s.clone(), vec![dst(1).weight(Weight(5))])];
        let cur = [entry(&svc(1), &[dst(1)])];
        let p = plan(&cur, &want, &|_| true, Graceful::All);
        assert_eq!(
            p.ops,
            vec![
                Operation::EditService(s.clone()),
                Operation::EditDestination(s.key, dst(1).weight(Weight(5)))
            ]
        );
    }

    #[test]
    fn graceful_termination() {
        let want = vec![(svc(1), vec![dst(1)])];
        let mut busy = dst(2);
        busy.inactive_conns = 1;
        let idle = dst(3);
        let cur = [entry(&svc(1), &[dst(1), busy.clone(), idle])];
        let p = plan(&cur, &want, &|_| true, Graceful::All);
        let mut zero = busy.clone();
        zero.weight = Weight(0);
        assert_eq!(
            p.ops,
            // weight-0 edits come last
            vec![
                Operation::DeleteDestination(svc(1).key, Destination::new(dst(3).addr, 8080)),
                Operation::EditDestination(svc(1).key, zero.clone()),
            ]
        );
        assert_eq!(p.draining.len(), 1);
        // already drained but still busy: nothing sent, still draining
        let cur = [entry(&svc(1), &[dst(1), zero.clone()])];
        let p = plan(&cur, &want, &|_| true, Graceful::All);
        assert!(p.ops.is_empty());
        assert_eq!(p.draining.len(), 1);
        // without graceful termination (or UDP under ConnectionOriented): deleted
        let p = plan(&cur, &want, &|_| true, Graceful::Off);
        assert!(matches!(p.ops[..], [Operation::DeleteDestination(..)]));
        let u = Service::udp("10.0.0.1:53".parse().unwrap());
        let cur = [entry(&u, &[zero])];
        let p = plan(
            &cur,
            &[(u, vec![])],
            &|_| true,
            Graceful::ConnectionOriented,
        );
        assert!(matches!(p.ops[..], [Operation::DeleteDestination(..)]));
    }

    /// A few destinations are matched by scanning, many through maps: the
    /// same plan either way.
    #[test]
    fn destinations_match_by_scan_and_by_map_alike() {
        for n in [5u8, 2 * SCAN_MAX as u8 + 3] {
            let cur = [entry(&svc(1), &(1..=n).map(dst).collect::<Vec<_>>())];
            let mut want: Vec<Destination> = (2..=n + 2).map(dst).collect();
            want[1] = dst(3).weight(Weight(7));
            let p = plan(&cur, &[(svc(1), want)], &|_| true, Graceful::All);
            let k = svc(1).key;
            assert_eq!(
                p.ops,
                vec![
                    Operation::EditDestination(k, dst(3).weight(Weight(7))),
                    Operation::AddDestination(k, dst(n + 1)),
                    Operation::AddDestination(k, dst(n + 2)),
                    Operation::DeleteDestination(k, Destination::new(dst(1).addr, 8080)),
                ],
                "{n}"
            );
        }
    }

    #[test]
    fn deletes_only_owned_services() {
        let cur = [entry(&svc(1), &[]), entry(&svc(2), &[])];
        let k1 = svc(1).key;
        let p = plan(&cur, &[], &|k| *k == k1, Graceful::All);
        assert_eq!(p.ops, vec![Operation::DeleteService(k1)]);
        assert!(
            Ownership::Listed.owns(&k1, true) && !Ownership::Listed.owns(&k1, false),
            "listed"
        );
    }

    #[test]
    fn duplicates_are_refused() {
        assert!(validate(&[(svc(1), vec![]), (svc(1), vec![])]).is_err());
        assert!(validate(&[(svc(1), vec![dst(1), dst(1)])]).is_err());
        assert!(validate(&[(svc(1), vec![dst(1), dst(2)])]).is_ok());
        // both ways of looking: pairwise (few destinations) and hashed
        for n in [5u8, 40] {
            let mut ds: Vec<_> = (1..=n).map(dst).collect();
            assert!(validate(&[(svc(1), ds.clone())]).is_ok(), "{n}");
            ds.push(dst(n / 2));
            let e = validate(&[(svc(1), ds)]).unwrap_err().to_string();
            assert!(e.contains("listed twice"), "{n}: {e}");
        }
        // many services: a repeat far from its first listing is found
        let tcp = |i: u32| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            (ipvs_nl::Service::tcp((ip, 80).into()), Vec::new())
        };
        let mut many: Vec<_> = (0..3_000).map(tcp).collect();
        assert!(validate(&many).is_ok());
        many.push(tcp(17));
        let e = validate(&many).unwrap_err().to_string();
        assert!(
            e.contains("10.0.0.17:80") && e.contains("listed twice"),
            "{e}"
        );
    }
}
