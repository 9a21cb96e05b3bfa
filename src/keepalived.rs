//! A reader of keepalived's configuration: the `virtual_server` and
//! `real_server` blocks that describe IPVS services, with `include` globs.
//!
//! The grammar is keepalived's: whitespace-separated words, `{` and `}`
//! delimiting blocks, `!` and `#` starting comments, double quotes grouping a
//! word with spaces, and `include PATTERN` pulling in files (a relative
//! pattern is taken from the directory of the including file; matches are
//! read in sorted order). Everything this module does not interpret
//! (`global_defs`, `vrrp_instance`, ...) is kept as a [`Block`] tree, so
//! nothing is silently dropped. Every error names the file and line.
//!
//! Health checks are typed too ([`CheckSpec`]): `TCP_CHECK`, `HTTP_GET`
//! (with its `url` blocks) and `MISC_CHECK`, their timers
//! ([`CheckTimers`], which a real server and a virtual server may also set
//! as defaults for their checkers) and the virtual server's failover
//! options (`quorum`, `hysteresis`, `quorum_up`/`quorum_down`,
//! `sorry_server`, `alpha`, `omega`, `inhibit_on_failure`). The health
//! checker that runs them is `clusterip::health`. Timer values are seconds
//! and may be fractional (`delay_loop 0.5`), as keepalived reads them.
//!
//! ```
//! use clusterip::keepalived::{Config, Target};
//! let text = "virtual_server 169.254.11.2 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
//!             real_server 10.0.0.1 8080 { weight 1 }\n}\n";
//! let cfg = Config::parse_str(text, "keepalived.conf").unwrap();
//! let vs = &cfg.virtual_servers[0];
//! assert_eq!(vs.target, Target::Address("169.254.11.2:80".parse().unwrap()));
//! assert_eq!(vs.real_servers[0].weight, Some(1));
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where something was written: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The line, counting from 1.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A configuration error, pointing at the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// Where.
    pub location: Location,
    /// What is wrong.
    pub message: String,
}

fn err(location: &Location, message: impl Into<String>) -> ConfigError {
    ConfigError {
        location: location.clone(),
        message: message.into(),
    }
}

/// A generic configuration statement: a keyword, its arguments and, for a
/// block, its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The first word, e.g. `HTTP_GET`.
    pub keyword: String,
    /// The words after it on the same statement.
    pub args: Vec<String>,
    /// The statements inside `{ }`, or `None` for a plain statement.
    pub children: Option<Vec<Block>>,
    /// Where the keyword stands.
    pub location: Location,
}

impl Block {
    /// The first child statement called `keyword`.
    pub fn child(&self, keyword: &str) -> Option<&Block> {
        self.children
            .as_deref()
            .and_then(|c| c.iter().find(|b| b.keyword == keyword))
    }
}

/// The transport protocol of a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `protocol TCP` (keepalived's default).
    Tcp,
    /// `protocol UDP`.
    Udp,
    /// `protocol SCTP`.
    Sctp,
}

impl Protocol {
    /// Lower-case name as ipset writes it (`tcp`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// How IPVS forwards to real servers (`lb_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbKind {
    /// `NAT`: masquerading.
    Nat,
    /// `DR`: direct routing.
    Dr,
    /// `TUN`: IP-in-IP tunnelling.
    Tun,
}

/// What a virtual server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `virtual_server IP PORT`.
    Address(SocketAddr),
    /// `virtual_server fwmark MARK`.
    Fwmark(u32),
}

/// A health check block of a real server: its kind, what it says (typed,
/// for the kinds `clusterip::health` runs) and the whole block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `MISC_CHECK`, `SMTP_CHECK`, `DNS_CHECK`, ...
    pub kind: String,
    /// The check, typed.
    pub spec: CheckSpec,
    /// The whole block.
    pub block: Block,
}

/// Timers and retries of health checks: set in a checker block, or as
/// defaults for the checkers of a `real_server` or `virtual_server` (the
/// innermost setting wins). `None` means not written here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckTimers {
    /// `delay_loop`: time between two checks.
    pub delay_loop: Option<Duration>,
    /// `retry` (or the older `nb_get_retry`): how many times a failed check
    /// is retried before the real server is taken down.
    pub retry: Option<u32>,
    /// `delay_before_retry`: time between a failure and its retry.
    pub delay_before_retry: Option<Duration>,
    /// `connect_timeout`: how long a connection (and, for `HTTP_GET`, the
    /// whole exchange) may take.
    pub connect_timeout: Option<Duration>,
    /// `warmup`: the first check runs after a random delay up to this.
    pub warmup: Option<Duration>,
}

impl CheckTimers {
    /// Each timer of `self`, or of `outer` where `self` has none.
    pub fn or(&self, outer: &CheckTimers) -> CheckTimers {
        CheckTimers {
            delay_loop: self.delay_loop.or(outer.delay_loop),
            retry: self.retry.or(outer.retry),
            delay_before_retry: self.delay_before_retry.or(outer.delay_before_retry),
            connect_timeout: self.connect_timeout.or(outer.connect_timeout),
            warmup: self.warmup.or(outer.warmup),
        }
    }

