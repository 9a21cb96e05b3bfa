//! The engine against this machine's own kernel, each test in a throwaway
//! network namespace (nothing is left behind; the host's namespace is never
//! touched).

use std::time::{Duration, Instant};

use netlink_packet_core::{
    NLM_F_ACK, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use nl_engine::{Acks, BatchOptions, Connection, Error, Netns, Packing, Protocol};

use clusterip_test_support::block_on;

fn get_family(name: &str) -> NetlinkMessage<GenlMessage<GenlCtrl>> {
    let msg = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
    });
    NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg))
}

fn family_names(replies: &[GenlMessage<GenlCtrl>]) -> Vec<String> {
    replies
        .iter()
        .flat_map(|r| r.payload.nlas.iter())
        .filter_map(|a| match a {
            GenlCtrlAttrs::FamilyName(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn resolves_a_family_in_a_new_namespace() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    let fam = block_on(nl_engine::genl::resolve_family(&conn, "nlctrl")).unwrap();
    assert_eq!(fam.id, 0x10, "nlctrl has the fixed id GENL_ID_CTRL");
    let err = block_on(nl_engine::genl::resolve_family(&conn, "no-such-family")).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-family"), "{err}");
}

#[test]
fn dump_lists_every_family() {
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    let msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![],
        })),
    );
    let mut encoded = msg.clone();
    let all = block_on(conn.dump("dump families", msg)).unwrap();
    let names = family_names(&all);
    assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
    assert!(names.len() > 3, "{names:?}");
    // The same request pre-encoded, without its dump flags (dump_encoded
    // sets them): the same families.
    encoded.finalize();
    let mut bytes = vec![0; encoded.buffer_len()];
    encoded.serialize(&mut bytes);
    let again = block_on(conn.dump_encoded("dump families", &mut bytes, |h, p| {
        GenlMessage::<GenlCtrl>::deserialize(h, p)
            .map(Some)
            .map_err(|e| e.to_string())
    }))
    .unwrap();
    assert_eq!(family_names(&again), names);
}

/// A connection with the shortest receive length still takes every dump
/// part whole (the kernel sizes the parts by that length): the same
/// messages as with the default length, in more datagrams. The dump is
/// the policy of the ethtool family, some 12 KiB.
#[test]
fn short_receive_length_cuts_no_dump_part() {
    let ns = Netns::new_anonymous().unwrap();
    let dump = |config: nl_engine::Config| {
        let conn = Connection::open_with(Protocol::Generic, &ns, config).unwrap();
        let msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(GenlMessage::from_payload(GenlCtrl {
                cmd: GenlCtrlCmd::GetPolicy,
                nlas: vec![GenlCtrlAttrs::FamilyName("ethtool".into())],
            })),
        );
        // twice: the second dump runs after the socket's first receive,
        // whose length the kernel sizes the parts by
        let lens = |_: &NetlinkHeader, p: &[u8]| Ok(Some(p.to_vec()));
        let _ = block_on(conn.dump_with("policy", msg.clone(), lens)).unwrap();
        let before = conn.stats().recv_calls;
        let all = block_on(conn.dump_with("policy", msg, lens)).unwrap();
        (all, conn.stats().recv_calls - before)
    };
    let (msgs, calls) = dump(nl_engine::Config::default());
    let short = nl_engine::Config::default().with_recv_len(0);
    let len = short.effective_recv_len();
    assert!(len >= 4096);
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    assert!(
        bytes > 2 * len,
        "a dump of {bytes} bytes is too short to tell"
    );
    let (short_msgs, short_calls) = dump(short);
    assert_eq!(short_msgs, msgs);
    assert!(
        short_calls > calls,
        "{short_calls} receives at {len} bytes, {calls} at the default"
    );
}

