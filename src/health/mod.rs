//! Health checks of real servers, with keepalived's semantics: which
//! destinations each virtual server should have, and what happened.
//!
//! keepalived's `virtual_server` blocks carry health checks
//! ([`CheckSpec`]: `TCP_CHECK`, `HTTP_GET`, `MISC_CHECK`). A
//! [`HealthMonitor`] runs them, one Tokio task per checker, and keeps a
//! [`HealthState`]: which real servers are alive, at what weight, whether
//! each virtual server has its quorum, whether its sorry server is in use.
//! It never talks to IPVS itself: it publishes, on a `watch` channel, the
//! services with the destinations they should have ([`HealthUpdate`],
//! the input of [`crate::sync::Syncer`]), and sends typed
//! [`HealthEvent`]s on an `mpsc` channel.
//!
//! The rules are keepalived's (`keepalived/check/ipwrapper.c` and the
//! checkers):
//!
//! - **Retries** ("fall"): a check that fails while its real server is up
//!   is retried `retry` times (`nb_get_retry` in older files),
//!   `delay_before_retry` apart; when the last retry fails too (`retry + 1`
//!   failures in a row) the server goes down. A server already down is not
//!   retried: it is checked every `delay_loop`. **Rise** is keepalived's:
//!   one success brings a server up. Every failed attempt is reported
//!   ([`HealthEvent::CheckFailed`]).
//! - **Start state** (`alpha`): without it, real servers start up; with it,
//!   they start down until their first successful check. A real server
//!   without checks is always up; one with several is up when all are.
//! - **Interval**: `delay_loop` (of the checker, else the real server, else
//!   the virtual server; 60 s by default) from the start of one check to
//!   the start of the next, with a small random jitter
//!   ([`MonitorOptions::jitter`], seeded by [`MonitorOptions::seed`]);
//!   `warmup` delays the first check by a random time up to it.
//! - **Weights**: a live real server has its `weight` (1 by default), or the
//!   one its `misc_dynamic` script gave (exit status 2 + N: weight N). A
//!   down server leaves the pool, or stays at weight 0 with
//!   `inhibit_on_failure`.
//! - **Quorum**: the sum of the weights of the live servers must reach
//!   `quorum` (1 by default). It is lost below `quorum - hysteresis` and
//!   gained again at `quorum + hysteresis` ([`HealthEvent::QuorumLost`],
//!   [`HealthEvent::QuorumGained`], naming the `quorum_down`/`quorum_up`
//!   command for the caller to run).
//! - **Sorry server**: while the quorum is lost (with the default quorum:
//!   all real servers down), the `sorry_server` replaces the real servers
//!   in the pool; when the quorum comes back, it leaves and they return.
//!   With `sorry_server_inhibit` it stays at weight 0 while unused.
//! - **Shutdown** ([`HealthMonitor::shutdown`]): for a virtual server with
//!   `omega`, the live servers are reported down and, if it had its
//!   quorum, [`HealthEvent::QuorumLost`] with `shutdown: true`.
//!
//! The mapping from a configuration and a health state to the sync
//! engine's services is [`desired_services`]; it starts from what
//! [`crate::svc::Desired`] derives (schedulers, forwarding, persistence)
//! and keeps, reweights or removes destinations.
//!
//! ```
//! use clusterip::health::{HealthEvent, HealthState, ServerId, desired_services};
//! use clusterip::keepalived::Config;
//! let cfg = Config::parse_str(
//!     "virtual_server 10.96.0.1 80 {\n lb_kind NAT\n sorry_server 10.0.0.9 80\n\
//!      real_server 10.0.0.1 80 {\n  TCP_CHECK { connect_timeout 1 }\n }\n}\n",
//!     "keepalived.conf",
//! )
//! .unwrap();
//! let mut state = HealthState::new(&cfg);
//! let services = desired_services(&cfg, &state).unwrap();
//! assert_eq!(services[0].1[0].addr.to_string(), "10.0.0.1");
//! // The checker's verdict: down (after its retries).
//! let events = state.checker_result(ServerId { vs: 0, rs: 0 }, 0, false, "refused");
//! assert!(matches!(events[0], HealthEvent::RealServerDown { .. }));
//! assert!(matches!(events[1], HealthEvent::QuorumLost { .. }));
//! assert!(matches!(events[2], HealthEvent::SorryServerIn { .. }));
//! let services = desired_services(&cfg, &state).unwrap();
//! assert_eq!(services[0].1[0].addr.to_string(), "10.0.0.9");
//! ```

mod md5;
mod probe;

pub use md5::Md5;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ipvs_nl::{Destination, ForwardMethod, Service, Weight};
use nl_engine::Netns;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};

use crate::keepalived::{
    CheckSpec, CheckTimers, Config, ConfigError, ConnectOptions, LbKind, Location, RealServer,
    Target, VirtualServer,
};
use crate::svc;
use probe::Probe;

/// keepalived's default `delay_loop`.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// keepalived's default `delay_before_retry`.
pub const DEFAULT_DELAY_BEFORE_RETRY: Duration = Duration::from_secs(1);
/// keepalived's default `retry` of `TCP_CHECK` and `HTTP_GET`
/// (`MISC_CHECK`'s is 0).
pub const DEFAULT_RETRY: u32 = 1;

// ----------------------------------------------------------------- events

/// A real server: its virtual server's index in
/// [`Config::virtual_servers`] and its own index in
/// [`VirtualServer::real_servers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId {
    /// Index of the virtual server.
    pub vs: usize,
    /// Index of the real server in it.
    pub rs: usize,
}

