//! Rules (`NFT_MSG_*RULE`): expressions, the comment nft keeps in the
//! rule's user data, and the handle rules are changed by.
//!
//! Numbers from `include/uapi/linux/netfilter/nf_tables.h` (`enum
//! nft_rule_attributes`, `enum nft_rule_compat_attributes`,
//! `NFT_USERDATA_MAXLEN`). The comment format is libnftnl's user-data TLV
//! (`struct nftnl_udata`: type byte, length byte, value), type 0
//! (`NFTNL_UDATA_RULE_COMMENT`), a NUL-terminated string.

use nl_engine::DecodeError;

use crate::attr::{RawAttr, Writer, get_str, get_u32, get_u64, iter};
use crate::expr::Expr;
use crate::msg::{Command, NftMessage};
use crate::table::Family;

const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_COMPAT: u16 = 5;
const NFTA_RULE_POSITION: u16 = 6;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_RULE_ID: u16 = 9;
const NFTA_RULE_COMPAT_PROTO: u16 = 1;
const NFTA_RULE_COMPAT_FLAGS: u16 = 2;

/// `NFTNL_UDATA_RULE_COMMENT`
const UDATA_RULE_COMMENT: u8 = 0;
/// `NFT_USERDATA_MAXLEN`
pub const USERDATA_MAXLEN: usize = 256;

/// `NFTA_RULE_COMPAT`: the protocol an xtables match was written for.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuleCompat {
    /// `NFTA_RULE_COMPAT_PROTO`
    pub proto: u32,
    /// `NFTA_RULE_COMPAT_FLAGS` (`NFT_RULE_COMPAT_F_INV` 1)
    pub flags: u32,
}