    /// Reads the statement `b` when it is a timer; false when it is not one.
    fn read(&mut self, b: &Block) -> Result<bool, ConfigError> {
        match b.keyword.as_str() {
            "delay_loop" => self.delay_loop = Some(duration(b)?),
            "retry" | "nb_get_retry" => self.retry = Some(number(b)?),
            "delay_before_retry" => self.delay_before_retry = Some(duration(b)?),
            "connect_timeout" => self.connect_timeout = Some(duration(b)?),
            "warmup" => self.warmup = Some(duration(b)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Where a connection-based checker connects, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `connect_ip`: the address to check (default: the real server's).
    pub connect_ip: Option<IpAddr>,
    /// `connect_port`: the port to check (default: the real server's).
    pub connect_port: Option<u16>,
    /// `bindto`: the local address to connect from.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: the local port to connect from.
    pub bind_port: Option<u16>,
}

impl ConnectOptions {
    fn read(&mut self, b: &Block) -> Result<bool, ConfigError> {
        match b.keyword.as_str() {
            "connect_ip" => self.connect_ip = Some(address(one_arg(b)?, &b.location)?),
            "connect_port" => self.connect_port = Some(port(one_arg(b)?, &b.location)?),
            "bindto" => self.bindto = Some(address(one_arg(b)?, &b.location)?),
            "bind_port" => self.bind_port = Some(port(one_arg(b)?, &b.location)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A `TCP_CHECK`: the real server is up when a TCP connection to it opens
/// within `connect_timeout`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpCheck {
    /// Where to connect.
    pub connect: ConnectOptions,
    /// The checker's own timers.
    pub timers: CheckTimers,
}

/// A range of HTTP status codes a `url` accepts (`200`, or `200-299`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    /// First code accepted.
    pub first: u16,
    /// Last code accepted (equal to `first` for a single code).
    pub last: u16,
}

impl StatusRange {
    /// Whether `code` is in the range.
    pub fn contains(&self, code: u16) -> bool {
        self.first <= code && code <= self.last
    }
}

/// One `url { }` block of an `HTTP_GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    /// `path`: what to request (`/` when not written).
    pub path: String,
    /// `status_code`: the codes accepted; empty means any 2xx (keepalived's
    /// default).
    pub status: Vec<StatusRange>,
    /// `digest`: the MD5 digest the body must have.
    pub digest: Option<[u8; 16]>,
    /// `virtualhost`: the `Host` header for this URL.
    pub virtualhost: Option<String>,
    /// Where the block starts.
    pub location: Location,
}

impl UrlCheck {
    /// Whether a response status is accepted.
    pub fn accepts(&self, code: u16) -> bool {
        if self.status.is_empty() {
            (200..=299).contains(&code)
        } else {
            self.status.iter().any(|r| r.contains(code))
        }
    }
}

/// An `HTTP_GET`: every URL must answer with an accepted status (and
/// digest, when one is given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCheck {
    /// The `url` blocks, in file order.
    pub urls: Vec<UrlCheck>,
    /// `virtualhost`: the `Host` header (default: the checked address and
    /// port).
    pub virtualhost: Option<String>,
    /// Where to connect.
    pub connect: ConnectOptions,
    /// The checker's own timers.
    pub timers: CheckTimers,
}

/// A `MISC_CHECK`: a program run with `/bin/sh -c`; exit status 0 means up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MiscCheck {
    /// `misc_path`: the command line.
    pub path: String,
    /// `misc_timeout`: how long it may run (default: the check interval).
    pub timeout: Option<Duration>,
    /// `misc_dynamic`: an exit status of 2 + N means up with weight N,
    /// 1 means down.
    pub dynamic: bool,
    /// `user`: the user to run it as (kept; the checker runs it as itself).
    pub user: Option<String>,
    /// The checker's own timers.
    pub timers: CheckTimers,
}

/// What a health check block says, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSpec {
    /// `TCP_CHECK`.
    Tcp(TcpCheck),
    /// `HTTP_GET`.
    Http(HttpCheck),
    /// `MISC_CHECK`.
    Misc(MiscCheck),
    /// A kind this reader keeps but does not interpret (`SSL_GET`,
    /// `SMTP_CHECK`, `DNS_CHECK`, ...): see [`HealthCheck::block`].
    Other,
}

impl CheckSpec {
    /// The checker's own timers (`None` for [`CheckSpec::Other`]).
    pub fn timers(&self) -> Option<&CheckTimers> {
        match self {
            CheckSpec::Tcp(c) => Some(&c.timers),
            CheckSpec::Http(c) => Some(&c.timers),
            CheckSpec::Misc(c) => Some(&c.timers),
            CheckSpec::Other => None,
        }
    }
}

/// The `sorry_server` of a virtual server: put in the pool when the
/// virtual server has lost its quorum (by default: all real servers down).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServer {
    /// Its address.
    pub address: IpAddr,
    /// Its port (absent for fwmark services).
    pub port: Option<u16>,
    /// Where it is written.
    pub location: Location,
}

/// Health-check block keywords keepalived knows.
const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "BFD_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
];

/// A `real_server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// Its address.
    pub address: IpAddr,
    /// Its port (absent for fwmark services forwarding to any port).
    pub port: Option<u16>,
    /// `weight` (keepalived's default is 1).
    pub weight: Option<u32>,
    /// `inhibit_on_failure`: when down, keep it at weight 0 instead of
    /// removing it (`None`: the virtual server's setting applies).
    pub inhibit_on_failure: Option<bool>,
    /// Defaults for the timers of its checkers.
    pub timers: CheckTimers,
    /// Health checks.
    pub checks: Vec<HealthCheck>,
    /// Other statements, kept.
    pub other: Vec<Block>,
    /// Where the block starts.
    pub location: Location,
}

