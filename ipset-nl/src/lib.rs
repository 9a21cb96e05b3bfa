//! Typed, async ipset over nfnetlink.
//!
//! - Every command of the protocol: create, destroy, flush, rename, swap,
//!   list, save, add, del, test, header, type (revision negotiation) and
//!   protocol, speaking protocol 7 with a fallback to 6.
//! - `hash:ip,port` modelled completely ([`IpPortEntry`], [`CreateOptions`]),
//!   and the other types kube-proxy uses: `hash:ip` ([`IpEntry`]),
//!   `hash:net` ([`NetEntry`]), `hash:ip,port,ip` ([`IpPortIpEntry`]),
//!   `hash:ip,port,net` ([`IpPortNetEntry`]) and `bitmap:port`
//!   ([`PortEntry`]); a member of any of them is a [`TypedEntry`], read from
//!   a listing with [`IpSet::members_as`] ([`SetElement`]). Each prints and
//!   parses the `ipset save` text form. Every other set type is listed and
//!   saved losslessly ([`Entry`],
//!   [`CreateAttr::Other`], [`ElementAttr::Other`]).
//! - Bulk add/del/test with many elements per message and per datagram and
//!   a result per element ([`BulkReport`]); atomic replacement
//!   ([`IpsetHandle::replace`]).
//! - ipset's own error codes typed ([`IpsetErrno`]) and mapped into
//!   [`Error`] with the `ipset` tool's texts.
//! - The kernel index of a set, which iptables' `set` match names sets by
//!   ([`index_of`], [`IpsetHandle::index_of`]).
//! - A blocking handle for programs without a Tokio runtime
//!   ([`blocking::IpsetHandle`]: the same methods, each blocking until done).
//!
//! ```no_run
//! use ipset_nl::{BulkOptions, CreateSet, IpPortEntry, IpProto, IpsetHandle};
//! # async fn f() -> ipset_nl::Result<()> {
//! let ipset = IpsetHandle::new()?;
//! ipset.create(&CreateSet::hash_ip_port("svc").options(|o| o.counters()), true).await?;
//! let backends: Vec<_> = ["10.0.0.1", "10.0.0.2"]
//!     .iter()
//!     .map(|ip| IpPortEntry::new(ip.parse().unwrap(), IpProto::Tcp, 8080))
//!     .collect();
//! let report = ipset.add_many("svc", &backends, BulkOptions::new().exist(true)).await?;
//! assert!(report.all_applied());
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
//! ```no_run
//! // ipset-nl = { version = "0.1", default-features = false, features = ["smol"] }
//! use ipset_nl::{IpPortEntry, IpProto, IpsetHandle};
//! fn main() -> ipset_nl::Result<()> {
//!     let ipset = IpsetHandle::new()?;
//!     // `smol::block_on` is this function
//!     async_io::block_on(async {
//!         let web = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, 80);
//!         ipset.add("svc", &web, true).await?;
//!         println!("{} sets", ipset.list_names().await?.len());
//!         Ok(())
//!     })
//! }
//! ```
//!
//! # Bring your own connection
//!
//! [`IpsetMessage`] implements netlink-packet-core's `NetlinkSerializable`
//! and `NetlinkDeserializable`, and [`request`] builds every message the
//! handle sends (with `NLM_F_ACK`, and `NLM_F_DUMP` for listings), so a
//! program that already holds a netlink-proto connection
//! (`NETLINK_NETFILTER`) can send them there; [`IpSet::from_messages`]
//! folds listing replies into sets. The handle negotiates the protocol
//! ([`request::protocol`]) and the type revision ([`request::type_query`]);
//! on another transport, do it yourself or pass known values. For a socket
//! in another namespace, create the connection on a thread inside it
//! ([`Netns::run`]) with the runtime entered:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ipset_nl::netlink::netlink_packet_core::NetlinkPayload;
//! use ipset_nl::{Command, IpSet, IpsetMessage, ListDetail, Netns, request};
//! use netlink_proto::sys::{SocketAddr, protocols::NETLINK_NETFILTER};
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let ns = Netns::from_path("/run/netns/blue")?;
//! let rt = tokio::runtime::Handle::current();
//! let (conn, handle, _) = ns.run(move || {
//!     let _runtime = rt.enter();
//!     netlink_proto::new_connection::<IpsetMessage>(NETLINK_NETFILTER)
//! })??;
//! tokio::spawn(conn);
//!
//! let msg = request::list(7, Command::List, None, ListDetail::Full);
//! let replies: Vec<_> = handle.request(msg, SocketAddr::new(0, 0))?.collect().await;
//! let msgs = replies.into_iter().filter_map(|m| match m.payload {
//!     NetlinkPayload::InnerMessage(i) => Some(i),
//!     _ => None, // the end of the dump, or an error to check
//! });
//! for set in IpSet::from_messages(msgs.collect()) {
//!     println!("{} ({}): {} members", set.name, set.set_type, set.members.len());
//! }
//! # Ok(()) }
//! ```
//!
//! `tests/netlink_proto.rs` does this against the kernel: protocol, type
//! revision, create, add, list, destroy, the kernel's errors decoded.
//!
//! # Feature `serde`
//!
//! With the `serde` feature the model types ([`IpSet`], [`CreateSet`],
//! [`CreateOptions`], [`Entry`], the typed entries and [`TypedEntry`],
//! [`SetHeader`], and the enums and flags in them) implement serde's
//! `Serialize` and `Deserialize`: families, protocols, set types and flags
//! by ipset's names (values without a name as numbers, so every value
//! reads back), addresses as strings. Attributes this crate does not know
//! are left out.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use ipset_nl::CreateSet;
//! let spec = CreateSet::hash_ip_port("svc").options(|o| o.timeout(600).counters());
//! let json = serde_json::to_value(&spec).unwrap();
//! assert_eq!(json["set_type"], "hash:ip,port");
//! assert_eq!(json["options"]["flags"], serde_json::json!(["counters"]));
//! assert_eq!(serde_json::from_value::<CreateSet>(json).unwrap(), spec);
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

