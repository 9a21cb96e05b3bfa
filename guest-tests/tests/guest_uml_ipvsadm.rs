//! The `ipvsadm` example (`examples/ipvsadm/`) against Debian's ipvsadm 1.31,
//! in a guest kernel with IPVS (user-mode-linux: `tools/test` runs every
//! `guest_uml*` test there; by hand:
//! `cargo test --workspace --all-features --no-run` (which also builds the
//! example), then
//! `tools/guest --kernel uml -- target/debug/deps/guest_uml_ipvsadm-HASH --test-threads=1`).
//!
//! Differential: every case runs both tools against identical state, each in
//! a fresh network namespace with `lo` up (read-only listings: both in the
//! same namespace, since the kernel's hash order differs per namespace),
//! and compares stdout, stderr, the exit status and the resulting state
//! (`ipvsadm -Sn`, `--timeout`, `--daemon`, read by the reference tool).
//! Both run as `ipvsadm` (argv[0]) through `env PATH=...`, so messages that
//! name the program match.
//!
//! A missing IPVS, ipvsadm or example binary fails the tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nl_engine::Netns;

#[path = "../../tests/common/mod.rs"]
mod common;
use common::settled;

/// `$IPVSADM_UNDER_TEST`, or the example next to this test binary
/// (`target/<profile>/examples/ipvsadm`; `cargo test --no-run` builds it).
fn ours() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        if let Some(p) = std::env::var_os("IPVSADM_UNDER_TEST") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().unwrap();
        let p = exe
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join("examples/ipvsadm");
        assert!(
            p.exists(),
            "{} missing: build it (cargo test --workspace --all-features --no-run builds examples)",
            p.display()
        );
        p
    })
}

/// Directories holding an `ipvsadm` symlink to each tool.
fn bindirs() -> &'static (PathBuf, PathBuf) {
    static D: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    D.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("ipvsadm-diff-{}", std::process::id()));
        let r = base.join("ref");
        let o = base.join("ours");
        std::fs::create_dir_all(&r).unwrap();
        std::fs::create_dir_all(&o).unwrap();
        let reference = clusterip_test_support::require_tool(
            "ipvsadm",
            &["/usr/sbin/ipvsadm", "/sbin/ipvsadm"],
        );
        let _ = std::fs::remove_file(r.join("ipvsadm"));
        let _ = std::fs::remove_file(o.join("ipvsadm"));
        std::os::unix::fs::symlink(reference, r.join("ipvsadm")).unwrap();
        std::os::unix::fs::symlink(ours(), o.join("ipvsadm")).unwrap();
        (r, o)
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Ref,
    Ours,
}