/// An nf_tables rule.
///
/// ```
/// use nftables_glue::{Expr, Family, Rule, Verdict};
/// let r = Rule::new(Family::Ipv4, "nat", "PREROUTING")
///     .with_exprs(vec![Expr::verdict(Verdict::Jump("ZGZ-SERVICES".into()))])
///     .with_comment("zgz service portals")?;
/// assert_eq!(r.comment().as_deref(), Some("zgz service portals"));
/// # Ok::<(), nftables_glue::Error>(())
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Family of its table.
    pub family: Family,
    /// Its table.
    pub table: String,
    /// Its chain.
    pub chain: String,
    /// Kernel handle (read back; names the rule to replace or delete).
    pub handle: Option<u64>,
    /// Handle of the rule to add after (append) or before (insert).
    pub position: Option<u64>,
    /// Expressions, in order.
    pub exprs: Vec<Expr>,
    /// `NFTA_RULE_COMPAT`, set by iptables-nft for protocol-bound matches.
    pub compat: Option<RuleCompat>,
    /// User data (nft's TLVs; the comment is type 0).
    pub userdata: Option<Vec<u8>>,
    /// Transaction-local id (`NFTA_RULE_ID`).
    pub id: Option<u32>,
    /// Attributes not interpreted here.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl Rule {
    /// An empty rule in `table`/`chain`.
    pub fn new(family: Family, table: impl Into<String>, chain: impl Into<String>) -> Self {
        Rule {
            family,
            table: table.into(),
            chain: chain.into(),
            handle: None,
            position: None,
            exprs: Vec::new(),
            compat: None,
            userdata: None,
            id: None,
            unknown: Vec::new(),
        }
    }

    /// This rule with these expressions.
    pub fn with_exprs(mut self, exprs: Vec<Expr>) -> Self {
        self.exprs = exprs;
        self
    }

    /// This rule with its kernel handle (to replace or delete it).
    ///
    /// ```
    /// use nftables_glue::{Expr, Family, Rule, RuleCompat, Verdict};
    /// // nft replace rule ip nat PREROUTING handle 7 accept
    /// let r = Rule::new(Family::Ipv4, "nat", "PREROUTING")
    ///     .with_handle(7)
    ///     .with_exprs(vec![Expr::verdict(Verdict::Accept)]);
    /// assert_eq!(r.handle, Some(7));
    /// // nft add rule ip nat PREROUTING position 7 ... (iptables-nft's compat)
    /// let r = Rule::new(Family::Ipv4, "nat", "PREROUTING")
    ///     .with_position(7)
    ///     .with_compat(RuleCompat::default());
    /// assert_eq!(r.position, Some(7));
    /// ```
    pub fn with_handle(mut self, handle: u64) -> Self {
        self.handle = Some(handle);
        self
    }
    /// This rule placed after (append) or before (insert) the rule of this handle.
    pub fn with_position(mut self, position: u64) -> Self {
        self.position = Some(position);
        self
    }
    /// This rule with `NFTA_RULE_COMPAT` (iptables-nft sets it for protocol-bound matches).
    pub fn with_compat(mut self, compat: RuleCompat) -> Self {
        self.compat = Some(compat);
        self
    }
    /// This rule with a transaction-local id.
    pub fn with_id(mut self, id: u32) -> Self {
        self.id = Some(id);
        self
    }

    /// This rule with a comment, stored as `nft` stores it so that `nft
    /// list` shows it.
    pub fn with_comment(mut self, comment: &str) -> Result<Self, nl_engine::Error> {
        if comment.contains('\0') || comment.len() + 1 > usize::from(u8::MAX) {
            return Err(nl_engine::Error::invalid_input(
                format!("rule comment {comment:?}"),
                "must be at most 254 bytes without NUL",
            ));
        }
        let mut u = vec![UDATA_RULE_COMMENT, (comment.len() + 1) as u8];
        u.extend_from_slice(comment.as_bytes());
        u.push(0);
        self.userdata = Some(u);
        Ok(self)
    }

    /// The comment in the user data, if any.
    pub fn comment(&self) -> Option<String> {
        let mut u = self.userdata.as_deref()?;
        while let [t, l, rest @ ..] = u {
            let l = usize::from(*l);
            let v = rest.get(..l)?;
            if *t == UDATA_RULE_COMMENT {
                let text = v.split(|&b| b == 0).next().unwrap_or_default();
                return String::from_utf8(text.to_vec()).ok();
            }
            u = rest.get(l..)?;
        }
        None
    }

    /// Encodes the attributes in the order `nft` sends them.
    pub fn emit(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_RULE_TABLE, &self.table)
            .str(NFTA_RULE_CHAIN, &self.chain);
        if let Some(h) = self.handle {
            w.u64be(NFTA_RULE_HANDLE, h);
        }
        if let Some(p) = self.position {
            w.u64be(NFTA_RULE_POSITION, p);
        }
        w.nest(NFTA_RULE_EXPRESSIONS, |e| {
            e.buf.extend_from_slice(&Expr::emit_list(&self.exprs));
        });
        if let Some(c) = self.compat {
            w.nest(NFTA_RULE_COMPAT, |n| {
                n.u32be(NFTA_RULE_COMPAT_PROTO, c.proto)
                    .u32be(NFTA_RULE_COMPAT_FLAGS, c.flags);
            });
        }
        if let Some(u) = &self.userdata {
            w.bytes(NFTA_RULE_USERDATA, u);
        }
        if let Some(id) = self.id {
            w.u32be(NFTA_RULE_ID, id);
        }
        w.raw(&self.unknown);
        w.finish()
    }

    /// Encodes what identifies the rule: table, chain and handle.
    pub fn emit_key(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_RULE_TABLE, &self.table)
            .str(NFTA_RULE_CHAIN, &self.chain);
        if let Some(h) = self.handle {
            w.u64be(NFTA_RULE_HANDLE, h);
        }
        w.finish()
    }

    /// This rule as a message of `command` (`DelRule` carries only the key).
    pub fn to_message(&self, command: Command) -> NftMessage {
        let attrs = match command {
            Command::NewRule => self.emit(),
            _ => self.emit_key(),
        };
        NftMessage::new(command, self.family.number(), attrs)
    }

    /// True when both rules do the same (same place, expressions, user
    /// data), ignoring handles and counter values.
    pub fn same_content(&self, other: &Rule) -> bool {
        let strip = |e: &[Expr]| -> Vec<Expr> {
            e.iter()
                .map(|x| match x {
                    Expr::Counter(_) => Expr::counter(),
                    Expr::Lookup(l) => {
                        let mut l = l.clone();
                        l.set_id = None;
                        Expr::Lookup(l)
                    }
                    x => x.clone(),
                })
                .collect()
        };
        self.family == other.family
            && self.table == other.table
            && self.chain == other.chain
            && strip(&self.exprs) == strip(&other.exprs)
            && self.userdata == other.userdata
            && self.compat == other.compat
    }

    /// Decodes a rule message.
    pub fn parse(msg: &NftMessage) -> Result<Self, DecodeError> {
        let mut r = Rule::new(Family::from_number(msg.header.family), "", "");
        for a in iter(&msg.attrs) {
            let (kind, full, v) = a?;
            match kind {
                NFTA_RULE_TABLE => r.table = get_str(v, "rule table")?,
                NFTA_RULE_CHAIN => r.chain = get_str(v, "rule chain")?,
                NFTA_RULE_HANDLE => r.handle = Some(get_u64(v, "rule handle")?),
                NFTA_RULE_POSITION => r.position = Some(get_u64(v, "rule position")?),
                NFTA_RULE_EXPRESSIONS => r.exprs = Expr::parse_list(v)?,
                NFTA_RULE_USERDATA => r.userdata = Some(v.to_vec()),
                NFTA_RULE_ID => r.id = Some(get_u32(v, "rule id")?),
                NFTA_RULE_COMPAT => {
                    let mut c = RuleCompat::default();
                    for a in iter(v) {
                        let (k, _, v) = a?;
                        match k {
                            NFTA_RULE_COMPAT_PROTO => c.proto = get_u32(v, "compat proto")?,
                            NFTA_RULE_COMPAT_FLAGS => c.flags = get_u32(v, "compat flags")?,
                            _ => {}
                        }
                    }
                    r.compat = Some(c);
                }
                _ => r.unknown.push(RawAttr::new(full, v.to_vec())),
            }
        }
        Ok(r)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {} {} {}", self.family, self.table, self.chain)?;
        if let Some(h) = self.handle {
            write!(f, " handle {h}")?;
        }
        Ok(())
    }
}
