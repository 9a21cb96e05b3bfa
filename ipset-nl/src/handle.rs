//! [`IpsetHandle`]: every ipset command, async, in one network namespace.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use netlink_packet_core::NetlinkMessage;
use nl_engine::{Connection, Error, Netns, Protocol, Result};

use crate::attr::IpsetAttr;
use crate::constants::*;
use crate::entry::{Element, Entry};
use crate::error::map_error;
use crate::message::{Command, IpsetMessage};
use crate::request;
use crate::set::{
    CreateOptions, CreateSet, HASH_IP_PORT_MAX_REVISION, IpSet, ProtocolVersion, SetHeader,
    TypeRevisions,
};
use crate::types::{Family, SetType};

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ListDetail {
    /// Headers and members (`ipset list`).
    #[default]
    Full,
    /// Headers only (`ipset list -t`, `IPSET_FLAG_LIST_HEADER`).
    Headers,
    /// Names only (`ipset list -n`, `IPSET_FLAG_LIST_SETNAME`).
    Names,
}

/// An async handle on the ipset subsystem of one network namespace.
///
/// The protocol version is negotiated on first use: 7, falling back to 6
/// for older kernels. Set type revisions are negotiated per create (the
/// newest both the kernel and this crate know, at least what the options
/// need).
///
/// ```no_run
/// use ipset_nl::{CreateSet, IpPortEntry, IpProto, IpsetHandle};
/// # async fn f() -> ipset_nl::Result<()> {
/// let ipset = IpsetHandle::new()?;
/// ipset.create(&CreateSet::hash_ip_port("svc").options(|o| o.timeout(600)), false).await?;
/// let web = IpPortEntry::new("10.0.0.1".parse().unwrap(), IpProto::Tcp, 80);
/// ipset.add("svc", &web, false).await?;
/// assert!(ipset.test("svc", &web).await?);
/// ipset.destroy(Some("svc")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IpsetHandle {
    pub(crate) conn: Connection,
    // any runtime: no async once-cell (two first calls at once may both
    // ask; they get the same answer)
    proto: Arc<OnceLock<u8>>,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() >= IPSET_MAXNAMELEN || name.contains('\0') {
        return Err(Error::invalid_input(
            format!("set name {name:?}"),
            "must be 1 to 31 bytes without NUL",
        ));
    }
    Ok(())
}

impl IpsetHandle {
    /// A handle on the caller's network namespace.
    pub fn new() -> Result<Self> {
        Self::in_netns(&Netns::current())
    }

    /// A handle on another network namespace (the calling thread does not
    /// move).
    pub fn in_netns(netns: &Netns) -> Result<Self> {
        Self::with_connection(Connection::open(Protocol::Netfilter, netns)?)
    }

    /// A handle over an already opened netfilter connection (to choose its
    /// timeout, buffer sizes or namespace; [`Error::InvalidInput`] for
    /// another protocol). The connection's batch buffer is prepared here
    /// ([`Connection::prepare_batches`]), so that bulk requests do not wait
    /// on page faults.
    pub fn with_connection(conn: Connection) -> Result<Self> {
        conn.expect_protocol(Protocol::Netfilter, "an ipset handle")?;
        conn.prepare_batches();
        Ok(IpsetHandle {
            conn,
            proto: Arc::new(OnceLock::new()),
        })
    }

    /// This handle with another timeout for each wait on the kernel.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.conn = self.conn.with_timeout(timeout);
        self
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    async fn exec(
        &self,
        cmd: Command,
        m: NetlinkMessage<IpsetMessage>,
        ctx: &str,
        set_type: Option<&str>,
    ) -> Result<Vec<IpsetMessage>> {
        self.conn
            .request(ctx, m)
            .await
            .map_err(|e| remap(e, cmd, set_type))
    }

