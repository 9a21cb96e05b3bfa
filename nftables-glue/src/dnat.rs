//! [`ServiceDnat`]: a load-balancing data path in nf_tables, as an
//! alternative to IPVS, in the style of kube-proxy's nftables mode: service
//! VIP:port → one of its endpoints, chosen per connection by `numgen`
//! (round robin by default, or random), DNAT to it, masquerade on the way
//! out.
//!
//! ```text
//! table ip clusterip-dnat {
//!     map services {
//!         type ipv4_addr . inet_proto . inet_service : verdict
//!         elements = { 10.96.0.10 . tcp . 80 : goto service-1A2B3C4D-tcp-80 }
//!     }
//!     chain nat-prerouting {
//!         type nat hook prerouting priority dstnat; policy accept;
//!         ip daddr . meta l4proto . th dport vmap @services
//!     }
//!     chain nat-output {
//!         type nat hook output priority -100; policy accept;
//!         ip daddr . meta l4proto . th dport vmap @services
//!     }
//!     chain nat-postrouting {
//!         type nat hook postrouting priority srcnat; policy accept;
//!         meta mark & 0x00004000 == 0x00004000 masquerade
//!     }
//!     chain service-1A2B3C4D-tcp-80 {
//!         numgen inc mod 2 vmap { 0 : goto endpoint-5E6F7A8B, 1 : goto endpoint-9C0D1E2F }
//!     }
//!     chain endpoint-5E6F7A8B {
//!         meta mark set meta mark | 0x00004000
//!         meta l4proto tcp dnat to 10.0.2.2:8080
//!     }
//!     ...
//! }
//! ```
//!
//! A service without endpoints rejects its connections (ICMP port
//! unreachable). In an `inet` table, IPv4 services are in the map
//! `services` and IPv6 ones in `services6`.
//!
//! The table belongs to the [`ServiceDnat`]: [`ServiceDnat::ensure`] makes
//! it exactly the desired state (removing anything else found in it) in
//! one transaction holding only the differences, and sends nothing when
//! there are none; a change to one service touches only that service's
//! chains and map element.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, SocketAddr};

use nl_engine::{Error, Result};

use crate::chain::{Chain, ChainType, Hook, Priority};
use crate::expr::{
    Expr, IcmpxCode, MetaKey, Numgen, NumgenType, Payload, Register, Reject, Verdict,
};
use crate::handle::NftHandle;
use crate::rule::Rule;
use crate::set::{DataType, KeyType, MapData, Set, SetElement, SetElements, SetFlags};
use crate::table::{Family, Table};
use crate::transaction::Transaction;

/// How a service chooses the endpoint of a new connection.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Balance {
    /// `numgen inc`: each endpoint in turn (IPVS's `rr`), the default.
    #[default]
    RoundRobin,
    /// `numgen random`: a random endpoint.
    Random,
}

impl Balance {
    fn numgen(self) -> NumgenType {
        match self {
            Balance::RoundRobin => NumgenType::Incremental,
            Balance::Random => NumgenType::Random,
        }
    }
}

/// An endpoint of a service: its address and weight.
///
/// ```
/// use nftables_glue::dnat::Endpoint;
/// let e: Endpoint = "10.0.2.2:8080".parse::<std::net::SocketAddr>().unwrap().into();
/// assert_eq!(e.weight, 1);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Endpoint {
    /// Address and port to DNAT to.
    pub addr: SocketAddr,
    /// Its share of new connections relative to the service's other
    /// endpoints (IPVS `wrr`, keepalived's `weight`); 1 by default. 0
    /// takes it out of the choice: no new connections, while established
    /// ones keep their translation (it lives in conntrack).
    pub weight: u32,
}

impl Endpoint {
    /// An endpoint with this weight.
    pub fn new(addr: SocketAddr, weight: u32) -> Self {
        Endpoint { addr, weight }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint { addr, weight: 1 }
    }
}

/// The largest sum of a service's endpoint weights (after dividing them
/// by their greatest common divisor): the number of entries of the
/// service's choice map.
pub const MAX_WEIGHT_SUM: u32 = 4096;