/// Something the health checker saw or decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    /// One attempt of a check failed.
    CheckFailed {
        /// The real server.
        server: ServerId,
        /// Index of the check in [`RealServer::checks`].
        checker: usize,
        /// Failed attempts in a row, this one included.
        attempt: u32,
        /// Whether it will be retried after `delay_before_retry` (the
        /// server is still up); false when this failure takes it down or
        /// it is down already.
        retrying: bool,
        /// What went wrong.
        reason: String,
    },
    /// A check of a real server that is down succeeded, but fewer times
    /// in a row than [`MonitorOptions::rise`] asks before it comes up.
    CheckPassed {
        /// The real server.
        server: ServerId,
        /// Index of the check in [`RealServer::checks`].
        checker: usize,
        /// Successes in a row, this one included.
        streak: u32,
        /// Successes in a row it takes to come up.
        rise: u32,
    },
    /// A real server came up (all its checks succeed).
    RealServerUp {
        /// The real server.
        server: ServerId,
    },
    /// A real server went down.
    RealServerDown {
        /// The real server.
        server: ServerId,
        /// The failure that took it down (or the shutdown).
        reason: String,
    },
    /// A `misc_dynamic` check changed a real server's weight.
    WeightChanged {
        /// The real server.
        server: ServerId,
        /// Its new weight.
        weight: u32,
    },
    /// A virtual server gained its quorum (also at start, when it has it).
    QuorumGained {
        /// Index of the virtual server.
        vs: usize,
        /// Sum of the weights of its live real servers.
        weight: u64,
        /// The threshold that was reached (`quorum + hysteresis`).
        threshold: u64,
        /// The `quorum_up` command to run, if any.
        command: Option<String>,
    },
    /// A virtual server lost its quorum (also at start, when it has not).
    QuorumLost {
        /// Index of the virtual server.
        vs: usize,
        /// Sum of the weights of its live real servers.
        weight: u64,
        /// The threshold it fell below (`quorum - hysteresis`).
        threshold: u64,
        /// The `quorum_down` command to run, if any.
        command: Option<String>,
        /// True when reported at shutdown (`omega`).
        shutdown: bool,
    },
    /// The sorry server entered the pool of a virtual server.
    SorryServerIn {
        /// Index of the virtual server.
        vs: usize,
        /// The sorry server.
        server: SocketAddr,
    },
    /// The sorry server left the pool of a virtual server.
    SorryServerOut {
        /// Index of the virtual server.
        vs: usize,
        /// The sorry server.
        server: SocketAddr,
    },
}

// ------------------------------------------------------------------ state

/// The health of one real server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerHealth {
    /// Whether it is alive (every check up).
    pub alive: bool,
    /// Its weight while alive: the configured one, or the last one a
    /// `misc_dynamic` check gave.
    pub weight: u32,
    /// Whether a failure keeps it at weight 0 (`inhibit_on_failure`)
    /// rather than removing it.
    pub inhibit: bool,
    /// Each check's state (indexed like [`RealServer::checks`]; checks
    /// this module does not run count as up).
    pub checks_up: Vec<bool>,
}

/// The health of one virtual server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerHealth {
    /// Whether it has its quorum.
    pub quorum_up: bool,
    /// Whether its sorry server is in the pool.
    pub sorry_in: bool,
    /// Its real servers, in configuration order.
    pub real_servers: Vec<RealServerHealth>,
    quorum: u64,
    hysteresis: u64,
    quorum_up_command: Option<String>,
    quorum_down_command: Option<String>,
    sorry: Option<SocketAddr>,
    omega: bool,
}

impl VirtualServerHealth {
    /// The sum of the weights of the live real servers.
    pub fn live_weight(&self) -> u64 {
        self.real_servers
            .iter()
            .filter(|r| r.alive)
            .map(|r| u64::from(r.weight))
            .sum()
    }

    /// keepalived's `update_quorum_state`: gained at `quorum + hysteresis`,
    /// lost below `quorum - hysteresis` (or with no live weight at all).
    fn update_quorum(&mut self, vs: usize, events: &mut Vec<HealthEvent>) {
        let weight = self.live_weight();
        if !self.quorum_up {
            let threshold = self.quorum + self.hysteresis;
            if weight >= threshold {
                self.quorum_up = true;
                events.push(HealthEvent::QuorumGained {
                    vs,
                    weight,
                    threshold,
                    command: self.quorum_up_command.clone(),
                });
                if let (true, Some(server)) = (self.sorry_in, self.sorry) {
                    self.sorry_in = false;
                    events.push(HealthEvent::SorryServerOut { vs, server });
                }
            }
        } else {
            let threshold = self.quorum.saturating_sub(self.hysteresis);
            if weight == 0 || weight < threshold {
                self.quorum_up = false;
                events.push(HealthEvent::QuorumLost {
                    vs,
                    weight,
                    threshold,
                    command: self.quorum_down_command.clone(),
                    shutdown: false,
                });
                if let (false, Some(server)) = (self.sorry_in, self.sorry) {
                    self.sorry_in = true;
                    events.push(HealthEvent::SorryServerIn { vs, server });
                }
            }
        }
    }
}

/// The health of every virtual and real server of a configuration; see
/// the [module documentation](self) for the rules it follows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthState {
    /// The virtual servers, indexed like [`Config::virtual_servers`].
    pub virtual_servers: Vec<VirtualServerHealth>,
}

fn vport(vs: &VirtualServer) -> u16 {
    match vs.target {
        Target::Address(sa) => sa.port(),
        Target::Fwmark(_) => 0,
    }
}