#[derive(Debug, PartialEq, Eq)]
struct Out {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

fn run(ns: &Netns, tool: Tool, args: &[&str], stdin: Option<&str>) -> Out {
    let (r, o) = bindirs();
    let dir = if tool == Tool::Ref { r } else { o };
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", ns.proc_path()))
        .arg("--")
        .arg("env")
        .arg(format!(
            "PATH={}:/usr/sbin:/usr/bin:/sbin:/bin",
            dir.display()
        ))
        .arg("ipvsadm")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn nsenter");
    if let Some(s) = stdin {
        let mut i = child.stdin.take().unwrap();
        i.write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
    }
}

fn fresh_ns() -> Netns {
    let ns = Netns::new_anonymous().expect("new network namespace");
    let st = clusterip_test_support::nsenter(ns.proc_path())
        .args(["ip", "link", "set", "lo", "up"])
        .status()
        .expect("ip link set lo up");
    assert!(st.success());
    ns
}

/// A namespace holding `setup` (an `ipvsadm -R` file), made by `tool`.
fn ns_with(setup: &str, tool: Tool) -> Netns {
    let ns = fresh_ns();
    if !setup.is_empty() {
        let o = run(&ns, tool, &["-R"], Some(setup));
        assert_eq!(o.status, Some(0), "setup by {tool:?} failed: {o:?}");
        assert_eq!(o.stderr, "", "setup by {tool:?}: {o:?}");
    }
    ns
}

/// Everything the kernel holds, as the reference tool reads it.
fn state(ns: &Netns) -> String {
    let mut s = String::new();
    for args in [&["-Sn"][..], &["-L", "--timeout"], &["-L", "--daemon"]] {
        let o = run(ns, Tool::Ref, args, None);
        assert_eq!(o.status, Some(0), "reading state: {o:?}");
        s += &o.stdout;
    }
    s
}

/// Runs a changing (or failing) command line with both tools on `setup`
/// in two namespaces; returns a description of the differences.
fn diff_mutating(setup: &str, args: &[&str], stdin: Option<&str>) -> Option<String> {
    let a = ns_with(setup, Tool::Ref);
    let b = ns_with(setup, Tool::Ref);
    let ra = run(&a, Tool::Ref, args, stdin);
    let rb = run(&b, Tool::Ours, args, stdin);
    let (mut sa, mut sb) = (state(&a), state(&b));
    if sa != sb {
        // The reference tool's dump can repeat or skip a service while
        // another test changes services (see `settled`): read both again.
        (sa, sb) = (settled(|| state(&a)), settled(|| state(&b)));
    }
    if ra == rb && sa == sb {
        return None;
    }
    Some(format!(
        "ipvsadm {args:?}\n  ref:  {ra:?}\n  ours: {rb:?}\n  state ref:\n{sa}\n  state ours:\n{sb}"
    ))
}

fn diff_readonly(ns: &Netns, args: &[&str]) -> Option<String> {
    let mut ra = run(ns, Tool::Ref, args, None);
    let mut rb = run(ns, Tool::Ours, args, None);
    if ra != rb {
        // a dump of the reference tool can be disturbed (see `settled`)
        ra = settled(|| run(ns, Tool::Ref, args, None));
        rb = settled(|| run(ns, Tool::Ours, args, None));
    }
    if ra == rb {
        return None;
    }
    Some(format!("ipvsadm {args:?}\n  ref:  {ra:?}\n  ours: {rb:?}"))
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn report(diffs: Vec<String>, n: usize) {
    if !diffs.is_empty() {
        panic!(
            "{} of {n} cases differ:\n{}",
            diffs.len(),
            diffs.join("\n-----\n")
        );
    }
    eprintln!("{n} cases identical");
}

/// Services of every kind: IPv4/IPv6, TCP/UDP/SCTP, fwmark (v4, v6, above
/// INT_MAX), persistence with masks and prefixes, one-packet, scheduler
/// flags, every forwarding method, tunnels of every type and checksum
/// option, thresholds, weights up to INT_MAX, mixed-family tunnels,
/// addresses and ports that have names in /etc/hosts and /etc/services.
const RICH: &str = "\
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.1.1 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -x 100 -y 10
-a -t 10.0.0.1:80 -r 192.168.1.10:80 -g -w 0
-A -u 10.0.0.1:53 -p 100 -M 255.255.255.0 -o
-a -u 10.0.0.1:53 -r 192.168.1.3 -g
-A -f 7 -s sh -b sh-fallback,sh-port
-a -f 7 -r 192.168.1.4 -i --tun-type gue --tun-port 6080 --tun-remcsum
-a -f 7 -r 192.168.1.5 -i --tun-type gre --tun-csum
-a -f 7 -r 192.168.1.6 -i --tun-type gue --tun-port 7 --tun-nocsum
-a -f 7 -r 2001:db8::9 -i
-A -t [2001:db8::1]:443 -s mh -b mh-port -p
-a -t [2001:db8::1]:443 -r [2001:db8::2]:443 -m -w 2147483647
-a -t [2001:db8::1]:443 -r [2001:db8::3]:443 -g -x 5 -y 1
-A -f 4294967295 -6 -s wlc -p 30 -M 64
-A --sctp-service 10.0.0.2:99 -s sed
-A -t 127.0.0.1:80
-a -t 127.0.0.1:80 -r 127.0.0.1:80 -m
-A -t 200.1.1.1:22 -s fo
-A -t 10.0.0.3:0 -p 60 -s lblc
-A -u [::1]:53 -s dh -b flag-3
-a -u [::1]:53 -r [2001:db8:ffff::1]:5353 -m -w 10
-A -f 2147483648 -s ovf
";

/// [`RICH`] without the firewall marks above `INT_MAX` and without IPv4
/// services more than 2^31 apart, for the tests that compare two
/// namespaces: ipvsadm sorts marks and addresses by a wrapping
/// subtraction, so with those its order (and `-S`, which prints them negative and
/// cannot be restored, by ipvsadm itself either) depends on the kernel's
/// per-namespace hash order.
const RICH_M: &str = "\
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.1.1 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -x 100 -y 10
-a -t 10.0.0.1:80 -r 192.168.1.10:80 -g -w 0
-A -u 10.0.0.1:53 -p 100 -M 255.255.255.0 -o
-a -u 10.0.0.1:53 -r 192.168.1.3 -g
-A -f 7 -s sh -b sh-fallback,sh-port
-a -f 7 -r 192.168.1.4 -i --tun-type gue --tun-port 6080 --tun-remcsum
-a -f 7 -r 192.168.1.5 -i --tun-type gre --tun-csum
-a -f 7 -r 192.168.1.6 -i --tun-type gue --tun-port 7 --tun-nocsum
-a -f 7 -r 2001:db8::9 -i
-A -t [2001:db8::1]:443 -s mh -b mh-port -p
-a -t [2001:db8::1]:443 -r [2001:db8::2]:443 -m -w 2147483647
-a -t [2001:db8::1]:443 -r [2001:db8::3]:443 -g -x 5 -y 1
-A -f 8 -6 -s wlc -p 30 -M 64
-a -f 8 -6 -r 2001:db8::7 -g -w 4
-A --sctp-service 10.0.0.2:99 -s sed
-A -t 127.0.0.1:80
-a -t 127.0.0.1:80 -r 127.0.0.1:80 -m
-A -t 10.0.0.3:0 -p 60 -s lblc
-A -u [::1]:53 -s dh -b flag-3
-a -u [::1]:53 -r [2001:db8:ffff::1]:5353 -m -w 10
";

#[test]
fn listings_are_identical() {
    common::require_guest();
    let ns = ns_with(RICH, Tool::Ref);
    let cases = [
        "",
        "-L",
        "-l",
        "-Ln",
        "-ln",
        "-L -n",
        "--list --numeric",
        "-Ln --stats",
        "-ln --stats",
        "-L --stats",
        "-Ln --rate",
        "-L --rate",
        "-Ln --thresholds",
        "-L --thresholds",
        "-Ln --persistent-conn",
        "-Ln --tun-info",
        "-L --tun-info",
        "-Ln --exact",
        "-Ln --stats --exact",
        "-LnX --rate",
        "-Ln --nosort",
        "-L --nosort --stats",
        "-Ln --sort",
        "-L --timeout",
        "-L --daemon",
        "-Lnc",
        "-Lc",
        "-L -c -n",
        "-Lnc --persistent-conn",
        "-S",
        "-Sn",
        "-S -n",
        "--save",
        "-L -t 10.0.0.1:80",
        "-Ln -t 10.0.0.1:80",
        "-Ln -u 10.0.0.1:53 --stats",
        "-Ln -f 7 --tun-info",
        "-L -f 7",
        "-Ln -f 4294967295 -6",
        "-Ln -t [2001:db8::1]:443",
        "-L -t [2001:db8::1]:https",
        "-Ln --sctp-service 10.0.0.2:99",
        "-L -t 127.0.0.1:http",
        "-L -t localhost:80",
        "-Ln -t 10.0.0.99:80",
        "-Ln -f 8",
        "-Ln -t 10.0.0.1:80 --nosort",
        "-Ln -t 10.0.0.1:80 --thresholds",
        "-Ln -t 10.0.0.1:80 --persistent-conn",
        "-Ln --rate --stats",
        "-Ln --thresholds --persistent-conn",
        "-L --tun-info --stats",
    ];
    let mut diffs = Vec::new();
    for c in cases {
        if let Some(d) = diff_readonly(&ns, &words(c)) {
            diffs.push(d);
        }
    }
    report(diffs, cases.len());
}

/// Changes on IPv4 and IPv6, fwmark, tunnels, persistence, thresholds,
/// daemons, timeouts, zero and flush, with their kernel errors.
#[test]
fn commands_are_identical() {
    common::require_guest();
    let cases = [
        // add/edit/delete services
        "-A -t 10.0.0.9:80",
        "-A -t 10.0.0.9:80 -s rr -p",
        "-A -t 10.0.0.9:80 -s wrr -p 999 -M 255.255.0.0",
        "--add-service --tcp-service 10.0.0.9:80 --scheduler lc --persistent 5 --netmask 255.0.0.0",
        "-A -u 10.0.0.9:53 -o",
        "-A -u 10.0.0.9:53 --ops -s sh -b sh-port",
        "-A -t [2001:db8::9]:80 -p 40 -M 48",
        "-A -f 9",
        "-A -f 9 -6 -s nq",
        "--add-service --fwmark-service 9 --ipv6 -p -M 96",
        "-A --sctp-service [2001:db8::9]:9 -s lblcr",
        "-A -t 10.0.0.9:80 --pe sip -p",
        "-A -t 10.0.0.1:80",
        "-A -t 10.0.0.9:80 -s nosuch",
        "-A -u 10.0.0.9:1 -b flag-1 -s rr",
        "-A -t 10.0.0.9:http",
        "-A -t localhost:8080",
        "-A -t 0x7f.1:82",
        "-A -t 10.1:83",
        "-A -t [1.2.3.4]:83 -p",
        "-A -t 10.0.0.9:80 -p=30",
        "-A -t10.0.0.9:80 -p30",
        "-A -t 10.0.0.9:80 --persistent=40",
        "-A -t 10.0.0.9:80 -s --",
        "-E -t 10.0.0.1:80 -s wlc -p 20",
        "-E -t 10.0.0.1:80",
        "-E -f 7 -s sh -b sh-fallback",
        "-E -t 10.0.0.99:80",
        "--edit-service -t [2001:db8::1]:443 -s rr",
        "-D -t 10.0.0.1:80",
        "-D -f 8 -6",
        "-D -t 10.0.0.99:80",
        "--delete-service -u 10.0.0.1:53",
        // destinations
        "-a -t 10.0.0.1:80 -r 192.168.1.20",
        "-a -t 10.0.0.1:80 -r 192.168.1.20:8080 -m -w 5 -x 10 -y 2",
        "--add-server -t 10.0.0.1:80 --real-server 192.168.1.21 --masquerading --weight 7 --u-threshold 9 --l-threshold 3",
        "-a -t 10.0.0.1:80 -r 192.168.1.1 -m",
        "-a -t 10.0.0.99:80 -r 192.168.1.1",
        "-a -f 7 -r 192.168.1.30 -i --tun-type gue --tun-port 9 --tun-csum",
        "-a -f 7 -r 2001:db8::30 -i --tun-type gre --tun-nocsum",
        "-a -f 7 -r 192.168.1.31 --ipip --tun-type ipip",
        "-a -t [2001:db8::1]:443 -r [2001:db8::30]:8443 -m",
        "-a -t [2001:db8::1]:443 -r 192.168.1.40 -i",
        "-a -t 10.0.0.1:80 -r 2001:db8::5",
        "-e -t 10.0.0.1:80 -r 192.168.1.1 -m -w 9",
        "--edit-server -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -x 0 -y 0",
        "-e -t 10.0.0.1:80 -r 192.168.1.99",
        "-e -f 7 -r 192.168.1.4 -i --tun-type gre --tun-csum",
        "-d -t 10.0.0.1:80 -r 192.168.1.1",
        "-d -t 10.0.0.1:80 -r 192.168.1.99",
        "--delete-server -f 7 -r 2001:db8::9",
        "-d -t 10.0.0.99:80 -r 192.168.1.1",
        // zero, flush, timeouts, daemons
        "-Z",
        "--zero",
        "-Z -t 10.0.0.1:80",
        "-Z -t 10.0.0.99:80",
        "-C",
        "--clear",
        "--set 10 20 30",
        "--set 0 0 7",
        "--start-daemon master --mcast-interface lo",
        "--start-daemon backup --mcast-interface lo --syncid 9",
        "--start-daemon master --mcast-interface lo --syncid 3 --sync-maxlen 1000 --mcast-group 239.1.2.3 --mcast-port 9999 --mcast-ttl 5",
        "--start-daemon master --mcast-interface lo --mcast-group ff02::9",
        "--start-daemon master",
        "--start-daemon master --mcast-interface nosuch0",
        "--stop-daemon master",
        "--stop-daemon backup",
        "-h",
        "--help",
        "-v",
        "--version",
    ];
    let mut diffs = Vec::new();
    let mut n = 0;
    for c in cases {
        let args = words(c);
        // -h and -v print this project's own text: only the status and
        // stderr must match.
        if matches!(c, "-h" | "--help" | "-v" | "--version") {
            let ns = fresh_ns();
            let a = run(&ns, Tool::Ref, &args, None);
            let b = run(&ns, Tool::Ours, &args, None);
            n += 1;
            if a.status != b.status || a.stderr != b.stderr || b.stdout.is_empty() {
                diffs.push(format!("{c}: {a:?} / {b:?}"));
            }
            continue;
        }
        n += 1;
        let setup = if c.contains("-daemon") { "" } else { RICH_M };
        if let Some(d) = diff_mutating(setup, &args, None) {
            diffs.push(d);
        }
    }
    // A running daemon, listed and stopped.
    let daemons = "--start-daemon master --mcast-interface lo --syncid 4\n--start-daemon backup --mcast-interface lo\n";
    // (RICH_M has mixed-family tunnel destinations, with which the kernel
    // refuses to start a sync daemon: daemons get a state of their own.)
    for c in [
        "-L --daemon",
        "-L --daemon -n",
        "--stop-daemon master",
        "--stop-daemon backup",
        "--start-daemon master --mcast-interface lo",
        "--start-daemon backup --mcast-interface lo",
    ] {
        n += 1;
        let setup = daemons.to_string();
        if let Some(d) = diff_mutating(&setup, &words(c), None) {
            diffs.push(d);
        }
    }
    report(diffs, n);
}

/// Malformed command lines: popt errors, ipvsadm's validation messages and
/// exit statuses (nothing may change in the kernel either).
#[test]
fn malformed_lines_are_identical() {
    common::require_guest();
    let cases = [
        "-Lq",
        "-L -q",
        "--lis",
        "-list",
        "-A",
        "-A -t",
        "-A -t 10.0.0.8:80 -s",
        "-L -n=1",
        "--numeric=1 -L",
        "-A -t 10.0.0.9:80 foo",
        "-A foo",
        "foo",
        "-C -C",
        "-L --nosort=3",
        "-- -L",
        "-",
        "-A -t 10.0.0.9:0",
        "-L -c -t 10.0.0.1:80",
        "-L --stats --timeout",
        "-L --daemon --persistent-conn",
        "-L --timeout --daemon",
        "-L -c --rate",
        "-6 -A",
        "-A -6 -t 10.0.0.1:80",
        "-A -f 0",
        "-A -f 99999999999",
        "-A -f -3",
        "-A -f 12x",
        "-A -t 10.0.0.1:80 -p 0",
        "-A -t 10.0.0.1:80 -p 2678401",
        "-A -t 10.0.0.1:80 -p x",
        "-A -t 10.0.0.1:80 -M 1.2.3.4.5",
        "-A -t 10.0.0.1:80 -M foo",
        "-A -f 5 -6 -M 129",
        "-A -f 5 -6 -M 0",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -w -1",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -w 2147483648",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -x abc",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -y 1.5",
        "--start-daemon foo",
        "--stop-daemon bar",
        "--start-daemon master --mcast-group 1.2.3.4",
        "--start-daemon master --mcast-group ff02::1::",
        "--start-daemon master --mcast-port 0",
        "--start-daemon master --mcast-ttl 256",
        "--start-daemon master --sync-maxlen 65508",
        "--start-daemon master --syncid 256",
        "--set 1 2",
        "--set 1 2 3 4",
        "--set 1 x 3",
        "--set -1 2 3",
        "-A -t 10.0.0.3:80 -b nosuch",
        "-A -t 10.0.0.3:80 -b sh-port",
        "-A -t 10.0.0.3:80 -s sh -b sh-port,flag-3,mh-port",
        "-A -t 10.0.0.1:80 -s rr -s rr",
        "-L -nn",
        "-A -t 10.0.0.1:80 -L",
        "-AC",
        "-L --start-daemon master",
        "-A -t 300.1.1.1:80",
        "-A -t 10.0.0.1:99999",
        "-A -t 10.0.0.1:nosuchservice",
        "-A -t [2001:db8::1]80",
        "-A -t [2001:db8::1",
        "-A -t 123",
        "-A -u 10.0.0.1:80 -o -t 10.0.0.2:80",
        "-A -t 10.0.0.1:80 -o",
        "-a -t 10.0.0.1:80",
        "-a -r 1.1.1.1",
        "-d -t 10.0.0.1:80 -r 1.1.1.1 -w 3",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 --tun-type gue",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type gue",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type gue --tun-port 1 --tun-csum --tun-nocsum",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type ipip --tun-port 1",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type gre --tun-remcsum",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type vxlan",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type gue --tun-port 0",
        "-a -t 10.0.0.1:80 -r 1.1.1.1 -m -g",
        "-a -t 10.0.0.1:80 -r foo.invalid.",
        "-E",
        "-D -t 10.0.0.1:80 -s rr",
        "-C -t 10.0.0.1:80",
        "-Z -n",
        "-S -c",
        "-R -n",
        "--set",
        "-L -t 10.0.0.1:80 -u 10.0.0.1:53",
        "-t 10.0.0.1:80",
        "-n -L",
        "--tcp-service=10.0.0.1:80 -A",
        "-A --tcp-service= -s rr",
        "-A -t 10.0.0.9:80 --pe",
        "-p -A",
        "-A -t 10.0.0.9:80 -p -6",
        "-A -t 10.0.0.9:80 -p -s rr",
        "-A -f 1 -M 255.255.255.0 -6 -p",
    ];
    assert!(cases.len() >= 30);
    let mut diffs = Vec::new();
    for c in cases {
        if let Some(d) = diff_mutating(RICH_M, &words(c), None) {
            diffs.push(d);
        }
    }
    report(diffs, cases.len());
}

/// `-R` with reports: a kernel error on a line is printed and the restore
/// goes on; popt errors after the command are printed and it goes on; a
/// validation error stops it after the lines before it; the exit status is
/// that of the last line.
#[test]
fn restore_reports_are_identical() {
    common::require_guest();
    let inputs = [
        "-A -t 10.0.0.50:80\n-a -t 10.0.0.50:80 -r 1.1.1.1\n",
        "-A -t 10.0.0.1:80\n-A -t 10.0.0.51:80\n",
        "-A -t 10.0.0.52:80\n-A -t 10.0.0.1:80\n",
        "-A -t 10.0.0.53:80\n-a -t 10.0.0.99:80 -r 1.1.1.1\n-A -t 10.0.0.54:80 -s rr\n",
        "-A -t 10.0.0.55:80\n-A -t 10.0.0.56:80 -p 0\n-A -t 10.0.0.57:80\n",
        "-A -t 10.0.0.58:80\n-L -q\n-A -t 10.0.0.59:80\n",
        "-A -t 10.0.0.60:80\n-R\n-A -t 10.0.0.61:80\n",
        "ipvsadm -A -t 10.0.0.62:80\n\n   \n-C\n-A -u 10.0.0.63:53 -s rr\n",
        "# comment\n-A -t 10.0.0.64:80\n",
        "-A -t 10.0.0.65:80\n-Ln\n-D -t 10.0.0.65:80\n-Ln\n",
        "-D -t 10.0.0.1:80\n-d -t 10.0.0.1:80 -r 192.168.1.1\n-e -f 7 -r 192.168.1.4 -i --tun-type gre\n",
        "-A -t 10.0.0.66:80 -s nosuch\n-A -t 10.0.0.67:80\n",
        "-A -t 10.0.0.68:80\n-a -t 10.0.0.68:80 -r 10.9.9.9 -m\n-a -t 10.0.0.68:80 -r 10.9.9.9 -m\n",
        "--set 5 6 7\n-L --timeout\n-Z -t 10.0.0.1:80\n-Z -t 10.0.0.98:80\n",
        "-A -u 10.0.0.71:1 -b flag-1 -s rr\n-a -u 10.0.0.71:1 -r 1.2.3.4\n",
        "-A -t 10.0.0.72:80\n-A -t 10.0.0.73:80 --nosuchopt\n",
    ];
    let mut diffs = Vec::new();
    for input in inputs {
        if let Some(mut d) = diff_mutating(RICH_M, &["-R"], Some(input)) {
            d = format!("input {input:?}\n{d}");
            diffs.push(d);
        }
    }
    report(diffs, inputs.len());
}

/// `-S` of a state made by one tool, restored by the other's `-R`, gives
/// the same state (with and without `-n`).
#[test]
fn save_restore_across_tools() {
    common::require_guest();
    let mut n = 0;
    for (maker, restorer) in [(Tool::Ref, Tool::Ours), (Tool::Ours, Tool::Ref)] {
        let src = ns_with(RICH_M, maker);
        let want = settled(|| run(&src, Tool::Ref, &["-Sn"], None));
        assert_eq!(want.status, Some(0));
        for save in [&["-S"][..], &["-Sn"]] {
            n += 1;
            let saved = settled(|| run(&src, maker, save, None));
            assert_eq!(saved.status, Some(0), "{maker:?} {save:?}: {saved:?}");
            let dst = fresh_ns();
            let r = run(&dst, restorer, &["-R"], Some(&saved.stdout));
            assert_eq!(
                (r.status, r.stderr.as_str()),
                (Some(0), ""),
                "{restorer:?} -R of {maker:?} {save:?}"
            );
            let got = settled(|| run(&dst, Tool::Ref, &["-Sn"], None));
            assert_eq!(
                got.stdout, want.stdout,
                "state after {maker:?} {save:?} | {restorer:?} -R"
            );
        }
    }
    eprintln!("{n} save/restore round trips identical");
}
