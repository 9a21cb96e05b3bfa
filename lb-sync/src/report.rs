//! What a sync did: [`SyncReport`], its IPVS [`Changes`] and each set's
//! [`SetReport`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipset_nl::IpPortEntry;
use ipvs_nl::{Destination, Operation, OperationRef, Service, ServiceKey};
use nl_engine::Error;

/// One IPVS change a sync made, naming the object it changed (its
/// configuration is the desired state's).
///
/// ```
/// use lb_sync::ipvs::ServiceKey;
/// use lb_sync::Change;
/// let k = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
/// let c = Change::AddDestination(k, "192.168.0.2:8080".parse().unwrap());
/// assert_eq!(c.to_string(), "add destination 192.168.0.2:8080 to service TCP 10.0.0.1:80");
/// assert_eq!(c.service(), &k);
/// ```
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// The service was added.
    AddService(ServiceKey),
    /// The service's configuration was changed.
    EditService(ServiceKey),
    /// The service was deleted, with its destinations.
    DeleteService(ServiceKey),
    /// The destination (address and port) was added to the service.
    AddDestination(ServiceKey, SocketAddr),
    /// The destination's configuration was changed (to weight 0 when it is
    /// draining: see [`SyncReport::draining`]).
    EditDestination(ServiceKey, SocketAddr),
    /// The destination was deleted from the service.
    DeleteDestination(ServiceKey, SocketAddr),
}

impl Change {
    /// The change an operation makes (`None` for a counter reset, which
    /// changes no configuration).
    pub fn of(op: OperationRef<'_>) -> Option<Change> {
        let at = |d: &Destination| SocketAddr::new(d.addr, d.port);
        Some(match op {
            OperationRef::AddService(s) => Change::AddService(s.key),
            OperationRef::EditService(s) => Change::EditService(s.key),
            OperationRef::DeleteService(k) => Change::DeleteService(*k),
            OperationRef::AddDestination(k, d) => Change::AddDestination(*k, at(d)),
            OperationRef::EditDestination(k, d) => Change::EditDestination(*k, at(d)),
            OperationRef::DeleteDestination(k, d) => Change::DeleteDestination(*k, at(d)),
            OperationRef::ZeroService(_) => return None,
        })
    }

    /// The service changed (or whose destination changed).
    pub fn service(&self) -> &ServiceKey {
        match self {
            Change::AddService(k)
            | Change::EditService(k)
            | Change::DeleteService(k)
            | Change::AddDestination(k, _)
            | Change::EditDestination(k, _)
            | Change::DeleteDestination(k, _) => k,
        }
    }

