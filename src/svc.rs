//! ClusterIP-style services from a keepalived configuration: the typed,
//! idempotent replacement of the seeds' `ipvs.sh`.
//!
//! From the `virtual_server` blocks of a [`Config`] this module derives the
//! [`Desired`] state — the virtual IPs (on a dummy interface), the cluster-IP
//! ipset's members (`VIP,proto:port`), the service NAT chains
//! ([`ServiceNat`] with [`Membership::Ipset`]), the sysctls
//! (`net.ipv4.ip_forward=1`, `net.ipv4.vs.conntrack=1`, and kube-proxy's
//! IPVS profile for the running kernel: [`SysctlProfile`]) and, optionally,
//! the IPVS services and destinations; IPv6 services get a set of their own
//! ([`Options::ipset6`], family `inet6`), the same chains in an `ip6` table
//! and `net.ipv6.conf.all.forwarding=1` — then reads the kernel, makes a
//! [`Plan`] of the differences and applies it. Nothing is changed when the
//! state already matches, so running it twice changes nothing.
//!
//! That is the IPVS data path. With [`Options::dataplane`] set to
//! [`Dataplane::Nftables`] the same desired state is carried by nf_tables
//! alone, as in kube-proxy's nftables mode: the VIPs and forwarding as
//! above, and one [`ServiceDnat`] table instead of IPVS, the ipsets, the
//! NAT chains and the IPVS sysctls (a run removes those of the other data
//! path, and a run on IPVS removes the table).
//!
//! ```no_run
//! use clusterip::keepalived::Config;
//! use clusterip::svc::{Desired, Options, Setup};
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = Config::load("/etc/keepalived/keepalived.conf")?;
//! let opts = Options::default();
//! let desired = Desired::from_config(&cfg, &opts)?; // every config error first
//! let setup = Setup::new(&clusterip::netlink::Netns::current(), opts).await?;
//! let plan = setup.plan(&desired).await?;
//! for step in &plan.steps {
//!     println!("{step}");
//! }
//! let done = setup.apply(&plan, &desired).await?;
//! println!("{} changes", done.len());
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipset_nl::{CreateSet, Family as SetFamily, IpPortEntry, IpProto, IpsetHandle, SetType};
use ipvs_nl::{
    Destination, ForwardMethod, IpvsHandle, Operation, Scheduler, Service, ServiceEntry,
    ServiceKey, Weight,
};
use nftables_glue::{
    Chain, Command, DnatService, Endpoint, Family as NftFamily, Membership, NftHandle, Rule,
    ServiceDnat, ServiceNat, Transaction,
};
use nl_engine::{Error, Netns};

use crate::keepalived::{Config, ConfigError, LbKind, Location, Protocol, Target};
use crate::link::LinkHandle;
use crate::sync::{self, Change, DesiredSet, Graceful, Ownership, SetPlan, SyncOptions, Syncer};

/// What to manage and under which names (the defaults reproduce the seeds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The dummy interface holding the virtual IPs (default `svc`).
    pub interface: String,
    /// The cluster-IP ipset, `hash:ip,port` (default `ZGZ-CLUSTER-IP`).
    pub ipset: String,
    /// The IPv6 services' ipset, `hash:ip,port family inet6` (default
    /// `ZGZ-CLUSTER-IP6`), matched by the same NAT chains in a table of the
    /// `ip6` family. It, those chains and the sysctl
    /// `net.ipv6.conf.all.forwarding=1` (the masqueraded replies to
    /// remote clients are forwarded) are made only when the configuration
    /// has an IPv6 service; once made, the set is kept (emptied when the
    /// IPv6 services are gone), as the IPv4 one is.
    pub ipset6: String,
    /// The nf_tables table of the NAT chains (default `zgz-services`).
    pub nat_table: String,
    /// The NAT chains' name prefix (default `ZGZ-SERVICES`).
    pub nat_prefix: String,
    /// The mark bit set on service traffic (default `0x2000`).
    pub mark: u32,
    /// Also program IPVS services and destinations (default off: keepalived
    /// does that), through [`crate::sync`]; [`Dataplane::Ipvs`] only. The configuration then
    /// describes every IPVS service of the namespace, as keepalived's does:
    /// services it does not name are deleted.
    pub ipvs: bool,
    /// How real servers that leave the configuration go (with `ipvs`):
    /// by default, one that still carries connections is kept at weight 0
    /// and deleted by a later run once idle.
    pub graceful: Graceful,
    /// The data path carrying the services' traffic (default
    /// [`Dataplane::Ipvs`]).
    pub dataplane: Dataplane,
    /// The `inet` table of the [`Dataplane::Nftables`] data path (default
    /// `zgz-dnat`).
    pub dnat_table: String,
}

/// The data path that carries the services' traffic.
///
/// ```
/// use clusterip::svc::Dataplane;
/// assert_eq!("nftables".parse::<Dataplane>().unwrap(), Dataplane::Nftables);
/// assert_eq!(Dataplane::default().to_string(), "ipvs");
/// assert!("iptables".parse::<Dataplane>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dataplane {
    /// IPVS (programmed by keepalived, or with [`Options::ipvs`] by the
    /// sync engine), with the cluster-IP ipsets and the service NAT chains
    /// ([`ServiceNat`]) marking and masquerading its traffic: the seeds'
    /// setup.
    #[default]
    Ipvs,
    /// nf_tables alone, as kube-proxy's nftables mode: one `inet` table
    /// ([`ServiceDnat`], [`Options::dnat_table`]) sends each VIP:port
    /// through a verdict map to its service's chain, which picks an
    /// endpoint by `numgen` (`rr`: each real server in turn; `wrr`: by
    /// weight), DNATs to it, marks the connection and masquerades it.
    /// No ipset, no NAT chains of the other path, no IPVS: a run removes
    /// the other path's objects (the IPVS services of the namespace, the
    /// NAT chains' tables and the cluster-IP ipsets), and a run with
    /// [`Dataplane::Ipvs`] removes the DNAT table. Only what DNAT can do
    /// is accepted: `lb_kind NAT`, `lb_algo rr` or `wrr`, no
    /// `persistence_timeout`, no fwmark services.
    Nftables,
}

impl Dataplane {
    /// `ipvs` or `nftables`.
    pub fn name(self) -> &'static str {
        match self {
            Dataplane::Ipvs => "ipvs",
            Dataplane::Nftables => "nftables",
        }
    }
}

impl fmt::Display for Dataplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dataplane {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ipvs" => Ok(Dataplane::Ipvs),
            "nftables" => Ok(Dataplane::Nftables),
            _ => Err(format!("data path {s:?}: ipvs or nftables")),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interface: "svc".into(),
            ipset: "ZGZ-CLUSTER-IP".into(),
            ipset6: "ZGZ-CLUSTER-IP6".into(),
            nat_table: "zgz-services".into(),
            nat_prefix: "ZGZ-SERVICES".into(),
            mark: 0x2000,
            ipvs: false,
            graceful: Graceful::All,
            dataplane: Dataplane::Ipvs,
            dnat_table: "zgz-dnat".into(),
        }
    }
}

impl Options {
    /// The NAT chains these options describe (IPv4: table `ip`, matching
    /// [`Options::ipset`]).
    pub fn service_nat(&self) -> ServiceNat {
        self.nat_matching(&self.ipset, NftFamily::Ipv4)
    }

    /// The IPv6 NAT chains: the same table and chain names in the `ip6`
    /// family, matching [`Options::ipset6`].
    pub fn service_nat6(&self) -> ServiceNat {
        self.nat_matching(&self.ipset6, NftFamily::Ipv6)
    }

