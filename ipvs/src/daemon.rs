//! Connection synchronisation daemons (`IPVS_CMD_ATTR_DAEMON` nest): how
//! several directors share connection state, by the kernel's own multicast
//! protocol.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::Nla;
use nl_engine::wire::Attr;
use nl_engine::{DecodeError, RawAttr};

use crate::attr;
use crate::consts::*;
use crate::{Error, Result};

/// The role of a sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DaemonState {
    /// Sends this director's connections.
    Master,
    /// Receives the connections of a master.
    Backup,
    /// Any other value.
    Other(u32),
}

impl DaemonState {
    /// The `IP_VS_STATE_*` value.
    pub fn number(self) -> u32 {
        match self {
            DaemonState::Master => IP_VS_STATE_MASTER,
            DaemonState::Backup => IP_VS_STATE_BACKUP,
            DaemonState::Other(n) => n,
        }
    }
}

impl From<u32> for DaemonState {
    fn from(n: u32) -> Self {
        match n {
            IP_VS_STATE_MASTER => DaemonState::Master,
            IP_VS_STATE_BACKUP => DaemonState::Backup,
            n => DaemonState::Other(n),
        }
    }
}

impl fmt::Display for DaemonState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonState::Master => f.write_str("master"),
            DaemonState::Backup => f.write_str("backup"),
            DaemonState::Other(n) => write!(f, "state-{n}"),
        }
    }
}

/// One attribute of the daemon nest (`IPVS_DAEMON_ATTR_*`), as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaemonAttr {
    /// `IPVS_DAEMON_ATTR_STATE` (u32)
    State(u32),
    /// `IPVS_DAEMON_ATTR_MCAST_IFN` (string)
    McastIfn(String),
    /// `IPVS_DAEMON_ATTR_SYNC_ID` (u32)
    SyncId(u32),
    /// `IPVS_DAEMON_ATTR_SYNC_MAXLEN` (u16)
    SyncMaxLen(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP` (IPv4, network order)
    McastGroup(Ipv4Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP6` (IPv6)
    McastGroup6(Ipv6Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_PORT` (u16, host order)
    McastPort(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_TTL` (u8)
    McastTtl(u8),
    /// Any other attribute, kept as received.
    Other(RawAttr),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        match self {
            DaemonAttr::State(_) | DaemonAttr::SyncId(_) | DaemonAttr::McastGroup(_) => 4,
            DaemonAttr::McastIfn(s) => s.len() + 1,
            DaemonAttr::SyncMaxLen(_) | DaemonAttr::McastPort(_) => 2,
            DaemonAttr::McastGroup6(_) => 16,
            DaemonAttr::McastTtl(_) => 1,
            DaemonAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            DaemonAttr::State(_) => IPVS_DAEMON_ATTR_STATE,
            DaemonAttr::McastIfn(_) => IPVS_DAEMON_ATTR_MCAST_IFN,
            DaemonAttr::SyncId(_) => IPVS_DAEMON_ATTR_SYNC_ID,
            DaemonAttr::SyncMaxLen(_) => IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            DaemonAttr::McastGroup(_) => IPVS_DAEMON_ATTR_MCAST_GROUP,
            DaemonAttr::McastGroup6(_) => IPVS_DAEMON_ATTR_MCAST_GROUP6,
            DaemonAttr::McastPort(_) => IPVS_DAEMON_ATTR_MCAST_PORT,
            DaemonAttr::McastTtl(_) => IPVS_DAEMON_ATTR_MCAST_TTL,
            DaemonAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            DaemonAttr::State(v) | DaemonAttr::SyncId(v) => attr::put(buffer, &v.to_ne_bytes()),
            DaemonAttr::McastIfn(s) => attr::put(buffer, &attr::cstr(s)),
            DaemonAttr::SyncMaxLen(v) | DaemonAttr::McastPort(v) => {
                attr::put(buffer, &v.to_ne_bytes())
            }
            DaemonAttr::McastGroup(a) => attr::put(buffer, &a.octets()),
            DaemonAttr::McastGroup6(a) => attr::put(buffer, &a.octets()),
            DaemonAttr::McastTtl(v) => attr::put(buffer, &[*v]),
            DaemonAttr::Other(n) => n.emit_value(buffer),
        }
    }
}

