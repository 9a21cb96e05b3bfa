//! Bad input through the public entry points that work on the host kernel
//! (issue 9): the ipset library and the `ipset` example (against the real
//! `ipset` on the same starting state), nftables-glue, the IPVS service
//! checks that run before any kernel call, and `svc-setup`'s command line.
//! Each case: a clear error naming the bad value, and no change where the
//! reference tool makes none. IPVS bad input on a kernel with IPVS (the
//! `ipvsadm` example included) is in `guest-tests/tests/guest_uml_faults.rs`.

use clusterip::ipset::{CreateSet, IpsetHandle};
use clusterip::netlink::{Error, Netns};

mod common;
use common::{block_on, example, merged, run_in_merged};

const LONG_SET: &str = "a_set_name_of_thirty_two_bytes_x"; // 32 bytes: ipset allows 31

/// The ipset library: names too long, an element of the wrong family, a
/// type the kernel lacks: typed errors naming the value, nothing created.
#[test]
fn ipset_library_bad_values() {
    assert_eq!(LONG_SET.len(), 32);
    let ns = Netns::new_anonymous().unwrap();
    let h = IpsetHandle::in_netns(&ns).unwrap();
    let e = block_on(h.create(&CreateSet::hash_ip_port(LONG_SET), false)).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains(LONG_SET), "{e}");
    let e = block_on(h.create(&CreateSet::hash_ip_port(""), false)).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    let e = block_on(h.create(&CreateSet::hash_ip_port("a\0b"), false)).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    block_on(h.create(&CreateSet::hash_ip_port("ok"), false)).unwrap();
    let e = block_on(h.rename("ok", LONG_SET)).unwrap_err();
    assert!(e.to_string().contains(LONG_SET), "{e}");
    // members of a missing set, and of the wrong family
    let m = clusterip::ipset::IpPortEntry::new(
        "2001:db8::1".parse().unwrap(),
        clusterip::ipset::IpProto::Tcp,
        80,
    );
    let e = block_on(h.add("ok", &m, false)).unwrap_err();
    assert!(e.to_string().contains("ok"), "{e}");
    let e = block_on(h.add("nosuch", &m, false)).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("nosuch"), "{e}");
    let sets = block_on(h.list(None)).unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].name, "ok");
    assert!(sets[0].ip_port_members().unwrap().is_empty());
}

