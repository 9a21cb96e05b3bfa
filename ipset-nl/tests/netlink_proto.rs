//! "Bring your own connection": ipset-nl's message type ([`IpsetMessage`])
//! and request builders ([`request`]) sent over a netlink-proto connection
//! instead of an [`IpsetHandle`](ipset_nl::IpsetHandle), against this
//! machine's kernel, in a throwaway network namespace. The real `ipset`
//! tool checks what was created, and what it creates we list.

use std::process::Command as Proc;

use futures_util::StreamExt;
use ipset_nl::netlink::netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use ipset_nl::{
    Command, CreateSet, IpPortEntry, IpProto, IpSet, IpsetAttr, IpsetMessage, ListDetail, Netns,
    SetType, request,
};
use netlink_proto::ConnectionHandle;
use netlink_proto::sys::{SocketAddr, protocols::NETLINK_NETFILTER};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// A netlink-proto connection whose socket lives in `ns`: the socket is
/// created on a thread that entered the namespace (inside this runtime, so
/// that tokio registers it), the connection is spawned here. ACKs are
/// forwarded so that a request's success is seen, not assumed.
fn connect(ns: &Netns) -> ConnectionHandle<IpsetMessage> {
    let rt = tokio::runtime::Handle::current();
    let (mut conn, handle, _unsolicited) = ns
        .run(move || {
            let _guard = rt.enter();
            netlink_proto::new_connection::<IpsetMessage>(NETLINK_NETFILTER)
        })
        .expect("enter the namespace")
        .expect("netlink-proto connection");
    conn.set_forward_ack(true);
    tokio::spawn(conn);
    handle
}

/// Sends `msg` and collects every reply (then the ACK or error, or the end
/// of a dump).
async fn exchange(
    h: &ConnectionHandle<IpsetMessage>,
    msg: NetlinkMessage<IpsetMessage>,
) -> Vec<NetlinkMessage<IpsetMessage>> {
    h.request(msg, SocketAddr::new(0, 0))
        .expect("send")
        .collect()
        .await
}

/// The errno of the ACK or error that ends `replies` (0: success).
fn errno(replies: &[NetlinkMessage<IpsetMessage>]) -> i32 {
    match replies.last().map(|m| &m.payload) {
        Some(NetlinkPayload::Error(e)) => e.code.map_or(0, |c| -c.get()),
        other => panic!("no ACK at the end of {replies:?}: {other:?}"),
    }
}

/// The messages (not ACK, not end of dump) among `replies`.
fn inner(replies: Vec<NetlinkMessage<IpsetMessage>>) -> Vec<IpsetMessage> {
    replies
        .into_iter()
        .filter_map(|m| match m.payload {
            NetlinkPayload::InnerMessage(i) => Some(i),
            NetlinkPayload::Error(e) if e.code.is_none() => None,
            NetlinkPayload::Done(_) => None,
            other => panic!("unexpected reply: {other:?}"),
        })
        .collect()
}

fn ipset(ns: &Netns, args: &[&str]) -> String {
    let o = Proc::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg("ipset")
        .args(args)
        .output()
        .expect("run nsenter ipset");
    assert!(
        o.status.success(),
        "ipset {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
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
        let h = connect(&ns);

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
