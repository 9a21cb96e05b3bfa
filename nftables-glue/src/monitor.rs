//! [`NftMonitor`]: the nf_tables change notifications of a namespace
//! (multicast group `NFNLGRP_NFTABLES`), decoded into typed [`NftEvent`]s,
//! so that a daemon sees when someone else changes its tables (drift) and
//! can converge again.
//!
//! The kernel sends, for every committed transaction, one notification
//! per object created or deleted, in the transaction's order, then one
//! `NFT_MSG_NEWGEN` with the new generation id and the committing process
//! (`nft monitor` shows the same). Notifications are only sent while
//! someone listens, and only in the namespace of the change.
//!
//! Numbers from `include/uapi/linux/netfilter/nfnetlink.h` (`enum
//! nfnetlink_groups`) and `nf_tables.h` (`enum nft_gen_attributes`).

use nl_engine::{Error, Netns, Protocol, Result, Subscription};

use crate::attr::{get_str, get_u32, iter};
use crate::chain::Chain;
use crate::handle::NftHandle;
use crate::msg::{Command, NftMessage};
use crate::rule::Rule;
use crate::set::{Set, SetElements};
use crate::table::Table;

/// `NFNLGRP_NFTABLES`
pub const NFNLGRP_NFTABLES: u32 = 7;

const NFTA_GEN_ID: u16 = 1;
const NFTA_GEN_PROC_PID: u16 = 2;
const NFTA_GEN_PROC_NAME: u16 = 3;

/// The end of a committed transaction (`NFT_MSG_NEWGEN`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Generation {
    /// The ruleset generation now in force.
    pub id: u32,
    /// Process id of the committer.
    pub pid: Option<u32>,
    /// Its process name (`nft`, or this program's own).
    pub process: Option<String>,
}

impl Generation {
    /// Generation `id`, committer unknown.
    ///
    /// ```
    /// use nftables_glue::Generation;
    /// let g = Generation::new(7).with_process(4242, "nft");
    /// assert_eq!(g.process.as_deref(), Some("nft"));
    /// ```
    pub fn new(id: u32) -> Self {
        Generation {
            id,
            pid: None,
            process: None,
        }
    }
    /// Committed by process `pid` named `name`.
    pub fn with_process(mut self, pid: u32, name: impl Into<String>) -> Self {
        self.pid = Some(pid);
        self.process = Some(name.into());
        self
    }

    fn parse(msg: &NftMessage) -> std::result::Result<Self, nl_engine::DecodeError> {
        let mut g = Generation {
            id: 0,
            pid: None,
            process: None,
        };
        for a in iter(&msg.attrs) {
            let (k, _, v) = a?;
            match k {
                NFTA_GEN_ID => g.id = get_u32(v, "generation id")?,
                NFTA_GEN_PROC_PID => g.pid = Some(get_u32(v, "process id")?),
                NFTA_GEN_PROC_NAME => g.process = Some(get_str(v, "process name")?),
                _ => {}
            }
        }
        Ok(g)
    }
}

/// One change notified by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftEvent {
    /// A table was created (or its flags changed).
    NewTable(Table),
    /// A table was deleted.
    DelTable(Table),
    /// A chain was created (or changed).
    NewChain(Chain),
    /// A chain was deleted.
    DelChain(Chain),
    /// A rule was added (with its handle).
    NewRule(Rule),
    /// A rule was deleted.
    DelRule(Rule),
    /// A set or map was created (anonymous ones too, named `__set0`, ...).
    NewSet(Set),
    /// A set or map was deleted.
    DelSet(Set),
    /// Elements were added to a set.
    NewSetElem(SetElements),
    /// Elements were deleted from a set.
    DelSetElem(SetElements),
    /// A transaction was committed: the last notification of each.
    NewGen(Generation),
    /// Any other notification (objects, flowtables, ...), undecoded.
    Other(NftMessage),
}

