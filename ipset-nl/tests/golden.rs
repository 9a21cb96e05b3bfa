//! Golden bytes: the messages the real `ipset` 7.17 tool exchanged with this
//! machine's 6.18 kernel, and this crate's encoding/decoding of the same.
//!
//! Captured with (as root, in a throwaway namespace):
//!
//! ```text
//! unshare -n strace -f -e trace=sendto,recvmsg -e write=all -e read=all \
//!     -xx -s 65535 -o g.txt bash g.sh
//! ```
//!
//! where g.sh ran, in order:
//!
//! ```text
//! ipset create s hash:ip,port family inet timeout 100 counters comment skbinfo forceadd hashsize 1024 maxelem 65536 bucketsize 12 initval 0x11223344
//! ipset add s 10.0.0.1,tcp:80 timeout 50 packets 5 bytes 100 comment "hi" skbmark 0x10/0xff skbprio 1:2 skbqueue 3
//! ipset add s 10.0.0.0/30,udp:1000-1002
//! ipset -exist add s 10.0.0.9,icmp:echo-request
//! ipset add s 10.1.0.1-10.1.0.2,udplite:7
//! ipset create s6 hash:ip,port family inet6
//! ipset add s6 2001:db8::1,sctp:443
//! ipset del s6 2001:db8::1,sctp:443
//! ipset test s 10.0.0.9,icmp:echo-request
//! ipset save s6
//! ipset rename s6 t6
//! ipset swap s t6          # fails: the families differ
//! ipset flush s
//! ipset destroy s
//! ipset list -n
//! ```
//!
//! The hex dumps strace printed were joined per system call; sequence
//! numbers and port ids (bytes 8..16 of each message) are zeroed.
//!
//! Differences on purpose: the tool sends PROTOCOL, TYPE and HEADER without
//! `NLM_F_ACK` and LIST/SAVE with `NLM_F_ACK|NLM_F_DUMP`; this crate asks an
//! ACK of every request (the engine's request/dump always do) — the tests
//! compare those flags with `NLM_F_ACK` added to the tool's.

use ipset_nl::request;
use ipset_nl::{
    Command, CreateAttr, CreateSet, Family, IpPortEntry, IpProto, IpsetAttr, IpsetMessage,
    ListDetail, SetType,
};
use netlink_packet_core::{NLM_F_ACK, NetlinkMessage};

const PROTOCOL_REQ: &str = "1c000000010601000000000000000000020000000500010007000000";

const PROTOCOL_REPLY: &str = concat!(
    "2400000001060000000000000000000002000000050001000700000005000a00",
    "06000000",
);

const TYPE_REQ: &str = concat!(
    "380000000d060100000000000000000002000000050001000700000011000300",
    "686173683a69702c706f7274000000000500050002000000",
);

const TYPE_REPLY: &str = concat!(
    "480000000d060000000000000000000002000000050001000700000011000300",
    "686173683a69702c706f72740000000005000500020000000500040007000000",
    "05000a0000000000",
);

const CREATE_FULL: &str = concat!(
    "7c00000002060506000000000000000002000000050001000700000006000200",
    "7300000011000300686173683a69702c706f7274000000000500040007000000",
    "0500050002000000340007800800064000000064080008400000007808001140",
    "1122334408001240000004000800134000010000050015000c000000",
);

const ADD_FULL: &str = concat!(
    "9000000009060502000000000000000002000000050001000700000006000200",
    "730000006c0007800c000180080001400a000001060004400050000008000640",
    "0000003205000700060000000c00184000000000000000640c00194000000000",
    "0000000507001a00686900000c001b4000000010000000ff08001c4000010002",
    "06001d40000300000800094000000000",
);

const ADD_CIDR_PORTRANGE: &str = concat!(
    "5c00000009060502000000000000000002000000050001000700000006000200",
    "73000000380007800c000180080001400a000000050003001e00000006000440",
    "03e800000600054003ea000005000700110000000800094000000000",
);

const ADD_EXIST_ICMP: &str = concat!(
    "4c00000009060500000000000000000002000000050001000700000006000200",
    "73000000280007800c000180080001400a000009060004400800000005000700",
    "010000000800094000000000",
);

const ADD_IPRANGE_UDPLITE: &str = concat!(
    "5800000009060502000000000000000002000000050001000700000006000200",
    "73000000340007800c000180080001400a0100010c000280080001400a010002",
    "060004400007000005000700880000000800094000000000",
);

const CREATE_INET6: &str = concat!(
    "4c00000002060506000000000000000002000000050001000700000007000200",
    "7336000011000300686173683a69702c706f7274000000000500040007000000",
    "050005000a00000004000780",
);

