//! A health-checked, self-healing service daemon: `svc-setup --watch` as a
//! library.
//!
//! An [`Agent`] sets up what [`crate::svc`] sets up (virtual IPs, the
//! cluster-IP ipsets, the NAT chains, the sysctls and, with
//! [`svc::Options::ipvs`], the IPVS services), then keeps it right:
//!
//! - **Health**: a [`HealthMonitor`] runs the configuration's checks; every
//!   change of health goes through the sync engine ([`Syncer`]), several
//!   changes close together in one batch ([`AgentOptions::batch`]). A real
//!   server that fails is removed at once, or kept at weight 0 with
//!   `inhibit_on_failure`, as keepalived does; the `quorum_up` and
//!   `quorum_down` commands run (`/bin/sh -c`, in the target namespace).
//! - **Graceful removal**: a real server that leaves the *configuration*
//!   while it still carries connections of a connection-oriented service
//!   (TCP, SCTP is not: like kube-proxy, UDP and SCTP real servers go at
//!   once) stays at weight 0 and is deleted once idle
//!   ([`AgentOptions::drain`]).
//! - **Conntrack**: when a real server of a UDP service leaves (health or
//!   configuration), the conntrack entries of flows to the VIP:port that
//!   it answered are deleted ([`forget_udp_backends`]), so the clients'
//!   next datagrams are balanced again instead of going nowhere. (With
//!   the profile's `expire_nodest_conn=1`, a kernel since 5.9 also expires
//!   the IPVS connections of a deleted real server, and their entries, by
//!   itself shortly after; the agent's cleanup covers older kernels and
//!   entries without an IPVS connection.)
//! - **Reload without disruption** ([`Control::Reload`], and when a file of
//!   the configuration, or the directory holding one, changes its
//!   modification time or size and then holds still for one poll: polled
//!   every [`AgentOptions::poll`], so a file being written is not read
//!   half-written): the
//!   new configuration is read and checked (an error keeps the running
//!   one), the health of real servers that stay is carried over
//!   ([`carry_over`]) and only the difference is applied.
//! - **Drain state** ([`DrainState`], the state file): which real servers
//!   are at weight 0 or out because of health, or draining after leaving
//!   the configuration. A restarted agent starts those down (keepalived's
//!   `alpha`, for them alone) until their first successful check, so it
//!   neither puts a drained server back at full weight nor drops the
//!   connections of one still draining.
//! - **The nftables data path** ([`svc::Dataplane::Nftables`]): health
//!   changes go to the DNAT table instead ([`Setup::sync_dnat`]: one
//!   transaction touching only the changed service's chains), a UDP real
//!   server leaving has its conntrack entries deleted as above, and an
//!   [`NftMonitor`] watches the table: when another process changes it
//!   (a flushed chain, a deleted map element), the agent makes it right
//!   again and reports the repair ([`AgentOptions::repair_drift`]).
//! - **Shutdown** ([`Control::Shutdown`]): the checks stop, the `omega`
//!   events are reported and the `quorum_down` commands run; the kernel
//!   state is left as it is (a restarted agent takes it over).
//!
//! Signals are the embedding program's choice: [`Signals`] turns SIGHUP,
//! SIGTERM and SIGINT into [`Control`] messages.
//!
//! ```no_run
//! use clusterip::agent::{Agent, AgentOptions, Signals};
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let mut opts = AgentOptions::new("/etc/keepalived/keepalived.conf");
//! opts.setup.ipvs = true;
//! let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
//! let signals = Signals::install()?;
//! tokio::spawn(signals.forward(tx));
//! let agent = Agent::start(opts, Box::new(|line: &str| println!("{line}"))).await?;
//! agent.run(rx).await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, SystemTime};

use conntrack_nl::ConntrackHandle;
use ipvs_nl::{Destination, Operation, Protocol, Service, ServiceEntry, ServiceKey, Weight};
use nftables_glue::{DnatService, NftEvent, NftMonitor};
use nl_engine::{Error, Netns};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::health::{
    HealthError, HealthEvent, HealthMonitor, HealthState, MonitorOptions, ServerId,
};
use crate::keepalived::{CheckSpec, Config, ConfigError};
use crate::svc::{self, Dataplane, Desired, Setup, Step};
use crate::sync::{Change, Graceful, Ownership, SyncOptions, Syncer};

/// Where the drain state is kept by default.
pub const DEFAULT_STATE_FILE: &str = "/run/svc-setup/state";

// ------------------------------------------------------------ drain state

/// Why a real server is drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DrainReason {
    /// Its checks failed: out of the pool, or at weight 0 with
    /// `inhibit_on_failure`.
    Health,
    /// It left the configuration and still carries connections: at
    /// weight 0 until idle.
    Removed,
}

impl DrainReason {
    fn word(self) -> &'static str {
        match self {
            DrainReason::Health => "health",
            DrainReason::Removed => "removed",
        }
    }
}

/// One drained real server of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Drained {
    /// Why.
    pub reason: DrainReason,
    /// The virtual service (`TCP 10.96.0.1:80`, `FWM 1`, `FWM 1 IPv6`).
    pub service: ServiceKey,
    /// The real server.
    pub server: SocketAddr,
}

impl Drained {
    fn sort_key(&self) -> (DrainReason, String, SocketAddr) {
        (self.reason, self.service.to_string(), self.server)
    }
}

impl PartialOrd for Drained {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// By reason, then service (as written), then real server.
impl Ord for Drained {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl fmt::Display for Drained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.reason.word(), self.service, self.server)
    }
}