    /// The [`Dataplane::Nftables`] table for `services`: family `inet`
    /// (IPv4 and IPv6 services in one table), named
    /// [`Options::dnat_table`], marking with [`Options::mark`], round
    /// robin.
    pub fn service_dnat(&self, services: Vec<DnatService>) -> ServiceDnat {
        let mut dp = ServiceDnat::new(services);
        dp.family = NftFamily::Inet;
        dp.table = self.dnat_table.clone();
        dp.mark = self.mark;
        dp
    }

    fn nat_matching(&self, ipset: &str, family: NftFamily) -> ServiceNat {
        let mut nat = ServiceNat::new(Membership::Ipset {
            name: ipset.to_string(),
        });
        nat.family = family;
        nat.table = self.nat_table.clone();
        nat.prefix = self.nat_prefix.clone();
        nat.mark = self.mark;
        nat.mark_mask = self.mark;
        nat
    }
}

/// One cluster-IP ipset member: `VIP,proto:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Member {
    /// The virtual IP.
    pub addr: IpAddr,
    /// The protocol.
    pub proto: IpProto,
    /// The port.
    pub port: u16,
}

impl Member {
    fn key(&self) -> (IpAddr, u8, u16) {
        (self.addr, self.proto.to_u8(), self.port)
    }
}

impl PartialOrd for Member {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Member {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", IpPortEntry::new(self.addr, self.proto, self.port))
    }
}

fn ip_proto(p: Protocol) -> IpProto {
    match p {
        Protocol::Tcp => IpProto::Tcp,
        Protocol::Udp => IpProto::Udp,
        Protocol::Sctp => IpProto::Sctp,
    }
}

/// Schedulers IPVS knows (`lb_algo`).
const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// The state a configuration asks for.
///
/// ```
/// use clusterip::keepalived::Config;
/// use clusterip::svc::{Desired, Options};
/// let cfg = Config::parse_str(
///     "virtual_server 169.254.11.2 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
///      real_server 192.168.2.111 8080 { weight 1 }\n real_server 192.168.2.222 8080 { weight 1 }\n}\n",
///     "test.conf",
/// )
/// .unwrap();
/// let d = Desired::from_config(&cfg, &Options::default()).unwrap();
/// assert_eq!(d.members.iter().next().unwrap().to_string(), "169.254.11.2,tcp:80");
/// assert_eq!(d.services[0].destinations.len(), 2);
/// // Errors name file and line.
/// let bad = Config::parse_str("virtual_server 10.0.0.1 80 {\n lb_algo nope\n}\n", "x.conf").unwrap();
/// let e = Desired::from_config(&bad, &Options::default()).unwrap_err();
/// assert!(e.to_string().starts_with("x.conf:1: lb_algo \"nope\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    /// Virtual IPs, each with where it was first named.
    pub vips: BTreeMap<IpAddr, Location>,
    /// IPv4 ipset members.
    pub members: BTreeSet<Member>,
    /// IPv6 ipset members (the [`Options::ipset6`] set).
    pub members_v6: BTreeSet<Member>,
    /// IPVS services with their destinations, in configuration order.
    pub services: Vec<ServiceEntry>,
}

fn cfg_err(location: &Location, message: impl Into<String>) -> ConfigError {
    ConfigError {
        location: location.clone(),
        message: message.into(),
    }
}

