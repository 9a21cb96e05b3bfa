//! `svc-setup --dataplane nftables` (the nf_tables DNAT data path,
//! [`clusterip::svc::Dataplane::Nftables`]) on this machine's kernel, which
//! needs no IPVS for it; every test in throwaway namespaces.
//!
//! - The seeds' `test.conf` gives the expected table (`nft list table inet
//!   zgz-dnat`), the VIP on the interface and forwarding; a dry run prints
//!   the plan and changes nothing; a second run says "no changes" and
//!   leaves every listing byte for byte the same; `rr` and `wrr` weights.
//! - What DNAT cannot do (the seeds' `wlc` and `persistence_timeout`, a
//!   missing `lb_algo`, `lb_kind DR`, fwmark services) is refused with
//!   `file:line` and the option, and nothing changes.
//! - Switching from the IPVS data path removes its NAT chains and ipsets
//!   (IPVS itself is not in this kernel: the guest scenario's `nftables`
//!   step switches both ways with IPVS services).
//! - Real traffic: a client, the node set up by svc-setup, two backends
//!   with small TCP servers; connections to the VIP alternate between the
//!   backends from the client and from the node itself; `svc-setup --watch
//!   --dataplane nftables` takes a backend whose server stops out of the
//!   table within its TCP_CHECK's interval and puts it back when it
//!   listens again, and repairs the table when someone flushes its
//!   service chain or deletes its map element.
//!
//! This kernel has no `dummy` interface type: each test makes the `svc`
//! interface beforehand as a veth (svc-setup uses an existing interface of
//! that name as it is); the guest scenario has the real dummy interface.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use clusterip::netlink::Netns;
use clusterip::nftables::{Membership, NftHandle};

mod common;
use clusterip_test_support::dnat::{Server, V4, ask, wire};
use common::{block_on, data, example, sh};

/// A namespace with `lo` up and the `svc` interface (a veth, up).
fn node_ns() -> Netns {
    let ns = common::netns_with_lo();
    sh(
        &ns,
        &[
            "ip", "link", "add", "svc", "type", "veth", "peer", "name", "svc-peer",
        ],
    );
    sh(&ns, &["ip", "link", "set", "svc-peer", "up"]);
    ns
}

/// Runs svc-setup on `ns` (`--netns`), itself inside a throwaway namespace
/// of its own; returns (exit code, stdout, stderr).
fn svc_setup(ns: &Netns, args: &[&str]) -> (i32, String, String) {
    let outer = common::netns_with_lo();
    let o = common::nsenter(&outer)
        .arg(example("svc-setup"))
        .args(["--netns", &ns.proc_path()])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Everything svc-setup could change in a namespace, as the reference
/// tools print it.
fn state(ns: &Netns) -> String {
    let forward = ns
        .run(|| std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap())
        .unwrap();
    format!(
        "{}\n{}\n{}\nip_forward={forward}",
        sh(ns, &["ip", "-d", "addr"]),
        sh(ns, &["ipset", "save"]),
        sh(ns, &["nft", "list", "ruleset"]),
    )
}

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("svc-nftables-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn seed000() -> String {
    data("seed000/conf.d/test.conf").display().to_string()
}

/// `nft list table inet zgz-dnat` after svc-setup of the seeds' test.conf
/// (169.254.11.2:80 rr NAT -> 192.168.2.111:8080, 192.168.2.222:8080).
const SEED000_TABLE: &str = "table inet zgz-dnat {
	map services {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 169.254.11.2 . tcp . 80 : goto service-7A37BC0A-tcp-80 }
	}

	map services6 {
		type ipv6_addr . inet_proto . inet_service : verdict
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @services
		ip6 daddr . meta l4proto . th dport vmap @services6
	}

	chain nat-output {
		type nat hook output priority -100; policy accept;
		ip daddr . meta l4proto . th dport vmap @services
		ip6 daddr . meta l4proto . th dport vmap @services6
	}

	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00002000 == 0x00002000 masquerade
	}

	chain service-7A37BC0A-tcp-80 {
		numgen inc mod 2 vmap { 0 : goto endpoint-49325E3C, 1 : goto endpoint-C3EE2851 }
	}

	chain endpoint-49325E3C {
		meta mark set meta mark | 0x00002000
		meta l4proto tcp dnat ip to 192.168.2.111:8080
	}

	chain endpoint-C3EE2851 {
		meta mark set meta mark | 0x00002000
		meta l4proto tcp dnat ip to 192.168.2.222:8080
	}
}
";

