//! The `ipset` example (`examples/ipset/`) against the real ipset 7.17,
//! in throwaway namespaces: the same sets give byte-identical `list` and
//! `save` output, and the example's `restore` reads `ipset save` files.
//! Also its parser (`examples/ipset/cli.rs`, included here by path): known
//! command lines parse as expected, and no input makes it panic.
//!
//! The example binary is built by the test itself (`cargo build --example
//! ipset`, with the cargo running the test and its target directory), so
//! `cargo test --test ipset_example` alone is enough and the test can never
//! run against a stale or missing binary: a failed build fails the test.

use ipset_nl::{Netns, SetType};

mod common;

#[allow(dead_code)]
#[path = "../examples/ipset/cli.rs"]
mod cli;

/// Runs `prog args` in `ns` with `stdin` (if any): (success, stdout, stderr).
fn run(ns: &Netns, prog: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let o = common::run_in(ns, prog, args, stdin.unwrap_or(""));
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ours(ns: &Netns, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    run(ns, common::example("ipset").to_str().unwrap(), args, stdin)
}

fn theirs(ns: &Netns, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    run(ns, "ipset", args, stdin)
}

/// hash:ip,port sets covering every option, both families, every kind of
/// element (timeouts are 0 so the two listings cannot differ by a second).
fn sample() -> String {
    let mut s = String::from(
        "create a hash:ip,port family inet hashsize 2048 maxelem 1000 timeout 100 counters comment skbinfo bucketsize 10 initval 0x00c0ffee
add a 10.0.0.1,tcp:80 timeout 0 packets 5 bytes 100 comment \"hi there\" skbmark 0x10/0xff skbprio 10:1f skbqueue 3
add a 10.0.0.2,udp:53 timeout 0 packets 0 bytes 0 skbmark 0x7
add a 10.0.0.3,icmp:echo-request timeout 0 packets 0 bytes 0
add a 10.0.0.3,icmp:3/7 timeout 0 packets 0 bytes 0
add a 10.0.0.4,gre:0 timeout 0 packets 0 bytes 0
add a 10.0.0.5,sctp:9 timeout 0 packets 0 bytes 0
add a 10.0.0.6,udplite:9 timeout 0 packets 0 bytes 0
create b hash:ip,port family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x12345678
add b 2001:db8::1,sctp:443
add b ::ffff:10.0.0.1,tcp:1
add b fe80::1,ipv6-icmp:echo-request
add b 2001:db8::2,ipv6-icmp:1/2
create c hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000001
",
    );
    // Every ICMP and ICMPv6 type/code pair ipset has a name for, and more.
    for t in 0..20u8 {
        for code in 0..17u8 {
            s += &format!("add c 1.1.1.1,icmp:{t}/{code}\n");
        }
    }
    s += "create d hash:ip,port family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000002\n";
    for t in [1u8, 2, 3, 4, 128, 129, 133, 134, 135, 136, 137, 200] {
        for code in 0..5u8 {
            s += &format!("add d ::1,icmpv6:{t}/{code}\n");
        }
    }
    s
}

#[test]
fn list_and_save_are_byte_identical() {
    let ns = Netns::new_anonymous().expect("netns (run as root)");
    let (ok, _, err) = theirs(&ns, &["restore"], Some(&sample()));
    assert!(ok, "{err}");
    for args in [
        &["list"][..],
        &["save"],
        &["list", "a"],
        &["save", "b"],
        &["list", "-t"],
        &["list", "-n"],
        &["-n", "list"],
        &["list", "-o", "save"],
        &["list", "c", "-o", "plain"],
    ] {
        let (ok1, a, e1) = theirs(&ns, args, None);
        let (ok2, b, e2) = ours(&ns, args, None);
        assert!(ok1 && ok2, "{args:?}: {e1} / {e2}");
        assert!(!a.is_empty());
        assert_eq!(a, b, "ipset {args:?} differs");
    }
    // JSON (the real tool has no JSON mode): names and members present.
    let (ok, j, e) = ours(&ns, &["list", "-o", "json"], None);
    assert!(ok, "{e}");
    assert!(
        j.contains("\"name\": \"a\"") && j.contains("10.0.0.1,tcp:80"),
        "{j}"
    );
}

#[test]
fn restore_reads_ipset_save_files_and_commands_work() {
    // Save file made by the real tool in one namespace ...
    let ns1 = Netns::new_anonymous().unwrap();
    assert!(theirs(&ns1, &["restore"], Some(&sample())).0);
    let (_, saved, _) = theirs(&ns1, &["save"], None);
    // ... restored by the example in another: the real tool saves the same.
    let ns2 = Netns::new_anonymous().unwrap();
    let (ok, _, err) = ours(&ns2, &["restore"], Some(&saved));
    assert!(ok, "{err}");
    let (_, again, _) = theirs(&ns2, &["save"], None);
    assert_eq!(saved, again);
    // -exist restore over existing content is fine; without it, an error
    // naming the line.
    assert!(ours(&ns2, &["-exist", "restore"], Some(&saved)).0);
    let (ok, _, err) = ours(&ns2, &["restore"], Some(&saved));
    assert!(!ok);
    assert!(err.contains("Error in line 1"), "{err}");

    // Single commands.
    let ns = ns2;
    for args in [
        &[
            "create",
            "x",
            "hash:ip,port",
            "family",
            "inet6",
            "timeout",
            "5",
        ][..],
        &["add", "x", "2001:db8::1,tcp:80-82", "timeout", "0"],
        &["del", "x", "2001:db8::1,tcp:81"],
        &["rename", "x", "y"],
        &[
            "create",
            "z",
            "hash:ip,port",
            "family",
            "inet6",
            "timeout",
            "5",
        ],
        &["swap", "y", "z"],
        &["flush", "y"],
        &["-exist", "add", "z", "2001:db8::1,tcp:80"],
    ] {
        let (ok, _, err) = ours(&ns, args, None);
        assert!(ok, "{args:?}: {err}");
    }
    assert!(ours(&ns, &["test", "z", "2001:db8::1,tcp:82"], None).0);
    assert!(!ours(&ns, &["test", "z", "2001:db8::1,tcp:81"], None).0);
    let (ok, _, err) = ours(&ns, &["add", "z", "2001:db8::1,tcp:80"], None);
    assert!(!ok && err.contains("it's already added"), "{err}");
    let (_, s, _) = theirs(&ns, &["save", "z"], None);
    assert!(s.contains("add z 2001:db8::1,tcp:82 timeout 0"), "{s}");
    for args in [&["destroy", "y"][..], &["destroy", "z"], &["destroy"]] {
        assert!(ours(&ns, args, None).0, "{args:?}");
    }
    assert_eq!(theirs(&ns, &["list", "-n"], None).1, "");
}

/// Sets of every other typed type (hash:ip, hash:net, hash:ip,port,ip,
/// hash:ip,port,net, bitmap:port), both families where the type has
/// inet6, every option, nomatch, ranges and networks that the kernel
/// splits (timeouts 0, so the listings cannot differ by a second).
fn typed_sample() -> String {
    let mut s = String::from(
        "create ip4 hash:ip family inet hashsize 1024 maxelem 100 timeout 10 counters comment skbinfo bucketsize 12 initval 0x00000001
add ip4 10.0.0.1 timeout 0 packets 1 bytes 2 comment \"x y\" skbmark 0x1 skbprio 1:2 skbqueue 3
add ip4 10.0.0.8/30 timeout 0
add ip4 10.0.1.1-10.0.1.3 timeout 0 skbmark 0x10/0xff
create ip6 hash:ip family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000002
add ip6 2001:db8::1
add ip6 fe80::1
create ipm hash:ip family inet hashsize 1024 maxelem 65536 netmask 24 bucketsize 12 initval 0x00000003
add ipm 10.0.0.5
add ipm 10.0.9.5
create net4 hash:net family inet hashsize 1024 maxelem 65536 timeout 5 counters comment bucketsize 12 initval 0x00000004
add net4 10.0.0.0/8 timeout 0 nomatch comment \"n\"
add net4 192.168.0.0-192.168.0.5 timeout 0
add net4 172.16.0.1 timeout 0 packets 3 bytes 4
create net6 hash:net family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000005
add net6 2001:db8::/64 nomatch
add net6 2001:db8:1::1
add net6 2001:db8:2::/127
create ppi hash:ip,port,ip family inet hashsize 1024 maxelem 65536 counters bucketsize 12 initval 0x00000006
add ppi 10.0.0.1,tcp:80,10.0.0.2
add ppi 10.0.0.1,udp:53,10.0.0.3 packets 3 bytes 4
add ppi 10.0.0.1,icmp:echo-request,10.0.0.3
add ppi 10.0.0.1,sctp:1-3,10.0.0.4
create ppi6 hash:ip,port,ip family inet6 hashsize 64 maxelem 10 timeout 50 bucketsize 12 initval 0x00000007
add ppi6 ::1,sctp:5,::2 timeout 0
add ppi6 ::1,ipv6-icmp:echo-request,::2 timeout 0
create ppn hash:ip,port,net family inet hashsize 1024 maxelem 65536 timeout 7 comment skbinfo bucketsize 12 initval 0x00000008
add ppn 10.0.0.1,tcp:80,10.1.0.0/16 timeout 0 nomatch comment \"c\"
add ppn 10.0.0.1,tcp:81,10.1.0.1 timeout 0 skbqueue 1
add ppn 10.0.0.1,udplite:9,10.2.0.0-10.2.0.2 timeout 0
create ppn6 hash:ip,port,net family inet6 hashsize 1024 maxelem 65536 counters bucketsize 12 initval 0x00000009
add ppn6 2001:db8::1,ipv6-icmp:1/2,2001:db8::/64 nomatch
add ppn6 2001:db8::1,udp:53,2001:db8::5
create bp bitmap:port range 1-1000 timeout 3 counters comment skbinfo
add bp 80 timeout 0
add bp 100-102 timeout 0 comment \"r\"
add bp 1000 timeout 0 skbprio 10:1f
create bp2 bitmap:port range 0-65535
add bp2 0
add bp2 65535
",
    );
    for i in 0..300u32 {
        s += &format!("add net4 10.{}.{}.0/24 timeout 0\n", 100 + i / 256, i % 256);
        s += &format!("add bp2 {}\n", 1000 + i);
    }
    s
}

#[test]
fn typed_types_list_and_save_are_byte_identical() {
    let ns = Netns::new_anonymous().expect("netns (run as root)");
    let (ok, _, err) = theirs(&ns, &["restore"], Some(&typed_sample()));
    assert!(ok, "{err}");
    let names = [
        "ip4", "ip6", "ipm", "net4", "net6", "ppi", "ppi6", "ppn", "ppn6", "bp", "bp2",
    ];
    for args in [
        &["list"][..],
        &["save"],
        &["list", "-t"],
        &["list", "-o", "save"],
    ] {
        let (ok1, a, e1) = theirs(&ns, args, None);
        let (ok2, b, e2) = ours(&ns, args, None);
        assert!(ok1 && ok2, "{args:?}: {e1} / {e2}");
        assert_eq!(a, b, "ipset {args:?} differs");
        for n in names {
            assert!(a.contains(&format!("create {n} ")) || a.contains(&format!("Name: {n}\n")));
        }
    }
    for n in names {
        for cmd in ["list", "save"] {
            let (ok1, a, e1) = theirs(&ns, &[cmd, n], None);
            let (ok2, b, e2) = ours(&ns, &[cmd, n], None);
            assert!(ok1 && ok2, "{cmd} {n}: {e1} / {e2}");
            assert!(a.lines().count() > 2, "{a}");
            assert_eq!(a, b, "ipset {cmd} {n} differs");
        }
    }
}

#[test]
fn typed_types_restore_and_commands() {
    // The tool's save of the typed sample, restored by the example in
    // another namespace: the tool saves the same again.
    let ns1 = Netns::new_anonymous().unwrap();
    assert!(theirs(&ns1, &["restore"], Some(&typed_sample())).0);
    let (_, saved, _) = theirs(&ns1, &["save"], None);
    let ns2 = Netns::new_anonymous().unwrap();
    let (ok, _, err) = ours(&ns2, &["restore"], Some(&saved));
    assert!(ok, "{err}");
    assert_eq!(theirs(&ns2, &["save"], None).1, saved);
    // The sample itself (ranges, networks, names), restored by both.
    let ns3 = Netns::new_anonymous().unwrap();
    let (ok, _, err) = ours(&ns3, &["restore"], Some(&typed_sample()));
    assert!(ok, "{err}");
    assert_eq!(theirs(&ns3, &["save"], None).1, saved);
    // A bad element names its line.
    let (ok, _, err) = ours(
        &ns3,
        &["-exist", "restore"],
        Some("create z hash:net\nadd z 10.0.0.0/8\nadd z 10.0.0.0/40\n"),
    );
    assert!(!ok && err.contains("Error in line 3"), "{err}");

    // Single commands on each type, checked with the tool.
    let ns = ns3;
    for (set, elem, absent) in [
        ("ip6", "2001:db8::7", "2001:db8::8"),
        ("net4", "10.200.0.0/16", "10.201.0.0/16"),
        ("ppi", "10.0.0.9,udp:1,10.0.0.9", "10.0.0.9,udp:2,10.0.0.9"),
        (
            "ppn6",
            "::9,tcp:1,2001:db8:9::/48",
            "::9,tcp:1,2001:db8:8::/48",
        ),
        ("bp2", "7", "8"),
    ] {
        assert!(ours(&ns, &["add", set, elem], None).0, "{set} {elem}");
        assert!(theirs(&ns, &["test", set, elem], None).0, "{set} {elem}");
        assert!(ours(&ns, &["test", set, elem], None).0, "{set} {elem}");
        let (ok, _, err) = ours(&ns, &["test", set, absent], None);
        assert!(
            !ok && err.contains("is NOT in set"),
            "{set} {absent}: {err}"
        );
        let (ok, _, err) = ours(&ns, &["add", set, elem], None);
        assert!(!ok && err.contains("it's already added"), "{set}: {err}");
        assert!(ours(&ns, &["-exist", "add", set, elem], None).0);
        assert!(ours(&ns, &["del", set, elem], None).0, "{set} {elem}");
        assert!(!theirs(&ns, &["test", set, elem], None).0, "{set} {elem}");
    }
    assert!(
        ours(
            &ns,
            &[
                "create",
                "nb",
                "bitmap:port",
                "range",
                "10-20",
                "timeout",
                "5"
            ],
            None
        )
        .0
    );
    assert!(ours(&ns, &["add", "nb", "11-12", "timeout", "0"], None).0);
    let (_, s, _) = theirs(&ns, &["save", "nb"], None);
    assert_eq!(
        s,
        "create nb bitmap:port range 10-20 timeout 5\nadd nb 11 timeout 0\nadd nb 12 timeout 0\n"
    );
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn parser_reads_every_command() {
    let p = cli::Protocols::parse("tcp 6 TCP\nudp 17 UDP # comment\nsctp\tx132 SCTP\n");
    assert_eq!(p.by_name.get("TCP"), Some(&6));
    assert_eq!(p.by_num.get(&17).map(String::as_str), Some("udp"));
    assert!(!p.by_name.contains_key("sctp"));

    let inv = cli::parse_args(&words("-exist -o save list a"), &p).unwrap();
    assert!(inv.opts.exist);
    assert_eq!(inv.opts.mode, cli::Mode::Save);
    assert!(matches!(inv.cmd, cli::Cmd::List { save: false, set: Some(ref s) } if s == "a"));
    let inv = cli::parse_args(&[], &p).unwrap();
    assert!(matches!(
        inv.cmd,
        cli::Cmd::List {
            save: false,
            set: None
        }
    ));
    let inv = cli::parse_args(
        &words("create x hash:ip,port family inet6 timeout 5 counters initval 0x10"),
        &p,
    )
    .unwrap();
    let cli::Cmd::Create(spec) = inv.cmd else {
        panic!("{:?}", inv.cmd)
    };
    assert_eq!(spec.name, "x");
    assert_eq!(spec.family, ipset_nl::Family::Inet6);
    assert_eq!(spec.options.initval, Some(16));
    let inv = cli::parse_args(
        &words("add s 10.0.0.0/30,udp:1000-1002 timeout 7 skbmark 0x10/0xff"),
        &p,
    )
    .unwrap();
    let cli::Cmd::Adt { op, text, args, .. } = inv.cmd else {
        panic!("{:?}", inv.cmd)
    };
    assert_eq!(op, cli::AdtOp::Add);
    assert_eq!(text, "10.0.0.0/30,udp:1000-1002");
    let elem = cli::parse_member(&SetType::HashIpPort, &text, &args, &p).unwrap();
    assert_eq!(elem.to_string(), "10.0.0.0/30,udp:1000-1002");
    assert_eq!(
        format!("{elem:#}"),
        "10.0.0.0/30,udp:1000-1002 timeout 7 skbmark 0x10/0xff"
    );
    // The other typed types, by the set's type.
    for (t, text, args, want) in [
        (
            SetType::HashIp,
            "10.0.0.1",
            "timeout 5",
            "10.0.0.1 timeout 5",
        ),
        (
            SetType::HashNet,
            "10.0.0.0/8",
            "nomatch comment \"a b\"",
            "10.0.0.0/8 nomatch comment \"a b\"",
        ),
        (
            SetType::HashIpPortIp,
            "10.0.0.1,TCP:80,10.0.0.2",
            "",
            "10.0.0.1,tcp:80,10.0.0.2",
        ),
        (
            SetType::HashIpPortNet,
            "::1,icmpv6:echo-request,2001:db8::/64",
            "nomatch",
            "::1,icmpv6:128/0,2001:db8::/64 nomatch",
        ),
        (
            SetType::BitmapPort,
            "80-82",
            "skbqueue 2",
            "80-82 skbqueue 2",
        ),
        (SetType::BitmapPort, "udp:53", "", "53"),
    ] {
        let e = cli::parse_member(&t, text, &cli::split_words(args), &p).unwrap();
        assert_eq!(format!("{e:#}"), want);
        assert_eq!(e.set_type(), t);
    }
    for (t, bad) in [
        (SetType::HashIp, "10.0.0.1,tcp:80"),
        (SetType::HashNet, "10.0.0.0/33"),
        (SetType::HashIpPortIp, "10.0.0.1,tcp:80"),
        (SetType::HashIpPortNet, "10.0.0.1,tcp:80,x"),
        (SetType::BitmapPort, "65536"),
        (SetType::ListSet, "a"),
    ] {
        assert!(cli::parse_member(&t, bad, &[], &p).is_err(), "{bad}");
    }
    assert!(cli::parse_member(&SetType::HashIp, "10.0.0.1", &words("nomatch"), &p).is_err());
    let inv = cli::parse_args(&words("test s ::1,icmpv6:echo-request"), &p).unwrap();
    assert!(matches!(
        inv.cmd,
        cli::Cmd::Adt {
            op: cli::AdtOp::Test,
            ..
        }
    ));
    for bad in [
        "-o",
        "-o xml list",
        "frobnicate",
        "rename a",
        "create a",
        "create a hash:ip,port hashsize",
        "create a hash:ip,port hashsize 0x1ffffffffffffffffff",
        "add s",
        "create b bitmap:port range 1",
    ] {
        assert!(cli::parse_args(&words(bad), &p).is_err(), "{bad}");
    }
    // hash:ip,port elements the parser refuses once the set type is known.
    for bad in [
        "10.0.0.1",
        "10.0.0.1,tcp:99999",
        "10.0.0.1,icmp:300/1",
        "::1/200,tcp:1",
        "10.0.0.1,tcp:1 skbprio 1",
        "10.0.0.1,tcp:1 timeout",
    ] {
        let w = words(bad);
        assert!(
            cli::parse_member(&SetType::HashIpPort, &w[0], &w[1..], &p).is_err(),
            "{bad}"
        );
    }

    assert!(matches!(
        cli::parse_restore_line("add a 10.0.0.1,tcp:80 comment \"hi there\"", &p),
        Ok(cli::RestoreLine::Adt {
            op: cli::AdtOp::Add,
            ..
        })
    ));
    assert!(matches!(
        cli::parse_restore_line("-D a 10.0.0.1,tcp:80", &p),
        Ok(cli::RestoreLine::Adt {
            op: cli::AdtOp::Del,
            ..
        })
    ));
    assert!(matches!(
        cli::parse_restore_line("  ", &p),
        Ok(cli::RestoreLine::Nothing)
    ));
    assert!(matches!(
        cli::parse_restore_line("COMMIT", &p),
        Ok(cli::RestoreLine::Nothing)
    ));
    assert!(cli::parse_restore_line("create", &p).is_err());
    assert!(cli::parse_restore_line("list", &p).is_err());
}

/// Thousands of random command lines and restore lines, made of real
/// tokens, their fragments and random bytes: the parser answers every one
/// with a value or an error, never a panic.
#[test]
fn parser_never_panics() {
    const TOKENS: &[&str] = &[
        "create",
        "add",
        "del",
        "test",
        "list",
        "save",
        "restore",
        "rename",
        "swap",
        "flush",
        "destroy",
        "-N",
        "-A",
        "-exist",
        "-!",
        "-n",
        "-t",
        "-o",
        "plain",
        "save",
        "json",
        "hash:ip,port",
        "family",
        "inet",
        "inet6",
        "-4",
        "-6",
        "hashsize",
        "maxelem",
        "timeout",
        "bucketsize",
        "initval",
        "netmask",
        "counters",
        "comment",
        "skbinfo",
        "forceadd",
        "packets",
        "bytes",
        "skbmark",
        "skbprio",
        "skbqueue",
        "COMMIT",
        "#",
        "\"",
        "0x",
        "0xffffffffffffffffff",
        "4294967296",
        "-1",
        "10.0.0.1,tcp:80",
        "10.0.0.0/33,udp:1-",
        "1.2.3.4-1.2.3.0,icmp:3/",
        "::1,icmpv6:echo-request",
        "fe80::/129,sctp:0",
        "1.1.1.1,255:1",
        "1.1.1.1,:",
        ",",
        "/",
        "-",
        ":",
        "1:2",
        "0x10/0xff",
        "ffff:ffff",
        "é",
        "\u{0}",
        "",
    ];
    let protos = cli::Protocols::parse("tcp 6\nudp 17\nicmp 1\nbogus 999\nx\n");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..20_000 {
        let len = rnd(8);
        let mut args = Vec::new();
        for _ in 0..len {
            let t = TOKENS[rnd(TOKENS.len())];
            let w = match rnd(4) {
                0 => {
                    let cut = t.char_indices().map(|(i, _)| i).nth(rnd(t.len() + 1));
                    t[..cut.unwrap_or(t.len())].to_string()
                }
                1 => (0..rnd(6))
                    .map(|_| char::from(b"0123456789abcdef:,/-.x\"# "[rnd(24)]))
                    .collect(),
                _ => t.to_string(),
            };
            args.push(w);
        }
        let _ = cli::parse_args(&args, &protos);
        let line = args.join(" ");
        let _ = cli::parse_restore_line(&line, &protos);
        let _ = cli::split_words(&line);
        let _ = cli::Protocols::parse(&line);
    }
}

/// A restore file of every change command (create, add, del, swap,
/// rename, flush, destroy), as kube-proxy-like tools write them to replace
/// a set atomically: the example leaves what the real tool leaves, and
/// stops at the same failing line.
#[test]
fn restore_runs_every_change_command_as_the_tool_does() {
    let file = "create live hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000011
add live 10.0.0.1,tcp:80
add live 10.0.0.2,tcp:80
create next hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000012
add next 10.0.0.2,tcp:80
add next 10.0.0.3,tcp:443
-A next 10.0.0.4,udp:53
del next 10.0.0.4,udp:53
swap live next
destroy next
create tmp hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000013
add tmp 192.168.0.1
rename tmp other
add other 192.168.0.2
-D other 192.168.0.1
create gone hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000014
add gone 1.1.1.1
flush gone
add gone 2.2.2.2
destroy gone
COMMIT
";
    let (a, b) = (
        Netns::new_anonymous().unwrap(),
        Netns::new_anonymous().unwrap(),
    );
    let (ok, _, err) = theirs(&a, &["restore"], Some(file));
    assert!(ok, "the tool: {err}");
    let (ok, _, err) = ours(&b, &["restore"], Some(file));
    assert!(ok, "ours: {err}");
    let (_, want, _) = theirs(&a, &["save"], None);
    let (_, got, _) = theirs(&b, &["save"], None);
    assert!(want.contains("add live 10.0.0.3,tcp:443"), "{want}");
    assert!(!want.contains("next") && !want.contains("gone"), "{want}");
    assert_eq!(got, want);

    // A delete of an element that is not there stops both at that line
    // (after the lines before it), unless -exist; so does a swap with a
    // set that does not exist.
    for (file, exist) in [
        (
            "create s hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000021\nadd s 1.1.1.1\ndel s 9.9.9.9\nadd s 2.2.2.2\n",
            false,
        ),
        (
            "create s hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000021\nadd s 1.1.1.1\ndel s 9.9.9.9\nadd s 2.2.2.2\n",
            true,
        ),
        (
            "create s hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000021\nswap s nosuch\nadd s 3.3.3.3\n",
            false,
        ),
    ] {
        let (a, b) = (
            Netns::new_anonymous().unwrap(),
            Netns::new_anonymous().unwrap(),
        );
        let args: &[&str] = if exist {
            &["-exist", "restore"]
        } else {
            &["restore"]
        };
        let (ok_t, _, err_t) = theirs(&a, args, Some(file));
        let (ok_o, _, err_o) = ours(&b, args, Some(file));
        assert_eq!(
            ok_o, ok_t,
            "{file:?} exist {exist}: ours {err_o:?}, the tool {err_t:?}"
        );
        if !ok_t {
            let line = err_t
                .split("Error in line ")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .unwrap_or("?");
            assert!(
                err_o.contains(&format!("Error in line {line}:")),
                "{err_o} / {err_t}"
            );
        }
        let (_, want, _) = theirs(&a, &["save"], None);
        let (_, got, _) = theirs(&b, &["save"], None);
        assert_eq!(got, want, "{file:?} exist {exist}");
    }
}