    /// The destination changed, if the change is to a destination.
    pub fn destination(&self) -> Option<SocketAddr> {
        match self {
            Change::AddDestination(_, d)
            | Change::EditDestination(_, d)
            | Change::DeleteDestination(_, d) => Some(*d),
            _ => None,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Change::AddService(_) => Kind::AddService,
            Change::EditService(_) => Kind::EditService,
            Change::DeleteService(_) => Kind::DeleteService,
            Change::AddDestination(..) => Kind::AddDestination,
            Change::EditDestination(..) => Kind::EditDestination,
            Change::DeleteDestination(..) => Kind::DeleteDestination,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddService(k) => write!(f, "add service {k}"),
            Change::EditService(k) => write!(f, "edit service {k}"),
            Change::DeleteService(k) => write!(f, "delete service {k}"),
            Change::AddDestination(k, d) => write!(f, "add destination {d} to service {k}"),
            Change::EditDestination(k, d) => write!(f, "edit destination {d} of service {k}"),
            Change::DeleteDestination(k, d) => write!(f, "delete destination {d} of service {k}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    AddService,
    EditService,
    DeleteService,
    AddDestination,
    EditDestination,
    DeleteDestination,
}

impl Kind {
    fn from_bits(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::AddService,
            1 => Kind::EditService,
            2 => Kind::DeleteService,
            3 => Kind::AddDestination,
            4 => Kind::EditDestination,
            5 => Kind::DeleteDestination,
            _ => return None,
        })
    }
}

/// In a [`Changes`] step: the change is to the next service (whose key
/// follows in the byte stream).
const NEXT_SERVICE: u8 = 0x80;
/// In a [`Changes`] step: the destination that follows is IPv6 (16 bytes
/// of address; 4 otherwise).
const DEST_V6: u8 = 0x40;
/// In a [`Changes`] step: the destination that follows has the port of
/// the previous destination in the stream, which is not repeated (the
/// destinations of a service usually share one port).
const SAME_PORT: u8 = 0x20;
/// In a [`Changes`] step: the kind of change.
const KIND: u8 = 0x07;

/// The first byte of a service key in the [`Changes`] byte stream: the
/// kind of key ([`KEY_KIND`])...
const KEY_ADDR_V4: u8 = 0;
const KEY_ADDR_V6: u8 = 1;
const KEY_FWMARK: u8 = 2;
const KEY_KIND: u8 = 0x0f;
/// ... and for an address key, which of its protocol and port are the
/// previous key's (an address key's too), not repeated: services often
/// share them (TCP, port 80 or 443).
const KEY_SAME_PROTOCOL: u8 = 0x10;
const KEY_SAME_PORT: u8 = 0x20;

/// The IPVS changes of a sync, in the order sent, stored compactly: one
/// byte per change, and in one byte stream beside it a service's key once
/// for all its changes in a row (9 bytes for IPv4, 5 when its protocol and
/// port are the previous key's) and each destination's address and port
/// (6 bytes for IPv4, 4 when its port is the previous destination's). A
/// sync from empty of 10,000 TCP services on one port, each with 4
/// destinations on one port, keeps 260 kB here (380 kB with every
/// protocol and port written out), where a list of [`Change`]s (72 bytes
/// each) would take 3.6 MB.
///
/// ```
/// use lb_sync::{Change, Changes};
/// let c = Changes::default();
/// assert!(c.is_empty() && c.iter().next().is_none());
/// let k = lb_sync::ipvs::ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
/// assert!(!c.contains(&Change::DeleteService(k)));
/// let c: Changes = [Change::AddService(k)].into_iter().collect();
/// assert_eq!(c.iter().collect::<Vec<_>>(), [Change::AddService(k)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Per change: its kind ([`KIND`]), [`NEXT_SERVICE`] when it is the
    /// first change of the next service (so the first change always has
    /// it), [`DEST_V6`] for an IPv6 destination.
    steps: Vec<u8>,
    /// In order, per step: the service's key when [`NEXT_SERVICE`] is set,
    /// then the destination's address and port when it is a destination
    /// change (integers in native byte order, addresses in network order).
    bytes: Vec<u8>,
    /// The key of the last change's service (the one `bytes` holds last).
    last: Option<ServiceKey>,
    /// The port of the last destination change.
    last_port: Option<u16>,
}