impl Desired {
    /// Derives the desired state; every configuration error (unknown
    /// scheduler, duplicate service or real server, ...) is reported here,
    /// with its file and line, before anything touches the kernel.
    ///
    /// With [`Dataplane::Nftables`], what DNAT cannot do is refused here
    /// too, naming the virtual server's file and line and the option:
    /// a scheduler other than `rr` and `wrr` (keepalived's default `wlc`
    /// included), `persistence_timeout`, `lb_kind DR` or `TUN`, fwmark
    /// services, `wrr` weights beyond [`nftables_glue::dnat::MAX_WEIGHT_SUM`].
    pub fn from_config(cfg: &Config, opts: &Options) -> Result<Desired, ConfigError> {
        let mut d = Desired::default();
        let mut seen: BTreeMap<String, Location> = BTreeMap::new();
        for vs in &cfg.virtual_servers {
            let proto = vs.effective_protocol();
            let mut service = match vs.target {
                Target::Address(sa) => {
                    d.vips.entry(sa.ip()).or_insert_with(|| vs.location.clone());
                    let m = Member {
                        addr: sa.ip(),
                        proto: ip_proto(proto),
                        port: sa.port(),
                    };
                    if sa.is_ipv4() {
                        d.members.insert(m);
                    } else {
                        d.members_v6.insert(m);
                    }
                    match proto {
                        Protocol::Tcp => Service::tcp(sa),
                        Protocol::Udp => Service::udp(sa),
                        Protocol::Sctp => Service::sctp(sa),
                    }
                }
                Target::Fwmark(mark) => {
                    if vs.real_servers.iter().any(|r| r.address.is_ipv6()) {
                        Service::fwmark6(mark)
                    } else {
                        Service::fwmark(mark)
                    }
                }
            };
            let key = service.key.to_string();
            if let Some(first) = seen.get(&key) {
                return Err(cfg_err(
                    &vs.location,
                    format!("virtual server {key} is already defined at {first}"),
                ));
            }
            seen.insert(key.clone(), vs.location.clone());
            let algo = vs.lb_algo.as_deref().unwrap_or("wlc");
            if !SCHEDULERS.contains(&algo) {
                return Err(cfg_err(
                    &vs.location,
                    format!(
                        "lb_algo {algo:?} is not an IPVS scheduler (one of {})",
                        SCHEDULERS.join(", ")
                    ),
                ));
            }
            service = service.scheduler(Scheduler::from_name(algo));
            if let Some(t) = vs.persistence_timeout {
                if t == 0 {
                    return Err(cfg_err(
                        &vs.location,
                        "persistence_timeout must be positive",
                    ));
                }
                service = service.persistent(Duration::from_secs(u64::from(t)));
            }
            if opts.dataplane == Dataplane::Nftables {
                dnat_can_do(vs, algo, &key)?;
            }
            let forward = match vs.lb_kind.unwrap_or(LbKind::Nat) {
                LbKind::Nat => ForwardMethod::Masquerade,
                LbKind::Dr => ForwardMethod::DirectRoute,
                LbKind::Tun => ForwardMethod::Tunnel,
            };
            let vport = match vs.target {
                Target::Address(sa) => sa.port(),
                Target::Fwmark(_) => 0,
            };
            let mut destinations: Vec<Destination> = Vec::new();
            for rs in &vs.real_servers {
                let port = rs.port.unwrap_or(vport);
                if destinations
                    .iter()
                    .any(|x| x.addr == rs.address && x.port == port)
                {
                    return Err(cfg_err(
                        &rs.location,
                        format!(
                            "real server {} is listed twice in virtual server {key}",
                            fmt_addr(rs.address, port)
                        ),
                    ));
                }
                let w = rs.weight.unwrap_or(1);
                if w > i32::MAX as u32 {
                    return Err(cfg_err(&rs.location, format!("weight {w} is too large")));
                }
                destinations.push(
                    Destination::new(rs.address, port)
                        .forward(forward)
                        .weight(Weight(w)),
                );
            }
            if opts.dataplane == Dataplane::Nftables && algo == "wrr" {
                let weights: Vec<u32> = destinations.iter().map(|d| d.weight.0).collect();
                let g = weights.iter().fold(0, |g, w| gcd(g, *w)).max(1);
                let sum: u64 = weights.iter().map(|w| u64::from(w / g)).sum();
                if sum > u64::from(nftables_glue::dnat::MAX_WEIGHT_SUM) {
                    return Err(cfg_err(
                        &vs.location,
                        format!(
                            "lb_algo wrr: the weights of virtual server {key} add up to {sum} (divided by their common divisor); the nftables data path takes at most {}",
                            nftables_glue::dnat::MAX_WEIGHT_SUM
                        ),
                    ));
                }
            }
            d.services.push(ServiceEntry {
                service,
                destinations,
            });
        }
        Ok(d)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// What the nftables data path cannot do, refused with the virtual
/// server's location and the option.
fn dnat_can_do(
    vs: &crate::keepalived::VirtualServer,
    algo: &str,
    key: &str,
) -> Result<(), ConfigError> {
    let no = |m: String| Err(cfg_err(&vs.location, m));
    if let Target::Fwmark(mark) = vs.target {
        return no(format!(
            "virtual_server fwmark {mark}: the nftables data path has no firewall-mark services (it matches VIP, protocol and port)"
        ));
    }
    if algo != "rr" && algo != "wrr" {
        let default = if vs.lb_algo.is_none() {
            " (keepalived's default when none is given)"
        } else {
            ""
        };
        return no(format!(
            "lb_algo {algo}{default} of virtual server {key}: the nftables data path balances with rr or wrr only"
        ));
    }
    if let Some(t) = vs.persistence_timeout {
        return no(format!(
            "persistence_timeout {t} of virtual server {key}: the nftables data path has no persistence (IPVS only)"
        ));
    }
    match vs.lb_kind {
        Some(LbKind::Dr) => no(format!(
            "lb_kind DR of virtual server {key}: the nftables data path forwards by DNAT (lb_kind NAT) only"
        )),
        Some(LbKind::Tun) => no(format!(
            "lb_kind TUN of virtual server {key}: the nftables data path forwards by DNAT (lb_kind NAT) only"
        )),
        _ => Ok(()),
    }
}

/// The [`Dataplane::Nftables`] services of IPVS-style `services` (as
/// [`Desired::ipvs_services`] or the health monitor give them): per
/// address service a [`DnatService`] with the destinations as endpoints,
/// each at weight 1 (0 for a destination at weight 0) under `rr`, at its
/// own weight under `wrr`. Firewall-mark services have no DNAT
/// equivalent and are left out ([`Desired::from_config`] refuses them
/// for this data path).
///
/// ```
/// use clusterip::ipvs::{Destination, Scheduler, Service, Weight};
/// use clusterip::svc::dnat_services;
/// let s = Service::tcp("10.96.0.1:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
/// let d = vec![
///     Destination::new("10.0.0.1".parse().unwrap(), 8080).weight(Weight(5)),
///     Destination::new("10.0.0.2".parse().unwrap(), 8080).weight(Weight(0)),
/// ];
/// let dnat = dnat_services(&[(s, d)]);
/// assert_eq!(dnat[0].endpoints.iter().map(|e| e.weight).collect::<Vec<_>>(), [1, 0]);
/// ```
pub fn dnat_services(services: &[(Service, Vec<Destination>)]) -> Vec<DnatService> {
    services
        .iter()
        .filter_map(|(s, dests)| {
            let ServiceKey::Addr { protocol, addr } = s.key else {
                return None;
            };
            let weighted = s.scheduler.name() == "wrr";
            let endpoints = dests
                .iter()
                .map(|d| {
                    let w = d.weight.0;
                    let w = if weighted { w } else { w.min(1) };
                    Endpoint::new(SocketAddr::new(d.addr, d.port), w)
                })
                .collect();
            let protocol = u8::try_from(protocol.number()).ok()?;
            Some(DnatService::new(
                addr.ip(),
                protocol,
                addr.port(),
                endpoints,
            ))
        })
        .collect()
}

impl Desired {
    /// The [`Dataplane::Nftables`] services ([`dnat_services`] of
    /// [`Desired::ipvs_services`]).
    pub fn dnat_services(&self) -> Vec<DnatService> {
        dnat_services(&self.ipvs_services())
    }

    /// The IPVS services as the sync engine takes them.
    pub fn ipvs_services(&self) -> Vec<(Service, Vec<Destination>)> {
        self.services
            .iter()
            .map(|e| (e.service.clone(), e.destinations.clone()))
            .collect()
    }
}

fn draining_note(k: &ipvs_nl::ServiceKey, d: &Destination) -> String {
    format!(
        "real server {d} of {k} left the configuration but still has {} active and {} inactive connection(s): kept at weight 0, deleted by a later run once idle",
        d.active_conns, d.inactive_conns
    )
}

fn fmt_addr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn describe_dest(d: &Destination) -> String {
    let fwd = match d.forward {
        ForwardMethod::Masquerade => "masq".to_string(),
        ForwardMethod::DirectRoute => "route".to_string(),
        ForwardMethod::Tunnel => "tunnel".to_string(),
        other => format!("{other:?}"),
    };
    format!("{d} ({fwd}, weight {})", d.weight.0)
}

/// An IPVS operation in words (`add service TCP 169.254.11.2:80 rr`).
fn describe(op: &Operation) -> String {
    let svc = |s: &Service| {
        let mut t = format!("{} {}", s.key, s.scheduler.name());
        if s.is_persistent() {
            t += &format!(" persistent {}s", s.timeout.as_secs());
        }
        t
    };
    match op {
        Operation::AddService(s) => format!("add service {}", svc(s)),
        Operation::EditService(s) => format!("edit service {}", svc(s)),
        Operation::AddDestination(k, d) => format!("add real server {} to {k}", describe_dest(d)),
        Operation::EditDestination(k, d) => {
            format!("edit real server {} of {k}", describe_dest(d))
        }
        Operation::DeleteDestination(k, d) => format!("delete real server {d} of {k}"),
        other => other.context(),
    }
}

/// The operation a sync's change sent, with the configuration it sent: the
/// desired service's or destination's, or for a draining destination its
/// weight-0 copy.
fn operation_of(
    c: Change,
    desired: &HashMap<ServiceKey, &(Service, Vec<Destination>)>,
    draining: &[(ServiceKey, Destination)],
) -> Operation {
    let k = *c.service();
    let service = || {
        desired
            .get(&k)
            .map_or_else(|| Service::new(k), |e| e.0.clone())
    };
    let dest = |at: SocketAddr| {
        let is = |d: &&Destination| d.addr == at.ip() && d.port == at.port();
        if let Some(d) = desired.get(&k).and_then(|e| e.1.iter().find(is)) {
            return d.clone();
        }
        match draining.iter().find(|(dk, d)| *dk == k && is(&d)) {
            Some((_, d)) => d.clone().weight(Weight(0)),
            None => Destination::new(at.ip(), at.port()),
        }
    };
    match c {
        Change::AddService(_) => Operation::AddService(service()),
        Change::EditService(_) => Operation::EditService(service()),
        Change::DeleteService(_) => Operation::DeleteService(k),
        Change::AddDestination(_, at) => Operation::AddDestination(k, dest(at)),
        Change::EditDestination(_, at) => Operation::EditDestination(k, dest(at)),
        Change::DeleteDestination(_, at) => {
            Operation::DeleteDestination(k, Destination::new(at.ip(), at.port()))
        }
    }
}

/// The IPVS changes a sync of `services` applied, each with its
/// [`Step`] (as [`Setup::apply`] reports them: `ipvs: add real server
/// 10.0.0.2:8080 (masq, weight 1) to TCP 10.96.0.1:80`).
pub(crate) fn ipvs_steps(
    report: &sync::SyncReport,
    services: &[(Service, Vec<Destination>)],
) -> Vec<(Change, Step)> {
    let by_key: HashMap<ServiceKey, &(Service, Vec<Destination>)> =
        services.iter().map(|e| (e.0.key, e)).collect();
    report
        .applied
        .iter()
        .map(|c| (c, Step::Ipvs(operation_of(c, &by_key, &report.draining))))
        .collect()
}

/// The member steps of a set plan ([`sync::plan_set`]): the additions and
/// the deletions, each listed in [`Member`] order (none when empty).
fn set_steps(name: &str, plan: &SetPlan) -> (Option<Step>, Option<Step>) {
    let members = |v: &[IpPortEntry]| -> Vec<Member> {
        v.iter()
            .map(|e| Member {
                addr: e.ip,
                proto: e.proto,
                port: e.port,
            })
            .collect::<BTreeSet<Member>>()
            .into_iter()
            .collect()
    };
    let add = members(&plan.add);
    let del = members(&plan.del);
    (
        (!add.is_empty()).then(|| Step::AddMembers(name.to_string(), add)),
        (!del.is_empty()).then(|| Step::DelMembers(name.to_string(), del)),
    )
}

/// A DNAT service in words: `TCP 169.254.11.2:80 -> 172.17.0.11:8080
/// (weight 1), ...`.
fn describe_dnat(s: &DnatService) -> String {
    let proto = match i32::from(s.protocol) {
        libc::IPPROTO_TCP => "TCP".to_string(),
        libc::IPPROTO_UDP => "UDP".to_string(),
        libc::IPPROTO_SCTP => "SCTP".to_string(),
        n => format!("protocol {n}"),
    };
    let eps: Vec<String> = s
        .endpoints
        .iter()
        .map(|e| format!("{} (weight {})", e.addr, e.weight))
        .collect();
    let to = if eps.is_empty() {
        "no endpoints (connections refused)".to_string()
    } else {
        eps.join(", ")
    };
    format!("{proto} {} -> {to}", fmt_addr(s.vip, s.port))
}

/// The steps a DNAT transaction makes: one per service whose chains it
/// touches, and the rest of its changes (table, base chains, maps, chains
/// of removed services or endpoints) as one [`Step::DnatTable`], first.
fn dnat_steps(dp: &ServiceDnat, tx: &Transaction) -> Vec<Step> {
    let contexts: Vec<&str> = tx.changes().iter().map(|c| c.context.as_str()).collect();
    let mentions = |ctx: &str, name: &str| ctx.split_whitespace().any(|w| w == name);
    let mut claimed = vec![false; contexts.len()];
    let mut services = Vec::new();
    for s in &dp.services {
        let mut names = vec![s.service_chain()];
        names.extend(s.endpoints.iter().map(|e| s.endpoint_chain(&e.addr)));
        let mut hit = false;
        for (c, k) in contexts.iter().zip(claimed.iter_mut()) {
            if names.iter().any(|n| mentions(c, n)) {
                *k = true;
                hit = true;
            }
        }
        if hit {
            services.push(Step::Dnat(describe_dnat(s)));
        }
    }
    // A service rule's anonymous map, and the dispatch maps' elements,
    // go with the services changed.
    let rest: Vec<String> = contexts
        .iter()
        .zip(&claimed)
        .filter(|(c, k)| {
            !**k && !(!services.is_empty() && (c.contains("__map") || c.contains(" element(s) ")))
        })
        .map(|(c, _)| (*c).to_string())
        .collect();
    let mut steps = Vec::new();
    if !rest.is_empty() {
        steps.push(Step::DnatTable(dp.family, dp.table.clone(), rest));
    }
    steps.extend(services);
    steps
}

fn prefix_len(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write a sysctl (`name`, e.g. `net.ipv4.ip_forward`, and value).
    Sysctl(&'static str, &'static str),
    /// Create the dummy interface.
    CreateInterface(String),
    /// Set the interface up.
    SetUp(String),
    /// Add a virtual IP to the interface.
    AddAddress(String, IpAddr, u8),
    /// Create the ipset (`hash:ip,port` of this family). This and the two
    /// member steps are planned and applied by [`crate::sync`]
    /// ([`sync::plan_set`], [`Syncer::sync_set_planned`]).
    CreateIpset(String, SetFamily),
    /// Add members to the ipset.
    AddMembers(String, Vec<Member>),
    /// Create or repair the NAT chains (the table's family and name).
    EnsureNat(NftFamily, String),
    /// Remove ipset members the configuration no longer names (planned
    /// after the NAT chains; applied with the other set changes, at the
    /// plan's first set step).
    DelMembers(String, Vec<Member>),
    /// Remove a virtual IP from the interface.
    DelAddress(String, IpAddr, u8),
    /// An IPVS change (planned and applied by [`crate::sync`]); with
    /// [`Dataplane::Nftables`], the deletion of the IPVS services.
    Ipvs(Operation),
    /// [`Dataplane::Nftables`]: a service of the DNAT table created or
    /// changed, as it now is (`TCP 169.254.11.2:80 -> 172.17.0.11:8080
    /// (weight 1), 192.168.2.222:8080 (weight 1)`). Planned and applied
    /// with the table's other changes, in one transaction
    /// ([`ServiceDnat::plan`]).
    Dnat(String),
    /// [`Dataplane::Nftables`]: the DNAT table's other changes (its
    /// family, name, and the changes: its creation, a repaired base chain
    /// or map, the chains of a removed service or endpoint).
    DnatTable(NftFamily, String, Vec<String>),
    /// [`Dataplane::Ipvs`]: delete the other data path's DNAT table.
    DeleteDnat(NftFamily, String),
    /// [`Dataplane::Nftables`]: remove the other data path's NAT chains
    /// (the table's family and name; [`ServiceNat::teardown`]).
    DeleteNat(NftFamily, String),
    /// [`Dataplane::Nftables`]: destroy the other data path's cluster-IP
    /// ipset (after its NAT chains, which reference it).
    DestroyIpset(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[Member]| {
            v.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Step::Sysctl(n, v) => write!(f, "sysctl {n}={v}"),
            Step::CreateInterface(i) => write!(f, "create dummy interface {i}"),
            Step::SetUp(i) => write!(f, "set interface {i} up"),
            Step::AddAddress(i, a, p) => write!(f, "add address {a}/{p} to {i}"),
            Step::CreateIpset(s, SetFamily::Inet) => write!(f, "create ipset {s} hash:ip,port"),
            Step::CreateIpset(s, family) => {
                write!(f, "create ipset {s} hash:ip,port family {family}")
            }
            Step::AddMembers(s, v) => write!(f, "add to ipset {s}: {}", list(v)),
            Step::EnsureNat(family, t) => {
                write!(
                    f,
                    "create/repair the service NAT chains (table {family} {t})"
                )
            }
            Step::DelMembers(s, v) => write!(f, "delete from ipset {s}: {}", list(v)),
            Step::DelAddress(i, a, p) => write!(f, "delete address {a}/{p} from {i}"),
            Step::Ipvs(op) => write!(f, "ipvs: {}", describe(op)),
            Step::Dnat(d) => write!(f, "nftables: service {d}"),
            Step::DnatTable(family, t, changes) => {
                if changes.iter().any(|c| c.starts_with("add table ")) {
                    write!(
                        f,
                        "nftables: create the DNAT table {family} {t} (dispatch maps, NAT base chains)"
                    )
                } else {
                    write!(f, "nftables: table {family} {t}: {}", changes.join(", "))
                }
            }
            Step::DeleteDnat(family, t) => write!(f, "delete the DNAT table {family} {t}"),
            Step::DeleteNat(family, t) => {
                write!(f, "delete the service NAT chains (table {family} {t})")
            }
            Step::DestroyIpset(s) => write!(f, "destroy ipset {s}"),
        }
    }
}

/// The changes that would bring the kernel to the desired state, plus
/// notes (addresses left alone because they are already local, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The changes, in the order they are applied.
    pub steps: Vec<Step>,
    /// Remarks that are not changes.
    pub notes: Vec<String>,
}

impl Plan {
    /// True when nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// An error of the setup: configuration or kernel.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The configuration is wrong (nothing was changed).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The kernel refused or is missing something.
    #[error("{0}")]
    Kernel(#[from] Error),
}

/// The sysctls the services need: (name, path under /proc/sys, value,
/// hint when the file is missing, needed only by IPv6 services).
const SYSCTLS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "net.ipv4.ip_forward",
        "/proc/sys/net/ipv4/ip_forward",
        "1",
        "IPv4 is missing from this kernel",
        false,
    ),
    (
        "net.ipv4.vs.conntrack",
        "/proc/sys/net/ipv4/vs/conntrack",
        "1",
        "the ip_vs module is not loaded (modprobe ip_vs); without it there is no IPVS and no net.ipv4.vs.* sysctl",
        false,
    ),
    (
        "net.ipv6.conf.all.forwarding",
        "/proc/sys/net/ipv6/conf/all/forwarding",
        "1",
        "IPv6 is disabled in this kernel or namespace, but the configuration has IPv6 services",
        true,
    ),
];

