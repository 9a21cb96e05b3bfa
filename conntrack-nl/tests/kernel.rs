//! conntrack-nl against this machine's own kernel, every test in a
//! throwaway network namespace (the conntrack table is per namespace;
//! nothing is left behind, the host's namespace is never touched). The
//! real `conntrack` tool (1.4.7) runs inside the same namespace for the
//! cross-checks, both ways: what it creates we list, get and delete; what
//! we create it lists and gets with the same fields.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use conntrack_nl::{
    ConntrackHandle, Entry, Error, Family, Filter, L4, Netns, Proto, RawAttr, Status, TcpState,
    Tuple, request,
};

use clusterip_test_support::block_on;

fn setup() -> (Netns, ConntrackHandle) {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = ConntrackHandle::in_netns(&ns).unwrap();
    (ns, h)
}

/// Runs a program in the namespace; returns (success, stdout, stderr).
fn run(ns: &Netns, args: &[&str]) -> (bool, String, String) {
    clusterip_test_support::run(ns.proc_path(), args, None)
}

/// Runs the real conntrack tool in the namespace and asserts it succeeded.
fn conntrack(ns: &Netns, args: &str) -> String {
    let mut v = vec!["conntrack"];
    v.extend(args.split_whitespace());
    let (ok, out, err) = run(ns, &v);
    assert!(ok, "conntrack {args} failed: {out}{err}");
    out
}

