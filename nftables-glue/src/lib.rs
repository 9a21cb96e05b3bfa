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
pub mod dnat;
mod expr;
mod handle;
mod monitor;
mod msg;
mod rule;
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