/// The `ipset` example against the real ipset: each refuses, ours names
/// the bad value, and both leave the same state (`ipset save`).
#[test]
fn ipset_example_bad_input_matches_ipset() {
    let ours = example("ipset");
    let pre = "create s hash:ip,port\nadd s 10.0.0.1,tcp:80\n";
    let long = format!("create {LONG_SET} hash:ip,port");
    let cases: Vec<(String, &str, &str)> = vec![
        (long, "", LONG_SET),
        ("add s 10.0.0.300,tcp:80".into(), "", "10.0.0.300"),
        ("add s 10.0.0.2,tcp:99999".into(), "", "99999"),
        ("add s 10.0.0.2,nosuchproto:80".into(), "", "nosuchproto"),
        ("add s 10.0.0.2".into(), "", "10.0.0.2"),
        ("create t hash:ip,port timeout abc".into(), "", "abc"),
        ("create t hash:ip,port family inet7".into(), "", "inet7"),
        ("create t hash:ip,port hashsize 0x".into(), "", "0x"),
        ("create t hash:nosuchtype".into(), "", "hash:nosuchtype"),
        ("add nosuch 10.0.0.2,tcp:80".into(), "", "nosuch"),
        ("add s 10.0.0.2,tcp:80 --bogus".into(), "", "bogus"),
        // restore: the reference stops at the bad line (earlier lines stay)
        (
            "restore".into(),
            "add s 10.0.0.3,tcp:80\nadd s 10.0.0.300,tcp:80\nadd s 10.0.0.4,tcp:80\n",
            "10.0.0.300",
        ),
    ];
    let mut report = String::new();
    let mut failures = Vec::new();
    for (args, stdin, token) in &cases {
        let argv: Vec<&str> = args.split_whitespace().collect();
        let mut res = Vec::new();
        for prog in ["ipset", ours.to_str().unwrap()] {
            let ns = Netns::new_anonymous().unwrap();
            assert!(run_in_merged(&ns, "ipset", &["restore"], pre).0);
            let (ok, text) = run_in_merged(&ns, prog, &argv, stdin);
            let (_, state) = run_in_merged(&ns, "ipset", &["save"], "");
            // the hash seed (`initval`) is random per set: not state
            let state: Vec<String> = state
                .lines()
                .map(|l| match l.find(" initval ") {
                    Some(i) => l[..i].to_owned(),
                    None => l.to_owned(),
                })
                .collect();
            res.push((ok, text, state));
        }
        let (ref_ok, ref_text, ref_state) = &res[0];
        let (our_ok, our_text, our_state) = &res[1];
        let bad = common::compare_bad_input(
            "ipset",
            args,
            token,
            (*ref_ok, ref_text, ref_state),
            (*our_ok, our_text, our_state),
            &mut report,
        );
        if !bad.is_empty() {
            failures.push(format!(
                "{args:?}: {bad:?}\n  ours {our_text:?}\n  ipset {ref_text:?}"
            ));
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// IPVS service values the library refuses before any kernel call
/// (`Service::validate`), on the host where there is no IPVS at all.
#[test]
fn ipvs_service_checks_name_the_value() {
    use clusterip::ipvs::{Scheduler, Service, ServiceFlags};
    let s = Service::tcp("10.0.0.1:80".parse().unwrap())
        .scheduler(Scheduler::Other("abcdefghijklmnop".into())); // 16 bytes + NUL
    let e = s.validate().unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("abcdefghijklmnop"), "{e}");
    // 15 bytes fit
    let s = Service::tcp("10.0.0.1:80".parse().unwrap())
        .scheduler(Scheduler::Other("abcdefghijklmno".into()));
    s.validate().unwrap();
    // one-packet scheduling on TCP
    let mut s = Service::tcp("10.0.0.1:80".parse().unwrap());
    s.flags |= ServiceFlags::ONE_PACKET;
    let e = s.validate().unwrap_err();
    assert!(e.to_string().contains("10.0.0.1:80"), "{e}");
}

/// nftables-glue: a comment longer than nft stores, a name the kernel
/// refuses: typed errors, no table left behind.
#[test]
fn nftables_bad_values() {
    use clusterip::nftables::{Family, NftHandle, Rule, Table, Transaction};
    let long = "c".repeat(300);
    let e = Rule::new(Family::Ipv4, "t", "c")
        .with_comment(&long)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    // a table name longer than NFT_NAME_MAXLEN (256) in a transaction
    // with a valid table first: all or nothing
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "good"))
        .add_table(&Table::new(Family::Ipv4, "t".repeat(300)));
    let e = block_on(nft.commit(&tx)).unwrap_err();
    eprintln!("{e}");
    assert!(e.to_string().contains("ttttt"), "{e}");
    assert!(
        block_on(nft.list_tables(Family::Unspec))
            .unwrap()
            .is_empty()
    );
}

/// svc-setup's command line: unknown options, missing values and
/// conflicting options are refused with the option named, before any
/// netlink work (so nothing can change).
#[test]
fn svc_setup_bad_command_lines() {
    let bin = example("svc-setup");
    for (args, token) in [
        (&["--bogus"][..], "--bogus"),
        (&["--netns"][..], "--netns"),
        (&["--ipset", LONG_SET][..], LONG_SET),
        (
            &["--interface", "an-interface-name-too-long"][..],
            "an-interface-name-too-long",
        ),
        (&["--interface", "eth/0"][..], "eth/0"),
        (&["--mark", "0"][..], "--mark"),
        (&["--mark", "0xzz"][..], "0xzz"),
        (
            &["--config", "/nonexistent/keepalived.conf", "--dry-run"][..],
            "/nonexistent/keepalived.conf",
        ),
    ] {
        // in a throwaway namespace: a refusal that failed would reach
        // only that namespace's kernel state, never the machine's
        let ns = common::netns_with_lo();
        let o = common::nsenter(&ns).arg(&bin).args(args).output().unwrap();
        let text = merged(&o);
        assert!(!o.status.success(), "{args:?}: {text}");
        assert!(text.contains(token), "{args:?}: {text}");
        assert!(!text.contains("panicked"), "{args:?}: {text}");
    }
}