/// A `virtual_server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    /// Address and port, or firewall mark.
    pub target: Target,
    /// `protocol` (None when not written: keepalived then uses TCP).
    pub protocol: Option<Protocol>,
    /// `lb_algo` (scheduler name, e.g. `rr`).
    pub lb_algo: Option<String>,
    /// `lb_kind`.
    pub lb_kind: Option<LbKind>,
    /// `persistence_timeout`, seconds.
    pub persistence_timeout: Option<u32>,
    /// `delay_loop`, seconds between health checks, rounded up to whole
    /// seconds (the exact value is in [`CheckTimers::delay_loop`] of
    /// [`VirtualServer::timers`]).
    pub delay_loop: Option<u32>,
    /// Defaults for the timers of every checker of its real servers.
    pub timers: CheckTimers,
    /// `quorum`: the least sum of the weights of live real servers for the
    /// service to be up (keepalived's default is 1).
    pub quorum: Option<u32>,
    /// `hysteresis`: quorum is lost below `quorum - hysteresis` and gained
    /// again at `quorum + hysteresis`.
    pub hysteresis: Option<u32>,
    /// `quorum_up`: the command run when quorum is gained.
    pub quorum_up: Option<String>,
    /// `quorum_down`: the command run when quorum is lost.
    pub quorum_down: Option<String>,
    /// `sorry_server`.
    pub sorry_server: Option<SorryServer>,
    /// `sorry_server_inhibit`: the sorry server stays in the pool at weight
    /// 0 while it is not needed.
    pub sorry_server_inhibit: bool,
    /// `alpha`: real servers start down until a check succeeds.
    pub alpha: bool,
    /// `omega`: on shutdown, the down notifications (and `quorum_down`) are
    /// given.
    pub omega: bool,
    /// `inhibit_on_failure`: the default of the real servers.
    pub inhibit_on_failure: bool,
    /// The real servers.
    pub real_servers: Vec<RealServer>,
    /// Other statements, kept.
    pub other: Vec<Block>,
    /// Where the block starts.
    pub location: Location,
}

impl VirtualServer {
    /// The protocol in force (`TCP` when not written, as keepalived does).
    pub fn effective_protocol(&self) -> Protocol {
        self.protocol.unwrap_or(Protocol::Tcp)
    }

    /// The quorum in force (1 when not written, as keepalived does).
    pub fn effective_quorum(&self) -> u32 {
        self.quorum.unwrap_or(1)
    }

    /// Whether real server `rs` is kept at weight 0 rather than removed when
    /// it fails (its own `inhibit_on_failure`, else the virtual server's).
    pub fn inhibits(&self, rs: &RealServer) -> bool {
        rs.inhibit_on_failure.unwrap_or(self.inhibit_on_failure)
    }
}

/// A whole configuration: the virtual servers, everything else kept as
/// blocks, and the files that were read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The `virtual_server` blocks, in file order.
    pub virtual_servers: Vec<VirtualServer>,
    /// Every other top-level statement (`global_defs`, `vrrp_instance`, ...).
    pub other: Vec<Block>,
    /// The files read, the main one first.
    pub files: Vec<PathBuf>,
}

/// Deepest include nesting accepted (keepalived's own limit is similar).
const MAX_INCLUDE_DEPTH: usize = 8;

impl Config {
    /// Reads `path` and every file it includes.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let mut files = Vec::new();
        let blocks = load_file(path.as_ref(), 0, &mut files, None)?;
        let mut cfg = Config::from_blocks(blocks)?;
        cfg.files = files;
        Ok(cfg)
    }

    /// Parses configuration text; `name` is used in error locations.
    /// `include` statements are resolved relative to the current directory.
    pub fn parse_str(text: &str, name: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let mut files = vec![name.as_ref().to_path_buf()];
        let tokens = tokenize(text, name.as_ref());
        let blocks = parse_blocks(&tokens, name.as_ref(), 0, &mut files)?;
        let mut cfg = Config::from_blocks(blocks)?;
        cfg.files = files;
        Ok(cfg)
    }

    fn from_blocks(blocks: Vec<Block>) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        for b in blocks {
            if b.keyword == "virtual_server" {
                cfg.virtual_servers.push(virtual_server(b)?);
            } else {
                cfg.other.push(b);
            }
        }
        Ok(cfg)
    }
}

fn load_file(
    path: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    from: Option<&Location>,
) -> Result<Vec<Block>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let location = from.cloned().unwrap_or(Location {
            file: path.to_path_buf(),
            line: 0,
        });
        err(&location, format!("cannot read {}: {e}", path.display()))
    })?;
    files.push(path.to_path_buf());
    let tokens = tokenize(&text, path);
    parse_blocks(&tokens, path, depth, files)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    /// End of a line: statements end at line ends.
    Eol,
}

fn tokenize(text: &str, file: &Path) -> Vec<(Tok, Location)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let loc = Location {
            file: file.to_path_buf(),
            line: i + 1,
        };
        let mut chars = line.chars().peekable();
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut Vec<(Tok, Location)>| {
            if !word.is_empty() {
                out.push((Tok::Word(std::mem::take(word)), loc.clone()));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '!' | '#' => break,
                '{' => {
                    flush(&mut word, &mut out);
                    out.push((Tok::Open, loc.clone()));
                }
                '}' => {
                    flush(&mut word, &mut out);
                    out.push((Tok::Close, loc.clone()));
                }
                '"' => {
                    for q in chars.by_ref() {
                        if q == '"' {
                            break;
                        }
                        word.push(q);
                    }
                    if word.is_empty() {
                        out.push((Tok::Word(String::new()), loc.clone()));
                    }
                }
                c if c.is_whitespace() => flush(&mut word, &mut out),
                c => word.push(c),
            }
        }
        flush(&mut word, &mut out);
        out.push((Tok::Eol, loc));
    }
    out
}

fn parse_blocks(
    tokens: &[(Tok, Location)],
    file: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
) -> Result<Vec<Block>, ConfigError> {
    let mut pos = 0;
    let blocks = parse_level(tokens, &mut pos, file, depth, files, None)?;
    Ok(blocks)
}

