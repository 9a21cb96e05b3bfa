//! `clusterip::agent` (svc-setup --watch) and the IPVS sysctl profile on
//! the host: what needs no IPVS. The drain state file on disk, the reload
//! diffing (health carried over, changed files seen), the sysctl profile's
//! kernel-version logic and its reading in a namespace, `ipvsadm doctor`
//! in a namespace without IPVS, and the UDP conntrack cleanup against real
//! conntrack entries in a throwaway namespace (made and listed by the real
//! `conntrack` tool). The daemon itself, with IPVS, runs in the guest
//! scenario (guest-tests/tests/guest_svc_setup.rs, step `watch`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use clusterip::agent::{
    DrainReason, DrainState, Drained, carry_over, forget_udp_backends, restamp, stamps,
    stamps_changed, start_down, udp_leavers,
};
use clusterip::conntrack::ConntrackHandle;
use clusterip::health::{HealthState, ServerId, desired_services};
use clusterip::ipvs::{Destination, Service, ServiceEntry, ServiceKey};
use clusterip::keepalived::Config;
use clusterip::svc::{KernelVersion, SysctlProfile, Want};
use clusterip::sync::Change;

mod common;
use common::{netns_with_lo, sh, tool};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("agent-host-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn state_file_round_trip_on_disk() {
    let dir = tmpdir("state");
    // The directory is created; the write is atomic (no temporary left).
    let path = dir.join("run/svc-setup/state");
    assert_eq!(DrainState::load(&path).unwrap(), DrainState::default());
    let mut s = DrainState::default();
    s.entries.insert(Drained {
        reason: DrainReason::Health,
        service: ServiceKey::tcp(sa("169.254.11.2:80")),
        server: sa("192.168.2.222:8080"),
    });
    s.entries.insert(Drained {
        reason: DrainReason::Removed,
        service: ServiceKey::fwmark6(7),
        server: sa("[fd00::1]:0"),
    });
    s.entries.insert(Drained {
        reason: DrainReason::Health,
        service: ServiceKey::udp(sa("[fd00:11::2]:53")),
        server: sa("[fd00::2]:5353"),
    });
    s.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("health TCP 169.254.11.2:80 192.168.2.222:8080\n"),
        "{text}"
    );
    assert!(text.contains("removed FWM 7 IPv6 [fd00::1]:0\n"), "{text}");
    assert_eq!(DrainState::load(&path).unwrap(), s);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state"]);

    // A damaged file is an error naming the file and line.
    std::fs::write(
        &path,
        "# x\nhealth TCP 10.0.0.1:80 10.0.0.2:80\nhealthy TCP x y\n",
    )
    .unwrap();
    let e = DrainState::load(&path).unwrap_err().to_string();
    assert!(e.contains("state: line 3:"), "{e}");

    // Health entries name real servers of a configuration; others are
    // ignored (the server left the configuration meanwhile).
    let cfg = Config::parse_str(
        "virtual_server 169.254.11.2 80 {\n real_server 172.17.0.11 8080 {\n  TCP_CHECK { }\n }\n\
         real_server 192.168.2.222 8080 {\n  TCP_CHECK { }\n }\n}\n",
        "k.conf",
    )
    .unwrap();
    let ids = s.health_servers(&cfg);
    assert_eq!(ids, [ServerId { vs: 0, rs: 1 }]);
    // ... and start down: out of the desired services from the start.
    let mut state = HealthState::new(&cfg);
    let events = start_down(&cfg, &mut state, &ids);
    assert_eq!(events.len(), 1, "{events:?}");
    let services = desired_services(&cfg, &state).unwrap();
    let dests: Vec<String> = services[0].1.iter().map(|d| d.to_string()).collect();
    assert_eq!(dests, ["172.17.0.11:8080"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

const WEB: &str = "virtual_server 10.96.0.1 80 {\n quorum 2\n\
     real_server 10.0.0.1 80 {\n  TCP_CHECK { connect_timeout 1 }\n }\n\
     real_server 10.0.0.2 80 {\n  inhibit_on_failure\n  TCP_CHECK { connect_timeout 1 }\n }\n\
     real_server 10.0.0.3 80 {\n  MISC_CHECK { misc_path /bin/true\n misc_dynamic }\n }\n}\n";

#[test]
fn reload_carries_health_over_and_diffs() {
    let old_cfg = Config::parse_str(WEB, "k.conf").unwrap();
    let mut old = HealthState::new(&old_cfg);
    let (a, b, c) = (
        ServerId { vs: 0, rs: 0 },
        ServerId { vs: 0, rs: 1 },
        ServerId { vs: 0, rs: 2 },
    );
    old.checker_result(a, 0, false, "refused");
    old.checker_result(b, 0, false, "refused");
    old.set_weight(c, 5);

    // The same file again: the same state, the same services.
    let same = carry_over(&old_cfg, &old, &old_cfg);
    assert_eq!(same, old);

    // A new virtual server in front, a new real server, 10.0.0.1's check
    // changed, 10.0.0.2 moved down the list.
    let new_text = "virtual_server 10.96.0.9 53 {\n protocol UDP\n real_server 10.0.1.1 53 {\n }\n}\n\
         virtual_server 10.96.0.1 80 {\n quorum 2\n\
         real_server 10.0.0.4 80 {\n  TCP_CHECK { connect_timeout 1 }\n }\n\
         real_server 10.0.0.3 80 {\n  MISC_CHECK { misc_path /bin/true\n misc_dynamic }\n }\n\
         real_server 10.0.0.1 80 {\n  TCP_CHECK { connect_timeout 2 }\n }\n\
         real_server 10.0.0.2 80 {\n  inhibit_on_failure\n  TCP_CHECK { connect_timeout 1 }\n }\n}\n";
    let new_cfg = Config::parse_str(new_text, "k.conf").unwrap();
    let new = carry_over(&old_cfg, &old, &new_cfg);
    let rs = &new.virtual_servers[1].real_servers;
    assert!(rs[0].alive, "a new real server starts up");
    assert!(
        rs[1].alive && rs[1].weight == 5,
        "dynamic weight carried: {:?}",
        rs[1]
    );
    assert!(rs[2].alive, "a changed check starts afresh");
    assert!(!rs[3].alive, "10.0.0.2 stays down");
    let services = desired_services(&new_cfg, &new).unwrap();
    let web: Vec<String> = services[1]
        .1
        .iter()
        .map(|d| format!("{d} w{}", d.weight.0))
        .collect();
    assert_eq!(
        web,
        [
            "10.0.0.4:80 w1",
            "10.0.0.3:80 w5",
            "10.0.0.1:80 w1",
            "10.0.0.2:80 w0"
        ]
    );
    // The quorum is recomputed for the carried state (1 + 5 + 1 >= 2).
    assert!(new.virtual_servers[1].quorum_up);
}

#[test]
fn changed_files_are_seen() {
    let dir = tmpdir("stamps");
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    let main = dir.join("keepalived.conf");
    std::fs::write(&main, "include conf.d/*.conf\n").unwrap();
    std::fs::write(
        dir.join("conf.d/a.conf"),
        "virtual_server 10.96.0.1 80 {\n}\n",
    )
    .unwrap();
    let cfg = Config::load(&main).unwrap();
    let st = stamps(&main, &cfg);
    assert!(st.iter().any(|(p, _)| p.ends_with("conf.d/a.conf")));
    assert!(!stamps_changed(&st));
    // A changed size.
    std::fs::write(
        dir.join("conf.d/a.conf"),
        "virtual_server 10.96.0.1 80 {\n }\n",
    )
    .unwrap();
    assert!(stamps_changed(&st));
    // Seen as settled when two looks agree.
    assert_eq!(restamp(&st), restamp(&st));
    let cfg = Config::load(&main).unwrap();
    let st = stamps(&main, &cfg);
    assert!(!stamps_changed(&st));
    // A new file matching the include glob (its directory changes).
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        dir.join("conf.d/b.conf"),
        "virtual_server 10.96.0.2 80 {\n}\n",
    )
    .unwrap();
    assert!(stamps_changed(&st));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sysctl_profile_by_kernel_version() {
    let want = |v: KernelVersion, name: &str| SysctlProfile::for_kernel(v).get(name).unwrap().want;
    let reuse = "net.ipv4.vs.conn_reuse_mode";
    assert!(matches!(
        want(KernelVersion::new(4, 0, 9), reuse),
        Want::AsIs(_)
    ));
    assert_eq!(want(KernelVersion::new(4, 1, 0), reuse), Want::Value("0"));
    assert_eq!(want(KernelVersion::new(5, 8, 18), reuse), Want::Value("0"));
    assert!(matches!(
        want(KernelVersion::new(5, 9, 0), reuse),
        Want::AsIs(_)
    ));
    for v in [
        KernelVersion::new(3, 10, 0),
        KernelVersion::new(5, 4, 0),
        KernelVersion::new(6, 18, 0),
    ] {
        for name in [
            "net.ipv4.vs.expire_nodest_conn",
            "net.ipv4.vs.expire_quiescent_template",
        ] {
            assert_eq!(want(v, name), Want::Value("1"), "{name} on {v}");
        }
    }
    let p = SysctlProfile::for_kernel(KernelVersion::new(5, 4, 0));
    assert!(p.matches(reuse, Some("0")));
    assert!(!p.matches(reuse, Some("1")));
    assert!(!p.matches("net.ipv4.vs.expire_nodest_conn", None));
    let p = SysctlProfile::for_kernel(KernelVersion::new(6, 1, 0));
    assert!(p.matches(reuse, Some("1")) && p.matches(reuse, None));
    assert_eq!(
        KernelVersion::parse("5.10.0-33-cloud-amd64"),
        Some(KernelVersion::new(5, 10, 0))
    );
    assert_eq!(
        KernelVersion::parse("6.9-rc1"),
        Some(KernelVersion::new(6, 9, 0))
    );
    assert_eq!(KernelVersion::parse("6"), None);

    // This kernel: its version is the running one's, and in a fresh
    // namespace of this host (no IPVS) the IPVS sysctls are missing while
    // ip_forward reads 0.
    let (v, release) = KernelVersion::running().unwrap();
    let uname = Command::new("uname").arg("-r").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&uname.stdout).trim(), release);
    let ns = netns_with_lo();
    let read = SysctlProfile::for_kernel(v).with_base().read(&ns).unwrap();
    let names: Vec<&str> = read.iter().map(|(s, _)| s.name).collect();
    assert_eq!(
        names,
        [
            "net.ipv4.ip_forward",
            "net.ipv4.vs.conntrack",
            "net.ipv4.vs.conn_reuse_mode",
            "net.ipv4.vs.expire_nodest_conn",
            "net.ipv4.vs.expire_quiescent_template"
        ]
    );
    assert_eq!(read[0].1.as_deref(), Some("0"));
    assert!(read[1..].iter().all(|(_, v)| v.is_none()), "{read:?}");
}

