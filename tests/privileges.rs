//! Without CAP_NET_ADMIN every change is refused with an error that says
//! what is missing, not a raw errno. The test re-runs itself as an
//! unprivileged child (uid 65534, no capabilities) inside a throwaway
//! namespace.

use std::process::Command;

use clusterip::netlink::{Error, Netns};

const CHILD: &str = "CLUSTERIP_UNPRIVILEGED_CHILD";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

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
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(exe)
        .args([
            "--exact",
            "without_cap_net_admin_errors_say_so",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
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
        let out = Command::new("nsenter")
            .arg(format!("--net={}", ns.proc_path()))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            out.stdout.trim_ascii().is_empty(),
            "{args:?}: {:?}",
            out.stdout
        );
    }
}
