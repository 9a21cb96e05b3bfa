//! [`Connection`]: one netlink socket in one network namespace, with request,
//! dump and batch operations, each bounded by a timeout; and
//! [`Subscription`]: a socket joined to multicast groups, receiving the
//! kernel's unsolicited notifications.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader,
    NetlinkMessage, NetlinkSerializable,
};
use netlink_sys::{Socket, SocketAddr};
use tokio::io::unix::AsyncFd;
use tokio::sync::Mutex;

use crate::error::{Error, KernelError, Result};
use crate::netns::Netns;
use crate::wire::{self, Messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, align4};

/// The netlink protocol (bus) a connection talks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `NETLINK_ROUTE`: links, addresses, routes.
    Route,
    /// `NETLINK_GENERIC`: generic netlink families such as IPVS.
    Generic,
    /// `NETLINK_NETFILTER`: nfnetlink (ipset, nf_tables, ...).
    Netfilter,
    /// Any other protocol number.
    Other(i32),
}

impl Protocol {
    fn number(self) -> isize {
        match self {
            Protocol::Route => netlink_sys::protocols::NETLINK_ROUTE,
            Protocol::Generic => netlink_sys::protocols::NETLINK_GENERIC,
            Protocol::Netfilter => netlink_sys::protocols::NETLINK_NETFILTER,
            Protocol::Other(n) => n as isize,
        }
    }
}

/// Tunables of a [`Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The longest any single wait for the kernel may last (sending, or
    /// receiving the next reply datagram). Default 30 s: generous because
    /// emulated guest kernels are slow; nothing ever waits longer.
    pub timeout: Duration,
    /// The largest datagram [`Packing::MaxDatagram`] batches are packed into
    /// by default. Default 64 KiB.
    pub max_datagram: usize,
    /// How many times a dump interrupted by concurrent changes
    /// (`NLM_F_DUMP_INTR`) is restarted before [`Error::DumpInterrupted`].
    /// Default 3.
    pub dump_retries: u32,
    /// Socket receive buffer size asked of the kernel (`SO_RCVBUFFORCE`,
    /// falling back to `SO_RCVBUF`, which the kernel caps). Default 4 MiB.
    pub recv_buffer: usize,
    /// Socket send buffer size, which bounds the largest datagram
    /// (`SO_SNDBUFFORCE`, falling back to `SO_SNDBUF`). Default 4 MiB.
    pub send_buffer: usize,
}

impl Config {
    /// The defaults (30 s timeout, 64 KiB datagrams, 3 dump retries, 4 MiB
    /// socket buffers).
    ///
    /// ```
    /// use std::time::Duration;
    /// use nl_engine::Config;
    /// let c = Config::new().with_timeout(Duration::from_secs(5)).with_recv_buffer(1 << 20);
    /// assert_eq!((c.timeout, c.dump_retries), (Duration::from_secs(5), 3));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
    /// The longest single wait for the kernel.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The largest datagram batches are packed into by default.
    pub fn with_max_datagram(mut self, bytes: usize) -> Self {
        self.max_datagram = bytes;
        self
    }
    /// How many times an interrupted dump is restarted.
    pub fn with_dump_retries(mut self, retries: u32) -> Self {
        self.dump_retries = retries;
        self
    }
    /// The socket receive buffer size asked of the kernel.
    pub fn with_recv_buffer(mut self, bytes: usize) -> Self {
        self.recv_buffer = bytes;
        self
    }
    /// The socket send buffer size asked of the kernel.
    pub fn with_send_buffer(mut self, bytes: usize) -> Self {
        self.send_buffer = bytes;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: Duration::from_secs(30),
            max_datagram: 64 * 1024,
            dump_retries: 3,
            recv_buffer: 4 * 1024 * 1024,
            send_buffer: 4 * 1024 * 1024,
        }
    }
}

/// A message a batch can send: a typed [`NetlinkMessage`], one already
/// encoded ([`Encoded`]), or a family crate's own fast encoder (see
/// [`wire::append_nla`](crate::wire::append_nla)).
///
/// The batch appends each message to the datagram it is filling and then
/// sets the header's length, sequence number and the request/ACK flags
/// itself, so an implementation only writes its bytes.
pub trait Outgoing {
    /// Appends the whole message, 16-byte header first, to `buf`. The
    /// header's length and sequence number are overwritten by the batch;
    /// its flags are kept apart from `NLM_F_REQUEST` / `NLM_F_ACK`, which
    /// the batch sets as its [`Acks`] policy says.
    fn append_to(&mut self, buf: &mut Vec<u8>);
}

impl<I: NetlinkSerializable> Outgoing for NetlinkMessage<I> {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        self.finalize();
        let off = buf.len();
        buf.resize(off + self.buffer_len(), 0);
        if let Some(dst) = buf.get_mut(off..) {
            self.serialize(dst);
        }
    }
}

/// One netlink message already encoded: header and payload. The header's
/// length field is set from the byte count when sent; flags and sequence
/// number are managed by the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(pub Vec<u8>);

impl Outgoing for Encoded {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.0);
    }
}

impl<T: Outgoing + ?Sized> Outgoing for &mut T {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        (**self).append_to(buf)
    }
}