impl HealthState {
    /// The state before any check ran: real servers up, or down when their
    /// virtual server has `alpha` and they have checks this module runs;
    /// the quorum as that makes it (keepalived's `set_quorum_states`), and
    /// the sorry server in when it is lost.
    pub fn new(cfg: &Config) -> Self {
        let virtual_servers =
            cfg.virtual_servers
                .iter()
                .map(|vs| {
                    let real_servers = vs
                        .real_servers
                        .iter()
                        .map(|rs| {
                            let checks_up: Vec<bool> = rs
                                .checks
                                .iter()
                                .map(|c| !(vs.alpha && c.spec != CheckSpec::Other))
                                .collect();
                            RealServerHealth {
                                alive: checks_up.iter().all(|&u| u),
                                weight: rs.weight.unwrap_or(1),
                                inhibit: vs.inhibits(rs),
                                checks_up,
                            }
                        })
                        .collect();
                    let mut h = VirtualServerHealth {
                        quorum_up: false,
                        sorry_in: false,
                        real_servers,
                        quorum: u64::from(vs.effective_quorum()),
                        hysteresis: u64::from(vs.hysteresis.unwrap_or(0)),
                        quorum_up_command: vs.quorum_up.clone(),
                        quorum_down_command: vs.quorum_down.clone(),
                        sorry: vs.sorry_server.as_ref().map(|s| {
                            SocketAddr::new(s.address, s.port.unwrap_or_else(|| vport(vs)))
                        }),
                        omega: vs.omega,
                    };
                    h.quorum_up = h.live_weight() >= h.quorum + h.hysteresis;
                    h.sorry_in = !h.quorum_up && h.sorry.is_some();
                    h
                })
                .collect();
        HealthState { virtual_servers }
    }

    /// What the start state means, as events: for each virtual server,
    /// [`HealthEvent::QuorumGained`] or [`HealthEvent::QuorumLost`] (then
    /// [`HealthEvent::SorryServerIn`] when its sorry server is in use), as
    /// keepalived runs the quorum commands at start.
    pub fn initial_events(&self) -> Vec<HealthEvent> {
        let mut out = Vec::new();
        for (vs, h) in self.virtual_servers.iter().enumerate() {
            let weight = h.live_weight();
            if h.quorum_up {
                out.push(HealthEvent::QuorumGained {
                    vs,
                    weight,
                    threshold: h.quorum + h.hysteresis,
                    command: h.quorum_up_command.clone(),
                });
            } else {
                out.push(HealthEvent::QuorumLost {
                    vs,
                    weight,
                    threshold: h.quorum + h.hysteresis,
                    command: h.quorum_down_command.clone(),
                    shutdown: false,
                });
                if let (true, Some(server)) = (h.sorry_in, h.sorry) {
                    out.push(HealthEvent::SorryServerIn { vs, server });
                }
            }
        }
        out
    }

    /// One real server's health.
    pub fn server(&self, id: ServerId) -> Option<&RealServerHealth> {
        self.virtual_servers.get(id.vs)?.real_servers.get(id.rs)
    }

    /// A check's verdict (after its retries): check `checker` of `server`
    /// is up or down. Returns what changed: the server up or down, then
    /// the quorum and the sorry server. A verdict equal to the check's
    /// current state changes nothing.
    pub fn checker_result(
        &mut self,
        server: ServerId,
        checker: usize,
        up: bool,
        reason: &str,
    ) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        let Some(vsh) = self.virtual_servers.get_mut(server.vs) else {
            return events;
        };
        let Some(rsh) = vsh.real_servers.get_mut(server.rs) else {
            return events;
        };
        let Some(c) = rsh.checks_up.get_mut(checker) else {
            return events;
        };
        if *c == up {
            return events;
        }
        *c = up;
        let alive = rsh.checks_up.iter().all(|&u| u);
        if alive == rsh.alive {
            return events;
        }
        rsh.alive = alive;
        events.push(if alive {
            HealthEvent::RealServerUp { server }
        } else {
            HealthEvent::RealServerDown {
                server,
                reason: reason.to_string(),
            }
        });
        vsh.update_quorum(server.vs, &mut events);
        events
    }

    /// A `misc_dynamic` check set `server`'s weight.
    pub fn set_weight(&mut self, server: ServerId, weight: u32) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        let Some(vsh) = self.virtual_servers.get_mut(server.vs) else {
            return events;
        };
        let Some(rsh) = vsh.real_servers.get_mut(server.rs) else {
            return events;
        };
        if rsh.weight == weight {
            return events;
        }
        rsh.weight = weight;
        events.push(HealthEvent::WeightChanged { server, weight });
        if rsh.alive {
            vsh.update_quorum(server.vs, &mut events);
        }
        events
    }

    /// Shutdown (keepalived's `omega`): the live real servers of every
    /// virtual server with `omega` are reported down, then its quorum lost
    /// (`shutdown: true`) if it had it. Virtual servers without `omega`
    /// are left as they are, silently.
    pub fn shutdown(&mut self) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        for (vs, h) in self.virtual_servers.iter_mut().enumerate() {
            if !h.omega {
                continue;
            }
            let weight = h.live_weight();
            for (rs, r) in h.real_servers.iter_mut().enumerate() {
                if r.alive {
                    r.alive = false;
                    events.push(HealthEvent::RealServerDown {
                        server: ServerId { vs, rs },
                        reason: "shutting down".into(),
                    });
                }
            }
            if h.quorum_up {
                h.quorum_up = false;
                events.push(HealthEvent::QuorumLost {
                    vs,
                    weight,
                    threshold: h.quorum.saturating_sub(h.hysteresis),
                    command: h.quorum_down_command.clone(),
                    shutdown: true,
                });
            }
        }
        events
    }
}

