//! Protocol numbers of ipset over nfnetlink.
//!
//! Every table here is copied from the kernel's uapi headers
//! `include/uapi/linux/netfilter/ipset/ip_set.h`,
//! `include/uapi/linux/netfilter/ipset/ip_set_hash.h`,
//! `include/uapi/linux/netfilter/ipset/ip_set_bitmap.h` and
//! `include/uapi/linux/netfilter/ipset/ip_set_list.h` (checked against the
//! copies shipped by Debian `linux-libc-dev` 6.1.187 under
//! `/usr/include/linux/netfilter/ipset/`) and confirmed by the messages the
//! real `ipset` 7.17 tool exchanges with a 6.18 kernel (see
//! `tests/golden.rs`).

/// `IPSET_PROTOCOL`: the protocol version this crate speaks first.
pub const IPSET_PROTOCOL: u8 = 7;
/// `IPSET_PROTOCOL_MIN`: the oldest protocol version this crate falls back to.
pub const IPSET_PROTOCOL_MIN: u8 = 6;
/// `IPSET_MAXNAMELEN`: set and type names, NUL included.
pub const IPSET_MAXNAMELEN: usize = 32;
/// `IPSET_MAX_COMMENT_SIZE`: the longest comment the kernel accepts.
pub const IPSET_MAX_COMMENT_SIZE: usize = 255;

// enum ipset_cmd (ip_set.h)
/// `IPSET_CMD_PROTOCOL`
pub const IPSET_CMD_PROTOCOL: u8 = 1;
/// `IPSET_CMD_CREATE`
pub const IPSET_CMD_CREATE: u8 = 2;
/// `IPSET_CMD_DESTROY`
pub const IPSET_CMD_DESTROY: u8 = 3;
/// `IPSET_CMD_FLUSH`
pub const IPSET_CMD_FLUSH: u8 = 4;
/// `IPSET_CMD_RENAME`
pub const IPSET_CMD_RENAME: u8 = 5;
/// `IPSET_CMD_SWAP`
pub const IPSET_CMD_SWAP: u8 = 6;
/// `IPSET_CMD_LIST`
pub const IPSET_CMD_LIST: u8 = 7;
/// `IPSET_CMD_SAVE`
pub const IPSET_CMD_SAVE: u8 = 8;
/// `IPSET_CMD_ADD`
pub const IPSET_CMD_ADD: u8 = 9;
/// `IPSET_CMD_DEL`
pub const IPSET_CMD_DEL: u8 = 10;
/// `IPSET_CMD_TEST`
pub const IPSET_CMD_TEST: u8 = 11;
/// `IPSET_CMD_HEADER`
pub const IPSET_CMD_HEADER: u8 = 12;
/// `IPSET_CMD_TYPE`
pub const IPSET_CMD_TYPE: u8 = 13;
/// `IPSET_CMD_GET_BYNAME`
pub const IPSET_CMD_GET_BYNAME: u8 = 14;
/// `IPSET_CMD_GET_BYINDEX`
pub const IPSET_CMD_GET_BYINDEX: u8 = 15;

// Attributes at command level (ip_set.h, first anonymous enum)
/// `IPSET_ATTR_PROTOCOL`
pub const IPSET_ATTR_PROTOCOL: u16 = 1;
/// `IPSET_ATTR_SETNAME`
pub const IPSET_ATTR_SETNAME: u16 = 2;
/// `IPSET_ATTR_TYPENAME`
pub const IPSET_ATTR_TYPENAME: u16 = 3;
/// `IPSET_ATTR_SETNAME2` (= `IPSET_ATTR_TYPENAME`, in rename and swap)
pub const IPSET_ATTR_SETNAME2: u16 = 3;
/// `IPSET_ATTR_REVISION`
pub const IPSET_ATTR_REVISION: u16 = 4;
/// `IPSET_ATTR_FAMILY`
pub const IPSET_ATTR_FAMILY: u16 = 5;
/// `IPSET_ATTR_FLAGS`
pub const IPSET_ATTR_FLAGS: u16 = 6;
/// `IPSET_ATTR_DATA`
pub const IPSET_ATTR_DATA: u16 = 7;
/// `IPSET_ATTR_ADT`
pub const IPSET_ATTR_ADT: u16 = 8;
/// `IPSET_ATTR_LINENO`
pub const IPSET_ATTR_LINENO: u16 = 9;
/// `IPSET_ATTR_PROTOCOL_MIN`
pub const IPSET_ATTR_PROTOCOL_MIN: u16 = 10;
/// `IPSET_ATTR_REVISION_MIN` (= `IPSET_ATTR_PROTOCOL_MIN`, in type replies)
pub const IPSET_ATTR_REVISION_MIN: u16 = 10;
/// `IPSET_ATTR_INDEX`
pub const IPSET_ATTR_INDEX: u16 = 11;