/// How a batch's messages are put into datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// As many messages per datagram as fit in this many bytes (at least one
    /// message per datagram however large it is).
    MaxDatagram(usize),
    /// Every message in one datagram (nfnetlink transactions need this: the
    /// batch begin and end must arrive together).
    Single,
}

/// Which messages of a batch ask the kernel for an acknowledgement.
///
/// The kernel reports every failing message whether or not it asked for an
/// ACK, and it answers a datagram's messages in order, so an ACK on the last
/// message of each datagram is enough to know the whole datagram was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Only the last message of each datagram (fewest replies, fewest system calls).
    LastPerDatagram,
    /// Every message.
    Every,
    /// Exactly the messages whose header already carries `NLM_F_ACK`
    /// (nf_tables batches: commands yes, batch begin/end no).
    AsFlagged,
}

/// How a batch is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Datagram packing.
    pub packing: Packing,
    /// ACK policy.
    pub acks: Acks,
}

impl BatchOptions {
    /// A batch packed and acknowledged this way.
    ///
    /// ```
    /// use nl_engine::{Acks, BatchOptions, Packing};
    /// let o = BatchOptions::new(Packing::Single, Acks::AsFlagged);
    /// assert_eq!(o.with_acks(Acks::Every).acks, Acks::Every);
    /// ```
    pub fn new(packing: Packing, acks: Acks) -> Self {
        BatchOptions { packing, acks }
    }
    /// Another datagram packing.
    pub fn with_packing(mut self, packing: Packing) -> Self {
        self.packing = packing;
        self
    }
    /// Another ACK policy.
    pub fn with_acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            packing: Packing::MaxDatagram(Config::default().max_datagram),
            acks: Acks::LastPerDatagram,
        }
    }
}

/// What became of each message (or operation) of a batch, in the order
/// they were given. Most succeed, so only the failures are stored: memory
/// grows with the failures, not with the batch. `E` is the engine's
/// [`KernelError`] as [`Connection::batch_iter`] returns it; the family
/// crates map it to their own classified [`Error`](crate::Error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResults<E = KernelError> {
    len: usize,
    /// (index, failure), in index order.
    errors: Vec<(usize, E)>,
}

impl<E> Default for BatchResults<E> {
    fn default() -> Self {
        BatchResults {
            len: 0,
            errors: Vec::new(),
        }
    }
}

impl<E> BatchResults<E> {
    /// Results of `len` items of which `errors` (index, failure) failed;
    /// indexes past `len` are dropped and the rest sorted.
    pub fn new(len: usize, mut errors: Vec<(usize, E)>) -> Self {
        errors.retain(|(i, _)| *i < len);
        errors.sort_by_key(|(i, _)| *i);
        BatchResults { len, errors }
    }

    /// How many items the batch had.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch had no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when none failed.
    pub fn all_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The failures: index in the batch and the error, in index order.
    pub fn errors(&self) -> &[(usize, E)] {
        &self.errors
    }

    /// The failures, owned (see [`errors`](Self::errors)).
    pub fn into_errors(self) -> Vec<(usize, E)> {
        self.errors
    }

    /// The result of item `index`; `None` past the end.
    pub fn get(&self, index: usize) -> Option<std::result::Result<(), &E>> {
        if index >= self.len {
            return None;
        }
        match self.errors.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => Some(Err(&self.errors.get(at)?.1)),
            Err(_) => Some(Ok(())),
        }
    }

    /// The same results with every failure converted by `f` (given the
    /// failing item's index).
    pub fn map_errors<F>(self, mut f: impl FnMut(usize, E) -> F) -> BatchResults<F> {
        BatchResults {
            len: self.len,
            errors: self.errors.into_iter().map(|(i, e)| (i, f(i, e))).collect(),
        }
    }

    /// One result per item, in order.
    pub fn into_vec(self) -> Vec<std::result::Result<(), E>> {
        let mut out: Vec<std::result::Result<(), E>> = (0..self.len).map(|_| Ok(())).collect();
        for (i, e) in self.errors {
            if let Some(slot) = out.get_mut(i) {
                *slot = Err(e);
            }
        }
        out
    }
}

/// Counters of what a connection did, for benchmarks and diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent (one `send` system call each).
    pub datagrams_sent: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// `recv` system calls made (including ones that found nothing).
    pub recv_calls: u64,
    /// Sockets opened (a socket is reopened after a timeout or overrun).
    pub sockets_opened: u64,
}

#[derive(Default)]
struct Counters {
    datagrams_sent: AtomicU64,
    messages_sent: AtomicU64,
    recv_calls: AtomicU64,
    sockets_opened: AtomicU64,
}

enum Sock {
    Closed,
    Raw(Socket),
    /// Registered with the reactor of the runtime with this id.
    Async(AsyncFd<Socket>, tokio::runtime::Id),
}

struct Inner {
    sock: Sock,
    seq: u32,
    rbuf: Vec<u8>,
    sbuf: Vec<u8>,
}

struct Shared {
    protocol: Protocol,
    netns: Netns,
    peer: u32,
    counters: Counters,
}

