//! [`ServiceNat`]: the seeds' ClusterIP NAT chains (iptables `nat` table:
//! `ZGZ-SERVICES`, `ZGZ-SERVICES-MARK-MASQ`, `ZGZ-SERVICES-POSTROUTING`),
//! done natively in a table of their own:
//!
//! ```text
//! table ip zgz-services {
//!     chain PREROUTING  { type nat hook prerouting priority dstnat; jump ZGZ-SERVICES comment "zgz service portals" }
//!     chain OUTPUT      { type nat hook output priority -100;      jump ZGZ-SERVICES comment "zgz service portals" }
//!     chain POSTROUTING { type nat hook postrouting priority srcnat; jump ZGZ-SERVICES-POSTROUTING comment "zgz postrouting rules" }
//!     chain ZGZ-SERVICES { <member address . protocol . port> jump ZGZ-SERVICES-MARK-MASQ comment "zgz service cluster ip + port for masquerade purpose" }
//!     chain ZGZ-SERVICES-MARK-MASQ { meta mark set meta mark | 0x00002000 }
//!     chain ZGZ-SERVICES-POSTROUTING { meta mark & 0x00002000 == 0x00002000 masquerade comment "zgz service traffic requiring SNAT" }
//! }
//! ```
//!
//! Membership is either the ipset of the seeds (`-m set --match-set
//! ZGZ-CLUSTER-IP dst,dst`, through the `nft_compat` `set` match, as
//! iptables-nft does) or a native set `ipv4_addr . inet_proto .
//! inet_service` in the same table.

use std::collections::BTreeSet;
use std::net::IpAddr;

use nl_engine::{Error, KernelError, Result};

use crate::chain::{Chain, ChainType, Hook, Priority};
use crate::compat::{Direction, Match, XtSetMatch};
use crate::expr::{Expr, MetaKey, Payload, Register, Verdict};
use crate::handle::NftHandle;
use crate::rule::Rule;
use crate::set::{KeyType, Set, SetElement, SetElements};
use crate::table::{Family, Table};
use crate::transaction::Transaction;

/// One service address, protocol and port (a set element).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    /// The service (cluster) address.
    pub addr: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP).
    pub protocol: u8,
    /// The port.
    pub port: u16,
}

impl Member {
    /// A TCP service.
    pub fn tcp(addr: IpAddr, port: u16) -> Self {
        Member {
            addr,
            protocol: libc::IPPROTO_TCP as u8,
            port,
        }
    }
    /// A UDP service.
    pub fn udp(addr: IpAddr, port: u16) -> Self {
        Member {
            addr,
            protocol: libc::IPPROTO_UDP as u8,
            port,
        }
    }
    fn element(&self) -> SetElement {
        SetElement::service(self.addr, self.protocol, self.port)
    }
}

/// Where the service addresses come from.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Membership {
    /// An existing ipset of type `hash:ip,port`, matched `dst,dst` (the
    /// seeds' design). It must exist before [`ServiceNat::ensure`]; its
    /// content is managed with ipset.
    Ipset {
        /// The ipset's name.
        name: String,
    },
    /// A native nft set in the service table, created and filled by
    /// [`ServiceNat::ensure`] with exactly these members.
    NativeSet {
        /// The set's name.
        name: String,
        /// The members.
        members: Vec<Member>,
    },
}

/// The service NAT chains: mark traffic to member address:protocol:port
/// on prerouting and output, masquerade marked traffic on postrouting.
///
/// ```no_run
/// use nftables_glue::{Member, Membership, NftHandle, ServiceNat};
/// # async fn f() -> nftables_glue::Result<()> {
/// let nft = NftHandle::new()?;
/// let nat = ServiceNat::new(Membership::NativeSet {
///     name: "ZGZ-CLUSTER-IP".into(),
///     members: vec![Member::tcp("169.254.11.2".parse().unwrap(), 80)],
/// });
/// nat.ensure(&nft).await?;   // creates everything in one transaction
/// nat.teardown(&nft).await?; // removes exactly that
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceNat {
    /// Table family: [`Family::Ipv4`] (default) or [`Family::Ipv6`].
    pub family: Family,
    /// Table name (default `zgz-services`).
    pub table: String,
    /// Chain name prefix (default `ZGZ-SERVICES`, giving the seeds' chain
    /// names `ZGZ-SERVICES`, `ZGZ-SERVICES-MARK-MASQ`, `ZGZ-SERVICES-POSTROUTING`).
    pub prefix: String,
    /// Mark value set on service traffic (default `0x2000`).
    pub mark: u32,
    /// Mark mask (default `0x2000`).
    pub mark_mask: u32,
    /// Masquerade with `fully-random` port selection (default off, as the seeds).
    pub fully_random: bool,
    /// Membership source.
    pub membership: Membership,
}

