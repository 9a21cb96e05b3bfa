//! [`ConntrackHandle`]: list, get, create, delete and flush conntrack
//! entries, and delete a filtered selection in one batch, async, in one
//! network namespace.

use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage};
use nl_engine::nfnl::NFGENMSG_LEN;
use nl_engine::{Acks, BatchOptions, Connection, Error, Netns, Packing, Protocol, Result};

use crate::constants::*;
use crate::entry::Entry;
use crate::filter::Filter;
use crate::message::CtMessage;
use crate::request;
use crate::tuple::{Family, Proto, Tuple};

/// What a filtered bulk delete ([`ConntrackHandle::delete_matching`]) did.
#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Entries the dump selected (or given).
    pub matched: usize,
    /// Entries deleted.
    pub deleted: usize,
    /// Entries gone before their delete arrived (timed out, or deleted by
    /// someone else: `ENOENT`); not an error.
    pub vanished: usize,
    /// Entries the kernel refused to delete for another reason, each with
    /// its error (naming the entry).
    pub failures: Vec<(Entry, Error)>,
}

impl DeleteReport {
    /// True when no delete failed (vanished entries are no failure).
    pub fn all_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// An async handle on the conntrack table of one network namespace
/// (ctnetlink, `NFNL_SUBSYS_CTNETLINK`).
///
/// ```no_run
/// use conntrack_nl::{ConntrackHandle, Entry, L4, Tuple};
/// # async fn f() -> conntrack_nl::Result<()> {
/// let ct = ConntrackHandle::new()?;
/// let orig = Tuple::new("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), L4::udp(5000, 53));
/// ct.create(&Entry::new(orig.clone()).timeout(30)).await?;
/// assert_eq!(ct.get(&orig).await?.timeout.map(|t| t <= 30), Some(true));
/// for e in ct.list().await? {
///     println!("{e}");
/// }
/// ct.delete(&orig).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConntrackHandle {
    conn: Connection,
}

impl ConntrackHandle {
    /// A handle on the caller's network namespace.
    pub fn new() -> Result<Self> {
        Self::in_netns(&Netns::current())
    }

