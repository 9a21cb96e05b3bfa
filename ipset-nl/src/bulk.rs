//! Bulk add/del/test and atomic replace.
//!
//! Add and del pack many elements into one message (an `IPSET_ATTR_ADT`
//! nest of `DATA` nests, with the top-level `IPSET_ATTR_LINENO` the kernel
//! requires), as many elements as the 16-bit attribute length allows, and
//! several messages into one datagram. Every element carries its position
//! (1-based) as its line number; when an element fails, the kernel stops
//! that message and echoes the request back with the top-level line number
//! replaced by the failing element's. So each element ends up
//! [`Outcome::Applied`], [`Outcome::Failed`] or [`Outcome::NotAttempted`],
//! never silently lost.
//!
//! Messages go through the handle's connection (`nl_engine`'s batch, one
//! ACK asked per message); the failing element's line number is read from
//! the request the kernel echoes back ([`KernelError::echo`]).
//!
//! Without [`BulkOptions::stop_on_error`] every message is sent in one
//! batch, its datagrams back to back (the kernel handles the next while
//! the one after it is encoded), and the elements after a failing one in
//! its message are sent again in a next round, after the messages that
//! followed theirs: the order in which the kernel sees the elements then
//! differs from the slice's only around failures (which matters only for
//! an element given twice). From the fourth round on each of those
//! elements goes in a message of its own, so that elements the kernel
//! keeps refusing (a full set refuses every one) take four rounds at most,
//! not a round for each element of a message.
//!
//! With [`BulkOptions::stop_on_error`] one datagram goes at a time and
//! nothing is sent after the datagram that held the failure.
//!
//! An atomic replace fills its temporary set in one batch, as without
//! stopping, but sends nothing again after a refusal: the replace fails
//! as a whole.
//!
//! Test has no multi-element form in the kernel: one message per element,
//! many messages per datagram, one result each.

use std::collections::VecDeque;
use std::ops::Range;

use netlink_packet_core::{NLM_F_ACK, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage};
use nl_engine::{Acks, BatchOptions, Error, KernelError, Outgoing, Packing, Result, wire};

use crate::attr::IpsetAttr;
use crate::constants::*;
use crate::entry::Element;
use crate::error::map_error;
use crate::handle::IpsetHandle;
use crate::message::{Command, IpsetMessage};
use crate::request;
use crate::set::CreateSet;

/// What happened to one element of a bulk operation: owned
/// ([`BulkReport::into_outcomes`], `E` = `Box<Error>`) or borrowed from the
/// report ([`BulkReport::outcome`], [`BulkReport::outcomes`], `E` =
/// `&Error`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome<E = Box<Error>> {
    /// The kernel applied it (for test: the element is in the set).
    Applied,
    /// The kernel refused it (for test: [`Error::NotFound`] means "not in
    /// the set").
    Failed(E),
    /// It was not tried: an earlier element failed and the operation was
    /// asked to stop at the first failure.
    NotAttempted,
}

/// The per-element result of a bulk operation, in the order given.
///
/// Only what went wrong takes memory: the failures (position and error)
/// and the runs of positions not attempted; every other element was
/// applied. A report on 50,000 elements that all went in holds no list of
/// them (a list of one outcome each would be some 800 KiB, allocated and
/// written before the first element is sent).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BulkReport {
    /// How many elements the operation was given.
    len: usize,
    /// The refused elements: position (0-based) and error, ascending.
    failed: Vec<(usize, Error)>,
    /// The positions not attempted, as ascending runs that do not touch.
    not_attempted: Vec<Range<usize>>,
    /// Messages sent.
    pub messages: usize,
    /// Datagrams sent.
    pub datagrams: usize,
}

impl BulkReport {
    /// A report of these outcomes, sent in `messages` messages and
    /// `datagrams` datagrams.
    ///
    /// ```
    /// use ipset_nl::{BulkReport, Outcome};
    /// let r = BulkReport::new(vec![Outcome::Applied, Outcome::NotAttempted], 1, 1);
    /// assert_eq!((r.applied(), r.not_attempted()), (1, vec![1]));
    /// ```
    pub fn new(outcomes: Vec<Outcome>, messages: usize, datagrams: usize) -> Self {
        let mut r = BulkReport {
            len: outcomes.len(),
            messages,
            datagrams,
            ..Default::default()
        };
        for (i, o) in outcomes.into_iter().enumerate() {
            match o {
                Outcome::Applied => {}
                Outcome::Failed(e) => r.failed.push((i, *e)),
                Outcome::NotAttempted => r.skip(i..i + 1),
            }
        }
        r
    }

    /// A report on `len` elements, none of them refused or skipped yet.
    fn all_applied_of(len: usize) -> Self {
        BulkReport {
            len,
            ..Default::default()
        }
    }

    /// Notes the element at `at` as refused with `e`.
    fn fail(&mut self, at: usize, e: Error) {
        self.failed.push((at, e));
    }

