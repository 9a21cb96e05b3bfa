//! ipset-nl against this machine's own kernel, every test in a throwaway
//! network namespace (ipset state is per namespace; nothing is left
//! behind, the host's namespace is never touched). The real `ipset` tool
//! runs inside the same namespace for the cross-checks.

use std::net::IpAddr;

use ipset_nl::{
    BulkOptions, CreateSet, ElementAttr, Entry, Error, Family, IpEntry, IpPortEntry, IpProto,
    IpSet, IpsetErrno, IpsetHandle, ListDetail, Netns, Outcome, SetCounts, SetHeader, SetType,
};

use clusterip_test_support::block_on;

fn setup() -> (Netns, IpsetHandle) {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    (ns, h)
}

/// Runs the real ipset in the namespace; returns (success, stdout, stderr).
fn ipset(ns: &Netns, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut v = vec!["ipset"];
    v.extend_from_slice(args);
    clusterip_test_support::run(ns.proc_path(), &v, stdin)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn full_spec(name: &str) -> CreateSet {
    CreateSet::hash_ip_port(name).options(|o| {
        o.timeout(100)
            .counters()
            .comment()
            .skbinfo()
            .forceadd()
            .hashsize(1024)
            .maxelem(65536)
            .bucketsize(12)
            .initval(0x11223344)
    })
}

#[test]
fn protocol_and_revision_negotiation() {
    let (_ns, h) = setup();
    block_on(async {
        assert_eq!(h.protocol().await.unwrap(), 7);
        let v = h.kernel_protocol(7).await.unwrap();
        assert_eq!(v.version, 7);
        assert_eq!(v.min, Some(6));
        // Protocol 6 is still accepted by this kernel.
        assert_eq!(h.kernel_protocol(6).await.unwrap().version, 7);
        let t = h
            .type_revisions(&SetType::HashIpPort, Family::Inet)
            .await
            .unwrap();
        assert!(t.max >= 6, "{t:?}");
        let t6 = h
            .type_revisions(&SetType::HashIpPort, Family::Inet6)
            .await
            .unwrap();
        assert_eq!(t6.max, t.max);
        // The revision picked: the kernel's newest that this crate knows.
        let r = h.pick_revision(&full_spec("x")).await.unwrap();
        assert_eq!(r, t.max.min(7));
        let err = h
            .type_revisions(&SetType::Other("hash:nonexistent".into()), Family::Inet)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    });
}

#[test]
fn create_header_list_destroy_with_every_option() {
    let (_ns, h) = setup();
    block_on(async {
        h.create(&full_spec("s"), false).await.unwrap();
        let hdr = h.header("s").await.unwrap();
        assert_eq!(hdr.set_type, SetType::HashIpPort);
        assert_eq!(hdr.family, Family::Inet);
        assert_eq!(
            hdr.revision,
            h.pick_revision(&full_spec("s")).await.unwrap()
        );
        let sets = h.list(Some("s")).await.unwrap();
        assert_eq!(sets.len(), 1);
        let o = &sets[0].options;
        assert_eq!(o.timeout.map(|t| t.as_secs()), Some(100));
        assert!(o.has_counters() && o.has_comment() && o.has_skbinfo() && o.has_forceadd());
        assert_eq!(o.hashsize, Some(1024));
        assert_eq!(o.maxelem, Some(65536));
        assert_eq!(o.bucketsize, Some(12));
        assert_eq!(o.initval, Some(0x11223344));
        assert_eq!(sets[0].counts.elements, Some(0));
        // -exist: the same create again is fine; without it, Exists.
        h.create(&full_spec("s"), true).await.unwrap();
        let e = h.create(&full_spec("s"), false).await.unwrap_err();
        assert!(matches!(e, Error::Exists { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("Set cannot be created: set with the same name already exists"),
            "{e}"
        );
        // A plain set: defaults chosen by the kernel.
        h.create(&CreateSet::hash_ip_port("plain"), false)
            .await
            .unwrap();
        let p = &h.list(Some("plain")).await.unwrap()[0];
        assert_eq!(p.options.hashsize, Some(1024));
        assert_eq!(p.options.maxelem, Some(65536));
        assert!(p.options.timeout.is_none() && p.options.flags.is_empty());
        assert_eq!(h.list_names().await.unwrap(), vec!["s", "plain"]);
        let headers = h
            .list_with(ipset_nl::Command::List, None, ListDetail::Headers)
            .await
            .unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].options.initval, Some(0x11223344));
        h.destroy(Some("s")).await.unwrap();
        let e = h.destroy(Some("s")).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("The set with the given name does not exist")
        );
        h.destroy(None).await.unwrap();
        assert!(h.list(None).await.unwrap().is_empty());
    });
}