impl Changes {
    /// How many changes.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when there is no change.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The changes, in the order sent.
    pub fn iter(&self) -> ChangesIter<'_> {
        ChangesIter {
            changes: self,
            step: 0,
            at: 0,
            service: None,
            port: None,
        }
    }

    /// Whether `change` is among the changes.
    pub fn contains(&self, change: &Change) -> bool {
        self.iter().any(|c| c == *change)
    }

    /// Appends a change.
    pub fn push(&mut self, change: Change) {
        let step = self.service_step(change.kind(), change.service());
        let step = match change.destination() {
            Some(d) => self.with_destination(step, d.ip(), d.port()),
            None => step,
        };
        self.steps.push(step);
    }

    /// The step of a change of `kind` to the service `key`, its key
    /// appended when it is not the previous change's.
    fn service_step(&mut self, kind: Kind, key: &ServiceKey) -> u8 {
        let mut step = kind as u8;
        if self.last.as_ref() != Some(key) {
            put_key(&mut self.bytes, key, self.last.as_ref());
            self.last = Some(*key);
            step |= NEXT_SERVICE;
        }
        step
    }

    /// `step` with the destination `ip`:`port` appended.
    fn with_destination(&mut self, step: u8, ip: IpAddr, port: u16) -> u8 {
        let v6 = put_ip(&mut self.bytes, ip);
        let step = if v6 { step | DEST_V6 } else { step };
        if repeats(&mut self.last_port, port) {
            return step | SAME_PORT;
        }
        self.bytes.extend_from_slice(&port.to_ne_bytes());
        step
    }

    /// Reserves exactly the room the changes of `ops` take (no vector
    /// grows by doubling, which would touch twice the memory).
    pub(crate) fn reserve_for<'o>(&mut self, ops: impl Iterator<Item = OperationRef<'o>>) {
        let (mut steps, mut bytes) = (0, 0);
        let (mut last, mut port) = (self.last, self.last_port);
        for c in ops.filter_map(Change::of) {
            steps += 1;
            if let Some(d) = c.destination() {
                bytes += dest_len(&d.ip(), d.port(), &mut port);
            }
            if last.as_ref() != Some(c.service()) {
                bytes += key_len(c.service(), last.as_ref());
                last = Some(*c.service());
            }
        }
        self.steps.reserve_exact(steps);
        self.bytes.reserve_exact(bytes);
    }

    /// Reserves exactly the room [`push_adds`](Self::push_adds) of every
    /// service of `services` takes.
    pub(crate) fn reserve_for_adds(&mut self, services: &[(Service, Vec<Destination>)]) {
        let (mut steps, mut bytes) = (0, 0);
        let (mut last, mut port) = (self.last, self.last_port);
        for (s, ds) in services {
            steps += 1 + ds.len();
            if last.as_ref() != Some(&s.key) {
                bytes += key_len(&s.key, last.as_ref());
                last = Some(s.key);
            }
            for d in ds {
                bytes += dest_len(&d.addr, d.port, &mut port);
            }
        }
        self.steps.reserve_exact(steps);
        self.bytes.reserve_exact(bytes);
    }

    /// Appends the add of the service `key` and the adds of its
    /// destinations `ds`, in that order (what [`push`](Self::push) of each
    /// change appends, with the service's key compared once rather than
    /// once per change).
    pub(crate) fn push_adds(&mut self, key: &ServiceKey, ds: &[Destination]) {
        let step = self.service_step(Kind::AddService, key);
        self.steps.push(step);
        for d in ds {
            // the key is the service's, just recorded
            let step = self.with_destination(Kind::AddDestination as u8, d.addr, d.port);
            self.steps.push(step);
        }
    }

    /// Appends what `op` changed (nothing for a counter reset).
    pub(crate) fn push_op(&mut self, op: OperationRef<'_>) {
        if let Some(c) = Change::of(op) {
            self.push(c);
        }
    }

    /// Where the changes end now, for [`truncate`](Self::truncate).
    pub(crate) fn end(&self) -> End {
        End {
            steps: self.steps.len(),
            bytes: self.bytes.len(),
            last: self.last,
            last_port: self.last_port,
        }
    }

    /// Drops the changes recorded after `end` (from [`end`](Self::end)).
    pub(crate) fn truncate(&mut self, end: End) {
        self.steps.truncate(end.steps);
        self.bytes.truncate(end.bytes);
        self.last = end.last;
        self.last_port = end.last_port;
    }
}

/// Where [`Changes`] ended at one time: what its next change is written
/// after and compared with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct End {
    steps: usize,
    bytes: usize,
    last: Option<ServiceKey>,
    last_port: Option<u16>,
}

