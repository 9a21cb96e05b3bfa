//! The IPVS connection table, read from `/proc/net/ip_vs_conn` of a
//! namespace (the kernel offers it over no netlink family).
//!
//! Format (`ip_vs_conn_seq_show` in `net/netfilter/ipvs/ip_vs_conn.c`): a
//! header line, then per connection protocol, client, virtual and
//! destination address and port, state, seconds to expiry, and optionally
//! the persistence engine's name and data. IPv4 addresses and all ports are
//! hexadecimal; IPv6 addresses are printed in full.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use nl_engine::Netns;

use crate::service::Protocol;
use crate::{Error, Result};

/// The state of a connection (the TCP states by their kernel names;
/// `UDP` for UDP; SCTP and others as [`ConnState::Other`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnState {
    /// `NONE` (also persistence templates)
    None,
    /// `ESTABLISHED`
    Established,
    /// `SYN_SENT`
    SynSent,
    /// `SYN_RECV`
    SynRecv,
    /// `FIN_WAIT`
    FinWait,
    /// `TIME_WAIT`
    TimeWait,
    /// `CLOSE`
    Close,
    /// `CLOSE_WAIT`
    CloseWait,
    /// `LAST_ACK`
    LastAck,
    /// `LISTEN`
    Listen,
    /// `SYNACK`
    SynAck,
    /// `UDP`
    Udp,
    /// Any other state name.
    Other(String),
}

impl ConnState {
    /// The state called `name` in the table.
    pub fn from_name(name: &str) -> Self {
        match name {
            "NONE" => ConnState::None,
            "ESTABLISHED" => ConnState::Established,
            "SYN_SENT" => ConnState::SynSent,
            "SYN_RECV" => ConnState::SynRecv,
            "FIN_WAIT" => ConnState::FinWait,
            "TIME_WAIT" => ConnState::TimeWait,
            "CLOSE" => ConnState::Close,
            "CLOSE_WAIT" => ConnState::CloseWait,
            "LAST_ACK" => ConnState::LastAck,
            "LISTEN" => ConnState::Listen,
            "SYNACK" => ConnState::SynAck,
            "UDP" => ConnState::Udp,
            other => ConnState::Other(other.to_owned()),
        }
    }

    /// The kernel's name of the state.
    pub fn name(&self) -> &str {
        match self {
            ConnState::None => "NONE",
            ConnState::Established => "ESTABLISHED",
            ConnState::SynSent => "SYN_SENT",
            ConnState::SynRecv => "SYN_RECV",
            ConnState::FinWait => "FIN_WAIT",
            ConnState::TimeWait => "TIME_WAIT",
            ConnState::Close => "CLOSE",
            ConnState::CloseWait => "CLOSE_WAIT",
            ConnState::LastAck => "LAST_ACK",
            ConnState::Listen => "LISTEN",
            ConnState::SynAck => "SYNACK",
            ConnState::Udp => "UDP",
            ConnState::Other(s) => s,
        }
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of the connection table (a connection, or a persistence
/// template: client port 0, state `NONE`).
///
/// ```no_run
/// use ipvs_nl::{ConnFilter, IpvsHandle};
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = IpvsHandle::new().await?;
/// let filter = ConnFilter::new().virtual_addr("10.0.0.1:80".parse().unwrap());
/// for c in ipvs.connections(&filter)? {
///     println!("{} {} -> {} -> {} {} {:?}", c.protocol, c.client, c.virtual_addr, c.destination, c.state, c.expires);
/// }
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnEntry {
    /// The protocol.
    pub protocol: Protocol,
    /// The client's address and port.
    pub client: SocketAddr,
    /// The virtual (service) address and port.
    pub virtual_addr: SocketAddr,
    /// The destination chosen.
    pub destination: SocketAddr,
    /// The state.
    pub state: ConnState,
    /// Time left before the entry expires.
    #[cfg_attr(feature = "serde", serde(with = "nl_engine::serde_support::secs"))]
    pub expires: Duration,
    /// The persistence engine's name (e.g. `sip`), if any.
    pub pe_name: Option<String>,
    /// The persistence engine's data (e.g. the SIP Call-ID), if any.
    pub pe_data: Option<String>,
}

impl ConnEntry {
    /// True for a persistence template (client port 0, no traffic of its own).
    pub fn is_template(&self) -> bool {
        self.client.port() == 0
    }
}

/// Which entries [`read`] keeps (every set criterion must match).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnFilter {
    /// Only this protocol.
    pub protocol: Option<Protocol>,
    /// Only this virtual address and port (a service).
    pub virtual_addr: Option<SocketAddr>,
    /// Only this destination address.
    pub destination: Option<IpAddr>,
    /// Only this destination port (with `destination`, one destination).
    pub destination_port: Option<u16>,
    /// Only this client address.
    pub client: Option<IpAddr>,
}

impl ConnFilter {
    /// Matches everything.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only `protocol` connections to `vaddr` (one service).
    pub fn service(mut self, protocol: Protocol, vaddr: SocketAddr) -> Self {
        self.protocol = Some(protocol);
        self.virtual_addr = Some(vaddr);
        self
    }
    /// Only connections to this virtual address and port.
    pub fn virtual_addr(mut self, vaddr: SocketAddr) -> Self {
        self.virtual_addr = Some(vaddr);
        self
    }
    /// Only this protocol.
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.protocol = Some(p);
        self
    }
    /// Only connections scheduled to this destination.
    pub fn destination(mut self, addr: SocketAddr) -> Self {
        self.destination = Some(addr.ip());
        self.destination_port = Some(addr.port());
        self
    }
    /// Only connections scheduled to this destination address (any port).
    pub fn destination_ip(mut self, addr: IpAddr) -> Self {
        self.destination = Some(addr);
        self
    }
    /// Only connections from this client address.
    pub fn client(mut self, addr: IpAddr) -> Self {
        self.client = Some(addr);
        self
    }

    /// True when `e` passes.
    pub fn matches(&self, e: &ConnEntry) -> bool {
        self.protocol.is_none_or(|p| p == e.protocol)
            && self.virtual_addr.is_none_or(|v| v == e.virtual_addr)
            && self.destination.is_none_or(|d| d == e.destination.ip())
            && self
                .destination_port
                .is_none_or(|p| p == e.destination.port())
            && self.client.is_none_or(|c| c == e.client.ip())
    }
}

fn protocol_of(name: &str) -> Option<Protocol> {
    Some(match name {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        "ICMP" => Protocol::Other(1),
        "ICMPv6" => Protocol::Other(58),
        other => Protocol::Other(other.strip_prefix("IP_")?.parse().ok()?),
    })
}

fn addr_of(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16)
        .ok()
        .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
}