/// A netlink socket in one network namespace, shared by clones.
///
/// Operations on one connection run one at a time (clones share the socket
/// and queue behind each other); open several connections to run requests in
/// parallel. Every wait for the kernel is bounded by [`Config::timeout`].
/// After a timeout, an overrun or an I/O error the socket is closed and
/// reopened on the next operation, so a late reply can never be mistaken for
/// the answer to a later request.
///
/// The operations need a Tokio runtime with I/O and time enabled
/// (`Builder::enable_all`).
///
/// ```no_run
/// use nl_engine::{Connection, Netns, Protocol};
/// # async fn f() -> nl_engine::Result<()> {
/// let conn = Connection::open(Protocol::Generic, &Netns::current())?;
/// let ipvs = nl_engine::genl::resolve_family(&conn, "IPVS").await?;
/// println!("IPVS is generic netlink family {}", ipvs.id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Mutex<Inner>>,
    shared: Arc<Shared>,
    config: Config,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("protocol", &self.shared.protocol)
            .field("netns", &self.shared.netns)
            .field("config", &self.config)
            .finish()
    }
}

fn set_buffer(sock: &Socket, force: libc::c_int, plain: libc::c_int, size: usize) {
    let val = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    for opt in [force, plain] {
        // SAFETY: the descriptor is an open socket owned by `sock`; the
        // option value is a live c_int and `len` is its size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&val as *const libc::c_int).cast(),
                len,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

fn open_socket(
    protocol: Protocol,
    netns: &Netns,
    peer: u32,
    config: &Config,
) -> io::Result<Socket> {
    let (rbuf, sbuf) = (config.recv_buffer, config.send_buffer);
    netns.run(move || -> io::Result<Socket> {
        let mut s = Socket::new(protocol.number())?;
        s.bind_auto()?;
        s.connect(&SocketAddr::new(peer, 0))?;
        s.set_non_blocking(true)?;
        // Older kernels lack these options; requests still work without them.
        let _ = s.set_ext_ack(true);
        let _ = s.set_cap_ack(true);
        set_buffer(&s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, rbuf);
        set_buffer(&s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, sbuf);
        Ok(s)
    })?
}

impl Connection {
    /// Opens a socket of `protocol` in `netns`, with the default [`Config`].
    ///
    /// Fails with [`Error::Io`] if the socket cannot be created (for example
    /// the namespace path is not a network namespace).
    pub fn open(protocol: Protocol, netns: &Netns) -> Result<Self> {
        Self::open_with(protocol, netns, Config::default())
    }

    /// Opens a socket with explicit tunables.
    pub fn open_with(protocol: Protocol, netns: &Netns, config: Config) -> Result<Self> {
        Self::open_to_peer(protocol, netns, 0, config)
    }

    /// Opens a socket whose requests go to the netlink port `peer` instead
    /// of the kernel (port 0): a user-space netlink server, or, in tests, a
    /// peer that never answers.
    pub fn open_to_peer(
        protocol: Protocol,
        netns: &Netns,
        peer: u32,
        config: Config,
    ) -> Result<Self> {
        let sock = open_socket(protocol, netns, peer, &config)
            .map_err(|e| Error::io(format!("open netlink socket ({protocol:?})"), e))?;
        let shared = Arc::new(Shared {
            protocol,
            netns: netns.clone(),
            peer,
            counters: Counters::default(),
        });
        shared
            .counters
            .sockets_opened
            .fetch_add(1, Ordering::Relaxed);
        Ok(Connection {
            inner: Arc::new(Mutex::new(Inner {
                sock: Sock::Raw(sock),
                seq: 0,
                rbuf: vec![0; 256 * 1024],
                sbuf: Vec::new(),
            })),
            shared,
            config,
        })
    }

    /// This connection with another timeout (the socket stays shared).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// This connection with other tunables (the socket stays shared;
    /// the buffer sizes apply when a socket is next opened).
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The tunables in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The namespace this connection's sockets live in.
    pub fn netns(&self) -> &Netns {
        &self.shared.netns
    }

    /// The protocol of this connection.
    pub fn protocol(&self) -> Protocol {
        self.shared.protocol
    }

    /// Checks that this connection talks `protocol`, for a handle built over
    /// a connection its caller opened: [`Error::InvalidInput`] naming
    /// `handle` otherwise.
    pub fn expect_protocol(&self, protocol: Protocol, handle: &str) -> Result<()> {
        if self.protocol() == protocol {
            return Ok(());
        }
        Err(Error::invalid_input(
            format!("the connection given to {handle}"),
            format!(
                "it talks {:?} netlink; {handle} needs {protocol:?}",
                self.protocol()
            ),
        ))
    }

    /// What this connection (and its clones) did so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            datagrams_sent: c.datagrams_sent.load(Ordering::Relaxed),
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
            recv_calls: c.recv_calls.load(Ordering::Relaxed),
            sockets_opened: c.sockets_opened.load(Ordering::Relaxed),
        }
    }

    /// Sends one request asking for an ACK and returns the data messages the
    /// kernel answered before the ACK (none for most changes, one for a
    /// get-one request).
    pub async fn request<I>(&self, context: &str, mut msg: NetlinkMessage<I>) -> Result<Vec<I>>
    where
        I: NetlinkSerializable + NetlinkDeserializable,
    {
        msg.header.flags |= NLM_F_REQUEST | NLM_F_ACK;
        self.single(context, msg, false, |h, p| {
            I::deserialize(h, p).map(Some).map_err(|e| e.to_string())
        })
        .await
    }

    /// Sends one request asking for an ACK and discards any data reply.
    pub async fn ack<I>(&self, context: &str, msg: NetlinkMessage<I>) -> Result<()>
    where
        I: NetlinkSerializable + NetlinkDeserializable,
    {
        self.request(context, msg).await.map(drop)
    }

    /// Runs a dump (`NLM_F_DUMP`) and returns every message of it.
    ///
    /// A dump the kernel marks as interrupted by concurrent changes
    /// (`NLM_F_DUMP_INTR`) is restarted up to [`Config::dump_retries`]
    /// times, then reported as [`Error::DumpInterrupted`]; it is never
    /// returned as if complete. A message that fails to decode makes the
    /// whole dump fail with [`Error::Decode`] once the dump has been drained.
    pub async fn dump<I>(&self, context: &str, mut msg: NetlinkMessage<I>) -> Result<Vec<I>>
    where
        I: NetlinkSerializable + NetlinkDeserializable,
    {
        msg.header.flags |= NLM_F_REQUEST | NLM_F_DUMP;
        self.single(context, msg, true, |h, p| {
            I::deserialize(h, p).map(Some).map_err(|e| e.to_string())
        })
        .await
    }

    /// [`dump`](Self::dump) that decodes each data message straight from
    /// the received bytes with `decode` (given the message's header and its
    /// payload after the 16-byte netlink header) instead of through a typed
    /// message tree: the read path of large dumps, with no allocation per
    /// message beyond what `decode` makes. `decode` returns `Ok(None)` to
    /// skip a message; an `Err` makes the dump fail with [`Error::Decode`]
    /// once it has been drained. Interrupted dumps are restarted as
    /// [`dump`](Self::dump) does (what `decode` returned for the abandoned
    /// attempt is dropped).
    ///
    /// ```no_run
    /// # use netlink_packet_core::{NetlinkMessage, NetlinkSerializable};
    /// # async fn f<I: NetlinkSerializable>(
    /// #     conn: &nl_engine::Connection,
    /// #     req: NetlinkMessage<I>,
    /// # ) -> nl_engine::Result<()> {
    /// // the payload length of every message of a dump
    /// let lens: Vec<usize> = conn.dump_with("list", req, |_, payload| Ok(Some(payload.len()))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn dump_with<I, T>(
        &self,
        context: &str,
        mut msg: NetlinkMessage<I>,
        decode: impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>>
    where
        I: NetlinkSerializable,
    {
        msg.header.flags |= NLM_F_REQUEST | NLM_F_DUMP;
        self.single(context, msg, true, decode).await
    }

    /// Sends many requests packed into as few datagrams as `options` allow
    /// and returns each message's result, in order.
    ///
    /// The outer `Result` fails only when the exchange itself failed
    /// (timeout, overrun, I/O); kernel refusals of single messages are in
    /// the returned vector, one entry per message. With
    /// [`Acks::AsFlagged`], a message that asked for no ACK and got no error
    /// counts as `Ok`.
    pub async fn batch<M>(
        &self,
        context: &str,
        msgs: Vec<M>,
        options: BatchOptions,
    ) -> Result<Vec<Result<(), KernelError>>>
    where
        M: Outgoing,
    {
        Ok(self.batch_iter(context, msgs, options).await?.into_vec())
    }

    /// [`batch`](Self::batch) over messages made one at a time: each is
    /// encoded straight into the datagram being filled and dropped, so
    /// however many there are, only one datagram's worth of bytes (and one
    /// message) is in memory at a time. The results count the messages in
    /// the order the iterator yielded them; only refusals take memory.
    pub async fn batch_iter<T>(
        &self,
        context: &str,
        msgs: T,
        options: BatchOptions,
    ) -> Result<BatchResults>
    where
        T: IntoIterator,
        T::Item: Outgoing,
    {
        let mut inner = self.inner.lock().await;
        let res = inner
            .batch(
                &self.shared,
                &self.config,
                context,
                msgs.into_iter(),
                options,
            )
            .await;
        if let Err(e) = &res {
            if e.poisons_socket() {
                inner.sock = Sock::Closed;
            }
        }
        res
    }

    async fn single<I, T>(
        &self,
        context: &str,
        mut msg: NetlinkMessage<I>,
        dump: bool,
        mut decode: impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>>
    where
        I: NetlinkSerializable,
    {
        msg.finalize();
        let len = msg.buffer_len();
        let mut bytes = vec![0u8; len];
        msg.serialize(&mut bytes);
        let mut inner = self.inner.lock().await;
        let res = inner
            .single(
                &self.shared,
                &self.config,
                context,
                &mut bytes,
                dump,
                &mut decode,
            )
            .await;
        if let Err(e) = &res {
            if e.poisons_socket() {
                inner.sock = Sock::Closed;
            }
        }
        res
    }
}

/// One unsolicited message received by a [`Subscription`]: its header
/// (the sequence number and port of the request that caused it, when the
/// kernel sets them) and its payload after the 16-byte netlink header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The netlink header.
    pub header: NetlinkHeader,
    /// The payload (family header and attributes).
    pub payload: Vec<u8>,
}

