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
//! The echoed request is not something `nl_engine::Connection` hands out,
//! so this module runs its own small exchange on a netfilter socket of the
//! handle's namespace (same timeout).
//!
//! Test has no multi-element form in the kernel: one message per element,
//! many messages per datagram, one result each.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{
    NLA_TYPE_MASK, NLM_F_ACK, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_ERROR, NlasIterator,
};
use netlink_sys::{Socket, SocketAddr};
use nl_engine::{Acks, BatchOptions, Error, KernelError, Packing, Result};
use tokio::io::unix::AsyncFd;

use crate::attr::{ElementAttr, IpsetAttr};
use crate::constants::*;
use crate::entry::Element;
use crate::error::map_error;
use crate::handle::IpsetHandle;
use crate::message::Command;
use crate::request;
use crate::set::CreateSet;
use netlink_packet_core::Emitable;

/// What happened to one element of a bulk operation.
#[derive(Debug)]
pub enum Outcome {
    /// The kernel applied it (for test: the element is in the set).
    Applied,
    /// The kernel refused it (for test: [`Error::NotFound`] means "not in
    /// the set").
    Failed(Error),
    /// It was not tried: an earlier element failed and the operation was
    /// asked to stop at the first failure.
    NotAttempted,
}

/// The per-element result of a bulk operation, in the order given.
#[derive(Debug, Default)]
pub struct BulkReport {
    /// One outcome per element.
    pub outcomes: Vec<Outcome>,
    /// Messages sent.
    pub messages: usize,
    /// Datagrams sent.
    pub datagrams: usize,
}

impl BulkReport {
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
                Outcome::Failed(e) => Some((i, e)),
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
pub struct BulkOptions {
    /// `-exist`: adding an element already there, or deleting one that is
    /// not, is not an error.
    pub exist: bool,
    /// Stop at the first failing element (the rest: `NotAttempted`), like
    /// `ipset restore`; otherwise go on with the elements after it.
    pub stop_on_error: bool,
    /// The largest message (bytes); the `ADT` nest can hold at most 65535.
    pub max_message: usize,
    /// The largest datagram (bytes).
    pub max_datagram: usize,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            exist: false,
            stop_on_error: false,
            max_message: 65535,
            max_datagram: 128 * 1024,
        }
    }
}

/// Room for nlmsghdr, nfgenmsg, protocol, set name, top-level line number
/// and the ADT nest header.
fn fixed_overhead(set: &str) -> usize {
    16 + 4 + 8 + (4 + set.len() + 1).next_multiple_of(4) + 8 + 4
}

struct RawSock {
    fd: AsyncFd<Socket>,
    seq: u32,
    buf: Vec<u8>,
    timeout: Duration,
}

impl RawSock {
    fn open(h: &IpsetHandle) -> Result<Self> {
        let ns = h.conn.netns().clone();
        let sock = ns
            .run(|| -> io::Result<Socket> {
                let mut s = Socket::new(netlink_sys::protocols::NETLINK_NETFILTER)?;
                s.bind_auto()?;
                s.connect(&SocketAddr::new(0, 0))?;
                s.set_non_blocking(true)?;
                Ok(s)
            })
            .and_then(|r| r)
            .map_err(|e| Error::io("open bulk netfilter socket", e))?;
        let size: libc::c_int = 4 * 1024 * 1024;
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
            // SAFETY: setsockopt on an open socket we own, with a live c_int
            // and its exact size.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::io(
                "bulk ipset",
                io::Error::other("must run inside a Tokio runtime with I/O and time enabled"),
            ));
        }
        // SAFETY: `Socket` owns its descriptor, returns that same descriptor
        // from every `as_raw_fd` call and closes it only when dropped, which
        // happens only after the `AsyncFd` owning it is dropped.
        let fd = unsafe { AsyncFd::register(sock) }
            .map_err(|e| Error::io("register bulk socket", io::Error::from(e)))?;
        Ok(RawSock {
            fd,
            seq: 0,
            buf: vec![0; 256 * 1024],
            timeout: h.conn.config().timeout,
        })
    }

    async fn send(&self, ctx: &str, data: &[u8]) -> Result<()> {
        let fut = async {
            loop {
                let mut g = self.fd.writable().await?;
                match g.try_io(|s| s.get_ref().send(data, 0)) {
                    Ok(r) => return r.map(drop),
                    Err(_would_block) => continue,
                }
            }
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(|e| Error::io(ctx, e)),
            Err(_) => Err(Error::Timeout {
                context: ctx.into(),
                after: self.timeout,
            }),
        }
    }

    async fn recv(&mut self, ctx: &str) -> Result<usize> {
        let fd = &self.fd;
        let buf = &mut self.buf;
        let fut = async {
            loop {
                let mut g = fd.readable().await?;
                match g.try_io(|s| {
                    let mut slice: &mut [u8] = &mut buf[..];
                    s.get_ref().recv(&mut slice, 0)
                }) {
                    Ok(r) => return r,
                    Err(_would_block) => continue,
                }
            }
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(n)) => Ok(n.min(self.buf.len())),
            Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => Err(Error::Overrun {
                context: ctx.into(),
            }),
            Ok(Err(e)) => Err(Error::io(ctx, e)),
            Err(_) => Err(Error::Timeout {
                context: ctx.into(),
                after: self.timeout,
            }),
        }
    }
}

