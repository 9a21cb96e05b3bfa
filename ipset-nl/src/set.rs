//! Sets: what to create ([`CreateSet`], [`CreateOptions`]) and what the
//! kernel lists ([`IpSet`]).

use nl_engine::Error;

use crate::attr::{CreateAttr, IpsetAttr};
use crate::entry::{Entry, IpPortEntry};
use crate::typed::{
    IpEntry, IpPortIpEntry, IpPortNetEntry, NetEntry, PortEntry, SetElement, TypedEntry,
};
use crate::types::{CadtFlags, Family, SetType, Timeout};

/// The newest `hash:ip,port` revision this crate knows (7).
pub const HASH_IP_PORT_MAX_REVISION: u8 = 7;

/// Creation options of a set (the create-data nest), typed for the hash
/// types; anything else is kept in `other`.
///
/// ```
/// use ipset_nl::CreateOptions;
/// let o = CreateOptions::default().timeout(300).counters().maxelem(1 << 20);
/// assert_eq!(o.min_hash_ip_port_revision(), 2);
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CreateOptions {
    /// Default element timeout; makes a set with timeouts.
    pub timeout: Option<Timeout>,
    /// Extensions and other create flags (counters, comment, forceadd,
    /// skbinfo; unknown bits kept).
    pub flags: CadtFlags,
    /// Hash size (rounded by the kernel to a power of two).
    pub hashsize: Option<u32>,
    /// Maximal number of elements.
    pub maxelem: Option<u32>,
    /// Bucket size (revision 6 and later).
    pub bucketsize: Option<u8>,
    /// Hash seed (revision 6 and later).
    pub initval: Option<u32>,
    /// Netmask (hash:ip, bitmap:ip).
    pub netmask: Option<u8>,
    /// The port range of a `bitmap:port` set (first and last port).
    pub port_range: Option<(u16, u16)>,
    /// Other create attributes (bitmap ranges, list:set size, markmask, ...).
    #[cfg_attr(
        feature = "serde",
        serde(default, serialize_with = "crate::serde_impls::known_create_attrs")
    )]
    pub other: Vec<CreateAttr>,
}

impl CreateOptions {
    /// Sets a default timeout (seconds): the set supports timeouts.
    pub fn timeout(mut self, secs: u32) -> Self {
        self.timeout = Some(Timeout(secs));
        self
    }
    /// Packet and byte counters on every element.
    pub fn counters(mut self) -> Self {
        self.flags |= CadtFlags::WITH_COUNTERS;
        self
    }
    /// A comment on every element.
    pub fn comment(mut self) -> Self {
        self.flags |= CadtFlags::WITH_COMMENT;
        self
    }
    /// skbinfo (mark, priority, queue) on every element.
    pub fn skbinfo(mut self) -> Self {
        self.flags |= CadtFlags::WITH_SKBINFO;
        self
    }
    /// When full, evict a random element instead of failing.
    pub fn forceadd(mut self) -> Self {
        self.flags |= CadtFlags::WITH_FORCEADD;
        self
    }
    /// Initial hash size.
    pub fn hashsize(mut self, n: u32) -> Self {
        self.hashsize = Some(n);
        self
    }
    /// Maximal number of elements.
    pub fn maxelem(mut self, n: u32) -> Self {
        self.maxelem = Some(n);
        self
    }
    /// Bucket size.
    pub fn bucketsize(mut self, n: u8) -> Self {
        self.bucketsize = Some(n);
        self
    }
    /// Hash seed.
    pub fn initval(mut self, n: u32) -> Self {
        self.initval = Some(n);
        self
    }
    /// The ports of a `bitmap:port` set, `from` to `to` included.
    pub fn port_range(mut self, from: u16, to: u16) -> Self {
        self.port_range = Some((from, to));
        self
    }
    /// Netmask (hash:ip, bitmap:ip): addresses are stored as this prefix.
    pub fn netmask(mut self, prefix: u8) -> Self {
        self.netmask = Some(prefix);
        self
    }
    /// Create flags as they are (the typed setters above set single bits).
    pub fn flags(mut self, flags: CadtFlags) -> Self {
        self.flags = flags;
        self
    }
    /// Another create attribute, sent after the typed ones (`list:set`
    /// size, markmask, bitmap ranges, ...).
    pub fn other(mut self, attr: CreateAttr) -> Self {
        self.other.push(attr);
        self
    }