/// A kernel version, as `uname -r` begins (`6.1.0-27-amd64` is 6.1.0).
///
/// ```
/// use clusterip::svc::KernelVersion;
/// let v = KernelVersion::parse("6.1.0-27-amd64").unwrap();
/// assert_eq!(v, KernelVersion::new(6, 1, 0));
/// assert!(v >= KernelVersion::new(5, 9, 0));
/// assert_eq!(KernelVersion::parse("5.4").unwrap().to_string(), "5.4.0");
/// assert!(KernelVersion::parse("linux").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Patch level (0 when absent).
    pub patch: u32,
}

impl KernelVersion {
    /// A version from its numbers.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses a kernel release string: the leading `MAJOR.MINOR[.PATCH]`,
    /// anything after it (`-27-amd64`, `+`, `-rc1`) ignored.
    pub fn parse(release: &str) -> Option<Self> {
        let head = release
            .trim()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?;
        let mut it = head.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let patch = match it.next() {
            Some(p) if !p.is_empty() => p.parse().ok()?,
            _ => 0,
        };
        Some(KernelVersion::new(major, minor, patch))
    }

    /// The running kernel's version and release string
    /// (`/proc/sys/kernel/osrelease`).
    pub fn running() -> Result<(KernelVersion, String), Error> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| Error::io("read /proc/sys/kernel/osrelease", e))?;
        let release = release.trim().to_string();
        match KernelVersion::parse(&release) {
            Some(v) => Ok((v, release)),
            None => Err(Error::invalid_input(
                "kernel release",
                format!("{release:?} does not start with MAJOR.MINOR"),
            )),
        }
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What the profile wants of one sysctl on a given kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// This value.
    Value(&'static str),
    /// Left as it is, for this reason (the kernel is too old for the
    /// sysctl, or has fixed what setting it worked around).
    AsIs(&'static str),
}

/// One sysctl of the [`SysctlProfile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSysctl {
    /// Its name (`net.ipv4.vs.expire_nodest_conn`).
    pub name: &'static str,
    /// Its file (`/proc/sys/net/ipv4/vs/expire_nodest_conn`).
    pub path: &'static str,
    /// What the profile wants on the kernel it was made for.
    pub want: Want,
}

