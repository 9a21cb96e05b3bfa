//! Batches: many requests packed into large datagrams, each message's
//! result matched back to it ([`Connection::batch`],
//! [`Connection::batch_iter`]).

use std::sync::atomic::Ordering;

use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage, NetlinkSerializable};

use super::offload::{self, Offload};
use super::socket::{Inner, Recv, Sock};
use super::{Config, Connection, Shared};
use crate::error::{Error, KernelError, Result};
use crate::wire::{self, Messages, NLMSG_ERROR, NLMSG_OVERRUN, align4};

/// A message a batch can send: a typed [`NetlinkMessage`], one already
/// encoded ([`Encoded`]), or a family crate's own fast encoder (see
/// [`wire::append_nla`](crate::wire::append_nla)).
///
/// The batch appends each message to the datagram it is filling and then
/// sets the header's length, sequence number and the request/ACK flags
/// itself, so an implementation only writes its bytes.
pub trait Outgoing {
    /// Appends the whole message, 16-byte header first, to `buf`. The
    /// header's length and sequence number are overwritten by the batch;
    /// its flags are kept apart from `NLM_F_REQUEST` / `NLM_F_ACK`, which
    /// the batch sets as its [`Acks`] policy says.
    fn append_to(&mut self, buf: &mut Vec<u8>);
}

impl<I: NetlinkSerializable> Outgoing for NetlinkMessage<I> {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        self.finalize();
        let off = buf.len();
        buf.resize(off + self.buffer_len(), 0);
        if let Some(dst) = buf.get_mut(off..) {
            self.serialize(dst);
        }
    }
}

/// One netlink message already encoded: header and payload. The header's
/// length field is set from the byte count when sent; flags and sequence
/// number are managed by the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(pub Vec<u8>);

impl Outgoing for Encoded {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.0);
    }
}

impl<T: Outgoing + ?Sized> Outgoing for &mut T {
    fn append_to(&mut self, buf: &mut Vec<u8>) {
        (**self).append_to(buf)
    }
}

/// How a batch's messages are put into datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// As many messages per datagram as fit in this many bytes (at least one
    /// message per datagram however large it is).
    MaxDatagram(usize),
    /// Every message in one datagram (nfnetlink transactions need this: the
    /// batch begin and end must arrive together).
    Single,
}

/// Which messages of a batch ask the kernel for an acknowledgement.
///
/// The kernel reports every failing message whether or not it asked for an
/// ACK, and it answers a datagram's messages in order, so an ACK on the last
/// message of each datagram is enough to know the whole datagram was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Only the last message of each datagram (fewest replies, fewest system calls).
    LastPerDatagram,
    /// Every message.
    Every,
    /// Exactly the messages whose header already carries `NLM_F_ACK`
    /// (nf_tables batches: commands yes, batch begin/end no).
    AsFlagged,
}

/// How a batch is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Datagram packing.
    pub packing: Packing,
    /// ACK policy.
    pub acks: Acks,
}

impl BatchOptions {
    /// A batch packed and acknowledged this way.
    ///
    /// ```
    /// use nl_engine::{Acks, BatchOptions, Packing};
    /// let o = BatchOptions::new(Packing::Single, Acks::AsFlagged);
    /// assert_eq!(o.with_acks(Acks::Every).acks, Acks::Every);
    /// ```
    pub fn new(packing: Packing, acks: Acks) -> Self {
        BatchOptions { packing, acks }
    }
    /// Another datagram packing.
    pub fn with_packing(mut self, packing: Packing) -> Self {
        self.packing = packing;
        self
    }
    /// Another ACK policy.
    pub fn with_acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            packing: Packing::MaxDatagram(Config::default().max_datagram),
            acks: Acks::LastPerDatagram,
        }
    }
}

/// What became of each message (or operation) of a batch, in the order
/// they were given. Most succeed, so only the failures are stored: memory
/// grows with the failures, not with the batch. `E` is the engine's
/// [`KernelError`] as [`Connection::batch_iter`] returns it; the family
/// crates map it to their own classified [`Error`](crate::Error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResults<E = KernelError> {
    len: usize,
    /// (index, failure), in index order.
    errors: Vec<(usize, E)>,
}

