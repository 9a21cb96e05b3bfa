//! ClusterIP-style services on any Linux host, without Kubernetes.
//!
//! This umbrella crate re-exports the project's libraries:
//!
//! - [`ipvs`] (`ipvs-nl`): the kernel's L4 load balancer over generic netlink;
//! - [`ipset`] (`ipset-nl`): ipset over nfnetlink, with bulk operations;
//! - [`nftables`] (`nftables-glue`): nf_tables transactions and the service
//!   NAT chains;
//! - [`netlink`] (`nl-engine`): the one netlink engine under all three
//!   (request, dump and batch with timeouts, extended ACK, namespaces).
//!
//! Together they build what Kubernetes calls a ClusterIP Service: a virtual
//! IP on a dummy interface, IPVS forwarding it to real servers, the
//! VIP:port in an ipset, and NAT chains that mark and masquerade that
//! traffic.
//!
//! The umbrella crate's own modules: [`keepalived`] reads keepalived's
//! configuration, [`svc`] derives and applies the services it describes,
//! [`sync`] brings the kernel to a desired state, [`link`] manages the
//! interface holding the virtual IPs, and [`health`] runs the configuration's
//! health checks and says which destinations each service should have;
//! [`conntrack`] (`conntrack-nl`) lists and deletes conntrack entries.
//!
//! The feature `serde` turns on the `serde` feature of every re-exported
//! crate: their model types (services, destinations, sets, rules,
//! conntrack entries, the desired state of [`sync`]) implement serde's
//! `Serialize` and `Deserialize`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod agent;
pub mod health;
pub mod keepalived;
pub mod link;
pub mod svc;

pub use conntrack_nl as conntrack;
pub use ipset_nl as ipset;
pub use ipvs_nl as ipvs;
pub use lb_sync as sync;
pub use nftables_glue as nftables;
pub use nl_engine as netlink;
pub use nl_engine::Netns;

/// The README's code examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