    /// True when the set has counters.
    pub fn has_counters(&self) -> bool {
        self.flags.contains(CadtFlags::WITH_COUNTERS)
    }
    /// True when the set has comments.
    pub fn has_comment(&self) -> bool {
        self.flags.contains(CadtFlags::WITH_COMMENT)
    }
    /// True when the set has skbinfo.
    pub fn has_skbinfo(&self) -> bool {
        self.flags.contains(CadtFlags::WITH_SKBINFO)
    }
    /// True when the set evicts on full.
    pub fn has_forceadd(&self) -> bool {
        self.flags.contains(CadtFlags::WITH_FORCEADD)
    }

    /// The lowest `hash:ip,port` revision offering every option asked for
    /// (2 counters, 3 comment, 4 forceadd, 5 skbinfo, 6 bucketsize/initval).
    pub fn min_hash_ip_port_revision(&self) -> u8 {
        let mut r = 0;
        if self.has_counters() {
            r = r.max(2);
        }
        if self.has_comment() {
            r = r.max(3);
        }
        if self.has_forceadd() {
            r = r.max(4);
        }
        if self.has_skbinfo() {
            r = r.max(5);
        }
        if self.bucketsize.is_some() || self.initval.is_some() {
            r = r.max(6);
        }
        r
    }

    /// The create-data attributes, in the order the `ipset` tool sends them.
    pub fn to_attrs(&self) -> Vec<CreateAttr> {
        let mut v = Vec::new();
        if let Some((from, to)) = self.port_range {
            v.push(CreateAttr::Port(from));
            v.push(CreateAttr::PortTo(to));
        }
        if let Some(t) = self.timeout {
            v.push(CreateAttr::Timeout(t));
        }
        if !self.flags.is_empty() {
            v.push(CreateAttr::CadtFlags(self.flags));
        }
        if let Some(x) = self.initval {
            v.push(CreateAttr::InitVal(x));
        }
        if let Some(x) = self.hashsize {
            v.push(CreateAttr::HashSize(x));
        }
        if let Some(x) = self.maxelem {
            v.push(CreateAttr::MaxElem(x));
        }
        if let Some(x) = self.netmask {
            v.push(CreateAttr::Netmask(x));
        }
        if let Some(x) = self.bucketsize {
            v.push(CreateAttr::BucketSize(x));
        }
        v.extend(self.other.iter().cloned());
        v
    }

    /// Splits a header's create data into options and the kernel's counts
    /// (elements, references, memory size).
    pub fn from_attrs(attrs: &[CreateAttr]) -> (Self, SetCounts) {
        let mut o = CreateOptions::default();
        let mut c = SetCounts::default();
        let port = attrs.iter().find_map(|a| match a {
            CreateAttr::Port(p) => Some(*p),
            _ => None,
        });
        let port_to = attrs.iter().find_map(|a| match a {
            CreateAttr::PortTo(p) => Some(*p),
            _ => None,
        });
        if let (Some(from), Some(to)) = (port, port_to) {
            o.port_range = Some((from, to));
        }
        for a in attrs {
            match a {
                CreateAttr::Port(_) | CreateAttr::PortTo(_) if o.port_range.is_some() => {}
                CreateAttr::Timeout(t) => o.timeout = Some(*t),
                CreateAttr::CadtFlags(f) => o.flags = *f,
                CreateAttr::HashSize(x) => o.hashsize = Some(*x),
                CreateAttr::MaxElem(x) => o.maxelem = Some(*x),
                CreateAttr::BucketSize(x) => o.bucketsize = Some(*x),
                CreateAttr::InitVal(x) => o.initval = Some(*x),
                CreateAttr::Netmask(x) => o.netmask = Some(*x),
                CreateAttr::Elements(x) => c.elements = Some(*x),
                CreateAttr::References(x) => c.references = Some(*x),
                CreateAttr::MemSize(x) => c.memsize = Some(*x),
                other => o.other.push(other.clone()),
            }
        }
        (o, c)
    }
}