impl<E> Default for BatchResults<E> {
    fn default() -> Self {
        BatchResults {
            len: 0,
            errors: Vec::new(),
        }
    }
}

impl<E> BatchResults<E> {
    /// Results of `len` items of which `errors` (index, failure) failed;
    /// indexes past `len` are dropped and the rest sorted.
    pub fn new(len: usize, mut errors: Vec<(usize, E)>) -> Self {
        errors.retain(|(i, _)| *i < len);
        errors.sort_by_key(|(i, _)| *i);
        BatchResults { len, errors }
    }

    /// How many items the batch had.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch had no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when none failed.
    pub fn all_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The failures: index in the batch and the error, in index order.
    pub fn errors(&self) -> &[(usize, E)] {
        &self.errors
    }

    /// The failures, owned (see [`errors`](Self::errors)).
    pub fn into_errors(self) -> Vec<(usize, E)> {
        self.errors
    }

    /// The result of item `index`; `None` past the end.
    pub fn get(&self, index: usize) -> Option<std::result::Result<(), &E>> {
        if index >= self.len {
            return None;
        }
        match self.errors.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => Some(Err(&self.errors.get(at)?.1)),
            Err(_) => Some(Ok(())),
        }
    }

    /// The same results with every failure converted by `f` (given the
    /// failing item's index).
    pub fn map_errors<F>(self, mut f: impl FnMut(usize, E) -> F) -> BatchResults<F> {
        BatchResults {
            len: self.len,
            errors: self.errors.into_iter().map(|(i, e)| (i, f(i, e))).collect(),
        }
    }

    /// One result per item, in order.
    pub fn into_vec(self) -> Vec<std::result::Result<(), E>> {
        let mut out: Vec<std::result::Result<(), E>> = (0..self.len).map(|_| Ok(())).collect();
        for (i, e) in self.errors {
            if let Some(slot) = out.get_mut(i) {
                *slot = Err(e);
            }
        }
        out
    }
}

impl Connection {
    /// Sends many requests packed into as few datagrams as `options` allow
    /// and returns each message's result, in order.
    ///
    /// The outer `Result` fails only when the exchange itself failed
    /// (timeout, overrun, I/O); kernel refusals of single messages are in
    /// the returned vector, one entry per message. With
    /// [`Acks::AsFlagged`], a message that asked for no ACK and got no error
    /// counts as `Ok`.
    pub async fn batch<M>(
        &self,
        context: &str,
        msgs: Vec<M>,
        options: BatchOptions,
    ) -> Result<Vec<Result<(), KernelError>>>
    where
        M: Outgoing,
    {
        Ok(self.batch_iter(context, msgs, options).await?.into_vec())
    }

    /// [`batch`](Self::batch) over messages made one at a time: each is
    /// encoded straight into the datagram being filled and dropped, so
    /// however many there are, only one datagram's worth of bytes (and one
    /// message) is in memory at a time. The results count the messages in
    /// the order the iterator yielded them; only refusals take memory.
    ///
    /// Where the process may run on more than one CPU, a batch of more
    /// than one datagram is sent from a second thread while this task
    /// fills the next datagram from the iterator (each full datagram is
    /// queued behind the one being sent, and this task reads the answers
    /// of that one meanwhile), and its first datagrams are smaller
    /// (64 KiB, then four times the last) so that the kernel starts
    /// early: the iterator's work (its parsing, say) overlaps the
    /// kernel's. Two datagram buffers are then kept. See
    /// [`Config::background_send`].
    pub async fn batch_iter<T>(
        &self,
        context: &str,
        msgs: T,
        options: BatchOptions,
    ) -> Result<BatchResults>
    where
        T: IntoIterator,
        T::Item: Outgoing,
    {
        let mut inner = self.inner.lock().await;
        let res = inner
            .batch(
                &self.shared,
                &self.config,
                context,
                msgs.into_iter(),
                options,
            )
            .await;
        if let Err(e) = &res {
            if e.poisons_socket() {
                inner.sock = Sock::Closed;
            }
        }
        res
    }
}