// CADT specific attributes (ip_set.h, second anonymous enum): shared by
// create data and element data up to IPSET_ATTR_CADT_MAX (16).
/// `IPSET_ATTR_IP` / `IPSET_ATTR_IP_FROM`
pub const IPSET_ATTR_IP: u16 = 1;
/// `IPSET_ATTR_IP_TO`
pub const IPSET_ATTR_IP_TO: u16 = 2;
/// `IPSET_ATTR_CIDR`
pub const IPSET_ATTR_CIDR: u16 = 3;
/// `IPSET_ATTR_PORT` / `IPSET_ATTR_PORT_FROM`
pub const IPSET_ATTR_PORT: u16 = 4;
/// `IPSET_ATTR_PORT_TO`
pub const IPSET_ATTR_PORT_TO: u16 = 5;
/// `IPSET_ATTR_TIMEOUT`
pub const IPSET_ATTR_TIMEOUT: u16 = 6;
/// `IPSET_ATTR_PROTO`
pub const IPSET_ATTR_PROTO: u16 = 7;
/// `IPSET_ATTR_CADT_FLAGS`
pub const IPSET_ATTR_CADT_FLAGS: u16 = 8;
/// `IPSET_ATTR_CADT_LINENO` (= `IPSET_ATTR_LINENO`)
pub const IPSET_ATTR_CADT_LINENO: u16 = 9;
/// `IPSET_ATTR_MARK`
pub const IPSET_ATTR_MARK: u16 = 10;
/// `IPSET_ATTR_MARKMASK`
pub const IPSET_ATTR_MARKMASK: u16 = 11;
/// `IPSET_ATTR_CADT_MAX`
pub const IPSET_ATTR_CADT_MAX: u16 = 16;

// Create-only attributes (17..=26): same numbers as the ADT ones below.
/// `IPSET_ATTR_INITVAL` (create data)
pub const IPSET_ATTR_INITVAL: u16 = 17;
/// `IPSET_ATTR_HASHSIZE` (create data)
pub const IPSET_ATTR_HASHSIZE: u16 = 18;
/// `IPSET_ATTR_MAXELEM` (create data)
pub const IPSET_ATTR_MAXELEM: u16 = 19;
/// `IPSET_ATTR_NETMASK` (create data)
pub const IPSET_ATTR_NETMASK: u16 = 20;
/// `IPSET_ATTR_BUCKETSIZE` (create data)
pub const IPSET_ATTR_BUCKETSIZE: u16 = 21;
/// `IPSET_ATTR_RESIZE` (create data)
pub const IPSET_ATTR_RESIZE: u16 = 22;
/// `IPSET_ATTR_SIZE` (create data)
pub const IPSET_ATTR_SIZE: u16 = 23;
/// `IPSET_ATTR_ELEMENTS` (create data, kernel only)
pub const IPSET_ATTR_ELEMENTS: u16 = 24;
/// `IPSET_ATTR_REFERENCES` (create data, kernel only)
pub const IPSET_ATTR_REFERENCES: u16 = 25;
/// `IPSET_ATTR_MEMSIZE` (create data, kernel only)
pub const IPSET_ATTR_MEMSIZE: u16 = 26;

