//! A blocking [`IpvsHandle`], for programs without an async runtime
//! (command-line tools, CNI plugins).
//!
//! It owns the async [`crate::IpvsHandle`] and a
//! [`Runtime`] (a private current-thread
//! Tokio runtime with the `tokio` feature, async-io's `block_on` with
//! `smol` alone); each method runs the async method of the same name and
//! arguments to completion on the calling thread. With the `tokio`
//! feature, called on a thread where a Tokio runtime is current (inside an async task, under
//! another runtime's `block_on` or `enter`, on a `spawn_blocking` thread),
//! every method and constructor fails with [`Error::Io`]
//! instead of blocking that runtime; use the async handle there.
//!
//! ```no_run
//! use ipvs_nl::blocking::IpvsHandle;
//! use ipvs_nl::{Destination, Scheduler, Service};
//! fn main() -> ipvs_nl::Result<()> {
//!     let ipvs = IpvsHandle::new()?; // Error::Unsupported without ip_vs
//!     let svc = Service::tcp("10.0.0.1:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
//!     ipvs.add_service(&svc)?;
//!     let backend = Destination::new("192.168.0.2".parse().unwrap(), 80).masquerade();
//!     ipvs.add_destination(&svc.key, &backend)?;
//!     for entry in ipvs.snapshot()? {
//!         println!("{} {}", entry.service.key, entry.service.scheduler);
//!         for d in entry.destinations {
//!             println!("  -> {d} {} {}", d.forward, d.weight);
//!         }
//!     }
//!     Ok(())
//! }
//! ```

use std::net::IpAddr;

use netlink_packet_core::NetlinkMessage;
use netlink_packet_generic::GenlMessage;
use nl_engine::blocking::Runtime;
use nl_engine::{BatchOptions, BatchResults, Connection, Netns};

use crate::{
    AsOperation, ConnEntry, ConnFilter, DaemonState, Destination, Error, Info, IpvsMessage, Result,
    Service, ServiceEntry, ServiceKey, SyncDaemon, Timeouts,
};

nl_engine::blocking_handle! {
    /// A blocking handle on the IPVS configuration of one network namespace:
    /// the methods of [`crate::IpvsHandle`], each blocking until done.
    ///
    /// `Send` and `Sync`. See the [module](self) documentation.
    IpvsHandle => IpvsHandle, "ipvs_nl"
}

