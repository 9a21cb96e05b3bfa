//! [`Connection`]: one netlink socket in one network namespace, with request,
//! dump and batch operations, each bounded by a timeout; and
//! [`Subscription`]: a socket joined to multicast groups, receiving the
//! kernel's unsolicited notifications.
//!
//! Split by responsibility: the socket and its reactor (`socket`), single
//! requests and dumps (`dump`), batches (`batch`) and the thread that
//! sends a large batch's datagrams while the next is encoded (`offload`),
//! and multicast subscriptions (`subscribe`).

mod batch;
mod dump;
mod offload;
mod reactor;
mod socket;
mod subscribe;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::netns::Netns;

pub use batch::{Acks, BatchOptions, BatchResults, Encoded, Outgoing, Packing};
pub use subscribe::{Notification, Subscription};

use reactor::Mutex;
use socket::{Inner, Sock, open_socket};

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
    /// The longest datagram one receive takes (the connection's receive
    /// buffer); a longer one is an error ([`Error::Decode`], "truncated").
    /// Default 256 KiB.
    ///
    /// It also sets the size of the kernel's dump datagrams: the kernel
    /// allocates each part of a dump at the largest receive length the
    /// socket has used (at least one page's worth, `NLMSG_GOODSIZE`, at
    /// most 32 KiB), and a 32 KiB part is a 64 KiB page allocation that
    /// kernels built to zero new memory (`init_on_alloc`, Debian's and
    /// most distributions' default) clear in full. A connection that runs
    /// many small dumps (one service's destinations, one object's state)
    /// is faster with a short length such as [`Config::SMALL_DUMPS`]: in
    /// the QEMU guest that halved the time of 1,000 destination dumps. A
    /// connection that dumps large tables wants the default: each part of
    /// an IPVS service dump walks the table from its start again.
    ///
    /// Lengths below one page's worth (`min(page size, 8 KiB)`) are
    /// raised to it, so that no dump part can be cut.
    pub recv_len: usize,
    /// Whether a batch of more than one datagram is sent from a second
    /// thread while the calling task encodes the next datagram. Default
    /// `true`; it takes effect only where the process may run on more
    /// than one CPU.
    ///
    /// The kernel does a netlink datagram's work inside the `send` call,
    /// on the sending thread: sent from one thread, a batch alternates
    /// between encoding (the caller's iterator, its parsing included) and
    /// the kernel's work. With this, the two overlap, and the first
    /// datagrams of such a batch are smaller (64 KiB, then four times the
    /// last, up to [`Config::max_datagram`]) so that the kernel starts
    /// early. A datagram is handed to the thread as soon as it is full,
    /// queued behind the one being sent (the kernel goes on to it at
    /// once), and the caller's task reads the answers of the first while
    /// the kernel works on the second; with [`Acks::AsFlagged`], where a
    /// datagram's answers may have no end to wait for (the kernel may skip
    /// its rest, or its last messages ask no ACK), one datagram at a time.
    /// The thread only sends (on a duplicate of the socket's
    /// descriptor); the messages are still made by the caller's iterator
    /// on the caller's thread, so nothing of them needs to be `Send`. It
    /// is started by [`Connection::prepare_batches`] (which the family
    /// crates' handles call when they are built) or by the first batch
    /// that needs it, and lives as long as the connection; the connection
    /// then also keeps a second datagram buffer. Turn it off where a
    /// library may not start threads (a strict seccomp filter, say).
    pub background_send: bool,
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
    /// The longest datagram one receive takes, which also sizes the
    /// kernel's dump datagrams (see [`Config::recv_len`]).
    ///
    /// ```
    /// use nl_engine::Config;
    /// let c = Config::new().with_recv_len(Config::SMALL_DUMPS);
    /// assert!(c.effective_recv_len() >= 4096);
    /// ```
    pub fn with_recv_len(mut self, bytes: usize) -> Self {
        self.recv_len = bytes;
        self
    }

    /// Whether a batch of several datagrams is sent from a second thread
    /// while the next datagram is encoded (see [`Config::background_send`]).
    ///
    /// ```
    /// use nl_engine::Config;
    /// assert!(!Config::new().with_background_send(false).background_send);
    /// ```
    pub fn with_background_send(mut self, on: bool) -> Self {
        self.background_send = on;
        self
    }

    /// A receive length for connections that run many small dumps: the
    /// kernel then allocates each dump part from its 8 KiB slab instead
    /// of as 64 KiB of fresh pages (see [`Config::recv_len`]).
    pub const SMALL_DUMPS: usize = 7680;

    /// The receive length in force: [`Config::recv_len`], raised to one
    /// page's worth (`min(page size, 8 KiB)`, above the kernel's
    /// `NLMSG_GOODSIZE`, the smallest dump part it allocates).
    pub fn effective_recv_len(&self) -> usize {
        self.recv_len.max(socket::min_recv_len())
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
            recv_len: 256 * 1024,
            background_send: true,
        }
    }
}

