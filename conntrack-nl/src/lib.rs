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
//! - [`blocking::ConntrackHandle`]: the same methods, blocking, for
//!   programs without an async runtime.
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
//! [`CtMessage`] implements netlink-packet-core's `NetlinkSerializable` and
//! `NetlinkDeserializable`, and [`request`] builds every message the handle
//! sends, so a program that already holds a netlink-proto connection
//! (`NETLINK_NETFILTER`) can send them there and decode the replies with
//! [`CtMessage::entry`]. The handle adds `NLM_F_DUMP` or `NLM_F_ACK` itself;
//! on another transport, set them. For a socket in another namespace,
//! create the connection on a thread inside it ([`Netns::run`]) with the
//! runtime entered:
//!
//! ```no_run
//! use conntrack_nl::netlink::netlink_packet_core::{NLM_F_DUMP, NetlinkPayload};
//! use conntrack_nl::{CtMessage, Netns, request};
//! use futures_util::StreamExt;
//! use netlink_proto::sys::{SocketAddr, protocols::NETLINK_NETFILTER};
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let ns = Netns::from_path("/run/netns/blue")?;
//! let rt = tokio::runtime::Handle::current();
//! let (conn, handle, _) = ns.run(move || {
//!     let _runtime = rt.enter();
//!     netlink_proto::new_connection::<CtMessage>(NETLINK_NETFILTER)
//! })??;
//! tokio::spawn(conn);
//!
//! let mut msg = request::dump(None, None);
//! msg.header.flags |= NLM_F_DUMP;
//! let mut replies = handle.request(msg, SocketAddr::new(0, 0))?;
//! while let Some(reply) = replies.next().await {
//!     if let NetlinkPayload::InnerMessage(ct) = reply.payload {
//!         println!("{}", ct.entry()?);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! `tests/netlink_proto.rs` does this against the kernel: create, list, get
//! and delete, the kernel's errors decoded.
//!
//! # Feature `serde`
//!
//! With the `serde` feature the model types ([`Entry`], [`Tuple`], [`L4`],
//! [`ProtoInfo`], [`Counters`], [`Filter`], and the enums and flags in
//! them) implement serde's `Serialize` and `Deserialize`: protocols, TCP
//! states and status flags by the `conntrack` tool's names (values
//! without a name as numbers, so every value reads back), addresses as
//! strings. Attributes this crate does not know are left out.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use conntrack_nl::{Entry, L4, Tuple};
//! let t = Tuple::new("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), L4::udp(1, 53));
//! let e = Entry::new(t).timeout(30);
//! let json = serde_json::to_value(&e).unwrap();
//! assert_eq!(json["orig"]["l4"]["ports"]["proto"], "udp");
//! assert_eq!(serde_json::from_value::<Entry>(json).unwrap(), e);
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
pub mod constants;
mod entry;
mod filter;
mod handle;
mod message;
pub mod request;
#[cfg(feature = "serde")]
mod serde_impls;
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
/// The error of every `parse`/`decode` function of this crate.
pub use nl_engine::DecodeError;
/// The one error type of this project's crates.
pub use nl_engine::Error;
/// `Result` with [`Error`].
pub use nl_engine::{Netns, Result};

/// The README's code examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