    /// A handle on another network namespace (the calling thread does not
    /// move).
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        Self::with_connection(Connection::open(Protocol::Netfilter, netns)?)
    }

    /// A handle over an already opened netfilter connection (to choose its
    /// timeout, buffer sizes or namespace; [`Error::InvalidInput`] for
    /// another protocol). The connection's batch buffer is prepared here
    /// ([`Connection::prepare_batches`]).
    pub fn with_connection(conn: Connection) -> Result<Self> {
        conn.expect_protocol(Protocol::Netfilter, "a conntrack handle")?;
        conn.prepare_batches();
        Ok(ConntrackHandle { conn })
    }

    /// This handle with another timeout for each wait on the kernel.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.conn = self.conn.with_timeout(timeout);
        self
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Every entry, IPv4 and IPv6 (`conntrack -L`).
    pub async fn list(&self) -> Result<Vec<Entry>> {
        self.dump("list conntrack entries", request::dump(None, None))
            .await
    }

    /// Every entry of one family (`conntrack -L -f ipv6`).
    pub async fn list_family(&self, family: Family) -> Result<Vec<Entry>> {
        let ctx = format!("list {family} conntrack entries");
        self.dump(&ctx, request::dump(Some(family), None)).await
    }

    /// The entries `filter` selects: one dump per family involved, filtered
    /// by the kernel where it can (mark and mask; tuple fields on 5.9 and
    /// later, per family), and checked again here.
    pub async fn list_matching(&self, filter: &Filter) -> Result<Vec<Entry>> {
        let fam = filter.effective_family()?;
        let families: Vec<Option<Family>> = match fam {
            Some(f) => vec![Some(f)],
            None if filter.has_tuple_fields() => Family::ALL.into_iter().map(Some).collect(),
            None => vec![None],
        };
        let mut out = Vec::new();
        for f in families {
            let ctx = format!(
                "list {} conntrack entries matching {filter}",
                f.map_or("all".to_string(), |f| f.to_string())
            );
            let filtered = self
                .conn
                .dump_with(&ctx, request::dump(f, Some(filter)), decode_entry)
                .await;
            let entries = match filtered {
                // A kernel that knows CTA_FILTER but not every field of it:
                // the whole family, filtered here.
                Err(e)
                    if matches!(e.errno(), Some(libc::EOPNOTSUPP | libc::EINVAL))
                        && e.kernel_error().is_some() =>
                {
                    self.dump(&ctx, request::dump(f, None)).await?
                }
                r => r.map_err(remap)?,
            };
            out.extend(entries.into_iter().filter(|e| filter.matches(e)));
        }
        Ok(out)
    }

    async fn dump(&self, ctx: &str, m: NetlinkMessage<CtMessage>) -> Result<Vec<Entry>> {
        self.conn
            .dump_with(ctx, m, decode_entry)
            .await
            .map_err(remap)
    }

    /// The entry whose original tuple is `tuple`, in zone 0
    /// (`conntrack -G`); [`Error::NotFound`] when there is none.
    pub async fn get(&self, tuple: &Tuple) -> Result<Entry> {
        self.get_in_zone(tuple, None).await
    }

    /// [`get`](Self::get) in a zone.
    pub async fn get_in_zone(&self, tuple: &Tuple, zone: Option<u16>) -> Result<Entry> {
        tuple.validate()?;
        let ctx = format!("get conntrack entry {tuple}");
        let replies = self
            .conn
            .request(&ctx, request::get(tuple, zone))
            .await
            .map_err(remap)?;
        let m = replies.into_iter().next().ok_or_else(|| Error::Decode {
            context: ctx.clone(),
            reason: "no entry in the reply".into(),
        })?;
        m.entry().map_err(|e| e.into_error(ctx))
    }

    /// Creates an entry (`conntrack -I`): `IPCTNL_MSG_CT_NEW` with
    /// `NLM_F_CREATE | NLM_F_EXCL`, so an existing one is
    /// [`Error::Exists`]. The kernel needs a [`timeout`](Entry::timeout).
    pub async fn create(&self, entry: &Entry) -> Result<()> {
        entry.orig.validate()?;
        entry.reply.validate()?;
        let ctx = format!("create conntrack entry {entry}");
        self.conn
            .ack(&ctx, request::create(entry))
            .await
            .map_err(remap)
    }

    /// Deletes the entry whose original tuple is `tuple`, in zone 0
    /// (`conntrack -D`); [`Error::NotFound`] when there is none.
    pub async fn delete(&self, tuple: &Tuple) -> Result<()> {
        tuple.validate()?;
        let ctx = format!("delete conntrack entry {tuple}");
        self.conn
            .ack(&ctx, request::delete(tuple, None, None))
            .await
            .map_err(remap)
    }

    /// Deletes a listed entry: by its original tuple, in its zone, and only
    /// while it has the same id (a newer entry for the same tuple is
    /// [`Error::NotFound`] and left alone; the kernel's id is a hash of the
    /// entry's address and tuple, so a newer entry that reuses the freed
    /// memory can carry the same id and is deleted).
    pub async fn delete_entry(&self, entry: &Entry) -> Result<()> {
        let ctx = format!("delete conntrack entry {entry}");
        self.conn
            .ack(&ctx, request::delete(&entry.orig, entry.zone, entry.id))
            .await
            .map_err(remap)
    }

    /// Deletes every entry, IPv4 and IPv6 (`conntrack -F`).
    pub async fn flush(&self) -> Result<()> {
        self.conn
            .ack("flush conntrack table", request::flush(None))
            .await
            .map_err(remap)
    }

    /// Deletes every entry of one family.
    pub async fn flush_family(&self, family: Family) -> Result<()> {
        let ctx = format!("flush {family} conntrack table");
        self.conn
            .ack(&ctx, request::flush(Some(family)))
            .await
            .map_err(remap)
    }

    /// Deletes every entry `filter` selects: one (kernel-filtered) dump per
    /// family involved ([`list_matching`](Self::list_matching)), then all
    /// the deletes in one batch, packed into as few datagrams as fit, each
    /// result matched back to its entry. Each delete names the entry's id,
    /// so an entry replaced meanwhile is not touched; an entry gone
    /// meanwhile counts as [`vanished`](DeleteReport::vanished).
    pub async fn delete_matching(&self, filter: &Filter) -> Result<DeleteReport> {
        let entries = self.list_matching(filter).await?;
        self.delete_entries(
            &entries,
            &format!("delete conntrack entries matching {filter}"),
        )
        .await
    }

    /// Deletes listed entries in one batch (see
    /// [`delete_entry`](Self::delete_entry) for how each is named), packed
    /// into as few datagrams as fit, each result matched back to its entry;
    /// `context` names the operation in an error of the exchange itself.
    pub async fn delete_entries(&self, entries: &[Entry], context: &str) -> Result<DeleteReport> {
        let options = BatchOptions::new(
            Packing::MaxDatagram(self.conn.config().max_datagram),
            Acks::LastPerDatagram,
        );
        // a fn, not a closure: a closure's lifetime here would make the
        // future not `Send` (rustc's higher-ranked lifetime limitation)
        fn delete_request(e: &Entry) -> NetlinkMessage<CtMessage> {
            request::delete(&e.orig, e.zone, e.id)
        }
        let msgs = entries.iter().map(delete_request);
        let results = self
            .conn
            .batch_iter(context, msgs, options)
            .await
            .map_err(remap)?;
        let mut report = DeleteReport {
            matched: entries.len(),
            ..DeleteReport::default()
        };
        for (i, ke) in results.into_errors() {
            if ke.errno == libc::ENOENT {
                report.vanished += 1;
                continue;
            }
            if let Some(e) = entries.get(i) {
                let err = remap(Error::from_kernel(
                    format!("delete conntrack entry {e}"),
                    ke,
                ));
                report.failures.push((e.clone(), err));
            }
        }
        report.deleted = report.matched - report.vanished - report.failures.len();
        Ok(report)
    }

    /// On removal of a UDP backend of a service (IPVS or DNAT): deletes the
    /// entries of UDP flows to `vip:vip_port` that `backend:backend_port`
    /// answered (their reply tuple comes from the backend), so the next
    /// datagrams of those flows are balanced again instead of sticking to
    /// the gone backend. Returns how many were deleted; an entry that
    /// vanished meanwhile is not counted and is no error; any other refusal
    /// is the error of the first failing entry.
    pub async fn delete_udp_to_backend(
        &self,
        vip: IpAddr,
        vip_port: u16,
        backend: IpAddr,
        backend_port: u16,
    ) -> Result<usize> {
        let filter = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(vip, Some(vip_port))
            .reply_src(backend, Some(backend_port));
        let report = self.delete_matching(&filter).await?;
        match report.failures.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(report.deleted),
        }
    }
}