/// The IPVS sysctls kube-proxy's IPVS proxier sets, by kernel version
/// (`pkg/proxy/ipvs/proxier.go` and `pkg/util/kernel/constants.go` of
/// Kubernetes):
///
/// - `net.ipv4.vs.conn_reuse_mode`: 0 on kernels 4.1 to 5.8 (the
///   default 1 made a reused source port wait on a connection to a
///   removed real server, kubernetes#81775); left as it is from 5.9, where
///   the kernel fixed that (torvalds/linux 35dfb013149f, kubernetes#93297),
///   and before 4.1, which lacks the sysctl;
/// - `net.ipv4.vs.expire_nodest_conn`: 1 (a connection whose real server
///   was deleted is expired at its next packet instead of timing out);
/// - `net.ipv4.vs.expire_quiescent_template`: 1 (persistence templates
///   of a weight-0 real server expire, so persistent clients move).
///
/// (`net.ipv4.vs.conntrack` and `net.ipv4.ip_forward`, also set by
/// kube-proxy, are among the sysctls the services always need.)
///
/// ```
/// use clusterip::svc::{KernelVersion, SysctlProfile, Want};
/// let old = SysctlProfile::for_kernel(KernelVersion::new(5, 4, 0));
/// assert_eq!(old.get("net.ipv4.vs.conn_reuse_mode").unwrap().want, Want::Value("0"));
/// let new = SysctlProfile::for_kernel(KernelVersion::new(6, 1, 0));
/// assert!(matches!(new.get("net.ipv4.vs.conn_reuse_mode").unwrap().want, Want::AsIs(_)));
/// assert_eq!(new.get("net.ipv4.vs.expire_nodest_conn").unwrap().want, Want::Value("1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlProfile {
    /// The kernel it is for.
    pub kernel: KernelVersion,
    /// Its sysctls, in the order they are applied.
    pub sysctls: Vec<ProfileSysctl>,
}

/// First kernel with `net.ipv4.vs.conn_reuse_mode`.
pub const CONN_REUSE_MODE_MIN_KERNEL: KernelVersion = KernelVersion::new(4, 1, 0);
/// First kernel whose `conn_reuse_mode` 1 no longer stalls reused ports.
pub const CONN_REUSE_MODE_FIXED_KERNEL: KernelVersion = KernelVersion::new(5, 9, 0);

impl SysctlProfile {
    /// The profile for kernel `kernel`.
    pub fn for_kernel(kernel: KernelVersion) -> Self {
        let reuse = if kernel < CONN_REUSE_MODE_MIN_KERNEL {
            Want::AsIs("kernel < 4.1 has no conn_reuse_mode")
        } else if kernel >= CONN_REUSE_MODE_FIXED_KERNEL {
            Want::AsIs("kernel >= 5.9: fixed, left as is")
        } else {
            Want::Value("0")
        };
        SysctlProfile {
            kernel,
            sysctls: vec![
                ProfileSysctl {
                    name: "net.ipv4.vs.conn_reuse_mode",
                    path: "/proc/sys/net/ipv4/vs/conn_reuse_mode",
                    want: reuse,
                },
                ProfileSysctl {
                    name: "net.ipv4.vs.expire_nodest_conn",
                    path: "/proc/sys/net/ipv4/vs/expire_nodest_conn",
                    want: Want::Value("1"),
                },
                ProfileSysctl {
                    name: "net.ipv4.vs.expire_quiescent_template",
                    path: "/proc/sys/net/ipv4/vs/expire_quiescent_template",
                    want: Want::Value("1"),
                },
            ],
        }
    }

    /// The profile for the running kernel.
    pub fn running() -> Result<Self, Error> {
        Ok(Self::for_kernel(KernelVersion::running()?.0))
    }

    /// One sysctl of the profile, by name.
    pub fn get(&self, name: &str) -> Option<&ProfileSysctl> {
        self.sysctls.iter().find(|s| s.name == name)
    }

