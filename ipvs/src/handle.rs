//! [`IpvsHandle`]: the async entry point, one per network namespace.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use nl_engine::{
    Acks, BatchOptions, BatchResults, Connection, KernelError, Netns, Packing, Protocol,
};

use crate::attr;
use crate::config::Timeouts;
use crate::conn_table::{self, ConnEntry, ConnFilter};
use crate::consts::{IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE};
use crate::daemon::{DaemonState, SyncDaemon};
use crate::destination::Destination;
use crate::info::Info;
use crate::message::{IpvsCmd, IpvsMessage};
use crate::service::{Service, ServiceKey};
use crate::{Error, Result, util};

type Msg = NetlinkMessage<GenlMessage<IpvsMessage>>;

/// How many connections [`IpvsHandle::snapshot`] spreads its destination
/// dumps over by default.
pub const DEFAULT_PIPELINE: usize = 4;

/// A service with its destinations, as [`IpvsHandle::snapshot`] returns it.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The service.
    pub service: Service,
    /// Its destinations.
    pub destinations: Vec<Destination>,
}

/// One change of a bulk [`IpvsHandle::apply`].
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `ipvsadm -A`
    AddService(Service),
    /// `ipvsadm -E`
    EditService(Service),
    /// `ipvsadm -D`
    DeleteService(ServiceKey),
    /// `ipvsadm -a`
    AddDestination(ServiceKey, Destination),
    /// `ipvsadm -e`
    EditDestination(ServiceKey, Destination),
    /// `ipvsadm -d` (only the destination's address and port matter)
    DeleteDestination(ServiceKey, Destination),
    /// `ipvsadm -Z -t ...`
    ZeroService(ServiceKey),
}

/// An [`Operation`] that borrows its service, key or destination: what a
/// bulk [`IpvsHandle::apply`] takes when the objects already live
/// elsewhere (a desired state, a snapshot), so that a large change needs no
/// copy of them (a sync of 10,000 services x 4 destinations plans 50,000 of
/// these, 24 bytes each, instead of 160-byte operations).
///
/// ```
/// use ipvs_nl::{Destination, Operation, OperationRef, Service};
/// let s = Service::tcp("10.0.0.1:80".parse().unwrap());
/// let d = Destination::new("192.168.0.2".parse().unwrap(), 80);
/// let r = OperationRef::AddDestination(&s.key, &d);
/// assert_eq!(r.to_operation(), Operation::AddDestination(s.key, d.clone()));
/// assert_eq!(r.context(), "add destination 192.168.0.2:80 to service TCP 10.0.0.1:80");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationRef<'a> {
    /// `ipvsadm -A`
    AddService(&'a Service),
    /// `ipvsadm -E`
    EditService(&'a Service),
    /// `ipvsadm -D`
    DeleteService(&'a ServiceKey),
    /// `ipvsadm -a`
    AddDestination(&'a ServiceKey, &'a Destination),
    /// `ipvsadm -e`
    EditDestination(&'a ServiceKey, &'a Destination),
    /// `ipvsadm -d` (only the destination's address and port matter: the
    /// kernel reads no other attribute of a delete)
    DeleteDestination(&'a ServiceKey, &'a Destination),
    /// `ipvsadm -Z -t ...`
    ZeroService(&'a ServiceKey),
}

/// What a bulk [`IpvsHandle::apply`] can send: an [`Operation`] or an
/// [`OperationRef`].
pub trait AsOperation {
    /// The operation, borrowed.
    fn as_operation(&self) -> OperationRef<'_>;
}

impl AsOperation for Operation {
    fn as_operation(&self) -> OperationRef<'_> {
        self.borrowed()
    }
}

impl AsOperation for OperationRef<'_> {
    fn as_operation(&self) -> OperationRef<'_> {
        *self
    }
}

/// One operation as a bulk apply sends it: encoded straight into the
/// datagram, attribute by attribute, with no message tree built (the same
/// bytes as [`IpvsMessage`]'s encoder; see the test
/// `fast_requests_match_the_typed_encoder`).
struct OpRequest<O> {
    family_id: u16,
    /// An [`OperationRef`], or an owned [`Operation`] (dropped once
    /// encoded: [`IpvsHandle::apply_stream`]).
    op: O,
    /// The operation's service nest when it names its service by key
    /// alone, already encoded (consecutive operations on one service, as
    /// its destinations are, share one encoding); `None`: encoded here.
    key_nest: Option<KeyNest>,
}

/// The service nest that names a service by key alone (key attributes and
/// `ipvsadm`'s neutral settings, see [`ServiceKey::append_attrs_full`]),
/// encoded once and shared by the operations that use it. A `Vec` so that
/// the next service's nest can be written into the same allocation once no
/// request holds it any more (see [`ValidRequests`]).
type KeyNest = std::sync::Arc<Vec<u8>>;

/// The request of a dump of `key`'s destinations, written directly (the
/// bytes of [`IpvsMessage::dump_destinations`]' typed encoding; see the
/// test `fast_requests_match_the_typed_encoder`): a snapshot sends one
/// per service.
fn dest_dump_request(family_id: u16, key: &ServiceKey) -> Vec<u8> {
    use nl_engine::wire::{NLMSG_HDRLEN, put_at};
    let mut buf = Vec::with_capacity(80);
    buf.extend_from_slice(&[0; NLMSG_HDRLEN]);
    put_at(&mut buf, 4, &family_id.to_ne_bytes());
    buf.extend_from_slice(&[
        IpvsCmd::GetDest.number(),
        crate::consts::IPVS_GENL_VERSION,
        0,
        0,
    ]);
    crate::attr::append_nla(&mut buf, SVC_NEST, |b| key.append_attrs(b));
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    put_at(&mut buf, 0, &len.to_ne_bytes());
    buf
}

/// The netlink attribute type of a service nest.
const SVC_NEST: u16 = IPVS_CMD_ATTR_SERVICE | netlink_packet_core::NLA_F_NESTED;

/// Encodes the nest naming `key` into `buf`.
fn append_key_nest(buf: &mut Vec<u8>, key: &ServiceKey) {
    let mask = Some(crate::service::Netmask::host(key.family()));
    crate::attr::append_nla(buf, SVC_NEST, |b| key.append_attrs_full(b, mask));
}

impl<O: AsOperation> nl_engine::Outgoing for OpRequest<O> {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        let op = self.op.as_operation();
        use crate::attr::append_nla;
        use netlink_packet_core::NLA_F_NESTED;
        const DEST: u16 = IPVS_CMD_ATTR_DEST | NLA_F_NESTED;
        let start = buf.len();
        // nlmsghdr (length and sequence number are the batch's to set),
        // then genlmsghdr
        buf.extend_from_slice(&[0; nl_engine::wire::NLMSG_HDRLEN]);
        nl_engine::wire::put_at(buf, start + 4, &self.family_id.to_ne_bytes());
        buf.extend_from_slice(&[op.cmd().number(), crate::consts::IPVS_GENL_VERSION, 0, 0]);
        let key_nest = self.key_nest.as_deref();
        let key_full = |buf: &mut Vec<u8>, k: &ServiceKey| match key_nest {
            Some(n) => buf.extend_from_slice(n.as_slice()),
            None => append_key_nest(buf, k),
        };
        match op {
            OperationRef::AddService(s) | OperationRef::EditService(s) => {
                append_nla(buf, SVC_NEST, |b| s.append_attrs(b))
            }
            OperationRef::DeleteService(k) | OperationRef::ZeroService(k) => key_full(buf, k),
            OperationRef::AddDestination(k, d)
            | OperationRef::EditDestination(k, d)
            | OperationRef::DeleteDestination(k, d) => {
                key_full(buf, k);
                append_nla(buf, DEST, |b| d.append_attrs(b));
            }
        }
        let len = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
        nl_engine::wire::put_at(buf, start, &len.to_ne_bytes());
    }
}

