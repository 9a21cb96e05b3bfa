//! Chains (`NFT_MSG_*CHAIN`): base chains attached to a hook, and regular
//! chains reached by jump/goto.
//!
//! Numbers from `include/uapi/linux/netfilter/nf_tables.h` (`enum
//! nft_chain_attributes`, `enum nft_hook_attributes`, `enum
//! nft_chain_flags`) and `include/uapi/linux/netfilter.h` (`NF_INET_*`
//! hooks, `NF_DROP`/`NF_ACCEPT`).

use bitflags::bitflags;
use nl_engine::DecodeError;

use crate::attr::{RawAttr, Writer, get_str, get_u32, get_u64, iter};
use crate::msg::{Command, NftMessage};
use crate::table::Family;

const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_HANDLE: u16 = 2;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_USE: u16 = 6;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_CHAIN_FLAGS: u16 = 10;
const NFTA_CHAIN_USERDATA: u16 = 12;

const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_HOOK_DEV: u16 = 3;

/// A netfilter hook (`enum nf_inet_hooks`).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hook {
    /// `NF_INET_PRE_ROUTING` (0)
    Prerouting,
    /// `NF_INET_LOCAL_IN` (1)
    Input,
    /// `NF_INET_FORWARD` (2)
    Forward,
    /// `NF_INET_LOCAL_OUT` (3)
    Output,
    /// `NF_INET_POST_ROUTING` (4)
    Postrouting,
    /// `NF_INET_INGRESS` (5)
    Ingress,
    /// Any other hook number.
    Other(u32),
}

impl Hook {
    /// The hook number.
    pub fn number(self) -> u32 {
        match self {
            Hook::Prerouting => 0,
            Hook::Input => 1,
            Hook::Forward => 2,
            Hook::Output => 3,
            Hook::Postrouting => 4,
            Hook::Ingress => 5,
            Hook::Other(n) => n,
        }
    }

    /// The hook of a number.
    pub fn from_number(n: u32) -> Self {
        match n {
            0 => Hook::Prerouting,
            1 => Hook::Input,
            2 => Hook::Forward,
            3 => Hook::Output,
            4 => Hook::Postrouting,
            5 => Hook::Ingress,
            n => Hook::Other(n),
        }
    }
}

/// Hook priorities `nft` names (`dstnat` is -100, `srcnat` 100, `filter` 0).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Priority(pub i32);

impl Priority {
    /// `raw`: -300
    pub const RAW: Priority = Priority(-300);
    /// `mangle`: -150
    pub const MANGLE: Priority = Priority(-150);
    /// `dstnat`: -100 (`NF_IP_PRI_NAT_DST`)
    pub const DSTNAT: Priority = Priority(-100);
    /// `filter`: 0
    pub const FILTER: Priority = Priority(0);
    /// `srcnat`: 100 (`NF_IP_PRI_NAT_SRC`)
    pub const SRCNAT: Priority = Priority(100);
}

/// A base chain's default verdict.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// `NF_DROP` (0)
    Drop,
    /// `NF_ACCEPT` (1)
    Accept,
    /// Any other value.
    Other(u32),
}

impl Policy {
    fn number(self) -> u32 {
        match self {
            Policy::Drop => 0,
            Policy::Accept => 1,
            Policy::Other(n) => n,
        }
    }
    fn from_number(n: u32) -> Self {
        match n {
            0 => Policy::Drop,
            1 => Policy::Accept,
            n => Policy::Other(n),
        }
    }
}

/// A base chain's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChainType {
    /// `filter`
    Filter,
    /// `nat`
    Nat,
    /// `route`
    Route,
    /// Any other type name.
    Other(String),
}

impl ChainType {
    fn name(&self) -> &str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
            ChainType::Other(s) => s,
        }
    }
    pub(crate) fn from_name(s: String) -> Self {
        match s.as_str() {
            "filter" => ChainType::Filter,
            "nat" => ChainType::Nat,
            "route" => ChainType::Route,
            _ => ChainType::Other(s),
        }
    }
}

bitflags! {
    /// `enum nft_chain_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ChainFlags: u32 {
        /// `NFT_CHAIN_BASE`
        const BASE = 1 << 0;
        /// `NFT_CHAIN_HW_OFFLOAD`
        const HW_OFFLOAD = 1 << 1;
        /// `NFT_CHAIN_BINDING`
        const BINDING = 1 << 2;
        const _ = !0;
    }
}