const ADD_INET6: &str = concat!(
    "5800000009060502000000000000000002000000050001000700000007000200",
    "7336000034000780180001801400024020010db8000000000000000000000001",
    "0600044001bb000005000700840000000800094000000000",
);

const DEL_INET6: &str = concat!(
    "580000000a060502000000000000000002000000050001000700000007000200",
    "7336000034000780180001801400024020010db8000000000000000000000001",
    "0600044001bb000005000700840000000800094000000000",
);

const TEST_ICMP: &str = concat!(
    "440000000b060500000000000000000002000000050001000700000006000200",
    "73000000200007800c000180080001400a000009060004400800000005000700",
    "01000000",
);

const SAVE_REQ: &str = concat!(
    "2400000008060503000000000000000002000000050001000700000007000200",
    "73360000",
);

const SAVE_REPLY: &str = concat!(
    "9000000007060200000000000000000002000000050001000700000007000200",
    "7336000011000300686173683a69702c706f727400000000050005000a000000",
    "050004000700000006000b40000100003c000780080012400000040008001340",
    "00010000050015000c000000080011403b2a1577080019400000000008001a40",
    "000000e8080018400000000004000880",
);

const RENAME: &str = concat!(
    "2c00000005060500000000000000000002000000050001000700000007000200",
    "733600000700030074360000",
);

const SWAP: &str = concat!(
    "2c00000006060500000000000000000002000000050001000700000006000200",
    "730000000700030074360000",
);

const SWAP_ERROR_REPLY: &str = concat!(
    "40000000020000000000000000000000faefffff2c000000060605001100026b",
    "0000000002000000050001000700000006000200730000000700030074360000",
);

const FLUSH: &str = concat!(
    "2400000004060500000000000000000002000000050001000700000006000200",
    "73000000",
);

const DESTROY: &str = concat!(
    "2400000003060502000000000000000002000000050001000700000006000200",
    "73000000",
);

const LIST_NAMES_REQ: &str = concat!(
    "2400000007060503000000000000000002000000050001000700000008000640",
    "00000002",
);

const LIST_NAMES_REPLY: &str = concat!(
    "2400000007060200000000000000000002000000050001000700000007000200",
    "74360000",
);

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn bytes(m: &NetlinkMessage<IpsetMessage>) -> Vec<u8> {
    let mut m = m.clone();
    m.finalize();
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b[8..16].fill(0);
    b
}

