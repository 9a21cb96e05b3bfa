//! Fault tests on the host kernel (issue 9), each in its own throwaway
//! network namespace (root needed). The host kernel has no IPVS and lacks
//! some ipset types: those are the "kernel without the feature" cases.
//! Every test asserts that nothing is lost or left half-done.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clusterip::ipset::{
    BulkOptions, CreateSet, IpPortEntry, IpProto, IpSet, IpsetHandle, ListDetail, SetType,
};
use clusterip::netlink::{Config, Connection, Error, Netns, Protocol};
use clusterip::nftables::{Chain, Family, NftHandle, Rule, Table, Transaction};

mod common;
use common::{block_on, tool};

/// No IPVS in the host kernel: a typed `Unsupported` with the hint, fast.
#[test]
fn no_ipvs_in_kernel_is_unsupported_quickly() {
    let ns = Netns::new_anonymous().unwrap();
    let t = Instant::now();
    // `IpvsHandle::new()` uses the caller's namespace: run it inside `ns`.
    let r = ns
        .run(|| block_on(clusterip::ipvs::IpvsHandle::new()).map(|_| ()))
        .unwrap();
    let elapsed = t.elapsed();
    let err = r.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("no IPVS in this kernel: load ip_vs"),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    // the same through in_netns
    let err = block_on(clusterip::ipvs::IpvsHandle::in_netns(&ns))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

/// hash:mac is not built into the host kernel (CONFIG_IP_SET_HASH_MAC
/// unset): creating one is a typed error naming the type, and no set exists
/// afterwards.
#[test]
fn missing_ipset_type_is_a_typed_error_and_creates_nothing() {
    let ns = Netns::new_anonymous().unwrap();
    // the reference tool agrees the type is missing here
    let (ok, text) = tool(&ns, &["ipset", "create", "m", "hash:mac"]);
    assert!(!ok && text.contains("not supported"), "{text}");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    let t = Instant::now();
    let err = block_on(h.create(
        &CreateSet::new("m", SetType::Other("hash:mac".into())),
        false,
    ))
    .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, Error::Unsupported { .. } | Error::NotFound { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("hash:mac"), "{text}");
    assert!(block_on(h.list_names()).unwrap().is_empty());
    let (ok, names) = tool(&ns, &["ipset", "list", "-n"]);
    assert!(ok && names.trim().is_empty(), "{names}");
}

/// A dump of 5,000 ipset members through a socket whose receive buffer is
/// as small as the kernel allows: the kernel's dump is flow-controlled, so
/// everything arrives; nothing is dropped.
#[test]
fn ipset_dump_larger_than_receive_buffer_is_complete() {
    let ns = Netns::new_anonymous().unwrap();
    let h = IpsetHandle::in_netns(&ns).unwrap();
    block_on(h.create(&CreateSet::hash_ip_port("big"), false)).unwrap();
    let members: Vec<IpPortEntry> = (0..5000u32)
        .map(|i| {
            IpPortEntry::new(
                IpAddr::from([10, 1, (i / 250) as u8, (i % 250) as u8 + 1]),
                IpProto::Tcp,
                1000 + (i % 50) as u16,
            )
        })
        .collect();
    block_on(h.add_many("big", &members, BulkOptions::default())).unwrap();

    let tiny = Config::new().with_recv_buffer(1);
    let conn = Connection::open_with(Protocol::Netfilter, &ns, tiny).unwrap();
    let proto = block_on(h.protocol()).unwrap();
    let req = clusterip::ipset::request::list(
        proto,
        clusterip::ipset::Command::List,
        Some("big"),
        ListDetail::Full,
    );
    let msgs = block_on(conn.dump("list set big", req)).unwrap();
    assert!(msgs.len() > 1, "one dump message cannot hold 5000 members");
    let sets = IpSet::from_messages(msgs);
    assert_eq!(sets.len(), 1);
    let got: BTreeSet<String> = sets[0]
        .ip_port_members()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let want: BTreeSet<String> = members.iter().map(ToString::to_string).collect();
    assert_eq!(got.len(), 5000);
    assert_eq!(got, want);
    // the tiny buffer really was in force on that socket (several receives)
    assert!(conn.stats().recv_calls > 2, "{:?}", conn.stats());
}

const PAD: &str = "consistency-pad-0123456789abcdef0123456789abcdef0123456789abcdef";

/// The rules a writer transaction leaves: `n` rules all commented with
/// generation `g`.
fn gen_rules(g: u32, n: u32) -> Vec<Rule> {
    (0..n)
        .map(|i| {
            Rule::new(Family::Ipv4, "race", "c")
                .with_comment(&format!("g{g} r{i} {PAD}"))
                .unwrap()
        })
        .collect()
}

/// nf_tables rule dumps while another thread replaces the rule set in a
/// loop. Each writer transaction flushes the chain and appends an even
/// number of rules (2 * (100 + g % 40)) all tagged with its generation g,
/// atomically. A consistent dump therefore holds rules of one generation
/// only, exactly 2 * (100 + g % 40) of them. Every dump must be either that
/// or `Error::DumpInterrupted`: never a mixed or partial list.
#[test]
fn nft_rule_dumps_under_concurrent_changes_are_consistent_or_interrupted() {
    let ns = Netns::new_anonymous().unwrap();
    let nft = NftHandle::in_netns(&ns).unwrap();
    let chain = Chain::regular(Family::Ipv4, "race", "c");
    let mut tx = Transaction::new();
    tx.add_table(&Table::new(Family::Ipv4, "race"))
        .add_chain(&chain);
    for r in gen_rules(0, 200) {
        tx.append_rule(&r);
    }
    block_on(nft.commit(&tx)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let ns = ns.clone();
        std::thread::spawn(move || {
            let nft = NftHandle::in_netns(&ns).unwrap();
            let mut g = 1u32;
            while !stop.load(Ordering::Relaxed) {
                let mut tx = Transaction::new();
                tx.flush_chain(&chain);
                for r in gen_rules(g, 2 * (100 + g % 40)) {
                    tx.append_rule(&r);
                }
                block_on(nft.commit(&tx)).unwrap();
                g += 1;
            }
            g
        })
    };

    let reader = NftHandle::in_netns(&ns).unwrap();
    let start = Instant::now();
    let (mut consistent, mut interrupted, mut retried) = (0u32, 0u32, 0u32);
    while start.elapsed() < Duration::from_secs(8) {
        let before = reader.connection().stats().messages_sent;
        match block_on(reader.list_rules(Family::Ipv4, "race", Some("c"))) {
            Ok(rules) => {
                let gens: BTreeSet<u32> = rules
                    .iter()
                    .map(|r| {
                        let c = r.comment().unwrap();
                        c[1..c.find(' ').unwrap()].parse().unwrap()
                    })
                    .collect();
                assert_eq!(gens.len(), 1, "a dump mixing generations: {gens:?}");
                let g = *gens.iter().next().unwrap();
                let want = if g == 0 { 200 } else { 2 * (100 + g % 40) };
                assert_eq!(rules.len() as u32, want, "generation {g} incomplete");
                assert_eq!(rules.len() % 2, 0);
                consistent += 1;
                // one try is three messages: generation, dump, generation
                if reader.connection().stats().messages_sent - before > 3 {
                    retried += 1;
                }
            }
            Err(e @ Error::DumpInterrupted { .. }) => {
                assert!(e.to_string().contains("list rules"), "{e}");
                interrupted += 1;
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
        if consistent >= 30 && retried + interrupted >= 3 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let gens = writer.join().unwrap();
    eprintln!(
        "{consistent} consistent dumps ({retried} after a retry), {interrupted} interrupted, {gens} writer generations in {:?}",
        start.elapsed()
    );
    assert!(consistent > 0);
    assert!(gens > 5, "the writer did not run");
    // the race really happened: the kernel flagged dumps as interrupted
    assert!(
        retried + interrupted > 0,
        "no dump was ever interrupted: the test proved nothing"
    );
}