#[test]
fn batch_reports_each_message() {
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    for acks in [Acks::Every, Acks::LastPerDatagram] {
        for packing in [
            Packing::MaxDatagram(64 * 1024),
            Packing::MaxDatagram(40),
            Packing::Single,
        ] {
            let msgs = vec![
                get_family("nlctrl"),
                get_family("nope-1"),
                get_family("nlctrl"),
                get_family("nope-2"),
            ];
            let res =
                block_on(conn.batch("batch", msgs, BatchOptions::new(packing, acks))).unwrap();
            assert_eq!(res.len(), 4);
            assert!(res[0].is_ok(), "{acks:?} {packing:?} {res:?}");
            assert_eq!(res[1].as_ref().unwrap_err().errno, libc::ENOENT);
            assert!(res[2].is_ok());
            assert_eq!(res[3].as_ref().unwrap_err().errno, libc::ENOENT);
        }
    }
    // The same lookups pre-encoded (nl_engine::Encoded) give the same results.
    let encoded: Vec<_> = ["nlctrl", "nope-1", "nlctrl"]
        .iter()
        .map(|n| {
            let mut m = get_family(n);
            m.finalize();
            let mut b = vec![0; m.buffer_len()];
            m.serialize(&mut b);
            nl_engine::Encoded(b)
        })
        .collect();
    let res = block_on(conn.batch("encoded", encoded, BatchOptions::default())).unwrap();
    assert!(res[0].is_ok() && res[2].is_ok(), "{res:?}");
    assert_eq!(res[1].as_ref().unwrap_err().errno, libc::ENOENT);
    // Made lazily, one message at a time, over many datagrams: the results
    // count every message and list only the refusals, by index. Both ways
    // of sending: from this thread, and from the offload thread while this
    // one fills the next datagram (where the machine has a second CPU),
    // which holds two datagrams at a time (one queued behind the other)
    // with an ACK asked of each datagram's last message or of every
    // message, one at a time with ACKs as each message asks.
    let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    for (background, acks) in [
        (false, Acks::LastPerDatagram),
        (true, Acks::LastPerDatagram),
        (true, Acks::Every),
        (true, Acks::AsFlagged),
    ] {
        let conn = conn
            .clone()
            .with_config(conn.config().with_background_send(background));
        let before = conn.stats();
        let names = (0..3000).map(|i| if i % 1000 == 999 { "nope" } else { "nlctrl" });
        let res = block_on(conn.batch_iter(
            "lazy",
            names.map(|n| {
                let mut m = get_family(n);
                m.header.flags = NLM_F_ACK;
                m
            }),
            BatchOptions::new(Packing::MaxDatagram(16 * 1024), acks),
        ))
        .unwrap();
        assert_eq!(res.len(), 3000);
        let failed: Vec<(usize, i32)> = res.errors().iter().map(|(i, e)| (*i, e.errno)).collect();
        assert_eq!(
            failed,
            [
                (999, libc::ENOENT),
                (1999, libc::ENOENT),
                (2999, libc::ENOENT)
            ],
            "background send {background}, {acks:?}"
        );
        assert_eq!(res.get(998), Some(Ok(())));
        assert!(res.get(999).is_some_and(|r| r.is_err()));
        assert_eq!(res.get(3000), None);
        // The socket is still in step: a plain request right after works.
        let fam = block_on(nl_engine::genl::resolve_family(&conn, "nlctrl")).unwrap();
        assert_eq!(fam.id, 0x10);
        let st = conn.stats();
        let sent = st.datagrams_sent - before.datagrams_sent - 1;
        let offloaded = st.offloaded - before.offloaded;
        assert!(sent >= 6, "{st:?}");
        assert_eq!(st.messages_sent - before.messages_sent, 3001, "{st:?}");
        if background && parallel {
            // the batch knew it needed a second datagram when its first
            // was full: every datagram went through the thread
            assert_eq!(offloaded, sent, "{st:?}");
        } else {
            assert_eq!(offloaded, 0, "{st:?}");
        }
        // 3,000 lookups (some 100 KiB): in datagrams of up to 1 MiB they
        // fit one, which the thread's ramp splits (a first datagram of
        // 64 KiB, sent while the rest is encoded); packed as one they stay
        // one datagram whatever the size.
        for (packing, datagrams) in [
            (
                Packing::MaxDatagram(1 << 20),
                if background && parallel { 2 } else { 1 },
            ),
            (Packing::Single, 1),
        ] {
            let before = conn.stats();
            let names = (0..3000).map(|i| if i == 2999 { "nope" } else { "nlctrl" });
            let res = block_on(conn.batch_iter(
                "ramp",
                names.map(get_family),
                BatchOptions::new(packing, Acks::LastPerDatagram),
            ))
            .unwrap();
            let st = conn.stats();
            let sent = st.datagrams_sent - before.datagrams_sent;
            assert_eq!((res.len(), sent), (3000, datagrams), "{packing:?} {st:?}");
            let failed: Vec<usize> = res.errors().iter().map(|(i, _)| *i).collect();
            assert_eq!(failed, [2999], "{packing:?}");
        }
    }
}

