//! The numbers of ctnetlink, from the kernel's uapi headers
//! `include/uapi/linux/netfilter/nfnetlink_conntrack.h`,
//! `nf_conntrack_common.h` and `nf_conntrack_tcp.h` (checked against the
//! copies under `/usr/include/linux/netfilter/`; the `CTA_FILTER_FLAG_*`
//! values from Linux's `nfnetlink_conntrack.h` of 5.9 on) and confirmed by
//! the messages the real `conntrack` 1.4.7 tool exchanges with a 6.18
//! kernel (see `tests/golden.rs`).

/// `NFNL_SUBSYS_CTNETLINK` (include/uapi/linux/netfilter/nfnetlink.h)
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;

// enum cntl_msg_types
/// `IPCTNL_MSG_CT_NEW`: create (or update) an entry; also every entry the kernel sends.
pub const IPCTNL_MSG_CT_NEW: u8 = 0;
/// `IPCTNL_MSG_CT_GET`: get one entry, or dump.
pub const IPCTNL_MSG_CT_GET: u8 = 1;
/// `IPCTNL_MSG_CT_DELETE`: delete one entry, or flush.
pub const IPCTNL_MSG_CT_DELETE: u8 = 2;
/// `IPCTNL_MSG_CT_GET_CTRZERO`: get and zero the counters.
pub const IPCTNL_MSG_CT_GET_CTRZERO: u8 = 3;

// enum ctattr_type
/// `CTA_TUPLE_ORIG`: the original direction (nest of `CTA_TUPLE_*`).
pub const CTA_TUPLE_ORIG: u16 = 1;
/// `CTA_TUPLE_REPLY`: the reply direction.
pub const CTA_TUPLE_REPLY: u16 = 2;
/// `CTA_STATUS`: `IPS_*` bits, big endian u32.
pub const CTA_STATUS: u16 = 3;
/// `CTA_PROTOINFO`
pub const CTA_PROTOINFO: u16 = 4;
/// `CTA_HELP`
pub const CTA_HELP: u16 = 5;
/// `CTA_NAT_SRC`
pub const CTA_NAT_SRC: u16 = 6;
/// `CTA_TIMEOUT`: seconds, big endian u32.
pub const CTA_TIMEOUT: u16 = 7;
/// `CTA_MARK`
pub const CTA_MARK: u16 = 8;
/// `CTA_COUNTERS_ORIG`
pub const CTA_COUNTERS_ORIG: u16 = 9;
/// `CTA_COUNTERS_REPLY`
pub const CTA_COUNTERS_REPLY: u16 = 10;
/// `CTA_USE`: reference count, big endian u32.
pub const CTA_USE: u16 = 11;
/// `CTA_ID`: the entry id, big endian u32.
pub const CTA_ID: u16 = 12;
/// `CTA_NAT_DST`
pub const CTA_NAT_DST: u16 = 13;
/// `CTA_TUPLE_MASTER`
pub const CTA_TUPLE_MASTER: u16 = 14;
/// `CTA_SEQ_ADJ_ORIG`
pub const CTA_SEQ_ADJ_ORIG: u16 = 15;
/// `CTA_SEQ_ADJ_REPLY`
pub const CTA_SEQ_ADJ_REPLY: u16 = 16;
/// `CTA_SECMARK`
pub const CTA_SECMARK: u16 = 17;
/// `CTA_ZONE`: big endian u16.
pub const CTA_ZONE: u16 = 18;
/// `CTA_SECCTX`
pub const CTA_SECCTX: u16 = 19;
/// `CTA_TIMESTAMP`
pub const CTA_TIMESTAMP: u16 = 20;
/// `CTA_MARK_MASK`: mask of a mark filter (Linux 5.0 for dumps).
pub const CTA_MARK_MASK: u16 = 21;
/// `CTA_LABELS`
pub const CTA_LABELS: u16 = 22;
/// `CTA_LABELS_MASK`
pub const CTA_LABELS_MASK: u16 = 23;
/// `CTA_SYNPROXY`
pub const CTA_SYNPROXY: u16 = 24;
/// `CTA_FILTER`: dump filter: which tuple fields to compare (Linux 5.9).
pub const CTA_FILTER: u16 = 25;
/// `CTA_STATUS_MASK`
pub const CTA_STATUS_MASK: u16 = 26;

// enum ctattr_tuple
/// `CTA_TUPLE_IP`
pub const CTA_TUPLE_IP: u16 = 1;
/// `CTA_TUPLE_PROTO`
pub const CTA_TUPLE_PROTO: u16 = 2;
/// `CTA_TUPLE_ZONE`
pub const CTA_TUPLE_ZONE: u16 = 3;

// enum ctattr_ip
/// `CTA_IP_V4_SRC`
pub const CTA_IP_V4_SRC: u16 = 1;
/// `CTA_IP_V4_DST`
pub const CTA_IP_V4_DST: u16 = 2;
/// `CTA_IP_V6_SRC`
pub const CTA_IP_V6_SRC: u16 = 3;
/// `CTA_IP_V6_DST`
pub const CTA_IP_V6_DST: u16 = 4;

