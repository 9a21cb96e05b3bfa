//! A reader of keepalived's configuration: the `virtual_server` and
//! `real_server` blocks that describe IPVS services, with `include` globs.
//!
//! The grammar is keepalived's: whitespace-separated words, `{` and `}`
//! delimiting blocks, `!` and `#` starting comments, double quotes grouping a
//! word with spaces, and `include PATTERN` pulling in files (a relative
//! pattern is taken from the directory of the including file; matches are
//! read in sorted order). Everything this module does not interpret
//! (`global_defs`, `vrrp_instance`, health checks...) is kept as a [`Block`]
//! tree, so nothing is silently dropped. Every error names the file and line.
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

/// A health check block of a real server (parsed and kept, not run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `MISC_CHECK`, `SMTP_CHECK`, `DNS_CHECK`, ...
    pub kind: String,
    /// The whole block.
    pub block: Block,
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
    /// Health checks, kept.
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
    /// `delay_loop`, seconds between health checks.
    pub delay_loop: Option<u32>,
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
            "delay_loop" => vs.delay_loop = Some(number(&c)?),
            "real_server" => vs.real_servers.push(real_server(c)?),
            _ => vs.other.push(c),
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
        checks: Vec::new(),
        other: Vec::new(),
        location: loc,
    };
    for c in b.children.unwrap_or_default() {
        if c.keyword == "weight" {
            rs.weight = Some(number(&c)?);
        } else if CHECKERS.contains(&c.keyword.as_str()) {
            rs.checks.push(HealthCheck {
                kind: c.keyword.clone(),
                block: c,
            });
        } else {
            rs.other.push(c);
        }
    }
    Ok(rs)
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
}
