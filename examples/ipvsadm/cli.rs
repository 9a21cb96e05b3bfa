//! The command line of `ipvsadm` 1.31, as a pure function: argv in, a
//! [`Parsed`] command (or the exact failure ipvsadm reports) out.
//!
//! It reproduces popt's option scanning (clusters such as `-Ln`, `-t10.0.0.1:80`,
//! `-p=30`, `--opt=value`, optional `-p [timeout]`, `--` and leftovers),
//! ipvsadm's command/option table, its defaults and every validation
//! message with its exit status. It does no I/O except through [`Lookup`]
//! (host and service names) and never panics, whatever the argv: it is
//! included by the fuzz-style tests with `#[path]`.

use std::borrow::Cow;
use std::fmt::Write as _;

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

// Option bits (OPTC_*).
/// `-n`
pub const OPTC_NUMERIC: u32 = 0;
/// `-c`
pub const OPTC_CONNECTION: u32 = 1;
/// `-t/-u/-f/--sctp-service`
pub const OPTC_SERVICE: u32 = 2;
const OPTC_SCHEDULER: u32 = 3;
const OPTC_PERSISTENT: u32 = 4;
const OPTC_NETMASK: u32 = 5;
const OPTC_SERVER: u32 = 6;
const OPTC_FORWARD: u32 = 7;
const OPTC_WEIGHT: u32 = 8;
const OPTC_UTHRESHOLD: u32 = 9;
const OPTC_LTHRESHOLD: u32 = 10;
const OPTC_MCAST: u32 = 11;
/// `--timeout`
pub const OPTC_TIMEOUT: u32 = 12;
/// `--daemon`
pub const OPTC_DAEMON: u32 = 13;
const OPTC_STATS: u32 = 14;
const OPTC_RATE: u32 = 15;
const OPTC_THRESHOLDS: u32 = 16;
const OPTC_PERSISTENTCONN: u32 = 17;
const OPTC_NOSORT: u32 = 18;
const OPTC_SYNCID: u32 = 19;
const OPTC_EXACT: u32 = 20;
const OPTC_ONEPACKET: u32 = 21;
const OPTC_PE: u32 = 22;
const OPTC_SCHED_FLAGS: u32 = 23;
const OPTC_MCAST_GROUP: u32 = 24;
const OPTC_MCAST_PORT: u32 = 25;
const OPTC_MCAST_TTL: u32 = 26;
const OPTC_SYNC_MAXLEN: u32 = 27;
const OPTC_TUN_INFO: u32 = 28;
const OPTC_TUN_TYPE: u32 = 29;
const OPTC_TUN_PORT: u32 = 30;
const OPTC_TUN_NOCSUM: u32 = 31;
const OPTC_TUN_CSUM: u32 = 32;
const OPTC_TUN_REMCSUM: u32 = 33;
const NUMBER_OF_OPT: usize = 34;

const OPTNAMES: [&str; NUMBER_OF_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

// Which options each command takes: ' ' allowed, 'x' illegal, '+' required,
// '1' at most one of the '1's (ipvsadm's commands_v_options).
const COMMANDS_V_OPTIONS: [&[u8; NUMBER_OF_OPT]; 14] = [
    // -n c  sv -s -p -M -r fw -w -x -y mc to dm st rt th pc ns id ex op pe -b gr po tt ml ti ty tp no cs rc
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // ADD
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // EDIT
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // DEL
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // FLUSH
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // LIST
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // ADDSRV
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // DELSRV
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // EDITSRV
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // TIMEOUT
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // STARTD
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // STOPD
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // RESTORE
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // SAVE
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // ZERO
];

const TUNNAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUNOPTS: [u32; 4] = [
    OPTC_TUN_PORT,
    OPTC_TUN_NOCSUM,
    OPTC_TUN_CSUM,
    OPTC_TUN_REMCSUM,
];
const TUNNEL_TYPES_V_OPTIONS: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

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

// ------------------------------------------------------------------ popt

#[derive(Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    None,
    Str,
    OptStr,
}

const TAG_SET: i32 = 128;
const TAG_START_DAEMON: i32 = 129;
const TAG_STOP_DAEMON: i32 = 130;
const TAG_MCAST_INTERFACE: i32 = 131;
const TAG_TIMEOUT: i32 = 132;
const TAG_DAEMON: i32 = 133;
const TAG_STATS: i32 = 134;
const TAG_RATE: i32 = 135;
const TAG_THRESHOLDS: i32 = 136;
const TAG_PERSISTENTCONN: i32 = 137;
const TAG_SORT: i32 = 138;
const TAG_NO_SORT: i32 = 139;
const TAG_PE: i32 = 140;
const TAG_SCTP_SERVICE: i32 = 141;
const TAG_MCAST_GROUP: i32 = 142;
const TAG_MCAST_PORT: i32 = 143;
const TAG_MCAST_TTL: i32 = 144;
const TAG_SYNC_MAXLEN: i32 = 145;
const TAG_TUN_INFO: i32 = 146;
const TAG_TUN_TYPE: i32 = 147;
const TAG_TUN_PORT: i32 = 148;
const TAG_TUN_NOCSUM: i32 = 149;
const TAG_TUN_CSUM: i32 = 150;
const TAG_TUN_REMCSUM: i32 = 151;
const TAG_JSON: i32 = 200;

const fn c(b: u8) -> i32 {
    b as i32
}