/// Room a batch's datagram buffer keeps past its largest datagram for
/// the message that does not fit any more (IPVS, ipset and most nf_tables
/// messages are far smaller; a larger one costs one reallocation).
const OVERFLOW_ROOM: usize = 16 << 10;

/// The first datagram of a batch that may be sent from a second thread
/// (see [`Config::background_send`]), at most.
const FIRST_DATAGRAM: usize = 64 << 10;

impl Inner {
    /// Sizes the send buffer for datagrams of `max` bytes and touches
    /// every page of it, and starts the offload thread where it is to be
    /// used (see [`Connection::prepare_batches`]).
    pub(super) fn prepare_batches(&mut self, config: &Config) {
        let max = config.max_datagram;
        let alive = self.offload.as_ref().is_some_and(Offload::alive);
        if !alive && config.background_send && offload::parallel() {
            self.offload = Offload::start();
        }
        let room = max.saturating_add(OVERFLOW_ROOM);
        if self.sbuf.capacity() < room {
            self.sbuf = Vec::with_capacity(room);
            // written, not just reserved: the pages are faulted in now
            self.sbuf.resize(room, 0);
            std::hint::black_box(&mut self.sbuf);
            self.sbuf.clear();
        }
    }

    pub(super) async fn batch<T>(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        mut msgs: T,
        options: BatchOptions,
    ) -> Result<BatchResults>
    where
        T: Iterator,
        T::Item: Outgoing,
    {
        self.ensure_async(shared, config, context)?;
        // The datagram buffer at its full size at once: grown by doubling
        // it would be copied (and its pages touched) several times over.
        // The room past `max` takes the message found not to fit, which is
        // appended before it is moved to the next datagram (a reallocation
        // otherwise, of the whole buffer, at the end of the first one).
        let room = match options.packing {
            Packing::MaxDatagram(max) => max.saturating_add(OVERFLOW_ROOM),
            Packing::Single => 0,
        };
        self.sbuf.reserve(room);
        // Where datagrams can be sent from a second thread, the first ones
        // are smaller: the kernel starts on the first while the next is
        // encoded, instead of waiting for a whole large one to be filled.
        // Each is then four times the last, up to `max`. (The kernel's
        // work per message is several times the encoding's, so a datagram
        // four times larger is still encoded before the last is handled.)
        let (max, may_offload) = match options.packing {
            Packing::MaxDatagram(max) => (max, config.background_send && offload::parallel()),
            // one datagram: nothing to overlap
            Packing::Single => (usize::MAX, false),
        };
        let mut limit = if may_offload {
            max.min(FIRST_DATAGRAM)
        } else {
            max
        };
        let mut results = BatchResults::default();
        // A message that did not fit the previous datagram (appended again
        // to the next one).
        let mut held: Option<T::Item> = None;
        // The datagram being filled, and the one the offload thread is
        // sending meanwhile.
        let mut filling = Flight::default();
        let mut in_flight = Flight::default();
        // Once a batch needs a second datagram (and a second CPU is
        // there), the connection's thread sends each datagram while this
        // task fills the next (see `offload`), on a duplicate of the
        // socket's descriptor. (Taken for the batch; dropped, and so
        // ended, if the batch fails or is dropped midway.)
        let mut offload: Option<Offload> = None;
        let mut shared_sock = None;
        let mut tried = false;
        // How many datagrams the thread may hold: one being sent and one
        // queued behind it, so that the kernel goes from one to the next
        // without waiting for this task to collect the first. The answers
        // of the first are then read while the kernel answers the second:
        // safe where every datagram's last message asks for an ACK, which
        // ends the reading of the first. With ACKs as flagged (an
        // nf_tables transaction, say), a datagram's answers may have no
        // such end (the kernel may skip its rest, or its last messages
        // ask no ACK), so they are read until none is queued (`answers`),
        // which would run on into the next datagram's: one at a time there.
        let depth = if options.acks == Acks::AsFlagged {
            1
        } else {
            2
        };
        loop {
            let start = results.len;
            filling.start = start;
            filling.first_seq = self.seq.wrapping_add(1);
            self.sbuf.clear();
            filling.flagged.clear();
            let mut last_off = 0usize;
            let this_limit = limit;
            limit = limit.saturating_mul(4).min(max);
            loop {
                // (not `held.take().or_else(..)`: that moves a large message
                // through two more temporaries)
                let mut m = match held.take() {
                    Some(m) => m,
                    None => match msgs.next() {
                        Some(m) => m,
                        None => break,
                    },
                };
                let off = align4(self.sbuf.len());
                self.sbuf.resize(off, 0);
                m.append_to(&mut self.sbuf);
                if self.sbuf.len() < off + wire::NLMSG_HDRLEN {
                    self.sbuf.resize(off + wire::NLMSG_HDRLEN, 0);
                }
                let len = self.sbuf.len() - off;
                if off > 0 && off + len > this_limit {
                    self.sbuf.truncate(off);
                    held = Some(m);
                    break;
                }
                let mut flags = wire::u16_at(&self.sbuf, off + 6).unwrap_or(0) | NLM_F_REQUEST;
                match options.acks {
                    Acks::Every => flags |= NLM_F_ACK,
                    Acks::LastPerDatagram => flags &= !NLM_F_ACK,
                    Acks::AsFlagged => {}
                }
                let seq = self.next_seq();
                let len32 = u32::try_from(len).unwrap_or(u32::MAX);
                wire::put_at(&mut self.sbuf, off, &len32.to_ne_bytes());
                wire::put_at(&mut self.sbuf, off + 6, &flags.to_ne_bytes());
                wire::put_at(&mut self.sbuf, off + 8, &seq.to_ne_bytes());
                last_off = off;
                filling.flagged.push(flags & NLM_F_ACK != 0);
                results.len += 1;
            }
            let count = results.len - start;
            filling.count = count;
            if count > 0 && options.acks == Acks::LastPerDatagram {
                // Ask the ACK of the datagram's last message only.
                if let Some(flags) = wire::u16_at(&self.sbuf, last_off + 6) {
                    let flags = (flags | NLM_F_ACK).to_ne_bytes();
                    if let Some(f) = self.sbuf.get_mut(last_off + 6..last_off + 8) {
                        f.copy_from_slice(&flags);
                    }
                }
                if let Some(l) = filling.flagged.last_mut() {
                    *l = true;
                }
            }
            // The datagram the thread was sending while this one was
            // filled: its outcome and answers first, in order, when this
            // one cannot be queued behind it, or when this was the last.
            if let Some(o) = offload.as_mut() {
                if o.outstanding() > 0 && (count == 0 || o.outstanding() >= depth) {
                    self.collect(
                        o,
                        shared,
                        config,
                        context,
                        &mut in_flight,
                        &mut results.errors,
                    )
                    .await?;
                }
            }
            if count == 0 {
                break;
            }
            if !tried && held.is_some() && may_offload {
                tried = true;
                if let Sock::Async(sock, _) = &self.sock {
                    offload = self
                        .offload
                        .take()
                        .filter(Offload::alive)
                        .or_else(Offload::start);
                    shared_sock = offload
                        .as_ref()
                        .and_then(|_| Offload::share(sock.get_ref()).ok());
                }
            }
            match offload.as_mut().zip(shared_sock.as_ref()) {
                Some((o, sock)) => {
                    // This datagram goes to the thread (behind the last,
                    // if that is still being sent); the next is filled in
                    // the other buffer meanwhile.
                    let buf = std::mem::take(&mut self.sbuf);
                    o.submit(sock, buf, config.timeout)
                        .map_err(|e| Error::io(context, e))?;
                    // Queued behind the last: the last is collected now,
                    // while the kernel goes on to this one.
                    if o.outstanding() > 1 {
                        self.collect(
                            o,
                            shared,
                            config,
                            context,
                            &mut in_flight,
                            &mut results.errors,
                        )
                        .await?;
                    }
                    // (emptied first: it comes back from the thread holding
                    // the datagram it sent, and `reserve` counts from its
                    // length, which would double it)
                    self.sbuf = std::mem::take(&mut self.spare);
                    self.sbuf.clear();
                    self.sbuf.reserve(room);
                    std::mem::swap(&mut filling, &mut in_flight);
                }
                None => {
                    self.send(shared, config, context, None).await?;
                    shared
                        .counters
                        .messages_sent
                        .fetch_add(count as u64, Ordering::Relaxed);
                    self.answers(shared, config, context, &mut filling, &mut results.errors)
                        .await?;
                }
            }
        }
        // kept for the connection's next batch (nothing is in flight)
        if offload.is_some() {
            self.offload = offload;
        }
        // The kernel answers in order; sorted all the same, as `get` relies on it.
        results.errors.sort_by_key(|(i, _)| *i);
        Ok(results)
    }

