//! Declarative sync: a desired state in, the kernel brought to it with the
//! fewest changes.
//!
//! A [`Syncer`] reads what the kernel holds (one pipelined IPVS
//! [`config_snapshot`](IpvsHandle::config_snapshot): statistics skipped,
//! one `ipset list` per managed set),
//! computes the minimal change set against a [`DesiredState`] (add, edit,
//! delete services; add, edit, drain, delete destinations; add and delete
//! set members) and applies it in batches ([`IpvsHandle::apply`]: many
//! changes per datagram, one acknowledgement per datagram;
//! [`IpsetHandle::add_many`]/[`IpsetHandle::del_many`]: many elements per
//! message). It returns what it changed, and which changes the kernel
//! refused ([`SyncReport`]).
//!
//! Large changes stay cheap: the plan borrows the services and
//! destinations it sends from the desired state and the snapshot
//! ([`ipvs_nl::OperationRef`]) and the report names each change by its
//! keys, compactly ([`Changes`]): a sync of 10,000 services x 4
//! destinations from empty holds about 3 MB besides its input, where
//! copied operations took 8 MB.
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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ipset_nl::{BulkOptions, CreateSet, IpPortEntry, IpSet, IpsetHandle, Outcome, SetElement};
use ipvs_nl::{
    Destination, ForwardMethod, IpvsHandle, Operation, OperationRef, Protocol, Service,
    ServiceEntry, ServiceFlags, ServiceKey, Weight,
};
use nl_engine::{Error, Netns, Result};

/// The ipset crate this one syncs with (`ipset-nl`).
pub use ipset_nl as ipset;
/// The IPVS crate this one syncs with (`ipvs-nl`).
pub use ipvs_nl as ipvs;
/// The netlink engine under both (`nl-engine`).
pub use nl_engine as netlink;

mod report;
pub use report::{Change, Changes, ChangesIter, SetReport, SyncReport};

// ------------------------------------------------------------------ state

/// What the kernel should hold: IPVS services with their destinations, and
/// ipset sets with their members.
///
/// ```
/// use lb_sync::ipvs::{Destination, Service};
/// use lb_sync::DesiredState;
/// let s = Service::udp("10.96.0.53:53".parse().unwrap());
/// let d = Destination::new("10.244.0.3".parse().unwrap(), 53).masquerade();
/// let state = DesiredState::new().with_service(s, vec![d]);
/// assert_eq!(state.services.len(), 1);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DesiredState {
    /// Services and their destinations. Only the configuration fields
    /// count (scheduler, flags, persistence timeout and netmask,
    /// persistence engine; forwarding method, weight, thresholds, tunnel
    /// settings); counters and statistics are ignored.
    pub services: Vec<(Service, Vec<Destination>)>,
    /// Sets and their members.
    pub sets: Vec<DesiredSet>,
}

/// One ipset set as it should be: created with `spec` when missing, holding
/// exactly `members`.
///
/// Members are compared by address, range/network, protocol and port
/// (per-element extensions such as timeouts or comments are not compared).
/// Give single elements: the kernel lists a range as its single elements,
/// so a range never compares equal and would be re-added every sync.
/// An existing set of another type or with other options is not recreated.
///
/// ```
/// use lb_sync::ipset::{CreateSet, IpPortEntry, IpProto};
/// use lb_sync::DesiredSet;
/// let set = DesiredSet::new(
///     CreateSet::hash_ip_port("svc"),
///     vec![IpPortEntry::new("10.96.0.10".parse().unwrap(), IpProto::Tcp, 80)],
/// );
/// assert_eq!(set.spec.name, "svc");
/// ```
///
/// Any set type with typed members syncs the same way: `E` is the type's
/// member ([`ipset::IpEntry`] for `hash:ip`, [`ipset::NetEntry`] for
/// `hash:net`, ...; `hash:ip,port` by default), or [`ipset::TypedEntry`]
/// to sync sets of several types in one call ([`Syncer::sync_sets`]).
///
/// ```
/// use lb_sync::ipset::{CreateSet, NetEntry};
/// use lb_sync::DesiredSet;
/// let set = DesiredSet::new(
///     CreateSet::hash_net("allowed").options(|o| o.comment()),
///     vec![NetEntry::new("10.0.0.0".parse().unwrap(), 8).comment("pods")],
/// );
/// assert_eq!(set.members.len(), 1);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DesiredSet<E = IpPortEntry> {
    /// The set's name, type and creation options.
    pub spec: CreateSet,
    /// Its members.
    pub members: Vec<E>,
}