fn port_of(s: &str) -> Option<u16> {
    u16::from_str_radix(s, 16).ok()
}

/// Parses one line of the table (not the header).
pub fn parse_line(line: &str) -> Option<ConnEntry> {
    let mut t = line.split_whitespace();
    let protocol = protocol_of(t.next()?)?;
    let sock = |t: &mut std::str::SplitWhitespace<'_>| -> Option<SocketAddr> {
        let a = addr_of(t.next()?)?;
        let p = port_of(t.next()?)?;
        Some(SocketAddr::new(a, p))
    };
    let client = sock(&mut t)?;
    let virtual_addr = sock(&mut t)?;
    let destination = sock(&mut t)?;
    let state = ConnState::from_name(t.next()?);
    let expires = Duration::from_secs(t.next()?.parse().ok()?);
    let pe_name = t.next().map(str::to_owned);
    let rest: Vec<&str> = t.collect();
    let pe_data = if rest.is_empty() {
        None
    } else {
        Some(rest.join(" "))
    };
    Some(ConnEntry {
        protocol,
        client,
        virtual_addr,
        destination,
        state,
        expires,
        pe_name,
        pe_data,
    })
}

/// Parses the whole text of `/proc/net/ip_vs_conn`.
pub fn parse(text: &str) -> Result<Vec<ConnEntry>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with("Pro ") {
            continue;
        }
        let e = parse_line(line).ok_or_else(|| Error::Decode {
            context: "read /proc/net/ip_vs_conn".into(),
            reason: format!("line {}: cannot parse {line:?}", n + 1),
        })?;
        out.push(e);
    }
    Ok(out)
}

/// Reads and filters the connection table of `netns`.
pub fn read(netns: &Netns, filter: &ConnFilter) -> Result<Vec<ConnEntry>> {
    let ctx = "read /proc/net/ip_vs_conn";
    let text = netns
        .run(|| std::fs::read_to_string("/proc/thread-self/net/ip_vs_conn"))
        .map_err(|e| Error::io(ctx, e))?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Unsupported {
                    context: ctx.into(),
                    what: "the IPVS connection table".into(),
                    hint: "no IPVS in this kernel: load ip_vs".into(),
                }
            } else {
                Error::io(ctx, e)
            }
        })?;
    Ok(parse(&text)?
        .into_iter()
        .filter(|e| filter.matches(e))
        .collect())
}

