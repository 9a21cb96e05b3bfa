//! Fault tests that need a kernel with IPVS (issue 9): run inside the
//! user-mode-linux guest, never on a host without IPVS. Built only with
//! the `guest` feature of this package (clusterip-guest-tests):
//!
//! ```text
//! cargo build --example ipvsadm
//! cargo test -p clusterip-guest-tests --features guest --test guest_uml_faults --no-run
//! tools/guest --kernel uml -- target/.../guest_uml_faults-HASH --test-threads=1
//! ```
//!
//! Every test makes its own network namespace (with `lo` up). Child
//! processes are this same binary re-run with an environment variable that
//! selects their part.

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clusterip::ipvs::{Destination, IpvsHandle, Operation, Scheduler, Service};
use clusterip::netlink::{Config, Connection, Error, Netns, Protocol};
use clusterip::sync::{Graceful, Syncer, plan};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::{block_on, netns_with_ipvs, sh};

const CHILD: &str = "CLUSTERIP_FAULTS_CHILD";
const CHILD_NS: &str = "CLUSTERIP_FAULTS_NETNS";
const CHILD_N: &str = "CLUSTERIP_FAULTS_SERVICES";

/// `n` services x `d` masquerading destinations.
fn state(n: usize, d: u8) -> Vec<(Service, Vec<Destination>)> {
    (0..n)
        .map(|i| {
            let s = Service::tcp(SocketAddr::new(
                IpAddr::from([10, 2, (i / 250) as u8, (i % 250) as u8 + 1]),
                80,
            ))
            .scheduler(Scheduler::RoundRobin);
            let ds = (0..d)
                .map(|j| {
                    Destination::new(IpAddr::from([192, 168, j, (i % 250) as u8 + 1]), 8080)
                        .masquerade()
                })
                .collect();
            (s, ds)
        })
        .collect()
}

/// The kernel holds exactly `want`: the reference `ipvsadm -Sn` lists
/// every service and destination of it, with scheduler, method and weight,
/// and nothing else (an oracle independent of the planner under test).
fn assert_holds(ns: &Netns, want: &[(Service, Vec<Destination>)]) {
    common::assert_ipvsadm_lists(ns, want);
}

/// Services in the namespace, read from `/proc/net/ip_vs` (cheap, no
/// netlink: usable while a child holds the IPVS mutex often).
fn service_lines(ns: &Netns) -> usize {
    ns.run(|| std::fs::read_to_string("/proc/thread-self/net/ip_vs"))
        .unwrap()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("TCP") || l.starts_with("UDP"))
        .count()
}

/// The child parts, selected by `CHILD`.
fn child_part() -> bool {
    let Ok(part) = std::env::var(CHILD) else {
        return false;
    };
    match part.as_str() {
        "unprivileged" => {
            let h = block_on(IpvsHandle::new()).unwrap();
            let s = Service::tcp("10.9.9.9:80".parse().unwrap());
            let err = block_on(h.add_service(&s)).unwrap_err();
            assert!(matches!(err, Error::NotPermitted { .. }), "{err:?}");
            assert!(err.to_string().contains("needs CAP_NET_ADMIN"), "{err}");
            println!("CHILD-OK ipvs: {err}");
        }
        "sync" => {
            let ns = Netns::from_path(std::env::var(CHILD_NS).unwrap()).unwrap();
            let n: usize = std::env::var(CHILD_N).unwrap().parse().unwrap();
            let h = block_on(IpvsHandle::in_netns(&ns)).unwrap();
            let r = block_on(Syncer::ipvs_only(h).sync_services(&state(n, 4))).unwrap();
            assert!(r.is_converged(), "{:?}", r.failed);
            println!("CHILD-OK sync: {} applied", r.applied.len());
        }
        other => panic!("unknown child part {other}"),
    }
    true
}

fn self_cmd(test: &str, part: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, part);
    c
}

/// Without CAP_NET_ADMIN an IPVS service add says what is missing and
/// changes nothing.
#[test]
fn ipvs_without_cap_net_admin_says_so() {
    common::require_guest();
    if child_part() {
        return;
    }
    let (ns, h) = netns_with_ipvs();
    let out = common::unprivileged_self(
        &ns,
        "ipvs_without_cap_net_admin_says_so",
        CHILD,
        "unprivileged",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("CHILD-OK ipvs:"), "{stdout}\n{stderr}");
    assert!(block_on(h.services()).unwrap().is_empty());
}