    /// Collects the oldest datagram handed to the offload thread, `flight`:
    /// its buffer back (as the spare), the send's outcome, its answers.
    async fn collect(
        &mut self,
        o: &mut Offload,
        shared: &Shared,
        config: &Config,
        context: &str,
        flight: &mut Flight,
        errors: &mut Vec<(usize, KernelError)>,
    ) -> Result<()> {
        let (buf, sent) = o.finish().await;
        self.spare = buf;
        sent.map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => Error::Timeout {
                context: context.to_string(),
                after: config.timeout,
            },
            _ => Error::io(context, e),
        })?;
        shared
            .counters
            .datagrams_sent
            .fetch_add(1, Ordering::Relaxed);
        shared.counters.offloaded.fetch_add(1, Ordering::Relaxed);
        shared
            .counters
            .messages_sent
            .fetch_add(flight.count as u64, Ordering::Relaxed);
        self.answers(shared, config, context, flight, errors).await
    }

    /// Reads the kernel's answers to one sent datagram, `flight`, until
    /// every message of it that asked for an ACK has its answer; the
    /// refusals go to `errors`, by batch index.
    /// The kernel handles a datagram inside the send call and queues its
    /// answers in order, so they are all readable once it is sent. When
    /// the datagram's last message asked no ACK (with [`Acks::AsFlagged`]),
    /// a refusal of it or of the messages after the last ACK asked may
    /// still be queued: those are read too, without waiting, until the
    /// queue is empty (nothing else of this socket is in flight then: with
    /// ACKs as flagged the thread holds one datagram at a time).
    async fn answers(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        flight: &mut Flight,
        errors: &mut Vec<(usize, KernelError)>,
    ) -> Result<()> {
        let Flight {
            start,
            first_seq,
            count,
            ref flagged,
            ref mut answered,
        } = *flight;
        answered.clear();
        answered.resize(count, false);
        let mut pending = flagged.iter().filter(|f| **f).count();
        let mut unasked_error = false;
        // its last message asked no ACK: refusals may follow the last ACK
        let unasked_tail = flagged.last().is_some_and(|f| !*f);
        loop {
            let tail_answered = answered.last().copied().unwrap_or(true);
            if pending == 0 && (!unasked_tail || tail_answered) {
                break;
            }
            // every ACK asked is in: the rest, if any, is queued already
            let wait = pending > 0 && !unasked_error;
            let n = match self.recv(shared, config, context, wait).await? {
                Recv::Got(n) => n,
                // Nothing more queued: after an error on a message that
                // asked no ACK (say a failed batch begin) the kernel skipped
                // the rest and will not answer it; or every ACK asked is in
                // and the messages after the last of them were not refused.
                Recv::WouldBlock => break,
            };
            for m in Messages::new(self.rbuf.get(..n).unwrap_or_default()) {
                let m = m.map_err(|reason| Error::Decode {
                    context: context.to_string(),
                    reason,
                })?;
                let rel = m.header.sequence_number.wrapping_sub(first_seq) as usize;
                if rel >= count {
                    continue; // not ours
                }
                match m.header.message_type {
                    NLMSG_ERROR => {
                        let r = wire::parse_error(&m).map_err(|reason| Error::Decode {
                            context: context.to_string(),
                            reason,
                        })?;
                        let is_err = r.is_err();
                        let asked = flagged.get(rel).copied().unwrap_or(false);
                        if let Some(a) = answered.get_mut(rel) {
                            if !*a {
                                *a = true;
                                if let Err(ke) = r {
                                    errors.push((start + rel, ke));
                                }
                                if asked {
                                    pending -= 1;
                                } else if is_err {
                                    unasked_error = true;
                                }
                            }
                        }
                    }
                    NLMSG_OVERRUN => {
                        return Err(Error::Overrun {
                            context: context.to_string(),
                        });
                    }
                    _ => {} // data echoed back (NLM_F_ECHO) is not collected
                }
            }
        }
        Ok(())
    }
}

