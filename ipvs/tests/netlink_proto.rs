//! "Bring your own connection": the generic netlink path a program with its
//! own netlink-proto connection takes to send [`IpvsMessage`]s, against
//! this machine's kernel, in a throwaway network namespace.
//!
//! This host has no IPVS (the guest tests under `tools/guest` exercise
//! IPVS itself), so what runs here is the part that does not need it:
//! resolving the `IPVS` family through the controller over netlink-proto
//! (the kernel's answer, a family id or `ENOENT`, decoded and compared with
//! iproute2's `genl`), the same for `nlctrl`, and an
//! `GenlMessage<IpvsMessage>` carried to the kernel and its error answer
//! decoded.

use clusterip_test_support::block_on;
use clusterip_test_support::netlink::{NETLINK_GENERIC, acked, connect, errno, exchange};
use ipvs_nl::netlink::netlink_packet_core::NetlinkPayload;
use ipvs_nl::netlink::netlink_packet_generic::GenlMessage;
use ipvs_nl::netlink::netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use ipvs_nl::netlink::netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use ipvs_nl::{IpvsCmd, IpvsMessage, Netns};
use netlink_proto::ConnectionHandle;

/// `CTRL_CMD_GETFAMILY` for `name` over netlink-proto, with
/// netlink-packet-generic's controller message: the family id, or the
/// kernel's errno.
async fn resolve(h: &ConnectionHandle<GenlMessage<GenlCtrl>>, name: &str) -> Result<u16, i32> {
    let replies = exchange(
        h,
        acked(GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
        })),
    )
    .await;
    match errno(&replies) {
        0 => Ok(replies
            .iter()
            .filter_map(|m| match &m.payload {
                NetlinkPayload::InnerMessage(g) => g.payload.nlas.iter().find_map(|a| match a {
                    GenlCtrlAttrs::FamilyId(id) => Some(*id),
                    _ => None,
                }),
                _ => None,
            })
            .next()
            .expect("a family id in the controller's reply")),
        e => Err(e),
    }
}

/// iproute2's view: `genl ctrl get name NAME` in `ns`, its `ID: 0x..`, or
/// `None` when it finds no such family.
fn genl_id(ns: &Netns, name: &str) -> Option<u16> {
    let o = clusterip_test_support::nsenter(ns.proc_path())
        .args(["genl", "ctrl", "get", "name", name])
        .output()
        .expect("run nsenter genl");
    if !o.status.success() {
        return None;
    }
    let out = String::from_utf8_lossy(&o.stdout);
    let hex = out
        .split_whitespace()
        .skip_while(|w| *w != "ID:")
        .nth(1)
        .unwrap_or_else(|| panic!("no ID in genl's output: {out}"));
    Some(u16::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap())
}

#[test]
fn resolve_families_over_netlink_proto() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    block_on(async {
        let h = connect::<GenlMessage<GenlCtrl>>(ns.proc_path(), NETLINK_GENERIC);

        // The controller itself: always there.
        let nlctrl = resolve(&h, "nlctrl").await;
        assert_eq!(nlctrl, Ok(0x10));
        assert_eq!(genl_id(&ns, "nlctrl"), Some(0x10));

        // IPVS: what genl says. On this host (no IPVS) the kernel's ENOENT,
        // decoded; where ip_vs is loaded, the same id as genl's.
        let ipvs = resolve(&h, "IPVS").await;
        match genl_id(&ns, "IPVS") {
            None => assert_eq!(ipvs, Err(libc::ENOENT)),
            Some(id) => assert_eq!(ipvs, Ok(id)),
        }

        // nl-engine's own resolver agrees (ENOENT: Error::Unsupported).
        let conn =
            ipvs_nl::netlink::Connection::open(ipvs_nl::netlink::Protocol::Generic, &ns).unwrap();
        let ours = ipvs_nl::netlink::genl::resolve_family(&conn, "IPVS").await;
        match (&ipvs, ours) {
            (Ok(id), Ok(f)) => assert_eq!(f.id, *id),
            (Err(_), Err(ipvs_nl::Error::Unsupported { what, .. })) => {
                assert!(what.contains("IPVS"), "{what}")
            }
            (theirs, ours) => panic!("netlink-proto: {theirs:?}, nl-engine: {ours:?}"),
        }
    });
}

#[test]
fn ipvs_message_in_a_genl_message_reaches_the_kernel() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    block_on(async {
        let ctrl = connect::<GenlMessage<GenlCtrl>>(ns.proc_path(), NETLINK_GENERIC);
        let h = connect::<GenlMessage<IpvsMessage>>(ns.proc_path(), NETLINK_GENERIC);

        // As a user with IPVS does: resolve the family, set its id, send.
        let mut msg = GenlMessage::from_payload(IpvsMessage::get_info());
        let (family, expect) = match resolve(&ctrl, "IPVS").await {
            Ok(id) => (id, 0),
            // Without IPVS, the same message addressed to the controller,
            // which has no command IPVS_CMD_GET_INFO (15): the kernel's
            // EOPNOTSUPP proves the header and payload were framed and
            // parsed, and the error decoded.
            Err(e) => {
                assert_eq!(e, libc::ENOENT);
                (resolve(&ctrl, "nlctrl").await.unwrap(), libc::EOPNOTSUPP)
            }
        };
        msg.set_resolved_family_id(family);
        let replies = exchange(&h, acked(msg)).await;
        assert_eq!(errno(&replies), expect, "{replies:?}");
        if expect == 0 {
            // Where IPVS exists, its GET_INFO answer decodes.
            let info = replies.iter().find_map(|m| match &m.payload {
                NetlinkPayload::InnerMessage(g) => Some(g.payload.clone()),
                _ => None,
            });
            let info = info.expect("a GET_INFO reply");
            assert_eq!(info.cmd, IpvsCmd::SetInfo);
            assert!(info.info().version.0 > 0);
        }
    });
}
