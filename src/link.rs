//! Interfaces and addresses through rtnetlink (netlink-packet-route on the
//! project's one netlink engine): what the service setup needs to put
//! virtual IPs on a dummy interface.
//!
//! ```no_run
//! use clusterip::link::LinkHandle;
//! # async fn f() -> clusterip::netlink::Result<()> {
//! let links = LinkHandle::new()?;
//! let (svc, _created) = links.ensure_dummy("svc").await?;
//! links.set_up(svc).await?;
//! links.add_address(svc, "169.254.11.2".parse().unwrap(), 32).await?;
//! # Ok(()) }
//! ```

use std::net::IpAddr;

use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use nl_engine::netlink_packet_core::{
    NLM_F_CREATE, NLM_F_EXCL, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use nl_engine::{Connection, Error, Netns, Protocol, Result};

fn message(inner: RouteNetlinkMessage, flags: u16) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner))
}

/// An address on an interface, with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceAddress {
    /// The address.
    pub address: IpAddr,
    /// The prefix length (32 for a single IPv4 address).
    pub prefix_len: u8,
}

/// Interfaces and addresses of one network namespace.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    conn: Connection,
}

impl LinkHandle {
    /// A handle on the caller's network namespace.
    pub fn new() -> Result<Self> {
        Self::in_netns(&Netns::current())
    }

    /// A handle on another network namespace.
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        Ok(LinkHandle {
            conn: Connection::open(Protocol::Route, netns)?,
        })
    }

    /// The index of the interface called `name`, if it exists.
    pub async fn index(&self, name: &str) -> Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let ctx = format!("get interface {name}");
        match self
            .conn
            .request(&ctx, message(RouteNetlinkMessage::GetLink(m), 0))
            .await
        {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes sure a dummy interface called `name` exists; returns its index
    /// and whether it was created now.
    pub async fn ensure_dummy(&self, name: &str) -> Result<(u32, bool)> {
        if let Some(i) = self.index(name).await? {
            return Ok((i, false));
        }
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Dummy,
            )]));
        let ctx = format!("create dummy interface {name}");
        match self
            .conn
            .ack(
                &ctx,
                message(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL),
            )
            .await
        {
            Ok(()) | Err(Error::Exists { .. }) => {}
            Err(Error::Kernel { context, detail }) if detail.errno == libc::EOPNOTSUPP => {
                return Err(Error::Unsupported {
                    context,
                    what: "the dummy interface type".into(),
                    hint: "load the dummy module (modprobe dummy)".into(),
                });
            }
            Err(e) => return Err(e),
        }
        let index = self.index(name).await?.ok_or_else(|| Error::Decode {
            context: ctx,
            reason: "the interface is missing right after its creation".into(),
        })?;
        Ok((index, true))
    }

    /// Deletes the interface with this index.
    pub async fn delete(&self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.conn
            .ack(
                &format!("delete interface {index}"),
                message(RouteNetlinkMessage::DelLink(m), 0),
            )
            .await
    }

    /// Sets the interface administratively up.
    pub async fn set_up(&self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.conn
            .ack(
                &format!("set interface {index} up"),
                message(RouteNetlinkMessage::SetLink(m), 0),
            )
            .await
    }

    /// True when the interface is administratively up.
    pub async fn is_up(&self, index: u32) -> Result<bool> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let replies = self
            .conn
            .request(
                &format!("get interface {index}"),
                message(RouteNetlinkMessage::GetLink(m), 0),
            )
            .await?;
        Ok(replies.iter().any(|r| {
            matches!(r, RouteNetlinkMessage::NewLink(l) if l.header.flags.contains(LinkFlags::Up))
        }))
    }

    /// The addresses on the interface with this index, sorted.
    pub async fn addresses(&self, index: u32) -> Result<Vec<InterfaceAddress>> {
        let dump = self
            .conn
            .dump(
                "list addresses",
                message(
                    RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                    0,
                ),
            )
            .await?;
        let mut out: Vec<InterfaceAddress> = dump
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => {
                    let prefix_len = a.header.prefix_len;
                    // IFA_LOCAL is the interface's own address; IPv6 sends
                    // it only on point-to-point links, IFA_ADDRESS otherwise.
                    let (mut local, mut address) = (None, None);
                    for at in a.attributes {
                        match at {
                            AddressAttribute::Local(ip) => local = Some(ip),
                            AddressAttribute::Address(ip) => address = Some(ip),
                            _ => {}
                        }
                    }
                    local.or(address).map(|address| InterfaceAddress {
                        address,
                        prefix_len,
                    })
                }
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn address_message(index: u32, address: IpAddr, prefix_len: u8) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = match address {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        m.header.prefix_len = prefix_len;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(address));
        m.attributes.push(AddressAttribute::Address(address));
        if address.is_ipv6() {
            // A service address must be usable at once: no duplicate
            // address detection (the address is tentative until DAD ends).
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        m
    }

    /// Adds `address/prefix_len` to the interface; returns false when it was
    /// already there.
    pub async fn add_address(&self, index: u32, address: IpAddr, prefix_len: u8) -> Result<bool> {
        let m = Self::address_message(index, address, prefix_len);
        let ctx = format!("add address {address}/{prefix_len} to interface {index}");
        match self
            .conn
            .ack(
                &ctx,
                message(
                    RouteNetlinkMessage::NewAddress(m),
                    NLM_F_CREATE | NLM_F_EXCL,
                ),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(Error::Exists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes `address/prefix_len` from the interface.
    pub async fn del_address(&self, index: u32, address: IpAddr, prefix_len: u8) -> Result<()> {
        let m = Self::address_message(index, address, prefix_len);
        let ctx = format!("delete address {address}/{prefix_len} from interface {index}");
        self.conn
            .ack(&ctx, message(RouteNetlinkMessage::DelAddress(m), 0))
            .await
    }

    /// True when the kernel routes `address` locally (`ip route get ADDR`
    /// says `local`): it is one of this namespace's own addresses.
    pub async fn is_local(&self, address: IpAddr) -> Result<bool> {
        let mut m = RouteMessage::default();
        m.header.address_family = match address {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        m.header.destination_prefix_length = if address.is_ipv4() { 32 } else { 128 };
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(address)));
        let ctx = format!("route lookup of {address}");
        match self.conn.request(&ctx, message(RouteNetlinkMessage::GetRoute(m), 0)).await {
            Ok(replies) => Ok(replies.iter().any(|r| {
                matches!(r, RouteNetlinkMessage::NewRoute(rt) if rt.header.kind == RouteType::Local)
            })),
            // No route at all (e.g. nothing configured yet): not local.
            Err(Error::Kernel { detail, .. }) if detail.errno == libc::ENETUNREACH => Ok(false),
            Err(e) => Err(e),
        }
    }
}