impl Notification {
    /// Decodes the payload as the family's message type `I`.
    pub fn decode<I: NetlinkDeserializable>(&self) -> std::result::Result<I, String> {
        I::deserialize(&self.header, &self.payload).map_err(|e| e.to_string())
    }
}

/// A netlink socket of its own joined to multicast groups
/// (`NETLINK_ADD_MEMBERSHIP`), for the notifications the kernel sends
/// there: rtnetlink's link and address changes, nf_tables' ruleset
/// changes (`NFNLGRP_NFTABLES`), conntrack events, ...
///
/// It never sends anything. Notifications are queued by the kernel in the
/// socket's receive buffer ([`Config::recv_buffer`]); when it overflows,
/// the kernel drops them and [`Subscription::recv`] reports
/// [`Error::Overrun`] once: the listener missed changes and should read
/// the state afresh. The notifications queued before the loss are still
/// delivered after it, and the subscription goes on.
///
/// ```no_run
/// use nl_engine::{Connection, Netns, Protocol};
/// # async fn f() -> nl_engine::Result<()> {
/// // RTNLGRP_LINK (1): link changes
/// let conn = Connection::open(Protocol::Route, &Netns::current())?;
/// let mut sub = conn.subscribe(&[1])?;
/// let n = sub.recv().await?;
/// println!("message type {}", n.header.message_type);
/// # Ok(()) }
/// ```
pub struct Subscription {
    sock: Sock,
    protocol: Protocol,
    netns: Netns,
    groups: Vec<u32>,
    rbuf: Vec<u8>,
    pending: std::collections::VecDeque<Notification>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("protocol", &self.protocol)
            .field("netns", &self.netns)
            .field("groups", &self.groups)
            .finish()
    }
}