/// One reply to a message of a bulk datagram.
struct Reply {
    error: Option<KernelError>,
    /// The top-level line number of the echoed request (the failing
    /// element's, when the kernel filled it in).
    lineno: Option<u32>,
}

fn parse_reply(payload: &[u8]) -> Option<Reply> {
    let code = i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?);
    if code == 0 {
        return Some(Reply {
            error: None,
            lineno: None,
        });
    }
    let mut ke = KernelError::from_errno(code.checked_neg().unwrap_or(i32::MAX));
    let mut lineno = None;
    // The echoed request: nlmsghdr, nfgenmsg, attributes.
    if let Some(hdr) = payload.get(4..20) {
        let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        if let Some(attrs) = payload.get(4 + 20..4 + len.max(20)) {
            for nla in NlasIterator::new(attrs).flatten() {
                if nla.kind() & NLA_TYPE_MASK == IPSET_ATTR_LINENO {
                    if let Ok(b) = <[u8; 4]>::try_from(nla.value()) {
                        // The kernel writes the failing line number in host
                        // order over the attribute (ip_set_core.c, call_ad).
                        lineno = Some(u32::from_ne_bytes(b));
                    }
                }
            }
        }
    }
    ke.description = None;
    Some(Reply {
        error: Some(ke),
        lineno,
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
                BatchOptions {
                    packing: Packing::MaxDatagram(self.conn.config().max_datagram),
                    acks: Acks::Every,
                },
            )
            .await?;
        let datagrams = (self.conn.stats().datagrams_sent - before) as usize;
        let outcomes = res
            .into_iter()
            .zip(elems)
            .map(|(r, e)| match r {
                Ok(()) => Outcome::Applied,
                Err(ke) => Outcome::Failed(map_error(
                    Command::Test,
                    None,
                    format!("test {} in set {set}", e.describe()),
                    ke,
                )),
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
        // Encode every element's DATA nest once, its position (1-based) as
        // line number; messages are then assembled from these bytes.
        let encoded: Vec<Vec<u8>> = elems
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut a = e.to_attrs();
                a.push(ElementAttr::LineNo(i as u32 + 1));
                let nest = IpsetAttr::ElementData(a);
                let mut b = vec![0; nest.buffer_len()];
                nest.emit(&mut b);
                b
            })
            .collect();
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
        let mut sock = RawSock::open(self)?;
        // Element positions still to send, in order.
        let mut queue: std::collections::VecDeque<usize> = (0..n).collect();
        let mut stop = false;
        while !queue.is_empty() && !stop {
            // Build one datagram of messages.
            let mut datagram: Vec<u8> = Vec::new();
            let mut sent: Vec<(u32, Vec<usize>)> = Vec::new();
            while !queue.is_empty() {
                let start = datagram.len();
                let mut members = Vec::new();
                let mut size = 0usize;
                while let Some(&i) = queue.front() {
                    let Some(e) = encoded.get(i) else { break };
                    if !members.is_empty() && size + e.len() > max_adt {
                        break;
                    }
                    if !sent.is_empty()
                        && start + head_bytes.len() + size + e.len() > opts.max_datagram
                    {
                        break;
                    }
                    size += e.len();
                    members.push(i);
                    queue.pop_front();
                }
                if members.is_empty() {
                    break;
                }
                sock.seq = sock.seq.wrapping_add(1).max(1);
                let total = head_bytes.len() + size;
                datagram.extend_from_slice(&head_bytes);
                for &i in &members {
                    if let Some(e) = encoded.get(i) {
                        datagram.extend_from_slice(e);
                    }
                }
                // Fix the lengths: message, and ADT nest (the last attribute
                // of the head, 4 bytes of header).
                let msg = &mut datagram[start..];
                msg[0..4].copy_from_slice(&(total as u32).to_ne_bytes());
                msg[8..12].copy_from_slice(&sock.seq.to_ne_bytes());
                let adt_off = head_bytes.len() - 4;
                msg[adt_off..adt_off + 2].copy_from_slice(&((4 + size) as u16).to_ne_bytes());
                sent.push((sock.seq, members));
                if datagram.len() >= opts.max_datagram {
                    break;
                }
            }
            sock.send(&ctx, &datagram).await?;
            report.datagrams += 1;
            report.messages += sent.len();

            // One NLMSG_ERROR (ACK or error) per message.
            let mut pending = sent.len();
            let mut replies: Vec<Option<Reply>> = (0..sent.len()).map(|_| None).collect();
            let first_seq = sent.first().map(|s| s.0).unwrap_or(0);
            while pending > 0 {
                let got = sock.recv(&ctx).await?;
                let data = sock.buf.get(..got).unwrap_or_default();
                for m in nl_engine::wire::Messages::new(data) {
                    let m = m.map_err(|reason| Error::Decode {
                        context: ctx.clone(),
                        reason,
                    })?;
                    if m.header.message_type != NLMSG_ERROR {
                        continue;
                    }
                    let rel = m.header.sequence_number.wrapping_sub(first_seq) as usize;
                    let Some(slot) = replies.get_mut(rel) else {
                        continue;
                    };
                    if slot.is_none() {
                        *slot = Some(parse_reply(m.payload).ok_or_else(|| Error::Decode {
                            context: ctx.clone(),
                            reason: "short NLMSG_ERROR".into(),
                        })?);
                        pending -= 1;
                    }
                }
            }

            // Work out every element's outcome.
            let mut retry: Vec<usize> = Vec::new();
            for ((_, members), reply) in sent.iter().zip(replies) {
                let Some(reply) = reply else { continue };
                let Some(ke) = reply.error else {
                    for &i in members {
                        if let Some(o) = report.outcomes.get_mut(i) {
                            *o = Outcome::Applied;
                        }
                    }
                    continue;
                };
                let failing = reply
                    .lineno
                    .and_then(|l| l.checked_sub(1))
                    .map(|l| l as usize)
                    .and_then(|l| members.iter().position(|&i| i == l));
                match failing {
                    Some(k) => {
                        for &i in &members[..k] {
                            report.outcomes[i] = Outcome::Applied;
                        }
                        let i = members[k];
                        report.outcomes[i] = Outcome::Failed(map_error(
                            cmd,
                            None,
                            format!("{cmd} element {} ({}) in set {set}", i, elems[i].describe()),
                            ke,
                        ));
                        retry.extend_from_slice(&members[k + 1..]);
                    }
                    None => {
                        // Refused as a whole (no such set, protocol error):
                        // nothing of this message was applied.
                        for &i in members {
                            report.outcomes[i] = Outcome::Failed(map_error(
                                cmd,
                                None,
                                format!(
                                    "{cmd} element {} ({}) in set {set}",
                                    i,
                                    elems[i].describe()
                                ),
                                ke.clone(),
                            ));
                        }
                    }
                }
                if opts.stop_on_error {
                    stop = true;
                }
            }
            if !stop {
                retry.sort_unstable();
                for i in retry.into_iter().rev() {
                    queue.push_front(i);
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

    #[test]
    fn reply_with_lineno() {
        // error -4103, echoed request with LINENO = 3 (host order).
        let mut p = (-4103i32).to_ne_bytes().to_vec();
        let mut req = Vec::new();
        req.extend_from_slice(&36u32.to_ne_bytes());
        req.extend_from_slice(&[9, 6, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        req.extend_from_slice(&[2, 0, 0, 0]);
        req.extend_from_slice(&[8, 0, 9, 0x40]);
        req.extend_from_slice(&3u32.to_ne_bytes());
        req.extend_from_slice(&[5, 0, 1, 0, 7, 0, 0, 0]);
        p.extend(req);
        let r = parse_reply(&p).unwrap();
        assert_eq!(r.error.unwrap().errno, 4103);
        assert_eq!(r.lineno, Some(3));
        assert!(parse_reply(&[0, 0]).is_none());
        assert!(parse_reply(&0i32.to_ne_bytes()).unwrap().error.is_none());
        // Garbage after the error code never panics.
        let mut g = (-1i32).to_ne_bytes().to_vec();
        g.extend_from_slice(&[0xff; 30]);
        assert!(parse_reply(&g).is_some());
    }
}