    /// Asks the kernel's protocol version, offering `ours`.
    pub async fn kernel_protocol(&self, ours: u8) -> Result<ProtocolVersion> {
        let m = request::protocol(ours);
        let replies = self
            .conn
            .request("ipset protocol", m)
            .await
            .map_err(|e| remap(e, Command::Protocol, None))?;
        let mut v = ProtocolVersion {
            version: 0,
            min: None,
        };
        for a in replies.iter().flat_map(|r| r.attrs.iter()) {
            match a {
                IpsetAttr::Protocol(p) => v.version = *p,
                IpsetAttr::ProtocolMin(p) => v.min = Some(*p),
                _ => {}
            }
        }
        if v.version == 0 {
            return Err(Error::Decode {
                context: "ipset protocol".into(),
                reason: "reply without a protocol version".into(),
            });
        }
        Ok(v)
    }

    /// The protocol version used on this handle: 7, or 6 with a kernel that
    /// only speaks 6. Negotiated once.
    pub async fn protocol(&self) -> Result<u8> {
        if let Some(v) = self.proto.get() {
            return Ok(*v);
        }
        let v = match self.kernel_protocol(IPSET_PROTOCOL).await {
            Ok(v) => v.version,
            // Kernels speaking only 6 refuse a request of 7.
            Err(e) if e.errno() == Some(IPSET_ERR_PROTOCOL) => {
                self.kernel_protocol(IPSET_PROTOCOL_MIN).await?.version
            }
            Err(e) => return Err(e),
        };
        if v < IPSET_PROTOCOL_MIN {
            return Err(Error::Unsupported {
                context: "ipset protocol".into(),
                what: format!("ipset protocol {IPSET_PROTOCOL_MIN} or later (kernel speaks {v})"),
                hint: "use a kernel from 2.6.39 or later".into(),
            });
        }
        let v = v.min(IPSET_PROTOCOL);
        Ok(*self.proto.get_or_init(|| v))
    }

    /// The revisions of `set_type` for `family` the kernel supports
    /// (`IPSET_CMD_TYPE`; loads the type's module when it can).
    pub async fn type_revisions(
        &self,
        set_type: &SetType,
        family: Family,
    ) -> Result<TypeRevisions> {
        let ctx = format!("query set type {set_type} family {family}");
        let p = self.protocol().await?;
        let r = self
            .exec(
                Command::Type,
                request::type_query(p, set_type, family),
                &ctx,
                Some(set_type.name()),
            )
            .await
            .map_err(|e| match e {
                Error::Exists { context, .. } | Error::NotFound { context, .. } => {
                    Error::Unsupported {
                        context,
                        what: format!("the set type {set_type} for family {family}"),
                        hint: "load its kernel module (hash:ip,port: modprobe ip_set_hash_ipport)"
                            .into(),
                    }
                }
                e => e,
            })?;
        let mut t = TypeRevisions { max: 0, min: 0 };
        let mut seen = false;
        for a in r.iter().flat_map(|m| m.attrs.iter()) {
            match a {
                IpsetAttr::Revision(v) => {
                    t.max = *v;
                    seen = true;
                }
                IpsetAttr::RevisionMin(v) => t.min = *v,
                _ => {}
            }
        }
        if !seen {
            return Err(Error::Decode {
                context: ctx,
                reason: "type reply without a revision".into(),
            });
        }
        Ok(t)
    }

    /// The revision `create` would use for `spec`.
    pub async fn pick_revision(&self, spec: &CreateSet) -> Result<u8> {
        if let Some(r) = spec.revision {
            return Ok(r);
        }
        let t = self.type_revisions(&spec.set_type, spec.family).await?;
        if spec.set_type != SetType::HashIpPort {
            return Ok(t.max);
        }
        let need = spec.options.min_hash_ip_port_revision();
        let rev = t.max.min(HASH_IP_PORT_MAX_REVISION);
        if rev < need || rev < t.min {
            return Err(Error::Unsupported {
                context: format!("create set {}", spec.name),
                what: format!(
                    "hash:ip,port revision {need} (needed by the options; the kernel offers {}..={})",
                    t.min, t.max
                ),
                hint: "drop the options the kernel lacks or use a newer kernel".into(),
            });
        }
        Ok(rev)
    }

