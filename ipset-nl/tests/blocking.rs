//! The blocking ipset handle against this machine's own kernel, from plain
//! `#[test]`s with no Tokio runtime of their own, each in a throwaway
//! network namespace (nothing is left behind, the host's namespace is
//! never touched). The real `ipset` tool runs inside the same namespace for
//! the cross-checks.

use std::collections::BTreeSet;

use ipset_nl::blocking::IpsetHandle;
use ipset_nl::netlink::{Config, Connection, Protocol};
use ipset_nl::{BulkOptions, CreateSet, Error, IpPortEntry, IpProto, Netns, SetType};

/// Runs the real ipset in `ns`; returns (success, stdout + stderr).
fn ipset(ns: &Netns, args: &[&str]) -> (bool, String) {
    let mut v = vec!["ipset"];
    v.extend_from_slice(args);
    clusterip_test_support::tool(ns.proc_path(), &v)
}

fn tcp(ip: &str, port: u16) -> IpPortEntry {
    IpPortEntry::new(ip.parse().unwrap(), IpProto::Tcp, port)
}

/// create, list, add, test, del, destroy, every step through the blocking
/// handle and checked with `ipset`, both ways.
#[test]
fn blocking_set_lifecycle_checked_by_ipset() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "the test itself has no runtime"
    );
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    assert_eq!(h.protocol().unwrap(), 7);

    // create
    h.create(
        &CreateSet::hash_ip_port("bl").options(|o| o.counters()),
        false,
    )
    .unwrap();
    let (ok, names) = ipset(&ns, &["list", "-n"]);
    assert!(ok && names.trim() == "bl", "{names}");
    let e = h.create(&CreateSet::hash_ip_port("bl"), false).unwrap_err();
    assert!(matches!(e, Error::Exists { .. }), "{e:?}");

    // list
    let sets = h.list(Some("bl")).unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].set_type, SetType::HashIpPort);
    assert!(sets[0].options.has_counters());
    assert!(sets[0].members.is_empty());
    assert_eq!(h.list_names().unwrap(), vec!["bl"]);
    assert_eq!(h.header("bl").unwrap().set_type, SetType::HashIpPort);

    // add: the tool sees the elements
    let web = tcp("10.0.0.1", 80);
    let dns = IpPortEntry::new("10.0.0.2".parse().unwrap(), IpProto::Udp, 53);
    h.add("bl", &web, false).unwrap();
    h.add("bl", &dns, false).unwrap();
    let e = h.add("bl", &web, false).unwrap_err();
    assert!(matches!(e, Error::Exists { .. }), "{e:?}");
    h.add("bl", &web, true).unwrap();
    let want: BTreeSet<String> = ["10.0.0.1,tcp:80", "10.0.0.2,udp:53"]
        .iter()
        .map(|m| format!("{m} packets 0 bytes 0"))
        .collect();
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "bl"),
        want
    );
    assert!(ipset(&ns, &["test", "bl", "10.0.0.1,tcp:80"]).0);

    // test: what the tool added is in the set, the rest is not
    let (ok, text) = ipset(&ns, &["add", "bl", "10.0.0.3,tcp:443"]);
    assert!(ok, "{text}");
    assert!(h.test("bl", &tcp("10.0.0.3", 443)).unwrap());
    assert!(h.test("bl", &web).unwrap());
    assert!(!h.test("bl", &tcp("10.0.0.9", 80)).unwrap());
    assert_eq!(h.list(Some("bl")).unwrap()[0].members.len(), 3);

    // bulk
    let many: Vec<_> = (1000..1100).map(|p| tcp("10.0.1.1", p)).collect();
    let r = h.add_many("bl", &many, BulkOptions::default()).unwrap();
    assert!(r.all_applied(), "{r:?}");
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "bl").len(),
        103
    );
    let r = h.test_many("bl", &many).unwrap();
    assert_eq!(r.applied(), 100);
    let r = h.del_many("bl", &many, BulkOptions::default()).unwrap();
    assert!(r.all_applied(), "{r:?}");

    // del: gone for the tool too
    h.del("bl", &web, false).unwrap();
    assert!(!h.test("bl", &web).unwrap());
    let (ok, text) = ipset(&ns, &["test", "bl", "10.0.0.1,tcp:80"]);
    assert!(!ok, "{text}");
    let e = h.del("bl", &web, false).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    h.del("bl", &web, true).unwrap();
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "bl").len(),
        2
    );

    // destroy: no set left, for either
    h.destroy(Some("bl")).unwrap();
    let (ok, names) = ipset(&ns, &["list", "-n"]);
    assert!(ok && names.trim().is_empty(), "{names}");
    assert!(h.list_names().unwrap().is_empty());
    let e = h.destroy(Some("bl")).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

/// The handle works from any thread without a runtime (it is `Send` and
/// `Sync`), and refuses, with an error and no panic, on a thread inside a
/// Tokio runtime; it still works once back outside.
#[test]
fn blocking_handle_across_threads_and_inside_a_runtime() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    h.create(&CreateSet::hash_ip_port("t"), false).unwrap();
    // several plain threads share the handle
    std::thread::scope(|s| {
        for t in 0..4u16 {
            let h = &h;
            s.spawn(move || {
                for p in 0..25 {
                    h.add("t", &tcp("10.1.0.1", t * 100 + p), false).unwrap();
                }
            });
        }
    });
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "t").len(),
        100
    );
    // moved to another thread and used there
    let h = std::thread::spawn(move || {
        assert!(h.test("t", &tcp("10.1.0.1", 301)).unwrap());
        h
    })
    .join()
    .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = h.list_names().unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("ipset_nl::blocking::IpsetHandle::list_names: "),
            "{text}"
        );
        assert!(text.contains("inside a Tokio runtime"), "{text}");
        assert!(text.contains("ipset_nl::IpsetHandle"), "{text}");
        let e = IpsetHandle::in_netns(&ns).unwrap_err();
        assert!(e.to_string().contains("inside a Tokio runtime"), "{e}");
        // the async handle inside is the one to use there
        assert_eq!(h.handle().list_names().await.unwrap(), vec!["t"]);
    });
    // nothing was sent by the refused call; back outside, it works
    assert_eq!(h.list_names().unwrap(), vec!["t"]);
    // dropped inside a runtime: no panic
    rt.block_on(async move { drop(h) });
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "t").len(),
        100
    );
}

/// with_connection: a netfilter connection with its own timeout is used;
/// a connection of another protocol is refused.
#[test]
fn blocking_handle_over_a_given_connection() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let config = Config::new().with_timeout(std::time::Duration::from_secs(3));
    let conn = Connection::open_with(Protocol::Netfilter, &ns, config).unwrap();
    let h = IpsetHandle::with_connection(conn).unwrap();
    assert_eq!(h.connection().config().timeout.as_secs(), 3);
    h.create(&CreateSet::hash_ip_port("c"), false).unwrap();
    let (ok, names) = ipset(&ns, &["list", "-n"]);
    assert!(ok && names.trim() == "c", "{names}");
    h.destroy(None).unwrap();
    let generic = Connection::open(Protocol::Generic, &ns).unwrap();
    let e = IpsetHandle::with_connection(generic).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
}