#[test]
fn ipv4_elements_ranges_and_extensions() {
    let (_ns, h) = setup();
    block_on(async {
        h.create(&full_spec("s"), false).await.unwrap();
        let full = IpPortEntry::new(ip("10.0.0.1"), IpProto::Tcp, 80)
            .timeout(50)
            .counters(5, 100)
            .comment("hi there")
            .skbmark(0x10, 0xff)
            .skbprio(1, 2)
            .skbqueue(3);
        h.add("s", &full, false).await.unwrap();
        // A /30 with ports 1000-1002: 12 elements.
        let range = IpPortEntry::new(ip("10.0.0.0"), IpProto::Udp, 1000)
            .cidr(30)
            .port_to(1002);
        h.add("s", &range, false).await.unwrap();
        // An address range, udplite.
        let r2 = IpPortEntry::new(ip("10.1.0.1"), IpProto::UdpLite, 7).ip_to(ip("10.1.0.3"));
        h.add("s", &r2, false).await.unwrap();
        // icmp type/code, and a numeric protocol with port 0.
        h.add("s", &IpPortEntry::icmp(ip("10.0.0.9"), 8, 0), false)
            .await
            .unwrap();
        h.add("s", &IpPortEntry::icmp(ip("10.0.0.9"), 3, 4), false)
            .await
            .unwrap();
        h.add(
            "s",
            &IpPortEntry::new(ip("10.0.0.9"), IpProto::Other(47), 0),
            false,
        )
        .await
        .unwrap();
        h.add(
            "s",
            &IpPortEntry::new(ip("10.0.0.9"), IpProto::Sctp, 9),
            false,
        )
        .await
        .unwrap();
        let set = &h.list(Some("s")).await.unwrap()[0];
        let m = set.ip_port_members().unwrap();
        assert_eq!(m.len(), 1 + 12 + 3 + 4);
        let got = m.iter().find(|e| e.proto == IpProto::Tcp).unwrap();
        assert_eq!(got.comment.as_deref(), Some("hi there"));
        assert_eq!((got.packets, got.bytes), (Some(5), Some(100)));
        assert_eq!(got.skbmark, Some((0x10, 0xff)));
        assert_eq!(got.skbprio, Some((1, 2)));
        assert_eq!(got.skbqueue, Some(3));
        assert!(got.timeout.unwrap().as_secs() <= 50);
        assert!(m.iter().any(|e| e.proto == IpProto::Other(47)));
        assert!(
            m.iter()
                .any(|e| e.icmp_type_code() == Some((3, 4)) && e.proto == IpProto::Icmp)
        );
        for a in 0..4 {
            for p in 1000..=1002 {
                let e = IpPortEntry::new(ip(&format!("10.0.0.{a}")), IpProto::Udp, p);
                assert!(h.test("s", &e).await.unwrap(), "{e}");
            }
        }
        assert!(
            h.test("s", &IpPortEntry::new(ip("10.1.0.2"), IpProto::UdpLite, 7))
                .await
                .unwrap()
        );
        assert!(
            !h.test("s", &IpPortEntry::new(ip("10.0.0.4"), IpProto::Udp, 1000))
                .await
                .unwrap()
        );
        // Delete the range again.
        h.del("s", &range, false).await.unwrap();
        assert_eq!(h.list(Some("s")).await.unwrap()[0].members.len(), 8);
        // -exist on add updates the extensions.
        let upd = IpPortEntry::new(ip("10.0.0.1"), IpProto::Tcp, 80).comment("new");
        h.add("s", &upd, true).await.unwrap();
        let m = h.list(Some("s")).await.unwrap()[0]
            .ip_port_members()
            .unwrap();
        let got = m.iter().find(|e| e.proto == IpProto::Tcp).unwrap();
        assert_eq!(got.comment.as_deref(), Some("new"));
        h.flush(Some("s")).await.unwrap();
        assert!(h.list(Some("s")).await.unwrap()[0].members.is_empty());
    });
}