/// `conntrack -L -o extended,id` (both families), one line per entry, sorted.
fn tool_list(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = conntrack(ns, "-L -o extended,id")
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// A line of the tool's listing with its countdown (the fifth field, the
/// seconds the entry has left) blanked: the same entry listed a second
/// later compares equal.
fn steady(l: &str) -> String {
    let mut field = 0;
    l.split(' ')
        .map(|w| {
            if w.is_empty() {
                return w;
            }
            field += 1;
            if field == 5 { "-" } else { w }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A tuple in the tool's `key=value` words.
fn tool_tuple(t: &Tuple) -> String {
    let l4 = match t.l4 {
        L4::Ports { src, dst, .. } => format!("sport={src} dport={dst}"),
        L4::Icmp {
            id,
            icmp_type,
            code,
            ..
        } => format!("type={icmp_type} code={code} id={id}"),
        // L4::Other, and kinds added later: no layer-4 words.
        _ => String::new(),
    };
    format!("src={} dst={} {l4}", t.src, t.dst)
}

/// An entry as `conntrack -L -o extended,id` prints it: every field the
/// tool shows (family, protocol, timeout, TCP state, both tuples,
/// UNREPLIED/ASSURED, mark, zone, use, id).
fn tool_line(e: &Entry) -> String {
    let fam = e.family();
    let proto = e.orig.l4.proto();
    let mut s = format!(
        "{:<8} {} {:<8} {} {} ",
        fam.to_string(),
        fam.number(),
        proto.to_string(),
        proto.number(),
        e.timeout.unwrap()
    );
    if let Some(t) = e.tcp() {
        s += &format!("{} ", t.state);
    }
    s += &tool_tuple(&e.orig);
    s += " ";
    if !e.status.contains(Status::SEEN_REPLY) {
        s += "[UNREPLIED] ";
    }
    s += &tool_tuple(&e.reply);
    s += " ";
    if e.status.contains(Status::ASSURED) {
        s += "[ASSURED] ";
    }
    s += &format!("mark={} ", e.mark.unwrap_or(0));
    if let Some(z) = e.zone {
        s += &format!("zone={z} ");
    }
    s += &format!("use={} id={}", e.use_count.unwrap(), e.id.unwrap());
    s
}

/// The tool's lines with our timeouts where they differ by the second or
/// two that passed between the two listings.
fn same_listing(ours: &[Entry], tool: &[String]) {
    let mut mine: Vec<String> = ours.iter().map(tool_line).collect();
    mine.sort();
    assert_eq!(mine.len(), tool.len(), "ours {mine:#?}\ntool {tool:#?}");
    let mut tool_fixed: Vec<String> = tool
        .iter()
        .map(|l| {
            let ours = mine
                .iter()
                .find(|m| strip_timeout(m) == strip_timeout(l))
                .unwrap_or_else(|| panic!("no entry of ours lists as {l:?}; ours: {mine:#?}"));
            let (a, b) = (timeout_of(ours), timeout_of(l));
            assert!(a.abs_diff(b) <= 2, "timeouts {a} and {b}");
            ours.clone()
        })
        .collect();
    tool_fixed.sort();
    assert_eq!(mine, tool_fixed);
}

fn strip_timeout(l: &str) -> String {
    let mut w: Vec<&str> = l.split_whitespace().collect();
    w.remove(4);
    w.join(" ")
}

fn timeout_of(l: &str) -> u32 {
    l.split_whitespace().nth(4).unwrap().parse().unwrap()
}

const TOOL_ENTRIES: &[&str] = &[
    "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 -t 100 --state ESTABLISHED -u ASSURED -m 7 -w 3",
    "-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1001 --dport 80 -t 100 --state SYN_SENT",
    "-I -p udp -s 10.0.0.1 -d 10.96.0.10 --sport 5000 --dport 53 -t 50 -r 10.244.1.5 -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst 5000 -m 0x10",
    "-I -p icmp -s 10.0.0.1 -d 10.0.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 77 -t 20",
    "-I -p udp -s fd00::1 -d fd00::2 --sport 1 --dport 2 -t 30",
    "-I -p icmpv6 -s fd00::1 -d fd00::2 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 5 -t 30",
];

#[test]
fn tool_entries_are_listed_got_and_deleted_by_us() {
    let (ns, h) = setup();
    for a in TOOL_ENTRIES {
        conntrack(&ns, a);
    }
    block_on(async {
        let all = h.list().await.unwrap();
        assert_eq!(all.len(), TOOL_ENTRIES.len());
        same_listing(&all, &tool_list(&ns));

        // per family
        let v4 = h.list_family(Family::Ipv4).await.unwrap();
        let v6 = h.list_family(Family::Ipv6).await.unwrap();
        assert_eq!((v4.len(), v6.len()), (4, 2));
        assert!(v6.iter().all(|e| e.family() == Family::Ipv6));

        let tcp = all.iter().find(|e| e.zone == Some(3)).unwrap();
        assert_eq!(tcp.tcp().unwrap().state, TcpState::Established);
        assert_eq!(tcp.mark, Some(7));
        assert!(tcp.status.contains(Status::ASSURED | Status::CONFIRMED));
        let nat = all.iter().find(|e| e.orig.dst == ip("10.96.0.10")).unwrap();
        assert_eq!(nat.reply.src, ip("10.244.1.5"));
        assert_eq!(nat.reply.l4, L4::udp(5353, 5000));
        assert_eq!(nat.mark, Some(0x10));

        // get: the same entry (the kernel holds one more reference while
        // it answers, as with `conntrack -G`)
        for e in &all {
            let g = h.get_in_zone(&e.orig, e.zone).await.unwrap();
            // (the tool's -G takes no zone)
            if e.zone.is_none() {
                let tool = conntrack(&ns, &format!("-G -o extended,id {}", tool_args(e)));
                assert_eq!(
                    strip_timeout(&tool_line(&g)),
                    strip_timeout(tool.trim()),
                    "get {e}"
                );
            }
            assert_eq!(g.id, e.id);
            assert_eq!(g.orig, e.orig);
            assert_eq!(g.reply, e.reply);
            assert_eq!(g.protoinfo, e.protoinfo);
        }

        // delete: by tuple (zone 0) and as listed (zone 3)
        for e in &all {
            if e.zone.is_some() {
                h.delete_entry(e).await.unwrap();
            } else {
                h.delete(&e.orig).await.unwrap();
            }
        }
    });
    assert_eq!(tool_list(&ns), Vec::<String>::new());
}

/// The tool's arguments naming `e`'s original tuple (and zone).
fn tool_args(e: &Entry) -> String {
    let t = &e.orig;
    let mut s = format!("-p {} -s {} -d {}", t.l4.proto(), t.src, t.dst);
    match t.l4 {
        L4::Ports { src, dst, .. } => s += &format!(" --sport {src} --dport {dst}"),
        L4::Icmp {
            proto,
            id,
            icmp_type,
            code,
        } => {
            let p = if proto == Proto::Icmpv6 {
                "icmpv6"
            } else {
                "icmp"
            };
            s += &format!(" --{p}-type {icmp_type} --{p}-code {code} --{p}-id {id}");
        }
        _ => {}
    }
    if let Some(z) = e.zone {
        s += &format!(" -w {z}");
    }
    s
}

fn our_entries() -> Vec<Entry> {
    let tcp = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::tcp(1000, 80));
    let udp_nat = Tuple::new(ip("10.0.0.1"), ip("10.96.0.10"), L4::udp(5000, 53));
    let nat_reply = Tuple::new(ip("10.244.1.5"), ip("10.0.0.1"), L4::udp(5353, 5000));
    vec![
        Entry::new(tcp)
            .timeout(100)
            .tcp_state(TcpState::Established)
            .status(Status::ASSURED | Status::SEEN_REPLY)
            .mark(7)
            .zone(3),
        Entry::new(Tuple::new(
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            L4::tcp(1001, 443),
        ))
        .timeout(60)
        .tcp_state(TcpState::SynSent),
        Entry::with_reply(udp_nat, nat_reply).timeout(50).mark(0x10),
        Entry::new(Tuple::new(
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            L4::icmp(77, 8, 0),
        ))
        .timeout(20),
        Entry::new(Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::udp(1, 2))).timeout(30),
        Entry::new(Tuple::new(
            ip("fd00::1"),
            ip("fd00::2"),
            L4::icmpv6(5, 128, 0),
        ))
        .timeout(30),
        Entry::new(Tuple::new(ip("fd00::1"), ip("fd00::3"), L4::tcp(9, 22)))
            .timeout(40)
            .tcp_state(TcpState::TimeWait),
    ]
}

#[test]
fn our_entries_are_seen_by_the_tool() {
    let (ns, h) = setup();
    let want = our_entries();
    block_on(async {
        for e in &want {
            h.create(e).await.unwrap();
        }
        let got = h.list().await.unwrap();
        assert_eq!(got.len(), want.len());
        let tool = tool_list(&ns);
        same_listing(&got, &tool);
        for w in &want {
            let g = got.iter().find(|g| g.orig == w.orig).unwrap();
            assert_eq!(g.reply, w.reply, "{w}");
            assert_eq!(g.mark.unwrap_or(0), w.mark.unwrap_or(0), "{w}");
            assert_eq!(g.zone, w.zone, "{w}");
            assert!(g.status.contains(w.status | Status::CONFIRMED), "{w}");
            assert!(g.timeout.unwrap() <= w.timeout.unwrap(), "{w}");
            assert!(g.timeout.unwrap() + 3 >= w.timeout.unwrap(), "{w}");
            assert_eq!(g.tcp().map(|t| t.state), w.tcp().map(|t| t.state), "{w}");
            // the tool finds it by its tuple and prints the same fields
            // (its -G takes no zone)
            if w.zone.is_some() {
                continue;
            }
            let line = conntrack(&ns, &format!("-G -o extended,id {}", tool_args(w)));
            let mut expect = g.clone();
            expect.use_count = Some(2);
            assert_eq!(
                strip_timeout(&tool_line(&expect)),
                strip_timeout(line.trim())
            );
        }
        // spot checks on the tool's own words
        let joined = tool.join("\n");
        assert!(joined.contains("ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1000 [ASSURED] mark=7 zone=3"), "{joined}");
        assert!(joined.contains("src=10.0.0.1 dst=10.96.0.10 sport=5000 dport=53 [UNREPLIED] src=10.244.1.5 dst=10.0.0.1 sport=5353 dport=5000 mark=16"), "{joined}");
        assert!(
            joined.contains("TIME_WAIT src=fd00::1 dst=fd00::3"),
            "{joined}"
        );

        // creating it again: EEXIST, naming the entry
        let err = h.create(&want[2]).await.unwrap_err();
        assert!(matches!(err, Error::Exists { .. }), "{err}");
        assert!(
            err.to_string().starts_with(
                "create conntrack entry udp 10.0.0.1:5000 -> 10.96.0.10:53 (reply from 10.244.1.5:5353)"
            ),
            "{err}"
        );
    });
}

#[test]
fn flush_all_and_per_family() {
    let (ns, h) = setup();
    for a in TOOL_ENTRIES {
        conntrack(&ns, a);
    }
    block_on(async {
        h.flush_family(Family::Ipv4).await.unwrap();
        let left = tool_list(&ns);
        assert_eq!(left.len(), 2, "{left:#?}");
        assert!(left.iter().all(|l| l.starts_with("ipv6")), "{left:#?}");
        for a in TOOL_ENTRIES.iter().take(2) {
            conntrack(&ns, a);
        }
        h.flush().await.unwrap();
    });
    assert_eq!(tool_list(&ns), Vec::<String>::new());
}

#[test]
fn missing_entries_are_named_errors() {
    let (_ns, h) = setup();
    let t = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(1, 2));
    block_on(async {
        let e = h.delete(&t).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        let s = e.to_string();
        assert!(
            s.starts_with("delete conntrack entry udp 10.0.0.1:1 -> 10.0.0.2:2: not found"),
            "{s}"
        );
        assert!(s.contains("No such file or directory"), "{s}");
        assert_eq!(e.errno(), Some(libc_enoent()));

        let e = h.get(&t).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("get conntrack entry udp 10.0.0.1:1 -> 10.0.0.2:2")
        );

        // the kernel needs a timeout to create an entry
        let e = h.create(&Entry::new(t.clone())).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");

        // rejected before anything is sent
        let bad = Tuple::new(ip("10.0.0.1"), ip("fd00::1"), L4::udp(1, 2));
        let e = h.delete(&bad).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let f = Filter::new().orig_dst(ip("10.0.0.1"), Some(53));
        let e = h.delete_matching(&f).await.unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    });
}

