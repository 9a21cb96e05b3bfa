//! The command line of `ipvsadm` 1.31, as a pure function: argv in, a
//! [`Parsed`] command (or the exact failure ipvsadm reports) out.
//!
//! It reproduces popt's option scanning (clusters such as `-Ln`, `-t10.0.0.1:80`,
//! `-p=30`, `--opt=value`, optional `-p [timeout]`, `--` and leftovers),
//! ipvsadm's command/option table, its defaults and every validation
//! message with its exit status. It does no I/O except through [`Lookup`]
//! (host and service names) and never panics, whatever the argv: it is
//! included by the fuzz-style tests with `#[path]`.
//!
//! By responsibility: this module holds the types and constants of a
//! parsed command line; `options` ipvsadm's option table and its
//! command/option rules; `popt` popt's option scanner; `convert` the C
//! library's number and address conversions; `parse` the parser itself
//! (`process_options`) and the restore tokenizer; `usage` the help and
//! version texts.

mod convert;
mod options;
mod parse;
mod popt;
mod usage;

pub use convert::{inet_aton, inet_pton4, inet_pton6, string_to_number};
pub use options::{OPTC_CONNECTION, OPTC_DAEMON, OPTC_NUMERIC, OPTC_SERVICE, OPTC_TIMEOUT};
pub use parse::{parse, parse_saved, restore_line};
pub use usage::{help_text, version_text};

#[allow(unused_imports)]
use convert::*;
#[allow(unused_imports)]
use options::*;
#[allow(unused_imports)]
use popt::*;

/// `AF_INET`
pub const AF_INET: u16 = 2;
/// `AF_INET6`
pub const AF_INET6: u16 = 10;
/// `IPPROTO_TCP`
pub const IPPROTO_TCP: u16 = 6;
/// `IPPROTO_UDP`
pub const IPPROTO_UDP: u16 = 17;
/// `IPPROTO_SCTP`
pub const IPPROTO_SCTP: u16 = 132;

/// `IP_VS_SVC_F_PERSISTENT`
pub const SVC_F_PERSISTENT: u32 = 0x1;
/// `IP_VS_SVC_F_ONEPACKET`
pub const SVC_F_ONEPACKET: u32 = 0x4;
/// `IP_VS_SVC_F_SCHED1`
pub const SVC_F_SCHED1: u32 = 0x8;
/// `IP_VS_SVC_F_SCHED2`
pub const SVC_F_SCHED2: u32 = 0x10;
/// `IP_VS_SVC_F_SCHED3`
pub const SVC_F_SCHED3: u32 = 0x20;

/// `IP_VS_CONN_F_MASQ`
pub const CONN_F_MASQ: u32 = 0;
/// `IP_VS_CONN_F_TUNNEL`
pub const CONN_F_TUNNEL: u32 = 2;
/// `IP_VS_CONN_F_DROUTE`
pub const CONN_F_DROUTE: u32 = 3;

/// `IP_VS_STATE_MASTER`
pub const STATE_MASTER: u32 = 1;
/// `IP_VS_STATE_BACKUP`
pub const STATE_BACKUP: u32 = 2;

/// Default persistence timeout (`IPVS_SVC_PERSISTENT_TIMEOUT`).
pub const PERSISTENT_TIMEOUT: u32 = 360;
const MAX_TIMEOUT: i64 = 86400 * 31;
const INT_MAX: i64 = i32::MAX as i64;

/// The commands (`CMD_*`, in ipvsadm's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// none yet
    None,
    /// `-A`
    Add,
    /// `-E`
    Edit,
    /// `-D`
    Del,
    /// `-C`
    Flush,
    /// `-L`/`-l`
    List,
    /// `-a`
    AddDest,
    /// `-d`
    DelDest,
    /// `-e`
    EditDest,
    /// `--set`
    Timeout,
    /// `--start-daemon`
    StartDaemon,
    /// `--stop-daemon`
    StopDaemon,
    /// `-R`
    Restore,
    /// `-S`
    Save,
    /// `-Z`
    Zero,
}

const CMDNAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

impl Cmd {
    fn index(self) -> Option<usize> {
        Some(match self {
            Cmd::None => return None,
            Cmd::Add => 0,
            Cmd::Edit => 1,
            Cmd::Del => 2,
            Cmd::Flush => 3,
            Cmd::List => 4,
            Cmd::AddDest => 5,
            Cmd::DelDest => 6,
            Cmd::EditDest => 7,
            Cmd::Timeout => 8,
            Cmd::StartDaemon => 9,
            Cmd::StopDaemon => 10,
            Cmd::Restore => 11,
            Cmd::Save => 12,
            Cmd::Zero => 13,
        })
    }
}