#[test]
fn ipv6_elements() {
    let (_ns, h) = setup();
    block_on(async {
        let spec = CreateSet::hash_ip_port("s6")
            .family(Family::Inet6)
            .options(|o| o.timeout(0).comment());
        h.create(&spec, false).await.unwrap();
        let elems = [
            IpPortEntry::new(ip("2001:db8::1"), IpProto::Sctp, 443),
            IpPortEntry::icmp(ip("2001:db8::2"), 1, 2),
            IpPortEntry::icmp(ip("2001:db8::2"), 128, 0),
            IpPortEntry::new(ip("2001:db8::3"), IpProto::Tcp, 22).comment("ssh"),
            IpPortEntry::new(ip("2001:db8::4"), IpProto::Udp, 53).timeout(30),
        ];
        for e in &elems {
            h.add("s6", e, false).await.unwrap();
            assert!(h.test("s6", e).await.unwrap());
        }
        // Port ranges work for IPv6 too.
        let pr = IpPortEntry::new(ip("2001:db8::5"), IpProto::Tcp, 10).port_to(12);
        h.add("s6", &pr, false).await.unwrap();
        let set = &h.list(Some("s6")).await.unwrap()[0];
        assert_eq!(set.family, Family::Inet6);
        let m = set.ip_port_members().unwrap();
        assert_eq!(m.len(), elems.len() + 3);
        assert!(m.iter().any(|e| e.comment.as_deref() == Some("ssh")));
        assert!(
            m.iter()
                .any(|e| e.proto == IpProto::IcmpV6 && e.icmp_type_code() == Some((1, 2)))
        );
        // An IPv6 network is refused before anything is sent.
        let bad = IpPortEntry::new(ip("2001:db8::"), IpProto::Tcp, 1).cidr(64);
        assert!(bad.validate().is_err());
        // An IPv4 element in an IPv6 set: the kernel refuses.
        let e = h
            .add(
                "s6",
                &IpPortEntry::new(ip("10.0.0.1"), IpProto::Tcp, 1),
                false,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { .. } | Error::Kernel { .. }),
            "{e:?}"
        );
        h.del("s6", &elems[0], false).await.unwrap();
        assert!(!h.test("s6", &elems[0]).await.unwrap());
    });
}

#[test]
fn typed_errors() {
    let (_ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_ip_port("a"), false)
            .await
            .unwrap();
        h.create(&CreateSet::hash_ip_port("b6").family(Family::Inet6), false)
            .await
            .unwrap();
        let e1 = IpPortEntry::new(ip("1.2.3.4"), IpProto::Tcp, 80);
        h.add("a", &e1, false).await.unwrap();
        // Element exists.
        let e = h.add("a", &e1, false).await.unwrap_err();
        assert!(matches!(e, Error::Exists { .. }), "{e:?}");
        assert_eq!(ipset_nl::ipset_errno(&e, None), Some(IpsetErrno::Exist));
        assert!(
            e.to_string()
                .contains("Element cannot be added to the set: it's already added"),
            "{e}"
        );
        assert!(e.to_string().contains("1.2.3.4,tcp:80"), "{e}");
        h.add("a", &e1, true).await.unwrap();
        // Element missing on del.
        let e2 = IpPortEntry::new(ip("1.2.3.5"), IpProto::Tcp, 80);
        let e = h.del("a", &e2, false).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("it's not added"), "{e}");
        h.del("a", &e2, true).await.unwrap();
        // No such set.
        let e = h.add("nosuch", &e1, false).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        // Type mismatch on swap (inet vs inet6).
        let e = h.swap("a", "b6").await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert!(e.to_string().contains("their type does not match"), "{e}");
        // Swap with a missing second set; rename onto an existing one.
        let e = h.swap("a", "nosuch").await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        let e = h.rename("a", "b6").await.unwrap_err();
        assert!(matches!(e, Error::Exists { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("a set with the new name already exists"),
            "{e}"
        );
        // Missing protocol.
        let noproto = Entry::new(vec![ElementAttr::Ip(ip("1.2.3.4")), ElementAttr::Port(80)]);
        let e = h.add("a", &noproto, false).await.unwrap_err();
        assert_eq!(
            ipset_nl::ipset_errno(&e, None),
            Some(IpsetErrno::MissingProto),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("Protocol missing, but must be specified"),
            "{e}"
        );
        // Extensions the set was created without.
        let e = h
            .add("a", &e2.clone().comment("x"), false)
            .await
            .unwrap_err();
        assert_eq!(
            ipset_nl::ipset_errno(&e, None),
            Some(IpsetErrno::Comment),
            "{e:?}"
        );
        let e = h.add("a", &e2.clone().timeout(5), false).await.unwrap_err();
        assert_eq!(
            ipset_nl::ipset_errno(&e, None),
            Some(IpsetErrno::Timeout),
            "{e:?}"
        );
        let e = h
            .add("a", &e2.clone().counters(1, 1), false)
            .await
            .unwrap_err();
        assert_eq!(
            ipset_nl::ipset_errno(&e, None),
            Some(IpsetErrno::Counter),
            "{e:?}"
        );
        let e = h
            .add("a", &e2.clone().skbqueue(1), false)
            .await
            .unwrap_err();
        assert_eq!(
            ipset_nl::ipset_errno(&e, None),
            Some(IpsetErrno::SkbInfo),
            "{e:?}"
        );
        // Hash full.
        let tiny = CreateSet::hash_ip_port("tiny").options(|o| o.maxelem(1));
        h.create(&tiny, false).await.unwrap();
        h.add("tiny", &e1, false).await.unwrap();
        let e = h.add("tiny", &e2, false).await.unwrap_err();
        assert!(matches!(e, Error::Full { .. }), "{e:?}");
        assert!(e.to_string().contains("Hash is full"), "{e}");
        // forceadd is kept by the kernel.
        let force = CreateSet::hash_ip_port("force").options(|o| o.maxelem(1).forceadd());
        h.create(&force, false).await.unwrap();
        assert!(
            h.list(Some("force")).await.unwrap()[0]
                .options
                .has_forceadd()
        );
        // Unknown set type.
        let e = h
            .create(
                &CreateSet::new("t", SetType::Other("hash:bogus".into())),
                false,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        // Bad input never reaches the kernel.
        let e = h
            .create(&CreateSet::hash_ip_port("x".repeat(32)), false)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    });
}