/// One service: a virtual address, protocol and port, and its endpoints.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DnatService {
    /// The service (virtual) address.
    pub vip: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP).
    pub protocol: u8,
    /// The service port.
    pub port: u16,
    /// The endpoints (same address family as `vip`), in the order the
    /// round robin visits them (interleaved by weight, as IPVS `wrr`
    /// does); a repeated address counts once (its first entry).
    pub endpoints: Vec<Endpoint>,
}

impl DnatService {
    /// A service of `protocol` (6 TCP, 17 UDP, 132 SCTP) at `vip`:`port`
    /// with these (weighted) endpoints.
    pub fn new(vip: IpAddr, protocol: u8, port: u16, endpoints: Vec<Endpoint>) -> Self {
        DnatService {
            vip,
            protocol,
            port,
            endpoints,
        }
    }

    /// A TCP service at `vip` with these endpoints, each of weight 1.
    pub fn tcp(vip: SocketAddr, endpoints: Vec<SocketAddr>) -> Self {
        let eps = endpoints.into_iter().map(Endpoint::from).collect();
        DnatService::new(vip.ip(), libc::IPPROTO_TCP as u8, vip.port(), eps)
    }

    /// A UDP service at `vip` with these endpoints, each of weight 1.
    pub fn udp(vip: SocketAddr, endpoints: Vec<SocketAddr>) -> Self {
        let eps = endpoints.into_iter().map(Endpoint::from).collect();
        DnatService::new(vip.ip(), libc::IPPROTO_UDP as u8, vip.port(), eps)
    }

    fn proto_name(&self) -> String {
        match i32::from(self.protocol) {
            libc::IPPROTO_TCP => "tcp".into(),
            libc::IPPROTO_UDP => "udp".into(),
            libc::IPPROTO_SCTP => "sctp".into(),
            n => format!("proto{n}"),
        }
    }

    fn key(&self) -> String {
        format!("{}/{}/{}", self.vip, self.protocol, self.port)
    }

    /// The name of this service's chain: `service-HASH-PROTO-PORT`, HASH
    /// naming the VIP, protocol and port.
    pub fn service_chain(&self) -> String {
        format!(
            "service-{:08X}-{}-{}",
            hash(&self.key()),
            self.proto_name(),
            self.port
        )
    }

    /// The name of the chain of endpoint `ep` of this service:
    /// `endpoint-HASH`, HASH naming the service and the endpoint.
    pub fn endpoint_chain(&self, ep: &SocketAddr) -> String {
        format!("endpoint-{:08X}", hash(&format!("{} {ep}", self.key())))
    }

    /// The endpoints taking new connections: first entry of each
    /// address, weight above 0.
    fn active_endpoints(&self) -> Vec<Endpoint> {
        let mut seen = BTreeSet::new();
        self.endpoints
            .iter()
            .copied()
            .filter(|e| seen.insert(e.addr))
            .filter(|e| e.weight > 0)
            .collect()
    }

