//! Faults the engine must turn into errors, never into hangs, panics or
//! silently incomplete results. A scripted user-space netlink peer
//! (NETLINK_USERSOCK, in a throwaway namespace) plays the kernel where the
//! real kernel cannot be made to misbehave on demand; the overrun case uses
//! the real kernel.

use std::time::Duration;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_USERSOCK};
use nl_engine::{Acks, BatchOptions, Config, Connection, Error, Netns, Packing, Protocol};

use clusterip_test_support::block_on;

type Ctrl = GenlMessage<GenlCtrl>;

fn get_family(name: &str) -> NetlinkMessage<Ctrl> {
    let msg = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
    });
    NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg))
}

/// One reply message: header fields and payload.
fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u32).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((v.len() + 3) & !3, 0);
    v
}

/// A valid CTRL_CMD_NEWFAMILY payload naming `name` (genl header + FAMILY_NAME).
fn family_payload(name: &str) -> Vec<u8> {
    let mut p = vec![1u8, 2, 0, 0]; // cmd NEWFAMILY, version 2
    let mut s = name.as_bytes().to_vec();
    s.push(0);
    p.extend_from_slice(&((4 + s.len()) as u16).to_ne_bytes());
    p.extend_from_slice(&2u16.to_ne_bytes()); // CTRL_ATTR_FAMILY_NAME
    p.extend_from_slice(&s);
    p.resize((p.len() + 3) & !3, 0);
    p
}

const NLMSG_DONE: u16 = 3;
const DUMP_INTR: u16 = 0x10;
const MULTI: u16 = 0x2;
const FAMILY_TYPE: u16 = 0x10; // GENL_ID_CTRL

/// Starts a scripted peer in `ns`: for each request it receives, `script`
/// returns the datagrams to answer with. Returns the peer's port.
fn peer(
    ns: &Netns,
    requests: usize,
    script: impl Fn(usize, u32) -> Vec<Vec<u8>> + Send + 'static,
) -> (u32, std::thread::JoinHandle<()>) {
    let sock = ns
        .run(|| {
            let mut s = Socket::new(NETLINK_USERSOCK).unwrap();
            s.bind_auto().unwrap();
            // room to send datagrams larger than the default send buffer
            let size: libc::c_int = 1 << 20;
            // SAFETY: setsockopt on a socket we own, with a c_int value.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&s),
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUFFORCE,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0);
            s
        })
        .unwrap();
    let mut addr = SocketAddr::new(0, 0);
    sock.get_address(&mut addr).unwrap();
    let port = addr.port_number();
    let h = std::thread::spawn(move || {
        for i in 0..requests {
            let mut buf = vec![0u8; 65536];
            let (n, from) = sock.recv_from(&mut &mut buf[..], 0).unwrap();
            assert!(n >= 16);
            let seq = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
            for d in script(i, seq) {
                sock.send_to(&d, &from, 0).unwrap();
            }
        }
    });
    (port, h)
}

fn conn_to(ns: &Netns, port: u32, config: Config) -> Connection {
    Connection::open_to_peer(Protocol::Other(NETLINK_USERSOCK as i32), ns, port, config)
        .unwrap()
        .with_timeout(Duration::from_secs(5))
}

#[test]
fn interrupted_dump_is_retried_then_reported() {
    let ns = Netns::new_anonymous().unwrap();
    // Always interrupted: 1 try + 3 retries, then DumpInterrupted.
    let (port, h) = peer(&ns, 4, |_, seq| {
        vec![
            [
                msg(FAMILY_TYPE, MULTI | DUMP_INTR, seq, &family_payload("a")),
                msg(NLMSG_DONE, MULTI, seq, &0i32.to_ne_bytes()),
            ]
            .concat(),
        ]
    });
    let conn = conn_to(&ns, port, Config::default());
    let err = block_on(conn.dump("dump families", get_family("x"))).unwrap_err();
    assert!(
        matches!(err, Error::DumpInterrupted { attempts: 4, .. }),
        "{err:?}"
    );
    h.join().unwrap();

    // Interrupted once, consistent the second time: the second result only.
    let (port, h) = peer(&ns, 2, |i, seq| {
        let flags = if i == 0 { MULTI | DUMP_INTR } else { MULTI };
        let name = if i == 0 { "stale" } else { "fresh" };
        vec![
            msg(FAMILY_TYPE, flags, seq, &family_payload(name)),
            msg(NLMSG_DONE, MULTI, seq, &0i32.to_ne_bytes()),
        ]
    });
    let conn = conn_to(&ns, port, Config::default());
    let out: Vec<Ctrl> = block_on(conn.dump("dump families", get_family("x"))).unwrap();
    assert_eq!(out.len(), 1);
    assert!(
        out[0]
            .payload
            .nlas
            .contains(&GenlCtrlAttrs::FamilyName("fresh".into()))
    );
    h.join().unwrap();
}

