//! [`NftHandle`]: commits transactions and reads the ruleset back.

use std::time::Duration;

use netlink_packet_core::NetlinkMessage;
use nl_engine::{
    Acks, BatchOptions, Connection, Error, KernelError, Netns, Packing, Protocol, Result,
};

use crate::attr::{get_u32, iter};
use crate::chain::Chain;
use crate::msg::{Command, NftMessage};
use crate::rule::Rule;
use crate::set::{Set, SetElement, SetElements};
use crate::table::{Family, Table};
use crate::transaction::Transaction;

const NFTA_GEN_ID: u16 = 1;

/// An nf_tables connection in one network namespace.
///
/// ```no_run
/// use nftables_glue::{Family, NftHandle, Table, Transaction};
/// # async fn f() -> nftables_glue::Result<()> {
/// let nft = NftHandle::new()?;
/// let mut tx = Transaction::new();
/// tx.add_table(&Table::new(Family::Ipv4, "demo"));
/// nft.commit(&tx).await?;
/// for t in nft.list_tables(Family::Unspec).await? {
///     println!("{t}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NftHandle {
    conn: Connection,
}

fn unsupported(ctx: &str) -> Error {
    Error::Unsupported {
        context: ctx.to_string(),
        what: "nf_tables".into(),
        hint: "load the nf_tables module (modprobe nf_tables)".into(),
    }
}

fn decode<T>(ctx: &str, r: std::result::Result<T, nl_engine::DecodeError>) -> Result<T> {
    r.map_err(|e| e.into_error(ctx))
}

impl NftHandle {
    /// A handle in the caller's network namespace.
    pub fn new() -> Result<Self> {
        Self::in_netns(&Netns::current())
    }