impl OperationRef<'_> {
    /// The command the operation sends.
    pub fn cmd(&self) -> IpvsCmd {
        match self {
            OperationRef::AddService(_) => IpvsCmd::NewService,
            OperationRef::EditService(_) => IpvsCmd::SetService,
            OperationRef::DeleteService(_) => IpvsCmd::DelService,
            OperationRef::AddDestination(..) => IpvsCmd::NewDest,
            OperationRef::EditDestination(..) => IpvsCmd::SetDest,
            OperationRef::DeleteDestination(..) => IpvsCmd::DelDest,
            OperationRef::ZeroService(_) => IpvsCmd::Zero,
        }
    }

    /// The operation, owning copies of what it borrows.
    pub fn to_operation(&self) -> Operation {
        match *self {
            OperationRef::AddService(s) => Operation::AddService(s.clone()),
            OperationRef::EditService(s) => Operation::EditService(s.clone()),
            OperationRef::DeleteService(k) => Operation::DeleteService(*k),
            OperationRef::AddDestination(k, d) => Operation::AddDestination(*k, d.clone()),
            OperationRef::EditDestination(k, d) => Operation::EditDestination(*k, d.clone()),
            OperationRef::DeleteDestination(k, d) => Operation::DeleteDestination(*k, d.clone()),
            OperationRef::ZeroService(k) => Operation::ZeroService(*k),
        }
    }

    /// The operation as a typed message (what [`IpvsHandle::apply`] sends,
    /// there encoded directly into the datagram: the same bytes).
    pub fn message(&self) -> IpvsMessage {
        match *self {
            OperationRef::AddService(s) => IpvsMessage::add_service(s),
            OperationRef::EditService(s) => IpvsMessage::edit_service(s),
            OperationRef::DeleteService(k) => IpvsMessage::delete_service(k),
            OperationRef::AddDestination(k, d) => IpvsMessage::add_destination(k, d),
            OperationRef::EditDestination(k, d) => IpvsMessage::edit_destination(k, d),
            OperationRef::DeleteDestination(k, d) => IpvsMessage::delete_destination(k, d),
            OperationRef::ZeroService(k) => IpvsMessage::zero_service(k),
        }
    }

    /// What the operation does, as error contexts name it.
    pub fn context(&self) -> String {
        match self {
            OperationRef::AddService(s) => format!("add service {}", s.key),
            OperationRef::EditService(s) => format!("edit service {}", s.key),
            OperationRef::DeleteService(k) => format!("delete service {k}"),
            OperationRef::AddDestination(k, d) => format!("add destination {d} to service {k}"),
            OperationRef::EditDestination(k, d) => {
                format!("edit destination {d} of service {k}")
            }
            OperationRef::DeleteDestination(k, d) => {
                format!("delete destination {d} of service {k}")
            }
            OperationRef::ZeroService(k) => format!("zero counters of service {k}"),
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            OperationRef::AddService(s) | OperationRef::EditService(s) => s.validate(),
            _ => Ok(()),
        }
    }
}

impl Operation {
    /// The operation, borrowing its parts (what [`IpvsHandle::apply`]
    /// encodes).
    pub fn borrowed(&self) -> OperationRef<'_> {
        match self {
            Operation::AddService(s) => OperationRef::AddService(s),
            Operation::EditService(s) => OperationRef::EditService(s),
            Operation::DeleteService(k) => OperationRef::DeleteService(k),
            Operation::AddDestination(k, d) => OperationRef::AddDestination(k, d),
            Operation::EditDestination(k, d) => OperationRef::EditDestination(k, d),
            Operation::DeleteDestination(k, d) => OperationRef::DeleteDestination(k, d),
            Operation::ZeroService(k) => OperationRef::ZeroService(k),
        }
    }

    /// The operation as a typed message (what [`IpvsHandle::apply`] sends,
    /// there encoded directly into the datagram: the same bytes).
    pub fn message(&self) -> IpvsMessage {
        self.borrowed().message()
    }

    /// What the operation does, as error contexts name it.
    pub fn context(&self) -> String {
        self.borrowed().context()
    }
}

type Refine = fn(String, KernelError) -> Error;

/// Turns a kernel refusal of an IPVS command `cmd` into the error users act on
/// (what [`IpvsHandle`] does with every refusal),
/// with IPVS's meaning of each errno.
pub fn classify(cmd: IpvsCmd, context: &str, mut ke: KernelError) -> Error {
    use IpvsCmd::*;
    let e = ke.errno;
    let (desc, kind): (Option<&str>, Option<Refine>) = match (cmd, e) {
        (NewService | SetService, libc::ENOENT) => (
            Some("unknown scheduler or persistence engine (is its ip_vs_* module available?)"),
            Some(|context, detail| Error::InvalidArgument { context, detail }),
        ),
        (NewService, libc::EEXIST) => (Some("service already exists"), None),
        (NewDest, libc::EEXIST) => (Some("destination already exists"), None),
        (SetDest | DelDest, libc::ENOENT) => (Some("no such destination"), None),
        (NewDaemon, libc::EEXIST) => (Some("sync daemon already running"), None),
        (NewDaemon, libc::EINVAL) => (
            Some(
                "invalid sync daemon settings, or mixed-family destinations exist (the sync protocol does not support them)",
            ),
            None,
        ),
        (NewDaemon, libc::ENODEV) => (Some("no such multicast interface"), None),
        (DelDaemon, libc::ESRCH) => (Some("sync daemon not running"), None),
        (_, libc::ESRCH) => (Some("no such service"), None),
        (NewDest | SetDest, libc::ERANGE) => (Some("weight or thresholds out of range"), None),
        _ => (None, None),
    };
    if ke.description.is_none() {
        ke.description = desc.map(str::to_owned);
    }
    match kind {
        Some(f) => f(context.to_owned(), ke),
        None => Error::from_kernel(context, ke),
    }
}

fn reclassify(cmd: IpvsCmd, context: &str, err: Error) -> Error {
    match err.kernel_error().cloned() {
        Some(ke) => classify(cmd, context, ke),
        None => err,
    }
}

fn decode_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        context: context.to_owned(),
        reason: e.to_string(),
    }
}

/// The IPVS configuration of one network namespace, over generic netlink.
///
/// Every method is one `ipvsadm` command. Errors are typed ([`Error::Exists`],
/// [`Error::NotFound`], [`Error::InvalidArgument`], ...) and name the object.
/// Operations need a Tokio runtime with I/O and time enabled.
///
/// ```no_run
/// use ipvs_nl::{Destination, IpvsHandle, Scheduler, Service};
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = IpvsHandle::new().await?; // fails with Error::Unsupported without ip_vs
/// let svc = Service::tcp("10.0.0.1:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
/// ipvs.add_service(&svc).await?;
/// ipvs.add_destination(&svc.key, &Destination::new("192.168.0.2".parse().unwrap(), 80).masquerade())
///     .await?;
/// for entry in ipvs.snapshot().await? {
///     println!("{} {}", entry.service.key, entry.service.scheduler);
///     for d in entry.destinations {
///         println!("  -> {d} {} {}", d.forward, d.weight);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IpvsHandle {
    conn: Connection,
    family_id: u16,
    netns: Netns,
    pool: Arc<Mutex<Vec<Connection>>>,
    pipeline: usize,
}