fn libc_enoent() -> i32 {
    2
}

/// Entries to a VIP through several backends, for the filter tests:
/// (tool arguments, selected by the UDP-to-backend-A filter).
const FILTER_ENTRIES: &[(&str, bool)] = &[
    // UDP to VIP:53 answered by backend A:5353: selected
    (
        "-p udp -s 10.0.0.1 -d 10.96.0.10 --sport 5000 --dport 53 -r 10.244.1.5 -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst 5000",
        true,
    ),
    (
        "-p udp -s 10.0.0.2 -d 10.96.0.10 --sport 5001 --dport 53 -r 10.244.1.5 -q 10.0.0.2 --reply-port-src 5353 --reply-port-dst 5001",
        true,
    ),
    // the same VIP:53 answered by backend B
    (
        "-p udp -s 10.0.0.1 -d 10.96.0.10 --sport 5002 --dport 53 -r 10.244.2.7 -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst 5002",
        false,
    ),
    // backend A, but another port of it
    (
        "-p udp -s 10.0.0.1 -d 10.96.0.10 --sport 5003 --dport 53 -r 10.244.1.5 -q 10.0.0.1 --reply-port-src 5354 --reply-port-dst 5003",
        false,
    ),
    // backend A, another VIP port
    (
        "-p udp -s 10.0.0.1 -d 10.96.0.10 --sport 5004 --dport 54 -r 10.244.1.5 -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst 5004",
        false,
    ),
    // TCP through backend A
    (
        "-p tcp -s 10.0.0.1 -d 10.96.0.10 --sport 5005 --dport 53 -r 10.244.1.5 -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst 5005 --state ESTABLISHED",
        false,
    ),
    // another VIP
    (
        "-p udp -s 10.0.0.1 -d 10.96.0.11 --sport 5006 --dport 53 -r 10.244.1.5 -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst 5006",
        false,
    ),
    // no NAT, and IPv6
    (
        "-p udp -s 10.0.0.1 -d 10.0.0.2 --sport 5007 --dport 53",
        false,
    ),
    (
        "-p udp -s fd00::1 -d fd00::10 --sport 5000 --dport 53 -r fd00::5 -q fd00::1 --reply-port-src 5353 --reply-port-dst 5000",
        false,
    ),
];