fn addr_len(a: &IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

/// Whether a destination on `port` repeats the previous destination's
/// port `*last_port` (so its port is not written), which becomes `port`.
/// The writer and the reservations both decide through it.
fn repeats(last_port: &mut Option<u16>, port: u16) -> bool {
    last_port.replace(port) == Some(port)
}

/// The bytes a destination `ip`:`port` takes in the byte stream after a
/// destination on `*last_port` (which becomes `port`).
fn dest_len(ip: &IpAddr, port: u16, last_port: &mut Option<u16>) -> usize {
    addr_len(ip) + if repeats(last_port, port) { 0 } else { 2 }
}

/// The bytes [`put_key`] writes for `k` after `prev`.
fn key_len(k: &ServiceKey, prev: Option<&ServiceKey>) -> usize {
    match k {
        ServiceKey::Addr { addr, .. } => {
            let (proto, port) = shared(k, prev);
            1 + if proto { 0 } else { 2 } + addr_len(&addr.ip()) + if port { 0 } else { 2 }
        }
        ServiceKey::Fwmark { .. } => 1 + 2 + 4,
    }
}

/// Whether the address key `k` has the protocol and the port of `prev`
/// (an address key too).
fn shared(k: &ServiceKey, prev: Option<&ServiceKey>) -> (bool, bool) {
    match (k, prev) {
        (
            ServiceKey::Addr { protocol, addr },
            Some(ServiceKey::Addr {
                protocol: p,
                addr: a,
            }),
        ) => (protocol == p, addr.port() == a.port()),
        _ => (false, false),
    }
}

/// Appends `ip`'s octets to a [`Changes`] byte stream; true for IPv6.
fn put_ip(out: &mut Vec<u8>, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
    ip.is_ipv6()
}

/// Appends `k` to a [`Changes`] byte stream, after the key `prev`.
fn put_key(out: &mut Vec<u8>, k: &ServiceKey, prev: Option<&ServiceKey>) {
    match k {
        ServiceKey::Addr { protocol, addr } => {
            let (same_proto, same_port) = shared(k, prev);
            let mut tag = if addr.is_ipv6() {
                KEY_ADDR_V6
            } else {
                KEY_ADDR_V4
            };
            if same_proto {
                tag |= KEY_SAME_PROTOCOL;
            }
            if same_port {
                tag |= KEY_SAME_PORT;
            }
            out.push(tag);
            if !same_proto {
                out.extend_from_slice(&protocol.number().to_ne_bytes());
            }
            put_ip(out, addr.ip());
            if !same_port {
                out.extend_from_slice(&addr.port().to_ne_bytes());
            }
        }
        ServiceKey::Fwmark { family, mark } => {
            out.push(KEY_FWMARK);
            out.extend_from_slice(&family.number().to_ne_bytes());
            out.extend_from_slice(&mark.to_ne_bytes());
        }
    }
}

/// Reads what [`put_key`] and [`Changes::push`] wrote, from `at` on.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const L: usize>(&mut self) -> Option<[u8; L]> {
        let b = self.bytes.get(self.at..self.at.checked_add(L)?)?;
        self.at += L;
        b.try_into().ok()
    }

    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_ne_bytes)
    }

    fn ip(&mut self, v6: bool) -> Option<IpAddr> {
        Some(if v6 {
            IpAddr::from(self.take::<16>()?)
        } else {
            IpAddr::from(self.take::<4>()?)
        })
    }

    /// The key that follows, after the key `prev`.
    fn key(&mut self, prev: Option<&ServiceKey>) -> Option<ServiceKey> {
        let [tag] = self.take()?;
        let kind = tag & KEY_KIND;
        let flags = tag & !KEY_KIND;
        // flags only an address key can carry, and no others
        let allowed = match kind {
            KEY_ADDR_V4 | KEY_ADDR_V6 => KEY_SAME_PROTOCOL | KEY_SAME_PORT,
            _ => 0,
        };
        if flags & !allowed != 0 {
            return None;
        }
        let prev_addr = match prev {
            Some(ServiceKey::Addr { protocol, addr }) => Some((*protocol, addr.port())),
            _ => None,
        };
        Some(match kind {
            KEY_ADDR_V4 | KEY_ADDR_V6 => {
                let protocol = if tag & KEY_SAME_PROTOCOL != 0 {
                    prev_addr?.0
                } else {
                    self.u16()?.into()
                };
                let ip = self.ip(kind == KEY_ADDR_V6)?;
                let port = if tag & KEY_SAME_PORT != 0 {
                    prev_addr?.1
                } else {
                    self.u16()?
                };
                ServiceKey::Addr {
                    protocol,
                    addr: SocketAddr::new(ip, port),
                }
            }
            KEY_FWMARK => ServiceKey::Fwmark {
                family: self.u16()?.into(),
                mark: u32::from_ne_bytes(self.take()?),
            },
            _ => return None,
        })
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = Change;
    type IntoIter = ChangesIter<'a>;
    fn into_iter(self) -> ChangesIter<'a> {
        self.iter()
    }
}

