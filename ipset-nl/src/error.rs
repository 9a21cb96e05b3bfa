//! ipset's own error codes (4096 and up), their texts as the `ipset` tool
//! prints them, and their mapping into [`nl_engine::Error`].
//!
//! Codes from `ip_set.h` (`enum ipset_errno`), `ip_set_hash.h`,
//! `ip_set_bitmap.h` and `ip_set_list.h`; texts from the `ipset` tool's
//! `lib/errcode.c` (7.17), which picks a text by command and set type.

use nl_engine::{Error, KernelError};

use crate::constants::*;
use crate::message::Command;

/// A kernel refusal in ipset's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpsetErrno {
    /// `ENOENT`: no set of that name.
    NoSuchSet,
    /// `EEXIST` on create: a set of that name exists.
    SetExists,
    /// `IPSET_ERR_PROTOCOL`: malformed request or protocol mismatch.
    Protocol,
    /// `IPSET_ERR_FIND_TYPE`: set type (or revision) not supported.
    FindType,
    /// `IPSET_ERR_MAX_SETS`
    MaxSets,
    /// `IPSET_ERR_BUSY`: set in use by a kernel component.
    Busy,
    /// `IPSET_ERR_EXIST_SETNAME2`: rename target exists / swap partner missing.
    ExistSetName2,
    /// `IPSET_ERR_TYPE_MISMATCH`
    TypeMismatch,
    /// `IPSET_ERR_EXIST`: element already added (add) / not added (del, test).
    Exist,
    /// `IPSET_ERR_INVALID_CIDR`
    InvalidCidr,
    /// `IPSET_ERR_INVALID_NETMASK`
    InvalidNetmask,
    /// `IPSET_ERR_INVALID_FAMILY`
    InvalidFamily,
    /// `IPSET_ERR_TIMEOUT`: set without timeout support.
    Timeout,
    /// `IPSET_ERR_REFERENCED`
    Referenced,
    /// `IPSET_ERR_IPADDR_IPV4`
    IpAddrIpv4,
    /// `IPSET_ERR_IPADDR_IPV6`
    IpAddrIpv6,
    /// `IPSET_ERR_COUNTER`: set without counters.
    Counter,
    /// `IPSET_ERR_COMMENT`: set without comments.
    Comment,
    /// `IPSET_ERR_INVALID_MARKMASK`
    InvalidMarkmask,
    /// `IPSET_ERR_SKBINFO`: set without skbinfo.
    SkbInfo,
    /// `IPSET_ERR_HASH_FULL`
    HashFull,
    /// `IPSET_ERR_HASH_ELEM`: null-valued element.
    HashElem,
    /// `IPSET_ERR_INVALID_PROTO`
    InvalidProto,
    /// `IPSET_ERR_MISSING_PROTO`
    MissingProto,
    /// `IPSET_ERR_HASH_RANGE_UNSUPPORTED`
    HashRangeUnsupported,
    /// `IPSET_ERR_HASH_RANGE`
    HashRange,
    /// `IPSET_ERR_BITMAP_RANGE`
    BitmapRange,
    /// `IPSET_ERR_BITMAP_RANGE_SIZE`
    BitmapRangeSize,
    /// `IPSET_ERR_NAME` (list:set)
    ListName,
    /// `IPSET_ERR_LOOP` (list:set)
    ListLoop,
    /// `IPSET_ERR_BEFORE` (list:set)
    ListBefore,
    /// `IPSET_ERR_NAMEREF` (list:set)
    ListNameRef,
    /// `IPSET_ERR_LIST_FULL` (list:set)
    ListFull,
    /// `IPSET_ERR_REF_EXIST` (list:set)
    ListRefExist,
    /// Any other number.
    Other(i32),
}

/// Which family of set types a type-specific code (4352 and up) is about.
fn type_class(set_type: Option<&str>) -> u8 {
    match set_type {
        Some(t) if t.starts_with("bitmap:") => 1,
        Some(t) if t.starts_with("list:") => 2,
        _ => 0, // hash, and the default when the type is unknown
    }
}

