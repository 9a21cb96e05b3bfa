//! The desired state (services with their destinations, sets with their
//! members) and the options of a sync.

use std::fmt;
use std::sync::Arc;

use ipset_nl::{CreateSet, IpPortEntry};
use ipvs_nl::{Destination, Protocol, Service, ServiceKey};

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
/// member ([`ipset::IpEntry`](crate::ipset::IpEntry) for `hash:ip`, [`ipset::NetEntry`](crate::ipset::NetEntry) for
/// `hash:net`, ...; `hash:ip,port` by default), or [`ipset::TypedEntry`](crate::ipset::TypedEntry)
/// to sync sets of several types in one call ([`Syncer::sync_sets`](crate::Syncer::sync_sets)).
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

/// Which services a [`Syncer`](crate::Syncer) may delete (services of the desired state
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
    pub(crate) fn applies_to(self, key: &ServiceKey) -> bool {
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
    /// ([`IpsetHandle::replace`](crate::ipset::IpsetHandle::replace)): readers never see a half-changed set.
    Replace,
}

/// Tunables of a [`Syncer`](crate::Syncer).
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