/// Parses a service key as [`ServiceKey`]'s `Display` writes it.
fn parse_key(words: &[&str]) -> Option<ServiceKey> {
    match words {
        ["FWM", mark] => Some(ServiceKey::fwmark(mark.parse().ok()?)),
        ["FWM", mark, "IPv6"] => Some(ServiceKey::fwmark6(mark.parse().ok()?)),
        [proto, addr] => {
            let addr: SocketAddr = addr.parse().ok()?;
            match *proto {
                "TCP" => Some(ServiceKey::tcp(addr)),
                "UDP" => Some(ServiceKey::udp(addr)),
                "SCTP" => Some(ServiceKey::sctp(addr)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The drain state the agent keeps in its state file: one line per
/// drained real server, `REASON SERVICE SERVER`
/// (`health TCP 10.96.0.1:80 10.0.0.2:8080`), `#` comments.
///
/// ```
/// use clusterip::agent::{DrainReason, DrainState};
/// let s = DrainState::parse("# svc-setup\nhealth TCP 10.96.0.1:80 10.0.0.2:8080\nremoved FWM 1 10.0.0.3:0\n").unwrap();
/// assert_eq!(s.entries.len(), 2);
/// assert!(s.entries.iter().any(|d| d.reason == DrainReason::Removed));
/// assert_eq!(DrainState::parse(&s.to_text()).unwrap(), s);
/// assert!(DrainState::parse("health TCP nowhere\n").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainState {
    /// The drained real servers.
    pub entries: BTreeSet<Drained>,
}

impl DrainState {
    /// Parses the state file's text; an error names the line.
    pub fn parse(text: &str) -> Result<DrainState, String> {
        let mut entries = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            let bad = || format!("line {}: {line:?} is not REASON SERVICE SERVER", i + 1);
            let (reason, rest) = words.split_first().ok_or_else(bad)?;
            let (server, key) = rest.split_last().ok_or_else(bad)?;
            let reason = match *reason {
                "health" => DrainReason::Health,
                "removed" => DrainReason::Removed,
                _ => return Err(bad()),
            };
            entries.insert(Drained {
                reason,
                service: parse_key(key).ok_or_else(bad)?,
                server: server.parse().map_err(|_| bad())?,
            });
        }
        Ok(DrainState { entries })
    }

    /// The state file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::from(
            "# svc-setup --watch: real servers drained (weight 0 or out) by health or removal\n",
        );
        for e in &self.entries {
            s.push_str(&e.to_string());
            s.push('\n');
        }
        s
    }

    /// Reads a state file; a missing file is an empty state.
    pub fn load(path: &Path) -> io::Result<DrainState> {
        match std::fs::read_to_string(path) {
            Ok(t) => DrainState::parse(&t).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DrainState::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the state file atomically (a temporary file renamed over
    /// it), creating its directory.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_text())?;
        std::fs::rename(&tmp, path)
    }

    /// The real servers of `cfg` drained for health, as [`ServerId`]s.
    pub fn health_servers(&self, cfg: &Config) -> Vec<ServerId> {
        let keys = service_keys(cfg);
        let mut out = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.reason == DrainReason::Health)
        {
            let Some(vs) = keys.iter().position(|k| *k == Some(e.service)) else {
                continue;
            };
            if let Some(rs) = server_index(cfg, vs, e.server) {
                out.push(ServerId { vs, rs });
            }
        }
        out
    }
}

/// The service key of each virtual server of `cfg` (None where the
/// configuration is wrong).
fn service_keys(cfg: &Config) -> Vec<Option<ServiceKey>> {
    cfg.virtual_servers
        .iter()
        .map(|vs| {
            let one = Config {
                virtual_servers: vec![vs.clone()],
                other: Vec::new(),
                files: Vec::new(),
            };
            Desired::from_config(&one, &svc::Options::default())
                .ok()
                .and_then(|d| d.services.first().map(|e| e.service.key))
        })
        .collect()
}

fn real_server_addr(cfg: &Config, vs: usize, rs: usize) -> Option<SocketAddr> {
    let v = cfg.virtual_servers.get(vs)?;
    let r = v.real_servers.get(rs)?;
    let vport = match v.target {
        crate::keepalived::Target::Address(sa) => sa.port(),
        crate::keepalived::Target::Fwmark(_) => 0,
    };
    Some(SocketAddr::new(r.address, r.port.unwrap_or(vport)))
}

fn server_index(cfg: &Config, vs: usize, at: SocketAddr) -> Option<usize> {
    let n = cfg.virtual_servers.get(vs)?.real_servers.len();
    (0..n).find(|&rs| real_server_addr(cfg, vs, rs) == Some(at))
}

/// Marks `servers` down in `state` (every check they have that runs), as
/// if their checks had failed: the start state of real servers drained
/// before a restart. Returns the events that made.
pub fn start_down(cfg: &Config, state: &mut HealthState, servers: &[ServerId]) -> Vec<HealthEvent> {
    let mut events = Vec::new();
    for id in servers {
        let Some(rs) = cfg
            .virtual_servers
            .get(id.vs)
            .and_then(|v| v.real_servers.get(id.rs))
        else {
            continue;
        };
        for (ci, c) in rs.checks.iter().enumerate() {
            if c.spec != CheckSpec::Other {
                events.extend(state.checker_result(
                    *id,
                    ci,
                    false,
                    "drained before the restart (state file)",
                ));
            }
        }
    }
    events
}

// ----------------------------------------------------------------- reload

/// The start state of a reloaded configuration: [`HealthState::new`] of
/// `new_cfg`, with the verdicts of `old` carried over for every real server
/// that stays (same virtual service, same address and port, the same
/// checks), and the weight a `misc_dynamic` check gave it. Servers that
/// are new, or whose checks changed, start as a fresh start would.
///
/// ```
/// use clusterip::agent::carry_over;
/// use clusterip::health::{HealthState, ServerId};
/// use clusterip::keepalived::Config;
/// let one = "virtual_server 10.96.0.1 80 {\n real_server 10.0.0.1 80 {\n  TCP_CHECK { }\n }\n}\n";
/// let old_cfg = Config::parse_str(one, "a.conf").unwrap();
/// let mut old = HealthState::new(&old_cfg);
/// old.checker_result(ServerId { vs: 0, rs: 0 }, 0, false, "refused");
/// let two = one.replace("}\n}\n", "}\n real_server 10.0.0.2 80 {\n  TCP_CHECK { }\n }\n}\n");
/// let new_cfg = Config::parse_str(&two, "a.conf").unwrap();
/// let new = carry_over(&old_cfg, &old, &new_cfg);
/// assert!(!new.virtual_servers[0].real_servers[0].alive); // still down
/// assert!(new.virtual_servers[0].real_servers[1].alive); // new: up
/// ```
pub fn carry_over(old_cfg: &Config, old: &HealthState, new_cfg: &Config) -> HealthState {
    let mut state = HealthState::new(new_cfg);
    let old_keys = service_keys(old_cfg);
    let new_keys = service_keys(new_cfg);
    for (vi, key) in new_keys.iter().enumerate() {
        let Some(key) = key else { continue };
        let Some(ovi) = old_keys.iter().position(|k| k.as_ref() == Some(key)) else {
            continue;
        };
        let (Some(nvs), Some(ovs)) = (
            new_cfg.virtual_servers.get(vi),
            old_cfg.virtual_servers.get(ovi),
        ) else {
            continue;
        };
        for (ri, nrs) in nvs.real_servers.iter().enumerate() {
            let Some(at) = real_server_addr(new_cfg, vi, ri) else {
                continue;
            };
            let Some(ori) = server_index(old_cfg, ovi, at) else {
                continue;
            };
            let Some(ors) = ovs.real_servers.get(ori) else {
                continue;
            };
            let same_checks = nrs.checks.len() == ors.checks.len()
                && nrs
                    .checks
                    .iter()
                    .zip(&ors.checks)
                    .all(|(a, b)| a.spec == b.spec);
            let Some(oh) = old.server(ServerId { vs: ovi, rs: ori }) else {
                continue;
            };
            let id = ServerId { vs: vi, rs: ri };
            if same_checks {
                for (ci, up) in oh.checks_up.iter().enumerate() {
                    if state
                        .server(id)
                        .and_then(|h| h.checks_up.get(ci))
                        .is_some_and(|now| now != up)
                    {
                        state.checker_result(id, ci, *up, "carried over the reload");
                    }
                }
            }
            if nrs.weight == ors.weight && oh.weight != nrs.weight.unwrap_or(1) {
                state.set_weight(id, oh.weight);
            }
        }
    }
    state
}

/// The files whose change means a reload: the configuration's files and
/// the directories holding them (a file added to an `include` glob
/// changes its directory), with their modification time and size.
pub type Stamps = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

/// The [`Stamps`] of a configuration read from `main`.
pub fn stamps(main: &Path, cfg: &Config) -> Stamps {
    let mut paths: BTreeSet<PathBuf> = BTreeSet::new();
    paths.insert(main.to_path_buf());
    for f in &cfg.files {
        paths.insert(f.clone());
        if let Some(d) = f.parent().filter(|d| !d.as_os_str().is_empty()) {
            paths.insert(d.to_path_buf());
        }
    }
    paths
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p, m)
        })
        .collect()
}

