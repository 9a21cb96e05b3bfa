//! A blocking [`Syncer`], for programs without an async runtime (a
//! command-line tool or a CNI plugin that brings IPVS and its sets to a
//! desired state and exits).
//!
//! It owns the async [`crate::Syncer`] and a
//! [`Runtime`] (a private current-thread
//! Tokio runtime with the `tokio` feature, async-io's `block_on` with
//! `smol` alone); each method runs the async method of the same name to
//! completion on the calling thread. With the `tokio` feature, called on a
//! thread where a Tokio runtime is current, every method and constructor
//! fails with [`Error::Io`](crate::Error::Io) instead of blocking that
//! runtime; use the async syncer there.
//!
//! ```no_run
//! use lb_sync::blocking::Syncer;
//! use lb_sync::ipvs::{Destination, Scheduler, Service};
//! use lb_sync::DesiredState;
//! fn main() -> lb_sync::Result<()> {
//!     let syncer = Syncer::new()?; // Error::Unsupported without ip_vs
//!     let web = Service::tcp("10.96.0.10:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
//!     let backend = Destination::new("10.244.1.5".parse().unwrap(), 8080).masquerade();
//!     let report = syncer.sync(&DesiredState::new().with_service(web, vec![backend]))?;
//!     for change in &report.applied {
//!         println!("{change}");
//!     }
//!     Ok(())
//! }
//! ```

use ipset_nl::SetElement;
use ipvs_nl::{Destination, Service};
use nl_engine::blocking::Runtime;
use nl_engine::{Netns, Result};

use crate::{DesiredSet, DesiredState, SetPlan, SetReport, SyncOptions, SyncReport};

nl_engine::blocking_handle! {
    /// A blocking syncer: the methods of [`crate::Syncer`], each blocking
    /// until done.
    ///
    /// `Send` and `Sync`. See the [module](self) documentation.
    Syncer => Syncer, "lb_sync"
}

impl Syncer {
    /// A syncer over IPVS and ipset in `netns` (this thread does not move);
    /// fails with [`Error::Unsupported`](crate::Error::Unsupported) when the
    /// kernel has no IPVS. See [`Syncer::in_netns`](crate::Syncer::in_netns).
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        let runtime = Runtime::new(NAME, ASYNC)?;
        let handle = runtime.block_on("in_netns", crate::Syncer::in_netns(netns))?;
        Ok(Syncer { handle, runtime })
    }

    /// A blocking syncer around an async one built from handles of any
    /// namespace ([`crate::Syncer::new`], [`ipvs_only`](crate::Syncer::ipvs_only),
    /// [`ipset_only`](crate::Syncer::ipset_only)); the handles are used on
    /// this syncer's runtime.
    pub fn from_async(syncer: crate::Syncer) -> Result<Self> {
        let runtime = Runtime::new(NAME, ASYNC)?;
        Ok(Syncer {
            handle: syncer,
            runtime,
        })
    }

    /// This syncer with other options; see
    /// [`Syncer::with_options`](crate::Syncer::with_options).
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.handle = self.handle.with_options(options);
        self
    }

    /// Brings the kernel to `desired`; see [`Syncer::sync`](crate::Syncer::sync).
    pub fn sync(&self, desired: &DesiredState) -> Result<SyncReport> {
        self.runtime.block_on("sync", self.handle.sync(desired))
    }

    /// Brings IPVS alone to `services`; see
    /// [`Syncer::sync_services`](crate::Syncer::sync_services).
    pub fn sync_services(&self, services: &[(Service, Vec<Destination>)]) -> Result<SyncReport> {
        self.runtime
            .block_on("sync_services", self.handle.sync_services(services))
    }

    /// Brings sets to their members; see
    /// [`Syncer::sync_sets`](crate::Syncer::sync_sets).
    pub fn sync_sets<E: SetElement>(&self, sets: &[DesiredSet<E>]) -> Result<Vec<SetReport<E>>> {
        self.runtime
            .block_on("sync_sets", self.handle.sync_sets(sets))
    }

    /// Brings one set to its members and returns the plan with the report;
    /// see [`Syncer::sync_set_planned`](crate::Syncer::sync_set_planned).
    pub fn sync_set_planned<E: SetElement>(
        &self,
        set: &DesiredSet<E>,
    ) -> Result<(SetPlan<E>, SetReport<E>)> {
        self.runtime
            .block_on("sync_set_planned", self.handle.sync_set_planned(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn syncers_are_send_and_sync() {
        assert_send_sync::<Syncer>();
        assert_send_sync::<crate::Syncer>();
    }
}