/// Compares our request with the tool's, adding `NLM_F_ACK` to the tool's
/// flags when `ack_added`.
fn same(ours: &NetlinkMessage<IpsetMessage>, golden: &str, ack_added: bool) {
    let mut want = hex(golden);
    if ack_added {
        let f = u16::from_ne_bytes([want[6], want[7]]) | NLM_F_ACK;
        want[6..8].copy_from_slice(&f.to_ne_bytes());
    }
    let got = bytes(ours);
    assert_eq!(
        got.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        want.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
}

/// Decodes a captured kernel reply (netlink header included).
fn decode(golden: &str) -> IpsetMessage {
    let b = hex(golden);
    let ty = u16::from_ne_bytes([b[4], b[5]]);
    IpsetMessage::from_bytes(ty, &b[16..]).unwrap()
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn protocol_and_type_requests() {
    same(&request::protocol(7), PROTOCOL_REQ, true);
    same(
        &request::type_query(7, &SetType::HashIpPort, Family::Inet),
        TYPE_REQ,
        true,
    );
    let r = decode(PROTOCOL_REPLY);
    assert_eq!(r.command, Command::Protocol);
    assert_eq!(
        r.attrs,
        vec![IpsetAttr::Protocol(7), IpsetAttr::ProtocolMin(6)]
    );
    let t = decode(TYPE_REPLY);
    assert!(t.attrs.contains(&IpsetAttr::Revision(7)), "{t:?}");
    assert!(t.attrs.contains(&IpsetAttr::RevisionMin(0)), "{t:?}");
    assert!(
        t.attrs
            .contains(&IpsetAttr::TypeName("hash:ip,port".into()))
    );
}

#[test]
fn create_requests() {
    let spec = CreateSet::hash_ip_port("s").options(|o| {
        o.timeout(100)
            .counters()
            .comment()
            .skbinfo()
            .forceadd()
            .hashsize(1024)
            .maxelem(65536)
            .bucketsize(12)
            .initval(0x11223344)
    });
    same(&request::create(7, &spec, 7, false), CREATE_FULL, false);
    let spec6 = CreateSet::hash_ip_port("s6").family(Family::Inet6);
    same(&request::create(7, &spec6, 7, false), CREATE_INET6, false);
}

#[test]
fn element_requests() {
    let full = IpPortEntry::new(ip("10.0.0.1"), IpProto::Tcp, 80)
        .timeout(50)
        .counters(5, 100)
        .comment("hi")
        .skbmark(0x10, 0xff)
        .skbprio(1, 2)
        .skbqueue(3);
    same(
        &request::adt(7, Command::Add, "s", &full, false),
        ADD_FULL,
        false,
    );
    let range = IpPortEntry::new(ip("10.0.0.0"), IpProto::Udp, 1000)
        .cidr(30)
        .port_to(1002);
    same(
        &request::adt(7, Command::Add, "s", &range, false),
        ADD_CIDR_PORTRANGE,
        false,
    );
    let ping = IpPortEntry::icmp(ip("10.0.0.9"), 8, 0);
    same(
        &request::adt(7, Command::Add, "s", &ping, true),
        ADD_EXIST_ICMP,
        false,
    );
    same(
        &request::adt(7, Command::Test, "s", &ping, false),
        TEST_ICMP,
        false,
    );
    let iprange = IpPortEntry::new(ip("10.1.0.1"), IpProto::UdpLite, 7).ip_to(ip("10.1.0.2"));
    same(
        &request::adt(7, Command::Add, "s", &iprange, false),
        ADD_IPRANGE_UDPLITE,
        false,
    );
    let v6 = IpPortEntry::new(ip("2001:db8::1"), IpProto::Sctp, 443);
    same(
        &request::adt(7, Command::Add, "s6", &v6, false),
        ADD_INET6,
        false,
    );
    same(
        &request::adt(7, Command::Del, "s6", &v6, false),
        DEL_INET6,
        false,
    );
}

#[test]
fn set_requests() {
    same(&request::rename(7, "s6", "t6"), RENAME, false);
    same(&request::swap(7, "s", "t6"), SWAP, false);
    same(&request::flush(7, Some("s")), FLUSH, false);
    same(&request::destroy(7, Some("s")), DESTROY, false);
    same(
        &request::list(7, Command::Save, Some("s6"), ListDetail::Full),
        SAVE_REQ,
        false,
    );
    same(
        &request::list(7, Command::List, None, ListDetail::Names),
        LIST_NAMES_REQ,
        false,
    );
}

#[test]
fn decodes_save_reply() {
    let m = decode(SAVE_REPLY);
    // Save replies come back with the LIST command.
    assert_eq!(m.command, Command::List);
    assert_eq!(m.set_name(), Some("s6"));
    let data = m
        .attrs
        .iter()
        .find_map(|a| match a {
            IpsetAttr::CreateData(d) => Some(d),
            _ => None,
        })
        .unwrap();
    assert!(data.contains(&CreateAttr::HashSize(1024)));
    assert!(data.contains(&CreateAttr::MaxElem(65536)));
    assert!(data.contains(&CreateAttr::BucketSize(12)));
    // The one member was deleted before the save.
    assert!(data.contains(&CreateAttr::Elements(0)), "{data:?}");
    assert!(data.contains(&CreateAttr::References(0)), "{data:?}");
    assert!(data.iter().any(|a| matches!(a, CreateAttr::MemSize(_))));
    assert!(data.iter().any(|a| matches!(a, CreateAttr::InitVal(_))));
    let sets = ipset_nl::IpSet::from_messages(vec![m.clone()]);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].set_type, SetType::HashIpPort);
    assert!(sets[0].members.is_empty());
    assert_eq!(sets[0].options.hashsize, Some(1024));
    assert_eq!(sets[0].index, Some(1));
    assert!(m.attrs.contains(&IpsetAttr::Family(Family::Inet6)));
    assert!(m.attrs.contains(&IpsetAttr::Revision(7)));
    // Lossless: re-encoding gives the kernel's bytes back, except the
    // address attributes the kernel sends without NLA_F_NET_BYTEORDER.
    let b = hex(SAVE_REPLY);
    let mut again = m.to_bytes();
    let mut want = b[16..].to_vec();
    for v in [&mut again, &mut want] {
        for i in 0..v.len().saturating_sub(3) {
            if v[i + 1] == 0 && v[i + 2] == 2 && v[i + 3] == 0x40 && v[i] == 0x14 {
                v[i + 3] = 0;
            }
        }
    }
    assert_eq!(again, want);
}

