//! The kernel index of an ipset, which the `set` match names sets by.
//!
//! iptables (libxt_set) asks it with `getsockopt(SOL_IP, SO_IP_SET)`: first
//! `IP_SET_OP_VERSION`, then `IP_SET_OP_GET_BYNAME`. Numbers and structures
//! from `include/uapi/linux/netfilter/ipset/ip_set.h` (`SO_IP_SET` 83,
//! `IP_SET_OP_VERSION` 0x100, `IP_SET_OP_GET_BYNAME` 6, `struct
//! ip_set_req_version`, `struct ip_set_req_get_set`, `IPSET_MAXNAMELEN`
//! 32, `IPSET_INVALID_ID` 65535).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nl_engine::{Error, Netns, Result};

const SO_IP_SET: libc::c_int = 83;
const IP_SET_OP_VERSION: u32 = 0x100;
const IP_SET_OP_GET_BYNAME: u32 = 6;
const IPSET_MAXNAMELEN: usize = 32;
const IPSET_INVALID_ID: u16 = 65535;

#[repr(C)]
struct ReqVersion {
    op: u32,
    version: u32,
}

#[repr(C)]
struct ReqGetSet {
    op: u32,
    version: u32,
    name: [u8; IPSET_MAXNAMELEN],
}

fn getsockopt<T>(fd: &OwnedFd, req: &mut T) -> io::Result<()> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `req` is a live, exclusively borrowed #[repr(C)] structure of
    // `len` bytes that the kernel reads and overwrites in place; `fd` is an
    // open socket owned by the caller.
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

fn lookup(name: &str) -> io::Result<Option<u16>> {
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
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh, valid descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut v = ReqVersion {
        op: IP_SET_OP_VERSION,
        version: 0,
    };
    getsockopt(&fd, &mut v)?;
    let mut req = ReqGetSet {
        op: IP_SET_OP_GET_BYNAME,
        version: v.version,
        name: [0; IPSET_MAXNAMELEN],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    getsockopt(&fd, &mut req)?;
    // The kernel writes the index into the union over the name.
    let index = u16::from_ne_bytes([req.name[0], req.name[1]]);
    Ok((index != IPSET_INVALID_ID).then_some(index))
}

/// The kernel index of the ipset `name` in `netns`, or `None` when no such
/// set exists. Needs `CAP_NET_ADMIN` in the namespace.
///
/// ```no_run
/// # fn f() -> nftables_glue::Result<()> {
/// let ns = nl_engine::Netns::current();
/// if let Some(i) = nftables_glue::ipset_index(&ns, "ZGZ-CLUSTER-IP")? {
///     println!("ZGZ-CLUSTER-IP has index {i}");
/// }
/// # Ok(()) }
/// ```
pub fn ipset_index(netns: &Netns, name: &str) -> Result<Option<u16>> {
    if name.is_empty() || name.len() >= IPSET_MAXNAMELEN || name.contains('\0') {
        return Err(Error::invalid_input(
            format!("ipset name {name:?}"),
            "must be 1 to 31 bytes without NUL",
        ));
    }
    let ctx = format!("look up ipset {name}");
    let owned = name.to_string();
    let r = netns
        .run(move || lookup(&owned))
        .map_err(|e| Error::io(&ctx, e))?;
    match r {
        Ok(i) => Ok(i),
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Err(Error::Unsupported {
            context: ctx,
            what: "ipset (ip_set)".into(),
            hint: "load the ip_set module".into(),
        }),
        Err(e) => Err(Error::io(ctx, e)),
    }
}