    /// A handle in `netns`.
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        Self::with_connection(Connection::open(Protocol::Netfilter, netns)?)
    }

    /// A handle over an already opened netfilter connection (to choose its
    /// timeout, buffer sizes or namespace; [`Error::InvalidInput`] for
    /// another protocol). The connection's batch buffer is prepared here
    /// ([`Connection::prepare_batches`]).
    pub fn with_connection(conn: Connection) -> Result<Self> {
        conn.expect_protocol(Protocol::Netfilter, "an nf_tables handle")?;
        conn.prepare_batches();
        Ok(NftHandle { conn })
    }

    /// This handle with another timeout per wait for the kernel.
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.conn = self.conn.with_timeout(t);
        self
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Applies every change of `tx` atomically: all or none. A refusal
    /// names the first change the kernel refused, with its extended-ACK
    /// message. An empty transaction sends nothing.
    pub async fn commit(&self, tx: &Transaction) -> Result<()> {
        if tx.is_empty() {
            return Ok(());
        }
        let results = self
            .conn
            .batch(
                "nf_tables transaction",
                tx.to_netlink(),
                BatchOptions::new(Packing::Single, Acks::AsFlagged),
            )
            .await?;
        let n = tx.len();
        for (i, r) in results.iter().enumerate() {
            let Err(ke) = r else { continue };
            let context = if i == 0 || i > n {
                "nf_tables transaction (batch delimiter)".to_string()
            } else {
                tx.changes()
                    .get(i - 1)
                    .map(|c| c.context.clone())
                    .unwrap_or_default()
            };
            if i == 0 && (ke.errno == libc::EOPNOTSUPP || ke.errno == libc::ENOENT) {
                return Err(unsupported(&context));
            }
            return Err(Self::refusal(context, ke.clone()));
        }
        Ok(())
    }

    fn refusal(context: String, ke: KernelError) -> Error {
        Error::from_kernel(
            format!("{context} (transaction aborted, nothing changed)"),
            ke,
        )
    }

    /// A dump that saw one ruleset generation only.
    ///
    /// The kernel flags a dump interrupted (`NLM_F_DUMP_INTR`) only when the
    /// ruleset changed between two of its parts; a commit during the last
    /// part goes unflagged, and the part may then hold rules of both
    /// generations. So, as `nft` does, the generation is read before and
    /// after: a dump is returned only when no commit happened in between,
    /// and is restarted otherwise (then reported as interrupted).
    async fn dump(&self, ctx: &str, msg: NftMessage) -> Result<Vec<NftMessage>> {
        let retries = self.conn.config().dump_retries;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let before = self.generation().await?;
            let m: NetlinkMessage<NftMessage> = msg.clone().into_netlink(0);
            let res = self.conn.dump(ctx, m).await;
            let after = self.generation().await?;
            match res {
                Ok(v) if before == after => return Ok(v),
                Ok(_) | Err(Error::DumpInterrupted { .. }) if attempts <= retries => {}
                Ok(_) | Err(Error::DumpInterrupted { .. }) => {
                    return Err(Error::DumpInterrupted {
                        context: ctx.to_string(),
                        attempts,
                    });
                }
                Err(e) => {
                    return Err(match e.errno() {
                        Some(libc::EOPNOTSUPP) => unsupported(ctx),
                        _ => e,
                    });
                }
            }
        }
    }

    /// Lists the tables of `family` ([`Family::Unspec`]: all).
    pub async fn list_tables(&self, family: Family) -> Result<Vec<Table>> {
        let ctx = format!("list tables {family}");
        let msgs = self
            .dump(
                &ctx,
                NftMessage::new(Command::GetTable, family.number(), vec![]),
            )
            .await?;
        msgs.iter().map(|m| decode(&ctx, Table::parse(m))).collect()
    }

    /// Lists the chains of `family`, only those of `table` when given.
    pub async fn list_chains(&self, family: Family, table: Option<&str>) -> Result<Vec<Chain>> {
        let ctx = format!("list chains {family} {}", table.unwrap_or("*"));
        let msgs = self
            .dump(
                &ctx,
                NftMessage::new(Command::GetChain, family.number(), vec![]),
            )
            .await?;
        let mut out = Vec::new();
        for m in &msgs {
            let c = decode(&ctx, Chain::parse(m))?;
            if table.is_none_or(|t| t == c.table) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Lists the rules of `table` (of `chain` only, when given), in chain order.
    pub async fn list_rules(
        &self,
        family: Family,
        table: &str,
        chain: Option<&str>,
    ) -> Result<Vec<Rule>> {
        let ctx = format!("list rules {family} {table} {}", chain.unwrap_or("*"));
        let mut key = Rule::new(family, table, chain.unwrap_or(""));
        key.handle = None;
        let attrs = if chain.is_some() {
            key.emit_key()
        } else {
            let mut w = crate::attr::Writer::new();
            w.str(1, table);
            w.finish()
        };
        let msgs = self
            .dump(
                &ctx,
                NftMessage::new(Command::GetRule, family.number(), attrs),
            )
            .await?;
        let mut out = Vec::new();
        for m in &msgs {
            let r = decode(&ctx, Rule::parse(m))?;
            if r.table == table && chain.is_none_or(|c| c == r.chain) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Lists the sets of `family` (of `table` only, when given).
    pub async fn list_sets(&self, family: Family, table: Option<&str>) -> Result<Vec<Set>> {
        let ctx = format!("list sets {family} {}", table.unwrap_or("*"));
        let attrs = match table {
            Some(t) => {
                let mut w = crate::attr::Writer::new();
                w.str(1, t);
                w.finish()
            }
            None => vec![],
        };
        let msgs = self
            .dump(
                &ctx,
                NftMessage::new(Command::GetSet, family.number(), attrs),
            )
            .await?;
        let mut out = Vec::new();
        for m in &msgs {
            let s = decode(&ctx, Set::parse(m))?;
            if table.is_none_or(|t| t == s.table) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Lists the elements of a set.
    pub async fn list_elements(
        &self,
        family: Family,
        table: &str,
        set: &str,
    ) -> Result<Vec<SetElement>> {
        let ctx = format!("list elements of set {family} {table} {set}");
        let req = SetElements::new(family, table, set, vec![]);
        let msgs = self.dump(&ctx, req.to_message(Command::GetSetElem)).await?;
        let mut out = Vec::new();
        for m in &msgs {
            out.extend(decode(&ctx, SetElements::parse(m))?.elements);
        }
        Ok(out)
    }

    /// The ruleset generation: it changes with every committed transaction.
    pub async fn generation(&self) -> Result<u32> {
        let ctx = "get ruleset generation";
        let m = NftMessage::new(Command::GetGen, 0, vec![]).into_netlink(0);
        let replies = self.conn.request(ctx, m).await?;
        for r in &replies {
            for a in iter(&r.attrs) {
                let (k, _, v) = decode(ctx, a)?;
                if k == NFTA_GEN_ID {
                    return decode(ctx, get_u32(v, "generation id"));
                }
            }
        }
        Err(Error::Decode {
            context: ctx.into(),
            reason: "no generation id in the reply".into(),
        })
    }
}
