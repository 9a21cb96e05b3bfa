//! `Display` of the engine's public types; a resolved generic netlink
//! family against iproute2's `genl` (in a throwaway network namespace).

use nl_engine::nfnl::NfGenMsg;
use nl_engine::{Connection, Netns, Protocol, Stats};

#[test]
fn offline() {
    assert_eq!(Protocol::Generic.to_string(), "NETLINK_GENERIC");
    assert_eq!(Protocol::Netfilter.to_string(), "NETLINK_NETFILTER");
    assert_eq!(Protocol::Other(9).to_string(), "netlink protocol 9");
    let s = Stats {
        datagrams_sent: 3,
        messages_sent: 120,
        offloaded: 2,
        recv_calls: 5,
        sockets_opened: 1,
    };
    assert_eq!(
        s.to_string(),
        "3 datagrams (2 offloaded), 120 messages sent; 5 recv calls; 1 sockets opened"
    );
    let h = NfGenMsg {
        family: 2,
        version: 0,
        res_id: 10,
    };
    assert_eq!(h.to_string(), "family 2 version 0 res_id 10");
}

#[test]
fn family_as_genl_shows_it() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let family = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let conn = Connection::open(Protocol::Generic, &ns).unwrap();
            nl_engine::genl::resolve_family(&conn, "nlctrl")
                .await
                .unwrap()
        });
    let shown = family.to_string();
    let o = clusterip_test_support::nsenter(ns.proc_path())
        .args(["genl", "ctrl", "get", "name", "nlctrl"])
        .output()
        .expect("run nsenter genl");
    assert!(o.status.success());
    // genl: "Name: nlctrl\n\tID: 0x10  Version: 0x2  header size: 0  max attribs: 0 \n"
    // and then the commands and groups, which a Family does not hold.
    let out = String::from_utf8_lossy(&o.stdout);
    let head: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .collect();
    let genl = head.join(" ").replace("header size: 0  ", "");
    let genl = genl.split_whitespace().collect::<Vec<_>>().join(" ");
    let ours = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(ours, genl, "ours: {shown:?}");
}