/// The same files' stamps now.
pub fn restamp(old: &Stamps) -> Stamps {
    old.iter()
        .map(|(p, _)| {
            let now = std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p.clone(), now)
        })
        .collect()
}

/// Whether any of `old` changed since it was taken.
pub fn stamps_changed(old: &Stamps) -> bool {
    restamp(old) != *old
}

// -------------------------------------------------------------- conntrack

/// The UDP real servers that a set of IPVS changes took out of their
/// service: each deleted destination of a UDP service, and every
/// destination (as `before`, the state read before the changes, had them)
/// of a deleted UDP service.
///
/// ```
/// use clusterip::agent::udp_leavers;
/// use clusterip::ipvs::{Destination, ServiceEntry, Service, ServiceKey};
/// use clusterip::sync::Change;
/// let k = ServiceKey::udp("10.96.0.53:53".parse().unwrap());
/// let t = ServiceKey::tcp("10.96.0.1:80".parse().unwrap());
/// let gone = vec![
///     Change::DeleteDestination(k, "10.0.0.2:5353".parse().unwrap()),
///     Change::DeleteDestination(t, "10.0.0.2:80".parse().unwrap()),
/// ];
/// assert_eq!(udp_leavers(&gone, &[]), [(k, "10.0.0.2:5353".parse().unwrap())]);
/// ```
pub fn udp_leavers(changes: &[Change], before: &[ServiceEntry]) -> Vec<(ServiceKey, SocketAddr)> {
    let udp = |k: &ServiceKey| {
        matches!(
            k,
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                ..
            }
        )
    };
    let mut out = Vec::new();
    for c in changes {
        match c {
            Change::DeleteDestination(k, at) if udp(k) => out.push((*k, *at)),
            Change::DeleteService(k) if udp(k) => {
                if let Some(e) = before.iter().find(|e| e.service.key == *k) {
                    out.extend(
                        e.destinations
                            .iter()
                            .map(|d| (*k, SocketAddr::new(d.addr, d.port))),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Deletes the conntrack entries of UDP flows to each service's VIP:port
/// answered by the real server that left it
/// ([`ConntrackHandle::delete_udp_to_backend`]); returns how many were
/// deleted for each, or the first error.
pub async fn forget_udp_backends(
    ct: &ConntrackHandle,
    leavers: &[(ServiceKey, SocketAddr)],
) -> Result<Vec<(ServiceKey, SocketAddr, usize)>, Error> {
    let mut out = Vec::new();
    for (k, backend) in leavers {
        let ServiceKey::Addr { addr, .. } = k else {
            continue;
        };
        let n = ct
            .delete_udp_to_backend(addr.ip(), addr.port(), backend.ip(), backend.port())
            .await?;
        out.push((*k, *backend, n));
    }
    Ok(out)
}

// ---------------------------------------------------------------- signals

/// The write end of the signal pipe (-1: none), read by the handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let byte = u8::try_from(sig).unwrap_or(0);
    // SAFETY: only async-signal-safe calls: errno is saved and restored
    // around write(2), which writes one byte from a local to a descriptor
    // this process owns for its whole life (never closed once published);
    // a full pipe (nonblocking) just drops the byte.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, (&byte as *const u8).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// SIGHUP, SIGTERM and SIGINT, delivered asynchronously (a self-pipe
/// written by a `sigaction` handler, read through Tokio): SIGHUP is
/// [`Control::Reload`], the others [`Control::Shutdown`]. One per process.
#[derive(Debug)]
pub struct Signals {
    read: AsyncFd<OwnedFd>,
}

impl Signals {
    /// Installs the handlers (inside a Tokio runtime with I/O enabled).
    /// Fails when they are installed already.
    pub fn install() -> io::Result<Signals> {
        // (AsyncFd panics outside a runtime: say so instead.)
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "Signals::install must be called inside a Tokio runtime",
            ));
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array we pass,
        // which has room for exactly two.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let [r, w] = fds;
        // SAFETY: pipe2 succeeded: both are open descriptors we own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
        if SIGNAL_PIPE
            .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "signal handlers already installed",
            ));
        }
        // The write end stays open for the life of the process: the
        // handler may run at any time.
        std::mem::forget(write);
        for sig in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            // SAFETY: a zeroed sigaction is a valid value (empty mask, no
            // flags); we set a handler that is async-signal-safe (see
            // on_signal) and pass valid pointers to sigaction(2).
            let rc = unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut())
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: `read` owns an open descriptor that stays open (and the
        // same) until the AsyncFd drops it; OwnedFd::as_raw_fd always
        // returns it.
        let read = unsafe { AsyncFd::register_with_interest(read, Interest::READABLE) }?;
        Ok(Signals { read })
    }

    /// The next signal's number.
    pub async fn recv(&self) -> io::Result<i32> {
        loop {
            let mut guard = self.read.readable().await?;
            let mut byte = 0u8;
            let r = guard.try_io(|fd| {
                // SAFETY: reads at most one byte into a local.
                let n = unsafe { libc::read(fd.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n)
                }
            });
            match r {
                Ok(Ok(1)) => return Ok(i32::from(byte)),
                Ok(Ok(_)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Forwards the signals as [`Control`] messages until the receiver is
    /// gone (spawn it).
    pub async fn forward(self, to: mpsc::UnboundedSender<Control>) {
        while let Ok(sig) = self.recv().await {
            let c = if sig == libc::SIGHUP {
                Control::Reload
            } else {
                Control::Shutdown
            };
            if to.send(c).is_err() {
                break;
            }
        }
    }
}

// ------------------------------------------------------------------ agent

/// What the agent is told from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Read the configuration again and apply the difference.
    Reload,
    /// Stop (omega events, `quorum_down` commands).
    Shutdown,
}

/// How an [`Agent`] runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The keepalived configuration.
    pub config: PathBuf,
    /// What to set up (with `ipvs`, the health of real servers is synced
    /// to IPVS; without, the checks run and report only). Its `graceful`
    /// is not used: see [`AgentOptions::drain`].
    pub setup: svc::Options,
    /// The namespace to act in (checks and commands run there too).
    pub netns: Netns,
    /// The drain state file.
    pub state_file: PathBuf,
    /// Keep a TCP (or fwmark) real server that leaves the configuration
    /// at weight 0 while it has connections (default true).
    pub drain: bool,
    /// How often the configuration's files are looked at (default 1 s).
    pub poll: Duration,
    /// How long health changes are gathered into one sync (default 50 ms).
    pub batch: Duration,
    /// The health checks' options (their `netns` is replaced by
    /// [`AgentOptions::netns`]).
    pub monitor: MonitorOptions,
    /// With [`Dataplane::Nftables`]: watch the nf_tables notifications
    /// ([`NftMonitor`]) and make the DNAT table right again when another
    /// process changed it (default true).
    pub repair_drift: bool,
}

impl AgentOptions {
    /// The defaults, for configuration file `config`.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        AgentOptions {
            config: config.into(),
            setup: svc::Options::default(),
            netns: Netns::current(),
            state_file: DEFAULT_STATE_FILE.into(),
            drain: true,
            poll: Duration::from_secs(1),
            batch: Duration::from_millis(50),
            monitor: MonitorOptions::default(),
            repair_drift: true,
        }
    }
}

