//! [`Subscription`]: a socket joined to multicast groups, receiving the
//! kernel's unsolicited notifications.

use std::io;

use netlink_packet_core::{NetlinkDeserializable, NetlinkHeader};

use super::reactor::{self, Interest};
use super::socket::{Sock, open_socket};
use super::{Config, Connection, Protocol};
use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::wire::{Messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};

/// One unsolicited message received by a [`Subscription`]: its header
/// (the sequence number and port of the request that caused it, when the
/// kernel sets them) and its payload after the 16-byte netlink header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The netlink header.
    pub header: NetlinkHeader,
    /// The payload (family header and attributes).
    pub payload: Vec<u8>,
}

impl Notification {
    /// Decodes the payload as the family's message type `I`.
    pub fn decode<I: NetlinkDeserializable>(&self) -> std::result::Result<I, String> {
        I::deserialize(&self.header, &self.payload).map_err(|e| e.to_string())
    }
}

/// A netlink socket of its own joined to multicast groups
/// (`NETLINK_ADD_MEMBERSHIP`), for the notifications the kernel sends
/// there: rtnetlink's link and address changes, nf_tables' ruleset
/// changes (`NFNLGRP_NFTABLES`), conntrack events, ...
///
/// It never sends anything. Notifications are queued by the kernel in the
/// socket's receive buffer ([`Config::recv_buffer`]); when it overflows,
/// the kernel drops them and [`Subscription::recv`] reports
/// [`Error::Overrun`] once: the listener missed changes and should read
/// the state afresh. The notifications queued before the loss are still
/// delivered after it, and the subscription goes on.
///
/// ```no_run
/// use nl_engine::{Connection, Netns, Protocol};
/// # async fn f() -> nl_engine::Result<()> {
/// // RTNLGRP_LINK (1): link changes
/// let conn = Connection::open(Protocol::Route, &Netns::current())?;
/// let mut sub = conn.subscribe(&[1])?;
/// let n = sub.recv().await?;
/// println!("message type {}", n.header.message_type);
/// # Ok(()) }
/// ```
pub struct Subscription {
    sock: Sock,
    protocol: Protocol,
    netns: Netns,
    groups: Vec<u32>,
    rbuf: Vec<u8>,
    pending: std::collections::VecDeque<Notification>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("protocol", &self.protocol)
            .field("netns", &self.netns)
            .field("groups", &self.groups)
            .finish()
    }
}

impl Connection {
    /// A [`Subscription`] to `groups` (multicast group numbers of this
    /// connection's protocol, e.g. `NFNLGRP_NFTABLES` 7 for netfilter) on
    /// a new socket in this connection's namespace, with its tunables.
    pub fn subscribe(&self, groups: &[u32]) -> Result<Subscription> {
        Subscription::open(
            self.shared.protocol,
            &self.shared.netns,
            groups,
            self.config,
        )
    }
}

impl Subscription {
    /// Opens a socket of `protocol` in `netns` joined to `groups`.
    ///
    /// Fails with [`Error::Io`] when the socket cannot be created or a
    /// group cannot be joined (an unknown group, or one that needs a
    /// privilege the caller lacks).
    pub fn open(protocol: Protocol, netns: &Netns, groups: &[u32], config: Config) -> Result<Self> {
        let ctx = || format!("subscribe to netlink groups {groups:?} ({protocol:?})");
        let sock = open_socket(protocol, netns, 0, &config).map_err(|e| Error::io(ctx(), e))?;
        for g in groups {
            sock.add_membership(*g)
                .map_err(|e| Error::io(format!("{}: join group {g}", ctx()), e))?;
        }
        Ok(Subscription {
            sock: Sock::Raw(sock),
            protocol,
            netns: netns.clone(),
            groups: groups.to_vec(),
            rbuf: vec![0; 256 * 1024],
            pending: std::collections::VecDeque::new(),
        })
    }

    /// The groups joined.
    pub fn groups(&self) -> &[u32] {
        &self.groups
    }

