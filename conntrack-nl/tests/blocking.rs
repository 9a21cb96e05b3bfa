//! The blocking conntrack handle against this machine's own kernel, from
//! plain `#[test]`s with no runtime of their own, each in a throwaway
//! network namespace (the conntrack table is per namespace; nothing is left
//! behind, the host's namespace is never touched). The real `conntrack`
//! tool runs inside the same namespace for the cross-checks.

use std::net::IpAddr;
use std::process::Command;

use conntrack_nl::blocking::ConntrackHandle;
use conntrack_nl::netlink::{Config, Connection, Protocol};
use conntrack_nl::{Entry, Error, Family, Filter, L4, Netns, Proto, Status, TcpState, Tuple};

/// Runs the real conntrack tool in `ns`; asserts it succeeded and returns
/// its standard output.
fn conntrack(ns: &Netns, args: &str) -> String {
    let o = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg("conntrack")
        .args(args.split_whitespace())
        .output()
        .expect("run nsenter conntrack");
    assert!(
        o.status.success(),
        "conntrack {args}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `conntrack -L -o extended,id` (both families), one line per entry, sorted.
fn tool_list(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = conntrack(ns, "-L -o extended,id")
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The words of the tool's line for `e` from the protocol on, without the
/// timeout (which ticks between the two listings) and the use count.
fn tool_words(line: &str) -> String {
    line.split_whitespace()
        .enumerate()
        .filter(|(i, w)| *i != 4 && !w.starts_with("use="))
        .map(|(_, w)| w)
        .collect::<Vec<_>>()
        .join(" ")
}

/// create, list (all, per family, filtered), get, delete, flush: every
/// step through the blocking handle and checked with `conntrack`, both ways.
#[test]
fn blocking_entries_checked_by_conntrack() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "the test itself has no runtime"
    );
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = ConntrackHandle::in_netns(&ns).unwrap();
    assert!(h.list().unwrap().is_empty());

    // create: the tool lists what we made, with the same fields
    let tcp = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::tcp(1000, 80));
    let udp = Tuple::new(ip("10.0.0.1"), ip("10.96.0.10"), L4::udp(5000, 53));
    let reply = Tuple::new(ip("10.244.1.5"), ip("10.0.0.1"), L4::udp(5353, 5000));
    let v6 = Tuple::new(ip("fd00::1"), ip("fd00::2"), L4::udp(1, 2));
    h.create(
        &Entry::new(tcp.clone())
            .timeout(100)
            .tcp_state(TcpState::Established)
            .status(Status::ASSURED | Status::SEEN_REPLY)
            .mark(7),
    )
    .unwrap();
    h.create(&Entry::with_reply(udp.clone(), reply.clone()).timeout(50))
        .unwrap();
    h.create(&Entry::new(v6.clone()).timeout(30)).unwrap();
    let e = h.create(&Entry::new(v6.clone()).timeout(30)).unwrap_err();
    assert!(matches!(e, Error::Exists { .. }), "{e:?}");

    let tool: Vec<String> = tool_list(&ns).iter().map(|l| tool_words(l)).collect();
    assert_eq!(tool.len(), 3, "{tool:#?}");
    let ours = h.list().unwrap();
    assert_eq!(ours.len(), 3);
    for e in &ours {
        let id = format!("id={}", e.id.unwrap());
        let line = tool
            .iter()
            .find(|l| l.ends_with(&id))
            .unwrap_or_else(|| panic!("the tool lists no {id}: {tool:#?}"));
        // the same tuples, as the tool prints them
        for t in [&e.orig, &e.reply] {
            let words = format!("src={} dst={}", t.src, t.dst);
            assert!(line.contains(&words), "{line} lacks {words}");
        }
        assert!(
            line.contains(&format!("mark={}", e.mark.unwrap_or(0))),
            "{line}"
        );
    }
    let tcp_line = tool.iter().find(|l| l.contains("dport=80")).unwrap();
    assert!(
        tcp_line.starts_with("ipv4 2 tcp 6 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1000 [ASSURED] mark=7"),
        "{tcp_line}"
    );

    // what the tool creates, we list and get
    conntrack(
        &ns,
        "-I -p udp -s 10.0.0.9 -d 10.0.0.2 --sport 7 --dport 9 -t 40",
    );
    let t9 = Tuple::new(ip("10.0.0.9"), ip("10.0.0.2"), L4::udp(7, 9));
    let got = h.get(&t9).unwrap();
    assert_eq!(got.orig, t9);
    assert!(got.timeout.unwrap() <= 40);
    assert_eq!(h.list_family(Family::Ipv4).unwrap().len(), 3);
    assert_eq!(h.list_family(Family::Ipv6).unwrap().len(), 1);
    let f = Filter::new()
        .proto(Proto::Udp)
        .orig_dst(ip("10.96.0.10"), Some(53));
    let sel = h.list_matching(&f).unwrap();
    assert_eq!(sel.len(), 1);
    assert_eq!(sel[0].reply, reply);

    // delete: gone for the tool too; again is a named NotFound
    h.delete(&t9).unwrap();
    assert!(!tool_list(&ns).iter().any(|l| l.contains("src=10.0.0.9")));
    let e = h.delete(&t9).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("delete conntrack entry udp 10.0.0.9:7 -> 10.0.0.2:9"),
        "{e}"
    );

    // the UDP backend cleanup in one call
    let n = h
        .delete_udp_to_backend(ip("10.96.0.10"), 53, ip("10.244.1.5"), 5353)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(tool_list(&ns).len(), 2);

    // flush per family, then all
    h.flush_family(Family::Ipv6).unwrap();
    let left = tool_list(&ns);
    assert_eq!(left.len(), 1, "{left:#?}");
    assert!(left[0].starts_with("ipv4"), "{left:#?}");
    conntrack(
        &ns,
        "-I -p udp -s fd00::1 -d fd00::2 --sport 1 --dport 2 -t 30",
    );
    h.flush().unwrap();
    assert_eq!(tool_list(&ns), Vec::<String>::new());
    assert!(h.list().unwrap().is_empty());
}