// ------------------------------------------------------------ the mapping

/// The IPVS services of `cfg` with the destinations `state` gives them:
/// what to hand the sync engine ([`crate::sync::DesiredState::services`]).
///
/// The services are [`crate::svc::Desired::from_config`]'s (so a
/// configuration error is reported the same way, with file and line);
/// for each real server: alive, its destination at its current weight;
/// down, no destination, or weight 0 with `inhibit_on_failure`. While a
/// virtual server's sorry server is in use, it is the only destination
/// at its weight (1; inhibited real servers stay at weight 0); unused, it
/// is absent, or at weight 0 with `sorry_server_inhibit`.
pub fn desired_services(
    cfg: &Config,
    state: &HealthState,
) -> Result<Vec<(Service, Vec<Destination>)>, ConfigError> {
    let base = svc::Desired::from_config(cfg, &svc::Options::default())?;
    Ok(apply_health(&base, cfg, state))
}

/// [`desired_services`] as a whole [`crate::sync::DesiredState`] without
/// sets: what an IPVS-only syncer ([`crate::sync::Syncer::ipvs_only`])
/// takes. (With [`crate::svc`], which also manages the ipset members,
/// put the destinations into [`crate::svc::Desired::services`] instead.)
///
/// ```
/// use clusterip::health::{HealthState, desired_state};
/// use clusterip::keepalived::Config;
/// let cfg = Config::parse_str("virtual_server 10.96.0.1 53 {\n protocol UDP\n real_server 10.0.0.1 53 {\n }\n}\n", "k.conf").unwrap();
/// let d = desired_state(&cfg, &HealthState::new(&cfg)).unwrap();
/// assert_eq!(d.services[0].1.len(), 1);
/// assert!(d.sets.is_empty());
/// ```
pub fn desired_state(
    cfg: &Config,
    state: &HealthState,
) -> Result<crate::sync::DesiredState, ConfigError> {
    Ok(crate::sync::DesiredState::new().with_services(desired_services(cfg, state)?))
}

fn forward_of(vs: &VirtualServer) -> ForwardMethod {
    match vs.lb_kind.unwrap_or(LbKind::Nat) {
        LbKind::Nat => ForwardMethod::Masquerade,
        LbKind::Dr => ForwardMethod::DirectRoute,
        LbKind::Tun => ForwardMethod::Tunnel,
    }
}

/// [`desired_services`] from an already derived [`svc::Desired`] (whose
/// services are `cfg`'s virtual servers, in order).
fn apply_health(
    base: &svc::Desired,
    cfg: &Config,
    state: &HealthState,
) -> Vec<(Service, Vec<Destination>)> {
    let mut out = Vec::with_capacity(base.services.len());
    for (i, entry) in base.services.iter().enumerate() {
        let (Some(vs), Some(h)) = (cfg.virtual_servers.get(i), state.virtual_servers.get(i)) else {
            out.push((entry.service.clone(), entry.destinations.clone()));
            continue;
        };
        let sorry_mode = h.sorry_in && h.sorry.is_some();
        let mut dests = Vec::with_capacity(entry.destinations.len() + 1);
        for (j, d) in entry.destinations.iter().enumerate() {
            let Some(r) = h.real_servers.get(j) else {
                dests.push(d.clone());
                continue;
            };
            let weight = if r.alive && !sorry_mode {
                Some(r.weight)
            } else if r.inhibit {
                Some(0)
            } else {
                None
            };
            if let Some(w) = weight {
                dests.push(d.clone().weight(Weight(w)));
            }
        }
        if let Some(sorry) = h.sorry {
            let weight = if sorry_mode {
                Some(1)
            } else if vs.sorry_server_inhibit {
                Some(0)
            } else {
                None
            };
            if let Some(w) = weight {
                // A sorry server that is also a real server is one
                // destination (keepalived's `s_svr_duplicates_rs`).
                match dests
                    .iter_mut()
                    .find(|d| d.addr == sorry.ip() && d.port == sorry.port())
                {
                    Some(d) => {
                        if sorry_mode {
                            d.weight = Weight(w);
                        }
                    }
                    None => dests.push(
                        Destination::new(sorry.ip(), sorry.port())
                            .forward(forward_of(vs))
                            .weight(Weight(w)),
                    ),
                }
            }
        }
        out.push((entry.service.clone(), dests));
    }
    out
}

// ---------------------------------------------------------------- monitor

/// How a [`HealthMonitor`] runs.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// The network namespace the checks run in: sockets are created and
    /// `MISC_CHECK` programs started there (default: the caller's).
    pub netns: Netns,
    /// Seed of the jitter and warmup delays: the same seed gives the same
    /// delays.
    pub seed: u64,
    /// Each interval is `delay_loop` times a random factor in
    /// `1 ± jitter` (clamped to 0..=0.5; default 0.05). Retries are not
    /// jittered.
    pub jitter: f64,
    /// Successful checks in a row a check of a down real server needs
    /// before it counts as passing again (HAProxy's `rise`; default 1,
    /// keepalived's rule: one success brings a server up). A failure
    /// starts the count again. The fall side is keepalived's `retry`.
    pub rise: u32,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
            ^ u64::from(std::process::id());
        MonitorOptions {
            netns: Netns::current(),
            seed,
            jitter: 0.05,
            rise: 1,
        }
    }
}

/// Why a [`HealthMonitor`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The configuration has an error (with its file and line), or a check
    /// this module cannot run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// [`HealthMonitor::start`] was called outside a Tokio runtime.
    #[error("the health monitor must be started inside a Tokio runtime")]
    NoRuntime,
}

