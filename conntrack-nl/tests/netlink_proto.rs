//! "Bring your own connection": conntrack-nl's message type ([`CtMessage`])
//! and request builders ([`request`]) sent over a netlink-proto connection
//! instead of a [`ConntrackHandle`](conntrack_nl::ConntrackHandle), against
//! this machine's kernel, in a throwaway network namespace. The real
//! `conntrack` tool checks what was created, and what it creates we list.

use clusterip_test_support::netlink::{NETLINK_NETFILTER, connect, errno, exchange};
use conntrack_nl::netlink::netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NetlinkPayload};
use conntrack_nl::{CtMessage, Entry, L4, Netns, Tuple, request};
use netlink_proto::ConnectionHandle;

use clusterip_test_support::block_on;

fn conntrack(ns: &Netns, args: &[&str]) -> String {
    let mut v = vec!["conntrack"];
    v.extend_from_slice(args);
    clusterip_test_support::sh(ns.proc_path(), &v)
}

/// Every entry of a dump sent over netlink-proto, decoded with
/// [`CtMessage::entry`].
async fn list(h: &ConnectionHandle<CtMessage>) -> Vec<Entry> {
    let mut msg = request::dump(None, None);
    // The handle adds NLM_F_DUMP itself; over another transport the caller does.
    msg.header.flags |= NLM_F_DUMP;
    exchange(h, msg)
        .await
        .into_iter()
        .filter_map(|m| match m.payload {
            NetlinkPayload::InnerMessage(ct) => Some(ct.entry().expect("decode entry")),
            NetlinkPayload::Done(_) => None,
            other => panic!("unexpected reply in a dump: {other:?}"),
        })
        .collect()
}

#[test]
fn create_list_get_delete_over_netlink_proto() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let tuple = Tuple::new(
        "10.0.0.1".parse().unwrap(),
        "10.96.0.10".parse().unwrap(),
        L4::udp(5000, 53),
    );
    block_on(async {
        let h = connect(ns.proc_path(), NETLINK_NETFILTER);
        assert!(list(&h).await.is_empty(), "fresh namespace, empty table");

        // Create, with an ACK asked for.
        let mut msg = request::create(&Entry::new(tuple.clone()).timeout(120).mark(7));
        msg.header.flags |= NLM_F_ACK;
        assert_eq!(errno(&exchange(&h, msg.clone()).await), 0);
        // The same again: the kernel's EEXIST comes back decoded.
        assert_eq!(errno(&exchange(&h, msg).await), libc::EEXIST);

        let tool = conntrack(&ns, &["-L", "-p", "udp"]);
        assert!(
            tool.contains("src=10.0.0.1 dst=10.96.0.10 sport=5000 dport=53")
                && tool.contains("mark=7"),
            "conntrack -L: {tool}"
        );

        // An entry the tool creates, seen in our dump.
        conntrack(
            &ns,
            &[
                "-I",
                "-p",
                "tcp",
                "-s",
                "10.0.0.3",
                "-d",
                "10.0.0.4",
                "--sport",
                "1000",
                "--dport",
                "80",
                "--state",
                "ESTABLISHED",
                "-t",
                "100",
                "-u",
                "ASSURED",
            ],
        );
        let entries = list(&h).await;
        assert_eq!(entries.len(), 2, "{entries:?}");
        let ours = entries
            .iter()
            .find(|e| e.orig == tuple)
            .expect("ours listed");
        assert_eq!(ours.mark, Some(7));
        let theirs = entries
            .iter()
            .find(|e| e.orig.l4 == L4::tcp(1000, 80))
            .expect("the tool's listed");
        assert_eq!(
            theirs.orig.src,
            "10.0.0.3".parse::<std::net::IpAddr>().unwrap()
        );

        // Get: the entry comes back before the ACK.
        let mut msg = request::get(&tuple, None);
        msg.header.flags |= NLM_F_ACK;
        let replies = exchange(&h, msg).await;
        assert_eq!(errno(&replies), 0);
        let got: Vec<Entry> = replies
            .iter()
            .filter_map(|m| match &m.payload {
                NetlinkPayload::InnerMessage(ct) => Some(ct.entry().unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].orig, tuple);

        // Delete, then the kernel's ENOENT for a second delete.
        let mut msg = request::delete(&tuple, None, None);
        msg.header.flags |= NLM_F_ACK;
        assert_eq!(errno(&exchange(&h, msg.clone()).await), 0);
        assert_eq!(errno(&exchange(&h, msg).await), libc::ENOENT);
        let left = conntrack(&ns, &["-L"]);
        assert!(!left.contains("dport=53"), "deleted: {left}");
    });
}