#[test]
fn rename_swap_flush() {
    let (_ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_ip_port("a"), false)
            .await
            .unwrap();
        h.create(&CreateSet::hash_ip_port("b"), false)
            .await
            .unwrap();
        let ea = IpPortEntry::new(ip("10.0.0.1"), IpProto::Tcp, 1);
        let eb = IpPortEntry::new(ip("10.0.0.2"), IpProto::Tcp, 2);
        h.add("a", &ea, false).await.unwrap();
        h.add("b", &eb, false).await.unwrap();
        h.swap("a", "b").await.unwrap();
        assert!(h.test("a", &eb).await.unwrap());
        assert!(h.test("b", &ea).await.unwrap());
        h.rename("a", "c").await.unwrap();
        assert_eq!(h.list_names().await.unwrap(), vec!["c", "b"]);
        h.flush(None).await.unwrap();
        for s in h.list(None).await.unwrap() {
            assert!(s.members.is_empty(), "{s:?}");
        }
    });
}

#[test]
fn set_index_by_name_in_the_handles_namespace() {
    let (ns, h) = setup();
    block_on(async {
        h.create(&CreateSet::hash_ip_port("first"), false)
            .await
            .unwrap();
    });
    // A set made by the real tool, of the other family.
    let (ok, _, err) = ipset(
        &ns,
        &["create", "second", "hash:ip,port", "family", "inet6"],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(h.index_of("first").unwrap(), Some(0));
    assert_eq!(h.index_of("second").unwrap(), Some(1));
    assert_eq!(ipset_nl::index_of(&ns, "second").unwrap(), Some(1));
    let s = h.set_index("second").unwrap().unwrap();
    assert_eq!(s.index, 1);
    assert_eq!(s.family, Some(Family::Inet6));
    assert_eq!(
        h.set_index("first").unwrap().unwrap().family,
        Some(Family::Inet)
    );
    // Missing sets are None, not errors.
    assert_eq!(h.index_of("missing").unwrap(), None);
    assert_eq!(h.set_index("missing").unwrap(), None);
    // The lookup runs in the handle's namespace: another one has no sets.
    let (_other_ns, other) = setup();
    assert_eq!(other.index_of("first").unwrap(), None);
    // A destroyed set's slot is reused by the next create.
    block_on(async {
        h.destroy(Some("first")).await.unwrap();
        assert_eq!(h.index_of("first").unwrap(), None);
        h.create(&CreateSet::hash_ip_port("third"), false)
            .await
            .unwrap();
    });
    assert_eq!(h.index_of("third").unwrap(), Some(0));
    assert!(matches!(
        h.index_of(&"x".repeat(32)),
        Err(Error::InvalidInput { .. })
    ));
}

fn many(n: u32) -> Vec<IpPortEntry> {
    (0..n)
        .map(|i| {
            let a = 0x0a00_0000 + i / 8;
            IpPortEntry::new(
                IpAddr::from(a.to_be_bytes()),
                IpProto::Tcp,
                1000 + (i % 8) as u16,
            )
        })
        .collect()
}

#[test]
fn bulk_add_del_test_report_each_element() {
    let (_ns, h) = setup();
    block_on(async {
        h.create(
            &CreateSet::hash_ip_port("big").options(|o| o.maxelem(1 << 20)),
            false,
        )
        .await
        .unwrap();
        let elems = many(20_000);
        let r = h
            .add_many("big", &elems, BulkOptions::default())
            .await
            .unwrap();
        assert!(r.all_applied(), "{:?}", r.failures());
        // Far fewer messages than elements: thousands per message.
        assert!(r.messages <= 20, "{} messages", r.messages);
        assert!(r.datagrams <= r.messages);
        assert_eq!(h.list(Some("big")).await.unwrap()[0].members.len(), 20_000);

        // Again, with three fresh elements among existing ones: the
        // existing ones fail by position, the fresh ones are applied.
        let mut again: Vec<_> = elems[..5000].to_vec();
        let fresh = many(20_003)[20_000..].to_vec();
        again.insert(10, fresh[0].clone());
        again.insert(2500, fresh[1].clone());
        again.push(fresh[2].clone());
        let r = h
            .add_many("big", &again, BulkOptions::default())
            .await
            .unwrap();
        let fails = r.failures();
        assert_eq!(fails.len(), 5000);
        // every element of the rests refused: four rounds at most (the
        // last one element a message), not a round per element
        assert!(r.datagrams <= 24, "{} datagrams", r.datagrams);
        assert!(matches!(r.outcome(10), Some(Outcome::Applied)));
        assert!(matches!(r.outcome(2500), Some(Outcome::Applied)));
        assert!(matches!(r.outcome(5002), Some(Outcome::Applied)));
        assert!(matches!(
            r.outcome(0),
            Some(Outcome::Failed(e)) if matches!(e, Error::Exists { .. })
        ));
        assert!(
            fails[0]
                .1
                .to_string()
                .contains("element 0 (10.0.0.0,tcp:1000)"),
            "{}",
            fails[0].1
        );
        assert_eq!(r.applied(), 3);
        assert_eq!(h.list(Some("big")).await.unwrap()[0].members.len(), 20_003);

        // Stop at the first error: the failing position, the rest untried.
        let mut batch = many(20_010)[20_003..].to_vec(); // 7 fresh
        batch.insert(3, elems[0].clone()); // exists
        let r = h
            .add_many("big", &batch, BulkOptions::new().stop_on_error(true))
            .await
            .unwrap();
        assert!(matches!(
            r.outcomes().take(3).collect::<Vec<_>>()[..],
            [Outcome::Applied, Outcome::Applied, Outcome::Applied]
        ));
        assert!(matches!(
            r.outcome(3),
            Some(Outcome::Failed(e)) if matches!(e, Error::Exists { .. })
        ));
        assert_eq!(r.not_attempted(), vec![4, 5, 6, 7]);
        for (i, e) in batch.iter().enumerate() {
            assert_eq!(h.test("big", e).await.unwrap(), i <= 3, "{i} {e}");
        }
        // -exist: everything applied.
        let r = h
            .add_many("big", &batch, BulkOptions::new().exist(true))
            .await
            .unwrap();
        assert!(r.all_applied());

        // Bulk test.
        let mut probe = elems[..100].to_vec();
        probe.push(IpPortEntry::new(ip("192.0.2.1"), IpProto::Udp, 1));
        let r = h.test_many("big", &probe).await.unwrap();
        assert_eq!(r.applied(), 100);
        assert!(matches!(
            r.outcome(100),
            Some(Outcome::Failed(e)) if matches!(e, Error::NotFound { .. })
        ));
        assert!(r.datagrams < 10, "{r:?}");

        // Bulk del of everything, one missing in the middle.
        let mut gone = elems.clone();
        gone.insert(7000, IpPortEntry::new(ip("192.0.2.1"), IpProto::Udp, 1));
        let r = h
            .del_many("big", &gone, BulkOptions::default())
            .await
            .unwrap();
        assert_eq!(r.failures().len(), 1);
        assert_eq!(r.failures()[0].0, 7000);
        assert!(matches!(r.failures()[0].1, Error::NotFound { .. }));
        assert_eq!(r.applied(), 20_000);
        assert_eq!(h.list(Some("big")).await.unwrap()[0].members.len(), 3 + 7);

        // A bulk add to a missing set: every element failed, none lost.
        let r = h
            .add_many("nosuch", &elems[..10], BulkOptions::default())
            .await
            .unwrap();
        assert_eq!(r.failures().len(), 10);
        assert!(matches!(r.failures()[9].1, Error::NotFound { .. }));
    });
}

#[test]
fn atomic_replace() {
    let (_ns, h) = setup();
    block_on(async {
        let spec = CreateSet::hash_ip_port("live").options(|o| o.counters());
        // The set does not exist yet: filled aside, then renamed in.
        h.replace(&spec, &many(1000)).await.unwrap();
        assert_eq!(h.list(Some("live")).await.unwrap()[0].members.len(), 1000);
        // Replaced by other content; no temporary set left behind.
        let next = many(1500)[1000..].to_vec();
        h.replace(&spec, &next).await.unwrap();
        let sets = h.list(None).await.unwrap();
        assert_eq!(
            sets.len(),
            1,
            "{:?}",
            sets.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        let m = sets[0].ip_port_members().unwrap();
        assert_eq!(m.len(), 500);
        assert!(
            m.contains(&next[0].clone().counters(0, 0)) || m.iter().any(|e| e.ip == next[0].ip)
        );
        // A failing fill leaves the live set untouched.
        let bad =
            vec![IpPortEntry::new(ip("10.9.9.9"), IpProto::Tcp, 1).comment("no comments here")];
        let e = h.replace(&spec, &bad).await.unwrap_err();
        assert!(e.to_string().contains("element 0"), "{e}");
        let sets = h.list(None).await.unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].members.len(), 500);
    });
}