/// What makes a chain a base chain.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BaseChain {
    /// Chain type.
    pub chain_type: ChainType,
    /// The hook it is attached to.
    pub hook: Hook,
    /// Its priority on the hook.
    pub priority: Priority,
    /// Default verdict.
    pub policy: Policy,
    /// Device (netdev family / ingress hooks only).
    pub device: Option<String>,
}

impl BaseChain {
    /// `type TYPE hook HOOK priority PRIORITY; policy accept;`
    ///
    /// ```
    /// use nftables_glue::{BaseChain, ChainType, Hook, Policy, Priority};
    /// let b = BaseChain::new(ChainType::Filter, Hook::Ingress, Priority(-155))
    ///     .with_device("eth0")
    ///     .with_policy(Policy::Drop);
    /// assert_eq!(b.to_string(), "type filter hook ingress device \"eth0\" priority mangle - 5; policy drop;");
    /// ```
    pub fn new(chain_type: ChainType, hook: Hook, priority: Priority) -> Self {
        BaseChain {
            chain_type,
            hook,
            priority,
            policy: Policy::Accept,
            device: None,
        }
    }
    /// `policy POLICY;`
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
    /// `device NAME` (netdev family, ingress hooks).
    pub fn with_device(mut self, device: impl Into<String>) -> Self {
        self.device = Some(device.into());
        self
    }
}