// (long name, short name, argument, value), in ipvsadm's table order
// (findOption returns the first match).
const OPTIONS: &[(&str, u8, ArgKind, i32)] = &[
    ("add-service", b'A', ArgKind::None, c(b'A')),
    ("edit-service", b'E', ArgKind::None, c(b'E')),
    ("delete-service", b'D', ArgKind::None, c(b'D')),
    ("clear", b'C', ArgKind::None, c(b'C')),
    ("list", b'L', ArgKind::None, c(b'L')),
    ("list", b'l', ArgKind::None, c(b'l')),
    ("zero", b'Z', ArgKind::None, c(b'Z')),
    ("add-server", b'a', ArgKind::None, c(b'a')),
    ("edit-server", b'e', ArgKind::None, c(b'e')),
    ("delete-server", b'd', ArgKind::None, c(b'd')),
    ("set", 0, ArgKind::None, TAG_SET),
    ("help", b'h', ArgKind::None, c(b'h')),
    ("version", b'v', ArgKind::None, c(b'v')),
    ("restore", b'R', ArgKind::None, c(b'R')),
    ("save", b'S', ArgKind::None, c(b'S')),
    ("start-daemon", 0, ArgKind::Str, TAG_START_DAEMON),
    ("stop-daemon", 0, ArgKind::Str, TAG_STOP_DAEMON),
    ("tcp-service", b't', ArgKind::Str, c(b't')),
    ("udp-service", b'u', ArgKind::Str, c(b'u')),
    ("sctp-service", 0, ArgKind::Str, TAG_SCTP_SERVICE),
    ("fwmark-service", b'f', ArgKind::Str, c(b'f')),
    ("scheduler", b's', ArgKind::Str, c(b's')),
    ("persistent", b'p', ArgKind::OptStr, c(b'p')),
    ("netmask", b'M', ArgKind::Str, c(b'M')),
    ("real-server", b'r', ArgKind::Str, c(b'r')),
    ("masquerading", b'm', ArgKind::None, c(b'm')),
    ("ipip", b'i', ArgKind::None, c(b'i')),
    ("gatewaying", b'g', ArgKind::None, c(b'g')),
    ("weight", b'w', ArgKind::Str, c(b'w')),
    ("u-threshold", b'x', ArgKind::Str, c(b'x')),
    ("l-threshold", b'y', ArgKind::Str, c(b'y')),
    ("numeric", b'n', ArgKind::None, c(b'n')),
    ("connection", b'c', ArgKind::None, c(b'c')),
    ("mcast-interface", 0, ArgKind::Str, TAG_MCAST_INTERFACE),
    ("syncid", 0, ArgKind::Str, c(b'I')),
    ("timeout", 0, ArgKind::None, TAG_TIMEOUT),
    ("daemon", 0, ArgKind::None, TAG_DAEMON),
    ("stats", 0, ArgKind::None, TAG_STATS),
    ("rate", 0, ArgKind::None, TAG_RATE),
    ("thresholds", 0, ArgKind::None, TAG_THRESHOLDS),
    ("persistent-conn", 0, ArgKind::None, TAG_PERSISTENTCONN),
    ("nosort", 0, ArgKind::None, TAG_NO_SORT),
    ("sort", 0, ArgKind::None, TAG_SORT),
    ("exact", b'X', ArgKind::None, c(b'X')),
    ("ipv6", b'6', ArgKind::None, c(b'6')),
    ("ops", b'o', ArgKind::None, c(b'o')),
    ("pe", 0, ArgKind::Str, TAG_PE),
    ("sched-flags", b'b', ArgKind::Str, c(b'b')),
    ("mcast-group", 0, ArgKind::Str, TAG_MCAST_GROUP),
    ("mcast-port", 0, ArgKind::Str, TAG_MCAST_PORT),
    ("mcast-ttl", 0, ArgKind::Str, TAG_MCAST_TTL),
    ("sync-maxlen", 0, ArgKind::Str, TAG_SYNC_MAXLEN),
    ("tun-info", 0, ArgKind::None, TAG_TUN_INFO),
    ("tun-type", 0, ArgKind::Str, TAG_TUN_TYPE),
    ("tun-port", 0, ArgKind::Str, TAG_TUN_PORT),
    ("tun-nocsum", 0, ArgKind::None, TAG_TUN_NOCSUM),
    ("tun-csum", 0, ArgKind::None, TAG_TUN_CSUM),
    ("tun-remcsum", 0, ArgKind::None, TAG_TUN_REMCSUM),
    // This project's own: machine-readable listings.
    ("json", 0, ArgKind::None, TAG_JSON),
];

/// The index in [`OPTIONS`] of each short option letter's first entry
/// (what popt's `findOption` returns), by byte value.
const SHORT_OPTIONS: [Option<u8>; 128] = {
    let mut t = [None; 128];
    let mut k = OPTIONS.len();
    // backwards, so that the first entry of a letter is the one kept
    while k > 0 {
        k -= 1;
        let ch = OPTIONS[k].1 as usize;
        if ch != 0 && ch < 128 {
            t[ch] = Some(k as u8);
        }
    }
    t
};
const _: () = assert!(OPTIONS.len() < 256);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoptError {
    NoArg,
    BadOpt,
    UnwantedArg,
}

impl PoptError {
    fn text(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::BadOpt => "unknown option",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// popt's scanner over one argv (argv[0] included).
struct Popt<'a, S> {
    argv: &'a [S],
    next: usize,
    /// (argv index, byte offset) of the rest of a short-option cluster.
    next_char: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<&'a str>,
    next_leftover: usize,
}

/// An option's value (`val` of its table entry) and its argument.
type PoptOpt<'a> = (i32, Option<Cow<'a, str>>);