/// Parses statements until the matching `}` (when `open` is the location of
/// the `{`) or the end of input.
fn parse_level(
    tokens: &[(Tok, Location)],
    pos: &mut usize,
    file: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    open: Option<&Location>,
) -> Result<Vec<Block>, ConfigError> {
    let mut out = Vec::new();
    while let Some((tok, loc)) = tokens.get(*pos) {
        *pos += 1;
        match tok {
            Tok::Eol => {}
            Tok::Close => {
                if open.is_some() {
                    return Ok(out);
                }
                return Err(err(loc, "'}' without a matching '{'"));
            }
            Tok::Open => {
                // keepalived accepts a bare block only as a value list
                // (e.g. inside virtual_ipaddress); keep it as an anonymous block.
                let children = parse_level(tokens, pos, file, depth, files, Some(loc))?;
                out.push(Block {
                    keyword: String::new(),
                    args: Vec::new(),
                    children: Some(children),
                    location: loc.clone(),
                });
            }
            Tok::Word(keyword) => {
                let location = loc.clone();
                let mut args = Vec::new();
                let mut children = None;
                while let Some((t, l)) = tokens.get(*pos) {
                    match t {
                        Tok::Word(w) => {
                            args.push(w.clone());
                            *pos += 1;
                        }
                        Tok::Open => {
                            *pos += 1;
                            children = Some(parse_level(tokens, pos, file, depth, files, Some(l))?);
                            break;
                        }
                        Tok::Eol => {
                            // A block's '{' may stand on the next line.
                            let next = tokens
                                .get(*pos..)
                                .unwrap_or_default()
                                .iter()
                                .find(|(t, _)| *t != Tok::Eol);
                            if matches!(next, Some((Tok::Open, _))) && is_block_keyword(keyword) {
                                while matches!(tokens.get(*pos), Some((Tok::Eol, _))) {
                                    *pos += 1;
                                }
                                continue;
                            }
                            break;
                        }
                        Tok::Close => break,
                    }
                }
                if keyword == "include" {
                    let [pattern] = args.as_slice() else {
                        return Err(err(&location, "include takes exactly one file pattern"));
                    };
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(err(&location, "includes nested too deeply (a loop?)"));
                    }
                    for path in expand_include(pattern, file, &location)? {
                        out.extend(load_file(&path, depth + 1, files, Some(&location))?);
                    }
                    continue;
                }
                out.push(Block {
                    keyword: keyword.clone(),
                    args,
                    children,
                    location,
                });
            }
        }
    }
    match open {
        Some(l) => Err(err(l, "'{' is never closed")),
        None => Ok(out),
    }
}

fn is_block_keyword(k: &str) -> bool {
    matches!(
        k,
        "virtual_server" | "real_server" | "global_defs" | "vrrp_instance" | "url"
    ) || CHECKERS.contains(&k)
}

/// Expands an include pattern: `*`, `?` and `[...]` in the last component.
fn expand_include(pattern: &str, file: &Path, loc: &Location) -> Result<Vec<PathBuf>, ConfigError> {
    let p = Path::new(pattern);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(p)
    };
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| err(loc, format!("bad include pattern {pattern:?}")))?
        .to_string();
    let dir = p.parent().unwrap_or(Path::new("/")).to_path_buf();
    if !name.contains(['*', '?', '[']) {
        return Ok(vec![p]);
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        // keepalived ignores a pattern that matches nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(loc, format!("cannot read {}: {e}", dir.display()))),
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            !n.starts_with('.') && glob_match(name.as_bytes(), n.as_bytes())
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// `fnmatch`-style matching of one path component.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        // Every suffix of `s`, from `s` itself down to the empty one.
        Some((b'*', rest)) => std::iter::successors(Some(s), |t| t.split_first().map(|(_, r)| r))
            .any(|t| glob_match(rest, t)),
        Some((b'?', rest)) => s.split_first().is_some_and(|(_, t)| glob_match(rest, t)),
        Some((b'[', rest)) => {
            // The class ends at the first ']' after its first character.
            let close = rest.iter().skip(1).position(|&c| c == b']').map(|i| i + 1);
            let Some((class, after)) = close.and_then(|end| rest.split_at_checked(end)) else {
                return s
                    .split_first()
                    .is_some_and(|(&c, t)| c == b'[' && glob_match(rest, t));
            };
            // `after` starts with the closing ']'.
            let after = after.get(1..).unwrap_or_default();
            let Some((&c, tail)) = s.split_first() else {
                return false;
            };
            let (negate, mut set) = match class.split_first() {
                Some((b'!' | b'^', set)) => (true, set),
                _ => (false, class),
            };
            let mut hit = false;
            loop {
                match set {
                    [lo, b'-', hi, more @ ..] => {
                        hit |= *lo <= c && c <= *hi;
                        set = more;
                    }
                    [x, more @ ..] => {
                        hit |= *x == c;
                        set = more;
                    }
                    [] => break,
                }
            }
            hit != negate && glob_match(after, tail)
        }
        Some((&p, rest)) => s
            .split_first()
            .is_some_and(|(&c, t)| c == p && glob_match(rest, t)),
    }
}

fn one_arg(b: &Block) -> Result<&str, ConfigError> {
    match b.args.as_slice() {
        [a] => Ok(a),
        [] => Err(err(&b.location, format!("{} needs a value", b.keyword))),
        _ => Err(err(&b.location, format!("{} takes one value", b.keyword))),
    }
}

fn number<T: std::str::FromStr>(b: &Block) -> Result<T, ConfigError> {
    let a = one_arg(b)?;
    a.parse().map_err(|_| {
        err(
            &b.location,
            format!("{}: {a:?} is not a valid number", b.keyword),
        )
    })
}