    /// The namespace the socket lives in.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// The next notification, waiting as long as it takes (bound the wait
    /// with `tokio::time::timeout` or a race with `async_io::Timer` if
    /// needed; dropping the future loses nothing). [`Error::Overrun`] when the kernel had to drop
    /// notifications since the last call (the socket stays usable);
    /// [`Error::Decode`] for a malformed datagram.
    pub async fn recv(&mut self) -> Result<Notification> {
        let context = "receive netlink notification";
        loop {
            if let Some(n) = self.pending.pop_front() {
                return Ok(n);
            }
            let runtime = reactor::current(context)?;
            let sock = match std::mem::replace(&mut self.sock, Sock::Closed) {
                Sock::Async(a, id) if id == runtime => Sock::Async(a, id),
                Sock::Async(a, _) => Sock::Async(
                    reactor::register(a.into_inner(context)?, runtime, context)?,
                    runtime,
                ),
                Sock::Raw(s) => Sock::Async(reactor::register(s, runtime, context)?, runtime),
                Sock::Closed => {
                    return Err(Error::io(context, io::Error::other("socket not open")));
                }
            };
            self.sock = sock;
            let Sock::Async(sock, _) = &self.sock else {
                continue;
            };
            let cap = self.rbuf.len();
            let mut slice: &mut [u8] = &mut self.rbuf[..];
            let n = match sock.get_ref().recv(&mut slice, libc::MSG_TRUNC) {
                Ok(n) if n > cap => {
                    return Err(Error::Decode {
                        context: context.to_string(),
                        reason: format!("datagram of {n} bytes truncated to {cap}"),
                    });
                }
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::Overrun {
                        context: context.to_string(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = sock.ready(Interest::Read, None).await {
                        return Err(Error::io(context, e));
                    }
                    continue;
                }
                Err(e) => return Err(Error::io(context, e)),
            };
            for m in Messages::new(self.rbuf.get(..n).unwrap_or_default()) {
                let m = m.map_err(|reason| Error::Decode {
                    context: context.to_string(),
                    reason,
                })?;
                match m.header.message_type {
                    NLMSG_NOOP | NLMSG_DONE | NLMSG_ERROR => {}
                    NLMSG_OVERRUN => {
                        return Err(Error::Overrun {
                            context: context.to_string(),
                        });
                    }
                    _ => self.pending.push_back(Notification {
                        header: m.header,
                        payload: m.payload.to_vec(),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A subscription to rtnetlink's link group (RTNLGRP_LINK, 1) in a
    /// throwaway namespace sees the links `ip` adds there.
    #[test]
    fn subscription_receives_multicast_notifications() {
        let ns = Netns::new_anonymous().expect("new network namespace (root needed)");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conn = Connection::open(Protocol::Route, &ns).unwrap();
            let mut sub = conn.subscribe(&[1]).unwrap();
            assert_eq!(sub.groups(), &[1]);
            let st = std::process::Command::new("nsenter")
                .arg(format!("--net={}", ns.proc_path()))
                .args(["ip", "link", "add", "sub-test0", "type", "veth"])
                .args(["peer", "name", "sub-test1"])
                .status()
                .unwrap();
            assert!(st.success());
            // An RTM_NEWLINK (16) naming each end of the pair.
            let mut seen = Vec::new();
            while seen.len() < 2 {
                let n = tokio::time::timeout(Duration::from_secs(5), sub.recv())
                    .await
                    .expect("notifications within 5 s")
                    .unwrap();
                assert_eq!(n.header.message_type, 16);
                for name in [&b"sub-test0\0"[..], &b"sub-test1\0"[..]] {
                    if n.payload.windows(name.len()).any(|w| w == name) && !seen.contains(&name) {
                        seen.push(name);
                    }
                }
            }
        });
        // An unknown group is refused when joined.
        assert!(Subscription::open(Protocol::Route, &ns, &[9999], Config::default()).is_err());
    }
}