/// Why the agent could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is wrong (file and line).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The health checks could not start.
    #[error("{0}")]
    Health(#[from] HealthError),
    /// The kernel refused or lacks something.
    #[error("{0}")]
    Kernel(#[from] Error),
    /// The state file.
    #[error("state file {0}: {1}")]
    StateFile(PathBuf, io::Error),
}

/// Where the agent's report lines go.
pub type Log = Box<dyn Fn(&str) + Send + Sync>;

enum Input {
    Health(u64),
    Event(u64, HealthEvent),
    Control(Control),
    Tick,
    CommandDone(String),
    /// The DNAT table changed (maybe by someone else): check it.
    Drift,
}

/// The running daemon; see the [module documentation](self).
pub struct Agent {
    opts: AgentOptions,
    log: Log,
    setup: Setup,
    syncer: Option<Syncer>,
    conntrack: ConntrackHandle,
    cfg: Config,
    desired: Desired,
    monitor: Option<HealthMonitor>,
    epoch: u64,
    forwarders: Vec<JoinHandle<()>>,
    stamps: Stamps,
    drained: DrainState,
    inputs: (mpsc::UnboundedSender<Input>, mpsc::UnboundedReceiver<Input>),
    commands: usize,
    /// The health generation the last sync applied.
    synced: u64,
    /// Changed stamps seen at the last poll: the reload waits until they
    /// hold still for one poll (a file being written is not read half).
    settling: Option<Stamps>,
    /// The DNAT services last synced (nftables data path).
    dnat_last: Vec<DnatService>,
    /// The nf_tables notifications (nftables data path, with
    /// [`AgentOptions::repair_drift`]), until `run` takes them.
    nft_monitor: Option<NftMonitor>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.opts.config)
            .field("drained", &self.drained)
            .finish()
    }
}