/// Bytes cut out of an argument at an ASCII `=` or option letter: still
/// valid UTF-8 in practice, so borrowed.
fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl<'a, S: AsRef<str>> Popt<'a, S> {
    fn new(argv: &'a [S]) -> Self {
        Popt {
            argv,
            next: 1,
            next_char: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            next_leftover: 0,
        }
    }

    fn arg(&self, i: usize) -> &'a str {
        self.argv.get(i).map(S::as_ref).unwrap_or("")
    }

    /// `poptBadOption(con, POPT_BADOPTION_NOALIAS)`
    fn bad_option(&self) -> &'a str {
        self.arg(self.next.saturating_sub(1))
    }

    fn get_arg(&mut self) -> Option<&'a str> {
        let r = self.leftovers.get(self.next_leftover).copied();
        if r.is_some() {
            self.next_leftover += 1;
        }
        r
    }

    /// `poptGetNextOpt`: Ok(None) at the end.
    fn next_opt(&mut self) -> Result<Option<PoptOpt<'a>>, PoptError> {
        let argc = self.argv.len();
        loop {
            if self.next_char.is_none() && self.next >= argc {
                return Ok(None);
            }
            let mut opt: Option<&(&str, u8, ArgKind, i32)> = None;
            let mut long_arg: Option<Cow<'a, str>> = None;
            if self.next_char.is_none() {
                let i = self.next;
                self.next += 1;
                let s = self.arg(i);
                let b = s.as_bytes();
                if self.rest_leftover || b.first() != Some(&b'-') || b.len() == 1 {
                    self.leftovers.push(s);
                    continue;
                }
                if b == b"--" {
                    self.rest_leftover = true;
                    continue;
                }
                let double = b.get(1) == Some(&b'-');
                let body = if double { &b[2..] } else { &b[1..] };
                let (name, la) = match body.iter().position(|&x| x == b'=') {
                    Some(p) => (&body[..p], Some(lossy(&body[p + 1..]))),
                    None => (body, None),
                };
                if double {
                    // popt matches long names exactly.
                    opt = OPTIONS
                        .iter()
                        .find(|o| !o.0.is_empty() && o.0.as_bytes() == name);
                    if opt.is_none() {
                        return Err(PoptError::BadOpt);
                    }
                    long_arg = la;
                } else {
                    // No option of ipvsadm's is a one-dash long option:
                    // scan the word as a cluster of short options.
                    self.next_char = Some((i, 1));
                }
            }
            if let Some((i, off)) = self.next_char.take() {
                let b = self.arg(i).as_bytes();
                let ch = b.get(off).copied().unwrap_or(0);
                opt = SHORT_OPTIONS
                    .get(usize::from(ch))
                    .and_then(|&k| OPTIONS.get(usize::from(k?)));
                if opt.is_none() {
                    return Err(PoptError::BadOpt);
                }
                if off + 1 < b.len() {
                    self.next_char = Some((i, off + 1));
                }
            }
            let Some(&(_, _, kind, val)) = opt else {
                return Err(PoptError::BadOpt);
            };
            if kind == ArgKind::None {
                let eq_follows = match self.next_char {
                    Some((i, off)) => self.arg(i).as_bytes().get(off) == Some(&b'='),
                    None => false,
                };
                if long_arg.is_some() || eq_follows {
                    return Err(PoptError::UnwantedArg);
                }
                return Ok(Some((val, None)));
            }
            let arg = if let Some(la) = long_arg {
                Some(la)
            } else if let Some((i, off)) = self.next_char.take() {
                let b = self.arg(i).as_bytes();
                let rest = b.get(off..).unwrap_or(&[]);
                let rest = rest.strip_prefix(b"=").unwrap_or(rest);
                Some(lossy(rest))
            } else if self.next >= argc {
                if kind != ArgKind::OptStr {
                    return Err(PoptError::NoArg);
                }
                None
            } else if kind == ArgKind::OptStr && self.arg(self.next).starts_with('-') {
                None
            } else {
                self.next += 1;
                Some(Cow::Borrowed(self.arg(self.next - 1)))
            };
            return Ok(Some((val, arg)));
        }
    }
}

// --------------------------------------------------------- C conversions

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtol(s, &end, base)`: (value, bytes consumed, overflowed).
fn strtol(s: &[u8], base: u32) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < s.len() {
        let Some(d) = (s[i] as char).to_digit(base) else {
            break;
        };
        v = (v * i128::from(base) + i128::from(d)).min(1i128 << 80);
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let v = if neg { -v } else { v };
    if v > i128::from(i64::MAX) {
        return (i64::MAX, i, true);
    }
    if v < i128::from(i64::MIN) {
        return (i64::MIN, i, true);
    }
    (v as i64, i, false)
}

/// ipvsadm's `string_to_number`: the whole string a decimal number in
/// `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let b = s.as_bytes();
    let (n, used, over) = strtol(b, 10);
    if used == b.len() && used != 0 && !over && min <= n && n <= max {
        Some(n)
    } else {
        None
    }
}

/// glibc `inet_aton` (a, a.b, a.b.c, a.b.c.d; octal and hex parts;
/// anything after a white space ignored).
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    let b = s.as_bytes();
    // the parts before the last (at most 3)
    let mut parts = [0u64; 3];
    let mut nparts = 0;
    let mut i = 0;
    let mut val: u64;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        // strtoul(cp, &endp, 0)
        let (base, skip) = if b.get(i) == Some(&b'0')
            && matches!(b.get(i + 1), Some(b'x') | Some(b'X'))
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            (16, 2)
        } else if b.get(i) == Some(&b'0') {
            (8, 0)
        } else {
            (10, 0)
        };
        let mut j = i + skip;
        let mut v: u64 = 0;
        while let Some(d) = b.get(j).and_then(|&x| (x as char).to_digit(base)) {
            v = v
                .saturating_mul(u64::from(base))
                .saturating_add(u64::from(d));
            j += 1;
        }
        if v > 0xffff_ffff {
            return None;
        }
        val = v;
        i = j;
        if b.get(i) == Some(&b'.') {
            let slot = parts.get_mut(nparts)?;
            if val > 0xff {
                return None;
            }
            *slot = val;
            nparts += 1;
            i += 1;
        } else {
            break;
        }
    }
    if let Some(&ch) = b.get(i) {
        if !ch.is_ascii() || !is_c_space(ch) {
            return None;
        }
    }
    let max: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    if val > max[nparts.min(3)] {
        return None;
    }
    let mut word: u32 = 0;
    for (k, p) in parts.iter().take(nparts).enumerate() {
        word |= (*p as u32) << (24 - 8 * k);
    }
    word |= val as u32;
    Some(word.to_be_bytes())
}

