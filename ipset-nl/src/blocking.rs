//! A blocking [`IpsetHandle`], for programs without an async runtime
//! (command-line tools, CNI plugins).
//!
//! It owns the async [`crate::IpsetHandle`] and a
//! [`Runtime`](nl_engine::blocking::Runtime) (a private current-thread
//! Tokio runtime with the `tokio` feature, async-io's `block_on` with
//! `smol` alone); each method runs the async method of the same name and
//! arguments to completion on the calling thread. With the `tokio`
//! feature, called on a thread where a Tokio runtime is current (inside an async task, under
//! another runtime's `block_on` or `enter`, on a `spawn_blocking` thread),
//! every method and constructor fails with [`Error::Io`](crate::Error::Io)
//! instead of blocking that runtime; use the async handle there.
//!
//! ```no_run
//! use ipset_nl::blocking::IpsetHandle;
//! use ipset_nl::{CreateSet, IpPortEntry, IpProto};
//! fn main() -> ipset_nl::Result<()> {
//!     let ipset = IpsetHandle::new()?;
//!     ipset.create(&CreateSet::hash_ip_port("svc"), true)?;
//!     let web = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, 80);
//!     ipset.add("svc", &web, true)?;
//!     assert!(ipset.test("svc", &web)?);
//!     for set in ipset.list(None)? {
//!         println!("{} {} members", set.name, set.members.len());
//!     }
//!     Ok(())
//! }
//! ```

use nl_engine::{Connection, Result};

use crate::entry::Element;
use crate::message::Command;
use crate::set::{CreateSet, IpSet, ProtocolVersion, SetHeader, TypeRevisions};
use crate::types::{Family, SetType};
use crate::{BulkOptions, BulkReport, ListDetail, SetIndex};

nl_engine::blocking_handle! {
    /// A blocking handle on the ipset subsystem of one network namespace: the
    /// methods of [`crate::IpsetHandle`], each blocking until done.
    ///
    /// `Send` and `Sync`. See the [module](self) documentation.
    IpsetHandle => IpsetHandle, "ipset_nl"; sync constructors
}

impl IpsetHandle {
    nl_engine::blocking_methods! {
        handle IpsetHandle;

        /// The underlying connection.
        fn connection(&self) -> &Connection;

        /// The kernel index of the set `name`, or `None` without such a set.
        fn index_of(&self, name: &str) -> Result<Option<u16>>;

        /// The kernel index and family of the set `name`.
        fn set_index(&self, name: &str) -> Result<Option<SetIndex>>;

        /// Asks the kernel's protocol version, offering `ours`.
        async fn kernel_protocol(&self, ours: u8) -> Result<ProtocolVersion>;

        /// The protocol version used on this handle (7, or 6 with a kernel
        /// that only speaks 6).
        async fn protocol(&self) -> Result<u8>;

        /// The revisions of `set_type` for `family` the kernel supports.
        async fn type_revisions(&self, set_type: &SetType, family: Family)
            -> Result<TypeRevisions>;

        /// The revision `create` would use for `spec`.
        async fn pick_revision(&self, spec: &CreateSet) -> Result<u8>;

        /// Creates a set (`ipset create`); with `exist`, an identical
        /// existing set is not an error.
        async fn create(&self, spec: &CreateSet, exist: bool) -> Result<()>;

        /// Destroys one set, or every set with `None` (`ipset destroy`).
        async fn destroy(&self, name: Option<&str>) -> Result<()>;

        /// Removes every member of one set, or of every set with `None`.
        async fn flush(&self, name: Option<&str>) -> Result<()>;

        /// Renames a set.
        async fn rename(&self, from: &str, to: &str) -> Result<()>;

        /// Swaps the contents (and names) of two sets of the same type.
        async fn swap(&self, a: &str, b: &str) -> Result<()>;

        /// A set's header: type, revision, family.
        async fn header(&self, name: &str) -> Result<SetHeader>;

        /// Lists one set or all (`ipset list`), with members.
        async fn list(&self, name: Option<&str>) -> Result<Vec<IpSet>>;

        /// Lists like `ipset save` does, with members.
        async fn save(&self, name: Option<&str>) -> Result<Vec<IpSet>>;

        /// The names of all sets (`ipset list -n`).
        async fn list_names(&self) -> Result<Vec<String>>;

        /// Lists with `cmd` (list or save) at the given level of detail.
        async fn list_with(&self, cmd: Command, name: Option<&str>, detail: ListDetail)
            -> Result<Vec<IpSet>>;

        /// Adds one element (`ipset add`); with `exist`, an element already
        /// there is not an error.
        async fn add(&self, set: &str, e: &impl Element, exist: bool) -> Result<()>;

        /// Deletes one element; with `exist`, a missing element is not an
        /// error.
        async fn del(&self, set: &str, e: &impl Element, exist: bool) -> Result<()>;

        /// Tests whether an element is in the set.
        async fn test(&self, set: &str, e: &impl Element) -> Result<bool>;

        /// Adds many elements, packed into as few messages and datagrams as
        /// the kernel allows, with a result per element.
        async fn add_many<E: Element>(&self, set: &str, elems: &[E], opts: BulkOptions)
            -> Result<BulkReport>;

        /// Deletes many elements, with a result per element.
        async fn del_many<E: Element>(&self, set: &str, elems: &[E], opts: BulkOptions)
            -> Result<BulkReport>;

        /// Tests many elements: `Applied` means "in the set".
        async fn test_many<E: Element>(&self, set: &str, elems: &[E]) -> Result<BulkReport>;

        /// Replaces the content of `spec.name` atomically (fill a temporary
        /// set, swap it in, destroy the old content).
        async fn replace<E: Element>(&self, spec: &CreateSet, elems: &[E])
            -> Result<BulkReport>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IpPortEntry;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<IpsetHandle>();
        assert_send_sync::<crate::IpsetHandle>();
    }

    /// Every public async method's future is `Send` (checked by the
    /// compiler: the futures are made, never polled).
    fn futures_are_send(h: &crate::IpsetHandle) {
        let spec = CreateSet::hash_ip_port("s");
        let e = IpPortEntry::new("10.0.0.1".parse().unwrap(), crate::IpProto::Tcp, 80);
        let many = [e.clone()];
        let st = SetType::HashIpPort;
        assert_send(&h.kernel_protocol(7));
        assert_send(&h.protocol());
        assert_send(&h.type_revisions(&st, Family::Inet));
        assert_send(&h.pick_revision(&spec));
        assert_send(&h.create(&spec, false));
        assert_send(&h.destroy(Some("s")));
        assert_send(&h.flush(None));
        assert_send(&h.rename("a", "b"));
        assert_send(&h.swap("a", "b"));
        assert_send(&h.header("s"));
        assert_send(&h.list(None));
        assert_send(&h.save(None));
        assert_send(&h.list_names());
        assert_send(&h.list_with(Command::List, None, ListDetail::Names));
        assert_send(&h.add("s", &e, false));
        assert_send(&h.del("s", &e, false));
        assert_send(&h.test("s", &e));
        assert_send(&h.add_many("s", &many, BulkOptions::default()));
        assert_send(&h.del_many("s", &many, BulkOptions::default()));
        assert_send(&h.test_many("s", &many));
        assert_send(&h.replace(&spec, &many));
    }

    #[test]
    fn async_futures_are_send() {
        // compiled, never run: no socket is opened
        let _ = futures_are_send as fn(&crate::IpsetHandle);
    }
}
