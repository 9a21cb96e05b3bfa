//! A blocking [`ConntrackHandle`], for programs without an async runtime
//! (command-line tools, CNI plugins cleaning up after a removed backend).
//!
//! It owns the async [`crate::ConntrackHandle`] and a
//! [`Runtime`](nl_engine::blocking::Runtime) (a private current-thread
//! Tokio runtime with the `tokio` feature, async-io's `block_on` with
//! `smol` alone); each method runs the async method of the same name and
//! arguments to completion on the calling thread. With the `tokio` feature,
//! called on a thread where a Tokio runtime is current (inside an async
//! task, under another runtime's `block_on` or `enter`, on a
//! `spawn_blocking` thread), every method and constructor fails with
//! [`Error::Io`](crate::Error::Io) instead of blocking that runtime; use
//! the async handle there.
//!
//! ```no_run
//! use conntrack_nl::blocking::ConntrackHandle;
//! use conntrack_nl::{Entry, L4, Tuple};
//! fn main() -> conntrack_nl::Result<()> {
//!     let ct = ConntrackHandle::new()?;
//!     let orig = Tuple::new("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), L4::udp(5000, 53));
//!     ct.create(&Entry::new(orig.clone()).timeout(30))?;
//!     for e in ct.list()? {
//!         println!("{e}");
//!     }
//!     ct.delete(&orig)?;
//!     // a UDP backend of 10.96.0.10:53 went away: forget its flows
//!     let n = ct.delete_udp_to_backend("10.96.0.10".parse().unwrap(), 53, "10.244.1.5".parse().unwrap(), 53)?;
//!     println!("{n} entries deleted");
//!     Ok(())
//! }
//! ```

use std::net::IpAddr;

use nl_engine::{Connection, Result};

use crate::{DeleteReport, Entry, Family, Filter, Tuple};

nl_engine::blocking_handle! {
    /// A blocking handle on the conntrack table of one network namespace:
    /// the methods of [`crate::ConntrackHandle`], each blocking until done.
    ///
    /// `Send` and `Sync`. See the [module](self) documentation.
    ConntrackHandle => ConntrackHandle, "conntrack_nl"; sync constructors
}

impl ConntrackHandle {
    nl_engine::blocking_methods! {
        handle ConntrackHandle;

        /// The underlying connection.
        fn connection(&self) -> &Connection;

        /// Every entry, IPv4 and IPv6 (`conntrack -L`).
        async fn list(&self) -> Result<Vec<Entry>>;

        /// Every entry of one family (`conntrack -L -f ipv6`).
        async fn list_family(&self, family: Family) -> Result<Vec<Entry>>;

        /// The entries `filter` selects (filtered by the kernel where it
        /// can, and checked again).
        async fn list_matching(&self, filter: &Filter) -> Result<Vec<Entry>>;

        /// The entry whose original tuple is `tuple`, in zone 0
        /// (`conntrack -G`); [`Error::NotFound`](crate::Error::NotFound)
        /// when there is none.
        async fn get(&self, tuple: &Tuple) -> Result<Entry>;

        /// [`get`](Self::get) in a zone.
        async fn get_in_zone(&self, tuple: &Tuple, zone: Option<u16>) -> Result<Entry>;

        /// Creates an entry (`conntrack -I`).
        async fn create(&self, entry: &Entry) -> Result<()>;

        /// Deletes the entry whose original tuple is `tuple`, in zone 0
        /// (`conntrack -D`).
        async fn delete(&self, tuple: &Tuple) -> Result<()>;

        /// Deletes a listed entry (by its original tuple, zone and id).
        async fn delete_entry(&self, entry: &Entry) -> Result<()>;

        /// Deletes every entry, IPv4 and IPv6 (`conntrack -F`).
        async fn flush(&self) -> Result<()>;

        /// Deletes every entry of one family (`conntrack -F -f ipv6`).
        async fn flush_family(&self, family: Family) -> Result<()>;

        /// Deletes every entry `filter` selects, in one batch, with a
        /// result per entry.
        async fn delete_matching(&self, filter: &Filter) -> Result<DeleteReport>;

        /// Deletes listed entries in one batch; `context` names the
        /// operation in an error of the exchange itself.
        async fn delete_entries(&self, entries: &[Entry], context: &str) -> Result<DeleteReport>;

        /// Deletes the entries of UDP flows to `vip:vip_port` that
        /// `backend:backend_port` answered; how many were deleted.
        async fn delete_udp_to_backend(
            &self,
            vip: IpAddr,
            vip_port: u16,
            backend: IpAddr,
            backend_port: u16,
        ) -> Result<usize>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::L4;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<ConntrackHandle>();
        assert_send_sync::<crate::ConntrackHandle>();
    }

    /// Every public async method's future is `Send` (checked by the
    /// compiler: the futures are made, never polled), under whichever
    /// runtime feature this build has.
    fn futures_are_send(h: &crate::ConntrackHandle) {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Tuple::new(ip, ip, L4::udp(1, 2));
        let e = Entry::new(t.clone());
        let f = Filter::new();
        let all = [e.clone()];
        assert_send(&h.list());
        assert_send(&h.list_family(Family::Ipv4));
        assert_send(&h.list_matching(&f));
        assert_send(&h.get(&t));
        assert_send(&h.get_in_zone(&t, Some(1)));
        assert_send(&h.create(&e));
        assert_send(&h.delete(&t));
        assert_send(&h.delete_entry(&e));
        assert_send(&h.flush());
        assert_send(&h.flush_family(Family::Ipv6));
        assert_send(&h.delete_matching(&f));
        assert_send(&h.delete_entries(&all, "x"));
        assert_send(&h.delete_udp_to_backend(ip, 53, ip, 53));
    }
    #[test]
    fn async_futures_are_send() {
        // compiled, never run: no socket is opened
        let _ = futures_are_send as fn(&crate::ConntrackHandle);
    }
}