/// With ACKs as each message asks (`Acks::AsFlagged`, as nf_tables
/// batches have them), a refusal of a message that asked no ACK is reported
/// even when no asked ACK follows it: the last messages of a datagram, or
/// all of them. Sent from this thread and from the connection's thread,
/// which holds one datagram at a time with these ACKs: reading what may
/// still follow one datagram's last ACK must not run on into the next
/// datagram's answers.
#[test]
fn acks_as_flagged_report_refusals_after_the_last_ack() {
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    let asked = |mut m: NetlinkMessage<GenlMessage<GenlCtrl>>| {
        m.header.flags = NLM_F_ACK;
        m
    };
    let refused = |res: &nl_engine::BatchResults| -> Vec<(usize, i32)> {
        res.errors().iter().map(|(i, e)| (*i, e.errno)).collect()
    };
    let single = BatchOptions::new(Packing::Single, Acks::AsFlagged);
    // one datagram, an ACK asked of its first message only
    let msgs = vec![
        asked(get_family("nlctrl")),
        get_family("nope-1"),
        get_family("nlctrl"),
        get_family("nope-2"),
    ];
    let res = block_on(conn.batch_iter("one ACK", msgs, single)).unwrap();
    assert_eq!(
        refused(&res),
        [(1, libc::ENOENT), (3, libc::ENOENT)],
        "{res:?}"
    );
    // no ACK asked at all
    let msgs = vec![get_family("nope-3"), get_family("nlctrl")];
    let res = block_on(conn.batch_iter("no ACK", msgs, single)).unwrap();
    assert_eq!(refused(&res), [(0, libc::ENOENT)], "{res:?}");
    let msgs = vec![get_family("nlctrl"), get_family("nlctrl")];
    let res = block_on(conn.batch_iter("no ACK, no refusal", msgs, single)).unwrap();
    assert!(res.all_ok() && res.len() == 2, "{res:?}");

    // Many datagrams of 512 lookups (32 bytes each in 16 KiB): an ACK
    // asked of the first 500 of each, none of the last 12 nor of the
    // batch's last 10. The last of every other datagram is refused, and so
    // is the batch's last; in datagrams 1 and 3 nothing after the last ACK
    // is refused, so their answers end with that ACK and reading on would
    // reach the next datagram's.
    let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    for background in [false, true] {
        let conn = conn
            .clone()
            .with_config(conn.config().with_background_send(background));
        let before = conn.stats();
        let msgs = (0..3000usize).map(|i| {
            let r = i % 512;
            let refuse = (r == 511 && (i / 512) % 2 == 0) || i == 2999;
            let m = get_family(if refuse { "nope" } else { "nlctrl" });
            if r >= 500 || i >= 2990 { m } else { asked(m) }
        });
        let res = block_on(conn.batch_iter(
            "lazy",
            msgs,
            BatchOptions::new(Packing::MaxDatagram(16 * 1024), Acks::AsFlagged),
        ))
        .unwrap();
        assert_eq!(res.len(), 3000);
        assert_eq!(
            refused(&res),
            [
                (511, libc::ENOENT),
                (1535, libc::ENOENT),
                (2559, libc::ENOENT),
                (2999, libc::ENOENT)
            ],
            "background send {background}"
        );
        let st = conn.stats();
        let sent = st.datagrams_sent - before.datagrams_sent;
        assert_eq!(sent, 6, "{st:?}");
        let offloaded = st.offloaded - before.offloaded;
        assert_eq!(offloaded, if background && parallel { 6 } else { 0 });
        // The socket is still in step: a plain request right after works.
        let fam = block_on(nl_engine::genl::resolve_family(&conn, "nlctrl")).unwrap();
        assert_eq!(fam.id, 0x10);
    }
}