    /// Whether `value` (as read, `None` when the file is missing) is what
    /// the profile wants of sysctl `name` (true for a sysctl left as is,
    /// present or not, and for names not in the profile).
    pub fn matches(&self, name: &str, value: Option<&str>) -> bool {
        match self.get(name).map(|s| s.want) {
            Some(Want::Value(v)) => value.map(str::trim) == Some(v),
            Some(Want::AsIs(_)) | None => true,
        }
    }

    /// The sysctls the services always need (`net.ipv4.ip_forward=1`,
    /// `net.ipv4.vs.conntrack=1`) followed by the profile's: what a
    /// health report lists (`ipvsadm doctor`).
    pub fn with_base(&self) -> SysctlProfile {
        let mut sysctls: Vec<ProfileSysctl> = SYSCTLS
            .iter()
            .filter(|s| !s.4)
            .map(|(name, path, want, ..)| ProfileSysctl {
                name,
                path,
                want: Want::Value(want),
            })
            .collect();
        sysctls.extend(self.sysctls.iter().copied());
        SysctlProfile {
            kernel: self.kernel,
            sysctls,
        }
    }

    /// Reads the profile's sysctls in `netns`: each with its value
    /// (`None` when the file is missing: no IPVS).
    pub fn read(&self, netns: &Netns) -> Result<Vec<(ProfileSysctl, Option<String>)>, Error> {
        let list = self.sysctls.clone();
        netns
            .run(move || {
                list.into_iter()
                    .map(|s| {
                        let v = std::fs::read_to_string(s.path)
                            .ok()
                            .map(|v| v.trim().to_string());
                        (s, v)
                    })
                    .collect()
            })
            .map_err(|e| Error::io("read the IPVS sysctls in the namespace", e))
    }
}

/// One address family's cluster-IP ipset and the NAT chains matching it.
struct ClusterSet<'a> {
    spec: CreateSet,
    nat: ServiceNat,
    members: &'a BTreeSet<Member>,
    /// Made only for members (the IPv6 one), kept once made.
    on_demand: bool,
}

impl ClusterSet<'_> {
    fn desired(&self) -> DesiredSet {
        DesiredSet::new(
            self.spec.clone(),
            self.members
                .iter()
                .map(|m| IpPortEntry::new(m.addr, m.proto, m.port))
                .collect(),
        )
    }
}

/// Handles on one network namespace, and the options.
#[derive(Debug)]
pub struct Setup {
    netns: Netns,
    links: LinkHandle,
    ipset: IpsetHandle,
    nft: NftHandle,
    ipvs: Option<IpvsHandle>,
    /// With [`Dataplane::Nftables`], when the kernel has IPVS loaded: the
    /// handle that removes the other data path's IPVS services.
    ipvs_other: Option<IpvsHandle>,
    opts: Options,
    profile: SysctlProfile,
}

fn sysctl_read(netns: &Netns) -> Result<Vec<(usize, Option<String>)>, Error> {
    netns
        .run(|| {
            SYSCTLS
                .iter()
                .enumerate()
                .map(|(i, (_, path, ..))| {
                    (
                        i,
                        std::fs::read_to_string(path)
                            .ok()
                            .map(|s| s.trim().to_string()),
                    )
                })
                .collect()
        })
        .map_err(|e| Error::io("read sysctls in the namespace", e))
}

