//! Sending a batch's datagrams from a second thread, so that the caller
//! encodes the next datagram while the kernel handles the last one.
//!
//! The kernel handles a netlink datagram inside the `send` call that
//! delivers it, on the sender's CPU: a batch sent from one thread
//! alternates between its own encoding and the kernel's work. With a
//! second CPU the two overlap: an [`Offload`] thread makes the `send` of
//! datagram k while the caller's task encodes datagram k + 1 (its
//! messages are still made one at a time by the caller's iterator, on the
//! caller's thread). Each datagram goes to the thread with its buffer and
//! a duplicate of the socket's descriptor (one per batch), so the thread
//! never refers to anything the caller may drop. The thread sends the
//! datagrams handed to it in order, one after the other: a datagram
//! handed over while the last is still being sent waits in its queue, so
//! the kernel goes on to it at once. After a failed send the thread sends
//! nothing more of that batch. The connection keeps its thread, started
//! once (starting a thread costs milliseconds in an emulated guest); it
//! ends when the connection is dropped.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, FromRawFd, IntoRawFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use netlink_sys::Socket;

/// Whether this process may run on more than one CPU (the offload is
/// pointless, and its thread a cost, on one).
pub(super) fn parallel() -> bool {
    static PARALLEL: OnceLock<bool> = OnceLock::new();
    *PARALLEL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// The stack of the sending thread: it makes system calls only.
const STACK: usize = 64 << 10;

/// What the thread hands back for each datagram: its buffer, and how the
/// send went.
type Sent = (Vec<u8>, io::Result<()>);

/// One datagram to send: the socket (a duplicate of the connection's
/// descriptor), the bytes, the longest wait for room in the send buffer.
struct Job {
    sock: Arc<Socket>,
    buf: Vec<u8>,
    timeout: Duration,
}

#[derive(Default)]
struct Slot {
    /// The finished sends not yet collected, in the order handed over.
    sent: VecDeque<Sent>,
    waker: Option<Waker>,
}

/// Where the thread puts each finished send, and the waker of the task
/// waiting for them.
#[derive(Default)]
struct Done(Mutex<Slot>);

impl Done {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // nothing is left half-written in the slot by a panic
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(&self, sent: Sent) {
        let waker = {
            let mut slot = self.lock();
            slot.sent.push_back(sent);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Reports a datagram's send as failed if the thread unwinds before it
/// reports it (so the waiting task fails instead of waiting forever).
struct Guard<'a> {
    done: &'a Done,
    armed: bool,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.done.put((
                Vec::new(),
                Err(io::Error::other("the sending thread failed")),
            ));
        }
    }
}

/// A thread sending a connection's batch datagrams, one at a time, in
/// order.
pub(super) struct Offload {
    jobs: mpsc::Sender<Job>,
    done: Arc<Done>,
    /// The datagrams handed over whose sends are not yet collected.
    outstanding: usize,
    /// The process the thread runs in (a child made by `fork` has the
    /// handle but not the thread).
    pid: u32,
}

impl Offload {
    /// Starts the thread; `None` when it cannot be had (the caller then
    /// sends from its own thread).
    pub(super) fn start() -> Option<Offload> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let done = Arc::new(Done::default());
        let slot = Arc::clone(&done);
        std::thread::Builder::new()
            .name("nl-engine-send".into())
            .stack_size(STACK)
            .spawn(move || {
                // After a failed send nothing more is sent: what is still
                // queued is of the same batch, which fails when it collects
                // that send and drops its `Offload` (so no other batch
                // ever hands a datagram to this thread).
                let mut failed = false;
                for Job { sock, buf, timeout } in rx {
                    if failed {
                        drop(sock);
                        let e = io::Error::other("not sent: a datagram before it failed");
                        slot.put((buf, Err(e)));
                        continue;
                    }
                    let mut guard = Guard {
                        done: &slot,
                        armed: true,
                    };
                    let res = send_all(&sock, &buf, timeout);
                    drop(sock);
                    failed = res.is_err();
                    guard.armed = false;
                    slot.put((buf, res));
                }
            })
            .ok()?;
        Some(Offload {
            jobs,
            done,
            outstanding: 0,
            pid: std::process::id(),
        })
    }

    /// The thread runs in this process: false in a child made by `fork`
    /// after it was started, where no thread would ever answer.
    pub(super) fn alive(&self) -> bool {
        self.pid == std::process::id()
    }

    /// A duplicate of `sock`'s descriptor, for the thread to send on.
    pub(super) fn share(sock: &Socket) -> io::Result<Arc<Socket>> {
        let fd = sock.as_fd().try_clone_to_owned()?;
        // SAFETY: `fd` is a descriptor this function has just duplicated and
        // owns; the `Socket` takes that ownership over (and closes it once,
        // when dropped), and nothing else refers to the number.
        Ok(Arc::new(unsafe { Socket::from_raw_fd(fd.into_raw_fd()) }))
    }

    /// Hands `buf` (one whole datagram) to the thread to send on `sock`
    /// (from [`share`](Self::share)), waiting at most `timeout` for room;
    /// it is sent after those handed over before it.
    pub(super) fn submit(
        &mut self,
        sock: &Arc<Socket>,
        buf: Vec<u8>,
        timeout: Duration,
    ) -> io::Result<()> {
        let sock = Arc::clone(sock);
        self.jobs
            .send(Job { sock, buf, timeout })
            .map_err(|_| io::Error::other("the sending thread has ended"))?;
        self.outstanding += 1;
        Ok(())
    }

    /// How many datagrams handed over are not yet collected by
    /// [`finish`](Self::finish).
    pub(super) fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Waits until the oldest datagram not yet collected is sent: its
    /// buffer back, and the send's outcome.
    pub(super) async fn finish(&mut self) -> Sent {
        let sent = std::future::poll_fn(|cx| {
            let mut slot = self.done.lock();
            match slot.sent.pop_front() {
                Some(s) => Poll::Ready(s),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await;
        self.outstanding = self.outstanding.saturating_sub(1);
        sent
    }
}

/// Sends `buf` as one datagram on the non-blocking `sock`, waiting (at
/// most `timeout` in all) while the send buffer is full.
fn send_all(sock: &Socket, buf: &[u8], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match sock.send(buf, 0) {
            Ok(n) if n == buf.len() => return Ok(()),
            Ok(n) => {
                return Err(io::Error::other(format!(
                    "short netlink send: {n} of {} bytes",
                    buf.len()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::from(io::ErrorKind::TimedOut));
                }
                let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
                let mut pfd = libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(sock),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: `pfd` is one live, initialised pollfd and the count
                // passed is 1; the descriptor is open (owned by `sock`).
                let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
                if rc < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Netns, Protocol};

    /// In a throwaway namespace: datagrams handed over to a peer that does
    /// not exist. The first send is refused by the kernel; the two queued
    /// behind it are reported, in order, as not sent.
    #[test]
    fn after_a_failed_send_the_rest_is_not_sent() {
        let ns = Netns::new_anonymous().unwrap();
        let peer = u32::MAX - 7; // no socket has this port id
        let sock = super::super::socket::open_socket(Protocol::Generic, &ns, peer, &Config::new())
            .unwrap();
        let sock = Arc::new(sock);
        let mut o = Offload::start().unwrap();
        for _ in 0..3 {
            o.submit(&sock, vec![0; 32], Duration::from_secs(5))
                .unwrap();
        }
        assert_eq!(o.outstanding(), 3);
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let (buf, res) = clusterip_test_support::block_on(o.finish());
            assert_eq!(buf.len(), 32, "each buffer comes back");
            outcomes.push(res.map_err(|e| (e.raw_os_error(), e.to_string())));
        }
        assert_eq!(o.outstanding(), 0);
        assert_eq!(
            outcomes[0].as_ref().map_err(|e| e.0),
            Err(Some(libc::ECONNREFUSED))
        );
        for r in &outcomes[1..] {
            let (errno, msg) = r.clone().unwrap_err();
            assert_eq!(errno, None);
            assert!(msg.contains("not sent"), "{msg}");
        }
        // Nor anything handed over later (a batch drops its `Offload` when
        // a send fails: the thread is not used again).
        o.submit(&sock, vec![0; 32], Duration::from_secs(5))
            .unwrap();
        let (_, res) = clusterip_test_support::block_on(o.finish());
        assert!(res.is_err_and(|e| e.to_string().contains("not sent")));
    }
}
