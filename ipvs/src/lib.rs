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
//! desired state).
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
pub use nl_engine::{BatchResults, Error, KernelError, Netns, Result};

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