const COMMENT_PORTALS: &str = "zgz service portals";
const COMMENT_POSTROUTING: &str = "zgz postrouting rules";
const COMMENT_MEMBERS: &str = "zgz service cluster ip + port for masquerade purpose";
const COMMENT_SNAT: &str = "zgz service traffic requiring SNAT";

/// The objects [`ServiceNat`] owns, as they should be.
struct Desired {
    table: Table,
    chains: Vec<Chain>,
    rules: Vec<Rule>,
    set: Option<(Set, Vec<SetElement>)>,
}

impl ServiceNat {
    /// The seeds' defaults with this membership source.
    pub fn new(membership: Membership) -> Self {
        ServiceNat {
            family: Family::Ipv4,
            table: "zgz-services".into(),
            prefix: "ZGZ-SERVICES".into(),
            mark: 0x2000,
            mark_mask: 0x2000,
            fully_random: false,
            membership,
        }
    }

    /// This table family ([`Family::Ipv4`] or [`Family::Ipv6`]).
    ///
    /// ```
    /// use nftables_glue::{Family, Membership, ServiceNat};
    /// let nat = ServiceNat::new(Membership::Ipset { name: "ZGZ-CLUSTER-IP".into() })
    ///     .with_family(Family::Ipv6)
    ///     .with_prefix("SVC")
    ///     .with_mark(0x4000, 0x4000)
    ///     .with_fully_random(true);
    /// assert_eq!(nat.services_chain(), "SVC");
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
    /// This chain name prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// This mark value and mask on service traffic.
    pub fn with_mark(mut self, mark: u32, mask: u32) -> Self {
        self.mark = mark;
        self.mark_mask = mask;
        self
    }
    /// Masquerade with `fully-random` port selection or not.
    pub fn with_fully_random(mut self, fully_random: bool) -> Self {
        self.fully_random = fully_random;
        self
    }

    /// The services chain (`PREFIX`).
    pub fn services_chain(&self) -> String {
        self.prefix.clone()
    }
    /// The mark chain (`PREFIX-MARK-MASQ`).
    pub fn mark_chain(&self) -> String {
        format!("{}-MARK-MASQ", self.prefix)
    }
    /// The masquerade chain (`PREFIX-POSTROUTING`).
    pub fn postrouting_chain(&self) -> String {
        format!("{}-POSTROUTING", self.prefix)
    }