pub mod attr;
pub mod blocking;
mod bulk;
pub mod constants;
mod display;
mod entry;
mod error;
mod handle;
mod index;
mod message;
pub mod request;
#[cfg(feature = "serde")]
mod serde_impls;
mod set;
mod typed;
mod types;

pub use attr::{CreateAttr, ElementAttr, IpsetAttr};
pub use bulk::{BulkOptions, BulkReport, Outcome};
pub use entry::{Element, Entry, IpPortEntry};
pub use error::{IpsetErrno, ipset_errno, map_error};
pub use handle::{IpsetHandle, ListDetail};
pub use index::{SetIndex, index_of, set_index};
pub use message::{Command, IpsetMessage};
pub use set::{
    CreateOptions, CreateSet, HASH_IP_PORT_MAX_REVISION, IpSet, ProtocolVersion, SetCounts,
    SetHeader, TypeRevisions,
};
pub use typed::{
    Extensions, IpEntry, IpPortIpEntry, IpPortNetEntry, NetEntry, PortEntry, SetElement,
    TypedEntry, TypedKey, parse_extensions,
};
pub use types::{CadtFlags, CmdFlags, Family, IpProto, SetType, Timeout};

/// The netlink engine under this crate (`nl-engine`): its
/// [`Connection`](netlink::Connection) and [`Config`](netlink::Config) for a
/// handle's `with_connection`, namespaces, batches.
pub use nl_engine as netlink;
/// The error of every `parse`/`decode` function of this crate.
pub use nl_engine::DecodeError;
/// The one error type of this project's crates.
pub use nl_engine::Error;
/// An attribute this crate does not interpret, kept as received (the
/// `Other` variants and `unknown` fields).
pub use nl_engine::RawAttr;
/// `Result` with [`Error`].
pub use nl_engine::{Netns, Result};

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
