//! `svc-setup` (examples/svc-setup/) and `clusterip::svc` on the host
//! kernel: the configuration handling, on the seeds' own keepalived files
//! and on malformed files, in throwaway namespaces.
//!
//! - The seeds' files give the services, VIPs and ipset members they name.
//! - A malformed file fails with `file:line: message`, and nothing at all
//!   changes in the namespace (no interface, no ipset, no nf_tables table,
//!   no sysctl), even when the files before it are valid.
//! - This machine's kernel has no IPVS: a valid configuration then fails
//!   with an error naming the ip_vs module, before any change.
//!
//! The rest (the real changes, idempotence, the scenario) needs IPVS and
//! runs in a guest: guest-tests/tests/guest_svc_setup.rs.
//!
//! The example binary is built by the test itself (`cargo build --example
//! svc-setup`), so this test never runs a stale binary.

use clusterip::keepalived::Config;
use clusterip::netlink::Netns;
use clusterip::svc::{Desired, Member, Options};
use ipset_nl::IpProto;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

mod common;
use common::{data, example, sh};

#[allow(dead_code)]
#[path = "../examples/svc-setup/cli.rs"]
mod cli;

/// Runs svc-setup with `args` in a throwaway network namespace of its own
/// (so that even a command line that should never reach the kernel cannot
/// touch the machine's); returns (exit code, stdout, stderr).
fn svc_setup(args: &[&str]) -> (i32, String, String) {
    let ns = common::netns_with_lo();
    let o = common::nsenter(&ns)
        .arg(example("svc-setup"))
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
    let sysctl = ns
        .run(|| std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap())
        .unwrap();
    format!(
        "{}\n{}\n{}\nip_forward={sysctl}",
        sh(ns, &["ip", "-d", "link"]),
        sh(ns, &["ipset", "save"]),
        sh(ns, &["nft", "list", "ruleset"]),
    )
}