/// `inet_pton(AF_INET6, ...)`
pub fn inet_pton6(s: &str) -> Option<[u8; 16]> {
    // every IPv6 address has two colons at least ("::"): anything else
    // (an IPv4 address with a port) is refused without a parse
    s.bytes().filter(|&b| b == b':').nth(1)?;
    s.parse::<std::net::Ipv6Addr>().ok().map(|a| a.octets())
}

/// `inet_pton(AF_INET, ...)`
pub fn inet_pton4(s: &str) -> Option<[u8; 4]> {
    s.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets())
}

fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn proto_name(p: u16) -> Option<&'static str> {
    match p {
        IPPROTO_TCP => Some("tcp"),
        IPPROTO_UDP => Some("udp"),
        IPPROTO_SCTP => Some("sctp"),
        _ => None,
    }
}

const SERVICE_ADDR: u8 = 1;
const SERVICE_PORT: u8 = 2;

/// ipvsadm's `parse_service`: fills af/addr/port (and netmask 128 for
/// IPv6), returns SERVICE_ADDR|SERVICE_PORT bits (0 on error).
fn parse_service(
    buf: &str,
    protocol: u16,
    af: &mut u16,
    addr: &mut [u8; 16],
    port: &mut u16,
    netmask: &mut u32,
    lookup: &dyn Lookup,
) -> u8 {
    if str_is_digit(buf) {
        return 0;
    }
    let mut host: &str = buf;
    let mut portp: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return 0;
        };
        let after = &inner[close + 1..];
        let Some(p) = after.strip_prefix(':') else {
            return 0;
        };
        host = &inner[..close];
        portp = Some(p);
    }
    if let Some(a6) = inet_pton6(host) {
        *addr = a6;
        *af = AF_INET6;
        *netmask = 128;
    } else {
        match host.rfind(':') {
            Some(p) => {
                portp = Some(&host[p + 1..]);
                host = &host[..p];
            }
            // "[1.2.3.4]:80": the port is lost, as in ipvsadm.
            None => portp = None,
        }
        let a4 = inet_aton(host).or_else(|| lookup.host_v4(host));
        match a4 {
            Some(a) => {
                *addr = [0; 16];
                addr[..4].copy_from_slice(&a);
                *af = AF_INET;
            }
            None => return 0,
        }
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = portp {
        result |= SERVICE_PORT;
        if let Some(n) = string_to_number(p, 0, 65535) {
            *port = n as u16;
        } else if let Some(n) = proto_name(protocol).and_then(|pn| lookup.service_port(p, pn)) {
            *port = n;
        } else {
            return 0;
        }
    }
    result
}

fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Failure> {
    match buf {
        None => Ok(PERSISTENT_TIMEOUT),
        Some(b) => string_to_number(b, min, max)
            .map(|n| n as u32)
            .ok_or_else(|| fail(format!("invalid timeout value `{b}' specified"))),
    }
}

fn parse_fwmark(buf: &str) -> Result<u32, Failure> {
    let b = buf.as_bytes();
    let (l, used, over) = strtol(b, 10);
    if used != b.len() || used == 0 || over || l <= 0 || l > i64::from(u32::MAX) {
        return Err(fail(format!("invalid fwmark value `{buf}' specified")));
    }
    Ok(l as u32)
}

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Failure> {
    let sched = if sched.is_empty() { "wlc" } else { sched };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let need = match flag {
            "flag-1" => {
                flags |= SVC_F_SCHED1;
                None
            }
            "flag-2" => {
                flags |= SVC_F_SCHED2;
                None
            }
            "flag-3" => {
                flags |= SVC_F_SCHED3;
                None
            }
            "sh-fallback" => {
                flags |= SVC_F_SCHED1;
                Some("sh")
            }
            "sh-port" => {
                flags |= SVC_F_SCHED2;
                Some("sh")
            }
            "mh-fallback" => {
                flags |= SVC_F_SCHED1;
                Some("mh")
            }
            "mh-port" => {
                flags |= SVC_F_SCHED2;
                Some("mh")
            }
            _ => return Err(fail(format!("invalid scheduler flag `{flag}'"))),
        };
        if let Some(s) = need {
            if s != sched {
                return Err(fail(format!("incompatible scheduler flag `{flag}'")));
            }
        }
    }
    if !any {
        // ipvsadm dereferences a NULL token here (it crashes); refuse instead.
        return Err(fail(format!("invalid scheduler flag `{arg}'")));
    }
    Ok(flags)
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn set_option(options: &mut u64, optc: u32) -> Result<(), Failure> {
    let bit = 1u64 << optc;
    if *options & bit != 0 {
        return Err(fail(format!(
            "multiple '{}' options specified",
            OPTNAMES.get(optc as usize).copied().unwrap_or("?")
        )));
    }
    *options |= bit;
    Ok(())
}

/// A row of [`COMMANDS_V_OPTIONS`] as bit masks of its option numbers:
/// (illegal, required, at most one of).
const fn rule_masks(row: &[u8; NUMBER_OF_OPT]) -> (u64, u64, u64) {
    let (mut illegal, mut required, mut one) = (0, 0, 0);
    let mut j = 0;
    while j < NUMBER_OF_OPT {
        match row[j] {
            b'x' => illegal |= 1 << j,
            b'+' => required |= 1 << j,
            b'1' => one |= 1 << j,
            _ => {}
        }
        j += 1;
    }
    (illegal, required, one)
}