impl fmt::Display for ConnEntry {
    /// A line of `ipvsadm -Lcn` (protocol, expiry as mm:ss, state, client,
    /// virtual address, destination, in its columns), then the
    /// persistence engine and its data when there are any (as with
    /// `--persistent-conn`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.protocol {
            Protocol::Other(1) => "ICMP".to_string(),
            Protocol::Other(58) => "ICMPv6".to_string(),
            p => p.to_string(),
        };
        let secs = self.expires.as_secs();
        let expires = format!("{:02}:{:02}", secs / 60, secs % 60);
        let (client, virt, dest) = (
            self.client.to_string(),
            self.virtual_addr.to_string(),
            self.destination.to_string(),
        );
        let state = self.state.name();
        match (&self.pe_name, &self.pe_data) {
            (Some(n), Some(d)) => write!(
                f,
                "{proto:<3} {expires:<6} {state:<11} {client:<18} {virt:<18} {dest:<16} {n:<18} {d}"
            ),
            _ => write!(
                f,
                "{proto:<3} {expires:<6} {state:<11} {client:<18} {virt:<18} {dest}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/net/ip_vs_conn` of a namespace of the uml guest (Debian 6.1)
    /// after a UDP datagram to 10.0.0.1:9999 and to [2001:db8::1]:53 and a
    /// TCP connect to the persistent service 10.0.0.1:80, sent from inside
    /// the namespace (`tests/golden/conntest.sh`, run as `tools/guest --kernel uml -- unshare -n bash ipvs/tests/golden/conntest.sh`).
    const CAPTURED: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A000001 0000 0A000001 0050 C0A80703 0050 NONE             98
UDP 0A000001 DA16 0A000001 270F C0A80702 1E61 UDP             298
UDP 2001:0db8:0000:0000:0000:0000:0000:0001 D3A1 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0007:0000:0000:0000:0000:0002 14E9 UDP             298
TCP 0A000001 900A 0A000001 0050 C0A80703 0050 SYN_RECV         58
";

    #[test]
    fn parses_captured_table() {
        let all = parse(CAPTURED).unwrap();
        assert_eq!(all.len(), 4);
        let t = &all[0];
        assert!(t.is_template());
        assert_eq!(t.protocol, Protocol::Tcp);
        assert_eq!(t.state, ConnState::None);
        assert_eq!(t.client, "10.0.0.1:0".parse().unwrap());
        assert_eq!(t.destination, "192.168.7.3:80".parse().unwrap());
        assert_eq!(t.expires, Duration::from_secs(98));
        let u = &all[1];
        assert_eq!(u.client, "10.0.0.1:55830".parse().unwrap());
        assert_eq!(u.virtual_addr, "10.0.0.1:9999".parse().unwrap());
        assert_eq!(u.destination, "192.168.7.2:7777".parse().unwrap());
        assert_eq!(u.state, ConnState::Udp);
        assert_eq!(u.pe_name, None);
        let v6 = &all[2];
        assert_eq!(v6.client, "[2001:db8::1]:54177".parse().unwrap());
        assert_eq!(v6.destination, "[2001:db8:7::2]:5353".parse().unwrap());
        assert_eq!(all[3].state, ConnState::SynRecv);

        let f = ConnFilter::new().service(Protocol::Tcp, "10.0.0.1:80".parse().unwrap());
        assert_eq!(all.iter().filter(|e| f.matches(e)).count(), 2);
        let f = ConnFilter::new().destination("192.168.7.2:7777".parse().unwrap());
        assert_eq!(all.iter().filter(|e| f.matches(e)).count(), 1);
        let f = ConnFilter::new().client("2001:db8::1".parse().unwrap());
        assert_eq!(all.iter().filter(|e| f.matches(e)).count(), 1);
        let f = ConnFilter::new().destination_ip("192.168.7.3".parse().unwrap());
        assert_eq!(all.iter().filter(|e| f.matches(e)).count(), 2);
    }

    #[test]
    fn pe_data_and_bad_lines() {
        let l = "UDP 0A000001 13C4 0A000003 13C4 C0A80702 13C4 UDP             170 sip abc@host";
        let e = parse_line(l).unwrap();
        assert_eq!(e.pe_name.as_deref(), Some("sip"));
        assert_eq!(e.pe_data.as_deref(), Some("abc@host"));
        assert!(parse("TCP zz").is_err());
        assert!(parse_line("TCP 0A00000 0000 0A000001 0050 C0A80703 0050 NONE 1").is_none());
        assert_eq!(
            parse_line("IP_47 0A000001 0000 0A000001 0050 C0A80703 0050 NONE 1")
                .unwrap()
                .protocol,
            Protocol::Other(47)
        );
    }
}