/// What a [`HealthMonitor`] publishes after every change: the health
/// state and the services with the destinations it gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthUpdate {
    /// Counts the changes (0: the start state).
    pub generation: u64,
    /// The health of every server.
    pub state: HealthState,
    /// The services as the sync engine takes them ([`desired_services`]).
    pub services: Vec<(Service, Vec<Destination>)>,
}

struct Shared {
    cfg: Config,
    base: svc::Desired,
    state: Mutex<(HealthState, u64)>,
    events: mpsc::UnboundedSender<HealthEvent>,
    updates: watch::Sender<HealthUpdate>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, (HealthState, u64)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a change to the state; when it produced events, publishes
    /// the new desired services, then the events (in that order, under
    /// the lock, so both channels agree on the order of changes).
    fn change(&self, f: impl FnOnce(&mut HealthState) -> Vec<HealthEvent>) {
        let mut guard = self.lock();
        let events = f(&mut guard.0);
        if events.is_empty() {
            return;
        }
        guard.1 += 1;
        let update = HealthUpdate {
            generation: guard.1,
            services: apply_health(&self.base, &self.cfg, &guard.0),
            state: guard.0.clone(),
        };
        self.updates.send_replace(update);
        for e in events {
            let _ = self.events.send(e);
        }
    }

    fn event(&self, e: HealthEvent) {
        let _guard = self.lock();
        let _ = self.events.send(e);
    }
}

/// A small deterministic generator (SplitMix64) for jitter and warmup.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `base` times a factor in `1 ± jitter`.
    fn jitter(&mut self, base: Duration, jitter: f64) -> Duration {
        if jitter <= 0.0 {
            return base;
        }
        let factor = 1.0 + (self.unit() * 2.0 - 1.0) * jitter;
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base)
    }
}

/// One checker, resolved from the configuration.
#[derive(Debug, Clone)]
struct CheckerTask {
    server: ServerId,
    checker: usize,
    probe: Probe,
    delay_loop: Duration,
    retry: u32,
    delay_before_retry: Duration,
    warmup: Option<Duration>,
    /// Whether the check starts down (`alpha`).
    starts_down: bool,
    rng: SplitMix,
    jitter: f64,
    rise: u32,
}

fn bind_addr(c: &ConnectOptions, target: SocketAddr) -> Option<SocketAddr> {
    match (c.bindto, c.bind_port) {
        (Some(ip), port) => Some(SocketAddr::new(ip, port.unwrap_or(0))),
        (None, Some(port)) => Some(match target {
            SocketAddr::V4(_) => SocketAddr::new(IpAddr::from([0u8; 4]), port),
            SocketAddr::V6(_) => SocketAddr::new(IpAddr::from([0u16; 8]), port),
        }),
        (None, None) => None,
    }
}

fn target_of(
    c: &ConnectOptions,
    rs: &RealServer,
    kind: &str,
    loc: &Location,
) -> Result<SocketAddr, ConfigError> {
    let port = c.connect_port.or(rs.port).ok_or_else(|| ConfigError {
        location: loc.clone(),
        message: format!(
            "{kind} of real server {} needs connect_port (the real server has no port)",
            rs.address
        ),
    })?;
    Ok(SocketAddr::new(c.connect_ip.unwrap_or(rs.address), port))
}

