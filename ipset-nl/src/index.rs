//! The kernel index of a set: what iptables' `set` match (`xt_set`, also
//! inside nf_tables through `nft_compat`) names sets by.
//!
//! The index is not part of the nfnetlink protocol: iptables (libxt_set)
//! asks it with `getsockopt(SOL_IP, SO_IP_SET)` on a raw IPv4 socket, first
//! `IP_SET_OP_VERSION`, then `IP_SET_OP_GET_FNAME` (index and family;
//! iptables 1.8.9) falling back to `IP_SET_OP_GET_BYNAME` (index only) when
//! the kernel answers `EBADMSG`. The socket is opened in the namespace
//! asked for ([`Netns::run`]), so the answer is that namespace's.
//! Numbers and structures from `include/uapi/linux/netfilter/ipset/ip_set.h`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nl_engine::{Error, KernelError, Netns, Result};

use crate::constants::*;
use crate::handle::IpsetHandle;
use crate::types::Family;

/// The kernel's identity of a set.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetIndex {
    /// The index (`ip_set_id_t`), what the `set` match carries.
    pub index: u16,
    /// The set's family, when the kernel said (`IP_SET_OP_GET_FNAME`;
    /// `None` from kernels that only know `IP_SET_OP_GET_BYNAME`).
    pub family: Option<Family>,
}

/// `struct ip_set_req_version`.
#[repr(C)]
struct ReqVersion {
    op: u32,
    version: u32,
}

/// `struct ip_set_req_get_set` (the union as its name member).
#[repr(C)]
struct ReqGetSet {
    op: u32,
    version: u32,
    name: [u8; IPSET_MAXNAMELEN],
}

/// `struct ip_set_req_get_set_family`.
#[repr(C)]
struct ReqGetSetFamily {
    op: u32,
    version: u32,
    family: u32,
    name: [u8; IPSET_MAXNAMELEN],
}

/// Structures the kernel reads and overwrites in place.
trait Request {}
impl Request for ReqVersion {}
impl Request for ReqGetSet {}
impl Request for ReqGetSetFamily {}

fn getsockopt<T: Request>(fd: &OwnedFd, req: &mut T) -> io::Result<()> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `req` is a live, exclusively borrowed #[repr(C)] structure of
    // `len` bytes (only the plain-integer structures above implement
    // `Request`) that the kernel reads and overwrites in place, never
    // beyond `len`; `fd` is an open socket owned by the caller.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_IP,
            SO_IP_SET,
            (req as *mut T).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The index written over the name member of the union.
fn index_in(name: &[u8; IPSET_MAXNAMELEN]) -> Option<u16> {
    let index = u16::from_ne_bytes([name[0], name[1]]);
    (index != IPSET_INVALID_ID).then_some(index)
}

/// Where the lookup failed: opening the socket, or asking.
enum LookupError {
    Socket(io::Error),
    Query(io::Error),
}

