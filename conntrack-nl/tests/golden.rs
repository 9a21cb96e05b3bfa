//! Golden bytes: the messages the real `conntrack` 1.4.7 tool exchanged
//! with this machine's 6.18 kernel, and this crate's encoding/decoding of
//! the same.
//!
//! Captured with (as root, in a throwaway namespace):
//!
//! ```text
//! unshare -n strace -f -e trace=sendto,recvmsg -e write=all -e read=all -o g.txt bash g.sh
//! ```
//!
//! where g.sh ran the commands named above each constant, in order. The
//! hex dumps were joined per system call; sequence numbers and port ids
//! (bytes 8..16 of each message) are zeroed.
//!
//! The tool does not clear the padding of its attributes (a stray byte
//! follows some 1-byte values); the comparisons zero it first.
//! Differences on purpose: the tool's flush carries `NLM_F_REPLACE`
//! (0x100), meaningless there; this crate does not send it. The tool
//! deletes with the whole entry it dumped; this crate with the original
//! tuple (and the id, in bulk).

use std::net::IpAddr;

use conntrack_nl::constants::*;
use conntrack_nl::request;
use conntrack_nl::{
    CtMessage, Entry, Family, L4, ProtoInfo, Status, TcpFlags, TcpInfo, TcpState, Tuple,
};
use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NetlinkMessage};

/// `conntrack -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 53 -t 30 -m 7`
const CREATE_UDP: &str = concat!(
    "8c00000000010506000000000000000002000000340001801400018008000100",
    "0a000001080002000a0000021c00028005000100110000000600020003e80000",
    "06000300003500003400028014000180080001000a000002080002000a000001",
    "1c000280050001001110000006000200003500000600030003e8000008000700",
    "0000001e0800080000000007",
);

/// `conntrack -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 -t 100 --state ESTABLISHED -u ASSURED -w 3`
const CREATE_TCP: &str = concat!(
    "b400000000010506000000000000000002000000340001801400018008000100",
    "0a000001080002000a0000021c00028005000100060000000600020003e80000",
    "06000300005000003400028014000180080001000a000002080002000a000001",
    "1c000280050001000610000006000200005000000600030003e8000008000300",
    "0000000c0800070000000064200004801c000180050001000372000006000400",
    "0a0a0000060005000a0a00000600120000030000",
);

/// `conntrack -I -p icmp -s 10.0.0.1 -d 10.0.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 77 -t 20`
const CREATE_ICMP: &str = concat!(
    "94000000000105060000000000000000020000003c0001801400018008000100",
    "0a000001080002000a0000022400028005000100010000000500060000000000",
    "050005000800000006000400004d00003c00028014000180080001000a000002",
    "080002000a000001240002800500010001200000050006000000000005000500",
    "0060000006000400004d00000800070000000014",
);

/// `conntrack -I -p udp -s fd00::1 -d fd00::2 --sport 1 --dport 2 -t 30`
const CREATE_UDP6: &str = concat!(
    "b40000000001050600000000000000000a0000004c0001802c00018014000300",
    "fd00000000000000000000000000000114000400fd0000000000000000000000",
    "000000021c000280050001001100000006000200000100000600030000020000",
    "4c0002802c00018014000300fd00000000000000000000000000000214000400",
    "fd0000000000000000000000000000011c000280050001001172000006000200",
    "000200000600030000010000080007000000001e",
);

/// `conntrack -G -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 53`
const GET_UDP: &str = concat!(
    "4800000001010500000000000000000002000000340001801400018008000100",
    "0a000001080002000a0000021c00028005000100110000000600020003e80000",
    "0600030000350000",
);

/// The kernel's answer to `GET_UDP`.
const GET_UDP_REPLY: &str = concat!(
    "c000000000010200000000000000000002000000340001801400018008000100",
    "0a000001080002000a0000021c00028005000100110000000600020003e80000",
    "06000300003500003400028014000180080001000a000002080002000a000001",
    "1c000280050001001100000006000200003500000600030003e8000008000300",
    "00000008080008000000000708000c0005f1cf1b08000b000000000208000700",
    "0000001d1c001880080001000000000008000200000000000800030000000000",
);