    fn check(&self) -> Result<()> {
        crate::attr::check_name("table name", &self.table, 256)?;
        crate::attr::check_name("chain prefix", &self.prefix, 240)?;
        if !matches!(self.family, Family::Ipv4 | Family::Ipv6) {
            return Err(Error::invalid_input(
                format!("family {}", self.family),
                "must be ip or ip6",
            ));
        }
        if self.mark & !self.mark_mask != 0 || self.mark_mask == 0 {
            return Err(Error::invalid_input(
                format!("mark {:#x}/{:#x}", self.mark, self.mark_mask),
                "the mask must be non-zero and cover the value",
            ));
        }
        if let Membership::NativeSet { members, .. } = &self.membership {
            for m in members {
                if m.addr.is_ipv4() != (self.family == Family::Ipv4) {
                    return Err(Error::invalid_input(
                        format!("member {}", m.addr),
                        format!("address family does not match table family {}", self.family),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The kernel index of the membership ipset in the handle's namespace
    /// (`None` for a native set); an error when the ipset does not exist.
    pub fn resolve_ipset(&self, nft: &NftHandle) -> Result<Option<u16>> {
        let Membership::Ipset { name } = &self.membership else {
            return Ok(None);
        };
        let index = ipset_nl::index_of(nft.connection().netns(), name)?.ok_or_else(|| {
            Error::from_kernel(
                format!("service NAT membership ipset {name}"),
                KernelError {
                    description: Some(format!("the ipset {name} does not exist; create it first")),
                    ..KernelError::from_errno(libc::ENOENT)
                },
            )
        })?;
        Ok(Some(index))
    }

    fn membership_exprs(&self, ipset_index: Option<u16>) -> Result<Vec<Expr>> {
        Ok(match &self.membership {
            Membership::Ipset { name } => {
                let index = ipset_index.ok_or_else(|| {
                    Error::invalid_input(
                        format!("ipset {name}"),
                        "its kernel index is needed (see ServiceNat::resolve_ipset)",
                    )
                })?;
                vec![Expr::Match(Match::Set(XtSetMatch::new(
                    index,
                    &[Direction::Dst, Direction::Dst],
                )))]
            }
            Membership::NativeSet { name, .. } => {
                let (addr, addr_len) = match self.family {
                    Family::Ipv6 => (Payload::ipv6_daddr(Register::R1), 16),
                    _ => (Payload::ipv4_daddr(Register::R1), 4),
                };
                let proto_reg = Register::at_offset(addr_len);
                let port_reg = Register::at_offset(addr_len + 4);
                vec![
                    Expr::Payload(addr),
                    Expr::meta_load(MetaKey::L4Proto, proto_reg),
                    Expr::Payload(Payload::th_dport(port_reg)),
                    Expr::lookup(name.clone(), Register::R1),
                ]
            }
        })
    }

    fn desired(&self, ipset_index: Option<u16>) -> Result<Desired> {
        self.check()?;
        let (f, t) = (self.family, self.table.as_str());
        let chains = vec![
            Chain::base(
                f,
                t,
                "PREROUTING",
                ChainType::Nat,
                Hook::Prerouting,
                Priority::DSTNAT,
            ),
            Chain::base(
                f,
                t,
                "OUTPUT",
                ChainType::Nat,
                Hook::Output,
                Priority::DSTNAT,
            ),
            Chain::base(
                f,
                t,
                "POSTROUTING",
                ChainType::Nat,
                Hook::Postrouting,
                Priority::SRCNAT,
            ),
            Chain::regular(f, t, self.services_chain()),
            Chain::regular(f, t, self.mark_chain()),
            Chain::regular(f, t, self.postrouting_chain()),
        ];
        let jump = |to: String| vec![Expr::verdict(Verdict::Jump(to))];
        let mut members = self.membership_exprs(ipset_index)?;
        members.push(Expr::verdict(Verdict::Jump(self.mark_chain())));
        let mut snat = Expr::mark_match(self.mark, self.mark_mask);
        snat.push(Expr::masquerade(self.fully_random));
        let rules = vec![
            Rule::new(f, t, "PREROUTING")
                .with_exprs(jump(self.services_chain()))
                .with_comment(COMMENT_PORTALS)?,
            Rule::new(f, t, "OUTPUT")
                .with_exprs(jump(self.services_chain()))
                .with_comment(COMMENT_PORTALS)?,
            Rule::new(f, t, "POSTROUTING")
                .with_exprs(jump(self.postrouting_chain()))
                .with_comment(COMMENT_POSTROUTING)?,
            Rule::new(f, t, self.services_chain())
                .with_exprs(members)
                .with_comment(COMMENT_MEMBERS)?,
            Rule::new(f, t, self.mark_chain())
                .with_exprs(Expr::mark_set_xmark(self.mark, self.mark_mask)),
            Rule::new(f, t, self.postrouting_chain())
                .with_exprs(snat)
                .with_comment(COMMENT_SNAT)?,
        ];
        let set = match &self.membership {
            Membership::Ipset { .. } => None,
            Membership::NativeSet { name, members } => {
                crate::attr::check_name("set name", name, 256)?;
                let key = match f {
                    Family::Ipv6 => KeyType::ipv6_proto_port(),
                    _ => KeyType::ipv4_proto_port(),
                };
                let mut s = Set::new(f, t, name.clone(), key);
                s.userdata = Some(Set::nft_concat_userdata());
                let uniq: BTreeSet<Member> = members.iter().copied().collect();
                Some((s, uniq.iter().map(Member::element).collect()))
            }
        };
        Ok(Desired {
            table: Table::new(f, t),
            chains,
            rules,
            set,
        })
    }

    /// The transaction that creates everything from nothing (what
    /// [`ServiceNat::ensure`] sends into an empty namespace), in the order
    /// `nft -f` sends the same ruleset. `ipset_index` is the membership
    /// ipset's kernel index ([`ServiceNat::resolve_ipset`]), unused for a
    /// native set.
    pub fn create_transaction(&self, ipset_index: Option<u16>) -> Result<Transaction> {
        let d = self.desired(ipset_index)?;
        let mut tx = Transaction::new();
        tx.add_table(&d.table);
        for c in &d.chains {
            tx.add_chain(c);
        }
        if let Some((s, els)) = &d.set {
            let mut s = s.clone();
            s.id = Some(1);
            tx.add_set(&s);
            if !els.is_empty() {
                let mut e =
                    SetElements::new(s.family, s.table.clone(), s.name.clone(), els.clone());
                e.set_id = Some(1);
                tx.add_elements(&e);
            }
        }
        for r in &d.rules {
            tx.append_rule(&Self::with_set_id(r, d.set.is_some()));
        }
        Ok(tx)
    }

    fn with_set_id(r: &Rule, native: bool) -> Rule {
        let mut r = r.clone();
        if native {
            for e in &mut r.exprs {
                if let Expr::Lookup(l) = e {
                    l.set_id = Some(1);
                }
            }
        }
        r
    }

    /// Makes the kernel state match this configuration, in one atomic
    /// transaction. Returns `false`, having sent nothing, when everything
    /// already matches (running it twice changes nothing).
    pub async fn ensure(&self, nft: &NftHandle) -> Result<bool> {
        let index = self.resolve_ipset(nft)?;
        let d = self.desired(index)?;
        let (f, t) = (self.family, self.table.as_str());
        let exists = nft.list_tables(f).await?.iter().any(|x| x.name == t);
        if !exists {
            // Nothing to reuse: the same batch `nft -f` would send.
            nft.commit(&self.create_transaction(index)?).await?;
            return Ok(true);
        }
        let chains = nft.list_chains(f, Some(t)).await?;
        let rules = nft.list_rules(f, t, None).await?;
        let sets = nft.list_sets(f, Some(t)).await?;
        let find_chain = |n: &str| chains.iter().find(|c| c.name == n);

        let mut up_to_date = true;
        for c in &d.chains {
            let have: Vec<&Rule> = rules.iter().filter(|r| r.chain == c.name).collect();
            let want: Vec<&Rule> = d.rules.iter().filter(|r| r.chain == c.name).collect();
            let same_rules =
                have.len() == want.len() && have.iter().zip(&want).all(|(h, w)| h.same_content(w));
            if !find_chain(&c.name).is_some_and(|x| x.same_definition(c)) || !same_rules {
                up_to_date = false;
            }
        }
        let existing_set = d
            .set
            .as_ref()
            .and_then(|(s, _)| sets.iter().find(|x| x.name == s.name));
        if let Some((s, els)) = &d.set {
            match existing_set {
                Some(x) if x.same_definition(s) => {
                    let have: BTreeSet<Vec<u8>> = nft
                        .list_elements(f, t, &s.name)
                        .await?
                        .into_iter()
                        .map(|e| e.key)
                        .collect();
                    let want: BTreeSet<Vec<u8>> = els.iter().map(|e| e.key.clone()).collect();
                    if have != want {
                        up_to_date = false;
                    }
                }
                _ => up_to_date = false,
            }
        }
        if up_to_date {
            return Ok(false);
        }

        let mut tx = Transaction::new();
        tx.add_table(&d.table);
        for c in &d.chains {
            if find_chain(&c.name).is_some() {
                tx.flush_chain(c);
            }
        }
        for c in &d.chains {
            if find_chain(&c.name).is_some_and(|x| !x.same_definition(c)) {
                tx.delete_chain(c);
            }
        }
        for c in &d.chains {
            tx.add_chain(c);
        }
        if let Some((s, els)) = &d.set {
            match existing_set {
                Some(x) if x.same_definition(s) => {
                    tx.flush_set(s);
                }
                Some(_) => {
                    tx.delete_set(s);
                    tx.add_set(s);
                }
                None => {
                    tx.add_set(s);
                }
            }
            if !els.is_empty() {
                tx.add_elements(&SetElements::new(f, t, s.name.clone(), els.clone()));
            }
        }
        for r in &d.rules {
            tx.append_rule(r);
        }
        nft.commit(&tx).await?;
        Ok(true)
    }

    /// Removes what [`ServiceNat::ensure`] created: its rules, chains and
    /// set, and the table when nothing else is left in it. Returns `false`
    /// when there was nothing to remove.
    pub async fn teardown(&self, nft: &NftHandle) -> Result<bool> {
        self.check()?;
        let (f, t) = (self.family, self.table.as_str());
        if !nft.list_tables(f).await?.iter().any(|x| x.name == t) {
            return Ok(false);
        }
        let ours = [
            "PREROUTING".to_string(),
            "OUTPUT".to_string(),
            "POSTROUTING".to_string(),
            self.services_chain(),
            self.mark_chain(),
            self.postrouting_chain(),
        ];
        let set_name = match &self.membership {
            Membership::NativeSet { name, .. } => Some(name.as_str()),
            Membership::Ipset { .. } => None,
        };
        let chains = nft.list_chains(f, Some(t)).await?;
        let sets = nft.list_sets(f, Some(t)).await?;
        let others = chains.iter().any(|c| !ours.contains(&c.name))
            || sets.iter().any(|s| Some(s.name.as_str()) != set_name);
        let mut tx = Transaction::new();
        if !others {
            tx.delete_table(&Table::new(f, t));
        } else {
            let mine: Vec<&Chain> = chains.iter().filter(|c| ours.contains(&c.name)).collect();
            for c in &mine {
                tx.flush_chain(c);
            }
            for c in &mine {
                tx.delete_chain(c);
            }
            for s in sets.iter().filter(|s| Some(s.name.as_str()) == set_name) {
                tx.delete_set(s);
            }
        }
        if tx.is_empty() {
            return Ok(false);
        }
        nft.commit(&tx).await?;
        Ok(true)
    }
}