/// Counters of what a connection did, for benchmarks and diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent (one `send` system call each).
    pub datagrams_sent: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Datagrams of `datagrams_sent` that a batch's offload thread sent
    /// (see [`Config::background_send`]).
    pub offloaded: u64,
    /// `recv` system calls made (including ones that found nothing).
    pub recv_calls: u64,
    /// Sockets opened (a socket is reopened after a timeout or overrun).
    pub sockets_opened: u64,
}

#[derive(Default)]
struct Counters {
    datagrams_sent: AtomicU64,
    messages_sent: AtomicU64,
    offloaded: AtomicU64,
    recv_calls: AtomicU64,
    sockets_opened: AtomicU64,
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
/// With the `tokio` feature the operations run inside a Tokio runtime with
/// I/O and time enabled (`Builder::enable_all`); with `smol`, under any
/// executor (see [Choosing the runtime](crate#choosing-the-runtime)).
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
                rbuf: vec![0; config.effective_recv_len()],
                sbuf: Vec::new(),
                spare: Vec::new(),
                offload: None,
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

    /// Allocates the buffer batches are assembled in, at the full size
    /// [`Config::max_datagram`] asks (plus room for one message more), and
    /// writes to every page of it now, so that the first batch does not
    /// stop on a page fault per 4 KiB it fills; and starts the thread
    /// that sends large batches while they are encoded, where that is to
    /// be used ([`Config::background_send`]). The handles that send
    /// batches (IPVS, ipset, nf_tables, conntrack) call it when they are
    /// built; a connection used for dumps only never needs it. The buffer is kept for the
    /// connection's life. Does nothing while another task is using the
    /// connection (the batch then grows the buffer itself).
    ///
    /// ```no_run
    /// # fn f() -> nl_engine::Result<()> {
    /// use nl_engine::{Connection, Netns, Protocol};
    /// let conn = Connection::open(Protocol::Netfilter, &Netns::current())?;
    /// conn.prepare_batches();
    /// # Ok(()) }
    /// ```
    pub fn prepare_batches(&self) {
        if let Some(mut inner) = reactor::try_lock(&self.inner) {
            inner.prepare_batches(&self.config);
        }
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
            offloaded: c.offloaded.load(Ordering::Relaxed),
            recv_calls: c.recv_calls.load(Ordering::Relaxed),
            sockets_opened: c.sockets_opened.load(Ordering::Relaxed),
        }
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
    /// `3 datagrams (2 offloaded), 120 messages sent; 5 recv calls; 1
    /// sockets opened`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} datagrams ({} offloaded), {} messages sent; {} recv calls; {} sockets opened",
            self.datagrams_sent,
            self.offloaded,
            self.messages_sent,
            self.recv_calls,
            self.sockets_opened
        )
    }
}