impl IpvsHandle {
    /// A handle on the caller's own network namespace.
    pub async fn new() -> Result<Self> {
        Self::in_netns(&Netns::current()).await
    }

    /// A handle on `netns` (this thread does not move).
    ///
    /// Fails with [`Error::Unsupported`] when the kernel has no IPVS.
    pub async fn in_netns(netns: &Netns) -> Result<Self> {
        let conn = Connection::open(Protocol::Generic, netns)?;
        Self::with_connection(conn).await
    }

    /// A handle over an already opened generic netlink connection (to choose
    /// its timeout or buffer sizes; [`Error::InvalidInput`] for another
    /// protocol). The connection's batch buffer is prepared here
    /// ([`Connection::prepare_batches`]), so that applies do not wait on
    /// page faults.
    pub async fn with_connection(conn: Connection) -> Result<Self> {
        conn.expect_protocol(Protocol::Generic, "an IPVS handle")?;
        conn.prepare_batches();
        let family = match nl_engine::genl::resolve_family(&conn, "IPVS").await {
            Ok(f) => f,
            Err(Error::Unsupported { context, .. }) => {
                return Err(Error::Unsupported {
                    context,
                    what: "IPVS (the IPVS generic netlink family)".into(),
                    hint: "no IPVS in this kernel: load ip_vs (modprobe ip_vs)".into(),
                });
            }
            Err(e) => return Err(e),
        };
        Ok(IpvsHandle {
            netns: conn.netns().clone(),
            conn,
            family_id: family.id,
            pool: Arc::new(Mutex::new(Vec::new())),
            pipeline: DEFAULT_PIPELINE,
        })
    }

    /// How many connections [`snapshot`](Self::snapshot) uses at most
    /// (at least 1).
    pub fn with_pipeline(mut self, connections: usize) -> Self {
        self.pipeline = connections.max(1);
        self
    }