fn host_header(target: SocketAddr) -> String {
    match target {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Every checker of `cfg`, resolved (timers inherited from the real
/// server, then the virtual server, then keepalived's defaults).
fn checker_tasks(cfg: &Config, opts: &MonitorOptions) -> Result<Vec<CheckerTask>, ConfigError> {
    let mut seeds = SplitMix(opts.seed);
    let jitter = if opts.jitter.is_finite() {
        opts.jitter.clamp(0.0, 0.5)
    } else {
        0.0
    };
    let mut out = Vec::new();
    for (vi, vs) in cfg.virtual_servers.iter().enumerate() {
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            for (ci, check) in rs.checks.iter().enumerate() {
                let loc = &check.block.location;
                let Some(own) = check.spec.timers() else {
                    return Err(ConfigError {
                        location: loc.clone(),
                        message: format!(
                            "{} is not supported by the health checker (TCP_CHECK, HTTP_GET and MISC_CHECK are)",
                            check.kind
                        ),
                    });
                };
                let t: CheckTimers = own.or(&rs.timers).or(&vs.timers);
                let delay_loop = t.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
                let connect_timeout = t.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
                let (probe, default_retry) = match &check.spec {
                    CheckSpec::Tcp(c) => {
                        let target = target_of(&c.connect, rs, &check.kind, loc)?;
                        (
                            Probe::Tcp {
                                target,
                                bind: bind_addr(&c.connect, target),
                                timeout: connect_timeout,
                            },
                            DEFAULT_RETRY,
                        )
                    }
                    CheckSpec::Http(c) => {
                        let target = target_of(&c.connect, rs, &check.kind, loc)?;
                        (
                            Probe::Http {
                                target,
                                bind: bind_addr(&c.connect, target),
                                timeout: connect_timeout,
                                host: c.virtualhost.clone().unwrap_or_else(|| host_header(target)),
                                urls: c.urls.clone(),
                            },
                            DEFAULT_RETRY,
                        )
                    }
                    CheckSpec::Misc(c) => (
                        Probe::Misc {
                            command: c.path.clone(),
                            timeout: c.timeout.unwrap_or(delay_loop),
                            dynamic: c.dynamic,
                        },
                        0,
                    ),
                    CheckSpec::Other => continue,
                };
                out.push(CheckerTask {
                    server: ServerId { vs: vi, rs: ri },
                    checker: ci,
                    probe,
                    delay_loop,
                    retry: t.retry.unwrap_or(default_retry),
                    delay_before_retry: t.delay_before_retry.unwrap_or(DEFAULT_DELAY_BEFORE_RETRY),
                    warmup: t.warmup,
                    starts_down: vs.alpha,
                    rng: SplitMix(seeds.next()),
                    jitter,
                    rise: opts.rise.max(1),
                });
            }
        }
    }
    Ok(out)
}

impl CheckerTask {
    /// keepalived's checker loop: check, retry while up, report verdicts.
    async fn run(mut self, shared: Arc<Shared>, netns: Netns) {
        if let Some(w) = self.warmup.filter(|w| !w.is_zero()) {
            let first = w.mul_f64(self.rng.unit());
            sleep(first).await;
        }
        let mut up = !self.starts_down;
        let mut retry_it = 0u32;
        let mut failures = 0u32;
        let mut successes = 0u32;
        loop {
            let start = Instant::now();
            match self.probe.run(&netns).await {
                Ok(weight) => {
                    retry_it = 0;
                    failures = 0;
                    if let Some(w) = weight {
                        shared.change(|s| s.set_weight(self.server, w));
                    }
                    if !up {
                        successes = successes.saturating_add(1);
                        if successes >= self.rise {
                            up = true;
                            successes = 0;
                            shared
                                .change(|s| s.checker_result(self.server, self.checker, true, ""));
                        } else {
                            shared.event(HealthEvent::CheckPassed {
                                server: self.server,
                                checker: self.checker,
                                streak: successes,
                                rise: self.rise,
                            });
                        }
                    }
                }
                Err(reason) => {
                    successes = 0;
                    failures = failures.saturating_add(1);
                    let retrying = up && retry_it < self.retry;
                    shared.event(HealthEvent::CheckFailed {
                        server: self.server,
                        checker: self.checker,
                        attempt: failures,
                        retrying,
                        reason: reason.clone(),
                    });
                    if retrying {
                        retry_it += 1;
                    } else if up {
                        retry_it = 0;
                        up = false;
                        shared.change(|s| {
                            s.checker_result(self.server, self.checker, false, &reason)
                        });
                    }
                }
            }
            let next = if retry_it > 0 {
                self.delay_before_retry
            } else {
                self.rng.jitter(self.delay_loop, self.jitter)
            };
            match start.checked_add(next) {
                Some(at) => sleep_until(at).await,
                None => sleep(next).await,
            }
        }
    }
}

/// Runs the health checks of a configuration; see the [module
/// documentation](self).
///
/// Each checker is one task on the Tokio runtime that started the
/// monitor; a change of health publishes a [`HealthUpdate`] on the
/// [`HealthMonitor::updates`] channel and sends [`HealthEvent`]s on the
/// event channel [`HealthMonitor::start`] returns. Dropping the monitor
/// stops the checks (and kills running check programs) without the
/// shutdown events; [`HealthMonitor::shutdown`] gives them.
///
/// ```no_run
/// use clusterip::health::{HealthMonitor, MonitorOptions};
/// use clusterip::keepalived::Config;
/// use clusterip::sync::{DesiredState, Syncer};
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let cfg = Config::load("/etc/keepalived/keepalived.conf")?;
/// let syncer = Syncer::in_netns(&clusterip::netlink::Netns::current()).await?;
/// let (monitor, mut events) = HealthMonitor::start(&cfg, MonitorOptions::default())?;
/// let mut updates = monitor.updates();
/// loop {
///     let services = updates.borrow_and_update().services.clone();
///     syncer.sync(&DesiredState::new().with_services(services)).await?;
///     while let Ok(e) = events.try_recv() {
///         println!("{e:?}");
///     }
///     if updates.changed().await.is_err() {
///         break;
///     }
/// }
/// # Ok(()) }
/// ```
pub struct HealthMonitor {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    updates: watch::Receiver<HealthUpdate>,
}

impl std::fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthMonitor")
            .field("checkers", &self.tasks.len())
            .field("update", &*self.updates.borrow())
            .finish()
    }
}

impl HealthMonitor {
    /// Starts checking every real server of `cfg`, on the current Tokio
    /// runtime (it needs the time and I/O drivers). Fails, naming file and
    /// line, for a configuration error or a check kind it cannot run
    /// (`SSL_GET`, `SMTP_CHECK`, ...).
    ///
    /// The event channel first holds the start state's events
    /// ([`HealthState::initial_events`]).
    pub fn start(
        cfg: &Config,
        opts: MonitorOptions,
    ) -> Result<(HealthMonitor, mpsc::UnboundedReceiver<HealthEvent>), HealthError> {
        Self::start_with_state(cfg, opts, HealthState::new(cfg))
    }