impl DaemonAttr {
    /// Parses one attribute of a daemon nest.
    pub fn parse(buf: &Attr<'_>) -> std::result::Result<Self, DecodeError> {
        let v = buf.value;
        Ok(match buf.kind() {
            IPVS_DAEMON_ATTR_STATE => DaemonAttr::State(attr::u32_ne(v, "daemon state")?),
            IPVS_DAEMON_ATTR_MCAST_IFN => DaemonAttr::McastIfn(attr::string(v, "interface")?),
            IPVS_DAEMON_ATTR_SYNC_ID => DaemonAttr::SyncId(attr::u32_ne(v, "sync id")?),
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => DaemonAttr::SyncMaxLen(attr::u16_ne(v, "maxlen")?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => match <[u8; 4]>::try_from(v) {
                Ok(b) => DaemonAttr::McastGroup(Ipv4Addr::from(b)),
                Err(_) => DaemonAttr::Other(attr::unknown(buf)),
            },
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => match <[u8; 16]>::try_from(v) {
                Ok(b) => DaemonAttr::McastGroup6(Ipv6Addr::from(b)),
                Err(_) => DaemonAttr::Other(attr::unknown(buf)),
            },
            IPVS_DAEMON_ATTR_MCAST_PORT => DaemonAttr::McastPort(attr::u16_ne(v, "mcast port")?),
            IPVS_DAEMON_ATTR_MCAST_TTL => DaemonAttr::McastTtl(attr::u8_ne(v, "mcast ttl")?),
            _ => DaemonAttr::Other(attr::unknown(buf)),
        })
    }

    /// Parses a whole daemon nest.
    pub fn parse_nest(value: &[u8]) -> std::result::Result<Vec<Self>, DecodeError> {
        attr::parse_all(value, DaemonAttr::parse)
    }
}

/// A connection synchronisation daemon (`ipvsadm --start-daemon`).
///
/// Unset options take the kernel's defaults (multicast group
/// 224.0.0.81, port 8848, TTL 1, maximum message length from the
/// interface MTU).
///
/// ```no_run
/// use ipvs_nl::{IpvsHandle, SyncDaemon};
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = IpvsHandle::new().await?;
/// // ipvsadm --start-daemon master --mcast-interface eth0 --syncid 5
/// ipvs.start_daemon(&SyncDaemon::master("eth0").sync_id(5)).await?;
/// for d in ipvs.daemons().await? {
///     println!("{} on {} (sync id {})", d.state, d.interface, d.sync_id);
/// }
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    /// Master or backup.
    pub state: DaemonState,
    /// The multicast interface.
    pub interface: String,
    /// The sync id (0 for any, as a backup).
    pub sync_id: u32,
    /// Maximum sync message payload (`--sync-maxlen`).
    pub max_len: Option<u16>,
    /// Multicast group, IPv4 or IPv6 (`--mcast-group`).
    pub group: Option<IpAddr>,
    /// Multicast port (`--mcast-port`).
    pub port: Option<u16>,
    /// Multicast TTL (`--mcast-ttl`).
    pub ttl: Option<u8>,
    /// Attributes this crate does not know, re-emitted as they came.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl SyncDaemon {
    /// A daemon of `state` on `interface`, sync id 0, kernel defaults.
    pub fn new(state: DaemonState, interface: &str) -> Self {
        SyncDaemon {
            state,
            interface: interface.to_owned(),
            sync_id: 0,
            max_len: None,
            group: None,
            port: None,
            ttl: None,
            unknown: Vec::new(),
        }
    }
    /// `--start-daemon master --mcast-interface IFACE`
    pub fn master(interface: &str) -> Self {
        Self::new(DaemonState::Master, interface)
    }
    /// `--start-daemon backup --mcast-interface IFACE`
    pub fn backup(interface: &str) -> Self {
        Self::new(DaemonState::Backup, interface)
    }
    /// `--syncid ID`
    pub fn sync_id(mut self, id: u32) -> Self {
        self.sync_id = id;
        self
    }
    /// `--sync-maxlen LEN`
    pub fn max_len(mut self, len: u16) -> Self {
        self.max_len = Some(len);
        self
    }
    /// `--mcast-group ADDR`
    pub fn group(mut self, addr: IpAddr) -> Self {
        self.group = Some(addr);
        self
    }
    /// `--mcast-port PORT`
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// `--mcast-ttl TTL`
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = Some(ttl);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.interface.is_empty() || self.interface.len() >= IP_VS_IFNAME_MAXLEN {
            return Err(Error::invalid_input(
                format!("sync daemon interface {:?}", self.interface),
                "must be 1 to 15 bytes",
            ));
        }
        Ok(())
    }

    /// The attributes of a start, in `ipvsadm`'s order.
    pub fn to_attrs(&self) -> Vec<DaemonAttr> {
        let mut v = vec![
            DaemonAttr::State(self.state.number()),
            DaemonAttr::McastIfn(self.interface.clone()),
            DaemonAttr::SyncId(self.sync_id),
        ];
        if let Some(l) = self.max_len {
            v.push(DaemonAttr::SyncMaxLen(l));
        }
        if let Some(p) = self.port {
            v.push(DaemonAttr::McastPort(p));
        }
        if let Some(t) = self.ttl {
            v.push(DaemonAttr::McastTtl(t));
        }
        match self.group {
            Some(IpAddr::V4(a)) => v.push(DaemonAttr::McastGroup(a)),
            Some(IpAddr::V6(a)) => v.push(DaemonAttr::McastGroup6(a)),
            None => {}
        }
        v.extend(self.unknown.iter().cloned().map(DaemonAttr::Other));
        v
    }

    /// The attributes of a stop (`ipvsadm --stop-daemon STATE`).
    pub(crate) fn stop_attrs(state: DaemonState) -> Vec<DaemonAttr> {
        vec![
            DaemonAttr::State(state.number()),
            DaemonAttr::McastIfn(String::new()),
            DaemonAttr::SyncId(0),
        ]
    }

    /// Reads a daemon nest.
    pub fn from_attrs(attrs: &[DaemonAttr]) -> std::result::Result<Self, DecodeError> {
        let mut d = SyncDaemon::new(DaemonState::Other(0), "");
        let mut have_state = false;
        for a in attrs {
            match a {
                DaemonAttr::State(s) => {
                    d.state = DaemonState::from(*s);
                    have_state = true;
                }
                DaemonAttr::McastIfn(s) => d.interface = s.clone(),
                DaemonAttr::SyncId(n) => d.sync_id = *n,
                DaemonAttr::SyncMaxLen(n) => d.max_len = Some(*n),
                DaemonAttr::McastGroup(a) => d.group = Some(IpAddr::V4(*a)),
                DaemonAttr::McastGroup6(a) => d.group = Some(IpAddr::V6(*a)),
                DaemonAttr::McastPort(p) => d.port = Some(*p),
                DaemonAttr::McastTtl(t) => d.ttl = Some(*t),
                DaemonAttr::Other(n) => d.unknown.push(n.clone()),
            }
        }
        if !have_state {
            return Err("sync daemon without state".into());
        }
        Ok(d)
    }
}

impl fmt::Display for SyncDaemon {
    /// As `ipvsadm -L --daemon`: `master sync daemon (mcast=eth0,
    /// syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)`, the
    /// optional values only when set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sync daemon (mcast={}, syncid={}",
            self.state, self.interface, self.sync_id
        )?;
        if let Some(l) = self.max_len.filter(|&l| l != 0) {
            write!(f, ", maxlen={l}")?;
        }
        if let Some(g) = self.group {
            write!(f, ", group={g}")?;
        }
        if let Some(p) = self.port.filter(|&p| p != 0) {
            write!(f, ", port={p}")?;
        }
        if let Some(t) = self.ttl.filter(|&t| t != 0) {
            write!(f, ", ttl={t}")?;
        }
        f.write_str(")")
    }
}