    /// The generic netlink family id of IPVS in this kernel.
    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    /// The underlying connection (for its statistics).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The namespace this handle works in.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// Wraps a payload into a netlink message of this kernel's IPVS family.
    pub fn message(&self, payload: IpvsMessage) -> Msg {
        let mut g = GenlMessage::from_payload(payload);
        g.set_resolved_family_id(self.family_id);
        NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(g))
    }

    async fn ack_on(&self, conn: &Connection, context: &str, payload: IpvsMessage) -> Result<()> {
        let cmd = payload.cmd;
        conn.ack(context, self.message(payload))
            .await
            .map_err(|e| reclassify(cmd, context, e))
    }

    async fn ack(&self, context: &str, payload: IpvsMessage) -> Result<()> {
        self.ack_on(&self.conn, context, payload).await
    }

    async fn request(&self, context: &str, payload: IpvsMessage) -> Result<Vec<IpvsMessage>> {
        let cmd = payload.cmd;
        let replies = self
            .conn
            .request(context, self.message(payload))
            .await
            .map_err(|e| reclassify(cmd, context, e))?;
        Ok(replies.into_iter().map(|g| g.payload).collect())
    }

    async fn dump_on(
        &self,
        conn: &Connection,
        context: &str,
        payload: IpvsMessage,
    ) -> Result<Vec<IpvsMessage>> {
        let cmd = payload.cmd;
        let replies = conn
            .dump(context, self.message(payload))
            .await
            .map_err(|e| reclassify(cmd, context, e))?;
        Ok(replies.into_iter().map(|g| g.payload).collect())
    }

    // ------------------------------------------------------------ services

    /// `ipvsadm -A`: adds a service ([`Error::Exists`] if it exists,
    /// [`Error::InvalidArgument`] for an unknown scheduler).
    pub async fn add_service(&self, s: &Service) -> Result<()> {
        s.validate()?;
        let ctx = format!("add service {}", s.key);
        self.ack(&ctx, IpvsMessage::add_service(s)).await
    }

    /// `ipvsadm -E`: changes a service's scheduler, flags and persistence
    /// ([`Error::NotFound`] if it does not exist).
    pub async fn edit_service(&self, s: &Service) -> Result<()> {
        s.validate()?;
        let ctx = format!("edit service {}", s.key);
        self.ack(&ctx, IpvsMessage::edit_service(s)).await
    }

    /// `ipvsadm -D`: deletes a service and its destinations.
    pub async fn delete_service(&self, key: &ServiceKey) -> Result<()> {
        let ctx = format!("delete service {key}");
        self.ack(&ctx, IpvsMessage::delete_service(key)).await
    }

    /// Reads one service ([`Error::NotFound`] if it does not exist).
    pub async fn get_service(&self, key: &ServiceKey) -> Result<Service> {
        let ctx = format!("get service {key}");
        let replies = self.request(&ctx, IpvsMessage::get_service(key)).await?;
        replies
            .iter()
            .find_map(IpvsMessage::service)
            .ok_or_else(|| decode_err(&ctx, "reply carries no service"))?
            .map_err(|e| decode_err(&ctx, e))
    }

    /// `ipvsadm -L` without destinations: every service.
    pub async fn services(&self) -> Result<Vec<Service>> {
        let nothing = |v| std::future::ready(Ok(v));
        self.services_on(&self.conn, true, |s| s, nothing).await
    }

    /// The service dump, made consistent, each service made into a `T` as
    /// it is decoded.
    ///
    /// IPVS numbers a dump's resume position across the services of *all*
    /// network namespaces (one global table) and never sets
    /// `NLM_F_DUMP_INTR`: a dump spanning several datagrams can skip or
    /// repeat a service when any namespace adds or deletes services in
    /// between (seen in the guest tests). A dump that came in one datagram
    /// was made under one hold of the IPVS lock and is exact; a longer one
    /// is accepted when the next read lists the same services in the same
    /// order, else [`Error::DumpInterrupted`]. That confirming read decodes
    /// the keys alone and keeps nothing of them but a fingerprint.
    ///
    /// `work` is done on the services read (the snapshot reads their
    /// destinations); on a read that needs confirming, at the same time
    /// as the confirming read, and its result is kept only if the read is
    /// confirmed.
    async fn services_on<T: Keyed, WF>(
        &self,
        conn: &Connection,
        stats: bool,
        make: impl Fn(Service) -> T + Copy,
        work: impl FnMut(Vec<T>) -> WF,
    ) -> Result<Vec<T>>
    where
        WF: std::future::Future<Output = Result<Vec<T>>>,
    {
        let attempts = conn.config().dump_retries.saturating_add(2);
        let read = || async move {
            let before = conn.stats().recv_calls;
            let services = self.services_once(conn, stats, make).await?;
            // one data datagram, then NLMSG_DONE (its own datagram on 6.1)
            let single_part = conn.stats().recv_calls.saturating_sub(before) <= 2;
            Ok((services, single_part))
        };
        settle_dump(attempts, read, || self.service_fingerprint(conn), work).await
    }

    /// Decodes the service nest of each reply straight from the received
    /// bytes (no message tree).
    async fn services_once<T>(
        &self,
        conn: &Connection,
        stats: bool,
        make: impl Fn(Service) -> T,
    ) -> Result<Vec<T>> {
        let ctx = "list services";
        let payload = IpvsMessage::dump_services();
        let cmd = payload.cmd;
        conn.dump_with(ctx, self.message(payload), |_, p| {
            attr::genl_nest(p, IPVS_CMD_ATTR_SERVICE)
                .and_then(|n| {
                    n.map(|n| Service::decode_with(n, stats).map(&make))
                        .transpose()
                })
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| reclassify(cmd, ctx, e))
    }

    /// One more service dump, reduced to the fingerprint of its keys in
    /// the order listed (nothing else decoded, nothing kept).
    async fn service_fingerprint(&self, conn: &Connection) -> Result<Fingerprint> {
        let ctx = "list services";
        let payload = IpvsMessage::dump_services();
        let cmd = payload.cmd;
        let mut fp = Fingerprint::default();
        conn.dump_with(ctx, self.message(payload), |_, p| {
            if let Some(n) = attr::genl_nest(p, IPVS_CMD_ATTR_SERVICE).map_err(|e| e.to_string())? {
                fp.add(&Service::decode_key(n).map_err(|e| e.to_string())?);
            }
            Ok(None::<()>)
        })
        .await
        .map_err(|e| reclassify(cmd, ctx, e))?;
        Ok(fp)
    }

    // -------------------------------------------------------- destinations

    /// `ipvsadm -a`: adds a destination to a service.
    pub async fn add_destination(&self, key: &ServiceKey, d: &Destination) -> Result<()> {
        let ctx = format!("add destination {d} to service {key}");
        self.ack(&ctx, IpvsMessage::add_destination(key, d)).await
    }

    /// `ipvsadm -e`: changes a destination's forwarding method, weight,
    /// thresholds and tunnel settings.
    pub async fn edit_destination(&self, key: &ServiceKey, d: &Destination) -> Result<()> {
        let ctx = format!("edit destination {d} of service {key}");
        self.ack(&ctx, IpvsMessage::edit_destination(key, d)).await
    }

    /// `ipvsadm -d`: removes the destination `addr`:`port` from a service.
    pub async fn delete_destination(
        &self,
        key: &ServiceKey,
        addr: IpAddr,
        port: u16,
    ) -> Result<()> {
        let d = Destination::new(addr, port);
        let ctx = format!("delete destination {d} of service {key}");
        self.ack(&ctx, IpvsMessage::delete_destination(key, &d))
            .await
    }

    /// The destinations of one service ([`Error::NotFound`] if the service
    /// does not exist: the kernel answers that dump with an empty list, so
    /// an empty answer is checked with a get of the service).
    pub async fn destinations(&self, key: &ServiceKey) -> Result<Vec<Destination>> {
        self.destinations_checked(key, true).await
    }

    async fn destinations_checked(
        &self,
        key: &ServiceKey,
        stats: bool,
    ) -> Result<Vec<Destination>> {
        let ds = self.destinations_on(&self.conn, key, stats).await?;
        if ds.is_empty() {
            self.get_service(key)
                .await
                .map_err(|e| e.with_context(format!("list destinations of service {key}")))?;
        }
        Ok(ds)
    }

    async fn destinations_on(
        &self,
        conn: &Connection,
        key: &ServiceKey,
        stats: bool,
    ) -> Result<Vec<Destination>> {
        // The context names the service only on failure: formatting it for
        // each of thousands of services in a snapshot costs more than the
        // decoding.
        let ctx = "list destinations";
        let cmd = IpvsCmd::GetDest;
        let fam = Some(key.family());
        let mut req = dest_dump_request(self.family_id, key);
        conn.dump_encoded(ctx, &mut req, |_, p| {
            attr::genl_nest(p, IPVS_CMD_ATTR_DEST)
                .and_then(|n| {
                    n.map(|n| Destination::decode_with(n, fam, stats))
                        .transpose()
                })
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| {
            let e = reclassify(cmd, ctx, e);
            let full = format!("list destinations of service {key}");
            e.with_context(full)
        })
    }

    // ---------------------------------------------------------- snapshot

    fn pool(&self, n: usize) -> Result<Vec<Connection>> {
        let mut pool = self.pool.lock().map_err(|_| {
            Error::io(
                "snapshot",
                std::io::Error::other("connection pool poisoned"),
            )
        })?;
        // The pool runs one small dump per service (its destinations): a
        // short receive length makes the kernel allocate each dump part
        // from a slab instead of as fresh zeroed pages.
        let config = self
            .conn
            .config()
            .with_recv_len(nl_engine::Config::SMALL_DUMPS);
        while pool.len() < n {
            let c = Connection::open_with(Protocol::Generic, &self.netns, config)?;
            pool.push(c);
        }
        Ok(pool.iter().take(n).cloned().collect())
    }

    /// Every service with its destinations (`ipvsadm -Ln` as data).
    ///
    /// One service dump, then the per-service destination dumps spread
    /// over several connections that run at the same time (at most
    /// [`with_pipeline`](Self::with_pipeline) of them, default
    /// [`DEFAULT_PIPELINE`]), instead of 1 + N sequential round trips.
    pub async fn snapshot(&self) -> Result<Vec<ServiceEntry>> {
        self.read_all(true).await
    }

    /// [`snapshot`](Self::snapshot) without statistics: every service with
    /// its destinations, their configuration and connection counters, as
    /// `ipvsadm -S` reads them and as a sync compares them. The kernel
    /// sends the statistics all the same; they are skipped unread, so the
    /// read allocates nothing for them (`stats` is `None` everywhere).
    pub async fn config_snapshot(&self) -> Result<Vec<ServiceEntry>> {
        self.read_all(false).await
    }

    async fn read_all(&self, stats: bool) -> Result<Vec<ServiceEntry>> {
        // The destinations are read while the service dump is confirmed
        // (when it needs to be), on other connections.
        self.services_on(
            &self.conn,
            stats,
            |service| ServiceEntry {
                service,
                destinations: Vec::new(),
            },
            |out| self.fill_destinations(out, stats),
        )
        .await
    }

    /// Reads the destinations of every service of `out`.
    async fn fill_destinations(
        &self,
        mut out: Vec<ServiceEntry>,
        stats: bool,
    ) -> Result<Vec<ServiceEntry>> {
        // Entries are made once, in place: each worker fills in the
        // destinations of its own services (no second copy of the list).
        let n = self.pipeline.min(out.len());
        if n <= 1 {
            for e in &mut out {
                e.destinations = self.destinations_checked(&e.service.key, stats).await?;
            }
            return Ok(out);
        }
        let conns = self.pool(n)?;
        // Worker `w` reads services w, w + n, w + 2n, ...
        let mut shares: Vec<Vec<&mut ServiceEntry>> = (0..n).map(|_| Vec::new()).collect();
        for (i, e) in out.iter_mut().enumerate() {
            if let Some(share) = shares.get_mut(i % n) {
                share.push(e);
            }
        }
        let workers = conns.iter().zip(shares).map(|(conn, share)| async move {
            for e in share {
                e.destinations = self.destinations_on(conn, &e.service.key, stats).await?;
            }
            Ok::<_, Error>(())
        });
        for r in util::join_all(workers).await {
            r?;
        }
        Ok(out)
    }

    // -------------------------------------------------------------- bulk

    /// Applies many changes at once: the messages are packed into large
    /// datagrams (one ACK asked per datagram; the kernel reports every
    /// failure anyway) and each operation's result comes back, by index.
    ///
    /// Each message is encoded straight into the datagram being filled, so
    /// memory stays at one datagram however many operations there are, and
    /// only failures are stored in the results.
    ///
    /// The operations are [`Operation`]s or, to send objects that live
    /// elsewhere without copying them, [`OperationRef`]s.
    ///
    /// The outer error means the exchange itself failed (then the outcome
    /// of the operations is unknown). An operation refused before sending
    /// (invalid input) is reported at its index and not sent.
    pub async fn apply<O: AsOperation>(&self, ops: &[O]) -> Result<BatchResults<Error>> {
        self.apply_with(ops, self.bulk_options()).await
    }

    /// How [`apply`](Self::apply) and [`apply_iter`](Self::apply_iter)
    /// send: datagrams of the connection's size, an ACK asked of the last
    /// message of each.
    fn bulk_options(&self) -> BatchOptions {
        BatchOptions::new(
            Packing::MaxDatagram(self.conn.config().max_datagram),
            Acks::LastPerDatagram,
        )
    }

    /// [`apply`](Self::apply) with explicit packing and ACK policy.
    pub async fn apply_with<O: AsOperation>(
        &self,
        ops: &[O],
        options: BatchOptions,
    ) -> Result<BatchResults<Error>> {
        self.apply_iter_with(Borrowed(ops.iter()), options).await
    }

    /// [`apply`](Self::apply) over operations made one at a time, for
    /// changes computed on the fly from objects that live elsewhere: no
    /// list of operations is ever built (a sync from empty of 10,000
    /// services x 4 destinations would keep 1.2 MB of them). The iterator
    /// is walked once to count, once to send, and once more only when the
    /// kernel refused something (to name the refused operations), so it
    /// must be cheap to clone and yield the same operations each time, as
    /// iterators over slices and their `map`/`flat_map`/`chain` are.
    ///
    /// ```no_run
    /// use ipvs_nl::{Destination, IpvsHandle, OperationRef, Service};
    /// # async fn f(h: &IpvsHandle, services: &[(Service, Vec<Destination>)]) -> ipvs_nl::Result<()> {
    /// // every service and its destinations, added
    /// let ops = services.iter().flat_map(|(s, ds)| {
    ///     std::iter::once(OperationRef::AddService(s))
    ///         .chain(ds.iter().map(|d| OperationRef::AddDestination(&s.key, d)))
    /// });
    /// let results = h.apply_iter(ops).await?;
    /// for (i, err) in results.errors() {
    ///     eprintln!("operation {i}: {err}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn apply_iter<'o, I>(&self, ops: I) -> Result<BatchResults<Error>>
    where
        I: IntoIterator<Item = OperationRef<'o>>,
        I::IntoIter: Clone,
    {
        self.apply_iter_with(ops, self.bulk_options()).await
    }

    /// [`apply_iter`](Self::apply_iter) with explicit packing and ACK
    /// policy.
    pub async fn apply_iter_with<'o, I>(
        &self,
        ops: I,
        options: BatchOptions,
    ) -> Result<BatchResults<Error>>
    where
        I: IntoIterator<Item = OperationRef<'o>>,
        I::IntoIter: Clone,
    {
        let ops = ops.into_iter();
        let total = ops.clone().count();
        if total == 0 {
            return Ok(BatchResults::default());
        }
        // Invalid operations are answered here and not sent.
        let mut failed: Vec<(usize, Error)> = Vec::new();
        let sent = {
            let msgs = ValidRequests::new(ops.clone().enumerate(), self.family_id, &mut failed);
            let ctx = format!("apply {total} IPVS operations");
            self.conn.batch_iter(&ctx, msgs, options).await?
        };
        // Refusals by the kernel (in the order sent, so in index order),
        // named by their operation: one more walk, only when there are any.
        let mut kernel = sent.into_errors().into_iter().peekable();
        if kernel.peek().is_some() {
            let refused: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
            let mut want = kernel.map(|(j, ke)| (op_index(&refused, j), ke)).peekable();
            for (i, op) in ops.enumerate() {
                while let Some((_, ke)) = want.next_if(|(w, _)| *w == i) {
                    failed.push((i, classify(op.cmd(), &op.context(), ke)));
                }
                if want.peek().is_none() {
                    break;
                }
            }
        }
        Ok(BatchResults::new(total, failed))
    }

    /// [`apply`](Self::apply) over operations that can be walked only once,
    /// as they come (say parsed from a file or a pipe line by line): each
    /// is encoded straight into the datagram being filled and dropped, so
    /// however many there are, memory holds one datagram and one byte per
    /// operation (its command, to name a refusal).
    ///
    /// The results count the operations in the order the iterator yielded
    /// them. Since the operations are gone when the kernel's answers are
    /// read, a refusal is named by its index and command
    /// (`IPVS operation 12 (new-dest)`) rather than by its objects as
    /// [`apply`](Self::apply) names them; its error kind is the same.
    ///
    /// ```no_run
    /// use std::net::{Ipv4Addr, SocketAddr};
    /// use ipvs_nl::{Destination, IpvsHandle, Operation, Service};
    /// # async fn f(h: &IpvsHandle) -> ipvs_nl::Result<()> {
    /// // 1,000 services of one destination each, made as they are sent
    /// let ops = (0..1000u32).flat_map(|i| {
    ///     let vip = Ipv4Addr::from(0x0a60_0000 + i);
    ///     let s = Service::tcp(SocketAddr::new(vip.into(), 80));
    ///     let d = Destination::new(Ipv4Addr::new(192, 168, 0, 2).into(), 8080);
    ///     let key = s.key;
    ///     [Operation::AddService(s), Operation::AddDestination(key, d)]
    /// });
    /// let results = h.apply_stream(ops).await?;
    /// assert_eq!(results.len(), 2000);
    /// # Ok(()) }
    /// ```
    pub async fn apply_stream<I>(&self, ops: I) -> Result<BatchResults<Error>>
    where
        I: IntoIterator,
        I::Item: AsOperation,
    {
        // Invalid operations are answered here and not sent.
        let mut failed: Vec<(usize, Error)> = Vec::new();
        let mut cmds: Vec<u8> = Vec::new();
        let sent = {
            let msgs = ValidRequests::new(ops.into_iter().enumerate(), self.family_id, &mut failed)
                .inspect(|r| cmds.push(r.op.as_operation().cmd().number()));
            let ctx = "apply a stream of IPVS operations";
            self.conn.batch_iter(ctx, msgs, self.bulk_options()).await?
        };
        let total = sent.len() + failed.len();
        let refused: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
        for (j, ke) in sent.into_errors() {
            let i = op_index(&refused, j);
            let cmd = IpvsCmd::from(cmds.get(j).copied().unwrap_or(0));
            failed.push((i, classify(cmd, &format!("IPVS operation {i} ({cmd})"), ke)));
        }
        Ok(BatchResults::new(total, failed))
    }

    // -------------------------------------------------- zero, flush, info

    /// `ipvsadm -Z`: zeroes the counters of every service.
    pub async fn zero_all(&self) -> Result<()> {
        self.ack("zero all counters", IpvsMessage::zero_all()).await
    }

    /// `ipvsadm -Z -t ...`: zeroes the counters of one service.
    pub async fn zero_service(&self, key: &ServiceKey) -> Result<()> {
        let ctx = format!("zero counters of service {key}");
        self.ack(&ctx, IpvsMessage::zero_service(key)).await
    }

    /// `ipvsadm -C`: deletes every service.
    pub async fn flush(&self) -> Result<()> {
        self.ack("flush IPVS", IpvsMessage::flush()).await
    }

    /// Version and connection table size.
    pub async fn info(&self) -> Result<Info> {
        let ctx = "get IPVS info";
        let r = self.request(ctx, IpvsMessage::get_info()).await?;
        let m = r.first().ok_or_else(|| decode_err(ctx, "no reply"))?;
        Ok(m.info())
    }

    /// `ipvsadm -L --timeout`
    pub async fn timeouts(&self) -> Result<Timeouts> {
        let ctx = "get IPVS timeouts";
        let r = self.request(ctx, IpvsMessage::get_timeouts()).await?;
        let m = r.first().ok_or_else(|| decode_err(ctx, "no reply"))?;
        Ok(m.timeouts())
    }

    /// `ipvsadm --set`: zero durations leave a timeout unchanged.
    pub async fn set_timeouts(&self, t: &Timeouts) -> Result<()> {
        self.ack("set IPVS timeouts", IpvsMessage::set_timeouts(t))
            .await
    }

    // --------------------------------------------------------- daemons

    /// `ipvsadm --start-daemon`
    pub async fn start_daemon(&self, d: &SyncDaemon) -> Result<()> {
        d.validate()?;
        let ctx = format!("start {} sync daemon on {}", d.state, d.interface);
        self.ack(&ctx, IpvsMessage::start_daemon(d)).await
    }

    /// `ipvsadm --stop-daemon`
    pub async fn stop_daemon(&self, state: DaemonState) -> Result<()> {
        let ctx = format!("stop {state} sync daemon");
        self.ack(&ctx, IpvsMessage::stop_daemon(state)).await
    }

    /// `ipvsadm -L --daemon`
    pub async fn daemons(&self) -> Result<Vec<SyncDaemon>> {
        let ctx = "list sync daemons";
        let r = self
            .dump_on(&self.conn, ctx, IpvsMessage::dump_daemons())
            .await?;
        r.iter()
            .filter_map(IpvsMessage::daemon)
            .map(|d| d.map_err(|e| decode_err(ctx, e)))
            .collect()
    }

    // ---------------------------------------------------- connections

    /// The connection table of this handle's namespace
    /// (`/proc/net/ip_vs_conn`), filtered.
    pub fn connections(&self, filter: &ConnFilter) -> Result<Vec<ConnEntry>> {
        conn_table::read(&self.netns, filter)
    }
}