/// 3,000 services dumped through a socket with the smallest receive
/// buffer the kernel allows: flow control delivers every one.
#[test]
fn ipvs_dump_larger_than_receive_buffer_is_complete() {
    common::require_guest();
    let (ns, h) = netns_with_ipvs();
    let want = state(3000, 0);
    let ops: Vec<Operation> = want
        .iter()
        .map(|(s, _)| Operation::AddService(s.clone()))
        .collect();
    let res = block_on(h.apply(&ops)).unwrap();
    assert!(res.all_ok(), "{:?}", res.errors());
    let tiny = Config::new().with_recv_buffer(1);
    let conn = Connection::open_with(Protocol::Generic, &ns, tiny).unwrap();
    let small = block_on(IpvsHandle::with_connection(conn)).unwrap();
    let got = block_on(small.services()).unwrap();
    assert_eq!(got.len(), 3000);
    let mut keys: Vec<String> = got.iter().map(|s| format!("{:?}", s.key)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3000, "duplicates in the dump");
    assert!(small.connection().stats().recv_calls > 3);
    assert_eq!(service_lines(&ns), 3000);
}

/// A child process running a big sync is killed (SIGKILL) part-way; the
/// kernel holds a partial state; a second sync reaches the desired state
/// exactly and a third one changes nothing.
#[test]
fn sync_killed_midway_then_rerun_converges() {
    common::require_guest();
    if child_part() {
        return;
    }
    let (ns, h) = netns_with_ipvs();
    let n = 2000;
    let want = state(n, 4);
    let mut child = self_cmd("sync_killed_midway_then_rerun_converges", "sync")
        .env(CHILD_NS, ns.proc_path())
        .env(CHILD_N, n.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    // wait until part of the state is in, then kill
    loop {
        let c = service_lines(&ns);
        if c >= 200 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "child finished before it could be killed ({c} services)"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "child stuck");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed child reported success");
    let partial = block_on(h.snapshot()).unwrap();
    let partial_ops = plan(&partial, &want, &|_| true, Graceful::Off).ops.len();
    eprintln!(
        "killed after {:?}: {} services in, {partial_ops} operations left",
        start.elapsed(),
        partial.len()
    );
    assert!(partial_ops > 0, "the child was not killed part-way");

    let r = block_on(Syncer::ipvs_only(h.clone()).sync_services(&want)).unwrap();
    assert!(r.is_converged(), "{:?}", r.failed);
    assert_eq!(r.applied.len(), partial_ops);
    assert_holds(&ns, &want);
    let again = block_on(Syncer::ipvs_only(h.clone()).sync_services(&want)).unwrap();
    assert!(again.is_noop());
}

/// Two processes sync the same desired state at once: both succeed and
/// the final state is the desired one.
#[test]
fn two_processes_syncing_at_once_converge() {
    common::require_guest();
    if child_part() {
        return;
    }
    let (ns, _h) = netns_with_ipvs();
    let n = 400;
    let spawn = || {
        self_cmd("two_processes_syncing_at_once_converge", "sync")
            .env(CHILD_NS, ns.proc_path())
            .env(CHILD_N, n.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("CHILD-OK sync"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_holds(&ns, &state(n, 4));
}

/// Bad input to the `ipvsadm` example, each case against Debian's ipvsadm
/// on the same starting state in two namespaces: both refuse, our message
/// names the bad value (or is ipvsadm's own message, which the example
/// reproduces exactly), and the state afterwards is the reference tool's
/// (no partial change where it makes none).
#[test]
fn ipvsadm_example_bad_input_names_the_value_and_changes_what_ipvsadm_changes() {
    common::require_guest();
    let ours = common::example_next_to_test("ipvsadm");
    let theirs = std::path::Path::new("/usr/sbin/ipvsadm");
    let pre = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1\n";
    // (arguments, stdin for -R, the text our message must contain)
    let cases: &[(&str, &str, &str)] = &[
        ("-A -t 10.0.0.300:80 -s rr", "", "10.0.0.300"),
        ("-A -t 10.0.0.2:99999 -s rr", "", "99999"),
        ("-A -t 10.0.0.2:htttp -s rr", "", "htttp"),
        ("-A -t [2001:db8::zz]:80 -s rr", "", "2001:db8::zz"),
        (
            "-A -t 10.0.0.2:80 -s abcdefghijklmnopq",
            "",
            "abcdefghijklmnopq",
        ),
        ("-A -t 10.0.0.2:80 -s rr -p abc", "", "abc"),
        (
            "-A -t 10.0.0.2:80 -s rr -M 255.255.255.256",
            "",
            "255.255.255.256",
        ),
        ("-A -f 0 -s rr", "", "0"),
        ("-A -f 99999999999 -s rr", "", "99999999999"),
        ("-a -t 10.0.0.1:80 -r 10.1.1.2:80 -w 70000", "", "70000"),
        ("-a -t 10.0.0.1:80 -r 10.1.1.2:80 -w -1", "", "-1"),
        (
            "-a -t 10.0.0.1:80 -r 10.1.1.2:80 -x 4294967296",
            "",
            "4294967296",
        ),
        ("-a -t 10.0.0.1:80 -r 10.1.1.2:80 -y -5", "", "-5"),
        ("-a -t 10.0.0.1:80 -r 10.1.1.2:99999", "", "99999"),
        ("-A -t 10.0.0.2:80 -u 10.0.0.2:80", "", "-u"),
        ("-A -D -t 10.0.0.2:80", "", ""),
        ("-A -t 10.0.0.2:80 -s rr --bogus-option", "", "bogus-option"),
        // restore: a good line, a bad line, a good line
        (
            "-R",
            "-A -t 10.0.0.3:80 -s rr\n-A -t 10.0.0.4:80 -s abcdefghijklmnopq\n-A -t 10.0.0.5:80 -s rr\n",
            "",
        ),
    ];
    let mut report = String::new();
    let mut failures = Vec::new();
    for (args, stdin, token) in cases {
        let argv: Vec<&str> = args.split_whitespace().collect();
        let mut states = Vec::new();
        let mut outs = Vec::new();
        for prog in [theirs, ours.as_path()] {
            let ns = common::netns_with_lo();
            let (ok, _) = common::run_in_merged(&ns, theirs, &["-R"], pre);
            assert!(ok);
            let (ok, text) = common::run_in_merged(&ns, prog, &argv, stdin);
            let (_, state) = common::run_in_merged(&ns, theirs, &["-Sn"], "");
            states.push(state);
            outs.push((ok, text));
        }
        let (ref_ok, ref_text) = &outs[0];
        let (our_ok, our_text) = &outs[1];
        let bad = common::compare_bad_input(
            "ipvsadm",
            args,
            token,
            (*ref_ok, ref_text, &states[0]),
            (*our_ok, our_text, &states[1]),
            &mut report,
        );
        if !bad.is_empty() {
            failures.push(format!("{args:?}: {bad:?}"));
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Bad values through the library's entry points: refused before anything
/// reaches the kernel, or refused by the kernel with an error naming the
/// object; the state is unchanged either way.
#[test]
fn ipvs_library_bad_values_are_refused_without_change() {
    common::require_guest();
    use clusterip::ipvs::Weight;
    let (ns, h) = netns_with_ipvs();
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap()).scheduler(Scheduler::RoundRobin);
    block_on(h.add_service(&svc)).unwrap();
    let before = sh(&ns, &["ipvsadm", "-Sn"]);

    // a scheduler name longer than IP_VS_SCHEDNAME_MAXLEN (16 with NUL)
    let long = Service::tcp("10.0.0.2:80".parse().unwrap())
        .scheduler(Scheduler::Other("abcdefghijklmnopq".into()));
    let e = block_on(h.add_service(&long)).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("abcdefghijklmnopq"), "{e}");
    // a scheduler the kernel does not know
    let unknown =
        Service::tcp("10.0.0.2:80".parse().unwrap()).scheduler(Scheduler::Other("nosuch".into()));
    let e = block_on(h.add_service(&unknown)).unwrap_err();
    assert!(e.to_string().contains("10.0.0.2:80"), "{e}");

    // weight above the kernel's INT_MAX
    let d = Destination::new("10.1.1.1".parse().unwrap(), 80)
        .masquerade()
        .weight(Weight(u32::MAX));
    let e = block_on(h.add_destination(&svc.key, &d)).unwrap_err();
    assert!(e.to_string().contains("10.1.1.1"), "{e}");
    eprintln!("weight u32::MAX: {e}");
    // lower threshold above the upper one
    let d = Destination::new("10.1.1.1".parse().unwrap(), 80)
        .masquerade()
        .upper_threshold(10)
        .lower_threshold(20);
    let e = block_on(h.add_destination(&svc.key, &d)).unwrap_err();
    assert!(e.to_string().contains("10.1.1.1"), "{e}");
    eprintln!("thresholds 10/20: {e}");

    assert_eq!(sh(&ns, &["ipvsadm", "-Sn"]), before);
}
