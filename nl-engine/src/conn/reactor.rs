//! The one runtime-specific part of the engine: registering a socket with a
//! reactor, waiting (with an optional timeout) until it is readable or
//! writable, and telling which reactor a socket is registered with.
//!
//! Two implementations, chosen by cargo features: `tokio` (Tokio's
//! `AsyncFd` and `tokio::time::timeout`; a socket belongs to the runtime it
//! was registered in) and `smol` (async-io's `Async` and `Timer`; one
//! process-wide reactor, driven by any executor). With both, Tokio is used
//! where a Tokio runtime is current and async-io everywhere else.

use std::io;
use std::time::Duration;

use netlink_sys::Socket;

use crate::error::{Error, Result};

#[cfg(not(any(feature = "tokio", feature = "smol")))]
compile_error!(
    "nl-engine needs a runtime feature: `tokio` (the default) or `smol` \
     (for example `default-features = false, features = [\"smol\"]`)"
);

/// The lock that runs a connection's operations one at a time (both are
/// runtime-agnostic; Tokio's where Tokio is in the build anyway).
#[cfg(feature = "tokio")]
pub(super) type Mutex<T> = tokio::sync::Mutex<T>;
/// The lock that runs a connection's operations one at a time.
#[cfg(not(feature = "tokio"))]
pub(super) type Mutex<T> = async_lock::Mutex<T>;

/// The lock, when nobody holds it (no waiting).
#[cfg(feature = "tokio")]
pub(super) fn try_lock<T>(m: &Mutex<T>) -> Option<impl std::ops::DerefMut<Target = T> + '_> {
    m.try_lock().ok()
}
/// The lock, when nobody holds it (no waiting).
#[cfg(not(feature = "tokio"))]
pub(super) fn try_lock<T>(m: &Mutex<T>) -> Option<impl std::ops::DerefMut<Target = T> + '_> {
    m.try_lock()
}

/// The reactor a socket is registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReactorId {
    /// The reactor of the Tokio runtime with this id.
    #[cfg(feature = "tokio")]
    Tokio(tokio::runtime::Id),
    /// async-io's process-wide reactor.
    #[cfg(feature = "smol")]
    AsyncIo,
}

/// Readiness to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interest {
    /// Something to receive.
    Read,
    /// Room to send.
    Write,
}

/// The reactor of the calling task; an error (not a panic) where there is
/// none to use.
pub(super) fn current(context: &str) -> Result<ReactorId> {
    #[cfg(feature = "tokio")]
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        return Ok(ReactorId::Tokio(h.id()));
    }
    outside_tokio(context)
}

/// With `smol`: async-io's reactor serves any executor.
#[cfg(feature = "smol")]
fn outside_tokio(_context: &str) -> Result<ReactorId> {
    Ok(ReactorId::AsyncIo)
}

/// Tokio alone: no reactor outside a Tokio runtime.
#[cfg(not(feature = "smol"))]
fn outside_tokio(context: &str) -> Result<ReactorId> {
    Err(Error::io(
        context,
        io::Error::other(
            "netlink operations must run inside a Tokio runtime with I/O and time enabled \
             (or build nl-engine with the `smol` feature to use any executor)",
        ),
    ))
}

/// A socket registered with a reactor.
pub(super) enum Registered {
    /// With a Tokio runtime's reactor.
    #[cfg(feature = "tokio")]
    Tokio(tokio::io::unix::AsyncFd<Socket>),
    /// With async-io's reactor.
    #[cfg(feature = "smol")]
    AsyncIo(async_io::Async<Socket>),
}

/// Registers the socket with the reactor `id` (from [`current`], in the
/// same task).
pub(super) fn register(sock: Socket, id: ReactorId, context: &str) -> Result<Registered> {
    match id {
        #[cfg(feature = "tokio")]
        ReactorId::Tokio(_) => {
            // SAFETY: `Socket` owns its descriptor, returns that same
            // descriptor from every `as_raw_fd` call, and closes it only when
            // dropped, which happens only after the `AsyncFd` that owns it is
            // dropped.
            let fd = unsafe { tokio::io::unix::AsyncFd::register(sock) }
                .map_err(|e| Error::io(context, io::Error::from(e)))?;
            Ok(Registered::Tokio(fd))
        }
        #[cfg(feature = "smol")]
        ReactorId::AsyncIo => async_io::Async::new(sock)
            .map(Registered::AsyncIo)
            .map_err(|e| Error::io(context, e)),
    }
}

impl Registered {
    /// The socket, for the non-blocking system calls.
    pub(super) fn get_ref(&self) -> &Socket {
        match self {
            #[cfg(feature = "tokio")]
            Registered::Tokio(fd) => fd.get_ref(),
            #[cfg(feature = "smol")]
            Registered::AsyncIo(a) => a.get_ref(),
        }
    }

    /// The socket, deregistered (to be registered with another reactor).
    pub(super) fn into_inner(self, context: &str) -> Result<Socket> {
        let _ = context; // used by async-io's fallible deregistration only
        match self {
            #[cfg(feature = "tokio")]
            Registered::Tokio(fd) => Ok(fd.into_inner()),
            #[cfg(feature = "smol")]
            Registered::AsyncIo(a) => a.into_inner().map_err(|e| Error::io(context, e)),
        }
    }

    /// Waits until the socket is ready for `interest`, at most `timeout`
    /// (forever with `None`): `Ok(true)` when ready, `Ok(false)` when the
    /// time ran out. A readiness may be spurious: the caller retries its
    /// system call and waits again on `WouldBlock`.
    pub(super) async fn ready(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        match self {
            #[cfg(feature = "tokio")]
            Registered::Tokio(fd) => {
                let wait = async {
                    let mut guard = match interest {
                        Interest::Read => fd.readable().await?,
                        Interest::Write => fd.writable().await?,
                    };
                    // Readiness is cleared so the next wait really waits.
                    guard.clear_ready();
                    Ok(true)
                };
                match timeout {
                    Some(t) => tokio::time::timeout(t, wait).await.unwrap_or(Ok(false)),
                    None => wait.await,
                }
            }
            #[cfg(feature = "smol")]
            Registered::AsyncIo(a) => {
                let wait = async {
                    match interest {
                        Interest::Read => a.readable().await?,
                        Interest::Write => a.writable().await?,
                    }
                    Ok(true)
                };
                match timeout {
                    Some(t) => {
                        let expire = async {
                            async_io::Timer::after(t).await;
                            Ok(false)
                        };
                        futures_lite::future::or(wait, expire).await
                    }
                    None => wait.await,
                }
            }
        }
    }
}