impl DesiredState {
    /// Nothing: no service, no set.
    pub fn new() -> Self {
        Self::default()
    }
    /// This state with one more service and its destinations.
    pub fn with_service(mut self, service: Service, destinations: Vec<Destination>) -> Self {
        self.services.push((service, destinations));
        self
    }
    /// This state with these services (replacing any given before).
    pub fn with_services(mut self, services: Vec<(Service, Vec<Destination>)>) -> Self {
        self.services = services;
        self
    }
    /// This state with one more set.
    pub fn with_set(mut self, set: DesiredSet) -> Self {
        self.sets.push(set);
        self
    }
    /// This state with these sets (replacing any given before).
    pub fn with_sets(mut self, sets: Vec<DesiredSet>) -> Self {
        self.sets = sets;
        self
    }
}

impl<E> DesiredSet<E> {
    /// A set and its members.
    pub fn new(spec: CreateSet, members: Vec<E>) -> Self {
        DesiredSet { spec, members }
    }
}

// ---------------------------------------------------------------- options

/// Which services a [`Syncer`] may delete (services of the desired state
/// are always managed). Several syncers, or a syncer and other tools, share
/// a namespace by owning disjoint services.
///
/// ```
/// use lb_sync::ipvs::ServiceKey;
/// use lb_sync::Ownership;
/// // Only services on 10.96.0.0/16.
/// let mine = Ownership::matching(|k: &ServiceKey| match k {
///     ServiceKey::Addr { addr, .. } => addr.ip().to_string().starts_with("10.96."),
///     _ => false,
/// });
/// assert!(mine.owns(&ServiceKey::tcp("10.96.3.4:80".parse().unwrap()), false));
/// assert!(!mine.owns(&ServiceKey::fwmark(1), false));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Ownership {
    /// Every service of the namespace: whatever is not desired is deleted
    /// (like `ipvsadm -C` followed by a restore, minus the disruption).
    #[default]
    All,
    /// Only services this syncer was given in an earlier sync (remembered
    /// in memory: after a restart, services dropped while it was down are
    /// left alone; use [`Ownership::Matching`] to recover those).
    Listed,
    /// Services whose key the function accepts.
    Matching(Arc<dyn Fn(&ServiceKey) -> bool + Send + Sync>),
}

impl Ownership {
    /// Ownership of the services `f` accepts.
    pub fn matching(f: impl Fn(&ServiceKey) -> bool + Send + Sync + 'static) -> Self {
        Ownership::Matching(Arc::new(f))
    }

    /// Whether a service not in the desired state is this syncer's to
    /// delete; `listed` says whether the syncer was given it before.
    pub fn owns(&self, key: &ServiceKey, listed: bool) -> bool {
        match self {
            Ownership::All => true,
            Ownership::Listed => listed,
            Ownership::Matching(f) => f(key),
        }
    }
}

impl fmt::Debug for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ownership::All => f.write_str("All"),
            Ownership::Listed => f.write_str("Listed"),
            Ownership::Matching(_) => f.write_str("Matching(..)"),
        }
    }
}

/// How destinations that leave the desired state are removed.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Graceful {
    /// Every protocol: a destination with active or inactive connections is
    /// set to weight 0 and deleted by a later sync once it has none.
    #[default]
    All,
    /// Like kube-proxy: graceful for TCP (and firewall-mark) services only;
    /// UDP and SCTP destinations are deleted at once.
    ConnectionOriented,
    /// Destinations are deleted at once.
    Off,
}

impl Graceful {
    fn applies_to(self, key: &ServiceKey) -> bool {
        match self {
            Graceful::All => true,
            Graceful::Off => false,
            Graceful::ConnectionOriented => !matches!(
                key,
                ServiceKey::Addr {
                    protocol: Protocol::Udp | Protocol::Sctp,
                    ..
                }
            ),
        }
    }
}

/// How sets are brought to their desired members.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SetStrategy {
    /// Add the missing members and delete the extra ones (bulk messages);
    /// members that stay are never touched.
    #[default]
    Incremental,
    /// When anything differs, fill a new set and swap it in atomically
    /// ([`IpsetHandle::replace`]): readers never see a half-changed set.
    Replace,
}