    /// Creates a set (`ipset create`). With `exist`, an identical existing
    /// set is not an error (`-exist`).
    pub async fn create(&self, spec: &CreateSet, exist: bool) -> Result<()> {
        check_name(&spec.name)?;
        let rev = self.pick_revision(spec).await?;
        let ctx = format!("create set {} {}", spec.name, spec.set_type);
        let p = self.protocol().await?;
        self.exec(
            Command::Create,
            request::create(p, spec, rev, exist),
            &ctx,
            Some(spec.set_type.name()),
        )
        .await
        .map(drop)
    }

    /// Destroys one set, or every set with `None` (`ipset destroy`).
    pub async fn destroy(&self, name: Option<&str>) -> Result<()> {
        let ctx = format!("destroy set {}", name.unwrap_or("(all)"));
        let p = self.protocol().await?;
        self.exec(Command::Destroy, request::destroy(p, name), &ctx, None)
            .await
            .map(drop)
    }

    /// Removes every member of one set, or of every set with `None`.
    pub async fn flush(&self, name: Option<&str>) -> Result<()> {
        let ctx = format!("flush set {}", name.unwrap_or("(all)"));
        let p = self.protocol().await?;
        self.exec(Command::Flush, request::flush(p, name), &ctx, None)
            .await
            .map(drop)
    }