#[test]
fn kernel_refusal_is_typed_and_names_the_request() {
    // A GETFAMILY with neither name nor id: the kernel answers EINVAL.
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    let msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyId(0xfff0)],
        })),
    );
    let err = block_on(conn.request("get family 0xfff0", msg)).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().starts_with("get family 0xfff0"), "{err}");
}

/// A peer that never answers: the request must time out, not hang.
#[test]
fn request_to_a_silent_peer_times_out() {
    let ns = Netns::new_anonymous().unwrap();
    // A user-space NETLINK_USERSOCK socket that never reads: our peer.
    let silent = ns
        .run(|| {
            let mut s = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_USERSOCK).unwrap();
            let addr = s.bind_auto().unwrap();
            (s, addr.port_number())
        })
        .unwrap();
    let (_keep, port) = silent;
    let conn = Connection::open_to_peer(
        Protocol::Other(netlink_sys::protocols::NETLINK_USERSOCK as i32),
        &ns,
        port,
        nl_engine::Config::default(),
    )
    .unwrap()
    .with_timeout(Duration::from_millis(300));
    for _ in 0..2 {
        let started = Instant::now();
        let err = block_on(conn.request("ask a silent peer", get_family("x"))).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(err.to_string().contains("no answer within"), "{err}");
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
    // A timed-out socket is replaced, not reused.
    assert!(conn.stats().sockets_opened >= 2);
}

#[test]
fn sockets_live_in_their_namespace() {
    // Two namespaces: a family dump works in both, and the calling thread's
    // own namespace is unchanged afterwards.
    let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let a = Netns::new_anonymous().unwrap();
    let b = Netns::new_anonymous().unwrap();
    let ia = a
        .run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
        .unwrap();
    let ib = b
        .run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
        .unwrap();
    assert_ne!(ia, ib);
    assert_ne!(ia, before);
    let by_path = Netns::from_path(a.proc_path()).unwrap();
    let ic = by_path
        .run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
        .unwrap();
    assert_eq!(ia, ic);
    Connection::open(Protocol::Generic, &by_path).unwrap();
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        before
    );
}

/// Tokio alone: outside a Tokio runtime there is no reactor to use.
#[cfg(not(feature = "smol"))]
#[test]
fn no_runtime_is_an_error_not_a_panic() {
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    // Poll the future by hand without any Tokio runtime.
    let fut = nl_engine::genl::resolve_family(&conn, "nlctrl");
    let out = futures_lite_block_on(fut);
    assert!(matches!(out, Err(Error::Io { .. })), "{out:?}");
}

/// With `smol`, outside a Tokio runtime async-io's reactor is used: a
/// future polled by hand, with no executor at all, still completes.
#[cfg(feature = "smol")]
#[test]
fn no_tokio_runtime_uses_async_io() {
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    let fut = nl_engine::genl::resolve_family(&conn, "nlctrl");
    let ctrl = futures_lite_block_on(fut).unwrap();
    // the generic netlink controller is family 0x10 (GENL_ID_CTRL)
    assert_eq!(ctrl.id, 0x10);
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