fn load_filter_entries(ns: &Netns) {
    for (a, _) in FILTER_ENTRIES {
        conntrack(ns, &format!("-I -t 100 {a}"));
    }
}

#[test]
fn udp_backend_cleanup_leaves_exactly_the_rest() {
    let (ns, h) = setup();
    load_filter_entries(&ns);
    let before = tool_list(&ns);
    assert_eq!(before.len(), FILTER_ENTRIES.len());
    let n =
        block_on(h.delete_udp_to_backend(ip("10.96.0.10"), 53, ip("10.244.1.5"), 5353)).unwrap();
    let selected = FILTER_ENTRIES.iter().filter(|(_, s)| *s).count();
    assert_eq!(n, selected);
    let after = tool_list(&ns);
    assert_eq!(after.len(), FILTER_ENTRIES.len() - selected, "{after:#?}");
    // exactly the ones not selected are left
    // compared without the countdown: a listing a second later shows the
    // entries that stay with one second less
    let after_steady: Vec<String> = after.iter().map(|l| steady(l)).collect();
    let gone: BTreeSet<&String> = before
        .iter()
        .filter(|l| !after_steady.contains(&steady(l)))
        .collect();
    assert_eq!(gone.len(), selected);
    for l in gone {
        assert!(
            l.contains("dst=10.96.0.10")
                && l.contains("dport=53 [UNREPLIED] src=10.244.1.5")
                && l.contains("sport=5353")
                && l.starts_with("ipv4     2 udp"),
            "{l}"
        );
    }
    // again: nothing left to delete
    let n =
        block_on(h.delete_udp_to_backend(ip("10.96.0.10"), 53, ip("10.244.1.5"), 5353)).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn filtered_delete_by_mark_and_ipv6() {
    let (ns, h) = setup();
    load_filter_entries(&ns);
    conntrack(
        &ns,
        "-U -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 5007 --dport 53 -m 0x1234",
    );
    conntrack(
        &ns,
        "-U -p udp -s 10.0.0.1 -d 10.96.0.11 --sport 5006 --dport 53 -m 0x1299",
    );
    block_on(async {
        // mark & 0xff00 == 0x1200: two entries
        let f = Filter::new().mark(0x1200, 0xff00);
        let r = h.delete_matching(&f).await.unwrap();
        assert_eq!((r.matched, r.deleted, r.vanished), (2, 2, 0));
        assert!(r.all_ok());
        let left = tool_list(&ns);
        assert_eq!(left.len(), FILTER_ENTRIES.len() - 2);
        assert!(
            left.iter()
                .all(|l| !l.contains("mark=4660") && !l.contains("mark=4761"))
        );

        // IPv6: the only v6 entry, by its backend
        let f = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(ip("fd00::10"), Some(53))
            .reply_src(ip("fd00::5"), Some(5353));
        let r = h.delete_matching(&f).await.unwrap();
        assert_eq!((r.matched, r.deleted), (1, 1));
        let left = tool_list(&ns);
        assert!(left.iter().all(|l| l.starts_with("ipv4")), "{left:#?}");

        // every TCP entry, both families
        let r = h
            .delete_matching(&Filter::new().proto(Proto::Tcp))
            .await
            .unwrap();
        assert_eq!(r.deleted, 1);
        assert!(tool_list(&ns).iter().all(|l| !l.contains(" tcp ")));
    });
}

/// The kernel itself filters the dump with the attributes this crate
/// sends (CTA_FILTER with tuple fields, CTA_MARK/CTA_MARK_MASK): a raw
/// dump with them returns only the matching entries.
#[test]
fn kernel_filters_the_dump() {
    let (ns, h) = setup();
    load_filter_entries(&ns);
    conntrack(
        &ns,
        "-U -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 5007 --dport 53 -m 0x1234",
    );
    block_on(async {
        let raw = |f: Filter, fam: Option<Family>| {
            let h = h.clone();
            async move {
                h.connection()
                    .dump_with("raw filtered dump", request::dump(fam, Some(&f)), |_, p| {
                        Entry::parse(&p[4..]).map(Some).map_err(|e| e.to_string())
                    })
                    .await
                    .unwrap()
            }
        };
        let f = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(ip("10.96.0.10"), Some(53))
            .reply_src(ip("10.244.1.5"), Some(5353));
        let got = raw(f.clone(), Some(Family::Ipv4)).await;
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got.iter().all(|e| f.matches(e)));
        let got = raw(Filter::new().mark(0x34, 0xff), None).await;
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].mark, Some(0x1234));
        let got = raw(Filter::new().proto(Proto::Tcp), Some(Family::Ipv4)).await;
        assert_eq!(got.len(), 1, "{got:#?}");
        // list_matching gives what filtering everything here gives
        let all = h.list().await.unwrap();
        for f in [
            f,
            Filter::new().proto(Proto::Udp),
            Filter::new().reply_src(ip("10.244.1.5"), None),
            Filter::new().family(Family::Ipv6),
            Filter::new().mark(0x1234, !0),
        ] {
            let mut a = h.list_matching(&f).await.unwrap();
            let mut b: Vec<Entry> = all.iter().filter(|e| f.matches(e)).cloned().collect();
            a.sort_by_key(|e| e.id);
            b.sort_by_key(|e| e.id);
            assert_eq!(
                a.iter().map(|e| (e.id, &e.orig)).collect::<Vec<_>>(),
                b.iter().map(|e| (e.id, &e.orig)).collect::<Vec<_>>(),
                "{f}"
            );
            assert!(!a.is_empty(), "{f}");
        }
    });
}