    /// Renames a set.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        check_name(to)?;
        let ctx = format!("rename set {from} to {to}");
        let p = self.protocol().await?;
        let m = request::rename(p, from, to);
        self.exec(Command::Rename, m, &ctx, None).await.map(drop)
    }

    /// Swaps the contents (and names) of two sets of the same type.
    pub async fn swap(&self, a: &str, b: &str) -> Result<()> {
        let ctx = format!("swap sets {a} and {b}");
        let p = self.protocol().await?;
        let m = request::swap(p, a, b);
        self.exec(Command::Swap, m, &ctx, None).await.map(drop)
    }

    /// A set's header (`IPSET_CMD_HEADER`): type, revision, family.
    pub async fn header(&self, name: &str) -> Result<SetHeader> {
        let ctx = format!("header of set {name}");
        let p = self.protocol().await?;
        let r = self
            .exec(Command::Header, request::header(p, name), &ctx, None)
            .await?;
        let mut h = SetHeader {
            name: name.to_string(),
            set_type: SetType::Other(String::new()),
            revision: 0,
            family: Family::Unspec,
            index: None,
        };
        for a in r.iter().flat_map(|m| m.attrs.iter()) {
            match a {
                IpsetAttr::SetName(n) => h.name = n.clone(),
                IpsetAttr::TypeName(t) => h.set_type = SetType::from(t.as_str()),
                IpsetAttr::Revision(v) => h.revision = *v,
                IpsetAttr::Family(f) => h.family = *f,
                IpsetAttr::Index(i) => h.index = Some(*i),
                _ => {}
            }
        }
        Ok(h)
    }

    /// Lists one set or all (`ipset list`), with members.
    pub async fn list(&self, name: Option<&str>) -> Result<Vec<IpSet>> {
        self.list_with(Command::List, name, ListDetail::Full).await
    }

    /// Lists like `ipset save` does (`IPSET_CMD_SAVE`), with members.
    pub async fn save(&self, name: Option<&str>) -> Result<Vec<IpSet>> {
        self.list_with(Command::Save, name, ListDetail::Full).await
    }

    /// The names of all sets (`ipset list -n`).
    pub async fn list_names(&self) -> Result<Vec<String>> {
        Ok(self
            .list_with(Command::List, None, ListDetail::Names)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect())
    }

    /// Lists with `cmd` (list or save) at the given level of detail.
    pub async fn list_with(
        &self,
        cmd: Command,
        name: Option<&str>,
        detail: ListDetail,
    ) -> Result<Vec<IpSet>> {
        let ctx = format!("{cmd} set {}", name.unwrap_or("(all)"));
        let p = self.protocol().await?;
        let msgs = self
            .conn
            .dump(&ctx, request::list(p, cmd, name, detail))
            .await
            .map_err(|e| remap(e, cmd, None))?;
        Ok(merge_dump(msgs))
    }

    /// Adds one element (`ipset add`); with `exist`, an element already
    /// there is not an error (and its extensions are updated).
    pub async fn add(&self, set: &str, e: &impl Element, exist: bool) -> Result<()> {
        self.adt(Command::Add, set, e, exist).await
    }

    /// Deletes one element; with `exist`, a missing element is not an error.
    pub async fn del(&self, set: &str, e: &impl Element, exist: bool) -> Result<()> {
        self.adt(Command::Del, set, e, exist).await
    }

    /// Tests whether an element is in the set.
    pub async fn test(&self, set: &str, e: &impl Element) -> Result<bool> {
        match self.adt(Command::Test, set, e, false).await {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(IPSET_ERR_EXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn adt(&self, cmd: Command, set: &str, e: &impl Element, exist: bool) -> Result<()> {
        let ctx = format!("{cmd} {} in set {set}", e.describe());
        let p = self.protocol().await?;
        let m = request::adt(p, cmd, set, e, exist);
        self.exec(cmd, m, &ctx, None).await.map(drop)
    }
}

fn remap(e: Error, cmd: Command, set_type: Option<&str>) -> Error {
    match e.kernel_error().cloned() {
        Some(ke) => {
            let ctx = e.context().unwrap_or_default().to_string();
            // A kernel without the ipset subsystem answers EOPNOTSUPP.
            if ke.errno == libc::EOPNOTSUPP || ke.errno == libc::EPROTONOSUPPORT {
                return Error::Unsupported {
                    context: ctx,
                    what: "the ipset netlink subsystem".into(),
                    hint: "load the ip_set module (modprobe ip_set)".into(),
                };
            }
            map_error(cmd, set_type, ctx, ke)
        }
        None => e,
    }
}

/// Folds dump messages into sets: a large set comes in several messages,
/// the first with its header, the following ones with more members.
pub(crate) fn merge_dump(msgs: Vec<IpsetMessage>) -> Vec<IpSet> {
    let mut out: Vec<IpSet> = Vec::new();
    for m in msgs {
        let name = m.set_name().unwrap_or_default().to_string();
        let has_header = m
            .attrs
            .iter()
            .any(|a| matches!(a, IpsetAttr::TypeName(_) | IpsetAttr::CreateData(_)));
        let continues = out.last().is_some_and(|s| s.name == name) && !has_header;
        if !continues {
            out.push(IpSet::empty(name));
        }
        let Some(set) = out.last_mut() else { continue };
        for a in m.attrs {
            match a {
                IpsetAttr::Protocol(_) | IpsetAttr::SetName(_) => {}
                IpsetAttr::TypeName(t) => set.set_type = SetType::from(t.as_str()),
                IpsetAttr::Revision(r) => set.revision = r,
                IpsetAttr::Family(f) => set.family = f,
                IpsetAttr::Index(i) => set.index = Some(i),
                IpsetAttr::CreateData(d) => {
                    let (o, c) = CreateOptions::from_attrs(&d);
                    set.options = o;
                    set.counts = c;
                }
                IpsetAttr::Adt(v) => set.members.extend(v.into_iter().map(Entry::new)),
                other => {
                    if !set.other.contains(&other) {
                        set.other.push(other)
                    }
                }
            }
        }
    }
    out
}
