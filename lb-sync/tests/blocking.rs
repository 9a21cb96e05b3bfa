//! The blocking syncer against this machine's own kernel, from plain
//! `#[test]`s with no async runtime of their own, in a throwaway network
//! namespace (nothing is left behind, the host's namespace is never
//! touched). The real `ipset` tool, run inside the same namespace, checks
//! the result. (IPVS is not on this machine's kernel: the IPVS half of a
//! sync is proven by the guest tests.)

use std::collections::BTreeSet;

use lb_sync::blocking::Syncer;
use lb_sync::ipset::{CreateSet, IpEntry, IpPortEntry, IpProto, IpsetHandle};
use lb_sync::{DesiredSet, Netns};

fn lines(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn blocking_sync_of_two_set_types_checked_by_ipset() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let ipset = IpsetHandle::in_netns(&ns).unwrap();
    let syncer = Syncer::from_async(lb_sync::Syncer::ipset_only(ipset)).unwrap();

    // from nothing: both sets created with their members
    let vips = DesiredSet::new(
        CreateSet::hash_ip_port("vips"),
        vec![
            IpPortEntry::new("10.96.0.10".parse().unwrap(), IpProto::Tcp, 80),
            IpPortEntry::new("10.96.0.11".parse().unwrap(), IpProto::Udp, 53),
        ],
    );
    let nodes = DesiredSet::new(
        CreateSet::hash_ip("nodes"),
        vec![IpEntry::new("192.168.1.1".parse().unwrap())],
    );
    let r = syncer.sync_sets(std::slice::from_ref(&vips)).unwrap();
    assert!(r[0].created && r[0].failures.is_empty(), "{r:?}");
    let r = syncer.sync_sets(std::slice::from_ref(&nodes)).unwrap();
    assert!(r[0].created && r[0].failures.is_empty(), "{r:?}");
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "vips"),
        lines(&["10.96.0.10,tcp:80", "10.96.0.11,udp:53"])
    );
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "nodes"),
        lines(&["192.168.1.1"])
    );

    // a member the syncer does not want, added behind its back, goes; the
    // desired one that was deleted comes back
    let (ok, out) = clusterip_test_support::tool(
        ns.proc_path(),
        &["ipset", "add", "vips", "10.96.0.99,tcp:443"],
    );
    assert!(ok, "{out}");
    let (ok, out) = clusterip_test_support::tool(
        ns.proc_path(),
        &["ipset", "del", "vips", "10.96.0.11,udp:53"],
    );
    assert!(ok, "{out}");
    let (plan, report) = syncer.sync_set_planned(&vips).unwrap();
    assert_eq!((plan.add.len(), plan.del.len()), (1, 1), "{plan:?}");
    assert_eq!((report.added, report.removed), (1, 1), "{report:?}");
    assert_eq!(
        clusterip_test_support::ipset_members(ns.proc_path(), "vips"),
        lines(&["10.96.0.10,tcp:80", "10.96.0.11,udp:53"])
    );

    // in the desired state already: nothing to do
    let (plan, _) = syncer.sync_set_planned(&vips).unwrap();
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn refuses_inside_a_tokio_runtime_instead_of_blocking_it() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let syncer = Syncer::from_async(lb_sync::Syncer::ipset_only(
        IpsetHandle::in_netns(&ns).unwrap(),
    ))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let set = DesiredSet::new(
        CreateSet::hash_ip("x"),
        vec![IpEntry::new("10.0.0.1".parse().unwrap())],
    );
    let e = rt.block_on(async { syncer.sync_sets(std::slice::from_ref(&set)).unwrap_err() });
    assert!(matches!(e, lb_sync::Error::Io { .. }), "{e:?}");
    // and nothing was created
    let (ok, out) = clusterip_test_support::tool(ns.proc_path(), &["ipset", "list", "-n"]);
    assert!(ok && out.trim().is_empty(), "{out}");
}