/// One datagram of a batch, from its filling to its answers.
#[derive(Debug, Default)]
struct Flight {
    /// The batch index of its first message.
    start: usize,
    /// The sequence number of its first message.
    first_seq: u32,
    /// How many messages it holds.
    count: usize,
    /// Per message: asked for an ACK.
    flagged: Vec<bool>,
    /// Per message: answered.
    answered: Vec<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_results_are_sparse_and_ordered() {
        let r: BatchResults<&str> = BatchResults::new(5, vec![(3, "c"), (1, "a"), (9, "gone")]);
        assert_eq!(r.len(), 5);
        assert!(!r.all_ok());
        assert_eq!(r.errors(), &[(1, "a"), (3, "c")]);
        assert_eq!(r.get(0), Some(Ok(())));
        assert_eq!(r.get(1), Some(Err(&"a")));
        assert_eq!(r.get(5), None);
        let m = r.clone().map_errors(|i, e| format!("{i}{e}"));
        assert_eq!(m.errors(), &[(1, "1a".to_string()), (3, "3c".to_string())]);
        assert_eq!(
            r.into_vec(),
            vec![Ok(()), Err("a"), Ok(()), Err("c"), Ok(())]
        );
        let empty: BatchResults = BatchResults::default();
        assert!(empty.is_empty() && empty.all_ok());
    }