impl Connection {
    /// A [`Subscription`] to `groups` (multicast group numbers of this
    /// connection's protocol, e.g. `NFNLGRP_NFTABLES` 7 for netfilter) on
    /// a new socket in this connection's namespace, with its tunables.
    pub fn subscribe(&self, groups: &[u32]) -> Result<Subscription> {
        Subscription::open(
            self.shared.protocol,
            &self.shared.netns,
            groups,
            self.config,
        )
    }
}

impl Subscription {
    /// Opens a socket of `protocol` in `netns` joined to `groups`.
    ///
    /// Fails with [`Error::Io`] when the socket cannot be created or a
    /// group cannot be joined (an unknown group, or one that needs a
    /// privilege the caller lacks).
    pub fn open(protocol: Protocol, netns: &Netns, groups: &[u32], config: Config) -> Result<Self> {
        let ctx = || format!("subscribe to netlink groups {groups:?} ({protocol:?})");
        let sock = open_socket(protocol, netns, 0, &config).map_err(|e| Error::io(ctx(), e))?;
        for g in groups {
            sock.add_membership(*g)
                .map_err(|e| Error::io(format!("{}: join group {g}", ctx()), e))?;
        }
        Ok(Subscription {
            sock: Sock::Raw(sock),
            protocol,
            netns: netns.clone(),
            groups: groups.to_vec(),
            rbuf: vec![0; 256 * 1024],
            pending: std::collections::VecDeque::new(),
        })
    }

    /// The groups joined.
    pub fn groups(&self) -> &[u32] {
        &self.groups
    }

    /// The namespace the socket lives in.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// The next notification, waiting as long as it takes (bound the wait
    /// with `tokio::time::timeout` if needed; dropping the future loses
    /// nothing). [`Error::Overrun`] when the kernel had to drop
    /// notifications since the last call (the socket stays usable);
    /// [`Error::Decode`] for a malformed datagram.
    pub async fn recv(&mut self) -> Result<Notification> {
        let context = "receive netlink notification";
        loop {
            if let Some(n) = self.pending.pop_front() {
                return Ok(n);
            }
            let runtime = current_runtime(context)?;
            let sock = match std::mem::replace(&mut self.sock, Sock::Closed) {
                Sock::Async(a, id) if id == runtime => Sock::Async(a, id),
                Sock::Async(a, _) => Sock::Async(register(a.into_inner(), context)?, runtime),
                Sock::Raw(s) => Sock::Async(register(s, context)?, runtime),
                Sock::Closed => {
                    return Err(Error::io(context, io::Error::other("socket not open")));
                }
            };
            self.sock = sock;
            let Sock::Async(sock, _) = &self.sock else {
                continue;
            };
            let cap = self.rbuf.len();
            let mut slice: &mut [u8] = &mut self.rbuf[..];
            let n = match sock.get_ref().recv(&mut slice, libc::MSG_TRUNC) {
                Ok(n) if n > cap => {
                    return Err(Error::Decode {
                        context: context.to_string(),
                        reason: format!("datagram of {n} bytes truncated to {cap}"),
                    });
                }
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::Overrun {
                        context: context.to_string(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match sock.readable().await {
                        Ok(mut g) => g.clear_ready(),
                        Err(e) => return Err(Error::io(context, e)),
                    }
                    continue;
                }
                Err(e) => return Err(Error::io(context, e)),
            };
            for m in Messages::new(self.rbuf.get(..n).unwrap_or_default()) {
                let m = m.map_err(|reason| Error::Decode {
                    context: context.to_string(),
                    reason,
                })?;
                match m.header.message_type {
                    NLMSG_NOOP | NLMSG_DONE | NLMSG_ERROR => {}
                    NLMSG_OVERRUN => {
                        return Err(Error::Overrun {
                            context: context.to_string(),
                        });
                    }
                    _ => self.pending.push_back(Notification {
                        header: m.header,
                        payload: m.payload.to_vec(),
                    }),
                }
            }
        }
    }
}

/// The id of the Tokio runtime we are running in; an error outside one.
fn current_runtime(context: &str) -> Result<tokio::runtime::Id> {
    tokio::runtime::Handle::try_current()
        .map(|h| h.id())
        .map_err(|_| {
            Error::io(
                context,
                io::Error::other(
                    "netlink operations must run inside a Tokio runtime with I/O and time enabled",
                ),
            )
        })
}

/// Registers the socket with the current Tokio reactor; an error (not a
/// panic) outside a runtime.
fn register(sock: Socket, context: &str) -> Result<AsyncFd<Socket>> {
    current_runtime(context)?;
    // SAFETY: `Socket` owns its descriptor, returns that same descriptor from
    // every `as_raw_fd` call, and closes it only when dropped, which happens
    // only after the `AsyncFd` that owns it is dropped.
    unsafe { AsyncFd::register(sock) }.map_err(|e| Error::io(context, io::Error::from(e)))
}

/// Outcome of one non-blocking or bounded receive.
enum Recv {
    Got(usize),
    WouldBlock,
}

impl Inner {
    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Makes the socket usable from the current runtime: registers it with
    /// that runtime's reactor (again, when the connection is used from
    /// another runtime than before), or reopens it after a poisoning error.
    fn ensure_async(&mut self, shared: &Shared, config: &Config, context: &str) -> Result<()> {
        let runtime = current_runtime(context)?;
        let sock = match std::mem::replace(&mut self.sock, Sock::Closed) {
            Sock::Async(a, id) if id == runtime => {
                self.sock = Sock::Async(a, id);
                return Ok(());
            }
            Sock::Async(a, _) => a.into_inner(),
            Sock::Raw(s) => s,
            Sock::Closed => {
                let s = open_socket(shared.protocol, &shared.netns, shared.peer, config)
                    .map_err(|e| Error::io(format!("{context}: reopen netlink socket"), e))?;
                shared
                    .counters
                    .sockets_opened
                    .fetch_add(1, Ordering::Relaxed);
                s
            }
        };
        self.sock = Sock::Async(register(sock, context)?, runtime);
        Ok(())
    }

