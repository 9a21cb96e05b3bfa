//! Tables (`NFT_MSG_*TABLE`) and the address family every object lives in.
//!
//! Numbers from `include/uapi/linux/netfilter/nf_tables.h` (`enum
//! nft_table_attributes`, `enum nft_table_flags`) and
//! `include/uapi/linux/netfilter.h` (`NFPROTO_*`).

use bitflags::bitflags;
use nl_engine::DecodeError;

use crate::attr::{RawAttr, Writer, get_str, get_u32, get_u64, iter};
use crate::msg::{Command, NftMessage};

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_FLAGS: u16 = 2;
const NFTA_TABLE_USE: u16 = 3;
const NFTA_TABLE_HANDLE: u16 = 4;
const NFTA_TABLE_USERDATA: u16 = 6;
const NFTA_TABLE_OWNER: u16 = 7;

/// The family of a table (`NFPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `NFPROTO_UNSPEC` (0): every family, in dump requests.
    Unspec,
    /// `NFPROTO_INET` (1): IPv4 and IPv6 (`inet`).
    Inet,
    /// `NFPROTO_IPV4` (2): `ip`.
    Ipv4,
    /// `NFPROTO_ARP` (3).
    Arp,
    /// `NFPROTO_NETDEV` (5).
    Netdev,
    /// `NFPROTO_BRIDGE` (7).
    Bridge,
    /// `NFPROTO_IPV6` (10): `ip6`.
    Ipv6,
    /// Any other value.
    Other(u8),
}

impl Family {
    /// The `NFPROTO_*` number.
    pub fn number(self) -> u8 {
        match self {
            Family::Unspec => 0,
            Family::Inet => 1,
            Family::Ipv4 => 2,
            Family::Arp => 3,
            Family::Netdev => 5,
            Family::Bridge => 7,
            Family::Ipv6 => 10,
            Family::Other(n) => n,
        }
    }

    /// The family of an `NFPROTO_*` number.
    pub fn from_number(n: u8) -> Self {
        match n {
            0 => Family::Unspec,
            1 => Family::Inet,
            2 => Family::Ipv4,
            3 => Family::Arp,
            5 => Family::Netdev,
            7 => Family::Bridge,
            10 => Family::Ipv6,
            n => Family::Other(n),
        }
    }

    /// The name `nft` uses (`ip`, `ip6`, `inet`, ...).
    pub fn nft_name(self) -> String {
        match self {
            Family::Unspec => "unspec".into(),
            Family::Inet => "inet".into(),
            Family::Ipv4 => "ip".into(),
            Family::Arp => "arp".into(),
            Family::Netdev => "netdev".into(),
            Family::Bridge => "bridge".into(),
            Family::Ipv6 => "ip6".into(),
            Family::Other(n) => format!("family-{n}"),
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.nft_name())
    }
}

bitflags! {
    /// `enum nft_table_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TableFlags: u32 {
        /// `NFT_TABLE_F_DORMANT`: the table's chains are not registered.
        const DORMANT = 0x1;
        /// `NFT_TABLE_F_OWNER`: removed when the owning socket closes.
        const OWNER = 0x2;
        const _ = !0;
    }
}

/// An nf_tables table.
///
/// ```
/// use nftables_glue::{Family, Table};
/// let t = Table::new(Family::Ipv4, "zgz-services");
/// assert_eq!(t.to_string(), "table ip zgz-services");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Table {
    /// Its family.
    pub family: Family,
    /// Its name.
    pub name: String,
    /// Its flags (emitted always, as `nft` does).
    pub flags: TableFlags,
    /// Kernel handle (read back only).
    pub handle: Option<u64>,
    /// How many chains it holds (read back only).
    pub use_count: Option<u32>,
    /// Opaque user data.
    pub userdata: Option<Vec<u8>>,
    /// Netlink port owning the table (read back only).
    pub owner: Option<u32>,
    /// Attributes not interpreted here.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unknown: Vec<RawAttr>,
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table {} {}", self.family, self.name)
    }
}

impl Table {
    /// A table named `name` in `family`.
    pub fn new(family: Family, name: impl Into<String>) -> Self {
        Table {
            family,
            name: name.into(),
            flags: TableFlags::empty(),
            handle: None,
            use_count: None,
            userdata: None,
            owner: None,
            unknown: Vec::new(),
        }
    }

    /// This table with these flags (`dormant`, `owner`, ...).
    pub fn with_flags(mut self, flags: TableFlags) -> Self {
        self.flags = flags;
        self
    }
    /// This table with opaque user data.
    pub fn with_userdata(mut self, userdata: Vec<u8>) -> Self {
        self.userdata = Some(userdata);
        self
    }

    /// Encodes the attributes in the order `nft` sends them.
    pub fn emit(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_TABLE_NAME, &self.name);
        w.u32be(NFTA_TABLE_FLAGS, self.flags.bits());
        if let Some(h) = self.handle {
            w.u64be(NFTA_TABLE_HANDLE, h);
        }
        if let Some(u) = &self.userdata {
            w.bytes(NFTA_TABLE_USERDATA, u);
        }
        w.raw(&self.unknown);
        w.finish()
    }

    /// Encodes only what identifies the table (for deletes and dumps).
    pub fn emit_key(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.str(NFTA_TABLE_NAME, &self.name);
        w.finish()
    }

    /// This table as a message of `command`.
    pub fn to_message(&self, command: Command) -> NftMessage {
        let attrs = match command {
            Command::NewTable => self.emit(),
            _ => self.emit_key(),
        };
        NftMessage::new(command, self.family.number(), attrs)
    }

    /// Decodes a table message.
    pub fn parse(msg: &NftMessage) -> Result<Self, DecodeError> {
        let mut t = Table::new(Family::from_number(msg.header.family), "");
        for a in iter(&msg.attrs) {
            let (kind, full, v) = a?;
            match kind {
                NFTA_TABLE_NAME => t.name = get_str(v, "table name")?,
                NFTA_TABLE_FLAGS => {
                    t.flags = TableFlags::from_bits_retain(get_u32(v, "table flags")?)
                }
                NFTA_TABLE_USE => t.use_count = Some(get_u32(v, "table use")?),
                NFTA_TABLE_HANDLE => t.handle = Some(get_u64(v, "table handle")?),
                NFTA_TABLE_USERDATA => t.userdata = Some(v.to_vec()),
                NFTA_TABLE_OWNER => t.owner = Some(get_u32(v, "table owner")?),
                _ => t.unknown.push(RawAttr::new(full, v.to_vec())),
            }
        }
        Ok(t)
    }
}