    /// Notes the elements at `run` as not attempted.
    fn skip(&mut self, run: Range<usize>) {
        if run.is_empty() {
            return;
        }
        match self.not_attempted.last_mut() {
            Some(last) if last.end == run.start => last.end = run.end,
            _ => self.not_attempted.push(run),
        }
    }

    /// Puts the failures and the runs not attempted in ascending order
    /// (they are noted round by round, a round's retried rest after
    /// later messages' outcomes).
    fn sort(&mut self) {
        self.failed.sort_by_key(|(i, _)| *i);
        let mut runs = std::mem::take(&mut self.not_attempted);
        runs.sort_by_key(|r| r.start);
        for r in runs {
            self.skip(r);
        }
    }

    /// How many elements the operation was given.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when the operation was given no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True when every element was applied.
    pub fn all_applied(&self) -> bool {
        self.failed.is_empty() && self.not_attempted.is_empty()
    }
    /// Number of applied elements.
    pub fn applied(&self) -> usize {
        self.len
            .saturating_sub(self.failed.len())
            .saturating_sub(self.not_attempted_count())
    }
    /// The outcome of the element at `position` (0-based); `None` past the
    /// last.
    ///
    /// ```
    /// use ipset_nl::{BulkReport, Outcome};
    /// let r = BulkReport::new(vec![Outcome::Applied, Outcome::NotAttempted], 1, 1);
    /// assert!(matches!(r.outcome(0), Some(Outcome::Applied)));
    /// assert!(matches!(r.outcome(1), Some(Outcome::NotAttempted)));
    /// assert!(r.outcome(2).is_none());
    /// ```
    pub fn outcome(&self, position: usize) -> Option<Outcome<&Error>> {
        if position >= self.len {
            return None;
        }
        if let Ok(k) = self.failed.binary_search_by_key(&position, |(i, _)| *i) {
            return self.failed.get(k).map(|(_, e)| Outcome::Failed(e));
        }
        let skipped = self.not_attempted.partition_point(|r| r.end <= position);
        Some(match self.not_attempted.get(skipped) {
            Some(r) if r.contains(&position) => Outcome::NotAttempted,
            _ => Outcome::Applied,
        })
    }
    /// Every element's outcome, in order.
    pub fn outcomes(&self) -> impl Iterator<Item = Outcome<&Error>> + '_ {
        merged(
            self.len,
            self.failed.iter().map(|(i, e)| (*i, e)),
            self.not_attempted.iter().cloned(),
        )
    }
    /// Every element's outcome, in order, the errors moved out.
    pub fn into_outcomes(self) -> impl Iterator<Item = Outcome> {
        merged(
            self.len,
            self.failed.into_iter().map(|(i, e)| (i, Box::new(e))),
            self.not_attempted.into_iter(),
        )
    }
    /// The failed elements: position (0-based) and error, ascending.
    pub fn failures(&self) -> Vec<(usize, &Error)> {
        self.failed.iter().map(|(i, e)| (*i, e)).collect()
    }
    /// Positions (0-based) of the elements not attempted, ascending.
    pub fn not_attempted(&self) -> Vec<usize> {
        self.not_attempted.iter().flat_map(Clone::clone).collect()
    }
    /// How many elements were not attempted.
    pub fn not_attempted_count(&self) -> usize {
        self.not_attempted.iter().map(ExactSizeIterator::len).sum()
    }
}

/// The outcomes of positions `0..len`, from the failures (ascending
/// positions) and the runs not attempted (ascending): every other position
/// was applied.
fn merged<E>(
    len: usize,
    failed: impl Iterator<Item = (usize, E)>,
    skipped: impl Iterator<Item = Range<usize>>,
) -> impl Iterator<Item = Outcome<E>> {
    let mut failed = failed.peekable();
    let mut skipped = skipped.peekable();
    (0..len).map(move |i| {
        if let Some((_, e)) = failed.next_if(|(j, _)| *j == i) {
            return Outcome::Failed(e);
        }
        while skipped.next_if(|r| r.end <= i).is_some() {}
        match skipped.peek() {
            Some(r) if r.contains(&i) => Outcome::NotAttempted,
            _ => Outcome::Applied,
        }
    })
}

/// How a bulk operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkOptions {
    /// `-exist`: adding an element already there, or deleting one that is
    /// not, is not an error.
    pub exist: bool,
    /// Stop at the first failing element (the rest: `NotAttempted`), like
    /// `ipset restore`; otherwise go on with the elements after it.
    pub stop_on_error: bool,
    /// The largest message (bytes); the `ADT` nest can hold at most 65535.
    pub max_message: usize,
    /// The largest datagram (bytes); 0 (the default): the connection's
    /// [`Config::max_datagram`](nl_engine::Config::max_datagram).
    pub max_datagram: usize,
}