    /// The choice map's sequence: endpoint indexes, each as often as its
    /// weight (divided by the weights' greatest common divisor),
    /// interleaved by smooth weighted round robin (`2, 1` gives `0 1 0`).
    fn schedule(&self, eps: &[Endpoint]) -> Result<Vec<usize>> {
        let g = eps.iter().fold(0, |g, e| gcd(g, e.weight)).max(1);
        let weights: Vec<u64> = eps.iter().map(|e| u64::from(e.weight / g)).collect();
        let total: u64 = weights.iter().sum();
        if total > u64::from(MAX_WEIGHT_SUM) {
            return Err(Error::invalid_input(
                format!("weights of service {}", self.key()),
                format!("their sum (divided by their common divisor) exceeds {MAX_WEIGHT_SUM}"),
            ));
        }
        let mut current = vec![0i64; weights.len()];
        let mut out = Vec::new();
        for _ in 0..total {
            let mut best: Option<usize> = None;
            for (i, w) in weights.iter().enumerate() {
                if let Some(c) = current.get_mut(i) {
                    *c += *w as i64;
                }
                let better = match best {
                    None => true,
                    Some(b) => current.get(i) > current.get(b),
                };
                if better {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                if let Some(c) = current.get_mut(b) {
                    *c -= total as i64;
                }
                out.push(b);
            }
        }
        Ok(out)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// 32-bit FNV-1a: a stable hash for chain names (std's hashers may
/// change between Rust releases; chain names must not).
fn hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The kube-proxy-style DNAT data path for a set of services.
///
/// ```no_run
/// use nftables_glue::{DnatService, NftHandle, ServiceDnat};
/// # async fn f() -> nftables_glue::Result<()> {
/// let nft = NftHandle::new()?;
/// let mut dp = ServiceDnat::new(vec![DnatService::tcp(
///     "10.96.0.10:80".parse().unwrap(),
///     vec!["10.0.2.2:8080".parse().unwrap(), "10.0.3.2:8080".parse().unwrap()],
/// )]);
/// assert!(dp.ensure(&nft).await?);  // one transaction
/// assert!(!dp.ensure(&nft).await?); // nothing left to do: nothing sent
/// dp.services[0].endpoints.pop();     // endpoints may also be weighted:
/// dp.services[0].endpoints[0].weight = 3;
/// dp.ensure(&nft).await?;           // only that service's chains change
/// dp.teardown(&nft).await?;
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceDnat {
    /// Table family: [`Family::Ipv4`] (default), [`Family::Ipv6`] or
    /// [`Family::Inet`] (both).
    pub family: Family,
    /// Table name (default `clusterip-dnat`).
    pub table: String,
    /// Mark bit set on service traffic to masquerade it (default
    /// `0x4000`, kube-proxy's).
    pub mark: u32,
    /// Endpoint selection (default round robin).
    pub balance: Balance,
    /// The services.
    pub services: Vec<DnatService>,
}

/// The base chains and maps of the table (fixed names).
const PREROUTING: &str = "nat-prerouting";
const OUTPUT: &str = "nat-output";
const POSTROUTING: &str = "nat-postrouting";

/// A rule as wanted, with the anonymous map it uses, if any.
#[derive(Debug, Clone)]
struct WantRule {
    rule: Rule,
    anon: Option<(Set, Vec<SetElement>)>,
}

#[derive(Debug, Clone)]
struct Want {
    chains: Vec<(Chain, Vec<WantRule>)>,
    maps: Vec<(Set, Vec<SetElement>)>,
}

/// The name `Set::anonymous_map` gives; the kernel replaces `%d`.
const ANON: &str = "__map%d";

impl ServiceDnat {
    /// IPv4 table `clusterip-dnat`, mark `0x4000`, round robin.
    pub fn new(services: Vec<DnatService>) -> Self {
        ServiceDnat {
            family: Family::Ipv4,
            table: "clusterip-dnat".into(),
            mark: 0x4000,
            balance: Balance::RoundRobin,
            services,
        }
    }

    /// This table family ([`Family::Ipv4`], [`Family::Ipv6`] or [`Family::Inet`]).
    ///
    /// ```
    /// use nftables_glue::Family;
    /// use nftables_glue::dnat::{Balance, DnatService, ServiceDnat};
    /// let web = DnatService::tcp("10.96.0.10:80".parse().unwrap(), vec!["10.0.2.2:8080".parse().unwrap()]);
    /// let dp = ServiceDnat::new(vec![web])
    ///     .with_family(Family::Inet)
    ///     .with_table("lb")
    ///     .with_mark(0x8000)
    ///     .with_balance(Balance::Random);
    /// assert_eq!((dp.table.as_str(), dp.mark), ("lb", 0x8000));
    /// ```
    pub fn with_family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// This table name.
    pub fn with_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }
    /// This mark bit on service traffic (to masquerade it).
    pub fn with_mark(mut self, mark: u32) -> Self {
        self.mark = mark;
        self
    }
    /// This endpoint selection.
    pub fn with_balance(mut self, balance: Balance) -> Self {
        self.balance = balance;
        self
    }

    /// The name of the verdict map for services of this address family
    /// (`services`; `services6` for IPv6 in an `inet` table).
    pub fn map_name(&self, ipv6: bool) -> &'static str {
        if ipv6 && self.family == Family::Inet {
            "services6"
        } else {
            "services"
        }
    }

    /// The address families served: (IPv4, IPv6).
    fn families(&self) -> Vec<bool> {
        match self.family {
            Family::Ipv4 => vec![false],
            Family::Ipv6 => vec![true],
            _ => vec![false, true],
        }
    }

    fn check(&self) -> Result<()> {
        crate::attr::check_name("table name", &self.table, 256)?;
        if !matches!(self.family, Family::Ipv4 | Family::Ipv6 | Family::Inet) {
            return Err(Error::invalid_input(
                format!("family {}", self.family),
                "must be ip, ip6 or inet",
            ));
        }
        if self.mark == 0 {
            return Err(Error::invalid_input("mark 0", "the mark must be non-zero"));
        }
        let mut seen = BTreeSet::new();
        for s in &self.services {
            let what = || format!("service {} {} {}", s.vip, s.proto_name(), s.port);
            let ok = match self.family {
                Family::Ipv4 => s.vip.is_ipv4(),
                Family::Ipv6 => s.vip.is_ipv6(),
                _ => true,
            };
            if !ok {
                return Err(Error::invalid_input(
                    what(),
                    format!("address family does not match table family {}", self.family),
                ));
            }
            if s.endpoints
                .iter()
                .any(|e| e.addr.ip().is_ipv4() != s.vip.is_ipv4())
            {
                return Err(Error::invalid_input(
                    what(),
                    "endpoints must have the address family of the service",
                ));
            }
            if !seen.insert((s.vip, s.protocol, s.port)) {
                return Err(Error::invalid_input(what(), "listed twice"));
            }
        }
        Ok(())
    }

    fn key_type(ipv6: bool) -> KeyType {
        if ipv6 {
            KeyType::ipv6_proto_port()
        } else {
            KeyType::ipv4_proto_port()
        }
    }

    /// `[meta nfproto X] ip daddr . meta l4proto . th dport vmap @map`
    fn dispatch(&self, ipv6: bool) -> Vec<Expr> {
        let mut e = Vec::new();
        if self.family == Family::Inet {
            let nfproto = if ipv6 { 10u8 } else { 2 };
            e.push(Expr::meta_load(MetaKey::NfProto, Register::R1));
            e.push(Expr::cmp_eq(Register::R1, vec![nfproto]));
        }
        let (daddr, len) = if ipv6 {
            (Payload::ipv6_daddr(Register::R1), 16)
        } else {
            (Payload::ipv4_daddr(Register::R1), 4)
        };
        e.push(Expr::Payload(daddr));
        e.push(Expr::meta_load(MetaKey::L4Proto, Register::at_offset(len)));
        e.push(Expr::Payload(Payload::th_dport(Register::at_offset(
            len + 4,
        ))));
        e.push(Expr::vmap(self.map_name(ipv6), Register::R1));
        e
    }

    fn reject(&self, ipv6: bool) -> Reject {
        match (self.family, ipv6) {
            (Family::Inet, _) => Reject::Icmpx(IcmpxCode::PortUnreachable),
            // ICMPV6_PORT_UNREACH
            (_, true) => Reject::Icmp(4),
            // ICMP_PORT_UNREACH
            (_, false) => Reject::Icmp(3),
        }
    }

    fn want(&self) -> Result<Want> {
        self.check()?;
        let (f, t) = (self.family, self.table.as_str());
        let rule = |chain: &str, exprs: Vec<Expr>| WantRule {
            rule: Rule::new(f, t, chain).with_exprs(exprs),
            anon: None,
        };
        let mut chains = Vec::new();
        let mut maps = Vec::new();
        let mut pre = Vec::new();
        let mut out = Vec::new();
        for v6 in self.families() {
            pre.push(rule(PREROUTING, self.dispatch(v6)));
            out.push(rule(OUTPUT, self.dispatch(v6)));
            maps.push((
                Set::map(
                    f,
                    t,
                    self.map_name(v6),
                    Self::key_type(v6),
                    MapData::Verdict,
                ),
                Vec::new(),
            ));
        }
        chains.push((
            Chain::base(
                f,
                t,
                PREROUTING,
                ChainType::Nat,
                Hook::Prerouting,
                Priority::DSTNAT,
            ),
            pre,
        ));
        chains.push((
            Chain::base(f, t, OUTPUT, ChainType::Nat, Hook::Output, Priority::DSTNAT),
            out,
        ));
        let mut masq = Expr::mark_match(self.mark, self.mark);
        masq.push(Expr::masquerade(false));
        chains.push((
            Chain::base(
                f,
                t,
                POSTROUTING,
                ChainType::Nat,
                Hook::Postrouting,
                Priority::SRCNAT,
            ),
            vec![rule(POSTROUTING, masq)],
        ));

        for s in &self.services {
            let v6 = s.vip.is_ipv6();
            let sc = s.service_chain();
            let eps = s.active_endpoints();
            let service_rule = if eps.is_empty() {
                rule(&sc, vec![Expr::Reject(self.reject(v6))])
            } else {
                let order = s.schedule(&eps)?;
                let modulus = u32::try_from(order.len()).map_err(|_| {
                    Error::invalid_input(format!("service {}", s.key()), "too many endpoints")
                })?;
                let elements = order
                    .iter()
                    .filter_map(|i| eps.get(*i))
                    .zip(0u32..)
                    .map(|(ep, i)| {
                        SetElement::verdict(
                            i.to_ne_bytes().to_vec(),
                            Verdict::Goto(s.endpoint_chain(&ep.addr)),
                        )
                    })
                    .collect();
                WantRule {
                    rule: Rule::new(f, t, &sc).with_exprs(vec![
                        Expr::Numgen(Numgen {
                            kind: self.balance.numgen(),
                            modulus,
                            offset: 0,
                            dreg: Register::R1,
                        }),
                        Expr::vmap(ANON, Register::R1),
                    ]),
                    anon: Some((
                        Set::anonymous_map(
                            f,
                            t,
                            KeyType(vec![DataType::Integer]),
                            MapData::Verdict,
                        ),
                        elements,
                    )),
                }
            };
            chains.push((Chain::regular(f, t, &sc), vec![service_rule]));
            for ep in &eps {
                let ec = s.endpoint_chain(&ep.addr);
                let mut dnat = Expr::l4proto_is(s.protocol);
                dnat.extend(Expr::dnat_to(ep.addr));
                chains.push((
                    Chain::regular(f, t, &ec),
                    vec![
                        rule(&ec, Expr::mark_set_xmark(self.mark, self.mark)),
                        rule(&ec, dnat),
                    ],
                ));
            }
            let map = maps
                .iter_mut()
                .find(|(m, _)| m.name == self.map_name(v6))
                .ok_or_else(|| {
                    Error::invalid_input(format!("service {}", s.key()), "no map for its family")
                })?;
            map.1.push(SetElement::verdict(
                SetElement::service(s.vip, s.protocol, s.port).key,
                Verdict::Goto(sc),
            ));
        }
        Ok(Want { chains, maps })
    }

    /// The transaction that creates the whole table from nothing.
    pub fn create_transaction(&self) -> Result<Transaction> {
        let w = self.want()?;
        let mut tx = Transaction::new();
        tx.add_table(&Table::new(self.family, self.table.clone()));
        for (c, _) in &w.chains {
            tx.add_chain(c);
        }
        for (m, _) in &w.maps {
            tx.add_set(m);
        }
        for (_, rules) in &w.chains {
            for r in rules {
                Self::append(&mut tx, r);
            }
        }
        for (m, els) in &w.maps {
            if !els.is_empty() {
                tx.add_elements(&SetElements::new(
                    m.family,
                    m.table.clone(),
                    m.name.clone(),
                    els.clone(),
                ));
            }
        }
        Ok(tx)
    }

    fn append(tx: &mut Transaction, r: &WantRule) {
        match &r.anon {
            Some((m, els)) => {
                tx.add_anonymous_map(m, els.clone(), &r.rule);
            }
            None => {
                tx.append_rule(&r.rule);
            }
        }
    }

    /// The transaction that makes the kernel's table this desired state:
    /// empty when it already is. Only what differs is in it: missing
    /// chains are added, chains whose rules differ are flushed and
    /// refilled, map elements are added, replaced or removed one by one,
    /// and chains and sets not wanted (of removed services or endpoints,
    /// or anything else found in the table) are deleted.
    ///
    /// The transaction is bound to the ruleset generation it was computed
    /// from ([`Transaction::expect_generation`]): committed after someone
    /// else's change, it is refused and changes nothing.
    pub async fn plan(&self, nft: &NftHandle) -> Result<Transaction> {
        let w = self.want()?;
        let generation = nft.generation().await?;
        let mut tx = self.plan_from(nft, w).await?;
        if !tx.is_empty() {
            tx.expect_generation(generation);
        }
        Ok(tx)
    }

    async fn plan_from(&self, nft: &NftHandle, w: Want) -> Result<Transaction> {
        let (f, t) = (self.family, self.table.as_str());
        if !nft.list_tables(f).await?.iter().any(|x| x.name == t) {
            return self.create_transaction();
        }
        let chains = nft.list_chains(f, Some(t)).await?;
        let rules = nft.list_rules(f, t, None).await?;
        let sets = nft.list_sets(f, Some(t)).await?;

        // Element lists of the sets, read once each when needed.
        let mut elements: BTreeMap<String, Vec<SetElement>> = BTreeMap::new();
        for s in &sets {
            let needed = s.flags.contains(SetFlags::ANONYMOUS)
                || w.maps.iter().any(|(m, _)| m.name == s.name);
            if needed {
                let els = nft.list_elements(f, t, &s.name).await?;
                elements.insert(s.name.clone(), els);
            }
        }
        let mut tx = Transaction::new();

        // Chains: missing, or existing with other rules (or definition).
        let mut refill: Vec<&(Chain, Vec<WantRule>)> = Vec::new();
        let mut redefine: Vec<&Chain> = Vec::new();
        for entry in &w.chains {
            let (c, want_rules) = entry;
            match chains.iter().find(|x| x.name == c.name) {
                None => {
                    tx.add_chain(c);
                    refill.push(entry);
                }
                Some(have) => {
                    let have_rules: Vec<&Rule> =
                        rules.iter().filter(|r| r.chain == c.name).collect();
                    let same = have_rules.len() == want_rules.len()
                        && have_rules
                            .iter()
                            .zip(want_rules)
                            .all(|(h, w)| Self::same_rule(h, w, &sets, &elements));
                    if !have.same_definition(c) {
                        redefine.push(c);
                        refill.push(entry);
                    } else if !same {
                        tx.flush_chain(c);
                        refill.push(entry);
                    }
                }
            }
        }
        let extra: Vec<&Chain> = chains
            .iter()
            .filter(|c| !w.chains.iter().any(|(x, _)| x.name == c.name))
            .collect();
        for c in extra.iter().copied().chain(redefine.iter().copied()) {
            tx.flush_chain(c);
        }
        for c in &redefine {
            tx.delete_chain(c);
            tx.add_chain(c);
        }

        // Named maps: recreated when their definition differs, else
        // element by element.
        let mut add_later: Vec<SetElements> = Vec::new();
        for (m, want_els) in &w.maps {
            let have = sets.iter().find(|s| s.name == m.name);
            let have_els = elements.get(&m.name).cloned().unwrap_or_default();
            match have {
                Some(h) if h.same_definition(m) => {
                    let key_data = |e: &SetElement| (e.key.clone(), e.data.clone());
                    let want_set: HashSet<_> = want_els.iter().map(key_data).collect();
                    let have_set: HashSet<_> = have_els.iter().map(key_data).collect();
                    let gone: Vec<SetElement> = have_els
                        .iter()
                        .filter(|e| !want_set.contains(&key_data(e)))
                        .map(|e| SetElement::new(e.key.clone()))
                        .collect();
                    let new: Vec<SetElement> = want_els
                        .iter()
                        .filter(|e| !have_set.contains(&key_data(e)))
                        .cloned()
                        .collect();
                    if !gone.is_empty() {
                        tx.delete_elements(&SetElements::new(f, t, m.name.clone(), gone));
                    }
                    if !new.is_empty() {
                        add_later.push(SetElements::new(f, t, m.name.clone(), new));
                    }
                }
                other => {
                    // The dispatch rules use the map: refill them around it.
                    for name in [PREROUTING, OUTPUT] {
                        if chains.iter().any(|c| c.name == name)
                            && !refill.iter().any(|(c, _)| c.name == name)
                        {
                            if let Some(e) = w.chains.iter().find(|(c, _)| c.name == name) {
                                tx.flush_chain(&e.0);
                                refill.push(e);
                            }
                        }
                    }
                    if let Some(h) = other {
                        tx.delete_set(h);
                    }
                    tx.add_set(m);
                    if !want_els.is_empty() {
                        add_later.push(SetElements::new(f, t, m.name.clone(), want_els.clone()));
                    }
                }
            }
        }

        // Rules of new and changed chains; endpoint chains exist by now.
        for (_, rules) in &refill {
            for r in rules {
                Self::append(&mut tx, r);
            }
        }
        for e in &add_later {
            tx.add_elements(e);
        }

        // What is not wanted: chains (flushed above), then named sets.
        for c in &extra {
            tx.delete_chain(c);
        }
        for s in &sets {
            if !s.flags.contains(SetFlags::ANONYMOUS)
                && !w.maps.iter().any(|(m, _)| m.name == s.name)
            {
                tx.delete_set(s);
            }
        }
        Ok(tx)
    }

    /// True when the rule read back does what `want` does, its anonymous
    /// map (if any) included.
    fn same_rule(
        have: &Rule,
        want: &WantRule,
        sets: &[Set],
        elements: &BTreeMap<String, Vec<SetElement>>,
    ) -> bool {
        let Some((want_map, want_els)) = &want.anon else {
            return have.same_content(&want.rule);
        };
        // The anonymous map the rule uses, by its kernel name.
        let Some(name) = have.exprs.iter().find_map(|e| match e {
            Expr::Lookup(l) if l.set.starts_with("__") => Some(l.set.clone()),
            _ => None,
        }) else {
            return false;
        };
        let Some(have_map) = sets.iter().find(|s| s.name == name) else {
            return false;
        };
        let mut renamed = want_map.clone();
        renamed.name = name.clone();
        if !have_map.same_definition(&renamed) {
            return false;
        }
        let key_data = |e: &SetElement| (e.key.clone(), e.data.clone());
        let have_els: HashSet<_> = elements
            .get(&name)
            .map(|v| v.iter().map(key_data).collect())
            .unwrap_or_default();
        let want_set: HashSet<_> = want_els.iter().map(key_data).collect();
        if have_els != want_set {
            return false;
        }
        let mut w = want.rule.clone();
        for e in &mut w.exprs {
            if let Expr::Lookup(l) = e {
                if l.set == ANON {
                    l.set = name.clone();
                }
            }
        }
        have.same_content(&w)
    }

    /// Makes the kernel's table exactly this desired state, in one atomic
    /// transaction ([`ServiceDnat::plan`]). Returns `false`, having sent
    /// nothing (only read the table), when it already was.
    ///
    /// When someone else commits between the reading and the commit, the
    /// stale transaction is refused by the kernel and the difference is
    /// computed again (up to [`ServiceDnat::ENSURE_ATTEMPTS`] times).
    pub async fn ensure(&self, nft: &NftHandle) -> Result<bool> {
        let mut attempt = 1;
        loop {
            let tx = self.plan(nft).await?;
            if tx.is_empty() {
                return Ok(false);
            }
            match nft.commit(&tx).await {
                Ok(()) => return Ok(true),
                Err(e) if Transaction::is_stale(&e) && attempt < Self::ENSURE_ATTEMPTS => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// How many times [`ServiceDnat::ensure`] computes and commits when
    /// concurrent changes keep making its transaction stale.
    pub const ENSURE_ATTEMPTS: u32 = 5;

    /// Deletes the table with everything in it. Returns `false` when there
    /// was no such table.
    pub async fn teardown(&self, nft: &NftHandle) -> Result<bool> {
        crate::attr::check_name("table name", &self.table, 256)?;
        let (f, t) = (self.family, self.table.as_str());
        if !nft.list_tables(f).await?.iter().any(|x| x.name == t) {
            return Ok(false);
        }
        let mut tx = Transaction::new();
        tx.delete_table(&Table::new(f, t));
        nft.commit(&tx).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_distinct() {
        let s = DnatService::tcp(
            "10.96.0.10:80".parse().unwrap(),
            vec!["10.0.2.2:8080".parse().unwrap()],
        );
        assert_eq!(hash(""), 0x811c_9dc5);
        assert_eq!(hash("a"), 0xe40c_292c);
        assert!(s.service_chain().starts_with("service-"));
        assert!(s.service_chain().ends_with("-tcp-80"));
        let a = s.endpoint_chain(&"10.0.2.2:8080".parse().unwrap());
        let b = s.endpoint_chain(&"10.0.3.2:8080".parse().unwrap());
        assert_ne!(a, b);
    }

    #[test]
    fn weights_interleave() {
        let ep = |w: u32, n: u8| Endpoint::new(SocketAddr::from(([10, 0, 0, n], 80)), w);
        let s = DnatService::tcp("10.96.0.1:80".parse().unwrap(), vec![]);
        assert_eq!(s.schedule(&[ep(1, 1), ep(1, 2)]).unwrap(), [0, 1]);
        assert_eq!(s.schedule(&[ep(2, 1), ep(1, 2)]).unwrap(), [0, 1, 0]);
        assert_eq!(s.schedule(&[ep(200, 1), ep(100, 2)]).unwrap(), [0, 1, 0]);
        assert_eq!(
            s.schedule(&[ep(5, 1), ep(1, 2), ep(1, 3)]).unwrap(),
            [0, 0, 1, 0, 2, 0, 0]
        );
        assert!(s.schedule(&[ep(4096, 1), ep(1, 2)]).is_err());
        let mut s = s;
        s.endpoints = vec![ep(0, 1), ep(3, 2), ep(1, 2)];
        assert_eq!(s.active_endpoints(), [ep(3, 2)]);
    }

    #[test]
    fn rejects_mixed_families() {
        let mut d = ServiceDnat::new(vec![DnatService::tcp(
            "[fd00::1]:80".parse().unwrap(),
            vec![],
        )]);
        assert!(d.want().is_err());
        d.family = Family::Inet;
        assert!(d.want().is_ok());
        d.services[0]
            .endpoints
            .push("10.0.0.1:80".parse::<SocketAddr>().unwrap().into());
        assert!(d.want().is_err());
    }

    #[test]
    fn creates_in_one_transaction() {
        let d = ServiceDnat::new(vec![DnatService::tcp(
            "10.96.0.10:80".parse().unwrap(),
            vec![
                "10.0.2.2:8080".parse().unwrap(),
                "10.0.3.2:8080".parse().unwrap(),
            ],
        )]);
        let tx = d.create_transaction().unwrap();
        // table, 3 base + 1 service + 2 endpoint chains, map, 3+2*2 rules
        // (+ anonymous map and its elements), map elements
        let n = tx.len();
        assert_eq!(n, 1 + 6 + 1 + 3 + 3 + 4 + 1, "{:#?}", tx.changes());
    }
}