impl IpvsHandle {
    /// A handle on `netns` (this thread does not move); fails with
    /// [`Error::Unsupported`] when the kernel has no IPVS. See
    /// [`IpvsHandle::in_netns`](crate::IpvsHandle::in_netns).
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        let runtime = Runtime::new(NAME, ASYNC)?;
        let handle = runtime.block_on("in_netns", crate::IpvsHandle::in_netns(netns))?;
        Ok(IpvsHandle { handle, runtime })
    }

    /// A handle over an already opened generic netlink connection; see
    /// [`IpvsHandle::with_connection`](crate::IpvsHandle::with_connection).
    pub fn with_connection(conn: Connection) -> Result<Self> {
        let runtime = Runtime::new(NAME, ASYNC)?;
        let handle =
            runtime.block_on("with_connection", crate::IpvsHandle::with_connection(conn))?;
        Ok(IpvsHandle { handle, runtime })
    }

    /// How many connections [`snapshot`](Self::snapshot) uses at most; see
    /// [`IpvsHandle::with_pipeline`](crate::IpvsHandle::with_pipeline).
    pub fn with_pipeline(mut self, connections: usize) -> Self {
        self.handle = self.handle.with_pipeline(connections);
        self
    }

    nl_engine::blocking_methods! {
        handle IpvsHandle;

        /// The generic netlink family id of IPVS in this kernel.
        fn family_id(&self) -> u16;

        /// The underlying connection (for its statistics).
        fn connection(&self) -> &Connection;

        /// The namespace this handle works in.
        fn netns(&self) -> &Netns;

        /// Wraps a payload into a netlink message of this kernel's IPVS
        /// family.
        fn message(&self, payload: IpvsMessage) -> NetlinkMessage<GenlMessage<IpvsMessage>>;

        /// The connection table of this handle's namespace, filtered.
        fn connections(&self, filter: &ConnFilter) -> Result<Vec<ConnEntry>>;

        /// `ipvsadm -A`: adds a service ([`Error::Exists`] if it exists).
        async fn add_service(&self, s: &Service) -> Result<()>;

        /// `ipvsadm -E`: changes a service's scheduler, flags and
        /// persistence.
        async fn edit_service(&self, s: &Service) -> Result<()>;

        /// `ipvsadm -D`: deletes a service and its destinations.
        async fn delete_service(&self, key: &ServiceKey) -> Result<()>;

        /// Reads one service ([`Error::NotFound`] if it does not exist).
        async fn get_service(&self, key: &ServiceKey) -> Result<Service>;

        /// `ipvsadm -L` without destinations: every service.
        async fn services(&self) -> Result<Vec<Service>>;

        /// `ipvsadm -a`: adds a destination to a service.
        async fn add_destination(&self, key: &ServiceKey, d: &Destination) -> Result<()>;

        /// `ipvsadm -e`: changes a destination's forwarding method, weight,
        /// thresholds and tunnel settings.
        async fn edit_destination(&self, key: &ServiceKey, d: &Destination) -> Result<()>;

        /// `ipvsadm -d`: removes the destination `addr`:`port` from a
        /// service.
        async fn delete_destination(&self, key: &ServiceKey, addr: IpAddr, port: u16)
            -> Result<()>;

        /// The destinations of one service ([`Error::NotFound`] if the
        /// service does not exist).
        async fn destinations(&self, key: &ServiceKey) -> Result<Vec<Destination>>;

        /// Every service with its destinations (`ipvsadm -Ln` as data).
        async fn snapshot(&self) -> Result<Vec<ServiceEntry>>;

        /// [`snapshot`](Self::snapshot) without statistics.
        async fn config_snapshot(&self) -> Result<Vec<ServiceEntry>>;

        /// Applies many changes at once, with each operation's result by
        /// index.
        async fn apply<O: AsOperation>(&self, ops: &[O]) -> Result<BatchResults<Error>>;

        /// [`apply`](Self::apply) with explicit packing and ACK policy.
        async fn apply_with<O: AsOperation>(&self, ops: &[O], options: BatchOptions)
            -> Result<BatchResults<Error>>;

        /// `ipvsadm -Z`: zeroes the counters of every service.
        async fn zero_all(&self) -> Result<()>;

        /// `ipvsadm -Z -t ...`: zeroes the counters of one service.
        async fn zero_service(&self, key: &ServiceKey) -> Result<()>;

        /// `ipvsadm -C`: deletes every service.
        async fn flush(&self) -> Result<()>;

        /// Version and connection table size.
        async fn info(&self) -> Result<Info>;

        /// `ipvsadm -L --timeout`
        async fn timeouts(&self) -> Result<Timeouts>;

        /// `ipvsadm --set`: zero durations leave a timeout unchanged.
        async fn set_timeouts(&self, t: &Timeouts) -> Result<()>;

        /// `ipvsadm --start-daemon`
        async fn start_daemon(&self, d: &SyncDaemon) -> Result<()>;

        /// `ipvsadm --stop-daemon`
        async fn stop_daemon(&self, state: DaemonState) -> Result<()>;

        /// `ipvsadm -L --daemon`
        async fn daemons(&self) -> Result<Vec<SyncDaemon>>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Operation, OperationRef};

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<IpvsHandle>();
        assert_send_sync::<crate::IpvsHandle>();
    }

    /// Every public async method's future is `Send` (checked by the
    /// compiler: the futures are made, never polled).
    fn futures_are_send(h: &crate::IpvsHandle, conn: Connection, ns: &Netns) {
        let s = Service::tcp("10.0.0.1:80".parse().unwrap());
        let d = Destination::new("192.168.0.2".parse().unwrap(), 80);
        let ops = [Operation::AddService(s.clone())];
        let refs = [OperationRef::AddService(&s)];
        let t = Timeouts::default();
        let daemon = SyncDaemon::new(DaemonState::Master, "eth0");
        assert_send(&crate::IpvsHandle::new());
        assert_send(&crate::IpvsHandle::in_netns(ns));
        assert_send(&crate::IpvsHandle::with_connection(conn));
        assert_send(&h.add_service(&s));
        assert_send(&h.edit_service(&s));
        assert_send(&h.delete_service(&s.key));
        assert_send(&h.get_service(&s.key));
        assert_send(&h.services());
        assert_send(&h.add_destination(&s.key, &d));
        assert_send(&h.edit_destination(&s.key, &d));
        assert_send(&h.delete_destination(&s.key, d.addr, d.port));
        assert_send(&h.destinations(&s.key));
        assert_send(&h.snapshot());
        assert_send(&h.config_snapshot());
        assert_send(&h.apply(&ops));
        assert_send(&h.apply(&refs));
        assert_send(&h.apply_with(&ops, BatchOptions::default()));
        assert_send(&h.apply_iter(refs.iter().copied()));
        assert_send(&h.apply_stream(ops.clone()));
        assert_send(&h.zero_all());
        assert_send(&h.zero_service(&s.key));
        assert_send(&h.flush());
        assert_send(&h.info());
        assert_send(&h.timeouts());
        assert_send(&h.set_timeouts(&t));
        assert_send(&h.start_daemon(&daemon));
        assert_send(&h.stop_daemon(DaemonState::Master));
        assert_send(&h.daemons());
    }

    #[test]
    fn async_futures_are_send() {
        // compiled, never run: no socket is opened
        let _ = futures_are_send as fn(&crate::IpvsHandle, Connection, &Netns);
    }
}
