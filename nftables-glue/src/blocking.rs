//! A blocking [`NftHandle`], for programs without an async runtime
//! (command-line tools, CNI plugins).
//!
//! It owns the async [`crate::NftHandle`] and a
//! [`Runtime`](nl_engine::blocking::Runtime) (a private current-thread
//! Tokio runtime with the `tokio` feature, async-io's `block_on` with
//! `smol` alone); each method runs the async method of the same name and
//! arguments to completion on the calling thread. With the `tokio`
//! feature, called on a thread where a Tokio runtime is current (inside an async task, under
//! another runtime's `block_on` or `enter`, on a `spawn_blocking` thread),
//! every method and constructor fails with [`Error::Io`](crate::Error::Io)
//! instead of blocking that runtime; use the async handle there.
//!
//! Futures that take the async handle, such as [`ServiceNat::ensure`],
//! run with [`NftHandle::block_on`] over [`NftHandle::handle`].
//!
//! ```no_run
//! use nftables_glue::blocking::NftHandle;
//! use nftables_glue::{Chain, Expr, Family, Membership, Rule, ServiceNat, Table, Transaction};
//! use nftables_glue::Verdict;
//! fn main() -> nftables_glue::Result<()> {
//!     let nft = NftHandle::new()?;
//!     let mut tx = Transaction::new();
//!     tx.add_table(&Table::new(Family::Ipv4, "demo"));
//!     tx.add_chain(&Chain::regular(Family::Ipv4, "demo", "input"));
//!     tx.append_rule(&Rule::new(Family::Ipv4, "demo", "input")
//!         .with_exprs(vec![Expr::counter(), Expr::verdict(Verdict::Accept)]));
//!     nft.commit(&tx)?;
//!     for r in nft.list_rules(Family::Ipv4, "demo", None)? {
//!         println!("{r}");
//!     }
//!     // a future over the async handle
//!     let nat = ServiceNat::new(Membership::Ipset { name: "ZGZ-CLUSTER-IP".into() });
//!     nft.block_on(nat.ensure(nft.handle()))?;
//!     Ok(())
//! }
//! ```
//!
//! [`ServiceNat::ensure`]: crate::ServiceNat::ensure

use nl_engine::{Connection, Result};

use crate::chain::Chain;
use crate::rule::Rule;
use crate::set::{Set, SetElement};
use crate::table::{Family, Table};
use crate::transaction::Transaction;

nl_engine::blocking_handle! {
    /// A blocking nf_tables handle in one network namespace: the methods of
    /// [`crate::NftHandle`], each blocking until done.
    ///
    /// `Send` and `Sync`. See the [module](self) documentation.
    NftHandle => NftHandle, "nftables_glue"; sync constructors
}

impl NftHandle {
    nl_engine::blocking_methods! {
        handle NftHandle;

        /// The underlying connection.
        fn connection(&self) -> &Connection;

        /// Applies every change of `tx` atomically: all or none.
        async fn commit(&self, tx: &Transaction) -> Result<()>;

        /// Lists the tables of `family` ([`Family::Unspec`]: all).
        async fn list_tables(&self, family: Family) -> Result<Vec<Table>>;

        /// Lists the chains of `family`, only those of `table` when given.
        async fn list_chains(&self, family: Family, table: Option<&str>) -> Result<Vec<Chain>>;

        /// Lists the rules of `table` (of `chain` only, when given), in
        /// chain order.
        async fn list_rules(&self, family: Family, table: &str, chain: Option<&str>)
            -> Result<Vec<Rule>>;

        /// Lists the sets of `family` (of `table` only, when given).
        async fn list_sets(&self, family: Family, table: Option<&str>) -> Result<Vec<Set>>;

        /// Lists the elements of a set.
        async fn list_elements(&self, family: Family, table: &str, set: &str)
            -> Result<Vec<SetElement>>;

        /// The ruleset generation: it changes with every committed
        /// transaction.
        async fn generation(&self) -> Result<u32>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Membership, ServiceNat};

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<NftHandle>();
        assert_send_sync::<crate::NftHandle>();
    }

    /// Every public async method's future is `Send` (checked by the
    /// compiler: the futures are made, never polled), and those of
    /// `ServiceNat`, which drive the handle.
    fn futures_are_send(h: &crate::NftHandle) {
        let tx = Transaction::new();
        let f = Family::Ipv4;
        assert_send(&h.commit(&tx));
        assert_send(&h.list_tables(f));
        assert_send(&h.list_chains(f, Some("t")));
        assert_send(&h.list_rules(f, "t", Some("c")));
        assert_send(&h.list_sets(f, None));
        assert_send(&h.list_elements(f, "t", "s"));
        assert_send(&h.generation());
        let nat = ServiceNat::new(Membership::Ipset { name: "s".into() });
        assert_send(&nat.ensure(h));
        assert_send(&nat.teardown(h));
    }

    #[test]
    fn async_futures_are_send() {
        // compiled, never run: no socket is opened
        let _ = futures_are_send as fn(&crate::NftHandle);
    }
}