// Output format flags (FMT_*).
/// `-n`
pub const FMT_NUMERIC: u32 = 0x1;
/// `-S`
pub const FMT_RULE: u32 = 0x2;
/// `--stats`
pub const FMT_STATS: u32 = 0x4;
/// `--rate`
pub const FMT_RATE: u32 = 0x8;
/// `--thresholds`
pub const FMT_THRESHOLDS: u32 = 0x10;
/// `--persistent-conn`
pub const FMT_PERSISTENTCONN: u32 = 0x20;
/// `--nosort`
pub const FMT_NOSORT: u32 = 0x40;
/// `--exact`
pub const FMT_EXACT: u32 = 0x80;
/// `--tun-info`
pub const FMT_TUN_INFO: u32 = 0x100;

/// Host and service name lookups the parser needs (`gethostbyname`,
/// `getservbyname`).
pub trait Lookup {
    /// An IPv4 address of `name`.
    fn host_v4(&self, name: &str) -> Option<[u8; 4]>;
    /// The port of service `name` for protocol `proto` ("tcp", "udp", "sctp").
    fn service_port(&self, name: &str, proto: &str) -> Option<u16>;
}

/// No names at all (numbers only).
#[allow(dead_code)]
pub struct NoLookup;

impl Lookup for NoLookup {
    fn host_v4(&self, _: &str) -> Option<[u8; 4]> {
        None
    }
    fn service_port(&self, _: &str, _: &str) -> Option<u16> {
        None
    }
}

/// A virtual service as ipvsadm's `ipvs_service_t` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Svc {
    /// 0, `AF_INET` or `AF_INET6`
    pub af: u16,
    /// `IPPROTO_*`
    pub protocol: u16,
    /// Address (IPv4 in the first 4 bytes).
    pub addr: [u8; 16],
    /// Port (host order).
    pub port: u16,
    /// Firewall mark (0: none).
    pub fwmark: u32,
    /// Scheduler name (at most 15 bytes).
    pub sched_name: String,
    /// `IP_VS_SVC_F_*`
    pub flags: u32,
    /// Persistence timeout.
    pub timeout: u32,
    /// IPv4 mask (as a host-order number) or IPv6 prefix length.
    pub netmask: u32,
    /// Persistence engine.
    pub pe_name: String,
}

/// A destination as ipvsadm's `ipvs_dest_t` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dest {
    /// Address family.
    pub af: u16,
    /// Address.
    pub addr: [u8; 16],
    /// Port (host order).
    pub port: u16,
    /// Forwarding method (`IP_VS_CONN_F_*`).
    pub conn_flags: u32,
    /// Weight.
    pub weight: u32,
    /// Upper threshold.
    pub u_threshold: u32,
    /// Lower threshold.
    pub l_threshold: u32,
    /// Tunnel type.
    pub tun_type: u8,
    /// Tunnel port (host order).
    pub tun_port: u16,
    /// Tunnel flags.
    pub tun_flags: u16,
}

/// A sync daemon as `ipvs_daemon_t`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Daemon {
    /// `IP_VS_STATE_*`
    pub state: u32,
    /// Interface.
    pub mcast_ifn: String,
    /// Sync id.
    pub syncid: u32,
    /// Max sync message length (0: kernel default).
    pub sync_maxlen: u16,
    /// 0, `AF_INET` or `AF_INET6`.
    pub mcast_af: u16,
    /// Group address.
    pub mcast_group: [u8; 16],
    /// Port (0: default).
    pub mcast_port: u16,
    /// TTL (0: default).
    pub mcast_ttl: u8,
}

/// `--set tcp tcpfin udp`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeoutSet {
    /// TCP
    pub tcp: u32,
    /// TCP FIN
    pub tcp_fin: u32,
    /// UDP
    pub udp: u32,
}

/// A parsed, validated command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The command.
    pub cmd: Cmd,
    /// The service.
    pub svc: Svc,
    /// The destination.
    pub dest: Dest,
    /// The daemon.
    pub daemon: Daemon,
    /// `--set` values.
    pub timeout: TimeoutSet,
    /// Option bits (`1 << OPTC_*`).
    pub options: u64,
    /// `FMT_*` flags.
    pub format: u32,
    /// `--json` (this project's extension).
    pub json: bool,
}

impl Parsed {
    /// True when option `optc` was given.
    pub fn has(&self, optc: u32) -> bool {
        self.options & (1u64 << optc) != 0
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A command to run.
    Run(Box<Parsed>),
    /// `-h`
    Help,
    /// `-v`
    Version,
}

/// A refusal, printed on stderr as ipvsadm prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The whole text for stderr (with its newlines).
    pub message: String,
    /// The exit status.
    pub status: u8,
    /// True when ipvsadm exits at once (even in the middle of `-R`);
    /// false for popt errors after the command, which ipvsadm reports and
    /// returns from (a restore goes on).
    pub fatal: bool,
}

fn fail(msg: impl Into<String>) -> Failure {
    let mut message = msg.into();
    message.push('\n');
    Failure {
        message,
        status: 2,
        fatal: true,
    }
}

/// ipvsadm's "Try ... for more information." (exit status 255).
pub fn tryhelp(program: &str) -> Failure {
    Failure {
        message: format!("Try `{program} -h' or '{program} --help' for more information.\n"),
        status: 255,
        fatal: true,
    }
}
