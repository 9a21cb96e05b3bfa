//! Network namespaces: which one a socket is opened in, without moving the
//! calling thread.
//!
//! A netlink socket belongs to the network namespace of the thread that
//! created it, for its whole life. [`Netns::run`] creates sockets (or reads
//! per-namespace `/proc` files) on a short-lived helper thread that entered
//! the namespace, so the caller's threads never change namespace.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

/// A network namespace: the caller's own, or one named by a path or a file
/// descriptor.
///
/// Cloning is cheap (the descriptor is shared). The namespace stays alive at
/// least as long as a `Netns` naming it does.
///
/// ```no_run
/// use nl_engine::Netns;
/// let ns = Netns::from_path("/run/netns/blue")?;
/// // Everything opened through `ns` lives in "blue"; this thread does not move.
/// let loopback_up = ns.run(|| std::fs::read_to_string("/proc/thread-self/net/dev"))??;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Netns {
    fd: Option<Arc<OwnedFd>>,
}

impl Netns {
    /// The network namespace of the calling thread at the time of each use.
    pub fn current() -> Self {
        Netns { fd: None }
    }

    /// The namespace a path names: `/run/netns/NAME` (from `ip netns add`),
    /// `/proc/PID/ns/net`, or a bind mount of one.
    pub fn from_path(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = File::open(path.as_ref())?;
        Ok(Netns::from_fd(OwnedFd::from(file)))
    }

    /// The namespace a file descriptor refers to (as from opening
    /// `/proc/PID/ns/net`, or from `pidfd_open`). The descriptor is not
    /// checked here; a wrong one makes the first use fail with `EINVAL`.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Netns {
            fd: Some(Arc::new(fd)),
        }
    }

    /// Creates a new, empty network namespace (only a loopback interface,
    /// down), held open by the returned value and destroyed when the last
    /// clone and every socket opened in it are gone. Needs `CAP_SYS_ADMIN`.
    ///
    /// This is what every kernel test of this project uses: a throwaway
    /// namespace that leaves nothing behind.
    pub fn new_anonymous() -> io::Result<Self> {
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: unshare takes only a flag word; it moves only this
                // helper thread (which ends right after) into a new network
                // namespace and touches no memory of ours.
                let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                let f = File::open("/proc/thread-self/ns/net")?;
                Ok(Netns::from_fd(OwnedFd::from(f)))
            })
            .join()
            .map_err(|_| io::Error::other("namespace helper thread panicked"))?
        })
    }

    /// True when this names the caller's own namespace.
    pub fn is_current(&self) -> bool {
        self.fd.is_none()
    }

    /// The namespace's file descriptor, unless this is [`Netns::current`].
    pub fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_deref().map(AsFd::as_fd)
    }

    /// A path naming this namespace that other programs can open while this
    /// process lives (`/proc/PID/fd/N`), or `/proc/self/ns/net` for the
    /// current one. Useful to run a reference tool inside the namespace with
    /// `nsenter --net=PATH`.
    pub fn proc_path(&self) -> String {
        match &self.fd {
            Some(fd) => format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd()),
            None => "/proc/self/ns/net".to_string(),
        }
    }

    /// Runs `f` on a helper thread that has entered this namespace, and
    /// returns its result. The calling thread never changes namespace. For
    /// [`Netns::current`], `f` runs on the calling thread.
    ///
    /// Inside `f`, per-namespace `/proc` files are reached through
    /// `/proc/thread-self/net/...` and `/proc/sys/net/...`.
    pub fn run<F, R>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let Some(fd) = self.fd.as_deref() else {
            return Ok(f());
        };
        let raw = fd.as_raw_fd();
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: `raw` is borrowed from an OwnedFd that outlives
                // this scoped thread; setns only reads the descriptor and
                // moves this helper thread, which ends when `f` returns.
                let rc = unsafe { libc::setns(raw, libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .map_err(|_| io::Error::other("namespace helper thread panicked"))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_runs_inline() {
        let id = std::thread::current().id();
        let same = Netns::current()
            .run(|| std::thread::current().id() == id)
            .unwrap();
        assert!(same);
    }

    #[test]
    fn bad_path_is_an_error() {
        assert!(Netns::from_path("/nonexistent/netns").is_err());
    }
}
