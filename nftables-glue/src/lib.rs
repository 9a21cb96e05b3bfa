//! Typed nf_tables over netlink, built on `nl-engine`: tables, chains,
//! rules, named sets (with concatenated keys) and maps (verdict and data
//! maps, anonymous constant maps) and their elements; the rule expressions
//! a NAT and load-balancing setup needs (payload, meta, cmp, bitwise,
//! immediate and verdicts, lookup in sets and maps, counter, ct, nat,
//! masquerade, redirect, numgen, fib, reject, objref, and the `nft_compat`
//! matches `set` and `ipvs`); atomic [`Transaction`]s; the kernel's change
//! notifications ([`NftMonitor`]); and, on top, ClusterIP-style
//! [`ServiceNat`] chains and a kube-proxy-style DNAT data path
//! ([`ServiceDnat`], an alternative to IPVS).
//!
//! Nothing here runs `nft`: every change is one nfnetlink batch that the
//! kernel commits or aborts entirely.
//!
//! Programs without a Tokio runtime use [`blocking::NftHandle`]: the same
//! methods, each blocking until done.
//!
//! ```no_run
//! use nftables_glue::{NftHandle, ServiceNat, Membership};
//! # async fn f() -> nftables_glue::Result<()> {
//! let nft = NftHandle::new()?;
//! // The seeds' iptables rules, natively: ZGZ-SERVICES, -MARK-MASQ, -POSTROUTING,
//! // members taken from the ipset ZGZ-CLUSTER-IP (dst,dst).
//! let nat = ServiceNat::new(Membership::Ipset { name: "ZGZ-CLUSTER-IP".into() });
//! let changed = nat.ensure(&nft).await?;
//! assert!(!nat.ensure(&nft).await?, "second run changes nothing");
//! # let _ = changed; Ok(()) }
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
//! [`NftMessage`] implements netlink-packet-core's `NetlinkSerializable` and
//! `NetlinkDeserializable`; [`Transaction::to_netlink`] is the whole batch
//! (`BATCH_BEGIN`, every change with `NLM_F_ACK`, `BATCH_END`) and the
//! objects decode dump replies ([`Table::parse`], [`Chain::parse`],
//! [`Rule::parse`], ...). A program that already holds a netlink-proto
//! connection (`NETLINK_NETFILTER`) sends them there; the batch delimiters
//! get no answer, so say so with `request_batch_with_expectation`. For a
//! socket in another namespace, create the connection on a thread inside it
//! ([`Netns::run`]) with the runtime entered:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use netlink_proto::ReplyExpectation::{Expected, NotExpected};
//! use netlink_proto::sys::{SocketAddr, protocols::NETLINK_NETFILTER};
//! use nftables_glue::netlink::netlink_packet_core::NetlinkPayload;
//! use nftables_glue::{Family, Netns, NftMessage, Table, Transaction};
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let ns = Netns::from_path("/run/netns/blue")?;
//! let rt = tokio::runtime::Handle::current();
//! let (conn, handle, _) = ns.run(move || {
//!     let _runtime = rt.enter();
//!     netlink_proto::new_connection::<NftMessage>(NETLINK_NETFILTER)
//! })??;
//! tokio::spawn(conn);
//!
//! let mut tx = Transaction::new();
//! tx.add_table(&Table::new(Family::Ipv4, "demo"));
//! let msgs = tx.to_netlink();
//! let last = msgs.len() - 1;
//! let batch = msgs.into_iter().enumerate().map(|(i, m)| {
//!     (m, if i == 0 || i == last { NotExpected } else { Expected })
//! });
//! let mut acks = handle.request_batch_with_expectation(batch, SocketAddr::new(0, 0))?;
//! while let Some(ack) = acks.next().await {
//!     if let NetlinkPayload::Error(e) = ack.payload {
//!         return Err(e.to_io().into()); // the change this answers failed
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! `tests/netlink_proto.rs` does this against the kernel: a batch with a
//! table, chains and a rule, dumps, an aborted batch, the kernel's errors
//! decoded.
//!
//! # Feature `serde`
//!
//! With the `serde` feature the model types ([`Table`], [`Chain`],
//! [`Rule`] with its [`Expr`]essions, [`Set`], [`SetElement`],
//! [`SetElements`], the planners' [`ServiceDnat`] and [`ServiceNat`], and
//! the enums and flags in them) implement serde's `Serialize` and
//! `Deserialize`: families and chain types by nft's names, flags as lists
//! of names, set timeouts in milliseconds, `Other` values as numbers so
//! every value reads back. Attributes this crate does not know are left
//! out.
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use nftables_glue::{Chain, ChainType, Family, Hook, Priority};
//! let c = Chain::base(Family::Ipv4, "nat", "pre", ChainType::Nat, Hook::Prerouting, Priority::DSTNAT);
//! let json = serde_json::to_value(&c).unwrap();
//! assert_eq!(json["family"], "ip");
//! assert_eq!(json["base"]["hook"], "prerouting");
//! assert_eq!(serde_json::from_value::<Chain>(json).unwrap(), c);
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
mod chain;
pub mod compat;
mod display;
pub mod dnat;
mod expr;
mod handle;
mod monitor;
mod msg;
mod rule;
#[cfg(feature = "serde")]
mod serde_impls;
mod service;
mod set;
mod table;
mod transaction;

pub use attr::RawAttr;
pub use chain::{BaseChain, Chain, ChainFlags, ChainType, Hook, Policy, Priority};
pub use compat::Match;
pub use dnat::{Balance, DnatService, Endpoint, ServiceDnat};
pub use expr::{
    Bitwise, Cmp, CmpOp, Counter, Ct, CtKey, CtState, Data, Expr, Fib, FibFlags, FibResult,
    IcmpxCode, Immediate, Lookup, Masq, Meta, MetaKey, Nat, NatFlags, NatType, Numgen, NumgenType,
    Objref, Payload, PayloadBase, RTN_LOCAL, RawExpr, Redir, Register, Reject, Verdict,
};
pub use handle::NftHandle;
pub use monitor::{Generation, NFNLGRP_NFTABLES, NftEvent, NftMonitor};
pub use msg::{Command, NftMessage};
/// The netlink engine under this crate (`nl-engine`): its
/// [`Connection`](netlink::Connection) and [`Config`](netlink::Config) for a
/// handle's `with_connection`, namespaces, batches.
pub use nl_engine as netlink;
/// The error of every `parse`/`decode` function of this crate.
pub use nl_engine::DecodeError;
pub use nl_engine::{Error, Netns, Result};
pub use rule::{Rule, RuleCompat, USERDATA_MAXLEN};
pub use service::{Member, Membership, ServiceNat};
pub use set::{
    DATA_VERDICT, DataType, ElementFlags, KeyType, MapData, Set, SetElement, SetElements, SetFlags,
};
pub use table::{Family, Table, TableFlags};
pub use transaction::{Change, Transaction};

/// The README's code example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