#[test]
fn ipvsadm_doctor_without_ipvs() {
    let ns = netns_with_lo();
    let exe = common::example("ipvsadm");
    let out = common::run_in(&ns, &exe, &["doctor"], "");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let (v, release) = KernelVersion::running().unwrap();
    assert!(
        text.starts_with(&format!("Kernel {release} (version {v})\n")),
        "{text}"
    );
    assert!(text.contains("IP Virtual Server not available: "), "{text}");
    assert!(
        text.contains("net.ipv4.ip_forward                    0        1        MISMATCH\n"),
        "{text}"
    );
    assert!(
        text.contains("net.ipv4.vs.expire_nodest_conn         -        1        MISSING\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!(
        "4 of 5 sysctls differ from the profile for kernel {v}\n"
    )));
    // Setting ip_forward in that namespace is seen.
    sh(&ns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let out = common::run_in(&ns, &exe, &["doctor"], "");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("net.ipv4.ip_forward                    1        1        ok\n"),
        "{text}"
    );
}

/// `conntrack -L` lines of the namespace's UDP and TCP entries, sorted.
fn ct_list(ns: &clusterip::Netns) -> Vec<String> {
    let (ok, out) = tool(ns, &["conntrack", "-L"]);
    assert!(ok, "{out}");
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("udp") || l.starts_with("tcp"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

#[test]
fn udp_conntrack_cleanup_in_a_namespace() {
    let ns = netns_with_lo();
    let add = |args: &str| {
        let mut v = vec!["conntrack", "-I"];
        v.extend(args.split_whitespace());
        let (ok, out) = tool(&ns, &v);
        assert!(ok, "conntrack -I {args}: {out}");
    };
    // Flows of clients to the UDP service 10.96.0.53:53 answered by two
    // backends, one flow of the TCP service on the same VIP and port
    // number answered by backend b, and one UDP flow to another VIP
    // answered by b.
    for (sport, backend) in [
        (5001, "10.244.0.2"),
        (5002, "10.244.0.2"),
        (5003, "10.244.0.3"),
    ] {
        add(&format!(
            "-p udp -s 10.0.0.1 -d 10.96.0.53 --sport {sport} --dport 53 \
             -r {backend} -q 10.0.0.1 --reply-port-src 5353 --reply-port-dst {sport} -t 100"
        ));
    }
    add(
        "-p tcp -s 10.0.0.1 -d 10.96.0.53 --sport 6000 --dport 53 -r 10.244.0.2 -q 10.0.0.1 \
         --reply-port-src 5353 --reply-port-dst 6000 --state ESTABLISHED -t 100",
    );
    add(
        "-p udp -s 10.0.0.1 -d 10.96.0.54 --sport 5004 --dport 53 -r 10.244.0.2 -q 10.0.0.1 \
         --reply-port-src 5353 --reply-port-dst 5004 -t 100",
    );
    assert_eq!(ct_list(&ns).len(), 5);

    let udp = ServiceKey::udp(sa("10.96.0.53:53"));
    let tcp = ServiceKey::tcp(sa("10.96.0.53:53"));
    // What left: backend b of the UDP service, and (same backend) of
    // the TCP service, which is not cleaned.
    let changes = [
        Change::DeleteDestination(udp, sa("10.244.0.2:5353")),
        Change::DeleteDestination(tcp, sa("10.244.0.2:5353")),
        Change::AddDestination(udp, sa("10.244.0.9:5353")),
    ];
    let leavers = udp_leavers(&changes, &[]);
    assert_eq!(leavers, [(udp, sa("10.244.0.2:5353"))]);
    let ct = ConntrackHandle::in_netns(&ns).unwrap();
    let done = common::block_on(forget_udp_backends(&ct, &leavers)).unwrap();
    assert_eq!(done, [(udp, sa("10.244.0.2:5353"), 2)]);
    let left = ct_list(&ns);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(
        !left.iter().any(|l| l.starts_with("udp")
            && l.contains("dst=10.96.0.53 ")
            && l.contains("src=10.244.0.2")),
        "{left:?}"
    );
    assert!(
        left.iter().any(|l| l.contains("src=10.244.0.3")),
        "{left:?}"
    );
    assert!(left.iter().any(|l| l.starts_with("tcp")), "{left:?}");
    assert!(
        left.iter().any(|l| l.contains("dst=10.96.0.54")),
        "{left:?}"
    );

    // A deleted UDP service: every real server it had (as read before).
    let before = [ServiceEntry {
        service: Service::udp(sa("10.96.0.53:53")),
        destinations: vec![
            Destination::new("10.244.0.3".parse().unwrap(), 5353),
            Destination::new("10.244.0.4".parse().unwrap(), 5353),
        ],
    }];
    let leavers = udp_leavers(&[Change::DeleteService(udp)], &before);
    let done = common::block_on(forget_udp_backends(&ct, &leavers)).unwrap();
    assert_eq!(
        done,
        [
            (udp, sa("10.244.0.3:5353"), 1),
            (udp, sa("10.244.0.4:5353"), 0)
        ]
    );
    let left = ct_list(&ns);
    assert_eq!(left.len(), 2, "{left:?}");
}