    async fn send(
        &self,
        shared: &Shared,
        config: &Config,
        context: &str,
        buf_is_sbuf: Option<&[u8]>,
    ) -> Result<()> {
        let Sock::Async(sock, _) = &self.sock else {
            return Err(Error::io(context, io::Error::other("socket not open")));
        };
        let buf: &[u8] = match buf_is_sbuf {
            Some(b) => b,
            None => &self.sbuf,
        };
        loop {
            match sock.get_ref().send(buf, 0) {
                Ok(n) if n == buf.len() => break,
                Ok(n) => {
                    return Err(Error::io(
                        context,
                        io::Error::other(format!("short netlink send: {n} of {} bytes", buf.len())),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match tokio::time::timeout(config.timeout, sock.writable()).await {
                        Err(_) => {
                            return Err(Error::Timeout {
                                context: context.to_string(),
                                after: config.timeout,
                            });
                        }
                        Ok(Ok(mut g)) => g.clear_ready(),
                        Ok(Err(e)) => return Err(Error::io(context, e)),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(context, e)),
            }
        }
        shared
            .counters
            .datagrams_sent
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Receives one datagram into `rbuf`. With `wait` false, returns
    /// `WouldBlock` instead of waiting.
    async fn recv(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        wait: bool,
    ) -> Result<Recv> {
        let Sock::Async(sock, _) = &self.sock else {
            return Err(Error::io(context, io::Error::other("socket not open")));
        };
        let cap = self.rbuf.len();
        loop {
            shared.counters.recv_calls.fetch_add(1, Ordering::Relaxed);
            let mut slice: &mut [u8] = &mut self.rbuf[..];
            match sock.get_ref().recv(&mut slice, libc::MSG_TRUNC) {
                Ok(n) if n > cap => {
                    return Err(Error::Decode {
                        context: context.to_string(),
                        reason: format!("datagram of {n} bytes truncated to {cap}"),
                    });
                }
                Ok(n) => return Ok(Recv::Got(n)),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::Overrun {
                        context: context.to_string(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !wait {
                        return Ok(Recv::WouldBlock);
                    }
                    match tokio::time::timeout(config.timeout, sock.readable()).await {
                        Err(_) => {
                            return Err(Error::Timeout {
                                context: context.to_string(),
                                after: config.timeout,
                            });
                        }
                        // Readiness is cleared so the next wait really waits;
                        // the recv above is retried first in any case.
                        Ok(Ok(mut g)) => g.clear_ready(),
                        Ok(Err(e)) => return Err(Error::io(context, e)),
                    }
                }
                Err(e) => return Err(Error::io(context, e)),
            }
        }
    }

    async fn single<T>(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        bytes: &mut [u8],
        dump: bool,
        decode: &mut impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>> {
        self.ensure_async(shared, config, context)?;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let seq = self.next_seq();
            if let Some(s) = bytes.get_mut(8..12) {
                s.copy_from_slice(&seq.to_ne_bytes());
            }
            self.send(shared, config, context, Some(bytes)).await?;
            shared
                .counters
                .messages_sent
                .fetch_add(1, Ordering::Relaxed);

            let mut out = Vec::new();
            let mut interrupted = false;
            let mut decode_error: Option<String> = None;
            'recv: loop {
                let Recv::Got(n) = self.recv(shared, config, context, true).await? else {
                    continue;
                };
                for m in Messages::new(self.rbuf.get(..n).unwrap_or_default()) {
                    let m = m.map_err(|reason| Error::Decode {
                        context: context.to_string(),
                        reason,
                    })?;
                    if m.header.sequence_number != seq {
                        continue; // a late reply to an abandoned request
                    }
                    match m.header.message_type {
                        NLMSG_NOOP => {}
                        NLMSG_ERROR => match wire::parse_error(&m) {
                            Ok(Ok(())) => break 'recv,
                            Ok(Err(ke)) => return Err(Error::from_kernel(context, ke)),
                            Err(reason) => {
                                return Err(Error::Decode {
                                    context: context.to_string(),
                                    reason,
                                });
                            }
                        },
                        NLMSG_DONE => {
                            if m.header.flags & NLM_F_DUMP_INTR != 0 {
                                interrupted = true;
                            }
                            wire::parse_done(&m).map_err(|ke| Error::from_kernel(context, ke))?;
                            break 'recv;
                        }
                        NLMSG_OVERRUN => {
                            return Err(Error::Overrun {
                                context: context.to_string(),
                            });
                        }
                        _ => {
                            if m.header.flags & NLM_F_DUMP_INTR != 0 {
                                interrupted = true;
                            }
                            if decode_error.is_none() {
                                match decode(&m.header, m.payload) {
                                    Ok(Some(v)) => out.push(v),
                                    Ok(None) => {}
                                    Err(e) => decode_error = Some(e),
                                }
                            }
                        }
                    }
                }
            }
            if let Some(reason) = decode_error {
                return Err(Error::Decode {
                    context: context.to_string(),
                    reason,
                });
            }
            if interrupted && dump {
                if attempts <= config.dump_retries {
                    continue;
                }
                return Err(Error::DumpInterrupted {
                    context: context.to_string(),
                    attempts,
                });
            }
            return Ok(out);
        }
    }

    async fn batch<T>(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        mut msgs: T,
        options: BatchOptions,
    ) -> Result<BatchResults>
    where
        T: Iterator,
        T::Item: Outgoing,
    {
        self.ensure_async(shared, config, context)?;
        // The datagram buffer at its full size at once: grown by doubling
        // it would be copied (and its pages touched) several times over.
        if let Packing::MaxDatagram(max) = options.packing {
            self.sbuf.reserve(max.saturating_add(wire::NLMSG_HDRLEN));
        }
        let mut results = BatchResults::default();
        // A message that did not fit the previous datagram (appended again
        // to the next one).
        let mut held: Option<T::Item> = None;
        // Per message of the current datagram: asked for an ACK, answered.
        let mut flagged: Vec<bool> = Vec::new();
        let mut answered: Vec<bool> = Vec::new();
        loop {
            let start = results.len;
            let first_seq = self.seq.wrapping_add(1);
            self.sbuf.clear();
            flagged.clear();
            let mut last_off = 0usize;
            loop {
                let Some(mut m) = held.take().or_else(|| msgs.next()) else {
                    break;
                };
                let off = align4(self.sbuf.len());
                self.sbuf.resize(off, 0);
                m.append_to(&mut self.sbuf);
                if self.sbuf.len() < off + wire::NLMSG_HDRLEN {
                    self.sbuf.resize(off + wire::NLMSG_HDRLEN, 0);
                }
                let len = self.sbuf.len() - off;
                if let Packing::MaxDatagram(max) = options.packing {
                    if off > 0 && off + len > max {
                        self.sbuf.truncate(off);
                        held = Some(m);
                        break;
                    }
                }
                let mut flags = wire::u16_at(&self.sbuf, off + 6).unwrap_or(0) | NLM_F_REQUEST;
                match options.acks {
                    Acks::Every => flags |= NLM_F_ACK,
                    Acks::LastPerDatagram => flags &= !NLM_F_ACK,
                    Acks::AsFlagged => {}
                }
                let seq = self.next_seq();
                let len32 = u32::try_from(len).unwrap_or(u32::MAX);
                wire::put_at(&mut self.sbuf, off, &len32.to_ne_bytes());
                wire::put_at(&mut self.sbuf, off + 6, &flags.to_ne_bytes());
                wire::put_at(&mut self.sbuf, off + 8, &seq.to_ne_bytes());
                last_off = off;
                flagged.push(flags & NLM_F_ACK != 0);
                results.len += 1;
            }
            let count = results.len - start;
            if count == 0 {
                break;
            }
            if options.acks == Acks::LastPerDatagram {
                // Ask the ACK of the datagram's last message only.
                if let Some(flags) = wire::u16_at(&self.sbuf, last_off + 6) {
                    let flags = (flags | NLM_F_ACK).to_ne_bytes();
                    if let Some(f) = self.sbuf.get_mut(last_off + 6..last_off + 8) {
                        f.copy_from_slice(&flags);
                    }
                }
                if let Some(l) = flagged.last_mut() {
                    *l = true;
                }
            }
            answered.clear();
            answered.resize(count, false);
            let mut pending = flagged.iter().filter(|f| **f).count();
            self.send(shared, config, context, None).await?;
            shared
                .counters
                .messages_sent
                .fetch_add(count as u64, Ordering::Relaxed);

            // The kernel handles a datagram inside the send call and queues
            // its answers in order, so they are all readable now.
            let mut unasked_error = false;
            while pending > 0 {
                let wait = !unasked_error;
                let n = match self.recv(shared, config, context, wait).await? {
                    Recv::Got(n) => n,
                    // An error on a message that asked no ACK (say a failed
                    // batch begin) and nothing more queued: the kernel skipped
                    // the rest and will not answer it.
                    Recv::WouldBlock => break,
                };
                for m in Messages::new(self.rbuf.get(..n).unwrap_or_default()) {
                    let m = m.map_err(|reason| Error::Decode {
                        context: context.to_string(),
                        reason,
                    })?;
                    let rel = m.header.sequence_number.wrapping_sub(first_seq) as usize;
                    if rel >= count {
                        continue; // not ours
                    }
                    match m.header.message_type {
                        NLMSG_ERROR => {
                            let r = wire::parse_error(&m).map_err(|reason| Error::Decode {
                                context: context.to_string(),
                                reason,
                            })?;
                            let is_err = r.is_err();
                            let asked = flagged.get(rel).copied().unwrap_or(false);
                            if let Some(a) = answered.get_mut(rel) {
                                if !*a {
                                    *a = true;
                                    if let Err(ke) = r {
                                        results.errors.push((start + rel, ke));
                                    }
                                    if asked {
                                        pending -= 1;
                                    } else if is_err {
                                        unasked_error = true;
                                    }
                                }
                            }
                        }
                        NLMSG_OVERRUN => {
                            return Err(Error::Overrun {
                                context: context.to_string(),
                            });
                        }
                        _ => {} // data echoed back (NLM_F_ECHO) is not collected
                    }
                }
            }
        }
        // The kernel answers in order; sorted all the same, as `get` relies on it.
        results.errors.sort_by_key(|(i, _)| *i);
        Ok(results)
    }
}

impl std::fmt::Display for Protocol {
    /// The `NETLINK_*` name (`NETLINK_GENERIC`), or `netlink protocol N`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protocol::Route => f.write_str("NETLINK_ROUTE"),
            Protocol::Generic => f.write_str("NETLINK_GENERIC"),
            Protocol::Netfilter => f.write_str("NETLINK_NETFILTER"),
            Protocol::Other(n) => write!(f, "netlink protocol {n}"),
        }
    }
}

impl std::fmt::Display for Stats {
    /// `3 datagrams, 120 messages sent; 5 recv calls; 1 socket opened`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} datagrams, {} messages sent; {} recv calls; {} sockets opened",
            self.datagrams_sent, self.messages_sent, self.recv_calls, self.sockets_opened
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A subscription to rtnetlink's link group (RTNLGRP_LINK, 1) in a
    /// throwaway namespace sees the links `ip` adds there.
    #[test]
    fn subscription_receives_multicast_notifications() {
        let ns = Netns::new_anonymous().expect("new network namespace (root needed)");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conn = Connection::open(Protocol::Route, &ns).unwrap();
            let mut sub = conn.subscribe(&[1]).unwrap();
            assert_eq!(sub.groups(), &[1]);
            let st = std::process::Command::new("nsenter")
                .arg(format!("--net={}", ns.proc_path()))
                .args(["ip", "link", "add", "sub-test0", "type", "veth"])
                .args(["peer", "name", "sub-test1"])
                .status()
                .unwrap();
            assert!(st.success());
            // An RTM_NEWLINK (16) naming each end of the pair.
            let mut seen = Vec::new();
            while seen.len() < 2 {
                let n = tokio::time::timeout(Duration::from_secs(5), sub.recv())
                    .await
                    .expect("notifications within 5 s")
                    .unwrap();
                assert_eq!(n.header.message_type, 16);
                for name in [&b"sub-test0\0"[..], &b"sub-test1\0"[..]] {
                    if n.payload.windows(name.len()).any(|w| w == name) && !seen.contains(&name) {
                        seen.push(name);
                    }
                }
            }
        });
        // An unknown group is refused when joined.
        assert!(Subscription::open(Protocol::Route, &ns, &[9999], Config::default()).is_err());
    }

    #[test]
    fn batch_results_are_sparse_and_ordered() {
        let r: BatchResults<&str> = BatchResults::new(5, vec![(3, "c"), (1, "a"), (9, "gone")]);
        assert_eq!(r.len(), 5);
        assert!(!r.all_ok());
        assert_eq!(r.errors(), &[(1, "a"), (3, "c")]);
        assert_eq!(r.get(0), Some(Ok(())));
        assert_eq!(r.get(1), Some(Err(&"a")));
        assert_eq!(r.get(5), None);
        let m = r.clone().map_errors(|i, e| format!("{i}{e}"));
        assert_eq!(m.errors(), &[(1, "1a".to_string()), (3, "3c".to_string())]);
        assert_eq!(
            r.into_vec(),
            vec![Ok(()), Err("a"), Ok(()), Err("c"), Ok(())]
        );
        let empty: BatchResults = BatchResults::default();
        assert!(empty.is_empty() && empty.all_ok());
    }
}