#[test]
fn decodes_names_and_errors() {
    let m = decode(LIST_NAMES_REPLY);
    assert_eq!(m.set_name(), Some("t6"));
    assert!(m.attrs.iter().all(|a| !matches!(a, IpsetAttr::TypeName(_))));
    // The swap refusal: error -4102 (IPSET_ERR_TYPE_MISMATCH) echoing the request.
    let b = hex(SWAP_ERROR_REPLY);
    let code = i32::from_ne_bytes(b[16..20].try_into().unwrap());
    assert_eq!(code, -4102);
    let e = ipset_nl::map_error(
        Command::Swap,
        None,
        "swap sets s and t6",
        nl_engine::KernelError::from_errno(-code),
    );
    assert!(
        e.to_string()
            .contains("The sets cannot be swapped: their type does not match"),
        "{e}"
    );
    let echoed = IpsetMessage::from_bytes(u16::from_ne_bytes([b[24], b[25]]), &b[36..]).unwrap();
    assert!(echoed.attrs.contains(&IpsetAttr::SetName2("t6".into())));
}

/// The first reply of `ipset list s` in an earlier capture (same commands
/// as the create/add lines above, the /30 added with udp:1000-1002 and
/// icmp:echo-request without -exist; same strace invocation): 14 members.
const LIST_REPLY_14: &str = concat!(
    "4404000007060200000000000000000002000000050001000700000006000200",
    "7300000011000300686173683a69702c706f7274000000000500050002000000",
    "050004000700000006000b40000000004c000780080012400000040008001340",
    "00010000050015000c0000000800114011223344080019400000000008001a40",
    "000008cb080018400000000e08000640000000640800084000000078a8030880",
    "400007800c000180080001000a0000020600044003e800000500070011000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "400007800c000180080001000a0000030600044003e900000500070011000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "400007800c000180080001000a0000010600044003ea00000500070011000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "400007800c000180080001000a0000020600044003ea00000500070011000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "400007800c000180080001000a00000906000440080000000500070001000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "400007800c000180080001000a0000010600044003e900000500070011000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "400007800c000180080001000a0000010600044003e800000500070011000000",
    "08000640000000630c00184000000000000000000c0019400000000000000000",
    "640007800c000180080001000a00000106000440005000000500070006000000",
    "08000640000000310c00184000000000000000640c0019400000000000000005",
    "07001a00686900000c001b4000000010000000ff08001c400001000206001d40",
    "00030000400007800c000180080001000a0000030600044003e8000005000700",
    "1100000008000640000000630c00184000000000000000000c00194000000000",
    "00000000400007800c000180080001000a0000000600044003e8000005000700",
    "1100000008000640000000630c00184000000000000000000c00194000000000",
    "00000000400007800c000180080001000a0000020600044003e9000005000700",
    "1100000008000640000000630c00184000000000000000000c00194000000000",
    "00000000400007800c000180080001000a0000000600044003ea000005000700",
    "1100000008000640000000630c00184000000000000000000c00194000000000",
    "00000000400007800c000180080001000a0000000600044003e9000005000700",
    "1100000008000640000000630c00184000000000000000000c00194000000000",
    "00000000400007800c000180080001000a0000030600044003ea000005000700",
    "1100000008000640000000630c00184000000000000000000c00194000000000",
    "00000000",
);

#[test]
fn decodes_list_reply_with_extensions() {
    let m = decode(LIST_REPLY_14);
    let sets = ipset_nl::IpSet::from_messages(vec![m]);
    let s = &sets[0];
    assert_eq!(s.name, "s");
    assert_eq!(s.revision, 7);
    assert_eq!(s.family, Family::Inet);
    let o = &s.options;
    assert_eq!(o.timeout.map(|t| t.as_secs()), Some(100));
    assert!(o.has_counters() && o.has_comment() && o.has_skbinfo() && o.has_forceadd());
    assert_eq!(
        (o.hashsize, o.maxelem, o.bucketsize, o.initval),
        (Some(1024), Some(65536), Some(12), Some(0x11223344))
    );
    assert_eq!(s.counts.elements, Some(14));
    let members = s.ip_port_members().unwrap();
    assert_eq!(members.len(), 14);
    let full = members.iter().find(|e| e.proto == IpProto::Tcp).unwrap();
    assert_eq!(full.ip, ip("10.0.0.1"));
    assert_eq!(full.port, 80);
    assert_eq!((full.packets, full.bytes), (Some(5), Some(100)));
    assert_eq!(full.comment.as_deref(), Some("hi"));
    assert_eq!(full.skbmark, Some((0x10, 0xff)));
    assert_eq!(full.skbprio, Some((1, 2)));
    assert_eq!(full.skbqueue, Some(3));
    let ping = members.iter().find(|e| e.proto == IpProto::Icmp).unwrap();
    assert_eq!(ping.icmp_type_code(), Some((8, 0)));
    let udp: Vec<_> = members.iter().filter(|e| e.proto == IpProto::Udp).collect();
    assert_eq!(udp.len(), 12);
    assert!(
        udp.iter()
            .all(|e| (1000..=1002).contains(&e.port) && e.timeout.is_some())
    );
}