/// Tunables of a [`Syncer`].
///
/// ```
/// use lb_sync::{Graceful, Ownership, SyncOptions};
/// let o = SyncOptions::new().ownership(Ownership::Listed).graceful(Graceful::Off);
/// assert_eq!(o.max_rounds, 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Which services may be deleted.
    pub ownership: Ownership,
    /// Graceful termination of destinations.
    pub graceful: Graceful,
    /// How sets are updated.
    pub sets: SetStrategy,
    /// How many read-plan-apply rounds one sync makes at most: after a
    /// round in which the kernel refused a change (the state moved under
    /// us), the state is read again and the rest planned anew. At least 1.
    pub max_rounds: u32,
}

impl SyncOptions {
    /// The defaults: own every service, graceful for every protocol,
    /// incremental sets, 3 rounds.
    pub fn new() -> Self {
        Self::default()
    }
    /// Which services may be deleted.
    pub fn ownership(mut self, ownership: Ownership) -> Self {
        self.ownership = ownership;
        self
    }
    /// Graceful termination of destinations.
    pub fn graceful(mut self, graceful: Graceful) -> Self {
        self.graceful = graceful;
        self
    }
    /// How sets are updated.
    pub fn sets(mut self, sets: SetStrategy) -> Self {
        self.sets = sets;
        self
    }
    /// At most this many read-plan-apply rounds per sync (at least 1).
    pub fn max_rounds(mut self, rounds: u32) -> Self {
        self.max_rounds = rounds;
        self
    }
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            ownership: Ownership::All,
            graceful: Graceful::All,
            sets: SetStrategy::Incremental,
            max_rounds: 3,
        }
    }
}

// ------------------------------------------------------------------- plan

/// The changes that bring `current` to `desired`: what [`Syncer::sync`]
/// sends in one round, computed without touching the kernel.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The operations, in the order to apply them (a service is added
    /// before its destinations).
    pub ops: Vec<Operation>,
    /// Destinations left in place, at weight 0, because they still carry
    /// connections.
    pub draining: Vec<(ServiceKey, Destination)>,
}

/// Whether a kernel service already has the desired configuration
/// (statistics, the kernel's `hashed` flag and unknown attributes aside).
pub fn same_service(current: &Service, desired: &Service) -> bool {
    current.key == desired.key
        && current.scheduler.name() == desired.scheduler.name()
        && current.flags - ServiceFlags::HASHED == desired.flags - ServiceFlags::HASHED
        && current.timeout == desired.timeout
        && current.netmask == desired.netmask
        && current.pe_name == desired.pe_name
}

/// Whether a kernel destination already has the desired configuration
/// (counters and statistics aside; tunnel settings only count for
/// tunnelling destinations).
pub fn same_destination(current: &Destination, desired: &Destination) -> bool {
    current.addr == desired.addr
        && current.port == desired.port
        && current.forward == desired.forward
        && current.weight == desired.weight
        && current.upper_threshold == desired.upper_threshold
        && current.lower_threshold == desired.lower_threshold
        && (desired.forward != ForwardMethod::Tunnel
            || (current.tunnel_type == desired.tunnel_type
                && current.tunnel_port == desired.tunnel_port
                && current.tunnel_flags == desired.tunnel_flags))
}

fn dest_key(d: &Destination) -> SocketAddr {
    SocketAddr::new(d.addr, d.port)
}

/// Checks a desired service list: no service twice, no destination twice
/// in one service.
pub fn validate(services: &[(Service, Vec<Destination>)]) -> Result<()> {
    validated_keys(services).map(drop)
}

/// [`validate`], returning the services' keys (a sync under
/// [`Ownership::Listed`] remembers them as its own without hashing them
/// twice).
fn validated_keys(services: &[(Service, Vec<Destination>)]) -> Result<HashSet<&ServiceKey>> {
    let mut keys = HashSet::with_capacity(services.len());
    for (s, ds) in services {
        if !keys.insert(&s.key) {
            return Err(Error::invalid_input(
                format!("desired service {}", s.key),
                "listed twice",
            ));
        }
        // A service has a handful of destinations: compared pairwise
        // (no set to allocate per service), hashed when there are many.
        let twice = if ds.len() <= SCAN_MAX {
            ds.iter()
                .enumerate()
                .find(|(i, d)| ds.iter().skip(i + 1).any(|o| dest_key(o) == dest_key(d)))
                .map(|(_, d)| d)
        } else {
            let mut dk = HashSet::with_capacity(ds.len());
            ds.iter().find(|d| !dk.insert(dest_key(d)))
        };
        if let Some(d) = twice {
            return Err(Error::invalid_input(
                format!("desired destination {d} of service {}", s.key),
                "listed twice",
            ));
        }
    }
    Ok(keys)
}