/// An nf_tables chain.
///
/// ```
/// use nftables_glue::{Chain, ChainType, Family, Hook, Priority};
/// let pre = Chain::base(Family::Ipv4, "nat", "PREROUTING", ChainType::Nat, Hook::Prerouting, Priority::DSTNAT);
/// let svc = Chain::regular(Family::Ipv4, "nat", "ZGZ-SERVICES");
/// assert!(pre.base.is_some() && svc.base.is_none());
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chain {
    /// Family of its table.
    pub family: Family,
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// Type, hook, priority, policy of a base chain; `None` for a regular chain.
    pub base: Option<BaseChain>,
    /// Kernel handle (read back; or to delete by handle).
    pub handle: Option<u64>,
    /// Chain flags (read back).
    pub flags: Option<ChainFlags>,
    /// References to the chain (read back).
    pub use_count: Option<u32>,
    /// Opaque user data.
    pub userdata: Option<Vec<u8>>,
    /// Attributes not interpreted here.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl Chain {
    /// A regular chain.
    pub fn regular(family: Family, table: impl Into<String>, name: impl Into<String>) -> Self {
        Chain {
            family,
            table: table.into(),
            name: name.into(),
            base: None,
            handle: None,
            flags: None,
            use_count: None,
            userdata: None,
            unknown: Vec::new(),
        }
    }

    /// A base chain with policy accept.
    pub fn base(
        family: Family,
        table: impl Into<String>,
        name: impl Into<String>,
        chain_type: ChainType,
        hook: Hook,
        priority: Priority,
    ) -> Self {
        Chain::regular(family, table, name).with_base(BaseChain::new(chain_type, hook, priority))
    }

    /// This chain as a base chain of `base` (or another base chain).
    ///
    /// ```
    /// use nftables_glue::{BaseChain, Chain, ChainType, Family, Hook, Priority};
    /// // nft add chain netdev t in '{ type filter hook ingress device "eth0" priority 0; }'
    /// let c = Chain::regular(Family::Netdev, "t", "in")
    ///     .with_base(BaseChain::new(ChainType::Filter, Hook::Ingress, Priority(0)).with_device("eth0"));
    /// assert_eq!(c.base.unwrap().device.as_deref(), Some("eth0"));
    /// ```
    pub fn with_base(mut self, base: BaseChain) -> Self {
        self.base = Some(base);
        self
    }

    /// This chain with a kernel handle (to delete it by handle).
    pub fn with_handle(mut self, handle: u64) -> Self {
        self.handle = Some(handle);
        self
    }

    /// This chain with opaque user data.
    pub fn with_userdata(mut self, userdata: Vec<u8>) -> Self {
        self.userdata = Some(userdata);
        self
    }

    /// This chain with another policy (base chains only).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        if let Some(b) = &mut self.base {
            b.policy = policy;
        }
        self
    }

    /// Encodes the attributes in the order `nft` sends them.
    pub fn emit(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_CHAIN_TABLE, &self.table);
        if let Some(h) = self.handle {
            w.u64be(NFTA_CHAIN_HANDLE, h);
        }
        w.str(NFTA_CHAIN_NAME, &self.name);
        if let Some(b) = &self.base {
            w.str(NFTA_CHAIN_TYPE, b.chain_type.name());
            w.u32be(NFTA_CHAIN_POLICY, b.policy.number());
            w.nest(NFTA_CHAIN_HOOK, |h| {
                h.u32be(NFTA_HOOK_HOOKNUM, b.hook.number());
                h.u32be(NFTA_HOOK_PRIORITY, b.priority.0 as u32);
                if let Some(d) = &b.device {
                    h.str(NFTA_HOOK_DEV, d);
                }
            });
        }
        if let Some(u) = &self.userdata {
            w.bytes(NFTA_CHAIN_USERDATA, u);
        }
        w.raw(&self.unknown);
        w.finish()
    }

    /// Encodes what identifies the chain (table and name, or handle).
    pub fn emit_key(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_CHAIN_TABLE, &self.table);
        match self.handle {
            Some(h) if self.name.is_empty() => {
                w.u64be(NFTA_CHAIN_HANDLE, h);
            }
            _ => {
                w.str(NFTA_CHAIN_NAME, &self.name);
            }
        }
        w.finish()
    }

    /// This chain as a message of `command`.
    pub fn to_message(&self, command: Command) -> NftMessage {
        let attrs = match command {
            Command::NewChain => self.emit(),
            _ => self.emit_key(),
        };
        NftMessage::new(command, self.family.number(), attrs)
    }

    /// True when both describe the same chain definition (name, table,
    /// base-chain settings), ignoring read-back-only fields.
    pub fn same_definition(&self, other: &Chain) -> bool {
        self.family == other.family
            && self.table == other.table
            && self.name == other.name
            && self.base == other.base
    }

    /// Decodes a chain message.
    pub fn parse(msg: &NftMessage) -> Result<Self, DecodeError> {
        let mut c = Chain::regular(Family::from_number(msg.header.family), "", "");
        let mut hook: Option<(Option<u32>, Option<i32>, Option<String>)> = None;
        let mut ctype = None;
        let mut policy = None;
        for a in iter(&msg.attrs) {
            let (kind, full, v) = a?;
            match kind {
                NFTA_CHAIN_TABLE => c.table = get_str(v, "chain table")?,
                NFTA_CHAIN_NAME => c.name = get_str(v, "chain name")?,
                NFTA_CHAIN_HANDLE => c.handle = Some(get_u64(v, "chain handle")?),
                NFTA_CHAIN_USE => c.use_count = Some(get_u32(v, "chain use")?),
                NFTA_CHAIN_FLAGS => {
                    c.flags = Some(ChainFlags::from_bits_retain(get_u32(v, "chain flags")?))
                }
                NFTA_CHAIN_TYPE => ctype = Some(ChainType::from_name(get_str(v, "chain type")?)),
                NFTA_CHAIN_POLICY => policy = Some(Policy::from_number(get_u32(v, "policy")?)),
                NFTA_CHAIN_USERDATA => c.userdata = Some(v.to_vec()),
                NFTA_CHAIN_HOOK => {
                    let mut h = (None, None, None);
                    for a in iter(v) {
                        let (k, _, v) = a?;
                        match k {
                            NFTA_HOOK_HOOKNUM => h.0 = Some(get_u32(v, "hook number")?),
                            NFTA_HOOK_PRIORITY => h.1 = Some(get_u32(v, "hook priority")? as i32),
                            NFTA_HOOK_DEV => h.2 = Some(get_str(v, "hook device")?),
                            _ => {}
                        }
                    }
                    hook = Some(h);
                }
                _ => c.unknown.push(RawAttr::new(full, v.to_vec())),
            }
        }
        if let Some((num, prio, dev)) = hook {
            c.base = Some(BaseChain {
                chain_type: ctype.unwrap_or(ChainType::Filter),
                hook: Hook::from_number(num.unwrap_or(0)),
                priority: Priority(prio.unwrap_or(0)),
                policy: policy.unwrap_or(Policy::Accept),
                device: dev,
            });
        }
        Ok(c)
    }
}

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain {} {} {}", self.family, self.table, self.name)
    }
}