impl BulkOptions {
    /// The defaults: stop at nothing, no `-exist`, the largest messages.
    ///
    /// ```
    /// use ipset_nl::BulkOptions;
    /// // ipset restore -exist
    /// let o = BulkOptions::new().exist(true).stop_on_error(true);
    /// assert!(o.exist && o.stop_on_error);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
    /// `-exist`: adding an element already there, or deleting one that is
    /// not, is not an error.
    pub fn exist(mut self, exist: bool) -> Self {
        self.exist = exist;
        self
    }
    /// Stop at the first failing element, like `ipset restore`.
    pub fn stop_on_error(mut self, stop: bool) -> Self {
        self.stop_on_error = stop;
        self
    }
    /// The largest message, bytes (at most 65535 are used).
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }
    /// The largest datagram, bytes (0: the connection's
    /// [`Config::max_datagram`](nl_engine::Config::max_datagram)).
    pub fn max_datagram(mut self, bytes: usize) -> Self {
        self.max_datagram = bytes;
        self
    }
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            exist: false,
            stop_on_error: false,
            max_message: 65535,
            max_datagram: 0,
        }
    }
}

/// The rounds of a bulk add or del without stopping whose messages are
/// packed (see `per_message` in `IpsetHandle::bulk_adt`); the next round
/// is the last.
const PACKED_ROUNDS: u32 = 3;

/// When a bulk add or del stops sending after a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Never: every element is tried, the rest of a message the kernel
    /// stopped partway in a next round (no [`BulkOptions::stop_on_error`]).
    Never,
    /// At the datagram that held the first refusal: one datagram a round
    /// ([`BulkOptions::stop_on_error`]).
    AtFailure,
    /// After the round that held a refusal: every datagram in one batch,
    /// nothing retried ([`IpsetHandle::replace`], which fails as a whole).
    AfterRound,
}

impl Stop {
    fn of(opts: &BulkOptions) -> Stop {
        if opts.stop_on_error {
            Stop::AtFailure
        } else {
            Stop::Never
        }
    }
}

/// Room for nlmsghdr, nfgenmsg, protocol, set name, top-level line number
/// and the ADT nest header.
fn fixed_overhead(set: &str) -> usize {
    16 + 4 + 8 + wire::align4(4 + set.len() + 1) + 8 + 4
}

/// Length of `nlmsghdr` plus `nfgenmsg`, where a request's attributes start.
const ATTRS_OFFSET: usize = 16 + 4;

/// The top-level line number of a request the kernel echoed back: ipset's
/// `call_ad` writes the failing element's line number over it, in host
/// order (`ip_set_core.c`). `None` when the echo is short or has none.
fn echoed_lineno(echo: &[u8]) -> Option<u32> {
    let len = u32::from_ne_bytes(echo.get(..4)?.try_into().ok()?) as usize;
    let attrs = echo.get(ATTRS_OFFSET..len.min(echo.len()))?;
    wire::Attrs::new(attrs)
        .map_while(|r| r.ok())
        .filter(|nla| nla.kind() == IPSET_ATTR_LINENO)
        .find_map(|nla| <[u8; 4]>::try_from(nla.value).ok())
        .map(u32::from_ne_bytes)
}

/// The position (0-based, in the bulk request's elements) of the element
/// the kernel named as failing in the echoed request, when it is one of
/// the message's `members`; `None` when it named none of them.
fn failing_member(ke: &KernelError, members: &[Range<usize>]) -> Option<usize> {
    let line = ke.echo.as_deref().and_then(echoed_lineno)?;
    let pos = usize::try_from(line.checked_sub(1)?).ok()?;
    members.iter().any(|r| r.contains(&pos)).then_some(pos)
}

/// One ADD/DEL message, assembled straight into the datagram being filled:
/// `head` (everything up to the ADT nest's content) followed by the DATA
/// nest of each member, encoded there and then (no copy of the elements'
/// bytes is kept in between), the ADT nest length fixed up (the message
/// length and sequence number are the engine's to set). The members are
/// runs of positions in `elems`, ascending.
struct AdtMessage<'a, E> {
    head: &'a [u8],
    elems: &'a [E],
    members: Vec<Range<usize>>,
}

impl<E: Element> Outgoing for AdtMessage<'_, E> {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        let start = buf.len();
        buf.extend_from_slice(self.head);
        for r in &self.members {
            let run = self.elems.get(r.clone()).unwrap_or_default();
            for (i, e) in (r.start..).zip(run) {
                // positions fit 32 bits: checked before any message
                e.append_data(buf, (i as u32).wrapping_add(1));
            }
        }
        // The planner sized the members to fit 16 bits.
        let adt_len = u16::try_from(buf.len() - start - self.head.len() + 4).unwrap_or(u16::MAX);
        let off = start + self.head.len().saturating_sub(4);
        if let Some(f) = buf.get_mut(off..off + 2) {
            f.copy_from_slice(&adt_len.to_ne_bytes());
        }
    }
}