/// The operations of a slice of [`AsOperation`]s, borrowed (a named type
/// rather than a closure's `map`, so that futures holding it are `Send`
/// for every lifetime: closures over references held across an `.await`
/// make a future not provably `Send`, a rustc limitation).
struct Borrowed<'a, O>(std::slice::Iter<'a, O>);

impl<O> Clone for Borrowed<'_, O> {
    fn clone(&self) -> Self {
        Borrowed(self.0.clone())
    }
}

impl<'a, O: AsOperation> Iterator for Borrowed<'a, O> {
    type Item = OperationRef<'a>;
    fn next(&mut self) -> Option<OperationRef<'a>> {
        self.0.next().map(AsOperation::as_operation)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// The requests of the valid operations of a bulk apply; each invalid one
/// is answered in `failed` (in index order) instead.
struct ValidRequests<'f, I> {
    ops: std::iter::Enumerate<I>,
    family_id: u16,
    failed: &'f mut Vec<(usize, Error)>,
    /// The service nest of the last operation that named its service by
    /// key alone, and that key.
    last_nest: Option<(ServiceKey, KeyNest)>,
}

impl<'f, I> ValidRequests<'f, I> {
    fn new(
        ops: std::iter::Enumerate<I>,
        family_id: u16,
        failed: &'f mut Vec<(usize, Error)>,
    ) -> Self {
        ValidRequests {
            ops,
            family_id,
            failed,
            last_nest: None,
        }
    }
}

