//! Planning: the operations that bring the current state to the desired
//! one, computed without touching the kernel.

use std::collections::HashSet;
use std::net::SocketAddr;

use ipset_nl::{IpPortEntry, SetElement};
use ipvs_nl::{
    Destination, ForwardMethod, Operation, OperationRef, Service, ServiceEntry, ServiceFlags,
    ServiceKey, Weight,
};
use nl_engine::{Error, Result};

use crate::Graceful;
use crate::hash::{IndexSet, WordMap, WordSet, word_set};

/// The changes that bring `current` to `desired`: what [`Syncer::sync`](crate::Syncer::sync)
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

pub(crate) fn dest_key(d: &Destination) -> SocketAddr {
    SocketAddr::new(d.addr, d.port)
}

/// Checks a desired service list: no service twice, no destination twice
/// in one service.
pub fn validate(services: &[(Service, Vec<Destination>)]) -> Result<()> {
    let too_many = || Error::invalid_input("desired services", "more than 4,294,967,294");
    // indices into the list, not references to the keys: 4 bytes a
    // service (10,000 services: 16 pages instead of 36, all of them
    // touched for the first time in a fresh process)
    let mut seen = IndexSet::with_capacity(services.len()).ok_or_else(too_many)?;
    for (i, (s, ds)) in services.iter().enumerate() {
        if !seen.insert(i, &s.key, |j| services.get(j).map(|(s, _)| &s.key)) {
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
            let mut dk = word_set(ds.len());
            ds.iter().find(|d| !dk.insert(dest_key(d)))
        };
        if let Some(d) = twice {
            return Err(Error::invalid_input(
                format!("desired destination {d} of service {}", s.key),
                "listed twice",
            ));
        }
    }
    Ok(())
}

/// Up to this many destinations per service are matched by scanning the
/// list rather than through a map built for the service (a no-op plan of
/// 10,000 services x 4 took 8 ms instead of 21 ms natively).
pub(crate) const SCAN_MAX: usize = 16;

/// A service's destinations, found by address: by scanning the list when
/// it is short (the usual case), through a map when it is long.
pub(crate) struct Dests<'a> {
    list: &'a [Destination],
    index: Option<WordMap<SocketAddr, &'a Destination>>,
}

impl<'a> Dests<'a> {
    pub(crate) fn new(list: &'a [Destination]) -> Self {
        let index =
            (list.len() > SCAN_MAX).then(|| list.iter().map(|d| (dest_key(d), d)).collect());
        Dests { list, index }
    }

    pub(crate) fn get(&self, k: SocketAddr) -> Option<&'a Destination> {
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
pub(crate) fn owned(op: &OperationRef<'_>) -> Operation {
    match *op {
        OperationRef::DeleteDestination(k, d) => {
            Operation::DeleteDestination(*k, Destination::new(d.addr, d.port))
        }
        o => o.to_operation(),
    }
}

/// The operations of a sync from empty: every desired service added, each
/// followed by its destinations (what [`plan_refs`] plans when nothing
/// exists), made on the fly from the desired state instead of kept in a
/// list. A named iterator, not a closure's `flat_map`, so that the sync's
/// future holding it is `Send`.
#[derive(Debug, Clone)]
pub(crate) struct Adds<'a> {
    services: std::slice::Iter<'a, (Service, Vec<Destination>)>,
    /// The service being added and its destinations not yet yielded.
    current: Option<(&'a ServiceKey, std::slice::Iter<'a, Destination>)>,
}

impl<'a> Adds<'a> {
    pub(crate) fn new(desired: &'a [(Service, Vec<Destination>)]) -> Self {
        Adds {
            services: desired.iter(),
            current: None,
        }
    }
}

impl<'a> Iterator for Adds<'a> {
    type Item = OperationRef<'a>;
    fn next(&mut self) -> Option<OperationRef<'a>> {
        if let Some((k, ds)) = &mut self.current {
            if let Some(d) = ds.next() {
                return Some(OperationRef::AddDestination(k, d));
            }
        }
        let (s, ds) = self.services.next()?;
        self.current = Some((&s.key, ds.iter()));
        Some(OperationRef::AddService(s))
    }
}

/// [`plan`] without copying what the operations name: they borrow from
/// `current` and `desired` (a sync of 10,000 services x 4 destinations
/// from empty plans 1.2 MB of these instead of 8 MB of operations). The
/// weight-0 copies of destinations to drain are pushed to `zeroed`, for
/// the caller to send last.
pub(crate) fn plan_refs<'a>(
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
    let by_key: WordMap<ServiceKey, &ServiceEntry> =
        current.iter().map(|e| (e.service.key, e)).collect();
    // Only needed to find the services to delete: none when nothing exists.
    let mut wanted: WordSet<ServiceKey> =
        word_set(if current.is_empty() { 0 } else { desired.len() });
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
/// [`Syncer::sync_sets`](crate::Syncer::sync_sets) sends for it, computed without touching the
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
/// when the set does not exist; see [`read_set`](crate::read_set)) to `desired`.
///
/// Members are compared as [`DesiredSet`](crate::DesiredSet) describes (address,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_stream_what_the_planner_plans_from_empty() {
        let svc = |s: &str| Service::tcp(s.parse().unwrap());
        let dest = |a: &str| Destination::new(a.parse().unwrap(), 80);
        let desired = vec![
            (svc("10.0.0.1:80"), vec![dest("10.1.0.1"), dest("10.1.0.2")]),
            (svc("10.0.0.2:80"), vec![]),
            (svc("10.0.0.3:80"), vec![dest("10.1.0.3")]),
        ];
        let mut zeroed = Vec::new();
        let (planned, draining) =
            plan_refs(&[], &desired, &|_| true, Graceful::default(), &mut zeroed);
        assert!(draining.is_empty() && zeroed.is_empty());
        let streamed: Vec<OperationRef<'_>> = Adds::new(&desired).collect();
        assert_eq!(streamed, planned);
        assert_eq!(streamed.len(), 6);
        // walked again from a clone, the same operations
        let adds = Adds::new(&desired);
        assert_eq!(adds.clone().count(), 6);
        assert!(adds.eq(planned.iter().copied()));
        assert_eq!(Adds::new(&[]).next(), None);
    }
}
