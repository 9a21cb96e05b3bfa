//! The `ipset` example against the real ipset 7.17, in throwaway
//! namespaces: the same sets give byte-identical `list` and `save` output,
//! and the example's `restore` reads `ipset save` files.
//!
//! Needs the example built: `cargo test -p ipset-nl` builds it (a bare
//! `--test example` does not; then `cargo build -p ipset-nl --example ipset`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ipset_nl::Netns;

/// The example binary, built by `cargo test` next to the test binaries.
fn example() -> PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop(); // deps
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples").join("ipset")
}

fn run(ns: &Netns, prog: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut c = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nsenter");
    if let Some(s) = stdin {
        c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(c.stdin.take());
    let o = c.wait_with_output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ours(ns: &Netns, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let ex = example();
    assert!(ex.exists(), "example not built at {}", ex.display());
    run(ns, ex.to_str().unwrap(), args, stdin)
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