/// Up to this many destinations per service are matched by scanning the
/// list rather than through a map built for the service (a no-op plan of
/// 10,000 services x 4 took 8 ms instead of 21 ms natively).
const SCAN_MAX: usize = 16;

/// A service's destinations, found by address: by scanning the list when
/// it is short (the usual case), through a map when it is long.
struct Dests<'a> {
    list: &'a [Destination],
    index: Option<HashMap<SocketAddr, &'a Destination>>,
}

impl<'a> Dests<'a> {
    fn new(list: &'a [Destination]) -> Self {
        let index =
            (list.len() > SCAN_MAX).then(|| list.iter().map(|d| (dest_key(d), d)).collect());
        Dests { list, index }
    }

    fn get(&self, k: SocketAddr) -> Option<&'a Destination> {
        match &self.index {
            Some(m) => m.get(&k).copied(),
            None => self.list.iter().find(|d| dest_key(d) == k),
        }
    }
}

/// Computes the changes from `current` (a snapshot) to `desired`.
///
/// `owns` says which services absent from `desired` may be deleted.
/// Destinations that leave go through `graceful` termination: idle ones
/// (no active, no inactive connection) are deleted, busy ones set to
/// weight 0 and listed in [`Plan::draining`]. The operations come in the
/// order to send them: each desired service's (the service before its
/// destinations), the deletions of services, then the weight-0 edits of
/// draining destinations.
///
/// ```
/// use lb_sync::ipvs::{Destination, Operation, Service, ServiceEntry};
/// use lb_sync::{plan, Graceful};
/// let s = Service::tcp("10.0.0.1:80".parse().unwrap());
/// let d = Destination::new("192.168.0.2".parse().unwrap(), 80);
/// let p = plan(&[], &[(s.clone(), vec![d.clone()])], &|_| true, Graceful::All);
/// assert_eq!(p.ops, vec![Operation::AddService(s.clone()), Operation::AddDestination(s.key, d.clone())]);
/// let now = [ServiceEntry { service: s.clone(), destinations: vec![d.clone()] }];
/// assert!(plan(&now, &[(s, vec![d])], &|_| true, Graceful::All).ops.is_empty());
/// ```
pub fn plan(
    current: &[ServiceEntry],
    desired: &[(Service, Vec<Destination>)],
    owns: &dyn Fn(&ServiceKey) -> bool,
    graceful: Graceful,
) -> Plan {
    let mut zeroed = Vec::new();
    let (ops, draining) = plan_refs(current, desired, owns, graceful, &mut zeroed);
    let mut ops: Vec<Operation> = ops.iter().map(owned).collect();
    ops.extend(
        zeroed
            .into_iter()
            .map(|(k, d)| Operation::EditDestination(k, d)),
    );
    Plan { ops, draining }
}

/// An operation of a plan as [`Plan`] and [`SyncReport::failed`] hold it:
/// a deletion names its destination by address and port only.
fn owned(op: &OperationRef<'_>) -> Operation {
    match *op {
        OperationRef::DeleteDestination(k, d) => {
            Operation::DeleteDestination(*k, Destination::new(d.addr, d.port))
        }
        o => o.to_operation(),
    }
}