    /// A generic-netlink lookup of the family `nlctrl`, encoded by hand (the
    /// batch fills in its sequence number and flags).
    fn lookup() -> crate::Encoded {
        let mut b = Vec::with_capacity(32);
        b.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
        b.extend_from_slice(&0x10u16.to_ne_bytes()); // GENL_ID_CTRL
        b.extend_from_slice(&[0; 10]); // flags, seq, pid
        b.extend_from_slice(&[3, 1, 0, 0]); // CTRL_CMD_GETFAMILY, version 1
        b.extend_from_slice(&11u16.to_ne_bytes()); // attribute length
        b.extend_from_slice(&2u16.to_ne_bytes()); // CTRL_ATTR_FAMILY_NAME
        b.extend_from_slice(b"nlctrl\0\0");
        crate::Encoded(b)
    }

    /// Against the kernel, in a throwaway namespace: a batch of many
    /// datagrams, sent from the connection's thread where there is a second
    /// CPU, leaves both datagram buffers at one datagram's room (the buffer
    /// that comes back from the thread is emptied before it is reserved
    /// again: reserving room past what it still held doubled it).
    #[test]
    fn a_batch_keeps_its_buffers_at_one_datagram() {
        let ns = crate::Netns::new_anonymous().unwrap();
        let conn = crate::Connection::open(crate::Protocol::Generic, &ns).unwrap();
        let max = 16 << 10;
        let room = max + OVERFLOW_ROOM;
        for _ in 0..2 {
            let res = clusterip_test_support::block_on(conn.batch_iter(
                "lookups",
                (0..3000).map(|_| lookup()),
                BatchOptions::new(Packing::MaxDatagram(max), Acks::LastPerDatagram),
            ))
            .unwrap();
            assert!(res.all_ok() && res.len() == 3000, "{res:?}");
            let st = conn.stats();
            let inner = super::super::reactor::try_lock(&conn.inner).unwrap();
            let spare = if offload::parallel() {
                assert!(st.offloaded > 4, "{st:?}");
                room
            } else {
                0
            };
            assert_eq!(
                (inner.sbuf.capacity(), inner.spare.capacity()),
                (room, spare)
            );
        }
    }
}