/// The messages of one round of a bulk add or del, planned one at a time
/// as the connection asks for the next (so that planning, like encoding,
/// overlaps the kernel's work on the datagrams already sent): as many
/// elements of `queue` per message as the ADT nest holds, as many messages
/// as `round_left` bytes hold (the first always). The members of each
/// message are kept in `sent`, for its result.
struct Plan<'a, E> {
    queue: &'a mut VecDeque<Range<usize>>,
    elems: &'a [E],
    head: &'a [u8],
    max_adt: usize,
    /// At most this many elements a message.
    per_message: usize,
    round_left: usize,
    /// End the round at an element too large for any message.
    halt_on_oversize: bool,
    halted: bool,
    sent: Vec<Vec<Range<usize>>>,
    /// Positions of the elements too large for any message (not sent).
    oversize: Vec<usize>,
}

impl<'a, E: Element> Iterator for Plan<'a, E> {
    type Item = AdtMessage<'a, E>;

    fn next(&mut self) -> Option<AdtMessage<'a, E>> {
        let mut members: Vec<Range<usize>> = Vec::new();
        let (mut count, mut size) = (0usize, 0usize);
        while let Some(run) = self.queue.front_mut() {
            if self.halted {
                break;
            }
            let i = run.start;
            let Some(e) = self.elems.get(run.clone()).and_then(<[E]>::first) else {
                self.queue.pop_front();
                continue;
            };
            let len = e.data_len();
            if count == 0 && len + 4 > usize::from(u16::MAX) {
                // alone in its message, it would still not fit the ADT
                // nest's 16-bit length
                run.start += 1;
                self.oversize.push(i);
                self.halted = self.halt_on_oversize;
                continue;
            }
            if count > 0 && (count >= self.per_message || size + len > self.max_adt) {
                break;
            }
            if !self.sent.is_empty() && self.head.len() + size + len > self.round_left {
                break;
            }
            size += len;
            count += 1;
            run.start += 1;
            match members.last_mut() {
                Some(m) if m.end == i => m.end = i + 1,
                _ => members.push(i..i + 1),
            }
        }
        if count == 0 {
            return None;
        }
        self.round_left = self.round_left.saturating_sub(self.head.len() + size);
        self.sent.push(members.clone());
        Some(AdtMessage {
            head: self.head,
            elems: self.elems,
            members,
        })
    }
}

/// One TEST message per element. (A named function: the same closure
/// written inline in the async `test_many` makes its future not provably
/// `Send`, a rustc limitation with closures over references held across an
/// `.await`.)
fn test_messages<'a, E: Element>(
    protocol: u8,
    set: &'a str,
    elems: &'a [E],
) -> impl Iterator<Item = NetlinkMessage<IpsetMessage>> + 'a {
    elems
        .iter()
        .map(move |e: &'a E| request::adt(protocol, Command::Test, set, e, false))
}