/// A list of [`Change`]s (feature `serde`).
#[cfg(feature = "serde")]
impl serde::Serialize for Changes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Changes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Vec<Change> = serde::Deserialize::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

impl FromIterator<Change> for Changes {
    fn from_iter<T: IntoIterator<Item = Change>>(iter: T) -> Self {
        let mut c = Changes::default();
        iter.into_iter().for_each(|x| c.push(x));
        c
    }
}

/// The iterator of [`Changes::iter`].
#[derive(Debug, Clone)]
pub struct ChangesIter<'a> {
    changes: &'a Changes,
    step: usize,
    /// Where the next key or destination starts in the byte stream.
    at: usize,
    /// The service of the last change.
    service: Option<ServiceKey>,
    /// The port of the last destination change.
    port: Option<u16>,
}

impl Iterator for ChangesIter<'_> {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        let &step = self.changes.steps.get(self.step)?;
        self.step += 1;
        let mut r = Reader {
            bytes: &self.changes.bytes,
            at: self.at,
        };
        if step & NEXT_SERVICE != 0 {
            self.service = Some(r.key(self.service.as_ref())?);
        }
        let k = self.service?;
        let kind = Kind::from_bits(step & KIND)?;
        let last_port = &mut self.port;
        let mut dest = || {
            let ip = r.ip(step & DEST_V6 != 0)?;
            let port = if step & SAME_PORT != 0 {
                (*last_port)?
            } else {
                r.u16()?
            };
            *last_port = Some(port);
            Some(SocketAddr::new(ip, port))
        };
        let change = match kind {
            Kind::AddService => Change::AddService(k),
            Kind::EditService => Change::EditService(k),
            Kind::DeleteService => Change::DeleteService(k),
            Kind::AddDestination => Change::AddDestination(k, dest()?),
            Kind::EditDestination => Change::EditDestination(k, dest()?),
            Kind::DeleteDestination => Change::DeleteDestination(k, dest()?),
        };
        self.at = r.at;
        Some(change)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.changes.steps.len().saturating_sub(self.step);
        (n, Some(n))
    }
}

impl ExactSizeIterator for ChangesIter<'_> {}

/// What one sync changed.
///
/// ```
/// use lb_sync::SyncReport;
/// let r = SyncReport::default();
/// assert!(r.is_noop() && r.is_converged());
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SyncReport {
    /// IPVS changes the kernel applied, in the order sent.
    pub applied: Changes,
    /// IPVS changes the kernel refused in the last round, with its error.
    pub failed: Vec<(Operation, Error)>,
    /// Destinations kept at weight 0 because they still carry connections
    /// (deleted by a later sync once idle), as they were before.
    pub draining: Vec<(ServiceKey, Destination)>,
    /// One report per desired set.
    pub sets: Vec<SetReport>,
    /// Read-plan-apply rounds made (0 when IPVS was not synced).
    pub rounds: u32,
}

impl SyncReport {
    /// Changes applied (IPVS operations, set members added and removed,
    /// sets created).
    pub fn changes(&self) -> usize {
        self.applied.len()
            + self
                .sets
                .iter()
                .map(|s| s.added + s.removed + usize::from(s.created))
                .sum::<usize>()
    }

    /// True when nothing was changed or refused.
    pub fn is_noop(&self) -> bool {
        self.changes() == 0
            && self.failed.is_empty()
            && self
                .sets
                .iter()
                .all(|s| s.failures.is_empty() && !s.replaced)
    }

    /// True when no change was refused (destinations may still be
    /// draining).
    pub fn is_converged(&self) -> bool {
        self.failed.is_empty() && self.sets.iter().all(|s| s.failures.is_empty())
    }
}

/// What one sync did to one set.
#[derive(Debug)]
#[non_exhaustive]
pub struct SetReport<E = IpPortEntry> {
    /// The set's name.
    pub name: String,
    /// The set did not exist and was created.
    pub created: bool,
    /// The set was replaced atomically ([`SetStrategy::Replace`](super::SetStrategy::Replace)).
    pub replaced: bool,
    /// Members added (for a replace: members of the new set).
    pub added: usize,
    /// Members removed (for a replace: members the old set had and the new
    /// one lacks).
    pub removed: usize,
    /// Members the kernel refused, with its error.
    pub failures: Vec<(E, Error)>,
}