/// A batch of deletes in which some entries are gone (deleted by someone
/// else) or replaced by a newer entry of the same tuple: those count as
/// vanished, the others are deleted, the newer entry is left alone.
#[test]
fn vanished_and_replaced_entries_in_a_batch() {
    let (ns, h) = setup();
    for p in 0..41u16 {
        conntrack(
            &ns,
            &format!(
                "-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport {} --dport 53 -t 100",
                1000 + p
            ),
        );
    }
    block_on(async {
        let entries = h.list().await.unwrap();
        assert_eq!(entries.len(), 41);
        // one gone, one replaced (new id)
        conntrack(
            &ns,
            "-D -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1005 --dport 53",
        );
        // The kernel's id is a hash of the entry's address and tuple: a
        // new entry for the same tuple that reuses the freed memory gets
        // the same id. Entries created in between take that memory.
        let t1007 = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(1007, 53));
        let old_id = entries.iter().find(|e| e.orig == t1007).unwrap().id;
        let mut dummies = 0u16;
        loop {
            conntrack(
                &ns,
                "-D -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1007 --dport 53",
            );
            for _ in 0..4 {
                let d = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(2000 + dummies, 54));
                h.create(&Entry::new(d).timeout(100)).await.unwrap();
                dummies += 1;
            }
            conntrack(
                &ns,
                "-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1007 --dport 53 -t 100",
            );
            if h.get(&t1007).await.unwrap().id != old_id {
                break;
            }
            assert!(dummies < 40, "the kernel keeps giving the same id");
        }
        let stats = h.connection().stats();
        let r = h.delete_entries(&entries, "test batch").await.unwrap();
        assert_eq!((r.matched, r.deleted, r.vanished), (41, 39, 2));
        assert!(r.all_ok());
        // one datagram
        assert_eq!(
            h.connection().stats().datagrams_sent - stats.datagrams_sent,
            1
        );
    });
    let left: Vec<String> = tool_list(&ns)
        .into_iter()
        .filter(|l| l.contains("dport=53 "))
        .collect();
    assert_eq!(left.len(), 1, "{left:#?}");
    assert!(left[0].contains("sport=1007"));
}