/// What the kernel counts about a set (list and save replies).
///
/// ```
/// use ipset_nl::SetCounts;
/// let c = SetCounts::default().elements(3).references(1);
/// assert_eq!((c.elements, c.references, c.memsize), (Some(3), Some(1), None));
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SetCounts {
    /// Number of entries.
    pub elements: Option<u32>,
    /// References held by the kernel (iptables rules, list:set, ...).
    pub references: Option<u32>,
    /// Memory used, bytes.
    pub memsize: Option<u32>,
}

impl SetCounts {
    /// `Number of entries: N`
    pub fn elements(mut self, n: u32) -> Self {
        self.elements = Some(n);
        self
    }
    /// `References: N`
    pub fn references(mut self, n: u32) -> Self {
        self.references = Some(n);
        self
    }
    /// `Size in memory: N`
    pub fn memsize(mut self, bytes: u32) -> Self {
        self.memsize = Some(bytes);
        self
    }
}

/// A set to create.
///
/// ```
/// use ipset_nl::{CreateSet, Family};
/// let spec = CreateSet::hash_ip_port("svc-v6")
///     .family(Family::Inet6)
///     .options(|o| o.timeout(600).counters().comment());
/// assert_eq!(spec.name, "svc-v6");
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateSet {
    /// Set name (at most 31 bytes).
    pub name: String,
    /// Set type.
    pub set_type: SetType,
    /// Address family.
    pub family: Family,
    /// Revision; `None` picks the newest the kernel and this crate share.
    pub revision: Option<u8>,
    /// Creation options.
    pub options: CreateOptions,
}

impl CreateSet {
    /// A set of any type.
    pub fn new(name: impl Into<String>, set_type: SetType) -> Self {
        CreateSet {
            name: name.into(),
            set_type,
            family: Family::Inet,
            revision: None,
            options: CreateOptions::default(),
        }
    }
    /// A `hash:ip,port` set, family inet.
    pub fn hash_ip_port(name: impl Into<String>) -> Self {
        Self::new(name, SetType::HashIpPort)
    }
    /// A `hash:ip` set, family inet ([`IpEntry`](crate::IpEntry) members).
    pub fn hash_ip(name: impl Into<String>) -> Self {
        Self::new(name, SetType::HashIp)
    }
    /// A `hash:net` set, family inet ([`NetEntry`](crate::NetEntry) members).
    pub fn hash_net(name: impl Into<String>) -> Self {
        Self::new(name, SetType::HashNet)
    }
    /// A `hash:ip,port,ip` set, family inet
    /// ([`IpPortIpEntry`](crate::IpPortIpEntry) members).
    pub fn hash_ip_port_ip(name: impl Into<String>) -> Self {
        Self::new(name, SetType::HashIpPortIp)
    }
    /// A `hash:ip,port,net` set, family inet
    /// ([`IpPortNetEntry`](crate::IpPortNetEntry) members).
    pub fn hash_ip_port_net(name: impl Into<String>) -> Self {
        Self::new(name, SetType::HashIpPortNet)
    }
    /// A `bitmap:port` set of the ports `from` to `to`
    /// ([`PortEntry`](crate::PortEntry) members; no family, as the `ipset`
    /// tool sends it).
    ///
    /// ```
    /// use ipset_nl::CreateSet;
    /// let s = CreateSet::bitmap_port("ports", 1, 1024).options(|o| o.timeout(60));
    /// assert_eq!(s.options.port_range, Some((1, 1024)));
    /// ```
    pub fn bitmap_port(name: impl Into<String>, from: u16, to: u16) -> Self {
        let mut s = Self::new(name, SetType::BitmapPort).family(Family::Unspec);
        s.options.port_range = Some((from, to));
        s
    }
    /// Sets the family.
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// Forces a revision.
    pub fn revision(mut self, revision: u8) -> Self {
        self.revision = Some(revision);
        self
    }
    /// Edits the options.
    pub fn options(mut self, f: impl FnOnce(CreateOptions) -> CreateOptions) -> Self {
        self.options = f(self.options);
        self
    }
}