/// [`plan`] without copying what the operations name: they borrow from
/// `current` and `desired` (a sync of 10,000 services x 4 destinations
/// from empty plans 1.2 MB of these instead of 8 MB of operations). The
/// weight-0 copies of destinations to drain are pushed to `zeroed`, for
/// the caller to send last.
fn plan_refs<'a>(
    current: &'a [ServiceEntry],
    desired: &'a [(Service, Vec<Destination>)],
    owns: &dyn Fn(&ServiceKey) -> bool,
    graceful: Graceful,
    zeroed: &mut Vec<(ServiceKey, Destination)>,
) -> (Vec<OperationRef<'a>>, Vec<(ServiceKey, Destination)>) {
    let mut ops = Vec::new();
    let mut draining = Vec::new();
    if current.is_empty() {
        // from empty, every service and destination is one add
        ops.reserve_exact(desired.iter().map(|(_, ds)| 1 + ds.len()).sum());
    }
    let by_key: HashMap<ServiceKey, &ServiceEntry> =
        current.iter().map(|e| (e.service.key, e)).collect();
    // Only needed to find the services to delete: none when nothing exists.
    let mut wanted: HashSet<ServiceKey> =
        HashSet::with_capacity(if current.is_empty() { 0 } else { desired.len() });
    for (s, ds) in desired {
        if !current.is_empty() {
            wanted.insert(s.key);
        }
        let Some(cur) = by_key.get(&s.key) else {
            ops.push(OperationRef::AddService(s));
            ops.extend(ds.iter().map(|d| OperationRef::AddDestination(&s.key, d)));
            continue;
        };
        if !same_service(&cur.service, s) {
            ops.push(OperationRef::EditService(s));
        }
        let (have, want) = (Dests::new(&cur.destinations), Dests::new(ds));
        for d in ds {
            match have.get(dest_key(d)) {
                None => ops.push(OperationRef::AddDestination(&s.key, d)),
                Some(c) if !same_destination(c, d) => {
                    ops.push(OperationRef::EditDestination(&s.key, d))
                }
                Some(_) => {}
            }
        }
        for c in &cur.destinations {
            if want.get(dest_key(c)).is_some() {
                continue;
            }
            let busy = c.active_conns > 0 || c.inactive_conns > 0;
            if busy && graceful.applies_to(&s.key) {
                if c.weight != Weight(0) {
                    let mut zero = c.clone();
                    zero.weight = Weight(0);
                    zeroed.push((s.key, zero));
                }
                draining.push((s.key, c.clone()));
            } else {
                ops.push(OperationRef::DeleteDestination(&s.key, c));
            }
        }
    }
    for e in current {
        let k = &e.service.key;
        if !wanted.contains(k) && owns(k) {
            ops.push(OperationRef::DeleteService(k));
        }
    }
    (ops, draining)
}

/// The changes that bring one set to its desired members: what
/// [`Syncer::sync_sets`] sends for it, computed without touching the
/// kernel ([`plan_set`]).
///
/// ```
/// use lb_sync::SetPlan;
/// assert!(SetPlan::default().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetPlan<E = IpPortEntry> {
    /// The set does not exist: create it, then add every desired member
    /// (all in [`SetPlan::add`]).
    pub create: bool,
    /// Members to add, in the desired order.
    pub add: Vec<E>,
    /// Members to delete, in the kernel's order, reduced to what a delete
    /// needs (the member without its extensions).
    pub del: Vec<E>,
}

// For the default member type only, so that `SetPlan::default()` needs no
// annotation (as before members were generic); other types: `empty()`.
impl Default for SetPlan {
    fn default() -> Self {
        Self::empty()
    }
}

impl<E> SetPlan<E> {
    /// A plan with nothing to do.
    pub fn empty() -> Self {
        SetPlan {
            create: false,
            add: Vec::new(),
            del: Vec::new(),
        }
    }

    /// True when the set already holds exactly the desired members.
    pub fn is_empty(&self) -> bool {
        !self.create && self.add.is_empty() && self.del.is_empty()
    }
}

/// Computes the member changes from `current` (the set's members, `None`
/// when the set does not exist; see [`read_set`]) to `desired`.
///
/// Members are compared as [`DesiredSet`] describes (address,
/// range/network, protocol, port; extensions aside).
///
/// ```
/// use lb_sync::ipset::{IpPortEntry, IpProto};
/// use lb_sync::plan_set;
/// let m = |ip: &str, port| IpPortEntry::new(ip.parse().unwrap(), IpProto::Tcp, port);
/// let p = plan_set(None, &[m("10.96.0.1", 80)]);
/// assert!(p.create && p.add == [m("10.96.0.1", 80)]);
/// let p = plan_set(Some(&[m("10.96.0.1", 80), m("10.96.0.2", 80)]), &[m("10.96.0.1", 80), m("10.96.0.3", 53)]);
/// assert!(!p.create && p.add == [m("10.96.0.3", 53)] && p.del == [m("10.96.0.2", 80)]);
/// ```
pub fn plan_set<E: SetElement>(current: Option<&[E]>, desired: &[E]) -> SetPlan<E> {
    let Some(current) = current else {
        return SetPlan {
            create: true,
            add: desired.to_vec(),
            del: Vec::new(),
        };
    };
    let have: HashSet<E::Key> = current.iter().map(E::key).collect();
    let wanted: HashSet<E::Key> = desired.iter().map(E::key).collect();
    SetPlan {
        create: false,
        add: desired
            .iter()
            .filter(|m| !have.contains(&m.key()))
            .cloned()
            .collect(),
        del: current
            .iter()
            .filter(|m| !wanted.contains(&m.key()))
            .map(E::without_extensions)
            .collect(),
    }
}