/// Real traffic: UDP from a client namespace through a veth pair to a
/// node namespace whose nf_tables DNAT sends VIP:53 to two backends by
/// source port; the kernel creates the entries; the cleanup for backend A
/// deletes exactly A's.
#[test]
fn kernel_created_entries_of_a_removed_udp_backend() {
    let node = Netns::new_anonymous().unwrap();
    let client = Netns::new_anonymous().unwrap();
    let sh = |ns: &Netns, a: &str| {
        let v: Vec<&str> = a.split_whitespace().collect();
        let (ok, out, err) = run(ns, &v);
        assert!(ok, "{a}: {out}{err}");
    };
    // veth pair: node side created in node, peer moved into client
    sh(&node, "ip link set lo up");
    sh(&client, "ip link set lo up");
    sh(
        &node,
        &format!(
            "ip link add vn type veth peer name vc netns {}",
            client.proc_path()
        ),
    );
    sh(&node, "ip addr add 10.0.1.1/24 dev vn");
    sh(&node, "ip link set vn up");
    sh(&node, "ip addr add 10.244.1.5/32 dev lo");
    sh(&node, "ip addr add 10.244.2.7/32 dev lo");
    sh(&client, "ip addr add 10.0.1.2/24 dev vc");
    sh(&client, "ip link set vc up");
    sh(&client, "ip route add 10.96.0.0/16 via 10.0.1.1");
    let rules = "table ip svc {
        chain pre { type nat hook prerouting priority -100;
            ip daddr 10.96.0.10 udp dport 53 udp sport 40000-40002 dnat to 10.244.1.5:5353
            ip daddr 10.96.0.10 udp dport 53 udp sport 40003-40004 dnat to 10.244.2.7:5353
        }
    }";
    let (ok, out, err) = {
        let mut c = clusterip_test_support::nsenter(node.proc_path())
            .args(["nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
        let o = c.wait_with_output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert!(ok, "nft: {out}{err}");

    // backends answer, so the entries are replied (SEEN_REPLY)
    let backends: Vec<UdpSocket> = ["10.244.1.5:5353", "10.244.2.7:5353"]
        .iter()
        .map(|a| {
            let a: SocketAddr = a.parse().unwrap();
            node.run(move || UdpSocket::bind(a)).unwrap().unwrap()
        })
        .collect();
    for b in &backends {
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let clients: Vec<UdpSocket> = (40000..40005)
        .map(|p| {
            let a: SocketAddr = format!("10.0.1.2:{p}").parse().unwrap();
            client.run(move || UdpSocket::bind(a)).unwrap().unwrap()
        })
        .collect();
    for c in &clients {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.send_to(b"q", "10.96.0.10:53").unwrap();
    }
    let mut buf = [0u8; 16];
    let mut answered = 0;
    for (i, b) in backends.iter().enumerate() {
        let want = if i == 0 { 3 } else { 2 };
        for _ in 0..want {
            let (_, from) = b.recv_from(&mut buf).unwrap();
            b.send_to(b"a", from).unwrap();
            answered += 1;
        }
    }
    assert_eq!(answered, 5);
    for c in &clients {
        let (_, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!(from, "10.96.0.10:53".parse().unwrap(), "reply un-DNATed");
    }

    let h = ConntrackHandle::in_netns(&node).unwrap();
    block_on(async {
        let all = h.list_family(Family::Ipv4).await.unwrap();
        let to_vip: Vec<&Entry> = all
            .iter()
            .filter(|e| e.orig.dst == ip("10.96.0.10"))
            .collect();
        assert_eq!(to_vip.len(), 5, "{all:#?}");
        for e in &to_vip {
            assert!(
                e.status
                    .contains(Status::DST_NAT | Status::SEEN_REPLY | Status::CONFIRMED),
                "{e:?}"
            );
        }
        let n = h
            .delete_udp_to_backend(ip("10.96.0.10"), 53, ip("10.244.1.5"), 5353)
            .await
            .unwrap();
        assert_eq!(n, 3);
        let left = h.list_family(Family::Ipv4).await.unwrap();
        let to_vip: Vec<&Entry> = left
            .iter()
            .filter(|e| e.orig.dst == ip("10.96.0.10"))
            .collect();
        assert_eq!(to_vip.len(), 2);
        assert!(to_vip.iter().all(|e| e.reply.src == ip("10.244.2.7")));
    });
    // the tool agrees: only backend B's flows are left
    let lines = tool_list(&node);
    let vip: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("dst=10.96.0.10"))
        .collect();
    assert_eq!(vip.len(), 2, "{lines:#?}");
    assert!(vip.iter().all(|l| l.contains("src=10.244.2.7")), "{vip:#?}");
}

/// IPv6 filters: Linux compares the IPv6 addresses of a dump filter the
/// wrong way round (an equal address fails); the crate sends the kernel
/// only protocol and ports for IPv6 and compares addresses itself, so a
/// right address selects the entry and a wrong one does not.
#[test]
fn ipv6_filters_select_right_despite_the_kernel() {
    let (ns, h) = setup();
    load_filter_entries(&ns);
    block_on(async {
        let right = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(ip("fd00::10"), Some(53))
            .reply_src(ip("fd00::5"), Some(5353));
        let got = h.list_matching(&right).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].orig.dst, ip("fd00::10"));
        for wrong in [
            Filter::new()
                .proto(Proto::Udp)
                .orig_dst(ip("fd00::99"), Some(53)),
            Filter::new().reply_src(ip("fd00::99"), None),
            Filter::new()
                .proto(Proto::Udp)
                .orig_dst(ip("fd00::10"), Some(54)),
        ] {
            assert_eq!(h.list_matching(&wrong).await.unwrap().len(), 0, "{wrong}");
        }
        // what the kernel is sent for IPv6 (protocol and port) it filters on
        let f = Filter::new()
            .proto(Proto::Udp)
            .orig_dst(ip("fd00::10"), Some(54));
        let raw = h
            .connection()
            .dump_with(
                "raw filtered dump",
                request::dump(Some(Family::Ipv6), Some(&f)),
                |_, p| Entry::parse(&p[4..]).map(Some).map_err(|e| e.to_string()),
            )
            .await
            .unwrap();
        assert_eq!(raw.len(), 0);
    });
}

/// Thousands of entries: the deletes of one filtered bulk delete go in a
/// few large datagrams, every one is accounted for, the rest is untouched.
#[test]
fn bulk_delete_of_thousands() {
    let (ns, h) = setup();
    block_on(async {
        for i in 0..3000u32 {
            let src = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
            let backend = if i % 3 == 0 {
                "10.244.1.5"
            } else {
                "10.244.2.7"
            };
            let orig = Tuple::new(src, ip("10.96.0.10"), L4::udp(4000, 53));
            let reply = Tuple::new(ip(backend), src, L4::udp(53, 4000));
            h.create(&Entry::with_reply(orig, reply).timeout(300))
                .await
                .unwrap();
        }
        let before = h.connection().stats().datagrams_sent;
        let n = h
            .delete_udp_to_backend(ip("10.96.0.10"), 53, ip("10.244.1.5"), 53)
            .await
            .unwrap();
        assert_eq!(n, 1000);
        let sent = h.connection().stats().datagrams_sent - before;
        // one dump request, then the deletes packed into a few datagrams
        assert!((2..=5).contains(&sent), "{sent} datagrams");
    });
    let left = conntrack(&ns, "-L");
    assert_eq!(left.lines().count(), 2000);
    assert!(!left.contains("src=10.244.1.5"));
}

/// A refusal carries the kernel's extended ACK: an entry whose kept raw
/// attribute (a 3-byte timeout) fails the kernel's attribute policy.
#[test]
fn kernel_refusals_carry_the_extended_ack() {
    let (_ns, h) = setup();
    let t = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(1, 2));
    let mut e = Entry::new(t);
    e.other.push(RawAttr::new(
        conntrack_nl::constants::CTA_TIMEOUT,
        vec![0, 0, 1],
    ));
    let err = block_on(h.create(&e)).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let ke = err.kernel_error().unwrap();
    assert_eq!(
        ke.message.as_deref(),
        Some("Attribute failed policy validation")
    );
    assert!(ke.bad_attr_offset.is_some());
    let s = err.to_string();
    assert!(
        s.starts_with("create conntrack entry udp 10.0.0.1:1 -> 10.0.0.2:2: invalid argument"),
        "{s}"
    );
    assert!(s.contains("Attribute failed policy validation"), "{s}");
}

/// A handle over the caller's connection: used as is; a connection of
/// another protocol is refused, naming the handle.
#[test]
fn handle_over_a_callers_connection() {
    use conntrack_nl::netlink::{Connection, Protocol};
    let ns = Netns::new_anonymous().unwrap();
    let conn = Connection::open(Protocol::Netfilter, &ns)
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let h = ConntrackHandle::with_connection(conn).unwrap();
    let t = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(1, 2));
    block_on(h.create(&Entry::new(t).timeout(30))).unwrap();
    let l = tool_list(&ns);
    assert_eq!(l.len(), 1);
    assert!(
        l[0].contains("src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2"),
        "{l:?}"
    );
    let generic = Connection::open(Protocol::Generic, &ns).unwrap();
    let e = ConntrackHandle::with_connection(generic).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("a conntrack handle"), "{e}");
}