/// The handle works from several threads at once (it is `Send` and
/// `Sync`); with Tokio, inside a Tokio runtime it refuses with an error
/// naming itself, not a panic, and works again outside.
#[test]
fn blocking_handle_across_threads_and_inside_a_runtime() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = ConntrackHandle::in_netns(&ns).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u16 {
            let h = &h;
            s.spawn(move || {
                for p in 0..10 {
                    let orig = Tuple::new(ip("10.1.0.1"), ip("10.1.0.2"), L4::udp(t * 100 + p, 53));
                    h.create(&Entry::new(orig).timeout(60)).unwrap();
                }
            });
        }
    });
    assert_eq!(tool_list(&ns).len(), 40);
    assert_eq!(h.list().unwrap().len(), 40);

    #[cfg(feature = "tokio")]
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let e = h.list().unwrap_err();
            assert!(matches!(e, Error::Io { .. }), "{e:?}");
            let text = e.to_string();
            assert!(
                text.starts_with("conntrack_nl::blocking::ConntrackHandle::list: "),
                "{text}"
            );
            assert!(text.contains("inside a Tokio runtime"), "{text}");
            assert!(text.contains("conntrack_nl::ConntrackHandle"), "{text}");
            // the async handle inside is the one to use there
            assert_eq!(h.handle().list().await.unwrap().len(), 40);
        });
    }
    h.flush().unwrap();
    assert!(tool_list(&ns).is_empty());
}

/// with_connection: a netfilter connection with its own timeout is used;
/// a connection of another protocol is refused.
#[test]
fn blocking_handle_over_a_given_connection() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let config = Config::new().with_timeout(std::time::Duration::from_secs(3));
    let conn = Connection::open_with(Protocol::Netfilter, &ns, config).unwrap();
    let h = ConntrackHandle::with_connection(conn).unwrap();
    assert_eq!(h.connection().config().timeout.as_secs(), 3);
    let t = Tuple::new(ip("10.0.0.1"), ip("10.0.0.2"), L4::udp(1, 2));
    h.create(&Entry::new(t.clone()).timeout(30)).unwrap();
    assert_eq!(tool_list(&ns).len(), 1);
    h.delete(&t).unwrap();
    assert!(tool_list(&ns).is_empty());
    let generic = Connection::open(Protocol::Generic, &ns).unwrap();
    let e = ConntrackHandle::with_connection(generic).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
}