/// The first datagram of the IPv4 dump `conntrack -D` ran (three entries).
const DUMP_V4_REPLY: &str = concat!(
    "d0000000000122000000000000000000020000003c0001801400018008000100",
    "0a000001080002000a00000224000280050001000100000006000400004d0000",
    "050005000800000005000600000000003c00028014000180080001000a000002",
    "080002000a00000124000280050001000100000006000400004d000005000500",
    "0000000005000600000000000800030000000008080008000000000008000c00",
    "263824d008000b000000000108000700000000131c0018800800010000000000",
    "08000200000000000800030000000000c0000000000122000000000000000000",
    "020000003400018014000180080001000a000001080002000a0000021c000280",
    "05000100110000000600020003e8000006000300003500003400028014000180",
    "080001000a000002080002000a0000011c000280050001001100000006000200",
    "003500000600030003e800000800030000000008080008000000000708000c00",
    "05f1cf1b08000b0000000001080007000000001d1c0018800800010000000000",
    "08000200000000000800030000000000f8000000000122000000000000000000",
    "020000003400018014000180080001000a000001080002000a0000021c000280",
    "05000100060000000600020003e8000006000300005000003400028014000180",
    "080001000a000002080002000a0000011c000280050001000600000006000200",
    "005000000600030003e800000600120000030000080003000000000c08000800",
    "0000000008000c00bdc8098b08000b0000000001080007000000006330000480",
    "2c00018005000100030000000500020000000000050003000000000006000400",
    "0a000000060005000a0000001c00188008000100000000000800020000000000",
    "0800030000000000",
);

/// `conntrack -D -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 53 (after its dump)`
const DELETE_UDP: &str = concat!(
    "b000000002010500000000000000000002000000340001801400018008000100",
    "0a000001080002000a0000021c00028005000100110000000600020003e80000",
    "06000300003500003400028014000180080001000a000002080002000a000001",
    "1c000280050001001100000006000200003500000600030003e8000008000300",
    "00000008080007000000001d08000800000000071c0018800800010000000000",
    "08000200000000000800030000000000",
);

/// `conntrack -L -f ipv6`
const DUMP_V6: &str = "140000000101010300000000000000000a000000";

/// The kernel's answer to `DUMP_V6` (one entry).
const DUMP_V6_REPLY: &str = concat!(
    "f00000000001220000000000000000000a0000004c0001802c00018014000300",
    "fd00000000000000000000000000000114000400fd0000000000000000000000",
    "000000021c000280050001001100000006000200000100000600030000020000",
    "4c0002802c00018014000300fd00000000000000000000000000000214000400",
    "fd0000000000000000000000000000011c000280050001001100000006000200",
    "0002000006000300000100000800030000000008080008000000000008000c00",
    "04476dde08000b0000000001080007000000001d1c0018800800010000000000",
    "08000200000000000800030000000000",
);

/// `conntrack -F`
const FLUSH: &str = "1400000002010500000000000000000000000000";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One attribute tree: (type with flags, value or children).
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(u16, Vec<u8>),
    Nest(u16, Vec<Node>),
}

fn tree(mut b: &[u8]) -> Vec<Node> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]);
        let v = &b[4..len];
        out.push(if kind & 0x8000 != 0 {
            Node::Nest(kind, tree(v))
        } else {
            Node::Leaf(kind, v.to_vec())
        });
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    assert!(b.is_empty(), "trailing bytes");
    out
}

fn emit(nodes: &[Node], out: &mut Vec<u8>) {
    for n in nodes {
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        let kind = match n {
            Node::Leaf(k, v) => {
                out.extend_from_slice(v);
                *k
            }
            Node::Nest(k, c) => {
                emit(c, out);
                *k
            }
        };
        let len = (out.len() - start) as u16;
        out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        out[start + 2..start + 4].copy_from_slice(&kind.to_ne_bytes());
        out.resize((out.len() + 3) & !3, 0);
    }
}

/// A message of the tool with its padding zeroed, and `patch` applied to
/// its top-level attributes.
fn normalized(s: &str, patch: impl FnOnce(&mut Vec<Node>)) -> Vec<u8> {
    let b = hex(s);
    let mut attrs = tree(&b[20..]);
    patch(&mut attrs);
    let mut out = b[..20].to_vec();
    emit(&attrs, &mut out);
    let len = out.len() as u32;
    out[..4].copy_from_slice(&len.to_ne_bytes());
    out
}

/// Our request as the connection sends it (the engine adds these flags).
fn ours(mut m: NetlinkMessage<CtMessage>, add_flags: u16) -> Vec<u8> {
    m.header.flags |= add_flags;
    m.finalize();
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn udp_tuple() -> Tuple {
    Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(1000, 53))
}

#[test]
fn create_udp_with_mark() {
    let e = Entry::new(udp_tuple()).timeout(30).mark(7);
    assert_eq!(
        ours(request::create(&e), NLM_F_ACK),
        normalized(CREATE_UDP, |_| {})
    );
}

#[test]
fn create_tcp_with_state_status_zone() {
    let orig = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::tcp(1000, 80));
    let mut e = Entry::new(orig)
        .timeout(100)
        .status(Status::ASSURED)
        .zone(3);
    // the tool sets the window flags BE_LIBERAL and SACK_PERM with a state
    let liberal = TcpFlags {
        flags: 0x0a,
        mask: 0x0a,
    };
    e.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
        flags_orig: Some(liberal),
        flags_reply: Some(liberal),
        ..TcpInfo::state(TcpState::Established)
    }));
    let tool = normalized(CREATE_TCP, |_| {});
    assert_eq!(ours(request::create(&e), NLM_F_ACK), tool);
}