/// A timer value: seconds, with up to six decimals (`5`, `0.05`).
fn duration(b: &Block) -> Result<Duration, ConfigError> {
    let a = one_arg(b)?;
    parse_seconds(a).ok_or_else(|| {
        err(
            &b.location,
            format!("{}: {a:?} is not a number of seconds", b.keyword),
        )
    })
}

fn parse_seconds(a: &str) -> Option<Duration> {
    let (whole, frac) = a.split_once('.').unwrap_or((a, ""));
    if (whole.is_empty() && frac.is_empty())
        || frac.len() > 6
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let micros: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some(Duration::from_secs(secs) + Duration::from_micros(u64::from(micros)))
}

/// A flag statement: alone it means yes; it may also say so (`true`/`false`,
/// `yes`/`no`, `on`/`off`, `1`/`0`).
fn flag(b: &Block) -> Result<bool, ConfigError> {
    match b.args.as_slice() {
        [] => Ok(true),
        [a] => match a.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(err(
                &b.location,
                format!("{}: {a:?} is not true or false", b.keyword),
            )),
        },
        _ => Err(err(
            &b.location,
            format!("{} takes at most one value", b.keyword),
        )),
    }
}

/// A command line: the words of the statement, joined by spaces (a quoted
/// command is one word already).
fn command(b: &Block) -> Result<String, ConfigError> {
    if b.args.is_empty() {
        return Err(err(&b.location, format!("{} needs a command", b.keyword)));
    }
    Ok(b.args.join(" "))
}

fn address(s: &str, loc: &Location) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| err(loc, format!("{s:?} is not an IP address")))
}

fn port(s: &str, loc: &Location) -> Result<u16, ConfigError> {
    s.parse()
        .map_err(|_| err(loc, format!("{s:?} is not a port number (0-65535)")))
}

fn virtual_server(b: Block) -> Result<VirtualServer, ConfigError> {
    let loc = b.location.clone();
    let target = match b.args.as_slice() {
        [kw, mark] if kw == "fwmark" => Target::Fwmark(
            mark.parse()
                .map_err(|_| err(&loc, format!("fwmark {mark:?} is not a number")))?,
        ),
        [kw, name] if kw == "group" => {
            return Err(err(
                &loc,
                format!("virtual_server group {name} is not supported; list the addresses instead"),
            ));
        }
        [ip, p] => Target::Address(SocketAddr::new(address(ip, &loc)?, port(p, &loc)?)),
        _ => {
            return Err(err(
                &loc,
                "virtual_server needs an address and a port, or fwmark and a mark",
            ));
        }
    };
    let Some(children) = b.children else {
        return Err(err(&loc, "virtual_server needs a { } block"));
    };
    let mut vs = VirtualServer {
        target,
        protocol: None,
        lb_algo: None,
        lb_kind: None,
        persistence_timeout: None,
        delay_loop: None,
        timers: CheckTimers::default(),
        quorum: None,
        hysteresis: None,
        quorum_up: None,
        quorum_down: None,
        sorry_server: None,
        sorry_server_inhibit: false,
        alpha: false,
        omega: false,
        inhibit_on_failure: false,
        real_servers: Vec::new(),
        other: Vec::new(),
        location: loc,
    };
    for c in children {
        match c.keyword.as_str() {
            "protocol" => {
                vs.protocol = Some(match one_arg(&c)?.to_ascii_uppercase().as_str() {
                    "TCP" => Protocol::Tcp,
                    "UDP" => Protocol::Udp,
                    "SCTP" => Protocol::Sctp,
                    other => return Err(err(&c.location, format!("unknown protocol {other:?}"))),
                });
            }
            "lb_algo" => vs.lb_algo = Some(one_arg(&c)?.to_string()),
            "lb_kind" => {
                vs.lb_kind = Some(match one_arg(&c)?.to_ascii_uppercase().as_str() {
                    "NAT" => LbKind::Nat,
                    "DR" => LbKind::Dr,
                    "TUN" => LbKind::Tun,
                    other => return Err(err(&c.location, format!("unknown lb_kind {other:?}"))),
                });
            }
            "persistence_timeout" => vs.persistence_timeout = Some(number(&c)?),
            "delay_loop" => {
                let d = duration(&c)?;
                let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
                vs.delay_loop = Some(u32::try_from(whole).map_err(|_| {
                    err(&c.location, format!("delay_loop {:?} is too long", c.args))
                })?);
                vs.timers.delay_loop = Some(d);
            }
            "quorum" => vs.quorum = Some(number(&c)?),
            "hysteresis" => vs.hysteresis = Some(number(&c)?),
            "quorum_up" => vs.quorum_up = Some(command(&c)?),
            "quorum_down" => vs.quorum_down = Some(command(&c)?),
            "sorry_server" => {
                let (address, port) = match c.args.as_slice() {
                    [ip] => (address(ip, &c.location)?, None),
                    [ip, p] => (address(ip, &c.location)?, Some(port(p, &c.location)?)),
                    _ => return Err(err(&c.location, "sorry_server needs an address and a port")),
                };
                vs.sorry_server = Some(SorryServer {
                    address,
                    port,
                    location: c.location.clone(),
                });
            }
            "sorry_server_inhibit" => vs.sorry_server_inhibit = flag(&c)?,
            "alpha" => vs.alpha = flag(&c)?,
            "omega" => vs.omega = flag(&c)?,
            "inhibit_on_failure" => vs.inhibit_on_failure = flag(&c)?,
            "real_server" => vs.real_servers.push(real_server(c)?),
            _ => {
                if !vs.timers.read(&c)? {
                    vs.other.push(c);
                }
            }
        }
    }
    Ok(vs)
}