#[test]
fn the_seeds_config_gives_the_table_and_a_second_run_changes_nothing() {
    let ns = node_ns();
    let before = state(&ns);
    let conf = seed000();
    let (code, out, err) = svc_setup(
        &ns,
        &["--dataplane", "nftables", "--config", &conf, "--dry-run"],
    );
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "would: sysctl net.ipv4.ip_forward=1",
        "would: add address 169.254.11.2/32 to svc",
        "would: nftables: create the DNAT table inet zgz-dnat (dispatch maps, NAT base chains)",
        "would: nftables: service TCP 169.254.11.2:80 -> 192.168.2.111:8080 (weight 1), 192.168.2.222:8080 (weight 1)",
        "dry run: nothing changed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // No IPVS, ipset or NAT chains on this data path.
    assert!(!out.contains("vs."), "{out}");
    assert!(!out.contains("ipset"), "{out}");
    assert!(!out.contains("zgz-services"), "{out}");
    assert_eq!(state(&ns), before, "the dry run changed something");

    let (code, out, err) = svc_setup(&ns, &["--dataplane", "nftables", "--config", &conf]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "changed: sysctl net.ipv4.ip_forward=1\n\
         changed: set interface svc up\n\
         changed: add address 169.254.11.2/32 to svc\n\
         changed: nftables: create the DNAT table inet zgz-dnat (dispatch maps, NAT base chains)\n\
         changed: nftables: service TCP 169.254.11.2:80 -> 192.168.2.111:8080 (weight 1), 192.168.2.222:8080 (weight 1)\n"
    );
    assert_eq!(
        sh(&ns, &["nft", "list", "table", "inet", "zgz-dnat"]),
        SEED000_TABLE
    );
    assert_eq!(sh(&ns, &["nft", "list", "ruleset"]), SEED000_TABLE);
    assert!(
        sh(&ns, &["ip", "-o", "addr", "show", "dev", "svc"]).contains("169.254.11.2/32"),
        "VIP not on svc"
    );
    assert_eq!(sh(&ns, &["ipset", "list", "-n"]), "", "an ipset was made");
    let first = state(&ns);
    assert!(first.ends_with("ip_forward=1\n"), "{first}");

    // Second run: nothing to do, nothing changed, byte for byte.
    let (code, out, err) = svc_setup(&ns, &["--dataplane", "nftables", "--config", &conf]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "no changes\n");
    assert_eq!(state(&ns), first);
    let (code, out, _) = svc_setup(
        &ns,
        &["--dataplane", "nftables", "--config", &conf, "--dry-run"],
    );
    assert_eq!((code, out.as_str()), (0, "no changes\n"));

    // Weights: rr gives every live real server 1 (a weight-0 one none),
    // wrr keeps them (2:1, interleaved); a changed service alone changes.
    let d = tmpdir("weights");
    let conf = d.join("weights.conf");
    std::fs::write(
        &conf,
        "virtual_server 169.254.11.2 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n\
         real_server 192.168.2.111 8080 {\n weight 5\n }\n\
         real_server 192.168.2.222 8080 {\n weight 0\n }\n}\n\
         virtual_server 169.254.11.3 53 {\n lb_algo wrr\n protocol UDP\n\
         real_server 10.0.0.1 53 {\n weight 2\n }\n\
         real_server 10.0.0.2 53 {\n weight 1\n }\n}\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let (code, out, err) = svc_setup(&ns, &["--dataplane", "nftables", "--config", conf]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "changed: add address 169.254.11.3/32 to svc",
        "changed: nftables: service TCP 169.254.11.2:80 -> 192.168.2.111:8080 (weight 1), 192.168.2.222:8080 (weight 0)",
        "changed: nftables: service UDP 169.254.11.3:53 -> 10.0.0.1:53 (weight 2), 10.0.0.2:53 (weight 1)",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("create the DNAT table"), "{out}");
    let table = sh(&ns, &["nft", "list", "table", "inet", "zgz-dnat"]);
    assert!(
        table.contains("numgen inc mod 1 vmap { 0 : goto endpoint-49325E3C }"),
        "{table}"
    );
    assert!(!table.contains("192.168.2.222"), "{table}");
    let wrr = table
        .lines()
        .find(|l| l.contains("numgen inc mod 3"))
        .unwrap_or_else(|| panic!("no wrr choice of 3 in:\n{table}"));
    // endpoint order 0 1 0: the first real server twice, not in a row.
    let targets: Vec<&str> = wrr
        .split("goto ")
        .skip(1)
        .map(|t| t.split([',', ' ']).next().unwrap())
        .collect();
    assert_eq!(targets.len(), 3, "{wrr}");
    assert!(
        targets[0] == targets[2] && targets[0] != targets[1],
        "{wrr}"
    );
    assert!(table.contains("meta l4proto udp dnat ip to 10.0.0.1:53"));
    let (code, out, _) = svc_setup(&ns, &["--dataplane", "nftables", "--config", conf]);
    assert_eq!((code, out.as_str()), (0, "no changes\n"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// Configurations DNAT cannot serve: (file, text or None for a seed's
/// file, the expected `file:line: message` suffix).
#[test]
fn what_dnat_cannot_do_is_refused_with_file_and_line_and_changes_nothing() {
    let ns = node_ns();
    let before = state(&ns);
    let d = tmpdir("refused");
    let inline = [
        (
            "no-algo.conf",
            "virtual_server 169.254.11.9 80 {\n  lb_kind NAT\n  real_server 10.0.0.1 8080 {\n  }\n}\n",
            ":1: lb_algo wlc (keepalived's default when none is given) of virtual server TCP 169.254.11.9:80: the nftables data path balances with rr or wrr only",
        ),
        (
            "dr.conf",
            "virtual_server 169.254.11.9 80 {\n  lb_algo rr\n  lb_kind DR\n  real_server 10.0.0.1 8080 {\n  }\n}\n",
            ":1: lb_kind DR of virtual server TCP 169.254.11.9:80: the nftables data path forwards by DNAT (lb_kind NAT) only",
        ),
        (
            "fwmark.conf",
            "virtual_server 169.254.11.9 80 {\n  lb_algo rr\n}\n\nvirtual_server fwmark 7 {\n  lb_algo rr\n  real_server 10.0.0.1 80 {\n  }\n}\n",
            ":5: virtual_server fwmark 7: the nftables data path has no firewall-mark services",
        ),
        (
            "wrr-too-heavy.conf",
            "virtual_server 169.254.11.9 80 {\n  lb_algo wrr\n  real_server 10.0.0.1 8080 {\n    weight 4096\n  }\n  real_server 10.0.0.2 8080 {\n    weight 1\n  }\n}\n",
            ":1: lb_algo wrr: the weights of virtual server TCP 169.254.11.9:80 add up to 4097",
        ),
    ];
    let mut cases: Vec<(PathBuf, String)> = vec![
        // The seeds' own: wlc with persistence (seed002), rr with
        // persistence and DR (seed003).
        (
            data("seed002/keepalived.conf"),
            ":30: lb_algo wlc of virtual server TCP 200.222.0.113:80: the nftables data path balances with rr or wrr only".into(),
        ),
        (
            data("seed003/http_get.conf"),
            ":2: persistence_timeout 120 of virtual server TCP 10.255.23.73:80: the nftables data path has no persistence (IPVS only)".into(),
        ),
    ];
    for (name, text, want) in inline {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        cases.push((p, want.to_string()));
    }
    for (file, want) in &cases {
        for extra in [&[][..], &["--dry-run"], &["--check"]] {
            let mut args = vec![
                "--dataplane",
                "nftables",
                "--config",
                file.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let (code, out, err) = svc_setup(&ns, &args);
            assert_eq!(code, 1, "{file:?} {extra:?}: {out}{err}");
            let expect = format!("svc-setup: {}{want}", file.display());
            assert!(
                err.starts_with(&expect),
                "{extra:?}: got {err:?}, want {expect:?}..."
            );
            assert!(out.is_empty(), "{out}");
        }
        assert_eq!(state(&ns), before, "{file:?} changed the namespace");
    }
    // The same files are fine for IPVS (only the data path refuses them).
    let (code, out, err) = svc_setup(
        &ns,
        &[
            "--check",
            "--config",
            data("seed002/keepalived.conf").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    // --ipvs programs IPVS: it does not go with the nftables data path.
    let (code, _, err) = svc_setup(
        &ns,
        &["--dataplane", "nftables", "--ipvs", "--config", &seed000()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--ipvs programs IPVS, --dataplane nftables replaces it"),
        "{err}"
    );
    assert_eq!(state(&ns), before);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn switching_from_the_ipvs_data_path_removes_its_chains_and_sets() {
    let ns = node_ns();
    // A bystander table, never touched.
    sh(&ns, &["nft", "add", "table", "inet", "bystander"]);
    // What the IPVS data path made besides IPVS (the ipsets with their
    // members, the NAT chains of both families matching them), made here
    // by the same library calls and names as `svc-setup` makes them.
    sh(&ns, &["ipset", "create", "ZGZ-CLUSTER-IP", "hash:ip,port"]);
    sh(
        &ns,
        &["ipset", "add", "ZGZ-CLUSTER-IP", "169.254.11.2,tcp:80"],
    );
    sh(
        &ns,
        &[
            "ipset",
            "create",
            "ZGZ-CLUSTER-IP6",
            "hash:ip,port",
            "family",
            "inet6",
        ],
    );
    let opts = clusterip::svc::Options::default();
    let nft = NftHandle::in_netns(&ns).unwrap();
    for nat in [opts.service_nat(), opts.service_nat6()] {
        assert!(matches!(nat.membership, Membership::Ipset { .. }));
        assert!(block_on(nat.ensure(&nft)).unwrap());
    }
    let listed = sh(&ns, &["nft", "list", "ruleset"]);
    assert!(listed.contains("table ip zgz-services"), "{listed}");
    assert!(listed.contains("table ip6 zgz-services"), "{listed}");

    let (code, out, err) = svc_setup(&ns, &["--dataplane", "nftables", "--config", &seed000()]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "changed: nftables: create the DNAT table inet zgz-dnat",
        "changed: delete the service NAT chains (table ip zgz-services)",
        "changed: delete the service NAT chains (table ip6 zgz-services)",
        "changed: destroy ipset ZGZ-CLUSTER-IP\n",
        "changed: destroy ipset ZGZ-CLUSTER-IP6\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The DNAT table came before the other path's objects went.
    assert!(out.find("create the DNAT table") < out.find("delete the service NAT chains"));
    assert_eq!(sh(&ns, &["ipset", "list", "-n"]), "");
    assert_eq!(
        sh(&ns, &["nft", "list", "ruleset"]),
        format!("table inet bystander {{\n}}\n{SEED000_TABLE}")
    );
    let (code, out, _) = svc_setup(&ns, &["--dataplane", "nftables", "--config", &seed000()]);
    assert_eq!((code, out.as_str()), (0, "no changes\n"));

    // NAT chains in a table holding others' chains too: only ours go.
    sh(&ns, &["ipset", "create", "ZGZ-CLUSTER-IP", "hash:ip,port"]);
    assert!(block_on(opts.service_nat().ensure(&nft)).unwrap());
    sh(
        &ns,
        &["nft", "add", "chain", "ip", "zgz-services", "theirs"],
    );
    let (code, out, err) = svc_setup(&ns, &["--dataplane", "nftables", "--config", &seed000()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "changed: delete the service NAT chains (table ip zgz-services)\n\
         changed: destroy ipset ZGZ-CLUSTER-IP\n"
    );
    assert!(sh(&ns, &["nft", "list", "table", "ip", "zgz-services"]).contains("chain theirs"));
    let (code, out, _) = svc_setup(&ns, &["--dataplane", "nftables", "--config", &seed000()]);
    assert_eq!((code, out.as_str()), (0, "no changes\n"));
    // (The reverse switch needs IPVS: the guest scenario's nftables step.)
}

// ---------------------------------------------------------------- traffic

fn alternating(answers: &[String]) -> bool {
    answers.iter().all(|a| a == "backend-1" || a == "backend-2")
        && answers.windows(2).all(|w| w[0] != w[1])
}

/// client -- node -- backend-1 / backend-2 (veth pairs, IPv4); the node
/// has the `svc` interface and no forwarding yet (svc-setup enables it).
struct Topology {
    client: Netns,
    node: Netns,
    b1: Netns,
    b2: Netns,
}

fn topology() -> Topology {
    let t = Topology {
        client: common::netns_with_lo(),
        node: node_ns(),
        b1: common::netns_with_lo(),
        b2: common::netns_with_lo(),
    };
    wire(
        &t.client.proc_path(),
        &t.node.proc_path(),
        &t.b1.proc_path(),
        &t.b2.proc_path(),
        &V4,
    );
    t
}

const VIP: &str = "10.96.7.7:80";

fn web_config(dir: &Path) -> PathBuf {
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "virtual_server 10.96.7.7 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n\
         \n    real_server 10.101.2.2 8080 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 1\n            delay_before_retry 1\n        }\n    }\n\
         \n    real_server 10.101.3.2 8080 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 1\n            delay_before_retry 1\n        }\n    }\n}\n",
    )
    .unwrap();
    conf
}

#[test]
fn round_robin_through_the_vip_set_up_by_svc_setup() {
    let t = topology();
    let vip: SocketAddr = VIP.parse().unwrap();
    let _s1 = Server::start(
        t.b1.proc_path(),
        "10.101.2.2:8080".parse().unwrap(),
        "backend-1",
    );
    let _s2 = Server::start(
        t.b2.proc_path(),
        "10.101.3.2:8080".parse().unwrap(),
        "backend-2",
    );
    // Without the setup, the VIP is nobody's (and the node does not
    // forward).
    let refused = t
        .client
        .run(move || TcpStream::connect_timeout(&vip, Duration::from_secs(1)).is_err())
        .unwrap();
    assert!(refused, "the VIP answers before the setup");

    let d = tmpdir("traffic");
    let conf = web_config(&d);
    let (code, out, err) = svc_setup(
        &t.node,
        &[
            "--dataplane",
            "nftables",
            "--config",
            conf.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("changed: sysctl net.ipv4.ip_forward=1"),
        "{out}"
    );
    assert!(
        out.contains("changed: nftables: service TCP 10.96.7.7:80 -> 10.101.2.2:8080 (weight 1), 10.101.3.2:8080 (weight 1)"),
        "{out}"
    );

    // From the client: strictly alternating, both backends.
    let answers: Vec<String> = (0..6).map(|_| ask(t.client.proc_path(), vip)).collect();
    assert!(alternating(&answers), "{answers:?}");
    // From the node itself (the VIP is local on svc; the output hook
    // DNATs), alternating too.
    let own: Vec<String> = (0..4).map(|_| ask(t.node.proc_path(), vip)).collect();
    assert!(alternating(&own), "{own:?}");
    // The backends saw the node's address (masqueraded), not the client's:
    // conntrack in the node shows the reply coming back to 10.101.x.1.
    let ct = sh(
        &t.node,
        &["conntrack", "-L", "-p", "tcp", "--orig-dst", "10.96.7.7"],
    );
    assert!(
        ct.contains("src=10.101.1.2 dst=10.96.7.7") && ct.contains("dst=10.101.2.1"),
        "{ct}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `svc-setup --watch` running in the background, its output in a file.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(node: &Netns, conf: &Path, dir: &Path) -> Agent {
        let log = dir.join("agent.log");
        let outer = common::netns_with_lo();
        let child = common::nsenter(&outer)
            .arg(example("svc-setup"))
            .args(["--netns", &node.proc_path(), "--config"])
            .arg(conf)
            .args(["--dataplane", "nftables", "--watch", "--state-file"])
            .arg(dir.join("state"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        let a = Agent { child, log };
        a.wait_for(
            "watching: health checks running",
            0,
            Duration::from_secs(10),
        );
        a
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn lines(&self) -> usize {
        self.text().lines().count()
    }

    /// Waits until a line from line `from` on contains `what`.
    fn wait_for(&self, what: &str, from: usize, within: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < within {
            if self.text().lines().skip(from).any(|l| l.contains(what)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no {what:?} in the agent's log within {within:?}:\n{}",
            self.text()
        );
    }

    fn stop(mut self) -> String {
        // SAFETY: kill(2) on our own child's pid (nsenter exec'd svc-setup).
        let rc = unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        assert_eq!(rc, 0);
        let status = self.child.wait().unwrap();
        let text = self.text();
        assert!(status.success(), "{status}:\n{text}");
        text
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_follows_health_and_repairs_drift() {
    let t = topology();
    let vip: SocketAddr = VIP.parse().unwrap();
    let _s1 = Server::start(
        t.b1.proc_path(),
        "10.101.2.2:8080".parse().unwrap(),
        "backend-1",
    );
    let s2 = Server::start(
        t.b2.proc_path(),
        "10.101.3.2:8080".parse().unwrap(),
        "backend-2",
    );
    let d = tmpdir("watch");
    let conf = web_config(&d);
    let agent = Agent::start(&t.node, &conf, &d);
    let text = agent.text();
    assert!(
        text.contains("changed: nftables: service TCP 10.96.7.7:80 -> 10.101.2.2:8080 (weight 1), 10.101.3.2:8080 (weight 1)"),
        "{text}"
    );
    let answers: Vec<String> = (0..4).map(|_| ask(t.client.proc_path(), vip)).collect();
    assert!(alternating(&answers), "{answers:?}");

    // backend-2's server stops: out of the table within the check's
    // interval (1 s, one retry after 1 s), only its service changed.
    let from = agent.lines();
    let t0 = Instant::now();
    drop(s2);
    agent.wait_for(
        "changed: nftables: service TCP 10.96.7.7:80 -> 10.101.2.2:8080 (weight 1)",
        from,
        Duration::from_secs(8),
    );
    let took = t0.elapsed();
    let text = agent.text();
    assert!(
        text.contains("health: real server 10.101.3.2:8080 of TCP 10.96.7.7:80 is down"),
        "{text}"
    );
    let table = sh(&t.node, &["nft", "list", "table", "inet", "zgz-dnat"]);
    assert!(!table.contains("10.101.3.2"), "{table}");
    assert!(table.contains("numgen inc mod 1"), "{table}");
    let answers: Vec<String> = (0..4).map(|_| ask(t.client.proc_path(), vip)).collect();
    assert_eq!(answers, ["backend-1"; 4], "after {took:?}");

    // It listens again: back in, alternation again.
    let from = agent.lines();
    let _s2 = Server::start(
        t.b2.proc_path(),
        "10.101.3.2:8080".parse().unwrap(),
        "backend-2",
    );
    agent.wait_for(
        "changed: nftables: service TCP 10.96.7.7:80 -> 10.101.2.2:8080 (weight 1), 10.101.3.2:8080 (weight 1)",
        from,
        Duration::from_secs(8),
    );
    assert!(agent.text().contains("is up"));
    let answers: Vec<String> = (0..4).map(|_| ask(t.client.proc_path(), vip)).collect();
    assert!(alternating(&answers), "{answers:?}");

    // Someone flushes the service chain (connections to the VIP would
    // now reach no backend): repaired, and reported.
    let chain = table
        .lines()
        .find_map(|l| l.trim().strip_prefix("chain service-"))
        .map(|c| format!("service-{}", c.trim_end_matches(" {")))
        .unwrap();
    let from = agent.lines();
    sh(
        &t.node,
        &["nft", "flush", "chain", "inet", "zgz-dnat", &chain],
    );
    agent.wait_for(
        "drift: table inet zgz-dnat was changed by another process; repaired",
        from,
        Duration::from_secs(5),
    );
    agent.wait_for(
        "changed: nftables: service TCP 10.96.7.7:80 -> 10.101.2.2:8080 (weight 1), 10.101.3.2:8080 (weight 1)",
        from,
        Duration::from_secs(5),
    );
    let answers: Vec<String> = (0..4).map(|_| ask(t.client.proc_path(), vip)).collect();
    assert!(alternating(&answers), "{answers:?}");

    // Someone deletes the service's map element: put back.
    let from = agent.lines();
    sh(
        &t.node,
        &[
            "nft",
            "delete",
            "element",
            "inet",
            "zgz-dnat",
            "services",
            "{ 10.96.7.7 . tcp . 80 }",
        ],
    );
    agent.wait_for("drift: table inet zgz-dnat", from, Duration::from_secs(5));
    agent.wait_for(
        "changed: nftables: table inet zgz-dnat: add 1 element(s) to set inet zgz-dnat services",
        from,
        Duration::from_secs(5),
    );
    let answers: Vec<String> = (0..2).map(|_| ask(t.client.proc_path(), vip)).collect();
    assert!(alternating(&answers), "{answers:?}");
    // A change elsewhere is no drift of ours.
    let from = agent.lines();
    sh(&t.node, &["nft", "add", "table", "inet", "bystander"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !agent.text().lines().skip(from).any(|l| l.contains("drift")),
        "{}",
        agent.text()
    );

    // SIGTERM: stops cleanly, the table left in place.
    let text = agent.stop();
    assert!(
        text.contains("stopped (kernel state left in place)"),
        "{text}"
    );
    assert!(sh(&t.node, &["nft", "list", "tables"]).contains("table inet zgz-dnat"));
    std::fs::remove_dir_all(&d).unwrap();
}