#[test]
fn create_icmp_and_ipv6() {
    let icmp = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::icmp(77, 8, 0));
    let e = Entry::new(icmp).timeout(20);
    assert_eq!(e.reply.l4, L4::icmp(77, 0, 0));
    assert_eq!(
        ours(request::create(&e), NLM_F_ACK),
        normalized(CREATE_ICMP, |_| {})
    );
    let v6 = Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::udp(1, 2));
    let e = Entry::new(v6).timeout(30);
    assert_eq!(
        ours(request::create(&e), NLM_F_ACK),
        normalized(CREATE_UDP6, |_| {})
    );
}

#[test]
fn get_and_its_reply() {
    assert_eq!(
        ours(request::get(&udp_tuple(), None), NLM_F_ACK),
        normalized(GET_UDP, |_| {})
    );
    let b = hex(GET_UDP_REPLY);
    let m = CtMessage::from_bytes(u16::from_ne_bytes([b[4], b[5]]), &b[16..]).unwrap();
    let e = m.entry().unwrap();
    assert_eq!(e.orig, udp_tuple());
    assert_eq!(e.reply, udp_tuple().inverted());
    assert_eq!(e.status, Status::CONFIRMED);
    assert_eq!(e.mark, Some(7));
    assert_eq!(e.timeout, Some(29));
    assert_eq!(e.use_count, Some(2));
    assert_eq!(e.id, Some(0x05f1cf1b));
    assert_eq!(e.zone, None);
    // CTA_SYNPROXY, which this crate does not model, is kept
    assert_eq!(e.other.len(), 1);
    assert_eq!(e.other[0].attr_type(), CTA_SYNPROXY);
}

#[test]
fn dump_requests_and_replies() {
    assert_eq!(
        ours(request::dump(Some(Family::Ipv6), None), NLM_F_DUMP),
        hex(DUMP_V6)
    );
    let b = hex(DUMP_V6_REPLY);
    let m = CtMessage::from_bytes(0x100, &b[16..]).unwrap();
    let e = m.entry().unwrap();
    assert_eq!(
        e.orig,
        Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::udp(1, 2))
    );
    assert_eq!(e.reply, e.orig.inverted());

    // three messages in one datagram: ICMP, UDP, TCP with its state
    let b = hex(DUMP_V4_REPLY);
    let mut entries = Vec::new();
    let mut off = 0;
    while off < b.len() {
        let len = u32::from_ne_bytes(b[off..off + 4].try_into().unwrap()) as usize;
        let ty = u16::from_ne_bytes([b[off + 4], b[off + 5]]);
        entries.push(
            CtMessage::from_bytes(ty, &b[off + 16..off + len])
                .unwrap()
                .entry()
                .unwrap(),
        );
        off += (len + 3) & !3;
    }
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].orig.l4, L4::icmp(77, 8, 0));
    assert_eq!(entries[0].reply.l4, L4::icmp(77, 0, 0));
    assert_eq!(entries[1].orig, udp_tuple());
    let tcp = &entries[2];
    assert_eq!(tcp.orig.l4, L4::tcp(1000, 80));
    assert_eq!(tcp.zone, Some(3));
    assert_eq!(tcp.status, Status::ASSURED | Status::CONFIRMED);
    assert_eq!(tcp.tcp().unwrap().state, TcpState::Established);
    assert_eq!(tcp.tcp().unwrap().flags_orig.unwrap().flags, 0x0a);
}

#[test]
fn delete_names_the_same_tuple() {
    let tool = tree(&hex(DELETE_UDP)[20..]);
    let ours_b = ours(request::delete(&udp_tuple(), None, None), NLM_F_ACK);
    let mine = tree(&ours_b[20..]);
    // the header (type, flags, family) is the tool's
    assert_eq!(ours_b[4..8], hex(DELETE_UDP)[4..8]);
    assert_eq!(ours_b[16..20], hex(DELETE_UDP)[16..20]);
    // our one attribute, the original tuple, is the tool's
    assert_eq!(mine.len(), 1);
    assert_eq!(
        tool.iter()
            .find(|n| matches!(n, Node::Nest(k, _) if k & 0x3fff == CTA_TUPLE_ORIG)),
        Some(&mine[0])
    );
}

#[test]
fn flush_all() {
    let mut tool = hex(FLUSH);
    // the tool's stray NLM_F_REPLACE
    tool[7] &= !0x01;
    assert_eq!(ours(request::flush(None), NLM_F_ACK), tool);
}