impl IpsetHandle {
    /// Adds many elements, packed into as few messages and datagrams as the
    /// kernel allows; see [`BulkReport`] for the per-element results.
    ///
    /// ```no_run
    /// use ipset_nl::{BulkOptions, IpPortEntry, IpProto, IpsetHandle};
    /// # async fn f() -> ipset_nl::Result<()> {
    /// let h = IpsetHandle::new()?;
    /// let many: Vec<_> = (1..=1000u16)
    ///     .map(|p| IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, p))
    ///     .collect();
    /// let report = h.add_many("svc", &many, BulkOptions::default()).await?;
    /// for (pos, err) in report.failures() {
    ///     eprintln!("element {pos} ({}) failed: {err}", many[pos]);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn add_many<E: Element>(
        &self,
        set: &str,
        elems: &[E],
        opts: BulkOptions,
    ) -> Result<BulkReport> {
        self.bulk_adt(Command::Add, set, elems, opts, Stop::of(&opts))
            .await
    }

    /// Deletes many elements (see [`IpsetHandle::add_many`]).
    pub async fn del_many<E: Element>(
        &self,
        set: &str,
        elems: &[E],
        opts: BulkOptions,
    ) -> Result<BulkReport> {
        self.bulk_adt(Command::Del, set, elems, opts, Stop::of(&opts))
            .await
    }

    /// Tests many elements: one message each, many per datagram.
    /// `Applied` means "in the set"; `Failed(NotFound)` "not in the set".
    pub async fn test_many<E: Element>(&self, set: &str, elems: &[E]) -> Result<BulkReport> {
        let p = self.protocol().await?;
        let msgs = test_messages(p, set, elems);
        let ctx = format!("test {} elements in set {set}", elems.len());
        let before = self.conn.stats().datagrams_sent;
        let res = self
            .conn
            .batch_iter(
                &ctx,
                msgs,
                BatchOptions::new(
                    Packing::MaxDatagram(self.conn.config().max_datagram),
                    Acks::Every,
                ),
            )
            .await?;
        let datagrams = (self.conn.stats().datagrams_sent - before) as usize;
        let mut report = BulkReport::all_applied_of(elems.len());
        report.messages = elems.len();
        report.datagrams = datagrams;
        for (i, ke) in res.into_errors() {
            let what = elems.get(i).map(|e| e.describe()).unwrap_or_default();
            let e = map_error(Command::Test, None, format!("test {what} in set {set}"), ke);
            report.fail(i, e);
        }
        Ok(report)
    }

    async fn bulk_adt<E: Element>(
        &self,
        cmd: Command,
        set: &str,
        elems: &[E],
        opts: BulkOptions,
        when: Stop,
    ) -> Result<BulkReport> {
        let p = self.protocol().await?;
        let n = elems.len();
        let mut report = BulkReport::all_applied_of(n);
        if n == 0 {
            return Ok(report);
        }
        if u32::try_from(n).is_err() {
            return Err(Error::invalid_input(
                "bulk request",
                "more than 2^32-1 elements",
            ));
        }
        let max_adt = opts
            .max_message
            .saturating_sub(fixed_overhead(set))
            .min(65535 - 4);
        let flags = NLM_F_REQUEST | NLM_F_ACK | if opts.exist { 0 } else { NLM_F_EXCL };
        let ctx = format!("{cmd} {n} elements in set {set}");
        // Everything of a message before the ADT nest's content.
        let head = request::build(
            cmd,
            p,
            flags,
            vec![
                IpsetAttr::SetName(set.to_string()),
                IpsetAttr::LineNo(0),
                IpsetAttr::Adt(vec![]),
            ],
        );
        let mut head_bytes = vec![0; head.buffer_len()];
        head.serialize(&mut head_bytes);
        let max_datagram = match opts.max_datagram {
            0 => self.conn.config().max_datagram,
            n => n,
        };
        let batch_opts = BatchOptions::new(Packing::MaxDatagram(max_datagram), Acks::Every);
        let describe = |i: usize| {
            let what = elems.get(i).map(|e| e.describe()).unwrap_or_default();
            format!("{cmd} element {i} ({what}) in set {set}")
        };
        // Element positions still to send, as ascending runs.
        let mut queue: VecDeque<Range<usize>> = VecDeque::new();
        queue.push_back(0..n);
        let mut stop = false;
        let mut round = 0u32;
        while !queue.is_empty() && !stop {
            round += 1;
            let mut plan = Plan {
                queue: &mut queue,
                elems,
                head: &head_bytes,
                max_adt,
                // Without stopping, every round after the first sends only
                // the rests of the messages the kernel stopped partway in
                // the round before. Packed, a run of elements it keeps
                // refusing (a full set refuses every one) would advance one
                // element a round; after PACKED_ROUNDS each goes alone, and
                // that round leaves no rest.
                per_message: if when == Stop::Never && round > PACKED_ROUNDS {
                    1
                } else {
                    usize::MAX
                },
                // Stopping at the first failure: one datagram a round,
                // nothing sent after the one that held it. Otherwise every
                // element still queued (see the module's documentation).
                round_left: if when == Stop::AtFailure {
                    max_datagram
                } else {
                    usize::MAX
                },
                halt_on_oversize: when == Stop::AtFailure,
                halted: false,
                sent: Vec::new(),
                oversize: Vec::new(),
            };
            let before = self.conn.stats().datagrams_sent;
            let results = self.conn.batch_iter(&ctx, &mut plan, batch_opts).await?;
            let Plan { sent, oversize, .. } = plan;
            report.datagrams += self.conn.stats().datagrams_sent.saturating_sub(before) as usize;
            report.messages += sent.len();

            // Every element sent was applied but those the kernel refused
            // and the rest of their messages, sent again.
            for i in oversize {
                report.fail(
                    i,
                    Error::invalid_input(describe(i), "larger than an attribute can hold"),
                );
                stop |= when != Stop::Never;
            }
            let mut retry: Vec<Range<usize>> = Vec::new();
            for (m, ke) in results.into_errors() {
                let Some(members) = sent.get(m) else { continue };
                match failing_member(&ke, members) {
                    Some(k) => {
                        // The kernel applied the elements before the failing
                        // one and stopped there: the rest are sent again.
                        report.fail(k, map_error(cmd, None, describe(k), ke));
                        retry.extend(
                            members
                                .iter()
                                .map(|r| r.start.max(k + 1)..r.end)
                                .filter(|r| !r.is_empty()),
                        );
                    }
                    None => {
                        // Refused as a whole (no such set, protocol error):
                        // nothing of this message was applied.
                        for i in members.iter().flat_map(Clone::clone) {
                            report.fail(i, map_error(cmd, None, describe(i), ke.clone()));
                        }
                    }
                }
                stop |= when != Stop::Never;
            }
            if stop {
                for r in retry {
                    report.skip(r);
                }
            } else {
                // the retried runs come before everything still queued,
                // in their order
                for r in retry.into_iter().rev() {
                    queue.push_front(r);
                }
            }
        }
        // (left only when stopped)
        for r in queue {
            report.skip(r);
        }
        report.sort();
        Ok(report)
    }

    /// Replaces the content of `spec.name` atomically: fills a temporary set
    /// of the same type and options, swaps it in (or renames it when the set
    /// does not exist yet) and destroys the old content. Readers never see
    /// a half-filled set. On any failure the temporary set is destroyed and
    /// the live set is left untouched; the error names the first failing
    /// element's position.
    ///
    /// The temporary set is filled in one batch, as
    /// [`add_many`](Self::add_many) fills a set without
    /// [`BulkOptions::stop_on_error`]: the kernel works on one datagram
    /// while the next is encoded. After a refusal nothing is sent again
    /// (the rest of the refused element's message is not retried), but
    /// the messages after it in the batch are still added to the temporary
    /// set, which is then destroyed: work wasted only on a replace that
    /// fails anyway, where stopping at the first failure would wait for
    /// the kernel after every datagram of every replace.
    pub async fn replace<E: Element>(&self, spec: &CreateSet, elems: &[E]) -> Result<BulkReport> {
        let tmp = temp_name(&spec.name);
        let mut tspec = spec.clone();
        tspec.name = tmp.clone();
        // A left-over temporary set from a crashed run is replaced.
        let _ = self.destroy(Some(&tmp)).await;
        self.create(&tspec, false).await?;
        let report = match self
            .bulk_adt(
                Command::Add,
                &tmp,
                elems,
                BulkOptions::new().exist(true),
                Stop::AfterRound,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let _ = self.destroy(Some(&tmp)).await;
                return Err(e);
            }
        };
        if let Some((pos, err)) = report.failures().first() {
            let msg = format!("element {pos} refused: {err}");
            let _ = self.destroy(Some(&tmp)).await;
            return Err(Error::invalid_input(
                format!("replace set {}", spec.name),
                msg,
            ));
        }
        let swapped = match self.swap(&tmp, &spec.name).await {
            Ok(()) => true,
            Err(Error::NotFound { .. }) => {
                if let Err(e) = self.rename(&tmp, &spec.name).await {
                    let _ = self.destroy(Some(&tmp)).await;
                    return Err(e);
                }
                false
            }
            Err(e) => {
                let _ = self.destroy(Some(&tmp)).await;
                return Err(e);
            }
        };
        if swapped {
            self.destroy(Some(&tmp)).await?;
        }
        Ok(report)
    }
}

