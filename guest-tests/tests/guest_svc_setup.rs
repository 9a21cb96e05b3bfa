//! The seeds' scenario end to end, and svc-setup's idempotence, in a guest
//! kernel with IPVS (QEMU: nf_tables, dummy, veth and bridge are needed).
//! Built with the `guest` feature of this package (clusterip-guest-tests);
//! `tools/test` runs it with `tools/guest --kernel qemu`. By hand:
//!
//! ```sh
//! cargo build --example svc-setup --example ipvsadm
//! cargo test -p clusterip-guest-tests --features guest --test guest_svc_setup --no-run
//! tools/guest --kernel qemu -- target/debug/deps/guest_svc_setup-HASH
//! ```
//!
//! - `scenario`: runs `tools/scenario` step by step (topology, setup, rr,
//!   container, ipv6, negative, remove, idempotence, reload, badconfig) and
//!   asserts each step's exit status and what it printed: round robin
//!   between the two backends from the node and from the container, over
//!   IPv4 and (an IPv6 service with its own set and ip6 table) IPv6; the
//!   negative control (for both families)
//!   (NAT chains deleted: the request scheduled to the remote backend
//!   times out, the local one answers); recovery; removal of a backend;
//!   a second run reporting no changes with identical `ipvsadm -Sn`,
//!   `ipset save`, `nft list ruleset`, `ip addr`; `--reload-keepalived`
//!   signalling the pid of a pid file; a bad configuration
//!   rejected with file:line and nothing changed; `ipvsadm doctor`
//!   reporting the IPVS sysctl profile's differences before the setup and
//!   none after; and `svc-setup --watch` (the watch step): a backend whose
//!   HTTP_GET fails leaves IPVS within the check interval and comes back
//!   after its web server restarts, a restarted agent keeps the drained
//!   backend out (state file), a UDP backend leaving the configuration
//!   (SIGHUP) has its conntrack entries deleted so its flows move to the
//!   other backend, a reload adding a real server applies that change
//!   alone, SIGTERM gives the omega events and runs `quorum_down`; and the
//!   nftables step: the same service on the nf_tables data path
//!   (`svc-setup --dataplane nftables`): the IPVS services, ipsets and NAT
//!   chains replaced by the DNAT table, a second run changing nothing,
//!   round robin from the node and the container, a `--watch` agent
//!   taking backend-b out of the table when its web server stops and back
//!   when it restarts and repairing a flushed service chain, then the
//!   switch back to IPVS (DNAT table deleted, requests alternate).
//! - `library_idempotence`: `clusterip::svc` in a throwaway namespace, with
//!   IPv4, fwmark and IPv6 services: the plan's changes are made (for the
//!   IPv6 service its own inet6 ipset, `ip6` NAT table and forwarding
//!   sysctl), a second plan is empty, and the state read by the reference
//!   tools is byte for byte the same after a second apply; a smaller
//!   configuration removes what it no longer names.
//!
//! The svc-setup binary is the one cargo built next to this test
//! (`target/<profile>/examples/svc-setup`; `SVC_SETUP` overrides it): the
//! guest's file system is read-only, so it cannot be built here. A missing
//! binary or a missing kernel feature fails the test.

use std::path::PathBuf;
use std::process::Command;

use clusterip::keepalived::Config;
use clusterip::netlink::Netns;
use clusterip::svc::{Desired, Options, Setup, Step};

#[path = "../../tests/common/mod.rs"]
mod common;
use common::sh;

/// The svc-setup example next to this test binary, or `SVC_SETUP`.
fn svc_setup_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SVC_SETUP") {
        return p.into();
    }
    common::example_next_to_test("svc-setup")
}

/// Runs one scenario step; returns its output (stdout + stderr).
fn step(name: &str) -> String {
    // The scenario builds its topology in the root namespace of the kernel
    // it runs on: only ever a guest's.
    common::require_guest();
    let script = clusterip_test_support::workspace_root().join("tools/scenario");
    let o = Command::new("bash")
        .arg(&script)
        .arg(name)
        .env("SVC_SETUP", svc_setup_bin())
        .env("SCENARIO_DIR", "/tmp/guest-svc-setup-scenario")
        .output()
        .expect("run tools/scenario");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    println!("{out}");
    assert!(o.status.success(), "scenario step {name} failed:\n{out}");
    assert!(
        out.contains("scenario: all steps passed") && !out.contains("FAIL:"),
        "{out}"
    );
    out
}

