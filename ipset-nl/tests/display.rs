//! `Display` of the model types in the `ipset` tool's syntax: offline, and
//! against `ipset save` itself for sets of many types (in a throwaway
//! network namespace): our listing, displayed, is the tool's save output.

use ipset_nl::{
    BulkReport, CadtFlags, CreateSet, ElementAttr, Entry, Family, IpsetHandle, Netns, Outcome,
    ProtocolVersion, SetCounts, SetIndex, SetType, Timeout, TypeRevisions,
};

#[test]
fn offline() {
    let spec = CreateSet::hash_ip_port("svc")
        .family(Family::Inet6)
        .options(|o| o.timeout(600).counters().comment().maxelem(1024));
    assert_eq!(
        spec.to_string(),
        "create svc hash:ip,port family inet6 maxelem 1024 timeout 600 counters comment"
    );
    let e = Entry::new(vec![
        ElementAttr::Ip("10.0.0.1".parse().unwrap()),
        ElementAttr::Port(0x0800),
        ElementAttr::Proto(1),
        ElementAttr::Timeout(Timeout(30)),
        ElementAttr::Bytes(84),
        ElementAttr::Packets(1),
        ElementAttr::Comment("ping".into()),
        ElementAttr::SkbMark {
            mark: 0x10,
            mask: 0xff,
        },
    ]);
    assert_eq!(
        e.to_string(),
        "10.0.0.1,icmp:8/0 timeout 30 packets 1 bytes 84 comment \"ping\" skbmark 0x10/0xff"
    );
    let e = Entry::new(vec![
        ElementAttr::Ip("10.0.0.0".parse().unwrap()),
        ElementAttr::Cidr(8),
        ElementAttr::CadtFlags(CadtFlags::NOMATCH),
    ]);
    assert_eq!(e.to_string(), "10.0.0.0/8 nomatch");
    assert_eq!(
        (CadtFlags::WITH_COUNTERS | CadtFlags::NOMATCH | CadtFlags::from_bits_retain(1 << 20))
            .to_string(),
        "counters nomatch 0x100000"
    );
    let v = ProtocolVersion {
        version: 7,
        min: Some(6),
    };
    assert_eq!(v.to_string(), "protocol 7 (min 6)");
    assert_eq!(
        TypeRevisions { max: 7, min: 0 }.to_string(),
        "revisions 0-7"
    );
    let c = SetCounts::default().elements(1).references(0).memsize(512);
    assert_eq!(
        c.to_string(),
        "Size in memory: 512 References: 0 Number of entries: 1"
    );
    let i = SetIndex {
        index: 3,
        family: Some(Family::Inet),
    };
    assert_eq!(i.to_string(), "index 3 family inet");
    let r = BulkReport::new(vec![Outcome::Applied, Outcome::NotAttempted], 1, 1);
    assert_eq!(
        r.to_string(),
        "1 of 2 elements applied, 0 failed, 1 not attempted (1 messages, 1 datagrams)"
    );
    let texts: Vec<String> = r.outcomes().map(|o| o.to_string()).collect();
    assert_eq!(texts, ["applied", "not attempted"]);
}

#[test]
fn sets_display_as_ipset_save_writes_them() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let ipset = |args: &str| {
        let o = clusterip_test_support::nsenter(ns.proc_path())
            .arg("ipset")
            .args(args.split_whitespace())
            .output()
            .expect("run nsenter ipset");
        assert!(
            o.status.success(),
            "ipset {args}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for line in [
        "create a hash:ip,port family inet hashsize 1024 maxelem 65536 counters comment skbinfo",
        "add a 10.0.0.1,tcp:80 packets 5 bytes 300 comment web skbmark 0x10/0xff skbprio 1:2 skbqueue 3",
        "add a 10.0.0.2,udp:53",
        "create b hash:net family inet6",
        "add b fd00::/64",
        "add b fd00:1::1",
        "add b fd00:2::/48 nomatch",
        "create c hash:ip,port,ip",
        "add c 10.0.0.1,udp:53,10.0.0.2",
        "create d hash:net,iface",
        "add d 10.0.0.0/24,eth0",
        "create h list:set size 8",
        "add h b",
        "create j hash:ip family inet netmask 24 forceadd",
        "add j 10.0.1.0",
        "create k hash:net,port",
        "add k 10.1.0.0/16,sctp:9-11",
    ] {
        ipset(line);
    }
    let save = ipset("save");
    let sets = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let h = IpsetHandle::in_netns(&ns).unwrap();
            h.list(None).await.unwrap()
        });
    assert_eq!(sets.len(), 7);
    assert_eq!(sets[0].set_type, SetType::HashIpPort);
    let ours: String = sets.iter().map(|s| format!("{s}\n")).collect();
    // ipset 7.17 lists a forceadd set without the word; we keep it.
    assert!(ours.contains(" netmask 24 forceadd "));
    assert_eq!(ours.replace(" forceadd", ""), save);
}