/// [`rule_masks`] of every command's row.
const COMMAND_MASKS: [(u64, u64, u64); 14] = {
    let mut m = [(0, 0, 0); 14];
    let mut i = 0;
    while i < 14 {
        m[i] = rule_masks(COMMANDS_V_OPTIONS[i]);
        i += 1;
    }
    m
};

/// Whether `options` obey command `i`'s row (by its masks).
fn obeys_row(i: usize, options: u64) -> bool {
    COMMAND_MASKS
        .get(i)
        .is_some_and(|&(illegal, required, one)| {
            options & illegal == 0 && required & !options == 0 && (options & one).count_ones() <= 1
        })
}

fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), Failure> {
    let Some(i) = cmd.index() else {
        return Ok(());
    };
    // The common case: no rule broken, no need to find which one.
    if obeys_row(i, options) {
        return Ok(());
    }
    row_check(i, options)
}

/// ipvsadm's `generic_opt_check` loop over command `i`'s row: the message
/// of the first rule `options` break.
fn row_check(i: usize, options: u64) -> Result<(), Failure> {
    let (Some(row), Some(cname)) = (COMMANDS_V_OPTIONS.get(i), CMDNAMES.get(i)) else {
        return Ok(());
    };
    let mut last = 0;
    let mut count = 0;
    for (j, &rule) in row.iter().enumerate() {
        let name = OPTNAMES.get(j).copied().unwrap_or("?");
        if options & (1u64 << j) == 0 {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{name}' option for the '{cname}' command"
                )));
            }
        } else {
            if rule == b'x' {
                return Err(fail(format!(
                    "Illegal '{name}' option with the '{cname}' command"
                )));
            }
            if rule == b'1' {
                count += 1;
                if count == 1 {
                    last = j;
                    continue;
                }
                return Err(fail(format!(
                    "The option '{name}' conflicts with the '{}' option in the '{cname}' command",
                    OPTNAMES.get(last).copied().unwrap_or("?")
                )));
            }
        }
    }
    Ok(())
}

fn tunnel_opt_check(tun_type: u8, options: u64) -> Result<(), Failure> {
    let i = usize::from(tun_type);
    let (Some(row), Some(tname)) = (TUNNEL_TYPES_V_OPTIONS.get(i), TUNNAMES.get(i)) else {
        return Ok(());
    };
    let mut last = 0usize;
    let mut count = 0;
    for (j, &k) in TUNOPTS.iter().enumerate() {
        let name = OPTNAMES.get(k as usize).copied().unwrap_or("?");
        let rule = row.get(j).copied().unwrap_or(b' ');
        if options & (1u64 << k) == 0 {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{name}' option for the '{tname}' tunnel type"
                )));
            }
        } else {
            if rule == b'x' {
                return Err(fail(format!(
                    "Illegal '{name}' option with the '{tname}' tunnel type"
                )));
            }
            if rule == b'1' {
                count += 1;
                if count == 1 {
                    last = k as usize;
                    continue;
                }
                return Err(fail(format!(
                    "The option '{name}' conflicts with the '{}' option in the '{tname}' tunnel type",
                    OPTNAMES.get(last).copied().unwrap_or("?")
                )));
            }
        }
    }
    Ok(())
}