impl<I> ValidRequests<'_, I> {
    /// The encoded nest naming `k`: the last one when it named `k` too,
    /// else encoded now. The batch drops each request once it is in the
    /// datagram, so the last nest is usually held by nothing else any more
    /// and its allocation is reused: a service's destinations cost no
    /// allocation of their own.
    fn key_nest(&mut self, k: &ServiceKey) -> &KeyNest {
        let (last, nest) = self
            .last_nest
            .get_or_insert_with(|| (*k, KeyNest::new(Vec::new())));
        if last != k || nest.is_empty() {
            *last = *k;
            match KeyNest::get_mut(nest) {
                Some(v) => v.clear(),
                None => *nest = KeyNest::new(Vec::with_capacity(nest.len())),
            }
            if let Some(v) = KeyNest::get_mut(nest) {
                append_key_nest(v, k);
            }
        }
        nest
    }
}

impl<I> Iterator for ValidRequests<'_, I>
where
    I: Iterator,
    I::Item: AsOperation,
{
    type Item = OpRequest<I::Item>;
    fn next(&mut self) -> Option<OpRequest<I::Item>> {
        for (i, op) in self.ops.by_ref() {
            let r = op.as_operation();
            match r.validate() {
                Ok(()) => {
                    let key_nest = match r {
                        OperationRef::AddService(_) | OperationRef::EditService(_) => None,
                        OperationRef::DeleteService(k)
                        | OperationRef::ZeroService(k)
                        | OperationRef::AddDestination(k, _)
                        | OperationRef::EditDestination(k, _)
                        | OperationRef::DeleteDestination(k, _) => Some(self.key_nest(k).clone()),
                    };
                    return Some(OpRequest {
                        family_id: self.family_id,
                        op,
                        key_nest,
                    });
                }
                Err(e) => self.failed.push((i, e)),
            }
        }
        None
    }
}

/// The index among all operations of the `sent`-th one sent, when the
/// operations at `refused` (ascending) were not sent.
fn op_index(refused: &[usize], sent: usize) -> usize {
    refused
        .iter()
        .fold(sent, |i, &r| if r <= i { i + 1 } else { i })
}

/// What has a service key: the items a service dump is read into.
trait Keyed {
    fn key(&self) -> &ServiceKey;
}

impl Keyed for Service {
    fn key(&self) -> &ServiceKey {
        &self.key
    }
}

impl Keyed for ServiceEntry {
    fn key(&self) -> &ServiceKey {
        &self.service.key
    }
}

/// The services of a dump in the order listed, as a count and a hash:
/// what two reads of the dump compare.
struct Fingerprint {
    count: usize,
    hash: std::hash::DefaultHasher,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            count: 0,
            hash: std::hash::DefaultHasher::new(),
        }
    }
}

impl Fingerprint {
    fn add(&mut self, key: &ServiceKey) {
        self.count += 1;
        std::hash::Hash::hash(key, &mut self.hash);
    }

    fn of<'a>(keys: impl Iterator<Item = &'a ServiceKey>) -> Self {
        let mut fp = Fingerprint::default();
        keys.for_each(|k| fp.add(k));
        fp
    }

    fn value(&self) -> (usize, u64) {
        (self.count, std::hash::Hasher::finish(&self.hash))
    }
}

/// The rule [`IpvsHandle::services`] reads the service dump by: `read`
/// dumps once and says whether the dump came in a single data datagram;
/// `confirm` dumps again, reduced to a [`Fingerprint`]. A read that lists
/// a service twice is never accepted; a single-datagram read is exact (one
/// hold of the IPVS lock); a longer one is accepted when the read before
/// it or the confirming read after it listed the same services in the same
/// order. After `attempts` reads (of either kind) without that,
/// [`Error::DumpInterrupted`].
///
/// `work` is done on the accepted read: on a single-part one after it,
/// on one that needs confirming at the same time as the confirming read
/// (its result dropped when the read is not confirmed).
async fn settle_dump<T, R, RF, C, CF, W, WF>(
    attempts: u32,
    mut read: R,
    mut confirm: C,
    mut work: W,
) -> Result<Vec<T>>
where
    T: Keyed,
    R: FnMut() -> RF,
    RF: std::future::Future<Output = Result<(Vec<T>, bool)>>,
    C: FnMut() -> CF,
    CF: std::future::Future<Output = Result<Fingerprint>>,
    W: FnMut(Vec<T>) -> WF,
    WF: std::future::Future<Output = Result<Vec<T>>>,
{
    let mut previous: Option<(usize, u64)> = None;
    let mut done = 0;
    while done < attempts {
        done += 1;
        let (items, single_part) = read().await?;
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        if !items.iter().all(|i| seen.insert(i.key())) {
            previous = None;
            continue;
        }
        drop(seen);
        let fp = Fingerprint::of(items.iter().map(Keyed::key)).value();
        if single_part || previous == Some(fp) {
            return work(items).await;
        }
        if done == attempts {
            break;
        }
        done += 1;
        let (again, items) = util::join2(confirm(), work(items)).await;
        let again = again?.value();
        if again == fp {
            return items;
        }
        previous = Some(again);
    }
    Err(Error::DumpInterrupted {
        context: "list services".into(),
        attempts,
    })
}

