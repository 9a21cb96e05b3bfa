//! IPVS generic netlink messages: a command and its top-level attributes
//! (`IPVS_CMD_*`, `IPVS_CMD_ATTR_*`, `IPVS_INFO_ATTR_*`).

use netlink_packet_core::{Emitable, NLA_F_NESTED, Nla, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};
use nl_engine::wire::Attr;
use nl_engine::{DecodeError, RawAttr};

use crate::attr;
use crate::consts::*;
use crate::daemon::DaemonAttr;
use crate::destination::DestAttr;
use crate::service::ServiceAttr;

/// An IPVS command (`IPVS_CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpvsCmd {
    /// Add a service.
    NewService,
    /// Edit a service.
    SetService,
    /// Delete a service.
    DelService,
    /// Get one service or dump all (also the command of service replies... of
    /// requests; replies carry `NewService`).
    GetService,
    /// Add a destination.
    NewDest,
    /// Edit a destination.
    SetDest,
    /// Delete a destination.
    DelDest,
    /// Dump the destinations of a service.
    GetDest,
    /// Start a sync daemon.
    NewDaemon,
    /// Stop a sync daemon.
    DelDaemon,
    /// Dump the sync daemons.
    GetDaemon,
    /// Set timeouts (also the command of `GetConfig` replies).
    SetConfig,
    /// Get timeouts.
    GetConfig,
    /// The command of `GetInfo` replies.
    SetInfo,
    /// Get version and table size.
    GetInfo,
    /// Zero counters (all, or one service).
    Zero,
    /// Delete every service.
    Flush,
    /// Any other command number.
    Other(u8),
}

impl IpvsCmd {
    /// The `IPVS_CMD_*` number.
    pub fn number(self) -> u8 {
        use IpvsCmd::*;
        match self {
            NewService => IPVS_CMD_NEW_SERVICE,
            SetService => IPVS_CMD_SET_SERVICE,
            DelService => IPVS_CMD_DEL_SERVICE,
            GetService => IPVS_CMD_GET_SERVICE,
            NewDest => IPVS_CMD_NEW_DEST,
            SetDest => IPVS_CMD_SET_DEST,
            DelDest => IPVS_CMD_DEL_DEST,
            GetDest => IPVS_CMD_GET_DEST,
            NewDaemon => IPVS_CMD_NEW_DAEMON,
            DelDaemon => IPVS_CMD_DEL_DAEMON,
            GetDaemon => IPVS_CMD_GET_DAEMON,
            SetConfig => IPVS_CMD_SET_CONFIG,
            GetConfig => IPVS_CMD_GET_CONFIG,
            SetInfo => IPVS_CMD_SET_INFO,
            GetInfo => IPVS_CMD_GET_INFO,
            Zero => IPVS_CMD_ZERO,
            Flush => IPVS_CMD_FLUSH,
            Other(n) => n,
        }
    }
}

impl From<u8> for IpvsCmd {
    fn from(n: u8) -> Self {
        use IpvsCmd::*;
        match n {
            IPVS_CMD_NEW_SERVICE => NewService,
            IPVS_CMD_SET_SERVICE => SetService,
            IPVS_CMD_DEL_SERVICE => DelService,
            IPVS_CMD_GET_SERVICE => GetService,
            IPVS_CMD_NEW_DEST => NewDest,
            IPVS_CMD_SET_DEST => SetDest,
            IPVS_CMD_DEL_DEST => DelDest,
            IPVS_CMD_GET_DEST => GetDest,
            IPVS_CMD_NEW_DAEMON => NewDaemon,
            IPVS_CMD_DEL_DAEMON => DelDaemon,
            IPVS_CMD_GET_DAEMON => GetDaemon,
            IPVS_CMD_SET_CONFIG => SetConfig,
            IPVS_CMD_GET_CONFIG => GetConfig,
            IPVS_CMD_SET_INFO => SetInfo,
            IPVS_CMD_GET_INFO => GetInfo,
            IPVS_CMD_ZERO => Zero,
            IPVS_CMD_FLUSH => Flush,
            n => Other(n),
        }
    }
}

