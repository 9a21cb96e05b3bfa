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
//!   changes, ipset bulk changes, nf_tables transactions). Where the process
//!   may use a second CPU, a batch of several datagrams is sent from the
//!   connection's own thread while the next datagram is encoded, so that
//!   the caller's encoding (and parsing) overlaps the kernel's work
//!   ([`Config::background_send`]).
//!
//! The crates' blocking handles (for programs without an async runtime)
//! are built on [`blocking::Runtime`].
//!
//! # Choosing the runtime
//!
//! The engine is runtime-independent except for one small internal part
//! (register a socket with a reactor, wait until it is readable or
//! writable with a timeout), chosen with cargo features; every family crate
//! (`ipvs-nl`, `ipset-nl`, `nftables-glue`, `conntrack-nl`, `lb-sync`)
//! forwards the same two features:
//!
//! - `tokio` (the default): Tokio's reactor and timer. Operations must run
//!   inside a Tokio runtime with I/O and time enabled (`Builder::enable_all`);
//!   a connection used from another runtime than before is registered again
//!   there. The blocking handles run a private current-thread Tokio runtime.
//! - `smol`: async-io's reactor and timer (the ones under smol and
//!   async-std), which serve any executor (`smol::block_on`,
//!   `async_executor`, `futures::executor`, ...). The blocking handles use
//!   async-io's `block_on`. With `default-features = false, features =
//!   ["smol"]`, Tokio is not in the build at all.
//!
//! Both may be on together (for example when two crates of one program
//! ask for different ones): Tokio is then used where a Tokio runtime is
//! current, async-io everywhere else. At least one is needed: a build with
//! neither fails with a `compile_error!` naming them. Every future of the
//! engine and of the family crates is `Send` under either.
//!
//! ```no_run
//! // Cargo.toml: nl-engine = { version = "0.1", default-features = false, features = ["smol"] }
//! use nl_engine::{Connection, Netns, Protocol};
//!
//! fn main() -> nl_engine::Result<()> {
//!     let ns = Netns::current();
//!     // `smol::block_on` is this function
//!     async_io::block_on(async {
//!         let conn = Connection::open(Protocol::Generic, &ns)?;
//!         let ctrl = nl_engine::genl::resolve_family(&conn, "nlctrl").await?;
//!         println!("{} is generic netlink family {}", ctrl.name, ctrl.id);
//!         Ok(())
//!     })
//! }
//! ```
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
//!
//! # Interoperability and semver
//!
//! The engine and the family crates speak netlink with their own types:
//! [`Error`] and [`DecodeError`] for failures, [`RawAttr`] for attributes
//! they do not interpret, [`wire`] for reading and writing attributes. The
//! `parse`/`decode` functions of the family crates return [`DecodeError`],
//! and their `unknown` fields and `Other` variants hold [`RawAttr`]s.
//!
//! Their message and attribute types also implement the traits of
//! netlink-packet-core 0.9 (`NetlinkSerializable`, `NetlinkDeserializable`,
//! `Nla`, `Emitable`, `ParseableParametrized`) and netlink-packet-generic
//! 0.5 (`GenlFamily`), on purpose: that is how users who hold their own
//! netlink-proto connection send and receive them. For the same users the
//! request builders (`ipset_nl::request`, `conntrack_nl::request`,
//! `NftMessage::into_netlink`, `Transaction::to_netlink`) return its
//! `NetlinkMessage`, and [`wire::RawMessage`] and [`Notification`] carry
//! its `NetlinkHeader`. That interop surface is the only place these
//! crates tie their public API to netlink-packet-core (a new major version
//! of it changes it, and only it); name the matching versions through the
//! re-exports [`netlink_packet_core`] and [`netlink_packet_generic`] rather
//! than depending on them separately.
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
mod conn;
mod error;
pub mod genl;
mod netns;
pub mod nfnl;
#[cfg(feature = "serde")]
pub mod serde_support;
pub mod wire;

pub use attr::RawAttr;
pub use conn::{
    Acks, BatchOptions, BatchResults, Config, Connection, Encoded, Notification, Outgoing, Packing,
    Protocol, Stats, Subscription,
};
pub use error::{DecodeError, Error, KernelError, Result};
pub use netns::Netns;

/// The message crates this engine speaks (netlink-packet-core 0.9,
/// netlink-packet-generic 0.5), re-exported so users of the trait impls
/// (see "Interoperability and semver" above) need not depend on matching
/// versions themselves.
pub use netlink_packet_core;
pub use netlink_packet_generic;

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
