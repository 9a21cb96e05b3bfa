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
//! Test has no multi-element form in the kernel: one message per element,
//! many messages per datagram, one result each.

use std::collections::VecDeque;
use std::ops::Range;

use netlink_packet_core::{NLM_F_ACK, NLM_F_EXCL, NLM_F_REQUEST};
use nl_engine::{Acks, BatchOptions, Error, KernelError, Outgoing, Packing, Result, wire};

use crate::attr::IpsetAttr;
use crate::constants::*;
use crate::entry::Element;
use crate::error::map_error;
use crate::handle::IpsetHandle;
use crate::message::Command;
use crate::request;
use crate::set::CreateSet;

/// What happened to one element of a bulk operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The kernel applied it (for test: the element is in the set).
    Applied,
    /// The kernel refused it (for test: [`Error::NotFound`] means "not in
    /// the set"). Boxed: a report holds one outcome per element, and
    /// failures are rare.
    Failed(Box<Error>),
    /// It was not tried: an earlier element failed and the operation was
    /// asked to stop at the first failure.
    NotAttempted,
}

/// The per-element result of a bulk operation, in the order given.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BulkReport {
    /// One outcome per element.
    pub outcomes: Vec<Outcome>,
    /// Messages sent.
    pub messages: usize,
    /// Datagrams sent.
    pub datagrams: usize,
}

impl BulkReport {
    /// Sets the outcome of the elements at positions `at` to what `o`
    /// makes.
    fn set(&mut self, at: impl IntoIterator<Item = usize>, mut o: impl FnMut() -> Outcome) {
        for i in at {
            if let Some(x) = self.outcomes.get_mut(i) {
                *x = o();
            }
        }
    }

    /// A report of these outcomes, sent in `messages` messages and
    /// `datagrams` datagrams.
    ///
    /// ```
    /// use ipset_nl::{BulkReport, Outcome};
    /// let r = BulkReport::new(vec![Outcome::Applied, Outcome::NotAttempted], 1, 1);
    /// assert_eq!((r.applied(), r.not_attempted()), (1, vec![1]));
    /// ```
    pub fn new(outcomes: Vec<Outcome>, messages: usize, datagrams: usize) -> Self {
        BulkReport {
            outcomes,
            messages,
            datagrams,
        }
    }
    /// True when every element was applied.
    pub fn all_applied(&self) -> bool {
        self.outcomes.iter().all(|o| matches!(o, Outcome::Applied))
    }
    /// Number of applied elements.
    pub fn applied(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Applied))
            .count()
    }
    /// The failed elements: position (0-based) and error.
    pub fn failures(&self) -> Vec<(usize, &Error)> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Failed(e) => Some((i, &**e)),
                _ => None,
            })
            .collect()
    }
    /// Positions (0-based) of the elements not attempted.
    pub fn not_attempted(&self) -> Vec<usize> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| matches!(o, Outcome::NotAttempted).then_some(i))
            .collect()
    }
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
    members: &'a [Range<usize>],
}

impl<E: Element> Outgoing for AdtMessage<'_, E> {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        let start = buf.len();
        buf.extend_from_slice(self.head);
        for r in self.members {
            let run = self.elems.get(r.clone()).unwrap_or_default();
            for (i, e) in (r.start..).zip(run) {
                // positions fit 32 bits: checked before any message
                e.append_data(buf, (i as u32).wrapping_add(1));
            }
        }
        // The caller sized the members to fit 16 bits.
        let adt_len = u16::try_from(buf.len() - start - self.head.len() + 4).unwrap_or(u16::MAX);
        let off = start + self.head.len().saturating_sub(4);
        if let Some(f) = buf.get_mut(off..off + 2) {
            f.copy_from_slice(&adt_len.to_ne_bytes());
        }
    }
}