/// Decodes one message of a dump: an entry (`IPCTNL_MSG_CT_NEW`).
fn decode_entry(h: &NetlinkHeader, payload: &[u8]) -> std::result::Result<Option<Entry>, String> {
    let expected = nl_engine::nfnl::message_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
    if h.message_type != expected {
        return Err(format!(
            "message type {:#x} in a conntrack dump (expected {expected:#x})",
            h.message_type
        ));
    }
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or("conntrack message shorter than nfgenmsg")?;
    Entry::parse_attrs(attrs).map(Some)
}

/// A kernel without ctnetlink answers `EOPNOTSUPP`: say which module.
fn remap(e: Error) -> Error {
    match e.errno() {
        Some(libc::EOPNOTSUPP | libc::EPROTONOSUPPORT) if e.kernel_error().is_some() => {
            Error::Unsupported {
                context: e.context().unwrap_or_default().to_string(),
                what: "the ctnetlink subsystem (or this request of it)".into(),
                hint: "load nf_conntrack_netlink (modprobe nf_conntrack_netlink)".into(),
            }
        }
        _ => e,
    }
}

impl std::fmt::Display for DeleteReport {
    /// `2 of 3 flow entries deleted (1 vanished, 0 failed)` (`conntrack
    /// -D` counts "flow entries" too).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} flow entries deleted ({} vanished, {} failed)",
            self.deleted,
            self.matched,
            self.vanished,
            self.failures.len()
        )
    }
}