// ADT specific attributes (ip_set.h, third anonymous enum)
/// `IPSET_ATTR_ETHER` (element data)
pub const IPSET_ATTR_ETHER: u16 = 17;
/// `IPSET_ATTR_NAME` (element data)
pub const IPSET_ATTR_NAME: u16 = 18;
/// `IPSET_ATTR_NAMEREF` (element data)
pub const IPSET_ATTR_NAMEREF: u16 = 19;
/// `IPSET_ATTR_IP2` (element data)
pub const IPSET_ATTR_IP2: u16 = 20;
/// `IPSET_ATTR_CIDR2` (element data)
pub const IPSET_ATTR_CIDR2: u16 = 21;
/// `IPSET_ATTR_IP2_TO` (element data)
pub const IPSET_ATTR_IP2_TO: u16 = 22;
/// `IPSET_ATTR_IFACE` (element data)
pub const IPSET_ATTR_IFACE: u16 = 23;
/// `IPSET_ATTR_BYTES` (element data)
pub const IPSET_ATTR_BYTES: u16 = 24;
/// `IPSET_ATTR_PACKETS` (element data)
pub const IPSET_ATTR_PACKETS: u16 = 25;
/// `IPSET_ATTR_COMMENT` (element data)
pub const IPSET_ATTR_COMMENT: u16 = 26;
/// `IPSET_ATTR_SKBMARK` (element data)
pub const IPSET_ATTR_SKBMARK: u16 = 27;
/// `IPSET_ATTR_SKBPRIO` (element data)
pub const IPSET_ATTR_SKBPRIO: u16 = 28;
/// `IPSET_ATTR_SKBQUEUE` (element data)
pub const IPSET_ATTR_SKBQUEUE: u16 = 29;
/// `IPSET_ATTR_PAD` (element data)
pub const IPSET_ATTR_PAD: u16 = 30;

// IP address attributes inside IPSET_ATTR_IP etc. (ip_set.h)
/// `IPSET_ATTR_IPADDR_IPV4`
pub const IPSET_ATTR_IPADDR_IPV4: u16 = 1;
/// `IPSET_ATTR_IPADDR_IPV6`
pub const IPSET_ATTR_IPADDR_IPV6: u16 = 2;

// enum ipset_errno (ip_set.h)
/// `IPSET_ERR_PRIVATE`
pub const IPSET_ERR_PRIVATE: i32 = 4096;
/// `IPSET_ERR_PROTOCOL`
pub const IPSET_ERR_PROTOCOL: i32 = 4097;
/// `IPSET_ERR_FIND_TYPE`
pub const IPSET_ERR_FIND_TYPE: i32 = 4098;
/// `IPSET_ERR_MAX_SETS`
pub const IPSET_ERR_MAX_SETS: i32 = 4099;
/// `IPSET_ERR_BUSY`
pub const IPSET_ERR_BUSY: i32 = 4100;
/// `IPSET_ERR_EXIST_SETNAME2`
pub const IPSET_ERR_EXIST_SETNAME2: i32 = 4101;
/// `IPSET_ERR_TYPE_MISMATCH`
pub const IPSET_ERR_TYPE_MISMATCH: i32 = 4102;
/// `IPSET_ERR_EXIST`
pub const IPSET_ERR_EXIST: i32 = 4103;
/// `IPSET_ERR_INVALID_CIDR`
pub const IPSET_ERR_INVALID_CIDR: i32 = 4104;
/// `IPSET_ERR_INVALID_NETMASK`
pub const IPSET_ERR_INVALID_NETMASK: i32 = 4105;
/// `IPSET_ERR_INVALID_FAMILY`
pub const IPSET_ERR_INVALID_FAMILY: i32 = 4106;
/// `IPSET_ERR_TIMEOUT`
pub const IPSET_ERR_TIMEOUT: i32 = 4107;
/// `IPSET_ERR_REFERENCED`
pub const IPSET_ERR_REFERENCED: i32 = 4108;
/// `IPSET_ERR_IPADDR_IPV4`
pub const IPSET_ERR_IPADDR_IPV4: i32 = 4109;
/// `IPSET_ERR_IPADDR_IPV6`
pub const IPSET_ERR_IPADDR_IPV6: i32 = 4110;
/// `IPSET_ERR_COUNTER`
pub const IPSET_ERR_COUNTER: i32 = 4111;
/// `IPSET_ERR_COMMENT`
pub const IPSET_ERR_COMMENT: i32 = 4112;
/// `IPSET_ERR_INVALID_MARKMASK`
pub const IPSET_ERR_INVALID_MARKMASK: i32 = 4113;
/// `IPSET_ERR_SKBINFO`
pub const IPSET_ERR_SKBINFO: i32 = 4114;
/// `IPSET_ERR_TYPE_SPECIFIC`
pub const IPSET_ERR_TYPE_SPECIFIC: i32 = 4352;