impl Agent {
    /// Reads the configuration and the state file, sets everything up
    /// (reporting each change on `log`) and starts the health checks.
    pub async fn start(opts: AgentOptions, log: Log) -> Result<Agent, AgentError> {
        let cfg = Config::load(&opts.config)?;
        let desired = Desired::from_config(&cfg, &opts.setup)?;
        let drained = DrainState::load(&opts.state_file)
            .map_err(|e| AgentError::StateFile(opts.state_file.clone(), e))?;
        let mut setup_opts = opts.setup.clone();
        setup_opts.graceful = Graceful::Off;
        let setup = Setup::new(&opts.netns, setup_opts).await?;
        let syncer = setup.ipvs().map(|h| {
            Syncer::ipvs_only(h.clone()).with_options(
                SyncOptions::new()
                    .ownership(Ownership::All)
                    .graceful(Graceful::Off),
            )
        });
        let conntrack = ConntrackHandle::in_netns(&opts.netns)?;
        // Subscribed before the first sync: no change made after it is
        // missed.
        let nft_monitor = if opts.setup.dataplane == Dataplane::Nftables && opts.repair_drift {
            Some(NftMonitor::for_handle(setup.nft())?)
        } else {
            None
        };
        let stamps = stamps(&opts.config, &cfg);
        let mut agent = Agent {
            opts,
            log,
            setup,
            syncer,
            conntrack,
            cfg,
            desired,
            monitor: None,
            epoch: 0,
            forwarders: Vec::new(),
            stamps,
            drained,
            inputs: mpsc::unbounded_channel(),
            commands: 0,
            synced: 0,
            settling: None,
            dnat_last: Vec::new(),
            nft_monitor,
        };
        let mut state = HealthState::new(&agent.cfg);
        let down = agent.drained.health_servers(&agent.cfg);
        start_down(&agent.cfg, &mut state, &down);
        if !down.is_empty() {
            agent.say(&format!(
                "state file {}: {} real server(s) drained by health start down until their first successful check",
                agent.opts.state_file.display(),
                down.len()
            ));
        }
        agent.start_monitor(state, None)?;
        agent.converge(true).await?;
        Ok(agent)
    }

    fn say(&self, line: &str) {
        (self.log)(line);
    }