// For the default member type only, so that `SetReport::default()` needs
// no annotation (as before members were generic); other types: `named`.
impl Default for SetReport {
    fn default() -> Self {
        Self::named("")
    }
}

impl<E> SetReport<E> {
    /// A report of nothing done to the set `name`.
    pub fn named(name: &str) -> Self {
        SetReport {
            name: name.to_string(),
            created: false,
            replaced: false,
            added: 0,
            removed: 0,
            failures: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Adds;

    #[test]
    fn changes_keep_order_and_content() {
        let a = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
        let b = ServiceKey::fwmark6(7);
        let d = |s: &str| s.parse::<SocketAddr>().unwrap();
        let all = vec![
            Change::AddService(a),
            Change::AddDestination(a, d("10.1.0.1:80")),
            Change::EditDestination(a, d("[2001:db8::1]:8080")),
            Change::EditService(b),
            Change::DeleteDestination(b, d("10.1.0.2:0")),
            Change::DeleteService(a),
            Change::AddService(a),
            Change::DeleteService(b),
        ];
        let c: Changes = all.iter().copied().collect();
        assert_eq!(c.len(), all.len());
        assert_eq!(c.iter().len(), all.len());
        assert_eq!(c.iter().collect::<Vec<_>>(), all);
        // a service's key is kept once for the changes in a row: 4 keys
        // (two of 9 bytes, two of 7), 3 destinations (2 IPv4 of 6 bytes,
        // one IPv6 of 18)
        assert_eq!(c.bytes.len(), 2 * 9 + 2 * 7 + 2 * 6 + 18);
        assert!(c.contains(&Change::EditService(b)));
        assert!(!c.contains(&Change::EditService(a)));
    }

    #[test]
    fn changes_truncated_to_an_end_go_on_as_from_it() {
        let a = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
        let b = ServiceKey::tcp("10.0.0.2:80".parse().unwrap());
        let d = |s: &str| s.parse::<SocketAddr>().unwrap();
        let first = [
            Change::AddService(a),
            Change::AddDestination(a, d("10.1.0.1:8080")),
        ];
        let mut c: Changes = first.iter().copied().collect();
        let end = c.end();
        // more, then taken back: another service, another port
        c.push(Change::AddService(b));
        c.push(Change::AddDestination(b, d("10.1.0.2:9090")));
        c.truncate(end);
        let kept: Changes = first.iter().copied().collect();
        assert_eq!(c, kept);
        // what follows is written as after the end (the same key and port
        // not repeated), as in changes that never had the rest
        let next = Change::AddDestination(a, d("10.1.0.3:8080"));
        c.push(next);
        let straight: Changes = first.iter().copied().chain([next]).collect();
        assert_eq!(c, straight);
        assert_eq!(c.iter().last(), Some(next));
    }

    #[test]
    fn every_kind_of_key_and_destination_survives() {
        let keys = [
            ServiceKey::Addr {
                protocol: ipvs_nl::Protocol::Other(253),
                addr: "[2001:db8::9]:65535".parse().unwrap(),
            },
            ServiceKey::sctp("10.0.0.9:0".parse().unwrap()),
            ServiceKey::fwmark(u32::MAX),
            ServiceKey::Fwmark {
                family: ipvs_nl::Family::Other(99),
                mark: 1,
            },
        ];
        let d = |s: &str| s.parse::<SocketAddr>().unwrap();
        let all: Vec<Change> = keys
            .iter()
            .flat_map(|&k| {
                [
                    Change::DeleteDestination(k, d("[::ffff:10.0.0.1]:1")),
                    Change::AddDestination(k, d("0.0.0.0:65535")),
                    Change::EditService(k),
                ]
            })
            .collect();
        let c: Changes = all.iter().copied().collect();
        assert_eq!(c.iter().collect::<Vec<_>>(), all);
        // the same again after a clone, and equal
        assert_eq!(c.clone(), c);
        assert_eq!(c.clone().iter().collect::<Vec<_>>(), all);
    }

    #[test]
    fn a_repeated_port_is_stored_once() {
        let a = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
        let b = ServiceKey::fwmark6(7);
        let d = |s: &str| s.parse::<SocketAddr>().unwrap();
        // runs of one port, across services, across a change that names
        // no destination, IPv4 and IPv6 alike
        let all = vec![
            Change::AddService(a),
            Change::AddDestination(a, d("10.1.0.1:8080")),
            Change::AddDestination(a, d("10.1.0.2:8080")),
            Change::EditService(b),
            Change::AddDestination(b, d("[2001:db8::1]:8080")),
            Change::DeleteDestination(b, d("[2001:db8::2]:9090")),
            Change::DeleteDestination(a, d("10.1.0.3:9090")),
            Change::EditDestination(a, d("10.1.0.3:8080")),
        ];
        let c: Changes = all.iter().copied().collect();
        assert_eq!(c.iter().collect::<Vec<_>>(), all);
        // keys: a (9 bytes) twice, b (7) once, one per run of changes to
        // one service; ports written: 8080, 9090, 8080 (the other three
        // repeat the previous one)
        let addrs = 4 + 4 + 16 + 16 + 4 + 4;
        assert_eq!(c.bytes.len(), 2 * 9 + 7 + addrs + 3 * 2);
        // reserving for the same changes after some already recorded
        // counts from the last port recorded
        let mut more = c.clone();
        let s = Service::tcp("10.0.0.1:80".parse().unwrap());
        let same = Destination::new("10.1.0.9".parse().unwrap(), 8080);
        let ops = [OperationRef::AddDestination(&s.key, &same)];
        more.bytes.shrink_to_fit();
        more.reserve_for(ops.iter().copied());
        let room = more.bytes.capacity();
        ops.iter().for_each(|op| more.push_op(*op));
        assert_eq!(
            (more.bytes.capacity(), more.bytes.len()),
            (room, c.bytes.len() + 4)
        );
        assert_eq!(
            more.iter().last(),
            Some(Change::AddDestination(a, d("10.1.0.9:8080")))
        );
    }

    #[test]
    fn a_key_shares_protocol_and_port_with_the_previous_one() {
        let tcp = |a: &str| ServiceKey::tcp(a.parse().unwrap());
        let keys = [
            tcp("10.0.0.1:80"),
            tcp("10.0.0.2:80"),
            ServiceKey::udp("10.0.0.3:80".parse().unwrap()),
            tcp("[2001:db8::1]:80"),
            tcp("10.0.0.4:443"),
            ServiceKey::fwmark(7),
            tcp("10.0.0.5:443"),
        ];
        let all: Vec<Change> = keys.iter().map(|&k| Change::AddService(k)).collect();
        let c: Changes = all.iter().copied().collect();
        assert_eq!(c.iter().collect::<Vec<_>>(), all);
        // 9 bytes whole; then protocol and port shared (5); the port (7);
        // the port, IPv6 (19); the protocol (7); a mark (7); nothing
        // shared with a mark (9)
        assert_eq!(c.bytes.len(), 9 + 5 + 7 + 19 + 7 + 7 + 9);
        // both reservations count the same bytes
        let services: Vec<(Service, Vec<Destination>)> = keys
            .iter()
            .map(|&k| (Service::new(k), Vec::new()))
            .collect();
        let ops: Vec<OperationRef<'_>> = services
            .iter()
            .map(|(s, _)| OperationRef::AddService(s))
            .collect();
        let mut by_ops = Changes::default();
        by_ops.reserve_for(ops.iter().copied());
        let mut by_adds = Changes::default();
        by_adds.reserve_for_adds(&services);
        assert_eq!(by_ops.bytes.capacity(), c.bytes.len());
        assert_eq!(by_adds.bytes.capacity(), c.bytes.len());
        for (s, ds) in &services {
            by_adds.push_adds(&s.key, ds);
        }
        assert_eq!(by_adds, c);
    }

    #[test]
    fn a_key_tag_with_a_flag_it_cannot_carry_is_not_read_as_a_key() {
        let tcp = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
        for (key, flag) in [
            (ServiceKey::fwmark(7), KEY_SAME_PORT),
            (ServiceKey::fwmark(7), KEY_SAME_PROTOCOL),
            (tcp, 0x40),
        ] {
            let good: Changes = [Change::AddService(key)].into_iter().collect();
            assert_eq!(good.iter().next(), Some(Change::AddService(key)));
            let mut bad = good.clone();
            *bad.bytes.first_mut().unwrap() |= flag;
            assert_eq!(bad.iter().next(), None, "{key} {flag:#x}");
        }
    }

    #[test]
    fn reserved_room_holds_every_change() {
        let a = ipvs_nl::Service::tcp("10.0.0.1:80".parse().unwrap());
        let b = ipvs_nl::Service::udp("10.0.0.2:53".parse().unwrap());
        let d = Destination::new("10.1.0.1".parse().unwrap(), 8080);
        let ops = [
            OperationRef::AddService(&a),
            OperationRef::AddDestination(&a.key, &d),
            OperationRef::EditDestination(&a.key, &d),
            OperationRef::ZeroService(&b.key),
            OperationRef::DeleteDestination(&b.key, &d),
            OperationRef::DeleteService(&a.key),
        ];
        let mut c = Changes::default();
        c.reserve_for(ops.iter().copied());
        let room = |c: &Changes| (c.steps.capacity(), c.bytes.capacity());
        let reserved = room(&c);
        // 5 changes (a counter reset is none), 3 runs of one service (9
        // bytes each), 3 IPv4 destinations on one port (6 bytes, then 4
        // each: the port is not repeated)
        let bytes = 3 * 9 + 6 + 4 + 4;
        assert!(reserved.0 >= 5 && reserved.1 >= bytes, "{reserved:?}");
        ops.iter().for_each(|op| c.push_op(*op));
        // nothing grew (a vector that grows changes its capacity, even
        // when its memory stays in place)
        assert_eq!(room(&c), reserved);
        assert_eq!((c.len(), c.bytes.len()), (5, bytes));
    }

    #[test]
    fn adds_of_services_are_the_changes_pushed_one_by_one() {
        let a = Service::tcp("10.0.0.1:80".parse().unwrap());
        let b = Service::udp("[2001:db8::1]:53".parse().unwrap());
        let c = Service::fwmark(7);
        let d = |s: &str| {
            let s: SocketAddr = s.parse().unwrap();
            Destination::new(s.ip(), s.port())
        };
        let services = vec![
            (a.clone(), vec![d("10.1.0.1:80"), d("[2001:db8::2]:8080")]),
            (b.clone(), vec![]),
            (c.clone(), vec![d("10.1.0.2:0")]),
        ];
        // after a change to `a` already recorded, `a`'s key is not repeated
        let before = Change::DeleteDestination(a.key, "10.9.9.9:1".parse().unwrap());
        let mut fast: Changes = [before].into_iter().collect();
        fast.reserve_for_adds(&services);
        let room = (fast.steps.capacity(), fast.bytes.capacity());
        for (s, ds) in &services {
            fast.push_adds(&s.key, ds);
        }
        assert_eq!((fast.steps.capacity(), fast.bytes.capacity()), room);
        let mut slow: Changes = [before].into_iter().collect();
        Adds::new(&services).for_each(|op| slow.push_op(op));
        assert_eq!(fast, slow);
        assert_eq!(fast.len(), 1 + 3 + 1 + 2);
    }

    #[test]
    fn changes_name_what_operations_change() {
        let s = ipvs_nl::Service::tcp("10.0.0.1:80".parse().unwrap());
        let d = Destination::new("10.1.0.1".parse().unwrap(), 8080).weight(ipvs_nl::Weight(3));
        let op = Operation::EditDestination(s.key, d);
        let c = Change::of(op.borrowed());
        assert_eq!(
            c,
            Some(Change::EditDestination(
                s.key,
                "10.1.0.1:8080".parse().unwrap()
            ))
        );
        // the same words as the operation's error context
        assert_eq!(c.map(|c| c.to_string()), Some(op.context()));
        assert_eq!(Change::of(ipvs_nl::OperationRef::ZeroService(&s.key)), None);
    }
}