/// A service as `ipvsadm -S` names it: `-t 10.0.0.1:80`, `-u ...`,
/// `--sctp-service ...`, `-f 7`, `-f 7 -6`.
fn ipvsadm_key(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { protocol, addr } => {
            let switch = match protocol {
                crate::Protocol::Tcp => "-t",
                crate::Protocol::Udp => "-u",
                crate::Protocol::Sctp => "--sctp-service",
                _ => "--xxx-service",
            };
            format!("{switch} {addr}")
        }
        ServiceKey::Fwmark {
            family: crate::Family::Ipv6,
            mark,
        } => format!("-f {mark} -6"),
        ServiceKey::Fwmark { mark, .. } => format!("-f {mark}"),
    }
}

/// `-A`/`-E` with a service's options, as `ipvsadm -S` writes them.
fn ipvsadm_service(f: &mut std::fmt::Formatter<'_>, cmd: &str, s: &Service) -> std::fmt::Result {
    write!(f, "{cmd} {} -s {}", ipvsadm_key(&s.key), s.scheduler)?;
    if s.flags.contains(crate::ServiceFlags::PERSISTENT) {
        write!(f, " -p {}", s.timeout.as_secs())?;
        if s.netmask != crate::Netmask::host(s.key.family()) {
            write!(f, " -M {}", s.netmask)?;
        }
    }
    if let Some(pe) = s.pe_name.as_deref().filter(|p| !p.is_empty()) {
        write!(f, " --pe {pe}")?;
    }
    if s.flags.contains(crate::ServiceFlags::ONE_PACKET) {
        f.write_str(" -o")?;
    }
    let sched = s.sched_flag_names();
    if !sched.is_empty() {
        write!(f, " -b {}", sched.join(","))?;
    }
    Ok(())
}

/// `-a`/`-e` with a destination's options, as `ipvsadm -S` writes them,
/// then the thresholds (`-x`, `-y`) when set, which `-S` leaves out.
fn ipvsadm_destination(
    f: &mut std::fmt::Formatter<'_>,
    cmd: &str,
    key: &ServiceKey,
    d: &Destination,
) -> std::fmt::Result {
    use crate::ForwardMethod;
    let switch = match d.forward {
        ForwardMethod::Masquerade => "-m",
        ForwardMethod::Tunnel => "-i",
        ForwardMethod::Local | ForwardMethod::DirectRoute => "-g",
        _ => "(null)",
    };
    let real = std::net::SocketAddr::new(d.addr, d.port);
    write!(
        f,
        "{cmd} {} -r {real} {switch} -w {}",
        ipvsadm_key(key),
        d.weight
    )?;
    if d.forward == ForwardMethod::Tunnel {
        let csum = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]
            .get(usize::from(d.tunnel_flags.bits()))
            .copied()
            .unwrap_or("");
        match d.tunnel_type {
            crate::TunnelType::Ipip => f.write_str(" --tun-type ipip")?,
            crate::TunnelType::Gue => {
                write!(f, " --tun-type gue --tun-port {} {csum}", d.tunnel_port)?
            }
            crate::TunnelType::Gre => write!(f, " --tun-type gre {csum}")?,
            _ => {}
        }
    }
    if d.upper_threshold != 0 {
        write!(f, " -x {}", d.upper_threshold)?;
    }
    if d.lower_threshold != 0 {
        write!(f, " -y {}", d.lower_threshold)?;
    }
    Ok(())
}

impl std::fmt::Display for OperationRef<'_> {
    /// The operation as an `ipvsadm -R` line: `-A -t 10.0.0.1:80 -s rr`,
    /// `-a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 1`, `-d ... -r ...`,
    /// `-D -t ...`, `-Z -t ...` (services and destinations as `ipvsadm -S`
    /// writes them).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            OperationRef::AddService(s) => ipvsadm_service(f, "-A", s),
            OperationRef::EditService(s) => ipvsadm_service(f, "-E", s),
            OperationRef::DeleteService(k) => write!(f, "-D {}", ipvsadm_key(k)),
            OperationRef::AddDestination(k, d) => ipvsadm_destination(f, "-a", k, d),
            OperationRef::EditDestination(k, d) => ipvsadm_destination(f, "-e", k, d),
            OperationRef::DeleteDestination(k, d) => write!(
                f,
                "-d {} -r {}",
                ipvsadm_key(k),
                std::net::SocketAddr::new(d.addr, d.port)
            ),
            OperationRef::ZeroService(k) => write!(f, "-Z {}", ipvsadm_key(k)),
        }
    }
}

impl std::fmt::Display for Operation {
    /// As [`OperationRef`]'s: an `ipvsadm -R` line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.borrowed())
    }
}

