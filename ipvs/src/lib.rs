//! Typed, async IPVS (IP Virtual Server) configuration over generic netlink.
//!
//! Everything `ipvsadm` does, as data: [`Service`]s (TCP, UDP, SCTP and
//! firewall-mark, IPv4 and IPv6, every scheduler, persistence, flags),
//! [`Destination`]s (all forwarding methods, mixed-family, tunnels,
//! thresholds), [`Stats`] (64-bit, with the 32-bit fallback), [`Timeouts`],
//! [`Info`], sync daemons ([`SyncDaemon`]), the connection table
//! ([`ConnEntry`]), plus a pipelined full [`IpvsHandle::snapshot`] (or
//! [`IpvsHandle::config_snapshot`], statistics skipped) and a batched
//! [`IpvsHandle::apply`] of [`Operation`]s, or of [`OperationRef`]s that
//! borrow the services and destinations they send (no copy of a large
//! desired state); [`IpvsHandle::apply_iter`] of operations made on the
//! fly and [`IpvsHandle::apply_stream`] of operations that come one at a
//! time and are walked once (lines read from a pipe).
//!
//! Dumps are decoded straight from the received bytes ([`Service::decode`],
//! [`Destination::decode`]: no attribute tree, no allocation per attribute)
//! and bulk changes are encoded straight into the datagram being filled.
//!
//! Each kernel object has its module (attributes, parsing and emitting
//! together); the transport is `nl-engine`. Decoding is lossless: unknown
//! attributes and values survive a round trip, and no kernel data can make
//! it panic.
//!
//! Programs without a Tokio runtime (command-line tools, CNI plugins) use
//! [`blocking::IpvsHandle`]: the same methods, each blocking until done.
//!
//! ```no_run
//! use ipvs_nl::{Destination, IpvsHandle, Scheduler, Service};
//! # async fn f() -> ipvs_nl::Result<()> {
//! let ns = nl_engine::Netns::from_path("/run/netns/lb").map_err(|e| ipvs_nl::Error::io("netns", e))?;
//! let ipvs = IpvsHandle::in_netns(&ns).await?;
//! let svc = Service::udp("[2001:db8::1]:53".parse().unwrap()).scheduler(Scheduler::RoundRobin);
//! ipvs.add_service(&svc).await?;
//! ipvs.add_destination(&svc.key, &Destination::new("2001:db8::2".parse().unwrap(), 53)).await?;
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
//!
//! # Bring your own connection
//!
//! [`IpvsMessage`] implements netlink-packet-generic's `GenlFamily` (with
//! netlink-packet-core's `Emitable` and `ParseableParametrized`), and its
//! constructors ([`IpvsMessage::add_service`], [`IpvsMessage::get_info`],
//! ...) build the exact messages the handle sends. A program that already
//! holds a netlink-proto connection (`NETLINK_GENERIC`) wraps them in a
//! `GenlMessage`, sets the family id it resolved, and sends them there;
//! [`IpvsMessage::service`], [`IpvsMessage::destination`] and the like
//! decode the replies. For a socket in another namespace, create the
//! connection on a thread inside it ([`Netns::run`]) with the runtime
//! entered:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ipvs_nl::netlink::netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
//! use ipvs_nl::netlink::netlink_packet_generic::GenlMessage;
//! use ipvs_nl::{IpvsMessage, Netns, Scheduler, Service};
//! use netlink_proto::sys::{SocketAddr, protocols::NETLINK_GENERIC};
//! # async fn f(ipvs_family_id: u16) -> Result<(), Box<dyn std::error::Error>> {
//! let ns = Netns::from_path("/run/netns/lb")?;
//! let rt = tokio::runtime::Handle::current();
//! let (conn, handle, _) = ns.run(move || {
//!     let _runtime = rt.enter();
//!     netlink_proto::new_connection::<GenlMessage<IpvsMessage>>(NETLINK_GENERIC)
//! })??;
//! tokio::spawn(conn);
//!
//! let svc = Service::tcp("10.96.0.1:80".parse()?).scheduler(Scheduler::RoundRobin);
//! let mut genl = GenlMessage::from_payload(IpvsMessage::add_service(&svc));
//! // The id of the "IPVS" family, resolved through the controller
//! // (CTRL_CMD_GETFAMILY, e.g. with netlink-packet-generic's GenlCtrl).
//! genl.set_resolved_family_id(ipvs_family_id);
//! let mut header = NetlinkHeader::default();
//! header.flags = NLM_F_REQUEST | NLM_F_ACK;
//! let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
//! msg.finalize();
//! let mut replies = handle.request(msg, SocketAddr::new(0, 0))?;
//! while let Some(reply) = replies.next().await {
//!     if let NetlinkPayload::Error(e) = reply.payload {
//!         return Err(e.to_io().into());
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! `tests/netlink_proto.rs` runs the generic netlink part against the
//! kernel: the family resolved over netlink-proto (or the kernel's
//! `ENOENT` decoded where IPVS is missing) and a `GenlMessage<IpvsMessage>`
//! answered by the kernel.
//!
//! # Feature `serde`
//!
//! With the `serde` feature the model types ([`Service`], [`ServiceKey`],
//! [`Destination`], [`Stats`], [`Info`], [`Timeouts`], [`SyncDaemon`],
//! [`ConnEntry`], [`ServiceEntry`], [`Operation`], and the enums and flags
//! in them) implement serde's `Serialize` and `Deserialize`: schedulers,
//! forwarding methods, families and flags by the names `ipvsadm` gives
//! them (values without a name as numbers, so every value reads back),
//! addresses as strings, durations in seconds. Attributes this crate does
//! not know are left out. The `ipvsadm` example's `--json` is written with
//! them.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use ipvs_nl::{Scheduler, Service};
//! let svc = Service::tcp("10.0.0.1:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
//! let json = serde_json::to_value(&svc).unwrap();
//! assert_eq!(json["scheduler"], "rr");
//! assert_eq!(serde_json::from_value::<Service>(json).unwrap(), svc);
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

mod attr;
pub mod blocking;
pub mod config;
pub mod conn_table;
mod consts;
pub mod daemon;
pub mod destination;
mod handle;
pub mod info;
pub mod message;
#[cfg(feature = "serde")]
mod serde_impls;
pub mod service;
pub mod stats;
mod util;

pub use config::Timeouts;
pub use conn_table::{ConnEntry, ConnFilter, ConnState};
pub use daemon::{DaemonState, SyncDaemon};
pub use destination::{Destination, ForwardMethod, TunnelFlags, TunnelType, Weight};
pub use handle::{
    AsOperation, DEFAULT_PIPELINE, IpvsHandle, Operation, OperationRef, ServiceEntry, classify,
};
pub use info::{Info, Version};
pub use message::{IpvsAttr, IpvsCmd, IpvsMessage};
pub use service::{Family, Netmask, Protocol, Scheduler, Service, ServiceFlags, ServiceKey};
pub use stats::{Stats, StatsWidth};

/// The netlink engine under this crate (`nl-engine`): its
/// [`Connection`](netlink::Connection) and [`Config`](netlink::Config) for a
/// handle's `with_connection`, namespaces, batches.
pub use nl_engine as netlink;
/// The error of every `parse`/`decode` function of this crate.
pub use nl_engine::DecodeError;
/// An attribute this crate does not interpret, kept as received (the
/// `Other` variants and `unknown` fields).
pub use nl_engine::RawAttr;
pub use nl_engine::{BatchResults, Error, KernelError, Netns, Result};

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