    /// Starts (or restarts) the health monitor from `state`; with the
    /// state before a reload, the start events of virtual servers whose
    /// quorum did not change are not reported again.
    fn start_monitor(
        &mut self,
        state: HealthState,
        before: Option<(&Config, &HealthState)>,
    ) -> Result<(), AgentError> {
        for f in self.forwarders.drain(..) {
            f.abort();
        }
        self.monitor = None;
        self.epoch += 1;
        let epoch = self.epoch;
        let mut mo = self.opts.monitor.clone();
        mo.netns = self.opts.netns.clone();
        mo.seed = mo.seed.wrapping_add(epoch);
        let same_quorum: HashSet<usize> = match before {
            Some((old_cfg, old)) => {
                let old_keys = service_keys(old_cfg);
                service_keys(&self.cfg)
                    .iter()
                    .enumerate()
                    .filter_map(|(vi, k)| {
                        let k = k.as_ref()?;
                        let ovi = old_keys.iter().position(|o| o.as_ref() == Some(k))?;
                        let was = old.virtual_servers.get(ovi)?.quorum_up;
                        let is = state.virtual_servers.get(vi)?.quorum_up;
                        (was == is).then_some(vi)
                    })
                    .collect()
            }
            None => HashSet::new(),
        };
        let (monitor, mut events) = HealthMonitor::start_with_state(&self.cfg, mo, state)?;
        // The start events are in the channel already.
        while let Ok(e) = events.try_recv() {
            let repeat = match &e {
                HealthEvent::QuorumGained { vs, .. } | HealthEvent::QuorumLost { vs, .. } => {
                    same_quorum.contains(vs)
                }
                HealthEvent::SorryServerIn { vs, .. } => same_quorum.contains(vs),
                _ => false,
            };
            if !repeat {
                self.event(&e);
            }
        }
        let tx = self.inputs.0.clone();
        self.forwarders.push(tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if tx.send(Input::Event(epoch, e)).is_err() {
                    break;
                }
            }
        }));
        let mut updates = monitor.updates();
        updates.borrow_and_update();
        let tx = self.inputs.0.clone();
        self.forwarders.push(tokio::spawn(async move {
            while updates.changed().await.is_ok() {
                if tx.send(Input::Health(epoch)).is_err() {
                    break;
                }
            }
        }));
        self.monitor = Some(monitor);
        Ok(())
    }

    /// Reports a health event; runs its quorum command.
    fn event(&mut self, e: &HealthEvent) {
        let name = |id: &ServerId| {
            let svc = service_keys(&self.cfg)
                .get(id.vs)
                .copied()
                .flatten()
                .map_or_else(|| format!("virtual server #{}", id.vs), |k| k.to_string());
            let rs = real_server_addr(&self.cfg, id.vs, id.rs)
                .map_or_else(|| format!("#{}", id.rs), |a| a.to_string());
            format!("real server {rs} of {svc}")
        };
        let vs_name = |vs: usize| {
            service_keys(&self.cfg)
                .get(vs)
                .copied()
                .flatten()
                .map_or_else(|| format!("virtual server #{vs}"), |k| k.to_string())
        };
        let (line, command) = match e {
            HealthEvent::CheckFailed {
                server,
                attempt,
                retrying,
                reason,
                ..
            } => (
                format!(
                    "health: check of {} failed (attempt {attempt}{}): {reason}",
                    name(server),
                    if *retrying { ", retrying" } else { "" }
                ),
                None,
            ),
            HealthEvent::CheckPassed {
                server,
                streak,
                rise,
                ..
            } => (
                format!(
                    "health: check of {} passed ({streak} of {rise} in a row to come up)",
                    name(server)
                ),
                None,
            ),
            HealthEvent::RealServerUp { server } => {
                (format!("health: {} is up", name(server)), None)
            }
            HealthEvent::RealServerDown { server, reason } => {
                (format!("health: {} is down: {reason}", name(server)), None)
            }
            HealthEvent::WeightChanged { server, weight } => {
                (format!("health: {} weight {weight}", name(server)), None)
            }
            HealthEvent::QuorumGained {
                vs,
                weight,
                threshold,
                command,
            } => (
                format!(
                    "health: {} has its quorum (weight {weight} >= {threshold})",
                    vs_name(*vs)
                ),
                command.clone(),
            ),
            HealthEvent::QuorumLost {
                vs,
                weight,
                threshold,
                command,
                shutdown,
            } => (
                format!(
                    "health: {} lost its quorum (weight {weight}, threshold {threshold}){}",
                    vs_name(*vs),
                    if *shutdown { " at shutdown" } else { "" }
                ),
                command.clone(),
            ),
            HealthEvent::SorryServerIn { vs, server } => (
                format!("health: sorry server {server} in for {}", vs_name(*vs)),
                None,
            ),
            HealthEvent::SorryServerOut { vs, server } => (
                format!("health: sorry server {server} out of {}", vs_name(*vs)),
                None,
            ),
        };
        self.say(&line);
        if let Some(c) = command {
            self.run_command(c);
        }
    }

    /// Runs a quorum command with `/bin/sh -c` in the target namespace,
    /// without waiting; its end is reported.
    fn run_command(&mut self, command: String) {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A child starts in the network namespace of the thread forking it.
        match self.opts.netns.run(move || cmd.spawn()).and_then(|r| r) {
            Err(e) => self.say(&format!("command {command:?}: cannot start: {e}")),
            Ok(mut child) => {
                self.say(&format!("command {command:?} started"));
                self.commands += 1;
                let tx = self.inputs.0.clone();
                tokio::spawn(async move {
                    // No tokio "process" feature: poll for its end.
                    let line = loop {
                        match child.try_wait() {
                            Ok(Some(s)) => break format!("command {command:?} ended: {s}"),
                            Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                            Err(e) => break format!("command {command:?}: {e}"),
                        }
                    };
                    let _ = tx.send(Input::CommandDone(line));
                });
            }
        }
    }

    /// The IPVS services to hold now: the health monitor's, plus the real
    /// servers that left the configuration but still carry connections
    /// of a TCP or fwmark service, at weight 0 (with
    /// [`AgentOptions::drain`]).
    fn services_now(&self, current: &[ServiceEntry]) -> Vec<(Service, Vec<Destination>)> {
        let mut services = self
            .monitor
            .as_ref()
            .map(HealthMonitor::services)
            .unwrap_or_else(|| self.desired.ipvs_services());
        if !self.opts.drain {
            return services;
        }
        let configured: HashMap<ServiceKey, HashSet<SocketAddr>> = self
            .desired
            .services
            .iter()
            .map(|e| {
                (
                    e.service.key,
                    e.destinations
                        .iter()
                        .map(|d| SocketAddr::new(d.addr, d.port))
                        .collect(),
                )
            })
            .collect();
        for (s, dests) in &mut services {
            if matches!(
                s.key,
                ServiceKey::Addr {
                    protocol: Protocol::Udp | Protocol::Sctp,
                    ..
                }
            ) {
                continue;
            }
            let Some(cur) = current.iter().find(|e| e.service.key == s.key) else {
                continue;
            };
            for c in &cur.destinations {
                let at = SocketAddr::new(c.addr, c.port);
                let busy = c.active_conns > 0 || c.inactive_conns > 0;
                let in_cfg = configured.get(&s.key).is_some_and(|set| set.contains(&at));
                if busy && !in_cfg && !dests.iter().any(|d| d.addr == c.addr && d.port == c.port) {
                    dests.push(c.clone().weight(Weight(0)));
                }
            }
        }
        services
    }

    /// Brings the kernel to the configuration and current health: with
    /// `full`, everything [`Setup`] manages (start, reload); otherwise
    /// IPVS alone through the syncer (a health change). Reports the
    /// changes, cleans the conntrack entries of UDP real servers that
    /// left, and saves the drain state when it changed.
    async fn converge(&mut self, full: bool) -> Result<(), AgentError> {
        self.synced = self.generation();
        let before = match self.setup.ipvs() {
            Some(h) => h.config_snapshot().await?,
            None => Vec::new(),
        };
        let services = self.services_now(&before);
        let mut changes: Vec<Change> = Vec::new();
        if full {
            let mut d = self.desired.clone();
            d.services = services
                .iter()
                .map(|(s, ds)| ServiceEntry {
                    service: s.clone(),
                    destinations: ds.clone(),
                })
                .collect();
            let plan = self.setup.plan(&d).await?;
            for n in &plan.notes {
                self.say(&format!("note: {n}"));
            }
            let done = self.setup.apply(&plan, &d).await?;
            for s in &done {
                self.say(&format!("changed: {s}"));
                if let Step::Ipvs(op) = s {
                    changes.extend(change_of(op));
                }
            }
        } else if self.opts.setup.dataplane == Dataplane::Nftables {
            for step in self.setup.sync_dnat(svc::dnat_services(&services)).await? {
                self.say(&format!("changed: {step}"));
            }
        } else if let Some(syncer) = &self.syncer {
            let report = syncer.sync_services(&services).await?;
            for (c, step) in svc::ipvs_steps(&report, &services) {
                self.say(&format!("changed: {step}"));
                changes.push(c);
            }
            for (op, e) in &report.failed {
                self.say(&format!("error: ipvs: {}: {e}", op.context()));
            }
        }
        let mut leavers = udp_leavers(&changes, &before);
        if self.opts.setup.dataplane == Dataplane::Nftables {
            let now = svc::dnat_services(&services);
            leavers.extend(dnat_udp_leavers(&self.dnat_last, &now));
            self.dnat_last = now;
        }
        if !leavers.is_empty() {
            match forget_udp_backends(&self.conntrack, &leavers).await {
                Ok(done) => {
                    for (k, b, n) in done {
                        self.say(&format!(
                            "conntrack: deleted {n} UDP entr{} to {k} answered by {b}",
                            if n == 1 { "y" } else { "ies" }
                        ));
                    }
                }
                Err(e) => self.say(&format!("error: conntrack: {e}")),
            }
        }
        self.save_drained(&services);
        Ok(())
    }

    /// The generation of the monitor's latest health update.
    fn generation(&self) -> u64 {
        self.monitor
            .as_ref()
            .map_or(0, |m| m.updates().borrow().generation)
    }

    /// The drain state now: real servers down by health (with checks),
    /// and those kept at weight 0 after leaving the configuration.
    fn save_drained(&mut self, services: &[(Service, Vec<Destination>)]) {
        let mut now = DrainState::default();
        if let Some(m) = &self.monitor {
            let state = m.state();
            let keys = service_keys(&self.cfg);
            for (vi, vh) in state.virtual_servers.iter().enumerate() {
                let Some(Some(k)) = keys.get(vi) else {
                    continue;
                };
                for (ri, rh) in vh.real_servers.iter().enumerate() {
                    let has_checks = self
                        .cfg
                        .virtual_servers
                        .get(vi)
                        .and_then(|v| v.real_servers.get(ri))
                        .is_some_and(|r| r.checks.iter().any(|c| c.spec != CheckSpec::Other));
                    if has_checks && !rh.alive {
                        if let Some(at) = real_server_addr(&self.cfg, vi, ri) {
                            now.entries.insert(Drained {
                                reason: DrainReason::Health,
                                service: *k,
                                server: at,
                            });
                        }
                    }
                }
            }
        }
        let configured: HashMap<ServiceKey, Vec<SocketAddr>> = self
            .desired
            .services
            .iter()
            .map(|e| {
                (
                    e.service.key,
                    e.destinations
                        .iter()
                        .map(|d| SocketAddr::new(d.addr, d.port))
                        .collect(),
                )
            })
            .collect();
        for (s, ds) in services {
            for d in ds {
                let at = SocketAddr::new(d.addr, d.port);
                if !configured.get(&s.key).is_some_and(|v| v.contains(&at)) {
                    now.entries.insert(Drained {
                        reason: DrainReason::Removed,
                        service: s.key,
                        server: at,
                    });
                }
            }
        }
        if now != self.drained {
            match now.save(&self.opts.state_file) {
                Ok(()) => self.say(&format!(
                    "state file {}: {} drained real server(s)",
                    self.opts.state_file.display(),
                    now.entries.len()
                )),
                Err(e) => self.say(&format!(
                    "error: state file {}: {e}",
                    self.opts.state_file.display()
                )),
            }
            self.drained = now;
        }
    }

    /// Reads the configuration again; applies the difference, or keeps
    /// the running configuration when the new one is wrong.
    async fn reload(&mut self) -> Result<(), AgentError> {
        self.settling = None;
        let cfg = match Config::load(&self.opts.config) {
            Ok(c) => c,
            Err(e) => {
                self.say(&format!("reload: {e}; keeping the running configuration"));
                self.stamps = stamps(&self.opts.config, &self.cfg);
                return Ok(());
            }
        };
        self.stamps = stamps(&self.opts.config, &cfg);
        let desired = match Desired::from_config(&cfg, &self.opts.setup) {
            Ok(d) => d,
            Err(e) => {
                self.say(&format!("reload: {e}; keeping the running configuration"));
                return Ok(());
            }
        };
        if cfg == self.cfg {
            self.say("reload: configuration unchanged");
            return Ok(());
        }
        self.say(&format!("reload: {}", self.opts.config.display()));
        let old_state = self
            .monitor
            .as_ref()
            .map(HealthMonitor::state)
            .unwrap_or_default();
        let state = carry_over(&self.cfg, &old_state, &cfg);
        let old_cfg = std::mem::replace(&mut self.cfg, cfg);
        let old_desired = std::mem::replace(&mut self.desired, desired);
        if let Err(e) = self.start_monitor(state, Some((&old_cfg, &old_state))) {
            self.say(&format!("reload: {e}; keeping the running configuration"));
            self.cfg = old_cfg;
            self.desired = old_desired;
            self.start_monitor(old_state, None)?;
            return Ok(());
        }
        self.converge(true).await
    }

    /// Runs until [`Control::Shutdown`] (or until `control` closes):
    /// health changes, reloads, configuration polling; then the shutdown.
    pub async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) -> Result<(), AgentError> {
        let tx = self.inputs.0.clone();
        let ctl = tokio::spawn(async move {
            while let Some(c) = control.recv().await {
                if tx.send(Input::Control(c)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Input::Control(Control::Shutdown));
        });
        let tx = self.inputs.0.clone();
        let poll = self.opts.poll;
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll).await;
                if tx.send(Input::Tick).is_err() {
                    return;
                }
            }
        });
        let drift = self.nft_monitor.take().map(|mon| {
            let tx = self.inputs.0.clone();
            let table = self.opts.setup.dnat_table.clone();
            tokio::spawn(watch_table(mon, table, tx))
        });
        self.say(
            "watching: health checks running, SIGHUP or a changed file reloads, SIGTERM stops",
        );
        let result = self.serve().await;
        ctl.abort();
        ticker.abort();
        if let Some(d) = drift {
            d.abort();
        }
        let end = self.shutdown().await;
        result.and(end)
    }

    async fn serve(&mut self) -> Result<(), AgentError> {
        let mut ticks = 0u64;
        while let Some(input) = self.inputs.1.recv().await {
            match input {
                Input::Control(Control::Shutdown) => break,
                Input::Control(Control::Reload) => {
                    self.say("reload: SIGHUP");
                    self.reload().await?;
                }
                Input::Tick => {
                    ticks += 1;
                    let now = restamp(&self.stamps);
                    if now != self.stamps {
                        // Reloaded once the files hold still for a poll.
                        if self.settling.as_ref() == Some(&now) {
                            self.settling = None;
                            self.say("reload: a configuration file changed");
                            self.reload().await?;
                        } else {
                            self.settling = Some(now);
                        }
                    } else if self
                        .drained
                        .entries
                        .iter()
                        .any(|d| d.reason == DrainReason::Removed)
                        && ticks % 5 == 0
                    {
                        // Delete drained real servers once idle.
                        self.converge(false).await?;
                    }
                }
                Input::Event(epoch, e) => {
                    if epoch == self.epoch {
                        self.event(&e);
                    }
                }
                Input::CommandDone(line) => {
                    self.commands = self.commands.saturating_sub(1);
                    self.say(&line);
                }
                Input::Drift => self.repair_drift().await,
                Input::Health(epoch) => {
                    if epoch != self.epoch {
                        continue;
                    }
                    if self.generation() == self.synced {
                        continue; // synced already, with a later batch
                    }
                    // Gather the changes close together into one sync.
                    tokio::time::sleep(self.opts.batch).await;
                    self.converge(false).await?;
                }
            }
        }
        Ok(())
    }

    /// The DNAT table changed: when it is not what the agent last made it
    /// (another process changed it), makes it so again and reports the
    /// repair. (The agent's own commits come here too: the check then
    /// finds nothing to do, having only read the table.)
    async fn repair_drift(&mut self) {
        let services = svc::dnat_services(&self.services_now(&[]));
        match self.setup.sync_dnat(services).await {
            Ok(steps) if steps.is_empty() => {}
            Ok(steps) => {
                self.say(&format!(
                    "drift: table inet {} was changed by another process; repaired",
                    self.opts.setup.dnat_table
                ));
                for s in steps {
                    self.say(&format!("changed: {s}"));
                }
            }
            Err(e) => self.say(&format!("error: drift repair: {e}")),
        }
    }

    /// Stops the checks, reports the omega events and runs their
    /// `quorum_down` commands (waiting up to 10 s for the commands).
    async fn shutdown(&mut self) -> Result<(), AgentError> {
        self.say("shutting down");
        for f in self.forwarders.drain(..) {
            f.abort();
        }
        if let Some(m) = self.monitor.take() {
            for e in m.shutdown().await {
                self.event(&e);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.commands > 0 {
            match tokio::time::timeout_at(deadline, self.inputs.1.recv()).await {
                Ok(Some(Input::CommandDone(line))) => {
                    self.commands -= 1;
                    self.say(&line);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        self.say("stopped (kernel state left in place)");
        Ok(())
    }
}

/// Forwards [`Input::Drift`] after every committed transaction that
/// touched table `table` (and when notifications were lost), until the
/// agent stops.
async fn watch_table(mut mon: NftMonitor, table: String, tx: mpsc::UnboundedSender<Input>) {
    let mut touched = false;
    loop {
        let drift = match mon.next().await {
            Ok(NftEvent::NewGen(_)) => std::mem::take(&mut touched),
            Ok(e) => {
                touched |= e.table() == Some(table.as_str());
                false
            }
            Err(Error::Overrun { .. }) => true,
            Err(_) => return,
        };
        if drift && tx.send(Input::Drift).is_err() {
            return;
        }
    }
}

/// The UDP endpoints that left their service between two states of the
/// DNAT table (removed, or the service gone), as [`udp_leavers`] gives
/// them for IPVS: their conntrack entries must go.
pub fn dnat_udp_leavers(
    before: &[DnatService],
    now: &[DnatService],
) -> Vec<(ServiceKey, SocketAddr)> {
    let udp = libc::IPPROTO_UDP as u8;
    let mut out = Vec::new();
    for old in before.iter().filter(|s| s.protocol == udp) {
        let new = now
            .iter()
            .find(|s| s.protocol == udp && s.vip == old.vip && s.port == old.port);
        let key = ServiceKey::udp(SocketAddr::new(old.vip, old.port));
        for e in &old.endpoints {
            if !new.is_some_and(|n| n.endpoints.iter().any(|x| x.addr == e.addr)) {
                out.push((key, e.addr));
            }
        }
    }
    out
}

/// The change an IPVS operation of a [`Step`] made.
fn change_of(op: &Operation) -> Option<Change> {
    let at = |d: &Destination| SocketAddr::new(d.addr, d.port);
    Some(match op {
        Operation::AddService(s) => Change::AddService(s.key),
        Operation::EditService(s) => Change::EditService(s.key),
        Operation::DeleteService(k) => Change::DeleteService(*k),
        Operation::AddDestination(k, d) => Change::AddDestination(*k, at(d)),
        Operation::EditDestination(k, d) => Change::EditDestination(*k, at(d)),
        Operation::DeleteDestination(k, d) => Change::DeleteDestination(*k, at(d)),
        _ => return None,
    })
}
