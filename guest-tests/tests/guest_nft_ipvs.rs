//! The `xt_ipvs` compat match (nftables-glue) accepted by a real kernel with
//! IPVS (QEMU guest: the host kernel has no IPVS), read back typed, and
//! understood by iptables-nft.

use clusterip::link::LinkHandle;
use clusterip::netlink::Netns;
use nftables_glue::compat::XtIpvsMatch;
use nftables_glue::{
    Chain, Expr, Family, Match, NftHandle, Rule, RuleCompat, Table, Transaction, Verdict,
};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::block_on;

#[test]
fn xt_ipvs_match_in_a_kernel_with_ipvs() {
    common::require_guest();
    let ns = Netns::new_anonymous().unwrap();
    // -m ipvs --ipvs --vaddr 10.200.3.2/32 --vport 80 --vproto tcp
    let ipvs = XtIpvsMatch::new()
        .with_ipvs()
        .with_vaddr("10.200.3.2".parse().unwrap(), 32)
        .with_vport(80)
        .with_vproto(6);
    let mut rule = Rule::new(Family::Ipv4, "nat", "ZGZ-SERVICES").with_exprs(vec![
        Expr::Match(Match::Ipvs(ipvs.clone())),
        Expr::counter(),
        Expr::verdict(Verdict::Accept),
    ]);
    rule.compat = Some(RuleCompat::default());
    let rules = block_on(async {
        let links = LinkHandle::in_netns(&ns).unwrap();
        links.set_up(1).await.unwrap();
        let nft = NftHandle::in_netns(&ns).unwrap();
        let mut tx = Transaction::new();
        tx.add_table(&Table::new(Family::Ipv4, "nat"))
            .add_chain(&Chain::regular(Family::Ipv4, "nat", "ZGZ-SERVICES"))
            .append_rule(&rule);
        nft.commit(&tx).await.unwrap();
        nft.list_rules(Family::Ipv4, "nat", Some("ZGZ-SERVICES"))
            .await
            .unwrap()
    });
    let [back] = rules.as_slice() else {
        panic!("expected one rule: {rules:?}")
    };
    let got = back.exprs.iter().find_map(|e| match e {
        Expr::Match(Match::Ipvs(m)) => Some(m.clone()),
        _ => None,
    });
    assert_eq!(got, Some(ipvs), "{back:?}");

    let text = common::sh(&ns, &["iptables-nft", "-t", "nat", "-S", "ZGZ-SERVICES"]);
    // iptables prints `--ipvs` only when it is the sole condition, and a
    // /32 mask as the bare address.
    assert_eq!(
        text,
        "-N ZGZ-SERVICES\n-A ZGZ-SERVICES -m ipvs --vproto 6 --vaddr 10.200.3.2 --vport 80 -j ACCEPT\n"
    );
}