// enum ctattr_l4proto
/// `CTA_PROTO_NUM`
pub const CTA_PROTO_NUM: u16 = 1;
/// `CTA_PROTO_SRC_PORT`
pub const CTA_PROTO_SRC_PORT: u16 = 2;
/// `CTA_PROTO_DST_PORT`
pub const CTA_PROTO_DST_PORT: u16 = 3;
/// `CTA_PROTO_ICMP_ID`
pub const CTA_PROTO_ICMP_ID: u16 = 4;
/// `CTA_PROTO_ICMP_TYPE`
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
/// `CTA_PROTO_ICMP_CODE`
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
/// `CTA_PROTO_ICMPV6_ID`
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
/// `CTA_PROTO_ICMPV6_TYPE`
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
/// `CTA_PROTO_ICMPV6_CODE`
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;

// enum ctattr_protoinfo
/// `CTA_PROTOINFO_TCP`
pub const CTA_PROTOINFO_TCP: u16 = 1;
/// `CTA_PROTOINFO_DCCP`
pub const CTA_PROTOINFO_DCCP: u16 = 2;
/// `CTA_PROTOINFO_SCTP`
pub const CTA_PROTOINFO_SCTP: u16 = 3;

// enum ctattr_protoinfo_tcp
/// `CTA_PROTOINFO_TCP_STATE`
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
/// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL`
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
/// `CTA_PROTOINFO_TCP_WSCALE_REPLY`
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
/// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL`
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
/// `CTA_PROTOINFO_TCP_FLAGS_REPLY`
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;

// enum ctattr_protoinfo_sctp
/// `CTA_PROTOINFO_SCTP_STATE`
pub const CTA_PROTOINFO_SCTP_STATE: u16 = 1;
/// `CTA_PROTOINFO_SCTP_VTAG_ORIGINAL`
pub const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: u16 = 2;
/// `CTA_PROTOINFO_SCTP_VTAG_REPLY`
pub const CTA_PROTOINFO_SCTP_VTAG_REPLY: u16 = 3;

// enum ctattr_counters
/// `CTA_COUNTERS_PACKETS`
pub const CTA_COUNTERS_PACKETS: u16 = 1;
/// `CTA_COUNTERS_BYTES`
pub const CTA_COUNTERS_BYTES: u16 = 2;

// enum ctattr_filter
/// `CTA_FILTER_ORIG_FLAGS`
pub const CTA_FILTER_ORIG_FLAGS: u16 = 1;
/// `CTA_FILTER_REPLY_FLAGS`
pub const CTA_FILTER_REPLY_FLAGS: u16 = 2;

// CTA_FILTER_FLAG_* (the tuple fields a dump filter compares)
/// `CTA_FILTER_FLAG_CTA_IP_SRC`
pub const CTA_FILTER_FLAG_CTA_IP_SRC: u32 = 1 << 0;
/// `CTA_FILTER_FLAG_CTA_IP_DST`
pub const CTA_FILTER_FLAG_CTA_IP_DST: u32 = 1 << 1;
/// `CTA_FILTER_FLAG_CTA_TUPLE_ZONE`
pub const CTA_FILTER_FLAG_CTA_TUPLE_ZONE: u32 = 1 << 2;
/// `CTA_FILTER_FLAG_CTA_PROTO_NUM`
pub const CTA_FILTER_FLAG_CTA_PROTO_NUM: u32 = 1 << 3;
/// `CTA_FILTER_FLAG_CTA_PROTO_SRC_PORT`
pub const CTA_FILTER_FLAG_CTA_PROTO_SRC_PORT: u32 = 1 << 4;
/// `CTA_FILTER_FLAG_CTA_PROTO_DST_PORT`
pub const CTA_FILTER_FLAG_CTA_PROTO_DST_PORT: u32 = 1 << 5;

// IP protocol numbers ctnetlink knows tuples of
/// `IPPROTO_ICMP`
pub const IPPROTO_ICMP: u8 = 1;
/// `IPPROTO_TCP`
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`
pub const IPPROTO_UDP: u8 = 17;
/// `IPPROTO_DCCP`
pub const IPPROTO_DCCP: u8 = 33;
/// `IPPROTO_ICMPV6`
pub const IPPROTO_ICMPV6: u8 = 58;
/// `IPPROTO_SCTP`
pub const IPPROTO_SCTP: u8 = 132;
/// `IPPROTO_UDPLITE`
pub const IPPROTO_UDPLITE: u8 = 136;

// NFPROTO_*
/// `NFPROTO_UNSPEC`
pub const NFPROTO_UNSPEC: u8 = 0;
/// `NFPROTO_IPV4`
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_IPV6`
pub const NFPROTO_IPV6: u8 = 10;