impl Setup {
    /// Opens the handles in `netns`.
    pub async fn new(netns: &Netns, opts: Options) -> Result<Setup, Error> {
        // One set cannot be both families' (it would be refused as the
        // wrong family for one of them on every run).
        if opts.ipset == opts.ipset6 {
            return Err(Error::invalid_input(
                format!("ipset {}", opts.ipset),
                "named for both the IPv4 and the IPv6 services; the two sets need different names",
            ));
        }
        let setns = match netns.as_fd() {
            Some(fd) => Netns::from_fd(
                fd.try_clone_to_owned()
                    .map_err(|e| Error::io("duplicate the namespace descriptor", e))?,
            ),
            None => Netns::current(),
        };
        let nftables = opts.dataplane == Dataplane::Nftables;
        if nftables && opts.ipvs {
            return Err(Error::invalid_input(
                "options",
                "programming IPVS and the nftables data path exclude each other",
            ));
        }
        let ipvs = if opts.ipvs {
            Some(IpvsHandle::in_netns(netns).await?)
        } else {
            None
        };
        // The other data path's IPVS services exist only where ip_vs is
        // loaded (its sysctls are there): asking the generic netlink
        // controller for IPVS otherwise would load the module.
        let ipvs_other = if nftables
            && setns
                .run(|| std::path::Path::new("/proc/sys/net/ipv4/vs").exists())
                .map_err(|e| Error::io("look for IPVS in the namespace", e))?
        {
            Some(IpvsHandle::in_netns(netns).await?)
        } else {
            None
        };
        Ok(Setup {
            ipvs,
            ipvs_other,
            links: LinkHandle::in_netns(netns)?,
            ipset: IpsetHandle::in_netns(netns)?,
            nft: NftHandle::in_netns(netns)?,
            netns: setns,
            opts,
            profile: SysctlProfile::running()?,
        })
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The IPVS sysctl profile applied (the running kernel's).
    pub fn profile(&self) -> &SysctlProfile {
        &self.profile
    }

    /// The IPVS handle (with [`Options::ipvs`]).
    pub fn ipvs(&self) -> Option<&IpvsHandle> {
        self.ipvs.as_ref()
    }

    /// The network namespace this setup acts on.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// The nf_tables handle (in [`Setup::netns`]).
    pub fn nft(&self) -> &NftHandle {
        &self.nft
    }

    /// [`Dataplane::Nftables`]: makes the DNAT table hold `services` (the
    /// table of [`Options::service_dnat`]), in one transaction of only the
    /// differences, as [`ServiceDnat::ensure`] does (computed again when
    /// another commit made it stale); returns the steps done, none when
    /// the table already was right (then only read). A change to one
    /// service touches only that service's chains and map element.
    pub async fn sync_dnat(&self, services: Vec<DnatService>) -> Result<Vec<Step>, Error> {
        let dp = self.opts.service_dnat(services);
        let mut attempt = 1;
        loop {
            let tx = dp.plan(&self.nft).await?;
            if tx.is_empty() {
                return Ok(Vec::new());
            }
            match self.nft.commit(&tx).await {
                Ok(()) => return Ok(dnat_steps(&dp, &tx)),
                Err(e) if Transaction::is_stale(&e) && attempt < ServiceDnat::ENSURE_ATTEMPTS => {
                    attempt += 1;
                }
                Err(e) => return Err(e.with_context(format!("table inet {}", dp.table))),
            }
        }
    }

    /// Whether table `family name` exists.
    async fn has_table(&self, family: NftFamily, name: &str) -> Result<bool, Error> {
        Ok(self
            .nft
            .list_tables(family)
            .await?
            .iter()
            .any(|t| t.name == name))
    }

    /// Reads the kernel and lists what must change. Changes nothing.
    pub async fn plan(&self, d: &Desired) -> Result<Plan, Error> {
        let o = &self.opts;
        let nftables = o.dataplane == Dataplane::Nftables;
        let mut p = Plan::default();

        // Sysctls: a missing file is an error naming what provides it.
        for (i, value) in sysctl_read(&self.netns)? {
            let Some((name, path, want, hint, v6)) = SYSCTLS.get(i) else {
                continue;
            };
            if *v6 && d.members_v6.is_empty() {
                continue;
            }
            if nftables && *name == "net.ipv4.vs.conntrack" {
                continue; // no IPVS on this data path
            }
            match value {
                None => {
                    return Err(Error::Unsupported {
                        context: format!("sysctl {name}"),
                        what: (*path).to_string(),
                        hint: (*hint).to_string(),
                    });
                }
                Some(v) if v == *want => {}
                Some(_) => p.steps.push(Step::Sysctl(name, want)),
            }
        }

        // The IPVS sysctl profile of this kernel (after the check above
        // found IPVS there).
        let profile = if nftables {
            Vec::new()
        } else {
            self.profile.read(&self.netns)?
        };
        for (s, value) in profile {
            let Want::Value(want) = s.want else { continue };
            match value {
                None => {
                    return Err(Error::Unsupported {
                        context: format!("sysctl {}", s.name),
                        what: s.path.to_string(),
                        hint: "this IPVS lacks the sysctl (kernel too old?)".into(),
                    });
                }
                Some(v) if v == want => {}
                Some(_) => p.steps.push(Step::Sysctl(s.name, want)),
            }
        }

        // The dummy interface and its addresses.
        let index = self.links.index(&o.interface).await?;
        let on_dummy: BTreeSet<(IpAddr, u8)> = match index {
            Some(i) => {
                if !self.links.is_up(i).await? {
                    p.steps.push(Step::SetUp(o.interface.clone()));
                }
                self.links
                    .addresses(i)
                    .await?
                    .into_iter()
                    .map(|a| (a.address, a.prefix_len))
                    .collect()
            }
            None => {
                p.steps.push(Step::CreateInterface(o.interface.clone()));
                p.steps.push(Step::SetUp(o.interface.clone()));
                BTreeSet::new()
            }
        };
        let mut adds = Vec::new();
        for ip in d.vips.keys() {
            let plen = prefix_len(ip);
            if on_dummy.contains(&(*ip, plen)) {
                continue;
            }
            if self.links.is_local(*ip).await? {
                p.notes.push(format!(
                    "{ip} is already a local address: not added to {}",
                    o.interface
                ));
                continue;
            }
            adds.push(Step::AddAddress(o.interface.clone(), *ip, plen));
        }
        p.steps.extend(adds);

        if nftables {
            self.plan_nftables(d, &mut p).await?;
        }
        // The ipsets and their members (the sync engine's read and diff),
        // each followed by its NAT chains; member deletions come after.
        let mut dels = Vec::new();
        let sets = if nftables {
            Vec::new()
        } else {
            self.cluster_sets(d).into_iter().collect()
        };
        for cs in sets {
            let name = &cs.spec.name;
            let current = match sync::read_set(&self.ipset, name).await? {
                Some(set)
                    if set.set_type != SetType::HashIpPort || set.family != cs.spec.family =>
                {
                    return Err(Error::invalid_input(
                        format!("ipset {name}"),
                        format!(
                            "exists as {} family {} instead of hash:ip,port family {}; destroy it or choose another name",
                            set.set_type, set.family, cs.spec.family
                        ),
                    ));
                }
                Some(set) => Some(set.ip_port_members()?),
                None => None,
            };
            if cs.on_demand && cs.members.is_empty() && current.is_none() {
                continue;
            }
            let set_plan = sync::plan_set(current.as_deref(), &cs.desired().members);
            let (add, del) = set_steps(name, &set_plan);
            if set_plan.create {
                p.steps
                    .push(Step::CreateIpset(name.clone(), cs.spec.family));
            }
            p.steps.extend(add);
            if !self.nat_up_to_date(&cs.nat).await? {
                p.steps
                    .push(Step::EnsureNat(cs.nat.family, cs.nat.table.clone()));
            }
            dels.extend(del);
        }
        p.steps.extend(dels);
        for (ip, plen) in &on_dummy {
            let link_local = matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
            if !link_local && !d.vips.contains_key(ip) {
                p.steps
                    .push(Step::DelAddress(o.interface.clone(), *ip, *plen));
            }
        }
        if let Some(ipvs) = &self.ipvs {
            let current = ipvs.config_snapshot().await?;
            let services = d.ipvs_services();
            sync::validate(&services)?;
            let ip = sync::plan(&current, &services, &|_| true, o.graceful);
            p.steps.extend(ip.ops.into_iter().map(Step::Ipvs));
            for (k, dst) in &ip.draining {
                p.notes.push(draining_note(k, dst));
            }
        }
        // The other data path's DNAT table goes (after IPVS took over).
        if !nftables && self.has_table(NftFamily::Inet, &o.dnat_table).await? {
            p.steps
                .push(Step::DeleteDnat(NftFamily::Inet, o.dnat_table.clone()));
        }
        Ok(p)
    }

    /// [`Dataplane::Nftables`]: the DNAT table's changes, then the removal
    /// of the other data path's objects: the IPVS services of the
    /// namespace, the NAT chains and the cluster-IP ipsets.
    async fn plan_nftables(&self, d: &Desired, p: &mut Plan) -> Result<(), Error> {
        let dp = self.opts.service_dnat(d.dnat_services());
        let tx = dp.plan(&self.nft).await?;
        p.steps.extend(dnat_steps(&dp, &tx));
        if let Some(ipvs) = &self.ipvs_other {
            let current = ipvs.config_snapshot().await?;
            let ip = sync::plan(&current, &[], &|_| true, Graceful::Off);
            p.steps.extend(ip.ops.into_iter().map(Step::Ipvs));
        }
        for cs in self.cluster_sets(d) {
            let nat = &cs.nat;
            if self.has_table(nat.family, &nat.table).await?
                && self
                    .nft
                    .list_chains(nat.family, Some(&nat.table))
                    .await?
                    .iter()
                    .any(|c| c.name == nat.services_chain())
            {
                p.steps.push(Step::DeleteNat(nat.family, nat.table.clone()));
            }
        }
        for cs in self.cluster_sets(d) {
            if sync::read_set(&self.ipset, &cs.spec.name).await?.is_some() {
                p.steps.push(Step::DestroyIpset(cs.spec.name.clone()));
            }
        }
        Ok(())
    }

    /// Whether the NAT chains already are what [`ServiceNat::ensure`]
    /// would make them (the same comparison, read-only).
    async fn nat_up_to_date(&self, nat: &ServiceNat) -> Result<bool, Error> {
        let index = match nat.resolve_ipset(&self.nft) {
            Ok(i) => i,
            Err(Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let f = nat.family;
        if !self
            .nft
            .list_tables(f)
            .await?
            .iter()
            .any(|t| t.name == nat.table)
        {
            return Ok(false);
        }
        let tx = nat.create_transaction(index)?;
        let decode = |e: nl_engine::DecodeError| e.into_error("service NAT chains");
        let mut want_chains = Vec::new();
        let mut want_rules = Vec::new();
        for c in tx.changes() {
            match c.message.command {
                Command::NewChain => want_chains.push(Chain::parse(&c.message).map_err(decode)?),
                Command::NewRule => want_rules.push(Rule::parse(&c.message).map_err(decode)?),
                _ => {}
            }
        }
        let chains = self.nft.list_chains(f, Some(&nat.table)).await?;
        let rules = self.nft.list_rules(f, &nat.table, None).await?;
        for c in &want_chains {
            if !chains
                .iter()
                .any(|x| x.name == c.name && x.same_definition(c))
            {
                return Ok(false);
            }
            let have: Vec<&Rule> = rules.iter().filter(|r| r.chain == c.name).collect();
            let want: Vec<&Rule> = want_rules.iter().filter(|r| r.chain == c.name).collect();
            if have.len() != want.len() || !have.iter().zip(&want).all(|(h, w)| h.same_content(w)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Applies a plan made by [`Setup::plan`]; returns the steps done.
    /// IPVS and ipset changes are not taken from the plan: the sync engine
    /// reads the kernel again and applies what is still missing, so a plan
    /// made a while ago cannot undo changes made since. The set is synced
    /// (created, members deleted and added) at the plan's first set step,
    /// when the plan has one.
    pub async fn apply(&self, plan: &Plan, d: &Desired) -> Result<Vec<Step>, Error> {
        let o = &self.opts;
        let mut done = Vec::new();
        let mut index = self.links.index(&o.interface).await?;
        let sets = self.cluster_sets(d);
        let mut synced: BTreeSet<&str> = BTreeSet::new();
        let mut dnat_synced = false;
        let mut delete_dnat = None;
        for step in &plan.steps {
            match step {
                Step::Sysctl(name, value) => {
                    let path = match SYSCTLS.iter().find(|s| s.0 == *name) {
                        Some((_, path, ..)) => *path,
                        None => match self.profile.get(name) {
                            Some(s) => s.path,
                            None => continue,
                        },
                    };
                    self.netns
                        .run(|| std::fs::write(path, value))
                        .and_then(|r| r)
                        .map_err(|e| Error::io(format!("write sysctl {name}={value}"), e))?;
                }
                Step::CreateInterface(name) => {
                    let (i, _) = self.links.ensure_dummy(name).await?;
                    index = Some(i);
                }
                Step::SetUp(name) => {
                    let i = self.need_index(index, name)?;
                    self.links.set_up(i).await?;
                }
                Step::AddAddress(name, ip, plen) => {
                    let i = self.need_index(index, name)?;
                    self.links.add_address(i, *ip, *plen).await?;
                }
                Step::DelAddress(name, ip, plen) => {
                    let i = self.need_index(index, name)?;
                    self.links.del_address(i, *ip, *plen).await?;
                }
                // A set is synced by the sync engine, once, at the plan's
                // first step of that set: it reads the set again and makes
                // the changes still missing (create, delete, add), so a
                // plan made a while ago cannot undo changes made since.
                Step::CreateIpset(name, _)
                | Step::AddMembers(name, _)
                | Step::DelMembers(name, _) => {
                    if let Some(cs) = sets.iter().find(|cs| cs.spec.name == *name) {
                        if synced.insert(cs.spec.name.as_str()) {
                            done.extend(self.sync_set(cs).await?);
                        }
                    }
                    continue;
                }
                Step::EnsureNat(family, _) => {
                    let Some(cs) = sets.iter().find(|cs| cs.nat.family == *family) else {
                        continue;
                    };
                    if !cs.nat.ensure(&self.nft).await? {
                        // Already right after all (changed meanwhile).
                        continue;
                    }
                }
                // Applied below, all together, by the sync engine.
                Step::Ipvs(_) => continue,
                // The table is synced once, at the plan's first step of it,
                // from a fresh read (as the sets are).
                Step::Dnat(_) | Step::DnatTable(..) => {
                    if !dnat_synced {
                        dnat_synced = true;
                        done.extend(self.sync_dnat(d.dnat_services()).await?);
                    }
                    continue;
                }
                // After IPVS took over (below).
                Step::DeleteDnat(..) => {
                    delete_dnat = Some(step.clone());
                    continue;
                }
                Step::DeleteNat(family, _) => {
                    let Some(cs) = sets.iter().find(|cs| cs.nat.family == *family) else {
                        continue;
                    };
                    if !cs.nat.teardown(&self.nft).await? {
                        continue;
                    }
                }
                Step::DestroyIpset(name) => {
                    if !self.destroy_set(name).await? {
                        continue;
                    }
                }
            }
            done.push(step.clone());
        }
        if let Some(ipvs) = &self.ipvs_other {
            // The other data path's IPVS services, all deleted.
            let syncer = Syncer::ipvs_only(ipvs.clone()).with_options(
                SyncOptions::new()
                    .ownership(Ownership::All)
                    .graceful(Graceful::Off),
            );
            let report = syncer.sync_services(&[]).await?;
            done.extend(ipvs_steps(&report, &[]).into_iter().map(|(_, s)| s));
            if let Some((op, e)) = report.failed.into_iter().next() {
                return Err(e.with_context(format!("ipvs: {}", describe(&op))));
            }
        }
        if let Some(ipvs) = &self.ipvs {
            let syncer = Syncer::ipvs_only(ipvs.clone()).with_options(
                SyncOptions::new()
                    .ownership(Ownership::All)
                    .graceful(o.graceful),
            );
            let services = d.ipvs_services();
            let report = syncer.sync_services(&services).await?;
            let by_key: HashMap<ServiceKey, &(Service, Vec<Destination>)> =
                services.iter().map(|e| (e.0.key, e)).collect();
            done.extend(
                report
                    .applied
                    .iter()
                    .map(|c| Step::Ipvs(operation_of(c, &by_key, &report.draining))),
            );
            if let Some((op, e)) = report.failed.into_iter().next() {
                return Err(e.with_context(format!("ipvs: {}", describe(&op))));
            }
        }
        if let Some(step) = delete_dnat {
            if o.service_dnat(Vec::new()).teardown(&self.nft).await? {
                done.push(step);
            }
        }
        Ok(done)
    }

    /// Destroys ipset `name`; false when it is gone already. The NAT
    /// chains deleted just before may still hold it for a moment (the
    /// kernel releases their references after the commit, from a work
    /// queue): a busy set is tried again for up to 2 s.
    async fn destroy_set(&self, name: &str) -> Result<bool, Error> {
        let mut waited = Duration::ZERO;
        loop {
            match self.ipset.destroy(Some(name)).await {
                Ok(()) => return Ok(true),
                Err(Error::NotFound { .. }) => return Ok(false),
                Err(Error::Busy { .. }) if waited < Duration::from_secs(2) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    waited += Duration::from_millis(20);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The cluster-IP ipsets, IPv4 then IPv6, with their NAT chains.
    fn cluster_sets<'a>(&self, d: &'a Desired) -> [ClusterSet<'a>; 2] {
        let o = &self.opts;
        [
            ClusterSet {
                spec: CreateSet::hash_ip_port(o.ipset.clone()),
                nat: o.service_nat(),
                members: &d.members,
                on_demand: false,
            },
            ClusterSet {
                spec: CreateSet::hash_ip_port(o.ipset6.clone()).family(SetFamily::Inet6),
                nat: o.service_nat6(),
                members: &d.members_v6,
                on_demand: true,
            },
        ]
    }

    /// Syncs one cluster-IP ipset ([`Syncer::sync_set_planned`]); returns
    /// the steps done, or the first member the kernel refused.
    async fn sync_set(&self, cs: &ClusterSet<'_>) -> Result<Vec<Step>, Error> {
        let syncer = Syncer::ipset_only(self.ipset.clone());
        let name = &cs.spec.name;
        let (plan, report) = syncer.sync_set_planned(&cs.desired()).await?;
        if let Some((e, err)) = report.failures.into_iter().next() {
            return Err(err.with_context(format!("{name}: {e}")));
        }
        let mut done = Vec::new();
        if plan.create {
            done.push(Step::CreateIpset(name.clone(), cs.spec.family));
        }
        let (add, del) = set_steps(name, &plan);
        done.extend(add);
        done.extend(del);
        Ok(done)
    }

    fn need_index(&self, index: Option<u32>, name: &str) -> Result<u32, Error> {
        index.ok_or_else(|| {
            Error::invalid_input(format!("interface {name}"), "it does not exist (yet)")
        })
    }
}
