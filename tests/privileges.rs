//! Without CAP_NET_ADMIN every change is refused with an error that says
//! what is missing, not a raw errno. The test re-runs itself as an
//! unprivileged child (uid 65534, no capabilities) inside a throwaway
//! namespace.

use clusterip::netlink::{Error, Netns};

mod common;
use common::block_on;

const CHILD: &str = "CLUSTERIP_UNPRIVILEGED_CHILD";

fn child() {
    let links = clusterip::link::LinkHandle::new().unwrap();
    let err = block_on(links.set_up(1)).unwrap_err();
    assert!(matches!(err, Error::NotPermitted { .. }), "{err:?}");
    assert!(err.to_string().contains("needs CAP_NET_ADMIN"), "{err}");
    println!("CHILD-OK link: {err}");

    // ipset create: refused, typed, and nothing created
    let ipset = clusterip::ipset::IpsetHandle::new().unwrap();
    let err =
        block_on(ipset.create(&clusterip::ipset::CreateSet::hash_ip_port("p"), false)).unwrap_err();
    assert!(matches!(err, Error::NotPermitted { .. }), "{err:?}");
    assert!(err.to_string().contains("needs CAP_NET_ADMIN"), "{err}");
    println!("CHILD-OK ipset: {err}");

    // nf_tables table add: refused, typed
    use clusterip::nftables::{Family, NftHandle, Table, Transaction};
    let nft = NftHandle::new().unwrap();
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "p"));
    let err = block_on(nft.commit(&tx)).unwrap_err();
    assert!(matches!(err, Error::NotPermitted { .. }), "{err:?}");
    assert!(err.to_string().contains("needs CAP_NET_ADMIN"), "{err}");
    println!("CHILD-OK nft: {err}");
    println!("CHILD-OK");
}

#[test]
fn without_cap_net_admin_errors_say_so() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let ns = Netns::new_anonymous().unwrap();
    let out = common::unprivileged_self(&ns, "without_cap_net_admin_errors_say_so", CHILD, "1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    for what in ["link", "ipset", "nft"] {
        assert!(
            stdout.contains(&format!("CHILD-OK {what}:")),
            "child did not run its {what} check:\n{stdout}\n{stderr}"
        );
    }
    // nothing was created in the namespace
    for args in [
        &["ipset", "list", "-n"][..],
        &["nft", "list", "ruleset"][..],
    ] {
        let out = common::sh(&ns, args);
        assert!(out.trim_ascii().is_empty(), "{args:?}: {out:?}");
    }
}
