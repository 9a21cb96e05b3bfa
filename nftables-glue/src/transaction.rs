//! [`Transaction`]: changes that the kernel applies all together or not at
//! all (one nfnetlink batch, `NFNL_MSG_BATCH_BEGIN` ... `_END`, in one
//! datagram).
//!
//! Netlink flags from `include/uapi/linux/netlink.h`.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NetlinkMessage,
};

use crate::chain::Chain;
use crate::msg::{Command, NftMessage};
use crate::rule::Rule;
use crate::set::{Set, SetElements};
use crate::table::Table;

/// One change of a transaction: its message, its netlink flags, and what it
/// is about (used to name the object in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// The message.
    pub message: NftMessage,
    /// Netlink header flags (`NLM_F_CREATE`, `NLM_F_EXCL`, ...), without
    /// `NLM_F_REQUEST`/`NLM_F_ACK`, which sending adds.
    pub flags: u16,
    /// E.g. `add chain ip zgz-services PREROUTING`.
    pub context: String,
}

/// A list of changes applied atomically by [`crate::NftHandle::commit`].
///
/// ```
/// use nftables_glue::{Chain, ChainType, Family, Hook, Priority, Rule, Expr, Table, Transaction, Verdict};
/// let mut tx = Transaction::new();
/// tx.add_table(&Table::new(Family::Ipv4, "demo"))
///   .add_chain(&Chain::base(Family::Ipv4, "demo", "PREROUTING", ChainType::Nat, Hook::Prerouting, Priority::DSTNAT))
///   .add_chain(&Chain::regular(Family::Ipv4, "demo", "SERVICES"))
///   .append_rule(&Rule::new(Family::Ipv4, "demo", "PREROUTING")
///       .with_exprs(vec![Expr::verdict(Verdict::Jump("SERVICES".into()))]));
/// assert_eq!(tx.len(), 4);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    changes: Vec<Change>,
    set_ids: u32,
    generation: Option<u32>,
}