/// Parses one command line (`argv[0]` included) as ipvsadm's
/// `process_options` does, up to (not including) the kernel work.
/// `reading_stdin` is true for the lines of a `-R` restore.
pub fn parse<S: AsRef<str>>(
    argv: &[S],
    reading_stdin: bool,
    lookup: &dyn Lookup,
) -> Result<Outcome, Failure> {
    let program = argv.first().map(S::as_ref).unwrap_or("ipvsadm");
    let mut p = Parsed {
        cmd: Cmd::None,
        svc: Svc {
            netmask: 0xffff_ffff,
            ..Svc::default()
        },
        dest: Dest {
            weight: 1,
            conn_flags: CONN_F_DROUTE,
            ..Dest::default()
        },
        daemon: Daemon::default(),
        timeout: TimeoutSet::default(),
        options: 0,
        format: 0,
        json: false,
    };
    let mut popt = Popt::new(argv);

    // The first option must be the command.
    let (c0, arg0) = match popt.next_opt() {
        Ok(Some(x)) => x,
        _ => return Err(tryhelp(program)),
    };
    let daemon_state = |a: &Option<Cow<str>>| match a.as_deref() {
        Some("master") => Some(STATE_MASTER),
        Some("backup") => Some(STATE_BACKUP),
        _ => None,
    };
    p.cmd = match c0 {
        0x41 => Cmd::Add,         // A
        0x45 => Cmd::Edit,        // E
        0x44 => Cmd::Del,         // D
        0x61 => Cmd::AddDest,     // a
        0x65 => Cmd::EditDest,    // e
        0x64 => Cmd::DelDest,     // d
        0x43 => Cmd::Flush,       // C
        0x4c | 0x6c => Cmd::List, // L l
        0x5a => Cmd::Zero,        // Z
        TAG_SET => Cmd::Timeout,
        0x52 => Cmd::Restore, // R
        0x53 => Cmd::Save,    // S
        TAG_START_DAEMON => {
            p.daemon.state = daemon_state(&arg0)
                .ok_or_else(|| fail("illegal start-daemon parameter specified"))?;
            Cmd::StartDaemon
        }
        TAG_STOP_DAEMON => {
            p.daemon.state =
                daemon_state(&arg0).ok_or_else(|| fail("illegal start_daemon specified"))?;
            Cmd::StopDaemon
        }
        0x68 => return Ok(Outcome::Help),    // h
        0x76 => return Ok(Outcome::Version), // v
        _ => return Err(tryhelp(program)),
    };

    let mut sched_flags_arg = String::new();
    loop {
        let (opt, arg) = match popt.next_opt() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                return Err(Failure {
                    message: format!("{}: {}\n", popt.bad_option(), e.text()),
                    status: 255,
                    fatal: false,
                });
            }
        };
        let a = arg.as_deref().unwrap_or("");
        let o = &mut p.options;
        match opt {
            0x74 | 0x75 | TAG_SCTP_SERVICE => {
                set_option(o, OPTC_SERVICE)?;
                p.svc.protocol = match opt {
                    0x74 => IPPROTO_TCP,
                    0x75 => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                let s = &mut p.svc;
                let r = parse_service(
                    a,
                    s.protocol,
                    &mut s.af,
                    &mut s.addr,
                    &mut s.port,
                    &mut s.netmask,
                    lookup,
                );
                if r & SERVICE_ADDR == 0 {
                    return Err(fail("illegal virtual server address[:port] specified"));
                }
            }
            0x66 => {
                set_option(o, OPTC_SERVICE)?;
                p.svc.af = AF_INET;
                p.svc.protocol = IPPROTO_TCP;
                p.svc.fwmark = parse_fwmark(a)?;
            }
            0x73 => {
                set_option(o, OPTC_SCHEDULER)?;
                p.svc.sched_name = truncate(a, 15);
            }
            0x70 => {
                set_option(o, OPTC_PERSISTENT)?;
                p.svc.flags |= SVC_F_PERSISTENT;
                p.svc.timeout = parse_timeout(arg.as_deref(), 1, MAX_TIMEOUT)?;
            }
            0x4d => {
                set_option(o, OPTC_NETMASK)?;
                if p.svc.af != AF_INET6 {
                    let m = inet_aton(a).or_else(|| lookup.host_v4(a));
                    match m {
                        Some(m) => p.svc.netmask = u32::from_be_bytes(m),
                        None => {
                            return Err(fail("illegal virtual server persistent mask specified"));
                        }
                    }
                } else {
                    // atoi(): strtol truncated to int, stored in a u32
                    let (n, _, _) = strtol(a.as_bytes(), 10);
                    p.svc.netmask = n as i32 as u32;
                    if p.svc.netmask < 1 || p.svc.netmask > 128 {
                        return Err(fail("illegal ipv6 netmask specified"));
                    }
                }
            }
            0x72 => {
                set_option(o, OPTC_SERVER)?;
                let mut af = p.svc.af;
                let mut addr = p.svc.addr;
                let mut port = p.svc.port;
                let mut nm = p.svc.netmask;
                let r = parse_service(
                    a,
                    p.svc.protocol,
                    &mut af,
                    &mut addr,
                    &mut port,
                    &mut nm,
                    lookup,
                );
                p.dest.af = af;
                p.dest.addr = addr;
                p.dest.port = port;
                if r & SERVICE_ADDR == 0 {
                    return Err(fail("illegal real server address[:port] specified"));
                }
                if r == SERVICE_ADDR {
                    p.dest.port = p.svc.port;
                }
            }
            0x69 => {
                set_option(o, OPTC_FORWARD)?;
                p.dest.conn_flags = CONN_F_TUNNEL;
            }
            0x67 => {
                set_option(o, OPTC_FORWARD)?;
                p.dest.conn_flags = CONN_F_DROUTE;
            }
            0x6d => {
                set_option(o, OPTC_FORWARD)?;
                p.dest.conn_flags = CONN_F_MASQ;
            }
            0x77 => {
                set_option(o, OPTC_WEIGHT)?;
                // Debian raises ipvsadm's 65535 limit to INT_MAX.
                p.dest.weight = string_to_number(a, 0, INT_MAX)
                    .ok_or_else(|| fail("illegal weight specified"))?
                    as u32;
            }
            0x78 => {
                set_option(o, OPTC_UTHRESHOLD)?;
                p.dest.u_threshold = string_to_number(a, 0, INT_MAX)
                    .ok_or_else(|| fail("illegal u_threshold specified"))?
                    as u32;
            }
            0x79 => {
                set_option(o, OPTC_LTHRESHOLD)?;
                p.dest.l_threshold = string_to_number(a, 0, INT_MAX)
                    .ok_or_else(|| fail("illegal l_threshold specified"))?
                    as u32;
            }
            0x63 => set_option(o, OPTC_CONNECTION)?,
            0x6e => {
                set_option(o, OPTC_NUMERIC)?;
                p.format |= FMT_NUMERIC;
            }
            TAG_MCAST_INTERFACE => {
                set_option(o, OPTC_MCAST)?;
                p.daemon.mcast_ifn = truncate(a, 15);
            }
            0x49 => {
                set_option(o, OPTC_SYNCID)?;
                p.daemon.syncid = string_to_number(a, 0, 255)
                    .ok_or_else(|| fail("illegal syncid specified"))?
                    as u32;
            }
            TAG_TIMEOUT => set_option(o, OPTC_TIMEOUT)?,
            TAG_DAEMON => set_option(o, OPTC_DAEMON)?,
            TAG_STATS => {
                set_option(o, OPTC_STATS)?;
                p.format |= FMT_STATS;
            }
            TAG_RATE => {
                set_option(o, OPTC_RATE)?;
                p.format |= FMT_RATE;
            }
            TAG_THRESHOLDS => {
                set_option(o, OPTC_THRESHOLDS)?;
                p.format |= FMT_THRESHOLDS;
            }
            TAG_PERSISTENTCONN => {
                set_option(o, OPTC_PERSISTENTCONN)?;
                p.format |= FMT_PERSISTENTCONN;
            }
            TAG_NO_SORT => {
                set_option(o, OPTC_NOSORT)?;
                p.format |= FMT_NOSORT;
            }
            TAG_SORT => {}
            TAG_JSON => p.json = true,
            0x58 => {
                set_option(o, OPTC_EXACT)?;
                p.format |= FMT_EXACT;
            }
            0x36 => {
                if p.svc.fwmark != 0 {
                    p.svc.af = AF_INET6;
                    p.svc.netmask = 128;
                } else {
                    return Err(fail("-6 used before -f\n"));
                }
            }
            0x6f => {
                set_option(o, OPTC_ONEPACKET)?;
                p.svc.flags |= SVC_F_ONEPACKET;
            }
            TAG_PE => {
                set_option(o, OPTC_PE)?;
                p.svc.pe_name = truncate(a, 15);
            }
            0x62 => {
                set_option(o, OPTC_SCHED_FLAGS)?;
                sched_flags_arg = truncate(a, 127);
            }
            TAG_MCAST_GROUP => {
                set_option(o, OPTC_MCAST_GROUP)?;
                if a.contains(':') {
                    match inet_pton6(a) {
                        Some(g) if g[0] == 0xff => p.daemon.mcast_group = g,
                        _ => return Err(fail(format!("invalid IPv6 mcast-group `{a}'"))),
                    }
                    p.daemon.mcast_af = AF_INET6;
                } else {
                    match inet_pton4(a) {
                        Some(g) if (224..=239).contains(&g[0]) => {
                            p.daemon.mcast_group = [0; 16];
                            p.daemon.mcast_group[..4].copy_from_slice(&g);
                        }
                        _ => return Err(fail(format!("invalid IPv4 mcast-group `{a}'"))),
                    }
                    p.daemon.mcast_af = AF_INET;
                }
            }
            TAG_MCAST_PORT => {
                set_option(o, OPTC_MCAST_PORT)?;
                p.daemon.mcast_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal mcast-port specified"))?
                    as u16;
            }
            TAG_MCAST_TTL => {
                set_option(o, OPTC_MCAST_TTL)?;
                p.daemon.mcast_ttl = string_to_number(a, 1, 255)
                    .ok_or_else(|| fail("illegal mcast-ttl specified"))?
                    as u8;
            }
            TAG_SYNC_MAXLEN => {
                set_option(o, OPTC_SYNC_MAXLEN)?;
                p.daemon.sync_maxlen = string_to_number(a, 1, 65535 - 20 - 8)
                    .ok_or_else(|| fail("illegal sync-maxlen specified"))?
                    as u16;
            }
            TAG_TUN_INFO => {
                set_option(o, OPTC_TUN_INFO)?;
                p.format |= FMT_TUN_INFO;
            }
            TAG_TUN_TYPE => {
                set_option(o, OPTC_TUN_TYPE)?;
                p.dest.tun_type = match a {
                    "ipip" => 0,
                    "gue" => 1,
                    "gre" => 2,
                    _ => return Err(fail("illegal tunnel type specified")),
                };
            }
            TAG_TUN_PORT => {
                set_option(o, OPTC_TUN_PORT)?;
                p.dest.tun_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| fail("illegal tunnel port specified"))?
                    as u16;
            }
            TAG_TUN_NOCSUM => set_option(o, OPTC_TUN_NOCSUM)?,
            TAG_TUN_CSUM => {
                set_option(o, OPTC_TUN_CSUM)?;
                p.dest.tun_flags |= 1;
            }
            TAG_TUN_REMCSUM => {
                set_option(o, OPTC_TUN_REMCSUM)?;
                p.dest.tun_flags |= 2;
            }
            _ => {
                return Err(fail(format!("invalid option `{}'", popt.bad_option())));
            }
        }
    }

    if p.cmd == Cmd::Timeout {
        let a = popt.get_arg();
        let b = popt.get_arg();
        let c = popt.get_arg();
        match (a, b, c) {
            (Some(a), Some(b), Some(c)) => {
                p.timeout.tcp = parse_timeout(Some(a), 0, MAX_TIMEOUT)?;
                p.timeout.tcp_fin = parse_timeout(Some(b), 0, MAX_TIMEOUT)?;
                p.timeout.udp = parse_timeout(Some(c), 0, MAX_TIMEOUT)?;
            }
            _ => return Err(fail("--set option requires 3 timeout values")),
        }
    }
    if let Some(extra) = popt.get_arg() {
        return Err(fail(format!("unexpected argument {extra}")));
    }
    if !sched_flags_arg.is_empty() {
        p.svc.flags &= !(SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3);
        p.svc.flags |= parse_sched_flags(&p.svc.sched_name, &sched_flags_arg)?;
    }

    // process_options()
    generic_opt_check(p.cmd, p.options)?;
    if matches!(p.cmd, Cmd::Add | Cmd::Edit) {
        if p.svc.fwmark == 0 && p.svc.port == 0 && p.svc.flags & SVC_F_PERSISTENT == 0 {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        if p.svc.flags & SVC_F_ONEPACKET != 0 && p.svc.fwmark == 0 && p.svc.protocol != IPPROTO_UDP
        {
            return Err(fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if p.svc.sched_name.is_empty() {
            p.svc.sched_name = "wlc".into();
        }
    }
    if p.cmd == Cmd::StartDaemon && p.daemon.mcast_ifn.is_empty() {
        p.daemon.mcast_ifn = "eth0".into();
    }
    let fwd = p.dest.conn_flags & 7;
    if matches!(p.cmd, Cmd::AddDest | Cmd::EditDest) {
        if p.svc.fwmark == 0 && (fwd == CONN_F_TUNNEL || fwd == CONN_F_DROUTE) {
            p.dest.port = p.svc.port;
        }
        if p.dest.af != p.svc.af && fwd != CONN_F_TUNNEL {
            return Err(fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun_opts = [
            OPTC_TUN_TYPE,
            OPTC_TUN_PORT,
            OPTC_TUN_NOCSUM,
            OPTC_TUN_CSUM,
            OPTC_TUN_REMCSUM,
        ];
        if tun_opts.iter().any(|&t| p.has(t)) && fwd != CONN_F_TUNNEL {
            return Err(fail("Tunnel options conflict with forward method"));
        }
        tunnel_opt_check(p.dest.tun_type, p.options)?;
    }
    if p.cmd == Cmd::List {
        let any = |bits: &[u32]| bits.iter().any(|&b| p.has(b));
        if (any(&[OPTC_CONNECTION, OPTC_TIMEOUT, OPTC_DAEMON])
            && any(&[OPTC_STATS, OPTC_RATE, OPTC_THRESHOLDS]))
            || (any(&[OPTC_TIMEOUT, OPTC_DAEMON]) && p.has(OPTC_PERSISTENTCONN))
        {
            return Err(fail("options conflicts in the list command"));
        }
    }
    if p.cmd == Cmd::Restore && reading_stdin {
        return Err(tryhelp(program));
    }
    Ok(Outcome::Run(Box::new(p)))
}

/// One line of a restore stream as a command line, as ipvsadm's
/// `config_stream_read` makes it: white-space separated words, the word
/// `ipvsadm` dropped, `program` put in front as argv[0]. `None` for a line
/// with no word.
pub fn restore_line<'a>(line: &'a str, program: &'a str) -> Option<Vec<&'a str>> {
    let mut argv = Vec::with_capacity(16);
    argv.push(program);
    // The separators are ASCII: cut at their bytes (every cut is a char
    // boundary), without decoding the line's chars.
    let sep = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut rest = line;
    while !rest.is_empty() {
        let start = rest.bytes().position(|b| !sep(&b)).unwrap_or(rest.len());
        let tail = rest.get(start..).unwrap_or("");
        let len = tail.bytes().position(|b| sep(&b)).unwrap_or(tail.len());
        let (word, after) = tail.split_at(len);
        if !word.is_empty() && word != "ipvsadm" {
            argv.push(word);
        }
        rest = after;
    }
    (argv.len() > 1).then_some(argv)
}

/// This project's `-h` text.
pub fn help_text(program: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{program}: IPVS administration on generic netlink (clusterip's ipvs-nl),\n\
         a drop-in replacement for ipvsadm 1.31 with the same command line.\n\n\
         Usage:\n  \
         {program} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe engine] [-b sched-flags]\n  \
         {program} -D virtual-service\n  \
         {program} -C\n  \
         {program} -R            (restore -S output from stdin, in large batches)\n  \
         {program} -S [-n]\n  \
         {program} -a|e virtual-service -r server-address [options]\n  \
         {program} -d virtual-service -r server-address\n  \
         {program} -L|l [virtual-service] [options] [--json]\n  \
         {program} -Z [virtual-service]\n  \
         {program} --set tcp tcpfin udp\n  \
         {program} --start-daemon {{master|backup}} [daemon-options]\n  \
         {program} --stop-daemon {{master|backup}}\n  \
         {program} -h | -v\n\n\
         virtual-service: -t|--tcp-service, -u|--udp-service, --sctp-service host[:port],\n\
         \x20                or -f|--fwmark-service mark [-6|--ipv6]\n\n\
         Options: -s|--scheduler (default wlc), -p|--persistent [timeout] (default 360),\n\
         -M|--netmask, --pe, -b|--sched-flags, -o|--ops, -r|--real-server,\n\
         -g|--gatewaying (default), -i|--ipip, -m|--masquerading, --tun-type ipip|gue|gre,\n\
         --tun-port, --tun-nocsum|--tun-csum|--tun-remcsum, -w|--weight (default 1),\n\
         -x|--u-threshold, -y|--l-threshold.\n\
         Listing: -n|--numeric, -c|--connection, --timeout, --daemon, --stats, --rate,\n\
         --thresholds, --persistent-conn, --tun-info, --exact|-X, --nosort, --sort,\n\
         --json (machine-readable, see docs/ipvsadm-json.md).\n\
         Daemon: --mcast-interface, --syncid, --sync-maxlen, --mcast-group, --mcast-port,\n\
         --mcast-ttl.\n"
    );
    s
}

/// This project's `-v` text.
pub fn version_text() -> String {
    format!(
        "ipvsadm (clusterip example) {} on ipvs-nl, command line of ipvsadm v1.31\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_option_table_is_popts_first_match() {
        for ch in 0..=255u8 {
            let table = SHORT_OPTIONS
                .get(usize::from(ch))
                .and_then(|&k| OPTIONS.get(usize::from(k?)));
            let scan = OPTIONS.iter().find(|o| o.1 != 0 && o.1 == ch);
            assert_eq!(table.map(|o| o.3), scan.map(|o| o.3), "option letter {ch}");
        }
    }

    #[test]
    fn row_masks_agree_with_the_row_loop() {
        // every single option, every pair, and pseudo-random sets
        let mut sets: Vec<u64> = vec![0];
        for a in 0..NUMBER_OF_OPT {
            for b in a..NUMBER_OF_OPT {
                sets.push((1 << a) | (1 << b));
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // sparse sets break few rules, dense ones many
            sets.push(x & (x >> 3) & ((1 << NUMBER_OF_OPT) - 1));
            sets.push(x & ((1 << NUMBER_OF_OPT) - 1));
        }
        for i in 0..COMMANDS_V_OPTIONS.len() {
            for &o in &sets {
                assert_eq!(
                    obeys_row(i, o),
                    row_check(i, o).is_ok(),
                    "command {i}, options {o:#x}"
                );
            }
        }
    }
}