impl std::fmt::Display for IpvsCmd {
    /// The command's name, as `IPVS_CMD_*` without the prefix, in lower
    /// case with dashes (`new-service`, `get-info`), or `command N`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use IpvsCmd::*;
        f.write_str(match self {
            NewService => "new-service",
            SetService => "set-service",
            DelService => "del-service",
            GetService => "get-service",
            NewDest => "new-dest",
            SetDest => "set-dest",
            DelDest => "del-dest",
            GetDest => "get-dest",
            NewDaemon => "new-daemon",
            DelDaemon => "del-daemon",
            GetDaemon => "get-daemon",
            SetConfig => "set-config",
            GetConfig => "get-config",
            SetInfo => "set-info",
            GetInfo => "get-info",
            Zero => "zero",
            Flush => "flush",
            Other(n) => return write!(f, "command {n}"),
        })
    }
}

/// A top-level attribute of an IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpvsAttr {
    /// `IPVS_CMD_ATTR_SERVICE`
    Service(Vec<ServiceAttr>),
    /// `IPVS_CMD_ATTR_DEST`
    Dest(Vec<DestAttr>),
    /// `IPVS_CMD_ATTR_DAEMON`
    Daemon(Vec<DaemonAttr>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP` (seconds)
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN` (seconds)
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP` (seconds)
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (only in `SetInfo` replies)
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (only in `SetInfo` replies)
    InfoConnTabSize(u32),
    /// Any other attribute, kept as received.
    Other(RawAttr),
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        match self {
            IpvsAttr::Service(a) => a.as_slice().buffer_len(),
            IpvsAttr::Dest(a) => a.as_slice().buffer_len(),
            IpvsAttr::Daemon(a) => a.as_slice().buffer_len(),
            IpvsAttr::TimeoutTcp(_)
            | IpvsAttr::TimeoutTcpFin(_)
            | IpvsAttr::TimeoutUdp(_)
            | IpvsAttr::InfoVersion(_)
            | IpvsAttr::InfoConnTabSize(_) => 4,
            IpvsAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            IpvsAttr::Service(_) => IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED,
            IpvsAttr::Dest(_) => IPVS_CMD_ATTR_DEST | NLA_F_NESTED,
            IpvsAttr::Daemon(_) => IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED,
            IpvsAttr::TimeoutTcp(_) => IPVS_CMD_ATTR_TIMEOUT_TCP,
            IpvsAttr::TimeoutTcpFin(_) => IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            IpvsAttr::TimeoutUdp(_) => IPVS_CMD_ATTR_TIMEOUT_UDP,
            IpvsAttr::InfoVersion(_) => IPVS_INFO_ATTR_VERSION,
            IpvsAttr::InfoConnTabSize(_) => IPVS_INFO_ATTR_CONN_TAB_SIZE,
            IpvsAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            IpvsAttr::Service(a) => attr::emit_all(buffer, a),
            IpvsAttr::Dest(a) => attr::emit_all(buffer, a),
            IpvsAttr::Daemon(a) => attr::emit_all(buffer, a),
            IpvsAttr::TimeoutTcp(v)
            | IpvsAttr::TimeoutTcpFin(v)
            | IpvsAttr::TimeoutUdp(v)
            | IpvsAttr::InfoVersion(v)
            | IpvsAttr::InfoConnTabSize(v) => attr::put(buffer, &v.to_ne_bytes()),
            IpvsAttr::Other(n) => n.emit_value(buffer),
        }
    }
}

impl IpvsAttr {
    /// Parses one top-level attribute of a message of command `cmd` (the
    /// numbers of `GetInfo` replies overlap the others).
    pub fn parse(buf: &Attr<'_>, cmd: IpvsCmd) -> Result<Self, DecodeError> {
        let v = buf.value;
        if cmd == IpvsCmd::SetInfo {
            return Ok(match buf.kind() {
                IPVS_INFO_ATTR_VERSION => IpvsAttr::InfoVersion(attr::u32_ne(v, "version")?),
                IPVS_INFO_ATTR_CONN_TAB_SIZE => {
                    IpvsAttr::InfoConnTabSize(attr::u32_ne(v, "conn table size")?)
                }
                _ => IpvsAttr::Other(attr::unknown(buf)),
            });
        }
        Ok(match buf.kind() {
            IPVS_CMD_ATTR_SERVICE => IpvsAttr::Service(ServiceAttr::parse_nest(v)?),
            IPVS_CMD_ATTR_DEST => IpvsAttr::Dest(DestAttr::parse_nest(v)?),
            IPVS_CMD_ATTR_DAEMON => IpvsAttr::Daemon(DaemonAttr::parse_nest(v)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP => IpvsAttr::TimeoutTcp(attr::u32_ne(v, "tcp timeout")?),
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => {
                IpvsAttr::TimeoutTcpFin(attr::u32_ne(v, "tcpfin timeout")?)
            }
            IPVS_CMD_ATTR_TIMEOUT_UDP => IpvsAttr::TimeoutUdp(attr::u32_ne(v, "udp timeout")?),
            _ => IpvsAttr::Other(attr::unknown(buf)),
        })
    }
}

/// The payload of an IPVS generic netlink message (after `genlmsghdr`).
///
/// Wrap it in `GenlMessage` (with the resolved family id) and a
/// `NetlinkMessage` to send it; [`crate::IpvsHandle`] does that for you.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command.
    pub cmd: IpvsCmd,
    /// The attributes, in order.
    pub attrs: Vec<IpvsAttr>,
}

impl IpvsMessage {
    /// A message of `cmd` with `attrs`.
    pub fn new(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> Self {
        IpvsMessage { cmd, attrs }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd.number()
    }
    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        nl_engine::wire::typed_len(&self.attrs)
    }
    fn emit(&self, buffer: &mut [u8]) {
        attr::emit_all(buffer, &self.attrs)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(
        buf: &[u8],
        header: GenlHeader,
    ) -> Result<Self, netlink_packet_core::DecodeError> {
        let cmd = IpvsCmd::from(header.cmd);
        let attrs = attr::parse_all(buf, |nla| IpvsAttr::parse(nla, cmd))?;
        Ok(IpvsMessage { cmd, attrs })
    }
}

use crate::config::Timeouts;
use crate::daemon::{DaemonState, SyncDaemon};
use crate::destination::Destination;
use crate::service::{Service, ServiceKey};

/// Request builders: the exact messages `ipvsadm` 1.31 sends for each
/// command (the golden-bytes tests hold them to that).
impl IpvsMessage {
    fn svc(attrs: Vec<ServiceAttr>) -> IpvsAttr {
        IpvsAttr::Service(attrs)
    }
    fn key_full(key: &ServiceKey) -> IpvsAttr {
        Self::svc(key.attrs_full(Some(crate::service::Netmask::host(key.family()))))
    }
    /// `ipvsadm -A`
    pub fn add_service(s: &Service) -> Self {
        Self::new(IpvsCmd::NewService, vec![Self::svc(s.to_attrs())])
    }
    /// `ipvsadm -E`
    pub fn edit_service(s: &Service) -> Self {
        Self::new(IpvsCmd::SetService, vec![Self::svc(s.to_attrs())])
    }
    /// `ipvsadm -D`
    pub fn delete_service(key: &ServiceKey) -> Self {
        Self::new(IpvsCmd::DelService, vec![Self::key_full(key)])
    }
    /// `ipvsadm -L -t ...` (get one service)
    pub fn get_service(key: &ServiceKey) -> Self {
        Self::new(IpvsCmd::GetService, vec![Self::svc(key.attrs_full(None))])
    }
    /// `ipvsadm -L` (dump every service; send as a dump)
    pub fn dump_services() -> Self {
        Self::new(IpvsCmd::GetService, vec![])
    }
    /// `ipvsadm -a`
    pub fn add_destination(key: &ServiceKey, d: &Destination) -> Self {
        Self::new(
            IpvsCmd::NewDest,
            vec![Self::key_full(key), IpvsAttr::Dest(d.to_attrs())],
        )
    }
    /// `ipvsadm -e`
    pub fn edit_destination(key: &ServiceKey, d: &Destination) -> Self {
        Self::new(
            IpvsCmd::SetDest,
            vec![Self::key_full(key), IpvsAttr::Dest(d.to_attrs())],
        )
    }
    /// `ipvsadm -d` (only the destination's address and port matter)
    pub fn delete_destination(key: &ServiceKey, d: &Destination) -> Self {
        Self::new(
            IpvsCmd::DelDest,
            vec![Self::key_full(key), IpvsAttr::Dest(d.to_attrs())],
        )
    }
    /// Dump the destinations of a service (send as a dump).
    pub fn dump_destinations(key: &ServiceKey) -> Self {
        Self::new(IpvsCmd::GetDest, vec![Self::svc(key.attrs())])
    }
    /// `ipvsadm -Z` (all services)
    pub fn zero_all() -> Self {
        Self::new(IpvsCmd::Zero, vec![])
    }
    /// `ipvsadm -Z -t ...` (one service)
    pub fn zero_service(key: &ServiceKey) -> Self {
        Self::new(IpvsCmd::Zero, vec![Self::key_full(key)])
    }
    /// `ipvsadm -C`
    pub fn flush() -> Self {
        Self::new(IpvsCmd::Flush, vec![])
    }
    /// `ipvsadm --set TCP TCPFIN UDP`
    pub fn set_timeouts(t: &Timeouts) -> Self {
        Self::new(
            IpvsCmd::SetConfig,
            vec![
                IpvsAttr::TimeoutTcp(Timeouts::secs(t.tcp)),
                IpvsAttr::TimeoutTcpFin(Timeouts::secs(t.tcp_fin)),
                IpvsAttr::TimeoutUdp(Timeouts::secs(t.udp)),
            ],
        )
    }
    /// `ipvsadm -L --timeout`
    pub fn get_timeouts() -> Self {
        Self::new(IpvsCmd::GetConfig, vec![])
    }
    /// The first request of `ipvsadm -L`: version and table size.
    pub fn get_info() -> Self {
        Self::new(IpvsCmd::GetInfo, vec![])
    }
    /// `ipvsadm --start-daemon`
    pub fn start_daemon(d: &SyncDaemon) -> Self {
        Self::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(d.to_attrs())])
    }
    /// `ipvsadm --stop-daemon STATE`
    pub fn stop_daemon(state: DaemonState) -> Self {
        Self::new(
            IpvsCmd::DelDaemon,
            vec![IpvsAttr::Daemon(SyncDaemon::stop_attrs(state))],
        )
    }
    /// `ipvsadm -L --daemon` (send as a dump)
    pub fn dump_daemons() -> Self {
        Self::new(IpvsCmd::GetDaemon, vec![])
    }

    /// The service nest of this message, decoded.
    pub fn service(&self) -> Option<Result<Service, DecodeError>> {
        self.attrs.iter().find_map(|a| match a {
            IpvsAttr::Service(s) => Some(Service::from_attrs(s)),
            _ => None,
        })
    }
    /// The destination nest of this message, decoded (`family`: the
    /// service's, for kernels that send no destination family).
    pub fn destination(
        &self,
        family: Option<crate::service::Family>,
    ) -> Option<Result<Destination, DecodeError>> {
        self.attrs.iter().find_map(|a| match a {
            IpvsAttr::Dest(d) => Some(Destination::from_attrs(d, family)),
            _ => None,
        })
    }
    /// The daemon nest of this message, decoded.
    pub fn daemon(&self) -> Option<Result<SyncDaemon, DecodeError>> {
        self.attrs.iter().find_map(|a| match a {
            IpvsAttr::Daemon(d) => Some(SyncDaemon::from_attrs(d)),
            _ => None,
        })
    }
    /// The timeouts of a `GetConfig` reply.
    pub fn timeouts(&self) -> Timeouts {
        let mut t = Timeouts::default();
        for a in &self.attrs {
            let s = |v: &u32| std::time::Duration::from_secs(u64::from(*v));
            match a {
                IpvsAttr::TimeoutTcp(v) => t.tcp = s(v),
                IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = s(v),
                IpvsAttr::TimeoutUdp(v) => t.udp = s(v),
                _ => {}
            }
        }
        t
    }
    /// The information of a `GetInfo` reply.
    pub fn info(&self) -> crate::info::Info {
        let mut i = crate::info::Info::default();
        for a in &self.attrs {
            match a {
                IpvsAttr::InfoVersion(v) => i.version = crate::info::Version(*v),
                IpvsAttr::InfoConnTabSize(v) => i.conn_tab_size = *v,
                _ => {}
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NLA_F_NESTED, NLA_F_NET_BYTEORDER};

    /// Found by fuzzing (fuzz target `ipvs_message`): an unknown attribute
    /// with both `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` lost the latter when
    /// re-emitted, at the top level and inside a nest.
    #[test]
    fn unknown_attrs_keep_both_flags() {
        let kind = 0x3f06 | NLA_F_NESTED | NLA_F_NET_BYTEORDER;
        let msg = IpvsMessage::new(
            IpvsCmd::SetConfig,
            vec![
                IpvsAttr::Other(RawAttr::new(kind, vec![1, 2, 3, 4])),
                IpvsAttr::Service(vec![ServiceAttr::Other(RawAttr::new(kind, vec![5]))]),
            ],
        );
        let mut buf = vec![0; msg.buffer_len()];
        msg.emit(&mut buf);
        assert_eq!(u16::from_ne_bytes([buf[2], buf[3]]), kind);
        let header = GenlHeader {
            cmd: msg.command(),
            version: msg.version(),
        };
        assert_eq!(
            IpvsMessage::parse_with_param(&buf[..], header).unwrap(),
            msg
        );
    }
}