fn real_server(b: Block) -> Result<RealServer, ConfigError> {
    let loc = b.location.clone();
    let (address, port) = match b.args.as_slice() {
        [ip] => (address(ip, &loc)?, None),
        [ip, p] => (address(ip, &loc)?, Some(port(p, &loc)?)),
        _ => return Err(err(&loc, "real_server needs an address and a port")),
    };
    let mut rs = RealServer {
        address,
        port,
        weight: None,
        inhibit_on_failure: None,
        timers: CheckTimers::default(),
        checks: Vec::new(),
        other: Vec::new(),
        location: loc,
    };
    for c in b.children.unwrap_or_default() {
        if c.keyword == "weight" {
            rs.weight = Some(number(&c)?);
        } else if c.keyword == "inhibit_on_failure" {
            rs.inhibit_on_failure = Some(flag(&c)?);
        } else if CHECKERS.contains(&c.keyword.as_str()) {
            rs.checks.push(HealthCheck {
                kind: c.keyword.clone(),
                spec: check_spec(&c)?,
                block: c,
            });
        } else if !rs.timers.read(&c)? {
            rs.other.push(c);
        }
    }
    Ok(rs)
}

/// The statements of a checker block this reader does not interpret are
/// accepted (keepalived has many); the ones it does are checked.
fn check_spec(b: &Block) -> Result<CheckSpec, ConfigError> {
    let children = b.children.as_deref().unwrap_or_default();
    match b.keyword.as_str() {
        "TCP_CHECK" => {
            let mut c = TcpCheck::default();
            for s in children {
                if !c.timers.read(s)? {
                    c.connect.read(s)?;
                }
            }
            Ok(CheckSpec::Tcp(c))
        }
        "HTTP_GET" => {
            let mut c = HttpCheck::default();
            for s in children {
                if s.keyword == "url" {
                    c.urls.push(url_check(s)?);
                } else if s.keyword == "virtualhost" {
                    c.virtualhost = Some(one_arg(s)?.to_string());
                } else if !c.timers.read(s)? {
                    c.connect.read(s)?;
                }
            }
            if c.urls.is_empty() {
                return Err(err(
                    &b.location,
                    "HTTP_GET needs at least one url { } block",
                ));
            }
            Ok(CheckSpec::Http(c))
        }
        "MISC_CHECK" => {
            let mut c = MiscCheck::default();
            let mut path = None;
            for s in children {
                match s.keyword.as_str() {
                    "misc_path" => path = Some(command(s)?),
                    "misc_timeout" => c.timeout = Some(duration(s)?),
                    "misc_dynamic" => c.dynamic = flag(s)?,
                    "user" => c.user = Some(s.args.join(" ")),
                    _ => {
                        c.timers.read(s)?;
                    }
                }
            }
            c.path = path.ok_or_else(|| err(&b.location, "MISC_CHECK needs a misc_path"))?;
            Ok(CheckSpec::Misc(c))
        }
        _ => Ok(CheckSpec::Other),
    }
}

fn url_check(b: &Block) -> Result<UrlCheck, ConfigError> {
    let mut u = UrlCheck {
        path: "/".to_string(),
        status: Vec::new(),
        digest: None,
        virtualhost: None,
        location: b.location.clone(),
    };
    for s in b.children.as_deref().unwrap_or_default() {
        match s.keyword.as_str() {
            "path" => u.path = one_arg(s)?.to_string(),
            "status_code" => {
                if s.args.is_empty() {
                    return Err(err(&s.location, "status_code needs a value"));
                }
                // `200`, `200-299`, or several of these (spaces or commas).
                for word in s
                    .args
                    .iter()
                    .flat_map(|a| a.split(','))
                    .filter(|w| !w.is_empty())
                {
                    let code = |t: &str| {
                        t.parse::<u16>()
                            .ok()
                            .filter(|c| (100..=599).contains(c))
                            .ok_or_else(|| {
                                err(&s.location, format!("{t:?} is not an HTTP status code"))
                            })
                    };
                    let (first, last) = match word.split_once('-') {
                        Some((a, z)) => (code(a)?, code(z)?),
                        None => (code(word)?, code(word)?),
                    };
                    if first > last {
                        return Err(err(&s.location, format!("empty status range {word:?}")));
                    }
                    u.status.push(StatusRange { first, last });
                }
            }
            "digest" => {
                let hex = one_arg(s)?;
                u.digest = Some(md5_hex(hex).ok_or_else(|| {
                    err(
                        &s.location,
                        format!("digest {hex:?} is not an MD5 digest (32 hexadecimal digits)"),
                    )
                })?);
            }
            "virtualhost" => u.virtualhost = Some(one_arg(s)?.to_string()),
            _ => {}
        }
    }
    Ok(u)
}