/// The backends named by the scenario's "curl ... from NS -> REPLY" lines.
fn replies(out: &str, from: &str) -> Vec<String> {
    let tag = format!(" from {from} -> ");
    out.lines()
        .filter_map(|l| l.split_once(&tag).map(|(_, r)| r.trim().to_string()))
        .collect()
}

#[test]
fn scenario() {
    step("topology");

    let out = step("setup");
    assert!(
        out.contains("would: ipvs: add service TCP 169.254.11.2:80 rr"),
        "{out}"
    );
    assert!(out.contains("dry run: nothing changed"));
    // IPv4 services only: no IPv6 set, chains or sysctl.
    assert!(!out.contains("ZGZ-CLUSTER-IP6"), "{out}");
    assert!(!out.contains("ip6 zgz-services"), "{out}");
    assert!(!out.contains("net.ipv6"), "{out}");
    for line in [
        "changed: sysctl net.ipv4.vs.conntrack=1",
        "changed: create dummy interface svc",
        "changed: add address 169.254.11.2/32 to svc",
        "changed: create ipset ZGZ-CLUSTER-IP hash:ip,port",
        "changed: create/repair the service NAT chains (table ip zgz-services)",
        "changed: ipvs: add real server 192.168.2.222:8080 (masq, weight 1) to TCP 169.254.11.2:80",
        // kube-proxy's IPVS sysctl profile (Debian's guest kernel is >= 5.9:
        // conn_reuse_mode is left as it is)
        "changed: sysctl net.ipv4.vs.expire_nodest_conn=1",
        "changed: sysctl net.ipv4.vs.expire_quiescent_template=1",
        // ipvsadm doctor: differences before, none after
        "doctor| net.ipv4.vs.expire_nodest_conn         0        1        MISMATCH",
        "doctor| All 5 sysctls match the profile for kernel",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        !out.contains("sysctl net.ipv4.vs.conn_reuse_mode="),
        "{out}"
    );

    let out = step("rr");
    let r = replies(&out, "node");
    assert_eq!(r.len(), 4, "{out}");
    assert!(
        r.iter().all(|x| x == "backend-a" || x == "backend-b"),
        "{r:?}"
    );
    assert!(r.windows(2).all(|w| w[0] != w[1]), "not alternating: {r:?}");

    let out = step("container");
    let mut r = replies(&out, "ctr");
    r.sort();
    assert_eq!(r, ["backend-a", "backend-b"], "{out}");

    // An IPv6 service to the same backends: its own set and ip6 NAT table,
    // round robin from the node and the container, the negative control
    // without the ip6 table, and its removal.
    let out = step("ipv6");
    for line in [
        "changed: create ipset ZGZ-CLUSTER-IP6 hash:ip,port family inet6",
        "changed: create/repair the service NAT chains (table ip6 zgz-services)",
        "changed: sysctl net.ipv6.conf.all.forwarding=1",
        "changed: add address fd00:11::2/128 to svc",
        "changed: ipvs: add real server [fd00:2::222]:8080 (masq, weight 1) to TCP [fd00:11::2]:80",
        "changed: delete address fd00:11::2/128 from svc",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let r = replies(&out, "node");
    assert_eq!(r.len(), 8, "{out}");
    assert!(
        r[..4].windows(2).all(|w| w[0] != w[1]) && r[..4].iter().all(|x| x.starts_with("backend-")),
        "IPv6 round robin from the node: {r:?}"
    );
    let mut without = r[4..6].to_vec();
    without.sort();
    assert_eq!(without, ["TIMEOUT", "backend-a"], "{out}");
    let mut repaired = r[6..].to_vec();
    repaired.sort();
    assert_eq!(repaired, ["backend-a", "backend-b"], "{out}");
    let mut r = replies(&out, "ctr");
    r.sort();
    assert_eq!(r, ["backend-a", "backend-b"], "{out}");

    // The negative control: the same requests without the NAT chains.
    let out = step("negative");
    let r = replies(&out, "node");
    assert_eq!(r.len(), 4, "{out}");
    let mut without = r[..2].to_vec();
    without.sort();
    assert_eq!(
        without,
        ["TIMEOUT", "backend-a"],
        "without masquerade one request must hang (timeout) and the local backend answer:\n{out}"
    );
    let mut repaired = r[2..].to_vec();
    repaired.sort();
    assert_eq!(repaired, ["backend-a", "backend-b"], "{out}");
    assert!(
        out.contains("SYN_RECV"),
        "the hung connection is not in the IPVS table:\n{out}"
    );

    let out = step("remove");
    assert!(
        out.contains("changed: delete address 169.254.11.3/32 from svc"),
        "{out}"
    );
    assert!(out.contains("changed: delete from ipset ZGZ-CLUSTER-IP: 169.254.11.3,tcp:80"));
    assert!(out.contains("changed: ipvs: delete service TCP 169.254.11.3:80"));
    let r = replies(&out, "node");
    assert_eq!(r, ["backend-a"; 4], "{out}");
    assert_eq!(replies(&out, "ctr"), ["backend-a"], "{out}");

    let out = step("idempotence");
    assert!(out.contains("    | no changes"), "{out}");
    assert!(out.contains("PASS: second run: 'no changes', identical state"));

    let out = step("reload");
    assert!(out.contains("PASS: SIGHUP delivered to pid"), "{out}");

    let out = step("badconfig");
    assert!(
        out.contains("zz-new.conf:8: unknown lb_kind \"NATT\""),
        "{out}"
    );

    // svc-setup --watch: health checks, the state file over a restart,
    // UDP conntrack cleanup, SIGHUP reload, SIGTERM.
    let out = step("watch");
    for line in [
        "agent| watching: health checks running",
        "agent| health: real server 192.168.2.222:8080 of TCP 169.254.11.2:80 is down",
        "agent| changed: ipvs: delete real server 192.168.2.222:8080 of TCP 169.254.11.2:80",
        "agent| health: real server 192.168.2.222:8080 of TCP 169.254.11.2:80 is up",
        "agent| changed: ipvs: add real server 192.168.2.222:8080 (masq, weight 1) to TCP 169.254.11.2:80",
        "drained by health start down until their first successful check",
        "agent| reload: SIGHUP",
        "agent| changed: ipvs: delete real server 192.168.2.222:5353 of UDP 169.254.11.2:5353",
        "answered by 192.168.2.222:5353",
        "agent| changed: ipvs: add real server 192.168.2.222:5353 (masq, weight 1) to UDP 169.254.11.2:5353",
        "agent| health: TCP 169.254.11.2:80 lost its quorum (weight 2, threshold 1) at shutdown",
        "agent| command \"echo down >>",
        "PASS: backend-b removed by its failing HTTP_GET within the check interval",
        "PASS: restarted agent: backend-b stays out",
        "PASS: UDP backend removed: its conntrack entries deleted",
        "PASS: reload applied one change",
        "agent| reload: a configuration file changed",
        "PASS: changed file reloaded by the poll: one change (weight 2)",
        "PASS: SIGTERM: omega events, quorum_down ran",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The requests while backend-b was down all went to backend-a; the
    // conntrack listing before the removal had an entry answered by
    // backend-b, the one after none.
    let r = replies(&out, "node");
    assert!(r.len() >= 14, "{out}");
    assert_eq!(r[4..8], ["backend-a"; 4], "{out}");
    let before = out
        .split("conntrack entries after:")
        .next()
        .unwrap()
        .rsplit("conntrack entries of the UDP service before")
        .next()
        .unwrap();
    assert!(
        before.contains("ct| udp") && before.contains("src=192.168.2.222"),
        "{before}"
    );
    let after = out
        .split("conntrack entries after:")
        .nth(1)
        .unwrap()
        .split("PASS:")
        .next()
        .unwrap();
    assert!(!after.contains("src=192.168.2.222"), "{after}");

    // The same service on the nf_tables data path, and back to IPVS.
    let out = step("nftables");
    for line in [
        "changed: nftables: create the DNAT table inet zgz-dnat (dispatch maps, NAT base chains)",
        "changed: nftables: service TCP 169.254.11.2:80 -> 172.17.0.11:8080 (weight 1), 192.168.2.222:8080 (weight 1)",
        "changed: ipvs: delete service TCP 169.254.11.2:80",
        "changed: delete the service NAT chains (table ip zgz-services)",
        "changed: delete the service NAT chains (table ip6 zgz-services)",
        "changed: destroy ipset ZGZ-CLUSTER-IP",
        "PASS: second run on the nftables data path: no changes",
        "agent| health: real server 192.168.2.222:8080 of TCP 169.254.11.2:80 is down",
        "agent| changed: nftables: service TCP 169.254.11.2:80 -> 172.17.0.11:8080 (weight 1)\n",
        "agent| health: real server 192.168.2.222:8080 of TCP 169.254.11.2:80 is up",
        "agent| drift: table inet zgz-dnat was changed by another process; repaired\n    agent| changed: nftables: service TCP 169.254.11.2:80 -> 172.17.0.11:8080 (weight 1), 192.168.2.222:8080 (weight 1)\n",
        "changed: delete the DNAT table inet zgz-dnat",
        "PASS: back on IPVS",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("would: sysctl net.ipv4.vs"), "{out}");
    // node: 4 alternating, 4 with the agent, 4 to backend-a while backend-b
    // is down, 4 after it came back, 2 after the repair, 4 on IPVS again.
    let r = replies(&out, "node");
    assert_eq!(r.len(), 22, "{out}");
    for (from, to) in [(0, 4), (4, 8), (12, 16), (16, 18), (18, 22)] {
        assert!(
            r[from..to].windows(2).all(|w| w[0] != w[1])
                && r[from..to].iter().all(|x| x.starts_with("backend-")),
            "not alternating ({from}..{to}): {r:?}"
        );
    }
    assert_eq!(r[8..12], ["backend-a"; 4], "{out}");
    let mut c = replies(&out, "ctr");
    c.sort();
    assert_eq!(c, ["backend-a", "backend-b"], "{out}");
}

fn kernel_state(ns: &Netns) -> String {
    [
        // the scenario runs beside this test (see `common::settled`)
        common::settled(|| sh(ns, &["ipvsadm", "-Sn"])),
        sh(ns, &["ipset", "save"]),
        sh(ns, &["nft", "list", "ruleset"]),
        sh(ns, &["ip", "addr"]),
    ]
    .join("\n----\n")
}

#[test]
fn library_idempotence() {
    common::require_guest();
    let ns = common::netns_with_lo();
    // A local address is left alone: 10.1.1.1 stands for a VIP that is
    // already on another interface.
    sh(&ns, &["ip", "link", "add", "eth9", "type", "dummy"]);
    sh(&ns, &["ip", "addr", "add", "10.1.1.1/24", "dev", "eth9"]);
    sh(&ns, &["ip", "link", "set", "eth9", "up"]);
    let cfg = Config::parse_str(
        "virtual_server 169.254.11.2 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         real_server 10.0.0.1 8080 {\n weight 2\n }\n real_server 10.0.0.2 8080 {\n }\n}\n\
         virtual_server 10.1.1.1 53 {\n protocol UDP\n lb_algo wrr\n persistence_timeout 30\n\
         real_server 10.0.0.3 53 {\n }\n}\n\
         virtual_server fwmark 7 {\n lb_kind DR\n real_server 10.0.0.4 {\n }\n}\n\
         virtual_server fd00:11::2 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         real_server fd00:10::1 8080 {\n }\n}\n",
        "inline.conf",
    )
    .unwrap();
    let opts = Options {
        ipvs: true,
        ..Options::default()
    };
    let desired = Desired::from_config(&cfg, &opts).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let setup = Setup::new(&ns, opts.clone()).await.unwrap();
        let plan = setup.plan(&desired).await.unwrap();
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("10.1.1.1 is already a local address")),
            "{:?}",
            plan.notes
        );
        assert!(
            !plan
                .steps
                .iter()
                .any(|s| matches!(s, Step::AddAddress(_, ip, _) if ip.to_string() == "10.1.1.1"))
        );
        let done = setup.apply(&plan, &desired).await.unwrap();
        assert!(done.len() >= 10, "{done:?}");
        let done_text: Vec<String> = done.iter().map(ToString::to_string).collect();
        for step in [
            "create ipset ZGZ-CLUSTER-IP hash:ip,port",
            "create ipset ZGZ-CLUSTER-IP6 hash:ip,port family inet6",
            "add to ipset ZGZ-CLUSTER-IP6: fd00:11::2,tcp:80",
            "create/repair the service NAT chains (table ip zgz-services)",
            "create/repair the service NAT chains (table ip6 zgz-services)",
            "sysctl net.ipv6.conf.all.forwarding=1",
        ] {
            assert!(
                done_text.iter().any(|d| d == step),
                "no {step:?} in {done_text:?}"
            );
        }

        let s1 = kernel_state(&ns);
        for want in [
            "-A -t 169.254.11.2:80 -s rr",
            "-a -t 169.254.11.2:80 -r 10.0.0.1:8080 -m -w 2",
            "-A -u 10.1.1.1:53 -s wrr -p 30",
            "-A -f 7 -s wlc",
            "-a -f 7 -r 10.0.0.4:0 -g -w 1",
            "add ZGZ-CLUSTER-IP 169.254.11.2,tcp:80",
            "add ZGZ-CLUSTER-IP 10.1.1.1,udp:53",
            "inet 169.254.11.2/32 scope global svc",
            "table ip zgz-services",
            // the IPv6 service: its own set, NAT chains (ip6 table) and VIP
            "-A -t [fd00:11::2]:80 -s rr",
            "-a -t [fd00:11::2]:80 -r [fd00:10::1]:8080 -m -w 1",
            "create ZGZ-CLUSTER-IP6 hash:ip,port family inet6",
            "add ZGZ-CLUSTER-IP6 fd00:11::2,tcp:80",
            "table ip6 zgz-services",
            "inet6 fd00:11::2/128 scope global",
        ] {
            assert!(s1.contains(want), "no {want:?} in:\n{s1}");
        }
        assert_eq!(
            s1.matches("10.1.1.1/").count(),
            1,
            "10.1.1.1 added a second time:\n{s1}"
        );
        assert!(!s1.contains("add ZGZ-CLUSTER-IP fd00"), "{s1}");
        for path in [
            "/proc/sys/net/ipv4/vs/conntrack",
            "/proc/sys/net/ipv6/conf/all/forwarding",
        ] {
            let v = ns.run(|| std::fs::read_to_string(path).unwrap()).unwrap();
            assert_eq!(v.trim(), "1", "{path}");
        }

        // Second round: nothing planned, nothing done, nothing changed.
        let setup = Setup::new(&ns, opts.clone()).await.unwrap();
        let plan = setup.plan(&desired).await.unwrap();
        assert!(plan.is_empty(), "{:?}", plan.steps);
        let done = setup.apply(&plan, &desired).await.unwrap();
        assert!(done.is_empty(), "{done:?}");
        assert_eq!(kernel_state(&ns), s1);

        // A configuration that drops a service removes its VIP, its set
        // entry and its IPVS service, and nothing else.
        let smaller = Config::parse_str(
            "virtual_server 10.1.1.1 53 {\n protocol UDP\n lb_algo wrr\n persistence_timeout 30\n\
             real_server 10.0.0.3 53 {\n }\n}\n",
            "inline.conf",
        )
        .unwrap();
        let d2 = Desired::from_config(&smaller, &opts).unwrap();
        let plan = setup.plan(&d2).await.unwrap();
        setup.apply(&plan, &d2).await.unwrap();
        let s2 = kernel_state(&ns);
        assert!(!s2.contains("169.254.11.2"), "{s2}");
        assert!(!s2.contains("-f 7"), "{s2}");
        // The IPv6 service is gone: its set is emptied, set and chains kept.
        assert!(!s2.contains("fd00:11::2"), "{s2}");
        assert!(
            s2.contains("create ZGZ-CLUSTER-IP6 hash:ip,port family inet6"),
            "{s2}"
        );
        assert!(s2.contains("table ip6 zgz-services"), "{s2}");
        assert!(s2.contains("add ZGZ-CLUSTER-IP 10.1.1.1,udp:53"), "{s2}");
        assert!(
            s2.contains("inet 10.1.1.1/24"),
            "the foreign local address was touched:\n{s2}"
        );
        assert!(setup.plan(&d2).await.unwrap().is_empty());
    });
}