/// `NFNL_BATCH_GENID` (`enum nfnl_batch_attributes`,
/// `include/uapi/linux/netfilter/nfnetlink.h`).
const NFNL_BATCH_GENID: u16 = 1;

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Transaction::default()
    }

    /// Makes the kernel apply this transaction only if the ruleset is
    /// still at generation `id` (`NFNL_BATCH_GENID` in the batch begin,
    /// checked under the commit lock): a transaction computed from what was
    /// read at that generation is never applied over someone else's later
    /// change. Otherwise the commit fails, changing nothing, with errno
    /// `ERESTART` ([`Transaction::is_stale`]).
    pub fn expect_generation(&mut self, id: u32) -> &mut Self {
        self.generation = Some(id);
        self
    }

    /// The generation this transaction is bound to, if any.
    pub fn generation(&self) -> Option<u32> {
        self.generation
    }

    /// True when `e` is the refusal of a transaction bound to a generation
    /// that is no longer current ([`Transaction::expect_generation`]).
    pub fn is_stale(e: &nl_engine::Error) -> bool {
        e.errno() == Some(libc::ERESTART)
    }

    /// The changes, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// How many changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds any message (for commands this crate has no builder for).
    pub fn push(
        &mut self,
        message: NftMessage,
        flags: u16,
        context: impl Into<String>,
    ) -> &mut Self {
        self.changes.push(Change {
            message,
            flags,
            context: context.into(),
        });
        self
    }

    /// `add table`: creates the table, or leaves an existing one (updating
    /// its flags).
    pub fn add_table(&mut self, t: &Table) -> &mut Self {
        self.push(t.to_message(Command::NewTable), 0, format!("add {t}"))
    }

    /// `create table`: fails if it exists.
    pub fn create_table(&mut self, t: &Table) -> &mut Self {
        self.push(
            t.to_message(Command::NewTable),
            NLM_F_CREATE | NLM_F_EXCL,
            format!("create {t}"),
        )
    }

    /// `delete table` (with everything in it).
    pub fn delete_table(&mut self, t: &Table) -> &mut Self {
        self.push(t.to_message(Command::DelTable), 0, format!("delete {t}"))
    }

    /// `add chain`: creates it, or leaves an existing one.
    pub fn add_chain(&mut self, c: &Chain) -> &mut Self {
        self.push(
            c.to_message(Command::NewChain),
            NLM_F_CREATE,
            format!("add {c}"),
        )
    }

    /// `create chain`: fails if it exists.
    pub fn create_chain(&mut self, c: &Chain) -> &mut Self {
        self.push(
            c.to_message(Command::NewChain),
            NLM_F_CREATE | NLM_F_EXCL,
            format!("create {c}"),
        )
    }

    /// `delete chain` (it must hold no rules and no jumps may target it).
    pub fn delete_chain(&mut self, c: &Chain) -> &mut Self {
        self.push(c.to_message(Command::DelChain), 0, format!("delete {c}"))
    }

    /// `flush chain`: deletes all its rules.
    pub fn flush_chain(&mut self, c: &Chain) -> &mut Self {
        let r = Rule::new(c.family, c.table.clone(), c.name.clone());
        self.push(r.to_message(Command::DelRule), 0, format!("flush {c}"))
    }

    /// `add rule`: appends at the end of the chain, or after the rule
    /// whose handle is in `position`.
    pub fn append_rule(&mut self, r: &Rule) -> &mut Self {
        self.push(
            r.to_message(Command::NewRule),
            NLM_F_CREATE | NLM_F_APPEND,
            format!("add {r}"),
        )
    }

    /// `insert rule`: at the start of the chain, or before the rule whose
    /// handle is in `position`.
    pub fn insert_rule(&mut self, r: &Rule) -> &mut Self {
        self.push(
            r.to_message(Command::NewRule),
            NLM_F_CREATE,
            format!("insert {r}"),
        )
    }

    /// `replace rule`: the rule with `r.handle` becomes `r`.
    pub fn replace_rule(&mut self, r: &Rule) -> &mut Self {
        self.push(
            r.to_message(Command::NewRule),
            NLM_F_REPLACE,
            format!("replace {r}"),
        )
    }

    /// `delete rule ... handle H` (the handle must be set).
    pub fn delete_rule(&mut self, r: &Rule) -> &mut Self {
        self.push(r.to_message(Command::DelRule), 0, format!("delete {r}"))
    }

    /// `add set`. A set without an id gets the next transaction-local id
    /// (1, 2, ...): current kernels refuse a new set without one.
    pub fn add_set(&mut self, s: &Set) -> &mut Self {
        let ctx = format!("add set {} {} {}", s.family, s.table, s.name);
        let msg = if s.id.is_none() {
            self.set_ids += 1;
            let mut s = s.clone();
            s.id = Some(self.set_ids);
            s.to_message(Command::NewSet)
        } else {
            s.to_message(Command::NewSet)
        };
        self.push(msg, NLM_F_CREATE, ctx)
    }

    /// A fresh transaction-local set id (the ones [`Transaction::add_set`]
    /// gives are taken from the same sequence), to name a set created in
    /// this transaction from its elements and rules.
    pub fn new_set_id(&mut self) -> u32 {
        self.set_ids += 1;
        self.set_ids
    }

    /// A rule using an anonymous map, as `nft` sends `... vmap { k : v, ...
    /// }`: the map ([`Set::anonymous_map`]) with a fresh set id, its
    /// elements, then the rule, whose [`Expr::Lookup`](crate::Expr::Lookup)s of `map.name`
    /// are bound to that id. The kernel names the map (`__map0`, ...) and
    /// deletes it with the rule.
    pub fn add_anonymous_map(
        &mut self,
        map: &Set,
        elements: Vec<crate::SetElement>,
        rule: &Rule,
    ) -> &mut Self {
        let id = self.new_set_id();
        let mut m = map.clone();
        m.id = Some(id);
        self.add_set(&m);
        if !elements.is_empty() {
            let mut e = SetElements::new(m.family, m.table.clone(), m.name.clone(), elements);
            e.set_id = Some(id);
            self.add_elements(&e);
        }
        let mut r = rule.clone();
        for x in &mut r.exprs {
            if let crate::Expr::Lookup(l) = x {
                if l.set == m.name {
                    l.set_id = Some(id);
                }
            }
        }
        self.append_rule(&r)
    }

    /// `delete set`.
    pub fn delete_set(&mut self, s: &Set) -> &mut Self {
        let ctx = format!("delete set {} {} {}", s.family, s.table, s.name);
        self.push(s.to_message(Command::DelSet), 0, ctx)
    }

    /// `add element` (existing elements are not an error). Elements are
    /// split over several messages when one would exceed the 16-bit
    /// attribute length.
    pub fn add_elements(&mut self, e: &SetElements) -> &mut Self {
        for part in Self::split(e) {
            let ctx = format!(
                "add {} element(s) to set {} {} {}",
                part.elements.len(),
                part.family,
                part.table,
                part.set
            );
            self.push(part.to_message(Command::NewSetElem), NLM_F_CREATE, ctx);
        }
        self
    }

    /// Splits an element list so that each message's element nest stays
    /// well below 64 KiB.
    fn split(e: &SetElements) -> Vec<SetElements> {
        const MAX: usize = 60_000;
        let empty = SetElements {
            family: e.family,
            table: e.table.clone(),
            set: e.set.clone(),
            set_id: e.set_id,
            elements: Vec::new(),
        };
        let base = empty.emit().len();
        let mut out = Vec::new();
        let mut cur = empty.clone();
        let mut size = 0;
        for el in &e.elements {
            let mut one = empty.clone();
            one.elements.push(el.clone());
            let one = one.emit().len() - base;
            if !cur.elements.is_empty() && size + one > MAX {
                out.push(std::mem::replace(&mut cur, empty.clone()));
                size = 0;
            }
            size += one;
            cur.elements.push(el.clone());
        }
        if !cur.elements.is_empty() || out.is_empty() {
            out.push(cur);
        }
        out
    }

    /// `delete element`.
    pub fn delete_elements(&mut self, e: &SetElements) -> &mut Self {
        for part in Self::split(e) {
            let ctx = format!(
                "delete {} element(s) from set {} {} {}",
                part.elements.len(),
                part.family,
                part.table,
                part.set
            );
            self.push(part.to_message(Command::DelSetElem), 0, ctx);
        }
        self
    }

    /// `flush set`: deletes every element.
    pub fn flush_set(&mut self, s: &Set) -> &mut Self {
        let e = SetElements::new(s.family, s.table.clone(), s.name.clone(), Vec::new());
        let ctx = format!("flush set {} {} {}", s.family, s.table, s.name);
        self.push(e.to_message(Command::DelSetElem), 0, ctx)
    }

    /// The batch as sent: `BATCH_BEGIN`, every change with `NLM_F_ACK`,
    /// `BATCH_END` (sequence numbers are filled in when sending).
    pub fn to_netlink(&self) -> Vec<NetlinkMessage<NftMessage>> {
        let mut v = Vec::with_capacity(self.changes.len() + 2);
        let mut begin = NftMessage::batch(Command::BatchBegin);
        if let Some(g) = self.generation {
            let mut w = crate::attr::Writer::new();
            w.u32be(NFNL_BATCH_GENID, g);
            begin.attrs = w.finish();
        }
        v.push(begin.into_netlink(0));
        for c in &self.changes {
            v.push(c.message.clone().into_netlink(c.flags | NLM_F_ACK));
        }
        v.push(NftMessage::batch(Command::BatchEnd).into_netlink(0));
        v
    }

    /// The batch as one datagram, with sequence numbers 0, 1, 2, ... (as
    /// `nft` numbers them when run fresh), for inspection and golden tests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, mut m) in self.to_netlink().into_iter().enumerate() {
            m.header.sequence_number = i as u32;
            m.finalize();
            let mut buf = vec![0; m.buffer_len()];
            m.serialize(&mut buf);
            out.extend_from_slice(&buf);
            out.resize(out.len().div_ceil(4) * 4, 0);
        }
        out
    }
}
