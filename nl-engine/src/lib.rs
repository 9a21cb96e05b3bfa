//! The netlink engine shared by `ipvs-nl`, `ipset-nl` and `nftables-glue`.
//!
//! One [`Connection`] is one netlink socket in one network namespace
//! ([`Netns`]). It offers three exchanges, written once for all families:
//!
//! - [`Connection::request`] / [`Connection::ack`]: one request, its replies,
//!   its ACK;
//! - [`Connection::dump`]: a multi-part dump, restarted when the kernel marks
//!   it interrupted (`NLM_F_DUMP_INTR`) and never returned incomplete;
//! - [`Connection::batch`]: many requests packed into large datagrams, every
//!   message's result matched back to it by sequence number (IPVS bulk
//!   changes, ipset bulk changes, nf_tables transactions).
//!
//! The crates' blocking handles (for programs without a Tokio runtime) are
//! built on [`blocking::Runtime`], a private current-thread runtime.
//!
//! Every wait for the kernel is bounded by a timeout; the kernel's
//! extended-ACK message is carried in every [`Error`]; overruns and
//! undecodable replies are errors, never a stalled future.
//!
//! ```no_run
//! use nl_engine::{Connection, Netns, Protocol};
//! # async fn f() -> nl_engine::Result<()> {
//! // A socket in another namespace; this thread never leaves its own.
//! let ns = Netns::from_path("/run/netns/blue").map_err(|e| nl_engine::Error::io("open netns", e))?;
//! let conn = Connection::open(Protocol::Generic, &ns)?
//!     .with_timeout(std::time::Duration::from_secs(5));
//! let family = nl_engine::genl::resolve_family(&conn, "IPVS").await?;
//! # let _ = family; Ok(()) }
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

pub mod blocking;
mod conn;
mod error;
pub mod genl;
mod netns;
pub mod nfnl;
#[cfg(feature = "serde")]
pub mod serde_support;
pub mod wire;

pub use conn::{
    Acks, BatchOptions, BatchResults, Config, Connection, Encoded, Notification, Outgoing, Packing,
    Protocol, Stats, Subscription,
};
pub use error::{Error, KernelError, Result};
pub use netns::Netns;

/// The message crates this engine speaks, re-exported so users need not
/// depend on matching versions themselves.
pub use netlink_packet_core;
pub use netlink_packet_generic;

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