impl IpsetErrno {
    /// Interprets `errno` as ipset would for a set of type `set_type`
    /// (type-specific codes overlap between hash, bitmap and list types;
    /// hash is assumed when the type is unknown).
    pub fn from_errno(errno: i32, set_type: Option<&str>) -> Self {
        use IpsetErrno::*;
        match errno {
            libc::ENOENT => NoSuchSet,
            libc::EEXIST => SetExists,
            IPSET_ERR_PROTOCOL => Protocol,
            IPSET_ERR_FIND_TYPE => FindType,
            IPSET_ERR_MAX_SETS => MaxSets,
            IPSET_ERR_BUSY => Busy,
            IPSET_ERR_EXIST_SETNAME2 => ExistSetName2,
            IPSET_ERR_TYPE_MISMATCH => TypeMismatch,
            IPSET_ERR_EXIST => Exist,
            IPSET_ERR_INVALID_CIDR => InvalidCidr,
            IPSET_ERR_INVALID_NETMASK => InvalidNetmask,
            IPSET_ERR_INVALID_FAMILY => InvalidFamily,
            IPSET_ERR_TIMEOUT => Timeout,
            IPSET_ERR_REFERENCED => Referenced,
            IPSET_ERR_IPADDR_IPV4 => IpAddrIpv4,
            IPSET_ERR_IPADDR_IPV6 => IpAddrIpv6,
            IPSET_ERR_COUNTER => Counter,
            IPSET_ERR_COMMENT => Comment,
            IPSET_ERR_INVALID_MARKMASK => InvalidMarkmask,
            IPSET_ERR_SKBINFO => SkbInfo,
            e if e >= IPSET_ERR_TYPE_SPECIFIC => match (type_class(set_type), e) {
                (0, IPSET_ERR_HASH_FULL) => HashFull,
                (0, IPSET_ERR_HASH_ELEM) => HashElem,
                (0, IPSET_ERR_INVALID_PROTO) => InvalidProto,
                (0, IPSET_ERR_MISSING_PROTO) => MissingProto,
                (0, IPSET_ERR_HASH_RANGE_UNSUPPORTED) => HashRangeUnsupported,
                (0, IPSET_ERR_HASH_RANGE) => HashRange,
                (1, IPSET_ERR_BITMAP_RANGE) => BitmapRange,
                (1, IPSET_ERR_BITMAP_RANGE_SIZE) => BitmapRangeSize,
                (2, IPSET_ERR_NAME) => ListName,
                (2, IPSET_ERR_LOOP) => ListLoop,
                (2, IPSET_ERR_BEFORE) => ListBefore,
                (2, IPSET_ERR_NAMEREF) => ListNameRef,
                (2, IPSET_ERR_LIST_FULL) => ListFull,
                (2, IPSET_ERR_REF_EXIST) => ListRefExist,
                _ => Other(e),
            },
            e => Other(e),
        }
    }