#[test]
fn garbage_replies_are_decode_errors() {
    let ns = Netns::new_anonymous().unwrap();
    // 1: a header claiming more bytes than the datagram holds.
    // 2: a well-framed message whose payload the family cannot parse,
    //    followed by the rest of the dump (which must be drained).
    // 3: then a normal request on the same connection still works.
    let (port, h) = peer(&ns, 3, |i, seq| match i {
        0 => {
            let mut m = msg(FAMILY_TYPE, 0, seq, &[1, 2, 0, 0]);
            m[0..4].copy_from_slice(&400u32.to_ne_bytes());
            vec![m]
        }
        1 => vec![
            msg(
                FAMILY_TYPE,
                MULTI,
                seq,
                &[1, 2, 0, 0, 0xff, 0xff, 0x02, 0x00],
            ),
            msg(FAMILY_TYPE, MULTI, seq, &family_payload("b")),
            msg(NLMSG_DONE, MULTI, seq, &0i32.to_ne_bytes()),
        ],
        _ => vec![
            msg(FAMILY_TYPE, MULTI, seq, &family_payload("ok")),
            msg(NLMSG_DONE, MULTI, seq, &0i32.to_ne_bytes()),
        ],
    });
    let conn = conn_to(&ns, port, Config::default());
    let e = block_on(conn.request("get family", get_family("x"))).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let e = block_on(conn.dump("dump families", get_family("x"))).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let ok: Vec<Ctrl> = block_on(conn.dump("dump families", get_family("x"))).unwrap();
    assert_eq!(ok.len(), 1);
    h.join().unwrap();
}

#[test]
fn dump_error_in_done_is_reported() {
    let ns = Netns::new_anonymous().unwrap();
    let (port, h) = peer(&ns, 1, |_, seq| {
        vec![
            msg(FAMILY_TYPE, MULTI, seq, &family_payload("partial")),
            msg(NLMSG_DONE, MULTI, seq, &(-libc::EBUSY).to_ne_bytes()),
        ]
    });
    let conn = conn_to(&ns, port, Config::default());
    let e = block_on(conn.dump("dump families", get_family("x"))).unwrap_err();
    assert!(matches!(e, Error::Busy { .. }), "{e:?}");
    h.join().unwrap();
}

/// The real kernel overflowing a deliberately tiny receive buffer with
/// thousands of error replies: an Overrun error, not a hang or a partial
/// success; the connection recovers with a fresh socket.
#[test]
fn receive_buffer_overrun_is_an_error() {
    let ns = Netns::new_anonymous().unwrap();
    let config = Config::new().with_recv_buffer(1);
    let conn = Connection::open_with(Protocol::Generic, &ns, config).unwrap();
    let msgs: Vec<_> = (0..2000).map(|i| get_family(&format!("nope{i}"))).collect();
    let opts = BatchOptions::new(Packing::Single, Acks::Every);
    let e = block_on(conn.batch("many lookups", msgs, opts)).unwrap_err();
    assert!(matches!(e, Error::Overrun { .. }), "{e:?}");
    assert!(e.to_string().contains("ENOBUFS"), "{e}");
    // Next operation runs on a new socket.
    let fam = block_on(nl_engine::genl::resolve_family(&conn, "nlctrl")).unwrap();
    assert_eq!(fam.id, 0x10);
    assert_eq!(conn.stats().sockets_opened, 2);
}

/// A reply datagram larger than the engine's receive buffer (256 KiB): a
/// 300 KB dump datagram of valid messages is reported as a Decode error
/// naming the truncation, never returned as a partial result; the next
/// operation on the connection still works.
#[test]
fn datagram_larger_than_buffer_is_a_truncation_error() {
    let ns = Netns::new_anonymous().unwrap();
    let (port, h) = peer(&ns, 2, |i, seq| {
        if i == 0 {
            let one = msg(FAMILY_TYPE, MULTI, seq, &family_payload(&"x".repeat(1000)));
            let mut d = Vec::new();
            while d.len() < 300_000 {
                d.extend_from_slice(&one);
            }
            d.extend_from_slice(&msg(NLMSG_DONE, MULTI, seq, &0i32.to_ne_bytes()));
            assert!(d.len() > 256 * 1024);
            vec![d]
        } else {
            vec![
                msg(FAMILY_TYPE, MULTI, seq, &family_payload("after")),
                msg(NLMSG_DONE, MULTI, seq, &0i32.to_ne_bytes()),
            ]
        }
    });
    let conn = conn_to(&ns, port, Config::default());
    let r: Result<Vec<Ctrl>, Error> = block_on(conn.dump("dump families", get_family("x")));
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("truncated"), "{e}");
    let ok: Vec<Ctrl> = block_on(conn.dump("dump families", get_family("x"))).unwrap();
    assert_eq!(ok.len(), 1);
    assert!(
        ok[0]
            .payload
            .nlas
            .contains(&GenlCtrlAttrs::FamilyName("after".into()))
    );
    h.join().unwrap();
}