/// A set as the kernel lists it: header, counts and members.
///
/// ```no_run
/// # async fn f() -> ipset_nl::Result<()> {
/// let h = ipset_nl::IpsetHandle::new()?;
/// for set in h.list(None).await? {
///     println!("{} {} rev {}: {} members", set.name, set.set_type, set.revision, set.members.len());
///     if set.set_type == ipset_nl::SetType::HashIpPort {
///         for m in set.ip_port_members()? {
///             println!("  {m}");
///         }
///     }
/// }
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpSet {
    /// Set name.
    pub name: String,
    /// Set type.
    pub set_type: SetType,
    /// Type revision.
    pub revision: u8,
    /// Address family.
    pub family: Family,
    /// The kernel's index of the set (protocol 7).
    pub index: Option<u16>,
    /// Creation options.
    pub options: CreateOptions,
    /// Counts.
    pub counts: SetCounts,
    /// Members, in the kernel's order (empty for header-only listings).
    pub members: Vec<Entry>,
    /// Command-level attributes this crate does not model.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub other: Vec<IpsetAttr>,
}

impl IpSet {
    pub(crate) fn empty(name: String) -> Self {
        IpSet {
            name,
            set_type: SetType::Other(String::new()),
            revision: 0,
            family: Family::Unspec,
            index: None,
            options: CreateOptions::default(),
            counts: SetCounts::default(),
            members: Vec::new(),
            other: Vec::new(),
        }
    }

    /// A set as `ipset create NAME TYPE` makes it (family inet, revision
    /// 0, no options, no members); the builders below add the rest, as
    /// the kernel would list it.
    ///
    /// ```
    /// use ipset_nl::{Family, IpPortEntry, IpProto, IpSet, SetCounts, SetType};
    /// // ipset create svc hash:ip,port family inet6 timeout 600; ipset add svc ...
    /// let set = IpSet::new("svc", SetType::HashIpPort)
    ///     .family(Family::Inet6)
    ///     .revision(7)
    ///     .options(|o| o.timeout(600))
    ///     .counts(SetCounts::default().elements(1))
    ///     .member(&IpPortEntry::new("2001:db8::1".parse().unwrap(), IpProto::Tcp, 80));
    /// assert_eq!(set.ip_port_members().unwrap()[0].port, 80);
    /// assert_eq!(set.to_create().options.timeout.map(|t| t.0), Some(600));
    /// ```
    pub fn new(name: impl Into<String>, set_type: SetType) -> Self {
        IpSet {
            set_type,
            family: Family::Inet,
            ..IpSet::empty(name.into())
        }
    }
    /// Sets the family.
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// Sets the type revision.
    pub fn revision(mut self, revision: u8) -> Self {
        self.revision = revision;
        self
    }
    /// Sets the kernel's index of the set.
    pub fn index(mut self, index: u16) -> Self {
        self.index = Some(index);
        self
    }
    /// Edits the creation options.
    pub fn options(mut self, f: impl FnOnce(CreateOptions) -> CreateOptions) -> Self {
        self.options = f(self.options);
        self
    }
    /// Sets the counts.
    pub fn counts(mut self, counts: SetCounts) -> Self {
        self.counts = counts;
        self
    }
    /// Adds a member (as its attributes, the way the kernel lists it).
    pub fn member(mut self, e: &(impl crate::entry::Element + ?Sized)) -> Self {
        self.members.push(Entry::new(e.to_attrs()));
        self
    }

    /// Folds list or save reply messages into sets (a large set comes in
    /// several messages: the first with its header, then more members).
    pub fn from_messages(msgs: Vec<crate::message::IpsetMessage>) -> Vec<IpSet> {
        crate::handle::merge_dump(msgs)
    }

