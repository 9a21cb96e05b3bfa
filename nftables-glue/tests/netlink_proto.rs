//! "Bring your own connection": nftables-glue's message type
//! ([`NftMessage`]) and transactions ([`Transaction::to_netlink`]: the
//! nfnetlink batch, `BATCH_BEGIN` ... `BATCH_END`) sent over a
//! netlink-proto connection instead of an
//! [`NftHandle`](nftables_glue::NftHandle), against this machine's kernel,
//! in a throwaway network namespace. The real `nft` tool checks what was
//! committed, and what it adds we list.

use clusterip_test_support::netlink::{NETLINK_NETFILTER, connect};
use futures_util::StreamExt;
use netlink_proto::sys::SocketAddr;
use netlink_proto::{ConnectionHandle, ReplyExpectation};
use nftables_glue::netlink::netlink_packet_core::{NLM_F_DUMP, NetlinkMessage, NetlinkPayload};
use nftables_glue::{
    Chain, ChainType, Command, Expr, Family, Hook, Netns, NftMessage, Priority, Rule, Table,
    Transaction, Verdict,
};

use clusterip_test_support::block_on;

/// Sends `tx` as one nfnetlink batch and returns the errno of each change
/// (0: applied). The batch delimiters carry no `NLM_F_ACK` and get no
/// answer; every change does.
async fn commit(h: &ConnectionHandle<NftMessage>, tx: &Transaction) -> Vec<i32> {
    let msgs = tx.to_netlink();
    let last = msgs.len() - 1;
    let batch = msgs.into_iter().enumerate().map(|(i, m)| {
        let delimiter = i == 0 || i == last;
        let e = if delimiter {
            ReplyExpectation::NotExpected
        } else {
            ReplyExpectation::Expected
        };
        (m, e)
    });
    let replies: Vec<NetlinkMessage<NftMessage>> = h
        .request_batch_with_expectation(batch, SocketAddr::new(0, 0))
        .expect("send")
        .collect()
        .await;
    replies
        .iter()
        .map(|m| match &m.payload {
            NetlinkPayload::Error(e) => e.code.map_or(0, |c| -c.get()),
            other => panic!("unexpected reply to a change: {other:?}"),
        })
        .collect()
}

/// A dump of `command` (`GetTable`, `GetChain`, ...) of every family.
async fn dump(h: &ConnectionHandle<NftMessage>, command: Command) -> Vec<NftMessage> {
    let msg = NftMessage::new(command, 0, vec![]).into_netlink(NLM_F_DUMP);
    h.request(msg, SocketAddr::new(0, 0))
        .expect("send")
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(|m| match m.payload {
            NetlinkPayload::InnerMessage(i) => Some(i),
            NetlinkPayload::Done(_) => None,
            other => panic!("unexpected reply in a dump: {other:?}"),
        })
        .collect()
}

fn nft(ns: &Netns, args: &[&str]) -> String {
    let mut v = vec!["nft"];
    v.extend_from_slice(args);
    clusterip_test_support::sh(ns.proc_path(), &v)
}

#[test]
fn batch_and_dumps_over_netlink_proto() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let table = Table::new(Family::Ipv4, "np");
    block_on(async {
        let h = connect(ns.proc_path(), NETLINK_NETFILTER);

        let mut tx = Transaction::new();
        tx.create_table(&table)
            .add_chain(&Chain::base(
                Family::Ipv4,
                "np",
                "PREROUTING",
                ChainType::Nat,
                Hook::Prerouting,
                Priority::DSTNAT,
            ))
            .add_chain(&Chain::regular(Family::Ipv4, "np", "SERVICES"))
            .append_rule(
                &Rule::new(Family::Ipv4, "np", "PREROUTING")
                    .with_exprs(vec![Expr::verdict(Verdict::Jump("SERVICES".into()))]),
            );
        assert_eq!(commit(&h, &tx).await, [0, 0, 0, 0]);

        let ruleset = nft(&ns, &["list", "ruleset"]);
        assert!(
            ruleset.contains("table ip np {")
                && ruleset.contains("chain SERVICES {")
                && ruleset.contains("type nat hook prerouting priority dstnat; policy accept;")
                && ruleset.contains("jump SERVICES"),
            "nft list ruleset: {ruleset}"
        );

        // A table the tool adds, listed with ours by a dump over netlink-proto.
        nft(&ns, &["add", "table", "inet", "other"]);
        let mut tables: Vec<String> = dump(&h, Command::GetTable)
            .await
            .iter()
            .map(|m| Table::parse(m).unwrap().to_string())
            .collect();
        tables.sort();
        assert_eq!(tables, ["table inet other", "table ip np"]);
        let mut chains: Vec<String> = dump(&h, Command::GetChain)
            .await
            .iter()
            .map(|m| Chain::parse(m).unwrap().name)
            .collect();
        chains.sort();
        assert_eq!(chains, ["PREROUTING", "SERVICES"]);

        // All or nothing: a batch whose second change fails (the table
        // exists) leaves its first change undone, and says which failed.
        let mut bad = Transaction::new();
        bad.add_chain(&Chain::regular(Family::Ipv4, "np", "NEVER"))
            .create_table(&table);
        let errs = commit(&h, &bad).await;
        assert_eq!(errs.last(), Some(&libc::EEXIST), "{errs:?}");
        assert!(!nft(&ns, &["list", "ruleset"]).contains("NEVER"));

        let mut del = Transaction::new();
        del.delete_table(&table)
            .delete_table(&Table::new(Family::Inet, "other"));
        assert_eq!(commit(&h, &del).await, [0, 0]);
        assert_eq!(nft(&ns, &["list", "ruleset"]), "");
    });
}