// ip_set_hash.h
/// `IPSET_ERR_HASH_FULL`
pub const IPSET_ERR_HASH_FULL: i32 = 4352;
/// `IPSET_ERR_HASH_ELEM`
pub const IPSET_ERR_HASH_ELEM: i32 = 4353;
/// `IPSET_ERR_INVALID_PROTO`
pub const IPSET_ERR_INVALID_PROTO: i32 = 4354;
/// `IPSET_ERR_MISSING_PROTO`
pub const IPSET_ERR_MISSING_PROTO: i32 = 4355;
/// `IPSET_ERR_HASH_RANGE_UNSUPPORTED`
pub const IPSET_ERR_HASH_RANGE_UNSUPPORTED: i32 = 4356;
/// `IPSET_ERR_HASH_RANGE`
pub const IPSET_ERR_HASH_RANGE: i32 = 4357;

// ip_set_bitmap.h
/// `IPSET_ERR_BITMAP_RANGE`
pub const IPSET_ERR_BITMAP_RANGE: i32 = 4352;
/// `IPSET_ERR_BITMAP_RANGE_SIZE`
pub const IPSET_ERR_BITMAP_RANGE_SIZE: i32 = 4353;

// ip_set_list.h
/// `IPSET_ERR_NAME`
pub const IPSET_ERR_NAME: i32 = 4352;
/// `IPSET_ERR_LOOP`
pub const IPSET_ERR_LOOP: i32 = 4353;
/// `IPSET_ERR_BEFORE`
pub const IPSET_ERR_BEFORE: i32 = 4354;
/// `IPSET_ERR_NAMEREF`
pub const IPSET_ERR_NAMEREF: i32 = 4355;
/// `IPSET_ERR_LIST_FULL`
pub const IPSET_ERR_LIST_FULL: i32 = 4356;
/// `IPSET_ERR_REF_EXIST`
pub const IPSET_ERR_REF_EXIST: i32 = 4357;

// The getsockopt interface (ip_set.h), used by iptables' `set` match to
// name sets by index.
/// `SO_IP_SET`: the `getsockopt(SOL_IP, ...)` option of the set index queries.
pub const SO_IP_SET: i32 = 83;
/// `IPSET_INVALID_ID`: "no such set" in an index answer.
pub const IPSET_INVALID_ID: u16 = 65535;
/// `IP_SET_OP_GET_BYNAME`: set index by name (`struct ip_set_req_get_set`).
pub const IP_SET_OP_GET_BYNAME: u32 = 0x0000_0006;
/// `IP_SET_OP_GET_BYINDEX`: set name by index (`struct ip_set_req_get_set`).
pub const IP_SET_OP_GET_BYINDEX: u32 = 0x0000_0007;
/// `IP_SET_OP_GET_FNAME`: set index and family by name
/// (`struct ip_set_req_get_set_family`).
pub const IP_SET_OP_GET_FNAME: u32 = 0x0000_0008;
/// `IP_SET_OP_VERSION`: the kernel's protocol version (`struct ip_set_req_version`).
pub const IP_SET_OP_VERSION: u32 = 0x0000_0100;