/// A bulk add into a set that fills up: every element after the 100th is
/// refused, each with its own error, in a bounded number of rounds (packed,
/// the rest of each refused message would advance one element a round:
/// 4,904 datagrams for these 5,000).
#[test]
fn bulk_add_into_a_full_set_reports_every_refusal_in_few_rounds() {
    let (_ns, h) = setup();
    block_on(async {
        h.create(
            &CreateSet::hash_ip_port("cap").options(|o| o.maxelem(100)),
            false,
        )
        .await
        .unwrap();
        let elems = many(5000);
        let r = h
            .add_many("cap", &elems, BulkOptions::default())
            .await
            .unwrap();
        assert_eq!(r.applied(), 100);
        assert_eq!(r.failures().len(), 4900);
        assert_eq!(r.not_attempted_count(), 0);
        assert!(
            r.failures()
                .iter()
                .all(|(i, e)| *i >= 100 && matches!(e, Error::Full { .. }))
        );
        assert!(r.datagrams <= 24, "{} datagrams", r.datagrams);
        assert_eq!(h.list(Some("cap")).await.unwrap()[0].members.len(), 100);
    });
}

/// A replace whose elements overflow the set's `maxelem`: the kernel
/// refuses element 100 and every element of the later messages, and the
/// replace fails after its one batch, naming the first refused element,
/// instead of sending the rest of each refused message again round after
/// round (one element further each round: some 1,600 rounds here).
#[test]
fn atomic_replace_overflowing_fails_after_one_batch() {
    let (_ns, h) = setup();
    block_on(async {
        let spec = CreateSet::hash_ip_port("cap").options(|o| o.maxelem(100));
        h.replace(&spec, &many(50)).await.unwrap();
        let before = h.connection().stats().datagrams_sent;
        let e = h.replace(&spec, &many(5000)).await.unwrap_err();
        let sent = h.connection().stats().datagrams_sent - before;
        assert!(e.to_string().contains("element 100 refused"), "{e}");
        // the leftover check, the create, every datagram of the fill
        // (some 200 kB in the default 64 KiB datagrams: stopping at the
        // datagram that held the refusal would make 5 in all), the
        // temporary set's destroy
        assert!((7..=10).contains(&sent), "{sent} datagrams sent");
        let sets = h.list(None).await.unwrap();
        assert_eq!(
            sets.len(),
            1,
            "{:?}",
            sets.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        assert_eq!(sets[0].name, "cap");
        assert_eq!(sets[0].members.len(), 50);
    });
}

#[test]
fn crate_sets_saved_by_ipset() {
    let (ns, h) = setup();
    block_on(async {
        h.create(&full_spec("s"), false).await.unwrap();
        let e = IpPortEntry::new(ip("10.0.0.1"), IpProto::Tcp, 80)
            .timeout(0)
            .counters(5, 100)
            .comment("hi")
            .skbmark(0x10, 0xff)
            .skbprio(1, 2)
            .skbqueue(3);
        h.add("s", &e, false).await.unwrap();
        h.add(
            "s",
            &IpPortEntry::icmp(ip("10.0.0.2"), 8, 0).timeout(0),
            false,
        )
        .await
        .unwrap();
        h.create(&CreateSet::hash_ip_port("v6").family(Family::Inet6), false)
            .await
            .unwrap();
        h.add(
            "v6",
            &IpPortEntry::new(ip("2001:db8::1"), IpProto::Sctp, 443),
            false,
        )
        .await
        .unwrap();
    });
    let (ok, out, err) = ipset(&ns, &["save"], None);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(
        lines[..3],
        [
            "create s hash:ip,port family inet hashsize 1024 maxelem 65536 timeout 100 counters comment skbinfo bucketsize 12 initval 0x11223344",
            "add s 10.0.0.1,tcp:80 timeout 0 packets 5 bytes 100 comment \"hi\" skbmark 0x10/0xff skbprio 1:2 skbqueue 3",
            "add s 10.0.0.2,icmp:echo-request timeout 0 packets 0 bytes 0",
        ]
    );
    assert!(
        lines[3].starts_with(
            "create v6 hash:ip,port family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x"
        ),
        "{out}"
    );
    assert_eq!(lines[4], "add v6 2001:db8::1,sctp:443");
}

#[test]
fn ipset_restore_read_back_typed() {
    let (ns, h) = setup();
    let file = "\
create r hash:ip,port family inet hashsize 2048 maxelem 1000 timeout 60 counters comment skbinfo bucketsize 10 initval 0xdeadbeef
add r 192.0.2.1,udp:53 timeout 0 packets 1 bytes 2 comment \"dns\" skbmark 0x1 skbprio 3:4 skbqueue 5
add r 192.0.2.2,icmp:3/4 timeout 0
add r 192.0.2.3,gre:0 timeout 0
create r6 hash:ip,port family inet6 hashsize 1024 maxelem 65536
add r6 2001:db8::9,ipv6-icmp:128/0
add r6 2001:db8::a,udplite:9
";
    let (ok, _, err) = ipset(&ns, &["restore"], Some(file));
    assert!(ok, "{err}");
    block_on(async {
        let sets = h.save(None).await.unwrap();
        assert_eq!(sets.len(), 2);
        let r = &sets[0];
        assert_eq!(r.name, "r");
        assert_eq!(r.options.hashsize, Some(2048));
        assert_eq!(r.options.maxelem, Some(1000));
        assert_eq!(r.options.timeout.map(|t| t.as_secs()), Some(60));
        assert_eq!(r.options.bucketsize, Some(10));
        assert_eq!(r.options.initval, Some(0xdeadbeef));
        assert!(r.options.has_counters() && r.options.has_comment() && r.options.has_skbinfo());
        let m = r.ip_port_members().unwrap();
        let dns = m.iter().find(|e| e.proto == IpProto::Udp).unwrap();
        assert_eq!(dns.ip, ip("192.0.2.1"));
        assert_eq!(dns.port, 53);
        assert_eq!(dns.comment.as_deref(), Some("dns"));
        assert_eq!((dns.packets, dns.bytes), (Some(1), Some(2)));
        assert_eq!(dns.skbmark, Some((1, 0xffff_ffff)));
        assert_eq!(dns.skbprio, Some((3, 4)));
        assert_eq!(dns.skbqueue, Some(5));
        assert!(m.iter().any(|e| e.icmp_type_code() == Some((3, 4))));
        assert!(m.iter().any(|e| e.proto == IpProto::Other(47)));
        let r6 = &sets[1];
        assert_eq!(r6.family, Family::Inet6);
        let m6 = r6.ip_port_members().unwrap();
        assert!(
            m6.iter()
                .any(|e| e.proto == IpProto::IcmpV6 && e.port == 128 << 8)
        );
        assert!(
            m6.iter()
                .any(|e| e.proto == IpProto::UdpLite && e.port == 9)
        );
    });
}

/// Sets of other types, made by `ipset restore`, are listed by this crate
/// and re-created from the listing in another namespace: `ipset save` of
/// both namespaces is identical, so nothing was lost.
#[test]
fn other_set_types_round_trip_losslessly() {
    let (ns, h) = setup();
    let file = "\
create hip hash:ip family inet hashsize 1024 maxelem 65536 netmask 24 timeout 30 counters comment bucketsize 12 initval 0x01020304
add hip 10.1.2.0 timeout 0 packets 0 bytes 0 comment \"x\"
create hnet hash:net family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x01020305
add hnet 2001:db8::/32
add hnet 2001:db9::/48 nomatch
create bport bitmap:port range 1000-2000
add bport 1500
create bipmac bitmap:ip,mac range 10.0.0.0/24
add bipmac 10.0.0.1,00:11:22:33:44:55
create hni hash:net,iface family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x01020306
add hni 10.0.0.0/16,eth0
add hni 10.1.0.0/16,physdev:eth1
create hipn hash:ip,port,net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x01020308
add hipn 10.0.0.1,udp:53,192.168.0.0/16
create hnp hash:net,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x01020307
add hnp 10.0.0.0/8,tcp:80
create lset list:set size 8
add lset hip
";
    let (ok, _, err) = ipset(&ns, &["restore"], Some(file));
    assert!(ok, "{err}");
    let (_, before, _) = ipset(&ns, &["save"], None);
    let (ns2, h2) = setup();
    block_on(async {
        let sets = h.save(None).await.unwrap();
        assert_eq!(sets.len(), 8);
        for s in &sets {
            h2.create(&s.to_create(), false).await.unwrap();
        }
        for s in &sets {
            for m in &s.members {
                // Listed timeouts are remaining times: keep them as listed.
                h2.add(&s.name, m, false).await.unwrap();
            }
        }
    });
    let (_, after, _) = ipset(&ns2, &["save"], None);
    assert_eq!(before, after);
}

#[test]
fn handle_over_a_given_connection() {
    use ipset_nl::netlink::{Config, Connection, Protocol};
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let config = Config::new().with_timeout(std::time::Duration::from_secs(3));
    let conn = Connection::open_with(Protocol::Netfilter, &ns, config).unwrap();
    let h = IpsetHandle::with_connection(conn).unwrap();
    assert_eq!(
        h.connection().config().timeout,
        std::time::Duration::from_secs(3)
    );
    block_on(h.create(&CreateSet::hash_ip_port("given"), false)).unwrap();
    let (ok, out, err) = ipset(&ns, &["list", "-n"], None);
    assert!(ok, "{err}");
    assert_eq!(out, "given\n");
    // A connection of another protocol is refused up front, named.
    let generic = Connection::open(Protocol::Generic, &ns).unwrap();
    let e = IpsetHandle::with_connection(generic).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("ipset handle"), "{e}");
}

