//! "Bring your own connection": ipset-nl's message type ([`IpsetMessage`])
//! and request builders ([`request`]) sent over a netlink-proto connection
//! instead of an [`IpsetHandle`](ipset_nl::IpsetHandle), against this
//! machine's kernel, in a throwaway network namespace. The real `ipset`
//! tool checks what was created, and what it creates we list.

use clusterip_test_support::netlink::{NETLINK_NETFILTER, connect, errno, exchange, inner};
use ipset_nl::{
    Command, CreateSet, IpPortEntry, IpProto, IpSet, IpsetAttr, IpsetMessage, ListDetail, Netns,
    SetType, request,
};
use netlink_proto::ConnectionHandle;

use clusterip_test_support::block_on;

fn ipset(ns: &Netns, args: &[&str]) -> String {
    let mut v = vec!["ipset"];
    v.extend_from_slice(args);
    clusterip_test_support::sh(ns.proc_path(), &v)
}

/// Every set of a `LIST` dump sent over netlink-proto, folded with
/// [`IpSet::from_messages`].
async fn list(h: &ConnectionHandle<IpsetMessage>, protocol: u8) -> Vec<IpSet> {
    let replies = exchange(
        h,
        request::list(protocol, Command::List, None, ListDetail::Full),
    )
    .await;
    IpSet::from_messages(inner(replies))
}

#[test]
fn create_add_list_destroy_over_netlink_proto() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    block_on(async {
        let h = connect(ns.proc_path(), NETLINK_NETFILTER);

        // Protocol negotiation and the type's revisions, as the handle does.
        let replies = exchange(&h, request::protocol(7)).await;
        assert_eq!(errno(&replies), 0);
        let proto = inner(replies)
            .iter()
            .flat_map(|m| m.attrs.iter())
            .find_map(|a| match a {
                IpsetAttr::Protocol(p) => Some(*p),
                _ => None,
            })
            .expect("protocol in the reply");
        assert!(proto >= 6, "kernel protocol {proto}");
        let proto = proto.min(7);
        let spec = CreateSet::hash_ip_port("np").options(|o| o.counters().timeout(600));
        let replies = exchange(&h, request::type_query(proto, &spec.set_type, spec.family)).await;
        assert_eq!(errno(&replies), 0);
        let revision = inner(replies)
            .iter()
            .flat_map(|m| m.attrs.iter())
            .find_map(|a| match a {
                IpsetAttr::Revision(r) => Some(*r),
                _ => None,
            })
            .expect("revision in the type reply")
            .min(ipset_nl::HASH_IP_PORT_MAX_REVISION);

        // Create; the same again without -exist is the kernel's error.
        let create = request::create(proto, &spec, revision, false);
        assert_eq!(errno(&exchange(&h, create.clone()).await), 0);
        assert_ne!(errno(&exchange(&h, create).await), 0);

        // Add a member; the ipset tool sees set and member.
        let member = IpPortEntry::new("10.96.0.10".parse().unwrap(), IpProto::Tcp, 80);
        let add = request::adt(proto, Command::Add, "np", &member, false);
        assert_eq!(errno(&exchange(&h, add).await), 0);
        let tool = ipset(&ns, &["list", "np"]);
        assert!(
            tool.contains("Type: hash:ip,port") && tool.contains("10.96.0.10,tcp:80 timeout"),
            "ipset list np: {tool}"
        );

        // A set the tool creates, listed with ours.
        ipset(&ns, &["create", "other", "hash:ip"]);
        ipset(&ns, &["add", "other", "192.0.2.1"]);
        let sets = list(&h, proto).await;
        let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["np", "other"]);
        let np = &sets[0];
        assert_eq!(np.set_type, SetType::HashIpPort);
        assert_eq!(np.revision, revision);
        let members = np.ip_port_members().unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!((members[0].ip, members[0].port), (member.ip, 80));
        assert_eq!(sets[1].members.len(), 1);
        assert_eq!(sets[1].members[0].ip(), Some("192.0.2.1".parse().unwrap()));

        // Destroy both; the tool lists nothing.
        assert_eq!(errno(&exchange(&h, request::destroy(proto, None)).await), 0);
        assert_eq!(ipset(&ns, &["list", "-n"]), "");
    });
}