/// Runs on a thread inside the target namespace.
fn lookup(name: &[u8; IPSET_MAXNAMELEN]) -> Result<Option<SetIndex>, LookupError> {
    // SAFETY: socket(2) takes only integers; the returned descriptor is
    // checked and immediately owned by an OwnedFd.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if raw < 0 {
        return Err(LookupError::Socket(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh, valid descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut v = ReqVersion {
        op: IP_SET_OP_VERSION,
        version: 0,
    };
    getsockopt(&fd, &mut v).map_err(LookupError::Query)?;
    let mut req = ReqGetSetFamily {
        op: IP_SET_OP_GET_FNAME,
        version: v.version,
        family: 0,
        name: *name,
    };
    match getsockopt(&fd, &mut req) {
        Ok(()) => Ok(index_in(&req.name).map(|index| SetIndex {
            index,
            family: u8::try_from(req.family).ok().map(Family::from),
        })),
        // A kernel without IP_SET_OP_GET_FNAME (before 3.13).
        Err(e) if e.raw_os_error() == Some(libc::EBADMSG) => {
            let mut req = ReqGetSet {
                op: IP_SET_OP_GET_BYNAME,
                version: v.version,
                name: *name,
            };
            getsockopt(&fd, &mut req).map_err(LookupError::Query)?;
            Ok(index_in(&req.name).map(|index| SetIndex {
                index,
                family: None,
            }))
        }
        Err(e) => Err(LookupError::Query(e)),
    }
}

/// The kernel index and family of the set `name` in `netns`, or `None`
/// when no such set exists there. Needs `CAP_NET_RAW` and `CAP_NET_ADMIN`
/// in the namespace. Blocks the calling thread for the two system calls
/// (no Tokio runtime needed).
///
/// ```no_run
/// # fn f() -> ipset_nl::Result<()> {
/// let ns = ipset_nl::Netns::current();
/// if let Some(s) = ipset_nl::set_index(&ns, "ZGZ-CLUSTER-IP")? {
///     println!("index {}, family {:?}", s.index, s.family);
/// }
/// # Ok(()) }
/// ```
pub fn set_index(netns: &Netns, name: &str) -> Result<Option<SetIndex>> {
    if name.is_empty() || name.len() >= IPSET_MAXNAMELEN || name.contains('\0') {
        return Err(Error::invalid_input(
            format!("set name {name:?}"),
            "must be 1 to 31 bytes without NUL",
        ));
    }
    let mut buf = [0u8; IPSET_MAXNAMELEN];
    if let Some(dst) = buf.get_mut(..name.len()) {
        dst.copy_from_slice(name.as_bytes());
    }
    let ctx = format!("look up the index of set {name}");
    let r = netns
        .run(move || lookup(&buf))
        .map_err(|e| Error::io(&ctx, e))?;
    match r {
        Ok(i) => Ok(i),
        Err(LookupError::Socket(e)) => Err(Error::io(
            format!("{ctx}: open a raw IPv4 socket (needs CAP_NET_RAW)"),
            e,
        )),
        Err(LookupError::Query(e)) => Err(match e.raw_os_error() {
            Some(libc::ENOPROTOOPT) => Error::Unsupported {
                context: ctx,
                what: "ipset (ip_set)".into(),
                hint: "load the ip_set module (modprobe ip_set)".into(),
            },
            Some(errno @ (libc::EPERM | libc::EACCES | libc::EPROTO)) => {
                let mut ke = KernelError::from_errno(errno);
                if errno == libc::EPROTO {
                    ke.description = Some("the kernel's ipset protocol is too old".into());
                }
                Error::from_kernel(ctx, ke)
            }
            _ => Error::io(ctx, e),
        }),
    }
}

/// The kernel index of the set `name` in `netns`, or `None` when no such
/// set exists there: [`set_index`] without the family.
///
/// ```no_run
/// # fn f() -> ipset_nl::Result<()> {
/// let ns = ipset_nl::Netns::current();
/// if let Some(i) = ipset_nl::index_of(&ns, "ZGZ-CLUSTER-IP")? {
///     println!("ZGZ-CLUSTER-IP has index {i}");
/// }
/// # Ok(()) }
/// ```
pub fn index_of(netns: &Netns, name: &str) -> Result<Option<u16>> {
    Ok(set_index(netns, name)?.map(|s| s.index))
}

impl IpsetHandle {
    /// The kernel index of the set `name` in this handle's namespace, or
    /// `None` when there is no such set (see [`index_of`]): what
    /// iptables' `set` match refers to the set by.
    ///
    /// ```no_run
    /// use ipset_nl::{CreateSet, IpsetHandle};
    /// # async fn f() -> ipset_nl::Result<()> {
    /// let ipset = IpsetHandle::new()?;
    /// ipset.create(&CreateSet::hash_ip_port("svc"), true).await?;
    /// let index = ipset.index_of("svc")?.expect("just created");
    /// println!("-m set --match-set svc uses index {index}");
    /// # Ok(()) }
    /// ```
    pub fn index_of(&self, name: &str) -> Result<Option<u16>> {
        index_of(self.conn.netns(), name)
    }

    /// The kernel index and family of the set `name` in this handle's
    /// namespace (see [`set_index`]).
    pub fn set_index(&self, name: &str) -> Result<Option<SetIndex>> {
        set_index(self.conn.netns(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_match_the_uapi_sizes() {
        assert_eq!(std::mem::size_of::<ReqVersion>(), 8);
        assert_eq!(std::mem::size_of::<ReqGetSet>(), 8 + 32);
        assert_eq!(std::mem::size_of::<ReqGetSetFamily>(), 12 + 32);
    }

    #[test]
    fn index_read_from_the_union() {
        let mut n = [0u8; IPSET_MAXNAMELEN];
        n[..2].copy_from_slice(&3u16.to_ne_bytes());
        assert_eq!(index_in(&n), Some(3));
        n[..2].copy_from_slice(&IPSET_INVALID_ID.to_ne_bytes());
        assert_eq!(index_in(&n), None);
    }

    #[test]
    fn bad_names_are_refused_before_any_system_call() {
        let ns = Netns::current();
        for bad in ["", "a\0b", &"x".repeat(32)] {
            assert!(matches!(
                set_index(&ns, bad),
                Err(Error::InvalidInput { .. })
            ));
        }
    }
}