    /// The text the `ipset` tool prints for this error in `command`.
    pub fn description(self, command: Command) -> Option<&'static str> {
        use IpsetErrno::*;
        Some(match (self, command) {
            (NoSuchSet, _) => "The set with the given name does not exist",
            (SetExists, Command::Create) => {
                "Set cannot be created: set with the same name already exists"
            }
            (SetExists, Command::Type) => "Kernel error received: set type does not supported",
            (Protocol, _) => "Kernel error received: ipset protocol error",
            (FindType, _) => "Kernel error received: set type not supported",
            (MaxSets, _) => {
                "Kernel error received: maximal number of sets reached, cannot create more."
            }
            (InvalidNetmask, _) => "The value of the netmask parameter is invalid",
            (InvalidMarkmask, _) => "The value of the markmask parameter is invalid",
            (InvalidFamily, _) => "Protocol family not supported by the set type",
            (Busy, Command::Destroy) => {
                "Set cannot be destroyed: it is in use by a kernel component"
            }
            (ExistSetName2, Command::Rename) => {
                "Set cannot be renamed: a set with the new name already exists"
            }
            (Referenced, Command::Rename) => {
                "Set cannot be renamed: it is in use by another system"
            }
            (ExistSetName2, Command::Swap) => {
                "Sets cannot be swapped: the second set does not exist"
            }
            (TypeMismatch, Command::Swap) => {
                "The sets cannot be swapped: their type does not match"
            }
            (InvalidCidr, _) => "The value of the CIDR parameter of the IP address is invalid",
            (Timeout, _) => "Timeout cannot be used: set was created without timeout support",
            (IpAddrIpv4, _) => "An IPv4 address is expected, but not received",
            (IpAddrIpv6, _) => "An IPv6 address is expected, but not received",
            (Counter, _) => {
                "Packet/byte counters cannot be used: set was created without counter support"
            }
            (Comment, _) => "Comment cannot be used: set was created without comment support",
            (SkbInfo, _) => {
                "Skbinfo mapping cannot be used: set was created without skbinfo support"
            }
            (Exist, Command::Add) => "Element cannot be added to the set: it's already added",
            (Exist, Command::Del) => "Element cannot be deleted from the set: it's not added",
            (Exist, Command::Test) => "Element is not in the set",
            (HashFull, _) => "Hash is full, cannot add more elements",
            (HashElem, _) => "Null-valued element, cannot be stored in a hash type of set",
            (InvalidProto, _) => "Invalid protocol specified",
            (MissingProto, _) => "Protocol missing, but must be specified",
            (HashRangeUnsupported, _) => {
                "Range is not supported in the \"net\" component of the element"
            }
            (HashRange, _) => "Invalid range, covers the whole address space",
            (BitmapRange, _) => "Element is out of the range of the set",
            (BitmapRangeSize, _) => {
                "The range you specified exceeds the size limit of the set type"
            }
            (ListName, _) => "Set to be added/deleted/tested as element does not exist.",
            (ListLoop, _) => "Sets with list:set type cannot be added to the set.",
            (ListBefore, _) => "No reference set specified.",
            (ListNameRef, _) => {
                "The set to which you referred with 'before' or 'after' does not exist."
            }
            (ListFull, _) => "The set is full, more elements cannot be added.",
            (ListRefExist, _) => {
                "The set to which you referred with 'before' or 'after' is not added to the set."
            }
            _ => return None,
        })
    }
}

/// Turns a kernel refusal of an ipset `command` into the crate's [`Error`],
/// with the ipset tool's text in [`KernelError::description`] and the case
/// users act on:
///
/// | code | command | case |
/// |---|---|---|
/// | `ENOENT` | any | `NotFound` |
/// | `EEXIST` | create | `Exists` |
/// | `IPSET_ERR_EXIST` | add | `Exists` |
/// | `IPSET_ERR_EXIST` | del, test | `NotFound` |
/// | `IPSET_ERR_EXIST_SETNAME2` | rename | `Exists` |
/// | `IPSET_ERR_EXIST_SETNAME2` | swap | `NotFound` |
/// | `IPSET_ERR_HASH_FULL`, `MAX_SETS`, list full | any | `Full` |
/// | `IPSET_ERR_BUSY`, `REFERENCED` | any | `Busy` |
/// | `IPSET_ERR_FIND_TYPE` | any | `Unsupported` |
/// | type mismatch, missing/invalid protocol, cidr, family, extension not enabled, ... | any | `InvalidArgument` |
/// | `IPSET_ERR_PROTOCOL` and unknown codes | any | `Kernel` |
pub fn map_error(
    command: Command,
    set_type: Option<&str>,
    context: impl Into<String>,
    mut detail: KernelError,
) -> Error {
    use IpsetErrno::*;
    let context = context.into();
    let code = IpsetErrno::from_errno(detail.errno, set_type);
    if detail.description.is_none() {
        detail.description = code.description(command).map(str::to_string).or_else(|| {
            (detail.errno >= IPSET_ERR_PRIVATE)
                .then(|| format!("Undecoded error {} received from kernel", detail.errno))
        });
    }
    match code {
        NoSuchSet => Error::NotFound { context, detail },
        SetExists => Error::Exists { context, detail },
        Exist if command == Command::Add => Error::Exists { context, detail },
        Exist => Error::NotFound { context, detail },
        ExistSetName2 if command == Command::Swap => Error::NotFound { context, detail },
        ExistSetName2 => Error::Exists { context, detail },
        HashFull | MaxSets | ListFull => Error::Full { context, detail },
        Busy | Referenced => Error::Busy { context, detail },
        FindType => Error::Unsupported {
            context,
            what: format!(
                "the set type {} (or the requested revision)",
                set_type.unwrap_or("requested")
            ),
            hint: "load the matching ip_set_* kernel module (for hash:ip,port: modprobe ip_set_hash_ipport)"
                .to_string(),
        },
        TypeMismatch | InvalidCidr | InvalidNetmask | InvalidFamily | Timeout | IpAddrIpv4
        | IpAddrIpv6 | Counter | Comment | InvalidMarkmask | SkbInfo | HashElem | InvalidProto
        | MissingProto | HashRangeUnsupported | HashRange | BitmapRange | BitmapRangeSize
        | ListName | ListLoop | ListBefore | ListNameRef | ListRefExist => {
            Error::InvalidArgument { context, detail }
        }
        Protocol => Error::Kernel { context, detail },
        Other(_) => Error::from_kernel(context, detail),
    }
}