/// The constructors a user outside the crate has (the model types are
/// `#[non_exhaustive]`) build exactly what the kernel lists and reports.
#[test]
fn listing_and_header_equal_what_the_constructors_build() {
    let (_ns, h) = setup();
    block_on(async {
        let spec = CreateSet::hash_ip("built").options(|o| o.hashsize(1024).maxelem(65536));
        h.create(&spec, false).await.unwrap();
        h.add("built", &IpEntry::new(ip("10.0.0.1")), false)
            .await
            .unwrap();
        let header = h.header("built").await.unwrap();
        // The header reply carries no index.
        assert_eq!(
            header,
            SetHeader::new("built", SetType::HashIp, header.revision, Family::Inet)
        );
        let listed = h.list(Some("built")).await.unwrap().remove(0);
        // What the kernel picks itself: the hash seed, bucket size and
        // memory use; everything else is what the commands said.
        let o = &listed.options;
        let (initval, memsize) = (o.initval.unwrap(), listed.counts.memsize.unwrap());
        // The first set of a fresh namespace has index 0.
        let mut want = IpSet::new("built", SetType::HashIp)
            .revision(header.revision)
            .index(0)
            .options(|o| o.hashsize(1024).maxelem(65536).initval(initval))
            .counts(
                SetCounts::default()
                    .elements(1)
                    .references(0)
                    .memsize(memsize),
            )
            .member(&IpEntry::new(ip("10.0.0.1")));
        want.options.bucketsize = o.bucketsize;
        assert_eq!(listed, want);
    });
}
