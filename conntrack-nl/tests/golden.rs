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

include!("golden_consts.rs");

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
    assert_eq!(e.other[0].kind & 0x3fff, CTA_SYNPROXY);
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