fn tmpdir(name: &str) -> PathBuf {
    // Under target/ (one fixed directory a test, emptied first): runs leave
    // nothing in the machine's temporary directory.
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("svc-setup-test-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("conf.d")).unwrap();
    d
}

#[test]
fn seeds_files_give_their_services() {
    // seed000: the write-up's test.conf (169.254.11.2:80, rr NAT, two real
    // servers on 8080 with HTTP_GET checks).
    let cfg = Config::load(data("seed000/conf.d/test.conf")).unwrap();
    let d = Desired::from_config(&cfg, &Options::default()).unwrap();
    let vip: IpAddr = "169.254.11.2".parse().unwrap();
    assert_eq!(d.vips.keys().copied().collect::<Vec<_>>(), vec![vip]);
    assert_eq!(
        d.members.iter().copied().collect::<Vec<_>>(),
        vec![Member {
            addr: vip,
            proto: IpProto::Tcp,
            port: 80
        }]
    );
    assert_eq!(d.services.len(), 1);
    let s = &d.services[0];
    assert_eq!(s.service.key.to_string(), "TCP 169.254.11.2:80");
    assert_eq!(s.service.scheduler.name(), "rr");
    let dests: Vec<String> = s
        .destinations
        .iter()
        .map(|x| format!("{}:{} {:?} {}", x.addr, x.port, x.forward, x.weight.0))
        .collect();
    assert_eq!(
        dests,
        [
            "192.168.2.111:8080 Masquerade 1",
            "192.168.2.222:8080 Masquerade 1"
        ]
    );

    // seed002: DR, wlc, persistence 600, weights 100.
    let cfg = Config::load(data("seed002/keepalived.conf")).unwrap();
    let d = Desired::from_config(&cfg, &Options::default()).unwrap();
    let s = &d.services[0];
    assert_eq!(s.service.key.to_string(), "TCP 200.222.0.113:80");
    assert_eq!(s.service.scheduler.name(), "wlc");
    assert!(s.service.is_persistent());
    assert!(
        s.destinations
            .iter()
            .all(|x| x.weight.0 == 100 && format!("{:?}", x.forward) == "DirectRoute")
    );

    // The program reads the same files.
    let (code, out, err) = svc_setup(&[
        "--check",
        "--config",
        data("seed003/http_get.conf").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 virtual server(s), 2 VIP(s), 2 ipset member(s): OK"),
        "{out}"
    );
    assert!(
        out.contains("TCP 10.255.23.73:80 rr (2 real server(s))"),
        "{out}"
    );
    assert!(
        out.contains("TCP 10.255.23.74:80 rr (2 real server(s))"),
        "{out}"
    );
}

#[test]
fn include_globs_as_in_the_seeds() {
    let d = tmpdir("include");
    std::fs::write(
        d.join("keepalived.conf"),
        "! Configuration File for keepalived\nglobal_defs {\n}\ninclude conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::copy(data("seed000/conf.d/test.conf"), d.join("conf.d/test.conf")).unwrap();
    std::fs::copy(data("seed003/tcp_check.conf"), d.join("conf.d/web.conf")).unwrap();
    let (code, out, err) = svc_setup(&[
        "--check",
        "--config",
        d.join("keepalived.conf").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("3 file(s), 2 virtual server(s), 2 VIP(s), 2 ipset member(s): OK"),
        "{out}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Malformed files: (file content, expected "line: message" suffix).
const MALFORMED: &[(&str, &str)] = &[
    (
        "virtual_server 169.254.11.9 80 {\n  lb_kind NATT\n}\n",
        ":2: unknown lb_kind \"NATT\"",
    ),
    (
        "virtual_server 169.254.11.9 80 {\n  lb_algo roundrobin\n}\n",
        ":1: lb_algo \"roundrobin\" is not an IPVS scheduler",
    ),
    (
        "virtual_server 169.254.11.9 80 {\n  real_server 10.0.0.1 8080 {\n    weight x\n  }\n}\n",
        ":3: weight: \"x\" is not a valid number",
    ),
    (
        "virtual_server 169.254.11.9 80 {\n  real_server 10.0.0.1 8080 {\n  }\n",
        ":1: '{' is never closed",
    ),
    (
        "virtual_server 169.254.11.9 {\n}\n",
        ":1: virtual_server needs an address and a port",
    ),
    (
        "virtual_server 169.254.11.9 80 {\n}\nvirtual_server 169.254.11.9 80 {\n}\n",
        ":3: virtual server TCP 169.254.11.9:80 is already defined at",
    ),
    (
        "virtual_server 169.254.11.9 80 {\n  real_server 10.0.0.1 8080 {\n  }\n  real_server 10.0.0.1 8080 {\n  }\n}\n",
        ":4: real server 10.0.0.1:8080 is listed twice",
    ),
    ("include\n", ":1: include takes exactly one file pattern"),
];

#[test]
fn malformed_files_name_file_and_line_and_change_nothing() {
    let ns = Netns::new_anonymous().expect("netns (run as root)");
    let before = state(&ns);
    let d = tmpdir("malformed");
    // A valid file is read first (conf.d/a.conf): none of it may be applied.
    std::fs::write(
        d.join("keepalived.conf"),
        "global_defs {\n}\ninclude conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::copy(data("seed000/conf.d/test.conf"), d.join("conf.d/a.conf")).unwrap();
    for (text, want) in MALFORMED {
        let bad = d.join("conf.d/b.conf");
        std::fs::write(&bad, text).unwrap();
        let netns = ns.proc_path();
        let config = d.join("keepalived.conf");
        for extra in [&[][..], &["--ipvs"], &["--dry-run"]] {
            let mut args = vec!["--netns", &netns, "--config", config.to_str().unwrap()];
            args.extend_from_slice(extra);
            let (code, out, err) = svc_setup(&args);
            assert_eq!(code, 1, "{text:?} {extra:?}: {out}{err}");
            let expect = format!("svc-setup: {}{want}", bad.display());
            assert!(
                err.starts_with(&expect),
                "{text:?}: got {err:?}, want {expect:?}..."
            );
            assert!(out.is_empty(), "{out}");
        }
        assert_eq!(state(&ns), before, "{text:?} changed the namespace");
    }
    // A missing included file (no glob) and a missing main file.
    std::fs::write(d.join("conf.d/b.conf"), "include /nonexistent/x.conf\n").unwrap();
    let (code, _, err) = svc_setup(&[
        "--netns",
        &ns.proc_path(),
        "--config",
        d.join("keepalived.conf").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("b.conf:1: cannot read /nonexistent/x.conf"),
        "{err}"
    );
    let (code, _, err) = svc_setup(&["--config", "/nonexistent/keepalived.conf"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read /nonexistent/keepalived.conf"),
        "{err}"
    );
    assert_eq!(state(&ns), before);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn without_ipvs_the_error_names_ip_vs_and_nothing_changes() {
    // This machine's kernel has no IPVS (REFERENCE.md): the vs sysctl is
    // missing. If it ever has IPVS, this test must be moved, not skipped.
    assert!(
        !Path::new("/proc/sys/net/ipv4/vs").exists(),
        "this host has IPVS: the test's premise is wrong"
    );
    let ns = Netns::new_anonymous().expect("netns (run as root)");
    let before = state(&ns);
    let (code, out, err) = svc_setup(&[
        "--netns",
        &ns.proc_path(),
        "--config",
        data("seed000/conf.d/test.conf").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("net.ipv4.vs.conntrack"), "{err}");
    assert!(err.contains("ip_vs"), "{err}");
    assert_eq!(state(&ns), before);
    // One name for both families' sets is refused first, changing nothing.
    let (code, out, err) = svc_setup(&[
        "--netns",
        &ns.proc_path(),
        "--config",
        data("seed000/conf.d/test.conf").to_str().unwrap(),
        "--ipset6",
        "ZGZ-CLUSTER-IP",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("ipset ZGZ-CLUSTER-IP") && err.contains("both the IPv4 and the IPv6"),
        "{err}"
    );
    assert_eq!(state(&ns), before);
}

#[test]
fn command_line() {
    assert!(matches!(
        cli::parse(["--config", "/x", "--ipvs"]),
        Ok(cli::Parsed::Run(a)) if a.ipvs && a.config == Path::new("/x")
    ));
    assert!(matches!(
        cli::parse(["--ipset6", "V6-SET"]),
        Ok(cli::Parsed::Run(a)) if a.ipset6 == "V6-SET" && a.ipset == "ZGZ-CLUSTER-IP"
    ));
    let long = "X".repeat(32);
    assert_eq!(
        cli::parse(["--ipset6", long.as_str()]).err(),
        Some(format!("--ipset6 {long:?}: a set name is 1 to 31 bytes"))
    );
    let (code, _, err) = svc_setup(&["--frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown argument \"--frobnicate\""), "{err}");
    let (code, out, _) = svc_setup(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--dry-run"));
    // No input makes the parser panic.
    let words = [
        "--config",
        "--mark",
        "0x",
        "--ipvs=",
        "-h",
        "",
        "=",
        "--netns",
        "--interface",
        "é",
        "--ipset",
        "--ipset6",
        "--mark=99999999999",
    ];
    let mut seed = 12345u64;
    for _ in 0..2000 {
        let n = (seed % 5) as usize;
        let mut v = Vec::new();
        for _ in 0..n {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.push(words[(seed >> 33) as usize % words.len()]);
        }
        let _ = cli::parse(v);
        seed = seed.wrapping_add(7);
    }
}
