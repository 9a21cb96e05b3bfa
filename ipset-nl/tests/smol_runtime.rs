//! The async ipset handle driven by smol's executor (async-io's `block_on`
//! and reactor), with no Tokio runtime anywhere in this test process,
//! against this machine's own kernel in a throwaway network namespace (the
//! host's namespace is never touched). The real `ipset` tool runs inside
//! the same namespace for the cross-checks.
//!
//! Built only with the `smol` feature (alone, `--no-default-features
//! --features smol`, or with the default `tokio` too: Tokio is then used
//! only where a Tokio runtime is current, and here none ever is).

use std::time::{Duration, Instant};

use async_io::block_on;
use ipset_nl::netlink::{Config, Connection, Protocol};
use ipset_nl::{BulkOptions, CreateSet, Error, IpPortEntry, IpProto, IpsetHandle, Netns};

/// Runs the real ipset in `ns`; returns (success, stdout + stderr).
fn ipset(ns: &Netns, args: &[&str]) -> (bool, String) {
    let mut v = vec!["ipset"];
    v.extend_from_slice(args);
    clusterip_test_support::tool(ns.proc_path(), &v)
}

fn tcp(ip: &str, port: u16) -> IpPortEntry {
    IpPortEntry::new(ip.parse().unwrap(), IpProto::Tcp, port)
}

fn assert_send<T: Send>(_: &T) {}

/// Every future used below is `Send` under this build's features too
/// (checked by the compiler: the futures are made, never polled).
fn futures_are_send(h: &IpsetHandle, elems: &[IpPortEntry]) {
    let spec = CreateSet::hash_ip_port("s");
    let e = tcp("10.0.0.1", 80);
    assert_send(&h.protocol());
    assert_send(&h.create(&spec, false));
    assert_send(&h.add("s", &e, false));
    assert_send(&h.del("s", &e, false));
    assert_send(&h.test("s", &e));
    assert_send(&h.list(Some("s")));
    assert_send(&h.list_names());
    assert_send(&h.header("s"));
    assert_send(&h.add_many("s", elems, BulkOptions::default()));
    assert_send(&h.test_many("s", elems));
    assert_send(&h.replace(&spec, elems));
    assert_send(&h.destroy(Some("s")));
}

/// create, add (one and many), list, test, del, destroy under smol, each
/// step checked with `ipset`; two requests on two connections run at once
/// on the one executor thread.
#[test]
fn smol_set_lifecycle_checked_by_ipset() {
    let _ = futures_are_send;
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "no Tokio runtime in this test"
    );
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    block_on(async {
        let h = IpsetHandle::in_netns(&ns).unwrap();
        assert_eq!(h.protocol().await.unwrap(), 7);

        h.create(
            &CreateSet::hash_ip_port("sm").options(|o| o.counters()),
            false,
        )
        .await
        .unwrap();
        let (ok, names) = ipset(&ns, &["list", "-n"]);
        assert!(ok && names.trim() == "sm", "{names}");
        let e = h
            .create(&CreateSet::hash_ip_port("sm"), false)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Exists { .. }), "{e:?}");

        let web = tcp("10.0.0.1", 80);
        h.add("sm", &web, false).await.unwrap();
        let many: Vec<_> = (1000..1050).map(|p| tcp("10.0.1.1", p)).collect();
        let r = h
            .add_many("sm", &many, BulkOptions::default())
            .await
            .unwrap();
        assert!(r.all_applied(), "{r:?}");

        // the kernel lists them back, to us and to the tool
        let sets = h.list(Some("sm")).await.unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].members.len(), 51);
        let tool = clusterip_test_support::ipset_members(ns.proc_path(), "sm");
        assert_eq!(tool.len(), 51);
        assert!(
            tool.contains("10.0.0.1,tcp:80 packets 0 bytes 0"),
            "{tool:?}"
        );
        assert!(
            tool.contains("10.0.1.1,tcp:1049 packets 0 bytes 0"),
            "{tool:?}"
        );

        // what the tool adds we see; two handles (two sockets) at once
        let (ok, text) = ipset(&ns, &["add", "sm", "10.0.0.3,tcp:443"]);
        assert!(ok, "{text}");
        let other = IpsetHandle::in_netns(&ns).unwrap();
        let (a, b) =
            futures_lite::future::zip(h.test("sm", &tcp("10.0.0.3", 443)), other.list_names())
                .await;
        assert!(a.unwrap());
        assert_eq!(b.unwrap(), vec!["sm"]);

        h.del("sm", &web, false).await.unwrap();
        assert!(!h.test("sm", &web).await.unwrap());
        assert!(!ipset(&ns, &["test", "sm", "10.0.0.1,tcp:80"]).0);
        let e = h.del("sm", &web, false).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");

        h.destroy(Some("sm")).await.unwrap();
        let (ok, names) = ipset(&ns, &["list", "-n"]);
        assert!(ok && names.trim().is_empty(), "{names}");
        assert!(h.list_names().await.unwrap().is_empty());
    });
}

/// The timeout works under smol (async-io's timer): a request to a peer
/// that never answers fails with `Error::Timeout` after the configured time.
#[test]
fn smol_request_to_a_silent_peer_times_out() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    // a user-space NETLINK_USERSOCK socket in `ns` that never reads
    let (_keep, port) = ns
        .run(|| {
            let mut s = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_USERSOCK).unwrap();
            let port = s.bind_auto().unwrap().port_number();
            (s, port)
        })
        .unwrap();
    let conn = Connection::open_to_peer(
        Protocol::Other(netlink_sys::protocols::NETLINK_USERSOCK as i32),
        &ns,
        port,
        Config::default(),
    )
    .unwrap()
    .with_timeout(Duration::from_millis(300));
    let msg = ipset_nl::request::protocol(7);
    let started = Instant::now();
    let err = block_on(conn.request("ask a silent peer", msg)).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}
