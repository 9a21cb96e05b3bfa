//! The socket of a [`Connection`](super::Connection): opened in its
//! namespace, registered with the runtime's reactor, and the bounded
//! send and receive of one datagram.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;

use super::reactor::{self, Interest, ReactorId, Registered};
use super::{Config, Protocol, Shared};
use crate::error::{Error, Result};
use crate::netns::Netns;
use netlink_sys::{Socket, SocketAddr};

pub(super) enum Sock {
    Closed,
    Raw(Socket),
    /// Registered with the reactor of the runtime with this id.
    Async(Registered, ReactorId),
}

pub(super) struct Inner {
    pub(super) sock: Sock,
    pub(super) seq: u32,
    pub(super) rbuf: Vec<u8>,
    pub(super) sbuf: Vec<u8>,
    /// The second datagram buffer of a batch sent through an offload
    /// thread (one is filled while the other is sent).
    pub(super) spare: Vec<u8>,
    /// The thread that sends a batch's datagrams while the next is
    /// filled, once started (see [`Config::background_send`]).
    pub(super) offload: Option<super::offload::Offload>,
}

fn set_buffer(sock: &Socket, force: libc::c_int, plain: libc::c_int, size: usize) {
    let val = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    for opt in [force, plain] {
        // SAFETY: the descriptor is an open socket owned by `sock`; the
        // option value is a live c_int and `len` is its size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&val as *const libc::c_int).cast(),
                len,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

pub(super) fn open_socket(
    protocol: Protocol,
    netns: &Netns,
    peer: u32,
    config: &Config,
) -> io::Result<Socket> {
    let (rbuf, sbuf) = (config.recv_buffer, config.send_buffer);
    netns.run(move || -> io::Result<Socket> {
        let mut s = Socket::new(protocol.number())?;
        s.bind_auto()?;
        s.connect(&SocketAddr::new(peer, 0))?;
        s.set_non_blocking(true)?;
        // Older kernels lack these options; requests still work without them.
        let _ = s.set_ext_ack(true);
        let _ = s.set_cap_ack(true);
        set_buffer(&s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, rbuf);
        set_buffer(&s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, sbuf);
        Ok(s)
    })?
}

/// The shortest receive length that takes every dump part whole: one
/// page's worth, at most 8 KiB (the kernel's `NLMSG_GOODSIZE`, the size
/// of a dump part when the socket never received with a longer length,
/// is a little under that).
pub(super) fn min_recv_len() -> usize {
    static LEN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LEN.get_or_init(|| {
        // SAFETY: sysconf only reads a system constant; no pointers.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page).unwrap_or(4096).clamp(4096, 8192)
    })
}

/// Outcome of one non-blocking or bounded receive.
pub(super) enum Recv {
    Got(usize),
    WouldBlock,
}

impl Inner {
    pub(super) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Makes the socket usable from the current runtime: registers it with
    /// that runtime's reactor (again, when the connection is used from
    /// another runtime than before), or reopens it after a poisoning error.
    pub(super) fn ensure_async(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
    ) -> Result<()> {
        let runtime = reactor::current(context)?;
        let sock = match std::mem::replace(&mut self.sock, Sock::Closed) {
            Sock::Async(a, id) if id == runtime => {
                self.sock = Sock::Async(a, id);
                return Ok(());
            }
            Sock::Async(a, _) => a.into_inner(context)?,
            Sock::Raw(s) => s,
            Sock::Closed => {
                let s = open_socket(shared.protocol, &shared.netns, shared.peer, config)
                    .map_err(|e| Error::io(format!("{context}: reopen netlink socket"), e))?;
                shared
                    .counters
                    .sockets_opened
                    .fetch_add(1, Ordering::Relaxed);
                s
            }
        };
        self.sock = Sock::Async(reactor::register(sock, runtime, context)?, runtime);
        Ok(())
    }

    pub(super) async fn send(
        &self,
        shared: &Shared,
        config: &Config,
        context: &str,
        buf_is_sbuf: Option<&[u8]>,
    ) -> Result<()> {
        let Sock::Async(sock, _) = &self.sock else {
            return Err(Error::io(context, io::Error::other("socket not open")));
        };
        let buf: &[u8] = match buf_is_sbuf {
            Some(b) => b,
            None => &self.sbuf,
        };
        loop {
            match sock.get_ref().send(buf, 0) {
                Ok(n) if n == buf.len() => break,
                Ok(n) => {
                    return Err(Error::io(
                        context,
                        io::Error::other(format!("short netlink send: {n} of {} bytes", buf.len())),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match sock.ready(Interest::Write, Some(config.timeout)).await {
                        Ok(false) => {
                            return Err(Error::Timeout {
                                context: context.to_string(),
                                after: config.timeout,
                            });
                        }
                        // the send above is retried first in any case
                        Ok(true) => {}
                        Err(e) => return Err(Error::io(context, e)),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(context, e)),
            }
        }
        shared
            .counters
            .datagrams_sent
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Receives one datagram into `rbuf`. With `wait` false, returns
    /// `WouldBlock` instead of waiting.
    pub(super) async fn recv(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        wait: bool,
    ) -> Result<Recv> {
        let Sock::Async(sock, _) = &self.sock else {
            return Err(Error::io(context, io::Error::other("socket not open")));
        };
        let cap = self.rbuf.len();
        loop {
            shared.counters.recv_calls.fetch_add(1, Ordering::Relaxed);
            let mut slice: &mut [u8] = &mut self.rbuf[..];
            match sock.get_ref().recv(&mut slice, libc::MSG_TRUNC) {
                Ok(n) if n > cap => {
                    return Err(Error::Decode {
                        context: context.to_string(),
                        reason: format!("datagram of {n} bytes truncated to {cap}"),
                    });
                }
                Ok(n) => return Ok(Recv::Got(n)),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::Overrun {
                        context: context.to_string(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !wait {
                        return Ok(Recv::WouldBlock);
                    }
                    match sock.ready(Interest::Read, Some(config.timeout)).await {
                        Ok(false) => {
                            return Err(Error::Timeout {
                                context: context.to_string(),
                                after: config.timeout,
                            });
                        }
                        // the recv above is retried first in any case
                        Ok(true) => {}
                        Err(e) => return Err(Error::io(context, e)),
                    }
                }
                Err(e) => return Err(Error::io(context, e)),
            }
        }
    }
}