    /// The members read as `hash:ip,port` elements.
    pub fn ip_port_members(&self) -> Result<Vec<IpPortEntry>, Error> {
        self.members.iter().map(Entry::as_ip_port).collect()
    }

    /// The members read as typed elements of this set's type: `E` is the
    /// type's own ([`IpEntry`] for `hash:ip`, ...) or [`TypedEntry`] for
    /// any supported type; an [`Error::InvalidInput`] for a set of another
    /// type.
    ///
    /// ```no_run
    /// # async fn f() -> ipset_nl::Result<()> {
    /// use ipset_nl::{IpsetHandle, NetEntry, TypedEntry};
    /// let h = IpsetHandle::new()?;
    /// let set = h.list(Some("nets")).await?.remove(0);
    /// let nets: Vec<NetEntry> = set.members_as()?;
    /// let any: Vec<TypedEntry> = set.typed_members()?;
    /// # Ok(()) }
    /// ```
    pub fn members_as<E: SetElement>(&self) -> Result<Vec<E>, Error> {
        if !E::accepts(&self.set_type) {
            return Err(Error::invalid_input(
                format!("members of set {}", self.name),
                format!("a {} set has no members of this type", self.set_type),
            ));
        }
        self.members
            .iter()
            .map(|m| E::from_member(&self.set_type, &m.attrs))
            .collect()
    }
    /// The members of a set of any supported type.
    pub fn typed_members(&self) -> Result<Vec<TypedEntry>, Error> {
        self.members_as()
    }
    /// The members read as `hash:ip` elements.
    pub fn ip_members(&self) -> Result<Vec<IpEntry>, Error> {
        self.members_as()
    }
    /// The members read as `hash:net` elements.
    pub fn net_members(&self) -> Result<Vec<NetEntry>, Error> {
        self.members_as()
    }
    /// The members read as `hash:ip,port,ip` elements.
    pub fn ip_port_ip_members(&self) -> Result<Vec<IpPortIpEntry>, Error> {
        self.members_as()
    }
    /// The members read as `hash:ip,port,net` elements.
    pub fn ip_port_net_members(&self) -> Result<Vec<IpPortNetEntry>, Error> {
        self.members_as()
    }
    /// The members read as `bitmap:port` elements.
    pub fn port_members(&self) -> Result<Vec<PortEntry>, Error> {
        self.members_as()
    }

    /// The create request that would make this set again (same type,
    /// revision, family and options).
    pub fn to_create(&self) -> CreateSet {
        CreateSet {
            name: self.name.clone(),
            set_type: self.set_type.clone(),
            family: self.family,
            revision: Some(self.revision),
            options: self.options.clone(),
        }
    }
}

/// A set's header as the header command returns it.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetHeader {
    /// Set name.
    pub name: String,
    /// Set type.
    pub set_type: SetType,
    /// Type revision.
    pub revision: u8,
    /// Address family.
    pub family: Family,
    /// The kernel's index of the set.
    pub index: Option<u16>,
}

impl SetHeader {
    /// The header of set `name` (no index, as protocol 6 reports it).
    ///
    /// ```
    /// use ipset_nl::{Family, SetHeader, SetType};
    /// let h = SetHeader::new("svc", SetType::HashIp, 6, Family::Inet).index(0);
    /// assert_eq!(h.index, Some(0));
    /// ```
    pub fn new(name: impl Into<String>, set_type: SetType, revision: u8, family: Family) -> Self {
        SetHeader {
            name: name.into(),
            set_type,
            revision,
            family,
            index: None,
        }
    }
    /// Sets the kernel's index of the set.
    pub fn index(mut self, index: u16) -> Self {
        self.index = Some(index);
        self
    }
}

/// The protocol versions the kernel speaks.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolVersion {
    /// The kernel's protocol version.
    pub version: u8,
    /// The oldest version it accepts, when it said.
    pub min: Option<u8>,
}

/// The revisions of a set type the kernel supports.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeRevisions {
    /// Newest revision.
    pub max: u8,
    /// Oldest revision.
    pub min: u8,
}