/// The messages of one datagram, one per list of members. (A named
/// function: the same closure written inline in the async `bulk_adt` makes
/// its future not provably `Send`, a rustc limitation with closures over
/// references held across an `.await`.)
fn adt_messages<'a, E: Element>(
    head: &'a [u8],
    elems: &'a [E],
    sent: &'a [Vec<Range<usize>>],
) -> impl Iterator<Item = AdtMessage<'a, E>> + 'a {
    sent.iter()
        .map(move |members: &'a Vec<Range<usize>>| AdtMessage {
            head,
            elems,
            members,
        })
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
        self.bulk_adt(Command::Add, set, elems, opts).await
    }

    /// Deletes many elements (see [`IpsetHandle::add_many`]).
    pub async fn del_many<E: Element>(
        &self,
        set: &str,
        elems: &[E],
        opts: BulkOptions,
    ) -> Result<BulkReport> {
        self.bulk_adt(Command::Del, set, elems, opts).await
    }

    /// Tests many elements: one message each, many per datagram.
    /// `Applied` means "in the set"; `Failed(NotFound)` "not in the set".
    pub async fn test_many<E: Element>(&self, set: &str, elems: &[E]) -> Result<BulkReport> {
        let p = self.protocol().await?;
        let msgs: Vec<_> = elems
            .iter()
            .map(|e| request::adt(p, Command::Test, set, e, false))
            .collect();
        let ctx = format!("test {} elements in set {set}", elems.len());
        let before = self.conn.stats().datagrams_sent;
        let res = self
            .conn
            .batch(
                &ctx,
                msgs,
                BatchOptions::new(
                    Packing::MaxDatagram(self.conn.config().max_datagram),
                    Acks::Every,
                ),
            )
            .await?;
        let datagrams = (self.conn.stats().datagrams_sent - before) as usize;
        let outcomes = res
            .into_iter()
            .zip(elems)
            .map(|(r, e)| match r {
                Ok(()) => Outcome::Applied,
                Err(ke) => Outcome::Failed(Box::new(map_error(
                    Command::Test,
                    None,
                    format!("test {} in set {set}", e.describe()),
                    ke,
                ))),
            })
            .collect();
        Ok(BulkReport {
            outcomes,
            messages: elems.len(),
            datagrams,
        })
    }

    async fn bulk_adt<E: Element>(
        &self,
        cmd: Command,
        set: &str,
        elems: &[E],
        opts: BulkOptions,
    ) -> Result<BulkReport> {
        let p = self.protocol().await?;
        let n = elems.len();
        let mut report = BulkReport {
            outcomes: (0..n).map(|_| Outcome::NotAttempted).collect(),
            messages: 0,
            datagrams: 0,
        };
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
        while !queue.is_empty() && !stop {
            // The messages of one datagram: as many elements per message
            // as the ADT nest holds, as many messages as the datagram holds.
            let mut sent: Vec<Vec<Range<usize>>> = Vec::new();
            let mut datagram_len = 0usize;
            while !queue.is_empty() {
                let mut members: Vec<Range<usize>> = Vec::new();
                let (mut count, mut size) = (0usize, 0usize);
                while let Some(run) = queue.front_mut() {
                    let i = run.start;
                    let Some(e) = elems.get(run.clone()).and_then(<[E]>::first) else {
                        queue.pop_front();
                        continue;
                    };
                    let len = e.data_len();
                    if count > 0 && size + len > max_adt {
                        break;
                    }
                    if !sent.is_empty()
                        && datagram_len + head_bytes.len() + size + len > max_datagram
                    {
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
                    break;
                }
                if size + 4 > usize::from(u16::MAX) {
                    return Err(Error::invalid_input(
                        "bulk element",
                        "larger than an attribute can hold",
                    ));
                }
                datagram_len += head_bytes.len() + size;
                sent.push(members);
                if datagram_len >= max_datagram {
                    break;
                }
            }
            let before = self.conn.stats().datagrams_sent;
            let msgs = adt_messages(&head_bytes, elems, &sent);
            let results = self
                .conn
                .batch_iter(&ctx, msgs, batch_opts)
                .await?
                .into_vec();
            report.datagrams += self.conn.stats().datagrams_sent.saturating_sub(before) as usize;
            report.messages += sent.len();

            // Work out every element's outcome.
            let mut retry: Vec<Range<usize>> = Vec::new();
            for (members, result) in sent.iter().zip(results) {
                let positions = || members.iter().flat_map(Clone::clone);
                let ke = match result {
                    Ok(()) => {
                        report.set(positions(), || Outcome::Applied);
                        continue;
                    }
                    Err(ke) => ke,
                };
                match failing_member(&ke, members) {
                    Some(k) => {
                        // The kernel applied the elements before the failing
                        // one and stopped there: the rest are sent again.
                        report.set(positions().take_while(|&i| i < k), || Outcome::Applied);
                        if let Some(o) = report.outcomes.get_mut(k) {
                            *o = Outcome::Failed(Box::new(map_error(cmd, None, describe(k), ke)));
                        }
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
                        for i in positions() {
                            if let Some(o) = report.outcomes.get_mut(i) {
                                *o = Outcome::Failed(Box::new(map_error(
                                    cmd,
                                    None,
                                    describe(i),
                                    ke.clone(),
                                )));
                            }
                        }
                    }
                }
                if opts.stop_on_error {
                    stop = true;
                }
            }
            if !stop {
                // the retried runs come before everything still queued,
                // in their order
                for r in retry.into_iter().rev() {
                    queue.push_front(r);
                }
            }
        }
        Ok(report)
    }

    /// Replaces the content of `spec.name` atomically: fills a temporary set
    /// of the same type and options, swaps it in (or renames it when the set
    /// does not exist yet) and destroys the old content. Readers never see
    /// a half-filled set. On any failure the temporary set is destroyed and
    /// the live set is left untouched; the error names the failing
    /// element's position.
    pub async fn replace<E: Element>(&self, spec: &CreateSet, elems: &[E]) -> Result<BulkReport> {
        let tmp = temp_name(&spec.name);
        let mut tspec = spec.clone();
        tspec.name = tmp.clone();
        // A left-over temporary set from a crashed run is replaced.
        let _ = self.destroy(Some(&tmp)).await;
        self.create(&tspec, false).await?;
        let report = match self
            .add_many(
                &tmp,
                elems,
                BulkOptions {
                    exist: true,
                    stop_on_error: true,
                    ..BulkOptions::default()
                },
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
            members: &[0..2, 3..4, 7..9],
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