/// The ipset meaning of an error returned by this crate, if it is a kernel
/// refusal (`set_type` picks the meaning of type-specific codes; hash when
/// `None`).
pub fn ipset_errno(err: &Error, set_type: Option<&str>) -> Option<IpsetErrno> {
    err.kernel_error()
        .map(|k| IpsetErrno::from_errno(k.errno, set_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_codes() {
        let ke = KernelError::from_errno;
        let e = map_error(Command::Create, None, "create set s", ke(libc::EEXIST));
        assert!(matches!(e, Error::Exists { .. }));
        assert!(e.to_string().contains("same name already exists"), "{e}");
        let e = map_error(Command::Destroy, None, "destroy set x", ke(libc::ENOENT));
        assert!(matches!(e, Error::NotFound { .. }));
        let e = map_error(
            Command::Add,
            Some("hash:ip,port"),
            "add",
            ke(IPSET_ERR_EXIST),
        );
        assert!(matches!(e, Error::Exists { .. }));
        assert!(e.to_string().contains("it's already added"), "{e}");
        let e = map_error(
            Command::Del,
            Some("hash:ip,port"),
            "del",
            ke(IPSET_ERR_EXIST),
        );
        assert!(matches!(e, Error::NotFound { .. }));
        let e = map_error(
            Command::Add,
            Some("hash:ip,port"),
            "a",
            ke(IPSET_ERR_HASH_FULL),
        );
        assert!(matches!(e, Error::Full { .. }));
        let e = map_error(Command::Swap, None, "swap", ke(IPSET_ERR_TYPE_MISMATCH));
        assert!(matches!(e, Error::InvalidArgument { .. }));
        assert!(e.to_string().contains("type does not match"), "{e}");
        let e = map_error(Command::Add, None, "a", ke(IPSET_ERR_MISSING_PROTO));
        assert!(e.to_string().contains("Protocol missing"), "{e}");
        let e = map_error(
            Command::Create,
            Some("hash:nope"),
            "c",
            ke(IPSET_ERR_FIND_TYPE),
        );
        assert!(matches!(e, Error::Unsupported { .. }));
        let e = map_error(Command::Swap, None, "s", ke(IPSET_ERR_EXIST_SETNAME2));
        assert!(matches!(e, Error::NotFound { .. }));
        let e = map_error(Command::Rename, None, "r", ke(IPSET_ERR_EXIST_SETNAME2));
        assert!(matches!(e, Error::Exists { .. }));
        // Type-specific codes depend on the set type.
        assert_eq!(
            IpsetErrno::from_errno(4356, Some("list:set")),
            IpsetErrno::ListFull
        );
        assert_eq!(
            IpsetErrno::from_errno(4356, Some("hash:ip")),
            IpsetErrno::HashRangeUnsupported
        );
        let e = map_error(Command::Add, None, "a", ke(4999));
        assert!(e.to_string().contains("Undecoded error 4999"), "{e}");
    }
}