/// 32 hexadecimal digits as 16 bytes.
fn md5_hex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match(b"*.conf", b"a.conf"));
        assert!(!glob_match(b"*.conf", b"a.conf~"));
        assert!(glob_match(b"[a-c]?.conf", b"bx.conf"));
        assert!(!glob_match(b"[!a-c]?.conf", b"bx.conf"));
        assert!(glob_match(b"x[", b"x["));
    }

    #[test]
    fn errors_point_at_lines() {
        let e = Config::parse_str("virtual_server 1.2.3.4 80 {\n lb_kind FOO\n}\n", "a.conf")
            .unwrap_err();
        assert_eq!(e.to_string(), "a.conf:2: unknown lb_kind \"FOO\"");
        let e = Config::parse_str("virtual_server 1.2.3.4 {\n}\n", "a.conf").unwrap_err();
        assert_eq!(e.location.line, 1);
        let e = Config::parse_str("x {\n y {\n", "a.conf").unwrap_err();
        assert_eq!(e.to_string(), "a.conf:2: '{' is never closed");
        let e = Config::parse_str("}\n", "a.conf").unwrap_err();
        assert_eq!(e.location.line, 1);
        let e = Config::parse_str(
            "virtual_server 1.2.3.4 80 {\n real_server 10.0.0.1 99999 {\n }\n}\n",
            "b.conf",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.conf:2: \"99999\" is not a port number (0-65535)"
        );
    }

    #[test]
    fn fwmark_and_braces_on_next_line() {
        let c = Config::parse_str(
            "virtual_server fwmark 7\n{\n  lb_algo wrr\n  real_server 10.0.0.1\n  {\n    weight 3\n  }\n}",
            "x",
        )
        .unwrap();
        assert_eq!(c.virtual_servers[0].target, Target::Fwmark(7));
        assert_eq!(c.virtual_servers[0].real_servers[0].weight, Some(3));
        assert_eq!(c.virtual_servers[0].real_servers[0].port, None);
    }

    fn seed(path: &str) -> Config {
        Config::load(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/keepalived")
                .join(path),
        )
        .unwrap()
    }

    fn secs(s: f64) -> Option<Duration> {
        Some(Duration::from_secs_f64(s))
    }

    #[test]
    fn seed_checkers_are_typed() {
        // seed000's included file: HTTP_GET with a url block, `retry`.
        let cfg = seed("seed000/conf.d/test.conf");
        let rs = &cfg.virtual_servers[0].real_servers[0];
        let CheckSpec::Http(h) = &rs.checks[0].spec else {
            panic!("{:?}", rs.checks[0].spec)
        };
        assert_eq!(h.urls.len(), 1);
        assert_eq!(h.urls[0].path, "/404");
        assert_eq!(
            h.urls[0].status,
            [StatusRange {
                first: 404,
                last: 404
            }]
        );
        assert!(h.urls[0].accepts(404) && !h.urls[0].accepts(200));
        assert_eq!(h.urls[0].digest, None);
        assert_eq!(h.urls[0].location.line, 11);
        assert_eq!(h.connect.connect_port, Some(8080));
        assert_eq!(h.timers.connect_timeout, secs(2.0));
        assert_eq!(h.timers.retry, Some(2));
        assert_eq!(h.timers.delay_before_retry, secs(2.0));
        assert_eq!(cfg.virtual_servers[0].timers.delay_loop, secs(6.0));

        // seed003: the older `nb_get_retry`.
        let cfg = seed("seed003/tcp_check.conf");
        let vs = &cfg.virtual_servers[0];
        assert_eq!(vs.delay_loop, Some(6));
        for rs in &vs.real_servers {
            let CheckSpec::Tcp(t) = &rs.checks[0].spec else {
                panic!("{:?}", rs.checks[0].spec)
            };
            assert_eq!(t.timers.retry, Some(3));
            assert_eq!(t.timers.connect_timeout, secs(5.0));
            assert_eq!(t.timers.delay_before_retry, secs(3.0));
            assert_eq!(t.connect, ConnectOptions::default());
        }
        let cfg = seed("seed003/http_get.conf");
        for vs in &cfg.virtual_servers {
            for rs in &vs.real_servers {
                assert!(
                    matches!(&rs.checks[0].spec, CheckSpec::Http(h) if h.urls[0].path == "/healthz")
                );
            }
        }
        let cfg = seed("seed002/keepalived.conf");
        let CheckSpec::Tcp(t) = &cfg.virtual_servers[0].real_servers[1].checks[0].spec else {
            panic!()
        };
        assert_eq!(t.timers.connect_timeout, secs(3.0));
        assert_eq!(t.timers.retry, None);
    }

    #[test]
    fn failover_options_and_every_checker() {
        let text = r#"virtual_server 10.96.0.1 80 {
    delay_loop 0.05
    quorum 3
    hysteresis 1
    quorum_up "/usr/bin/logger quorum up"
    quorum_down /usr/bin/logger down
    sorry_server 10.0.0.9 8080
    sorry_server_inhibit
    alpha
    omega
    inhibit_on_failure
    retry 5
    real_server 10.0.0.1 80 {
        weight 2
        inhibit_on_failure false
        delay_before_retry 0.01
        HTTP_GET {
            url {
                path /a
                status_code 200-204,301
                digest 900150983CD24FB0D6963F7D28E17F72
                virtualhost a.example
            }
            url {
                path /b
            }
            virtualhost www.example
            connect_ip 10.0.1.1
            connect_port 8081
            bindto 10.0.0.254
            bind_port 5555
            warmup 1.5
        }
        MISC_CHECK {
            misc_path "/bin/check 10.0.0.1"
            misc_timeout 0.2
            misc_dynamic
            user nobody
        }
        SSL_GET {
            url { path / }
        }
    }
}
"#;
        let cfg = Config::parse_str(text, "f.conf").unwrap();
        let vs = &cfg.virtual_servers[0];
        assert_eq!(vs.delay_loop, Some(1));
        assert_eq!(vs.timers.delay_loop, Some(Duration::from_millis(50)));
        assert_eq!(vs.timers.retry, Some(5));
        assert_eq!((vs.quorum, vs.hysteresis), (Some(3), Some(1)));
        assert_eq!(vs.effective_quorum(), 3);
        assert_eq!(vs.quorum_up.as_deref(), Some("/usr/bin/logger quorum up"));
        assert_eq!(vs.quorum_down.as_deref(), Some("/usr/bin/logger down"));
        let sorry = vs.sorry_server.as_ref().unwrap();
        assert_eq!(
            (sorry.address.to_string(), sorry.port),
            ("10.0.0.9".into(), Some(8080))
        );
        assert_eq!(sorry.location.line, 7);
        assert!(vs.sorry_server_inhibit && vs.alpha && vs.omega && vs.inhibit_on_failure);
        assert!(vs.other.is_empty(), "{:?}", vs.other);
        let rs = &vs.real_servers[0];
        assert_eq!(rs.inhibit_on_failure, Some(false));
        assert!(!vs.inhibits(rs));
        assert_eq!(
            rs.timers.delay_before_retry,
            Some(Duration::from_millis(10))
        );
        assert!(rs.other.is_empty(), "{:?}", rs.other);
        let kinds: Vec<_> = rs.checks.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["HTTP_GET", "MISC_CHECK", "SSL_GET"]);
        let CheckSpec::Http(h) = &rs.checks[0].spec else {
            panic!()
        };
        let a = &h.urls[0];
        assert_eq!(
            a.status,
            [
                StatusRange {
                    first: 200,
                    last: 204
                },
                StatusRange {
                    first: 301,
                    last: 301
                }
            ]
        );
        assert!(a.accepts(204) && a.accepts(301) && !a.accepts(205) && !a.accepts(302));
        assert_eq!(
            a.digest,
            Some([
                0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0, 0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1,
                0x7f, 0x72
            ])
        );
        assert_eq!(a.virtualhost.as_deref(), Some("a.example"));
        // No status_code: any 2xx.
        assert!(h.urls[1].status.is_empty() && h.urls[1].accepts(299) && !h.urls[1].accepts(404));
        assert_eq!(h.virtualhost.as_deref(), Some("www.example"));
        assert_eq!(
            h.connect,
            ConnectOptions {
                connect_ip: Some("10.0.1.1".parse().unwrap()),
                connect_port: Some(8081),
                bindto: Some("10.0.0.254".parse().unwrap()),
                bind_port: Some(5555),
            }
        );
        assert_eq!(h.timers.warmup, Some(Duration::from_millis(1500)));
        let CheckSpec::Misc(m) = &rs.checks[1].spec else {
            panic!()
        };
        assert_eq!(m.path, "/bin/check 10.0.0.1");
        assert_eq!(m.timeout, Some(Duration::from_millis(200)));
        assert!(m.dynamic);
        assert_eq!(m.user.as_deref(), Some("nobody"));
        assert_eq!(rs.checks[2].spec, CheckSpec::Other);
        assert_eq!(rs.checks[2].spec.timers(), None);
        // Timers inherit inward-out.
        let t = h.timers.or(&rs.timers).or(&vs.timers);
        assert_eq!(t.retry, Some(5));
        assert_eq!(t.delay_before_retry, Some(Duration::from_millis(10)));
        assert_eq!(t.delay_loop, Some(Duration::from_millis(50)));
    }

    #[test]
    fn checker_errors_point_at_lines() {
        let wrap = |inner: &str| {
            format!(
                "virtual_server 10.0.0.1 80 {{\n real_server 10.0.0.2 80 {{\n{inner}\n }}\n}}\n"
            )
        };
        let cases: &[(&str, &str)] = &[
            (
                "  HTTP_GET {\n   url {\n    digest 1234\n   }\n  }",
                "f.conf:5: digest \"1234\" is not an MD5 digest",
            ),
            (
                "  HTTP_GET {\n   url {\n    status_code 200-99x\n   }\n  }",
                "f.conf:5: \"99x\" is not an HTTP status code",
            ),
            (
                "  HTTP_GET {\n   url {\n    status_code 299-200\n   }\n  }",
                "f.conf:5: empty status range \"299-200\"",
            ),
            (
                "  HTTP_GET {\n   connect_timeout 3\n  }",
                "f.conf:3: HTTP_GET needs at least one url",
            ),
            (
                "  MISC_CHECK {\n   misc_timeout 3\n  }",
                "f.conf:3: MISC_CHECK needs a misc_path",
            ),
            (
                "  TCP_CHECK {\n   connect_timeout -1\n  }",
                "f.conf:4: connect_timeout: \"-1\" is not a number of seconds",
            ),
            (
                "  TCP_CHECK {\n   delay_before_retry 1.2345678\n  }",
                "is not a number of seconds",
            ),
            (
                "  TCP_CHECK {\n   connect_port 70000\n  }",
                "f.conf:4: \"70000\" is not a port number",
            ),
            (
                "  TCP_CHECK {\n   bindto nowhere\n  }",
                "f.conf:4: \"nowhere\" is not an IP address",
            ),
            (
                "  TCP_CHECK {\n   retry many\n  }",
                "f.conf:4: retry: \"many\" is not a valid number",
            ),
            (
                "  inhibit_on_failure maybe",
                "f.conf:3: inhibit_on_failure: \"maybe\" is not true or false",
            ),
            (
                "  MISC_CHECK {\n   misc_path\n  }",
                "f.conf:4: misc_path needs a command",
            ),
        ];
        for (inner, want) in cases {
            let e = Config::parse_str(&wrap(inner), "f.conf").unwrap_err();
            assert!(e.to_string().contains(want), "{inner:?}: {e}");
        }
        let e = Config::parse_str(
            "virtual_server 10.0.0.1 80 {\n sorry_server 10.0.0.9 80 1\n}\n",
            "f.conf",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.conf:2: sorry_server needs an address and a port"
        );
        let e = Config::parse_str("virtual_server 10.0.0.1 80 {\n quorum_up\n}\n", "f.conf")
            .unwrap_err();
        assert_eq!(e.to_string(), "f.conf:2: quorum_up needs a command");
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("6"), Some(Duration::from_secs(6)));
        assert_eq!(parse_seconds("0.05"), Some(Duration::from_millis(50)));
        assert_eq!(parse_seconds(".5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2."), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_seconds("1.000001"),
            Some(Duration::from_micros(1_000_001))
        );
        for bad in ["", ".", "1e3", "-1", "+1", "1.2.3", "1.0000001", "x"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