/// A temporary name derived from `name`, at most 31 bytes.
fn temp_name(name: &str) -> String {
    let suffix = format!("~{:x}", std::process::id() & 0xffff);
    let keep = (IPSET_MAXNAMELEN - 1).saturating_sub(suffix.len());
    let mut base: String = String::new();
    for c in name.chars() {
        if base.len() + c.len_utf8() > keep {
            break;
        }
        base.push(c);
    }
    base + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_fit() {
        assert!(temp_name("a").starts_with("a~"));
        let long = "x".repeat(31);
        assert!(temp_name(&long).len() <= 31);
        assert_ne!(temp_name(&long), long);
    }

    /// An echoed ADD request: nlmsghdr, nfgenmsg, protocol, LINENO.
    fn echo(lineno: u32) -> Vec<u8> {
        let mut req = Vec::new();
        req.extend_from_slice(&36u32.to_ne_bytes());
        req.extend_from_slice(&[9, 6, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        req.extend_from_slice(&[2, 0, 0, 0]);
        req.extend_from_slice(&[5, 0, 1, 0, 7, 0, 0, 0]);
        req.extend_from_slice(&[8, 0, 9, 0x40]);
        req.extend_from_slice(&lineno.to_ne_bytes());
        req
    }

    #[test]
    fn lineno_from_echo() {
        assert_eq!(echoed_lineno(&echo(3)), Some(3));
        let ke = KernelError {
            echo: Some(echo(3)),
            ..KernelError::from_errno(4103)
        };
        assert_eq!(failing_member(&ke, &[1..3, 5..6]), Some(2));
        assert_eq!(failing_member(&ke, &[0..2, 3..4]), None);
        // Line 0 (the kernel did not fill it in) and no echo: no member.
        let ke0 = KernelError {
            echo: Some(echo(0)),
            ..KernelError::from_errno(4103)
        };
        assert_eq!(failing_member(&ke0, &[0..1, 1..2]), None);
        assert_eq!(
            failing_member(&KernelError::from_errno(2), &[0..1, 2..3]),
            None
        );
        // Short or garbage echoes never panic.
        assert_eq!(echoed_lineno(&[0, 0]), None);
        let mut g = echo(3);
        g[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(echoed_lineno(&g), Some(3));
        for cut in 0..g.len() {
            let _ = echoed_lineno(&g[..cut]);
            let _ = echoed_lineno(&[0xff; 40][..cut]);
        }
    }

    #[test]
    fn assembled_messages_encode_the_members_and_fix_the_adt_length() {
        use crate::entry::IpPortEntry;
        use crate::types::IpProto;
        let head = vec![0u8; 24];
        let elems: Vec<IpPortEntry> = (1..=5u8)
            .map(|i| IpPortEntry::new([10, 0, 0, i].into(), IpProto::Tcp, 80))
            .collect();
        let mut m = vec![9u8; 3];
        // a run, another run, and positions past the end (ignored)
        AdtMessage {
            head: &head,
            elems: &elems,
            members: vec![0..2, 3..4, 7..9],
        }
        .append_to(&mut m);
        let m = &m[3..];
        let mut want = Vec::new();
        for i in [0, 1, 3] {
            elems[i].append_data(&mut want, i as u32 + 1);
        }
        assert_eq!(&m[24..], &want[..]);
        assert_eq!(
            usize::from(u16::from_ne_bytes([m[20], m[21]])),
            want.len() + 4
        );
        let sized: usize = [0, 1, 3].iter().map(|&i| elems[i].data_len()).sum();
        assert_eq!(sized, want.len());
    }

    /// The report keeps only failures and runs not attempted; every
    /// element's outcome, by position or in order, comes back whatever
    /// order they were noted in.
    #[test]
    fn sparse_report_gives_every_outcome() {
        let err = |i: usize| Error::invalid_input(format!("element {i}"), "refused");
        let mut r = BulkReport::all_applied_of(12);
        // noted as rounds note them: a later message's first, then a
        // retried rest's
        r.fail(9, err(9));
        r.skip(10..12);
        r.fail(2, err(2));
        r.skip(5..7);
        r.skip(3..5);
        r.sort();
        let kind = |o: Outcome<&Error>| match o {
            Outcome::Applied => 'a',
            Outcome::Failed(e) => {
                assert!(e.to_string().contains("element"), "{e}");
                'f'
            }
            Outcome::NotAttempted => 'n',
        };
        let all: String = r.outcomes().map(kind).collect();
        assert_eq!(all, "aafnnnnaafnn");
        let by_pos: String = (0..12).map(|i| r.outcome(i).map_or('?', kind)).collect();
        assert_eq!(by_pos, all);
        assert!(r.outcome(12).is_none());
        assert_eq!(r.not_attempted(), vec![3, 4, 5, 6, 10, 11]);
        assert_eq!(r.not_attempted_count(), 6);
        assert_eq!(
            r.failures().iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [2, 9]
        );
        assert_eq!((r.len(), r.applied(), r.all_applied()), (12, 4, false));
        let owned: String = r
            .into_outcomes()
            .map(|o| match o {
                Outcome::Applied => 'a',
                Outcome::Failed(_) => 'f',
                Outcome::NotAttempted => 'n',
            })
            .collect();
        assert_eq!(owned, all);
        let ok = BulkReport::all_applied_of(3);
        assert!(ok.all_applied() && ok.applied() == 3 && ok.outcomes().count() == 3);
    }

    /// The planner fills each message up to the ADT nest's room, ends a
    /// round at its byte budget (always taking a first message), and sets
    /// aside an element no message could hold.
    #[test]
    // (lists of runs of positions, some of one run)
    #[allow(clippy::single_range_in_vec_init)]
    fn planner_fills_messages_and_ends_rounds() {
        use crate::entry::IpPortEntry;
        use crate::types::IpProto;
        let elems: Vec<IpPortEntry> = (0..10u8)
            .map(|i| IpPortEntry::new([10, 0, 0, i].into(), IpProto::Tcp, 80))
            .collect();
        let len = elems[0].data_len();
        let head = vec![0u8; 40];
        let plan = |queue: &mut VecDeque<Range<usize>>, round_left: usize, per_message: usize| {
            let mut p = Plan {
                queue,
                elems: &elems,
                head: &head,
                max_adt: 3 * len,
                per_message,
                round_left,
                halt_on_oversize: false,
                halted: false,
                sent: Vec::new(),
                oversize: Vec::new(),
            };
            let n = p.by_ref().count();
            assert_eq!(n, p.sent.len());
            p.sent
        };
        // everything in one round: messages of three, the runs kept
        let mut q = VecDeque::from([0..2, 4..10]);
        assert_eq!(
            plan(&mut q, usize::MAX, usize::MAX),
            [vec![0..2, 4..5], vec![5..8], vec![8..10]]
        );
        assert!(q.iter().all(Range::is_empty));
        // a round of one message and a bit: the second message stops at
        // the budget, the rest stays queued
        let mut q = VecDeque::from([0..10]);
        assert_eq!(
            plan(&mut q, 40 + 3 * len + 40 + len, usize::MAX),
            [vec![0..3], vec![3..4]]
        );
        assert_eq!(q.front(), Some(&(4..10)));
        // a budget smaller than one message: the first goes all the same
        let mut q = VecDeque::from([0..10]);
        assert_eq!(plan(&mut q, 1, usize::MAX), [vec![0..3]]);
        // one element a message (the last round without stopping)
        let mut q = VecDeque::from([2..4, 7..8]);
        assert_eq!(
            plan(&mut q, usize::MAX, 1),
            [vec![2..3], vec![3..4], vec![7..8]]
        );
    }

    /// An element too large for the ADT nest's 16-bit length is set
    /// aside, never sent; stopping at failures ends the round there.
    #[test]
    // (lists of runs of positions, some of one run)
    #[allow(clippy::single_range_in_vec_init)]
    fn planner_sets_aside_an_element_no_message_holds() {
        use crate::attr::ElementAttr as A;
        use crate::entry::Entry;
        let small = Entry::new(vec![A::Ip("10.0.0.1".parse().unwrap())]);
        let huge = Entry::new(vec![A::Name("x".repeat(70_000))]);
        let elems = vec![small.clone(), huge, small];
        let head = vec![0u8; 40];
        for halt in [false, true] {
            let mut queue = VecDeque::from([0..3]);
            let mut p = Plan {
                queue: &mut queue,
                elems: &elems,
                head: &head,
                max_adt: 65531,
                per_message: usize::MAX,
                round_left: usize::MAX,
                halt_on_oversize: halt,
                halted: false,
                sent: Vec::new(),
                oversize: Vec::new(),
            };
            let n = p.by_ref().count();
            let (sent, oversize) = (p.sent, p.oversize);
            assert_eq!(oversize, [1], "halt {halt}");
            if halt {
                // the round ends at it; the third stays queued
                assert_eq!((n, sent), (1, vec![vec![0..1]]));
                assert_eq!(queue.front(), Some(&(2..3)));
            } else {
                // it ends the first message, the third goes in a second
                assert_eq!((n, sent), (2, vec![vec![0..1], vec![2..3]]));
                assert!(queue.iter().all(Range::is_empty));
            }
        }
    }

    /// The direct DATA-nest encoder writes exactly what the typed
    /// attribute tree emits (which the golden tests hold to the ipset
    /// tool's bytes), for every kind of attribute an element carries.
    #[test]
    fn direct_element_data_matches_the_typed_encoder() {
        use crate::attr::ElementAttr as A;
        use crate::entry::{Entry, IpPortEntry};
        use crate::types::{CadtFlags, IpProto, Timeout};
        use netlink_packet_core::Emitable;
        use nl_engine::RawAttr;
        let typed = |attrs: Vec<A>, line: u32| {
            let mut a = attrs;
            a.push(A::LineNo(line));
            let nest = IpsetAttr::ElementData(a);
            let mut b = vec![0; nest.buffer_len()];
            nest.emit(&mut b);
            b
        };
        let mut full = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Udp, 53);
        full.ip_to = Some("10.0.0.9".parse().unwrap());
        full.port_to = Some(60);
        full.timeout = Some(Timeout(30));
        full.packets = Some(7);
        full.bytes = Some(1 << 40);
        full.comment = Some("odd-length".into());
        full.skbmark = Some((1, 0xff));
        full.skbprio = Some((1, 2));
        full.skbqueue = Some(3);
        let v6 = IpPortEntry::new("2001:db8::1".parse().unwrap(), IpProto::Tcp, 443);
        let entry = Entry::new(vec![
            A::Ip("192.0.2.1".parse().unwrap()),
            A::Cidr(24),
            A::Ether([1, 2, 3, 4, 5, 6]),
            A::Name("x".into()),
            A::Iface("eth0".into()),
            A::Mark(9),
            A::CadtFlags(CadtFlags::from_bits_retain(1)),
            A::Other(RawAttr::new(30, vec![1, 2, 3])),
        ]);
        // plain ones (written in one go) and each kind of extra that
        // takes an element off that path
        let v4 = IpPortEntry::new("192.0.2.7".parse().unwrap(), IpProto::Udp, 65535);
        let mut timed = v4.clone();
        timed.timeout = Some(Timeout(5));
        let mut cidr = v4.clone();
        cidr.cidr = Some(24);
        let mut other = v4.clone();
        other.other.push(A::Mark(1));
        let mut icmp = IpPortEntry::new("2001:db8::9".parse().unwrap(), IpProto::IcmpV6, 0);
        icmp.comment = Some("c".into());
        let lines = [1, 2, 3, 70000, u32::MAX, 0, 9, 10];
        for (e, line) in [full, v6, v4, timed, cidr, other, icmp].iter().zip(lines) {
            let mut b = vec![0xee];
            e.append_data(&mut b, line);
            assert_eq!(b[1..], typed(e.to_attrs(), line), "{e}");
            assert_eq!(e.data_len(), b.len() - 1, "{e}");
        }
        let mut b = Vec::new();
        entry.append_data(&mut b, 70000);
        assert_eq!(b, typed(entry.to_attrs(), 70000));
        assert_eq!(entry.data_len(), b.len());
    }
}