/// Reads one set with its members as a sync sees it: `None` when it does
/// not exist.
pub async fn read_set(ipset: &IpsetHandle, name: &str) -> Result<Option<IpSet>> {
    match ipset.list(Some(name)).await {
        Ok(mut sets) => Ok(sets.pop()),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

// ----------------------------------------------------------------- syncer

/// Brings IPVS and ipset to a [`DesiredState`]; see the [module
/// documentation](self).
///
/// Clones share the remembered service list; syncs of one syncer should
/// not overlap (two syncers may: they converge, see
/// [`SyncOptions::max_rounds`]).
///
/// ```no_run
/// use lb_sync::ipvs::{Destination, IpvsHandle, Service};
/// use lb_sync::ipset::IpsetHandle;
/// use lb_sync::{DesiredState, Graceful, Ownership, SyncOptions, Syncer};
/// # async fn f() -> lb_sync::netlink::Result<()> {
/// let syncer = Syncer::new(IpvsHandle::new().await?, IpsetHandle::new()?).with_options(
///     SyncOptions::new()
///         .ownership(Ownership::Listed)
///         .graceful(Graceful::ConnectionOriented),
/// );
/// let svc = Service::tcp("10.96.0.1:443".parse().unwrap());
/// let mut state = DesiredState::default();
/// state.services.push((svc, vec![Destination::new("192.168.1.10".parse().unwrap(), 6443).masquerade()]));
/// let report = syncer.sync(&state).await?;
/// for (op, err) in &report.failed {
///     eprintln!("{}: {err}", op.context());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Syncer {
    ipvs: Option<IpvsHandle>,
    ipset: Option<IpsetHandle>,
    options: SyncOptions,
    listed: Arc<Mutex<HashSet<ServiceKey>>>,
}

impl Syncer {
    /// A syncer over both handles (which may be in any namespace).
    pub fn new(ipvs: IpvsHandle, ipset: IpsetHandle) -> Self {
        Self::from_parts(Some(ipvs), Some(ipset))
    }

    /// A syncer for IPVS only ([`DesiredState::sets`] must be empty).
    pub fn ipvs_only(ipvs: IpvsHandle) -> Self {
        Self::from_parts(Some(ipvs), None)
    }

    /// A syncer for ipset only ([`DesiredState::services`] is ignored and
    /// no service is touched).
    pub fn ipset_only(ipset: IpsetHandle) -> Self {
        Self::from_parts(None, Some(ipset))
    }

    /// A syncer over IPVS and ipset in `netns` (fails with
    /// [`Error::Unsupported`] when the kernel has no IPVS).
    pub async fn in_netns(netns: &Netns) -> Result<Self> {
        Ok(Self::new(
            IpvsHandle::in_netns(netns).await?,
            IpsetHandle::in_netns(netns)?,
        ))
    }

    fn from_parts(ipvs: Option<IpvsHandle>, ipset: Option<IpsetHandle>) -> Self {
        Syncer {
            ipvs,
            ipset,
            options: SyncOptions::default(),
            listed: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// This syncer with other options.
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// The IPVS handle, if this syncer has one.
    pub fn ipvs(&self) -> Option<&IpvsHandle> {
        self.ipvs.as_ref()
    }

    /// The ipset handle, if this syncer has one.
    pub fn ipset(&self) -> Option<&IpsetHandle> {
        self.ipset.as_ref()
    }

    /// Brings the kernel to `desired`: IPVS first, then the sets.
    ///
    /// With [`Ownership::All`] (the default) the desired services are the
    /// whole IPVS configuration of the namespace: an empty service list
    /// deletes every service. Use [`Syncer::ipset_only`] or
    /// [`Syncer::sync_sets`] to sync sets alone.
    ///
    /// The outer error means the state could not be read or an exchange
    /// failed (then run the sync again); refused single changes are in the
    /// report.
    pub async fn sync(&self, desired: &DesiredState) -> Result<SyncReport> {
        let keys = validated_keys(&desired.services)?;
        let mut report = SyncReport::default();
        if let Some(ipvs) = &self.ipvs {
            self.sync_ipvs_into(ipvs, &desired.services, keys, &mut report)
                .await?;
        }
        if !desired.sets.is_empty() {
            let Some(ipset) = &self.ipset else {
                return Err(Error::invalid_input(
                    "sync sets",
                    "this syncer has no ipset handle",
                ));
            };
            for set in &desired.sets {
                report.sets.push(self.sync_set(ipset, set).await?);
            }
        }
        Ok(report)
    }

    /// Brings IPVS alone to `services`.
    pub async fn sync_services(
        &self,
        services: &[(Service, Vec<Destination>)],
    ) -> Result<SyncReport> {
        let keys = validated_keys(services)?;
        let ipvs = self.ipvs.as_ref().ok_or_else(|| {
            Error::invalid_input("sync IPVS services", "this syncer has no IPVS handle")
        })?;
        let mut report = SyncReport::default();
        self.sync_ipvs_into(ipvs, services, keys, &mut report)
            .await?;
        Ok(report)
    }

    /// Brings sets to their members.
    pub async fn sync_sets<E: SetElement>(
        &self,
        sets: &[DesiredSet<E>],
    ) -> Result<Vec<SetReport<E>>> {
        let ipset = self.ipset_handle()?;
        let mut out = Vec::with_capacity(sets.len());
        for s in sets {
            out.push(self.sync_set(ipset, s).await?);
        }
        Ok(out)
    }

    /// Brings one set to its members, like [`Syncer::sync_sets`], and also
    /// returns the changes it planned from its fresh read of the kernel
    /// (the members the report counts).
    pub async fn sync_set_planned<E: SetElement>(
        &self,
        set: &DesiredSet<E>,
    ) -> Result<(SetPlan<E>, SetReport<E>)> {
        let ipset = self.ipset_handle()?;
        let current = read_members(ipset, set).await?;
        let plan = plan_set(current.as_deref(), &set.members);
        let report = self.apply_set(ipset, set, &plan).await?;
        Ok((plan, report))
    }

    fn ipset_handle(&self) -> Result<&IpsetHandle> {
        self.ipset
            .as_ref()
            .ok_or_else(|| Error::invalid_input("sync sets", "this syncer has no ipset handle"))
    }

    async fn sync_ipvs_into(
        &self,
        ipvs: &IpvsHandle,
        services: &[(Service, Vec<Destination>)],
        keys: HashSet<&ServiceKey>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let ownership = &self.options.ownership;
        let remember = matches!(ownership, Ownership::Listed);
        // asked only of the few services found and not desired
        let owns = |k: &ServiceKey| {
            let listed = remember && self.listed.lock().is_ok_and(|l| l.contains(k));
            ownership.owns(k, listed)
        };
        let rounds = self.options.max_rounds.max(1);
        for round in 1..=rounds {
            report.rounds = round;
            let current = ipvs.config_snapshot().await?;
            let mut zeroed = Vec::new();
            let (mut ops, draining) = plan_refs(
                &current,
                services,
                &owns,
                self.options.graceful,
                &mut zeroed,
            );
            ops.extend(
                zeroed
                    .iter()
                    .map(|(k, d)| OperationRef::EditDestination(k, d)),
            );
            report.draining = draining;
            report.failed.clear();
            if ops.is_empty() {
                break;
            }
            // One bulk apply: the engine encodes each operation straight
            // into the datagram being filled, so memory stays at one
            // datagram however large the change; only failures come back.
            let results = ipvs.apply(&ops).await?;
            report.applied.reserve_for(&ops);
            if results.all_ok() {
                ops.iter().for_each(|op| report.applied.push_op(*op));
            } else {
                let mut errors = results.into_errors().into_iter().peekable();
                for (i, op) in ops.iter().enumerate() {
                    match errors.next_if(|(j, _)| *j == i) {
                        Some((_, e)) => report.failed.push((owned(op), e)),
                        None => report.applied.push_op(*op),
                    }
                }
            }
            // Only refusals that a fresh read can explain are worth
            // another round: the state moved (exists / not found).
            let retry = report
                .failed
                .iter()
                .any(|(_, e)| matches!(e, Error::Exists { .. } | Error::NotFound { .. }));
            if !retry {
                break;
            }
        }
        // Only Ownership::Listed needs the services remembered.
        if !remember {
            return Ok(());
        }
        if let Ok(mut l) = self.listed.lock() {
            l.extend(keys.into_iter().copied());
            // a service removed and deleted is no longer ours to remember
            for c in &report.applied {
                if let Change::DeleteService(k) = c {
                    l.remove(&k);
                }
            }
        }
        Ok(())
    }

    async fn sync_set<E: SetElement>(
        &self,
        ipset: &IpsetHandle,
        want: &DesiredSet<E>,
    ) -> Result<SetReport<E>> {
        let current = read_members(ipset, want).await?;
        let plan = plan_set(current.as_deref(), &want.members);
        self.apply_set(ipset, want, &plan).await
    }

    /// Sends a [`plan_set`] plan for `want`: create and fill, or replace,
    /// or delete then add (bulk messages).
    async fn apply_set<E: SetElement>(
        &self,
        ipset: &IpsetHandle,
        want: &DesiredSet<E>,
        plan: &SetPlan<E>,
    ) -> Result<SetReport<E>> {
        let name = want.spec.name.as_str();
        let mut rep = SetReport::<E>::named(name);
        if plan.create {
            ipset.create(&want.spec, true).await?;
            rep.created = true;
            let r = ipset.add_many(name, &plan.add, bulk_options()).await?;
            collect(&mut rep, &plan.add, r.outcomes, true);
            return Ok(rep);
        }
        if plan.is_empty() {
            return Ok(rep);
        }
        if self.options.sets == SetStrategy::Replace {
            let r = ipset.replace(&want.spec, &want.members).await?;
            rep.replaced = true;
            rep.added = r.applied();
            rep.removed = plan.del.len();
            return Ok(rep);
        }
        if !plan.del.is_empty() {
            let r = ipset.del_many(name, &plan.del, bulk_options()).await?;
            collect(&mut rep, &plan.del, r.outcomes, false);
        }
        if !plan.add.is_empty() {
            let r = ipset.add_many(name, &plan.add, bulk_options()).await?;
            collect(&mut rep, &plan.add, r.outcomes, true);
        }
        Ok(rep)
    }
}

fn bulk_options() -> BulkOptions {
    BulkOptions::new().exist(true)
}

/// The members of the desired set's set as the kernel holds them (`None`
/// when it does not exist), refusing a set of a type `E` cannot read.
async fn read_members<E: SetElement>(
    ipset: &IpsetHandle,
    want: &DesiredSet<E>,
) -> Result<Option<Vec<E>>> {
    let name = &want.spec.name;
    if !E::accepts(&want.spec.set_type) {
        return Err(Error::invalid_input(
            format!("sync set {name}"),
            format!(
                "its members are not of the type of a {} set",
                want.spec.set_type
            ),
        ));
    }
    match read_set(ipset, name).await? {
        Some(s) if s.set_type != want.spec.set_type => Err(Error::invalid_input(
            format!("sync set {name}"),
            format!(
                "exists as {} instead of {}; destroy it or choose another name",
                s.set_type, want.spec.set_type
            ),
        )),
        Some(s) => Ok(Some(s.members_as()?)),
        None => Ok(None),
    }
}

fn collect<E: SetElement>(rep: &mut SetReport<E>, elems: &[E], outcomes: Vec<Outcome>, add: bool) {
    for (e, o) in elems.iter().zip(outcomes) {
        match o {
            Outcome::Applied if add => rep.added += 1,
            Outcome::Applied => rep.removed += 1,
            Outcome::Failed(err) => rep.failures.push((e.clone(), *err)),
            Outcome::NotAttempted => rep.failures.push((
                e.clone(),
                Error::invalid_input(format!("element {e}"), "not attempted"),
            )),
            // An outcome a newer ipset-nl may add (`Outcome` is
            // non_exhaustive): not known to be applied, so a failure.
            _ => rep.failures.push((
                e.clone(),
                Error::invalid_input(format!("element {e}"), "outcome unknown"),
            )),
        }
    }
}

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
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
    }
}