impl std::fmt::Display for ServiceEntry {
    /// The service and its destinations as `ipvsadm -Sn` writes them: the
    /// `-A` line, then one `-a` line per destination (lines separated by
    /// `\n`, no newline at the end).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        ipvsadm_service(f, "-A", &self.service)?;
        for d in &self.destinations {
            f.write_str("\n")?;
            ipvsadm_destination(f, "-a", &self.service.key, d)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::{TunnelFlags, TunnelType, Weight};
    use crate::service::Scheduler;
    use nl_engine::RawAttr;

    /// The service-dump rule, driven by scripted reads (deterministic; the
    /// kernel race it answers is shown in the guest test
    /// `multi_datagram_dump_disturbed_between_datagrams`): a read that
    /// repeats a service (as a dump disturbed between datagrams does) is
    /// never returned; a multi-datagram read is returned when the read
    /// before it or the confirming read after it lists the same services
    /// in the same order.
    #[test]
    fn service_dump_is_read_until_two_reads_agree() {
        let svc = |i: u8| Service::tcp(std::net::SocketAddr::from(([10, 0, 0, i], 80)));
        let a = vec![svc(1), svc(2), svc(3)];
        let repeat = vec![svc(1), svc(2), svc(3), svc(3)];
        let skip = vec![svc(1), svc(3)];
        let reordered = vec![svc(2), svc(1), svc(3)];
        // the script: full reads and confirming reads, in the order made
        enum Step {
            Read(Vec<Service>, bool),
            Confirm(Vec<Service>),
        }
        use Step::{Confirm, Read};
        let run = |script: Vec<Step>, attempts: u32| {
            let script = std::cell::RefCell::new(script.into_iter());
            let calls = std::cell::Cell::new(0usize);
            let worked = std::cell::Cell::new(0usize);
            let next = || {
                calls.set(calls.get() + 1);
                script.borrow_mut().next()
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let wrong = || Error::io("script", std::io::Error::other("wrong read"));
            let got = rt.block_on(settle_dump(
                attempts,
                || {
                    let r = match next() {
                        Some(Read(v, single)) => Ok((v, single)),
                        _ => Err(wrong()),
                    };
                    async move { r }
                },
                || {
                    let r = match next() {
                        Some(Confirm(v)) => Ok(Fingerprint::of(v.iter().map(|s| &s.key))),
                        _ => Err(wrong()),
                    };
                    async move { r }
                },
                |v| {
                    worked.set(worked.get() + 1);
                    std::future::ready(Ok(v))
                },
            ));
            (
                got.map(|v| v.iter().map(|s| s.key).collect::<Vec<_>>()),
                calls.get(),
                worked.get(),
            )
        };
        // (services, reads made, times the work was done)
        let ok =
            |(r, calls, worked): (Result<Vec<ServiceKey>>, usize, usize)| (r.ok(), calls, worked);
        let keys = |v: &[Service]| v.iter().map(|s| s.key).collect::<Vec<_>>();
        // one datagram: exact at once
        assert_eq!(
            ok(run(vec![Read(a.clone(), true)], 5)),
            (Some(keys(&a)), 1, 1)
        );
        // several datagrams: a confirming read agrees (the work done
        // alongside it)
        assert_eq!(
            ok(run(vec![Read(a.clone(), false), Confirm(a.clone())], 5)),
            (Some(keys(&a)), 2, 1)
        );
        // a repeated service is refused even in one datagram; a disturbed
        // read (skipped service) is not confirmed by a good one, but the
        // good confirming read then confirms the next full read
        assert_eq!(
            ok(run(
                vec![
                    Read(repeat.clone(), true),
                    Read(skip.clone(), false),
                    Confirm(a.clone()),
                    Read(a.clone(), false),
                ],
                5
            )),
            (Some(keys(&a)), 4, 2)
        );
        // the same services in another order do not confirm
        assert_eq!(
            ok(run(
                vec![
                    Read(a.clone(), false),
                    Confirm(reordered.clone()),
                    Read(reordered.clone(), false),
                ],
                5
            )),
            (Some(keys(&reordered)), 3, 2)
        );
        // never agreeing: DumpInterrupted after `attempts` reads
        let (r, calls, worked) = run(
            vec![
                Read(repeat.clone(), false),
                Read(skip.clone(), false),
                Confirm(a.clone()),
                Read(repeat, false),
            ],
            4,
        );
        assert!(
            matches!(r, Err(Error::DumpInterrupted { attempts: 4, .. })),
            "{r:?}"
        );
        assert_eq!((calls, worked), (4, 1));
    }

    #[test]
    fn sent_messages_map_back_to_their_operations() {
        // 7 operations, 0, 2 and 3 refused: 1, 4, 5, 6 were sent
        let refused = [0, 2, 3];
        let got: Vec<usize> = (0..4).map(|j| op_index(&refused, j)).collect();
        assert_eq!(got, [1, 4, 5, 6]);
        assert_eq!(op_index(&[], 5), 5);
        assert_eq!(op_index(&[9], 3), 3);
    }
    use nl_engine::Outgoing;
    use std::time::Duration;

    /// Bulk plans and desired states are vectors of these: statistics
    /// (only ever read) are boxed so they do not weigh on every object.
    #[test]
    fn bulk_objects_stay_small() {
        use std::mem::size_of;
        let sizes = (
            size_of::<Service>(),
            size_of::<Destination>(),
            size_of::<Operation>(),
        );
        assert!(
            sizes.0 <= 152 && sizes.1 <= 96 && sizes.2 <= 160,
            "{sizes:?}"
        );
    }

    fn typed(family_id: u16, m: IpvsMessage) -> Vec<u8> {
        let mut g = GenlMessage::from_payload(m);
        g.set_resolved_family_id(family_id);
        let mut n = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(g));
        n.finalize();
        let mut b = vec![0; n.buffer_len()];
        n.serialize(&mut b);
        b
    }

    /// The bulk fast path writes the very bytes of the typed encoder (which
    /// the golden tests hold to ipvsadm's), for every kind of operation.
    #[test]
    fn fast_requests_match_the_typed_encoder() {
        let mut svc = Service::tcp("10.0.0.1:80".parse().unwrap())
            .scheduler(Scheduler::WeightedLeastConnection)
            .persistent(Duration::from_secs(300))
            .one_packet();
        svc.pe_name = Some("sip".into());
        svc.unknown.push(RawAttr::new(0x3f, vec![1, 2, 3]));
        let svc6 = Service::udp("[2001:db8::1]:53".parse().unwrap());
        let fw = Service::fwmark6(7).scheduler(Scheduler::Other("xyz".into()));
        let mut d = Destination::new("192.168.1.2".parse().unwrap(), 8080)
            .masquerade()
            .weight(Weight(7));
        d.upper_threshold = 100;
        d.lower_threshold = 10;
        d.unknown.push(RawAttr::new(0x30, vec![9]));
        let d6 = Destination::new("2001:db8::2".parse().unwrap(), 53).tunnel(
            TunnelType::Gue,
            6080,
            TunnelFlags::CSUM,
        );
        let ops = [
            Operation::AddService(svc.clone()),
            Operation::EditService(svc6.clone()),
            Operation::AddService(fw.clone()),
            Operation::DeleteService(svc.key),
            Operation::AddDestination(svc.key, d.clone()),
            Operation::EditDestination(svc6.key, d6.clone()),
            Operation::DeleteDestination(fw.key, d6),
            Operation::ZeroService(svc6.key),
        ];
        for op in &ops {
            let mut direct = Vec::new();
            OpRequest {
                family_id: 0x1234,
                op: op.borrowed(),
                key_nest: None,
            }
            .append_to(&mut direct);
            assert_eq!(direct, typed(0x1234, op.message()), "{op:?}");
        }
        // the snapshot's destination dump requests (flags apart: the
        // connection sets the dump flags of both)
        for key in [svc.key, svc6.key, fw.key] {
            assert_eq!(
                dest_dump_request(0x1234, &key),
                typed(0x1234, IpvsMessage::dump_destinations(&key)),
                "{key}"
            );
        }
        // the same operations as a bulk apply makes them (service nests
        // encoded once for consecutive operations on one service), twice
        // over so that every kind follows one on the same service
        let twice: Vec<OperationRef<'_>> = ops
            .iter()
            .map(Operation::borrowed)
            .filter(|op| op.validate().is_ok())
            .flat_map(|op| [op, op])
            .collect();
        let key_only = twice
            .iter()
            .filter(|op| {
                !matches!(
                    op,
                    OperationRef::AddService(_) | OperationRef::EditService(_)
                )
            })
            .count();
        assert!(key_only >= 8, "{key_only}");
        let mut failed = Vec::new();
        let reqs = ValidRequests::new(twice.iter().copied().enumerate(), 0x1234, &mut failed);
        let mut cached = 0;
        for (mut req, op) in reqs.zip(&twice) {
            cached += usize::from(req.key_nest.is_some());
            let mut direct = Vec::new();
            req.append_to(&mut direct);
            assert_eq!(direct, typed(0x1234, op.to_operation().message()), "{op:?}");
        }
        assert!(failed.is_empty());
        assert_eq!(cached, key_only);
        // every request kept until all are made, so that no service nest
        // can be written into the allocation of one still held (the path a
        // request kept across the making of the next one takes)
        let reqs: Vec<_> =
            ValidRequests::new(twice.iter().copied().enumerate(), 0x1234, &mut failed).collect();
        assert_eq!(reqs.len(), twice.len());
        for (mut req, op) in reqs.into_iter().zip(&twice) {
            let mut direct = Vec::new();
            req.append_to(&mut direct);
            assert_eq!(direct, typed(0x1234, op.to_operation().message()), "{op:?}");
        }
    }
}