    /// [`HealthMonitor::start`] from a given start state instead of
    /// [`HealthState::new`]: each checker starts with its check's verdict
    /// in `state` (down ones are checked every `delay_loop` until their
    /// first success, up ones retried before they go down), as keepalived
    /// keeps its checkers' states over a reload. A program that restarts
    /// or reloads derives `state` from [`HealthState::new`] and the
    /// verdicts it knew ([`HealthState::checker_result`]). A state of
    /// another shape than `cfg` (other virtual servers, real servers or
    /// checks) is replaced by [`HealthState::new`].
    pub fn start_with_state(
        cfg: &Config,
        opts: MonitorOptions,
        state: HealthState,
    ) -> Result<(HealthMonitor, mpsc::UnboundedReceiver<HealthEvent>), HealthError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| HealthError::NoRuntime)?;
        let base = svc::Desired::from_config(cfg, &svc::Options::default())?;
        let mut checkers = checker_tasks(cfg, &opts)?;
        let fresh = HealthState::new(cfg);
        let same_shape = state.virtual_servers.len() == fresh.virtual_servers.len()
            && state
                .virtual_servers
                .iter()
                .zip(&fresh.virtual_servers)
                .all(|(a, b)| {
                    a.real_servers.len() == b.real_servers.len()
                        && a.real_servers
                            .iter()
                            .zip(&b.real_servers)
                            .all(|(x, y)| x.checks_up.len() == y.checks_up.len())
                });
        let state = if same_shape { state } else { fresh };
        for c in &mut checkers {
            if let Some(up) = state
                .server(c.server)
                .and_then(|r| r.checks_up.get(c.checker))
            {
                c.starts_down = !up;
            }
        }
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        for e in state.initial_events() {
            let _ = events_tx.send(e);
        }
        let first = HealthUpdate {
            generation: 0,
            services: apply_health(&base, cfg, &state),
            state: state.clone(),
        };
        let (updates_tx, updates_rx) = watch::channel(first);
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            base,
            state: Mutex::new((state, 0)),
            events: events_tx,
            updates: updates_tx,
        });
        let tasks = checkers
            .into_iter()
            .map(|c| handle.spawn(c.run(shared.clone(), opts.netns.clone())))
            .collect();
        Ok((
            HealthMonitor {
                shared,
                tasks,
                updates: updates_rx,
            },
            events_rx,
        ))
    }

    /// A receiver of the published [`HealthUpdate`]s (the latest one is
    /// there at once).
    pub fn updates(&self) -> watch::Receiver<HealthUpdate> {
        self.updates.clone()
    }

    /// The current health state.
    pub fn state(&self) -> HealthState {
        self.shared.lock().0.clone()
    }

    /// The services with the destinations the current health gives them.
    pub fn services(&self) -> Vec<(Service, Vec<Destination>)> {
        let guard = self.shared.lock();
        apply_health(&self.shared.base, &self.shared.cfg, &guard.0)
    }

    /// Stops every check (running check programs are killed), then gives
    /// the shutdown events of virtual servers with `omega`
    /// ([`HealthState::shutdown`]): sent on the event channel and
    /// returned. No [`HealthUpdate`] follows: what to do with the
    /// services is the caller's decision.
    pub async fn shutdown(mut self) -> Vec<HealthEvent> {
        for t in &self.tasks {
            t.abort();
        }
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        let mut guard = self.shared.lock();
        let events = guard.0.shutdown();
        for e in &events {
            let _ = self.shared.events.send(e.clone());
        }
        events
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse_str(text, "t.conf").unwrap()
    }

    const TWO: &str = "virtual_server 10.96.0.1 80 {\n lb_kind NAT\n QUORUM\n\
        real_server 10.0.0.1 8080 {\n  weight 2\n  TCP_CHECK { }\n }\n\
        real_server 10.0.0.2 8080 {\n  weight 3\n  INHIBIT\n  TCP_CHECK { }\n }\n}\n";

    fn two(quorum: &str, inhibit: &str) -> Config {
        cfg(&TWO.replace("QUORUM", quorum).replace("INHIBIT", inhibit))
    }

    fn weights(cfg: &Config, s: &HealthState) -> Vec<(String, u32)> {
        desired_services(cfg, s).unwrap()[0]
            .1
            .iter()
            .map(|d| (format!("{}:{}", d.addr, d.port), d.weight.0))
            .collect()
    }

    const A: ServerId = ServerId { vs: 0, rs: 0 };
    const B: ServerId = ServerId { vs: 0, rs: 1 };

    #[test]
    fn down_removes_or_inhibits() {
        let c = two("", "inhibit_on_failure");
        let mut s = HealthState::new(&c);
        assert_eq!(
            weights(&c, &s),
            [("10.0.0.1:8080".into(), 2), ("10.0.0.2:8080".into(), 3)]
        );
        assert_eq!(
            s.checker_result(A, 0, false, "x"),
            [HealthEvent::RealServerDown {
                server: A,
                reason: "x".into()
            }]
        );
        // The same verdict again changes nothing.
        assert!(s.checker_result(A, 0, false, "x").is_empty());
        s.checker_result(B, 0, false, "y");
        assert_eq!(weights(&c, &s), [("10.0.0.2:8080".into(), 0)]);
        s.checker_result(A, 0, true, "");
        assert_eq!(
            weights(&c, &s),
            [("10.0.0.1:8080".into(), 2), ("10.0.0.2:8080".into(), 0)]
        );
    }

    #[test]
    fn quorum_with_hysteresis() {
        // Weights 2 + 3; quorum 4, hysteresis 1: lost below 3, gained at 5.
        let c = two(
            "quorum 4\n hysteresis 1\n quorum_down \"/bin/echo down\"",
            "",
        );
        let mut s = HealthState::new(&c);
        assert!(s.virtual_servers[0].quorum_up);
        // 3 left: not below 3.
        assert!(
            !s.checker_result(A, 0, false, "x")
                .iter()
                .any(|e| matches!(e, HealthEvent::QuorumLost { .. }))
        );
        let e = s.checker_result(B, 0, false, "y");
        assert_eq!(
            e[1],
            HealthEvent::QuorumLost {
                vs: 0,
                weight: 0,
                threshold: 3,
                command: Some("/bin/echo down".into()),
                shutdown: false
            }
        );
        // Weight 3 back: not yet 5.
        assert_eq!(s.checker_result(B, 0, true, "").len(), 1);
        let e = s.checker_result(A, 0, true, "");
        assert!(matches!(
            e[1],
            HealthEvent::QuorumGained {
                weight: 5,
                threshold: 5,
                ..
            }
        ));
    }

    #[test]
    fn alpha_starts_down_and_initial_events() {
        let c = cfg(
            "virtual_server 10.96.0.1 80 {\n alpha\n sorry_server 10.0.0.9 80\n\
             real_server 10.0.0.1 80 {\n  TCP_CHECK { }\n }\n real_server 10.0.0.2 80 {\n }\n}\n",
        );
        let s = HealthState::new(&c);
        // The real server without checks is up: quorum (1) is met.
        assert!(!s.virtual_servers[0].real_servers[0].alive);
        assert!(s.virtual_servers[0].real_servers[1].alive);
        assert!(matches!(
            s.initial_events()[..],
            [HealthEvent::QuorumGained { weight: 1, .. }]
        ));
        let c = cfg(
            "virtual_server 10.96.0.1 80 {\n alpha\n sorry_server 10.0.0.9 80\n\
             real_server 10.0.0.1 80 {\n  TCP_CHECK { }\n }\n}\n",
        );
        let mut s = HealthState::new(&c);
        let sorry: SocketAddr = "10.0.0.9:80".parse().unwrap();
        assert_eq!(
            s.initial_events()[1],
            HealthEvent::SorryServerIn {
                vs: 0,
                server: sorry
            }
        );
        assert_eq!(weights(&c, &s), [("10.0.0.9:80".into(), 1)]);
        let e = s.checker_result(A, 0, true, "");
        assert_eq!(e[0], HealthEvent::RealServerUp { server: A });
        assert_eq!(
            e[2],
            HealthEvent::SorryServerOut {
                vs: 0,
                server: sorry
            }
        );
        assert_eq!(weights(&c, &s), [("10.0.0.1:80".into(), 1)]);
    }

    #[test]
    fn omega_shutdown_and_dynamic_weight() {
        let c = cfg("virtual_server 10.96.0.1 80 {\n omega\n quorum_down x\n\
             real_server 10.0.0.1 80 {\n  MISC_CHECK { misc_path true\n misc_dynamic }\n }\n}\n");
        let mut s = HealthState::new(&c);
        assert_eq!(
            s.set_weight(A, 7),
            [HealthEvent::WeightChanged {
                server: A,
                weight: 7
            }]
        );
        assert_eq!(weights(&c, &s), [("10.0.0.1:80".into(), 7)]);
        // Weight 0 loses the quorum.
        assert!(matches!(
            s.set_weight(A, 0)[1],
            HealthEvent::QuorumLost { weight: 0, .. }
        ));
        s.set_weight(A, 1);
        let e = s.shutdown();
        assert!(matches!(e[0], HealthEvent::RealServerDown { .. }));
        assert!(matches!(
            e[1],
            HealthEvent::QuorumLost { shutdown: true, .. }
        ));
    }

    #[test]
    fn jitter_is_seeded_and_bounded() {
        let base = Duration::from_millis(100);
        let a: Vec<_> = (0..50)
            .scan(SplitMix(7), |r, _| Some(r.jitter(base, 0.1)))
            .collect();
        let b: Vec<_> = (0..50)
            .scan(SplitMix(7), |r, _| Some(r.jitter(base, 0.1)))
            .collect();
        assert_eq!(a, b);
        assert!(
            a.iter()
                .all(|d| *d >= Duration::from_millis(90) && *d <= Duration::from_millis(110))
        );
        assert!(a.iter().any(|d| *d != base));
        assert_eq!(SplitMix(1).jitter(base, 0.0), base);
    }

    #[test]
    fn unsupported_checks_and_missing_ports_are_config_errors() {
        let c = cfg(
            "virtual_server 10.96.0.1 80 {\n real_server 10.0.0.1 80 {\n  SSL_GET {\n  }\n }\n}\n",
        );
        let e = checker_tasks(&c, &MonitorOptions::default()).unwrap_err();
        assert_eq!(e.location.line, 3);
        assert!(e.message.contains("SSL_GET is not supported"), "{e}");
        let c =
            cfg("virtual_server fwmark 1 {\n real_server 10.0.0.1 {\n  TCP_CHECK {\n  }\n }\n}\n");
        let e = checker_tasks(&c, &MonitorOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf:3: TCP_CHECK of real server 10.0.0.1 needs connect_port (the real server has no port)"
        );
    }

    #[test]
    fn timers_are_inherited() {
        let c = cfg("virtual_server 10.96.0.1 80 {\n delay_loop 0.5\n retry 4\n\
             real_server 10.0.0.1 80 {\n  delay_before_retry 0.25\n  TCP_CHECK { connect_timeout 0.1\n retry 2 }\n  MISC_CHECK { misc_path true }\n }\n}\n");
        let t = checker_tasks(&c, &MonitorOptions::default()).unwrap();
        assert_eq!(t[0].delay_loop, Duration::from_millis(500));
        assert_eq!(t[0].retry, 2);
        assert_eq!(t[0].delay_before_retry, Duration::from_millis(250));
        assert!(
            matches!(t[0].probe, Probe::Tcp { timeout, .. } if timeout == Duration::from_millis(100))
        );
        assert_eq!(t[1].retry, 4);
        assert!(
            matches!(t[1].probe, Probe::Misc { timeout, .. } if timeout == Duration::from_millis(500))
        );
    }
}
