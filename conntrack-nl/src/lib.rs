//! Typed, async conntrack over nfnetlink (ctnetlink,
//! `NFNL_SUBSYS_CTNETLINK`), on the shared `nl-engine`.
//!
//! - [`Entry`] and [`Tuple`] model a conntrack entry: both directions
//!   (IPv4/IPv6 addresses; ports of TCP, UDP, UDP-Lite, SCTP, DCCP; ICMP
//!   and ICMPv6 id, type and code), [`Status`] bits, timeout, mark, zone,
//!   id, TCP/SCTP state ([`ProtoInfo`]), counters, use count; every other
//!   attribute kept ([`RawAttr`]).
//! - [`ConntrackHandle`]: list (both families or one), get, create,
//!   delete, flush.
//! - [`ConntrackHandle::delete_matching`]: one dump filtered by the kernel
//!   ([`Filter`]: family, protocol, original destination, reply source,
//!   mark), then every delete in one batch with a result per entry;
//!   [`ConntrackHandle::delete_udp_to_backend`] for the removal of a UDP
//!   backend behind a VIP.
//!
//! ```no_run
//! use conntrack_nl::ConntrackHandle;
//! # async fn f() -> conntrack_nl::Result<()> {
//! let ct = ConntrackHandle::new()?;
//! // A UDP backend of 10.96.0.10:53 went away: forget its flows.
//! let n = ct
//!     .delete_udp_to_backend("10.96.0.10".parse().unwrap(), 53, "10.244.1.5".parse().unwrap(), 53)
//!     .await?;
//! println!("{n} entries deleted");
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
pub mod constants;
mod entry;
mod filter;
mod handle;
mod message;
pub mod request;
mod tuple;

pub use attr::RawAttr;
pub use entry::{Counters, Entry, ProtoInfo, SctpInfo, Status, TcpFlags, TcpInfo, TcpState};
pub use filter::Filter;
pub use handle::{ConntrackHandle, DeleteReport};
pub use message::{Command, CtMessage};
pub use tuple::{Family, L4, Proto, Tuple};

/// The netlink engine under this crate (`nl-engine`): its
/// [`Connection`](netlink::Connection) for
/// [`ConntrackHandle::with_connection`], namespaces, batches.
pub use nl_engine as netlink;
/// The one error type of this project's crates.
pub use nl_engine::Error;
/// `Result` with [`Error`].
pub use nl_engine::{Netns, Result};

/// The README's code examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