impl NftEvent {
    /// Decodes a notification.
    pub fn parse(msg: NftMessage) -> std::result::Result<Self, nl_engine::DecodeError> {
        Ok(match msg.command {
            Command::NewTable => NftEvent::NewTable(Table::parse(&msg)?),
            Command::DelTable => NftEvent::DelTable(Table::parse(&msg)?),
            Command::NewChain => NftEvent::NewChain(Chain::parse(&msg)?),
            Command::DelChain => NftEvent::DelChain(Chain::parse(&msg)?),
            Command::NewRule => NftEvent::NewRule(Rule::parse(&msg)?),
            Command::DelRule => NftEvent::DelRule(Rule::parse(&msg)?),
            Command::NewSet => NftEvent::NewSet(Set::parse(&msg)?),
            Command::DelSet => NftEvent::DelSet(Set::parse(&msg)?),
            Command::NewSetElem => NftEvent::NewSetElem(SetElements::parse(&msg)?),
            Command::DelSetElem => NftEvent::DelSetElem(SetElements::parse(&msg)?),
            Command::NewGen => NftEvent::NewGen(Generation::parse(&msg)?),
            _ => NftEvent::Other(msg),
        })
    }

    /// The table the event is about (`None` for a generation and for
    /// undecoded notifications).
    pub fn table(&self) -> Option<&str> {
        Some(match self {
            NftEvent::NewTable(t) | NftEvent::DelTable(t) => &t.name,
            NftEvent::NewChain(c) | NftEvent::DelChain(c) => &c.table,
            NftEvent::NewRule(r) | NftEvent::DelRule(r) => &r.table,
            NftEvent::NewSet(s) | NftEvent::DelSet(s) => &s.table,
            NftEvent::NewSetElem(e) | NftEvent::DelSetElem(e) => &e.table,
            NftEvent::NewGen(_) | NftEvent::Other(_) => return None,
        })
    }
}

/// A listener for the nf_tables notifications of one namespace.
///
/// ```no_run
/// use nftables_glue::{NftEvent, NftMonitor};
/// # async fn f() -> nftables_glue::Result<()> {
/// let mut mon = NftMonitor::new()?;
/// loop {
///     match mon.next().await? {
///         NftEvent::NewGen(g) => println!("generation {} by {:?}", g.id, g.process),
///         e if e.table() == Some("clusterip-dnat") => println!("drift? {e:?}"),
///         _ => {}
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct NftMonitor {
    sub: Subscription,
}

impl NftMonitor {
    /// A monitor of the caller's namespace.
    pub fn new() -> Result<Self> {
        Self::in_netns(&Netns::current())
    }

    /// A monitor of `netns`.
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        Ok(NftMonitor {
            sub: Subscription::open(
                Protocol::Netfilter,
                netns,
                &[NFNLGRP_NFTABLES],
                nl_engine::Config::default(),
            )?,
        })
    }

    /// A monitor of the namespace of `nft`, with its connection's tunables.
    pub fn for_handle(nft: &NftHandle) -> Result<Self> {
        Ok(NftMonitor {
            sub: nft.connection().subscribe(&[NFNLGRP_NFTABLES])?,
        })
    }

    /// The next event, waiting as long as it takes (bound it with
    /// `tokio::time::timeout`; dropping the future loses nothing).
    /// [`Error::Overrun`] when notifications were lost (too many, too
    /// fast): the state must then be read afresh.
    pub async fn next(&mut self) -> Result<NftEvent> {
        let context = "nf_tables monitor";
        loop {
            let n = self.sub.recv().await?;
            // Other nfnetlink subsystems do not send to this group; skip
            // anything that is not nf_tables all the same.
            if n.header.message_type >> 8 != u16::from(nl_engine::nfnl::NFNL_SUBSYS_NFTABLES) {
                continue;
            }
            let msg: NftMessage = n.decode().map_err(|reason| Error::Decode {
                context: context.into(),
                reason,
            })?;
            return NftEvent::parse(msg).map_err(|e| Error::Decode {
                context: context.into(),
                reason: e.to_string(),
            });
        }
    }
}
