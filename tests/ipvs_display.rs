//! ipvs-nl's `Display` of services, snapshot entries and operations held
//! to the `ipvsadm` example's listing formatter (`examples/ipvsadm/
//! format.rs`), whose `-Ln` and `-Sn` output is byte-identical to ipvsadm
//! 1.31's (tests/ipvsadm_cli.rs, guest-tests/tests/guest_uml_ipvsadm.rs). No kernel.

#[path = "../examples/ipvsadm/cli/mod.rs"]
#[allow(dead_code, unused_imports)]
mod cli;
#[path = "../examples/ipvsadm/format.rs"]
#[allow(dead_code)]
mod format;
#[path = "../examples/ipvsadm/names.rs"]
#[allow(dead_code)]
mod names;

use std::time::Duration;

use ipvs_nl::{
    Destination, ForwardMethod, Info, Netmask, Operation, Scheduler, Service, ServiceEntry,
    ServiceFlags, TunnelFlags, TunnelType, Version, Weight,
};

fn entries() -> Vec<ServiceEntry> {
    let real = |s: &str, port| Destination::new(s.parse().unwrap(), port);
    vec![
        ServiceEntry {
            service: Service::tcp("10.0.0.1:80".parse().unwrap())
                .scheduler(Scheduler::RoundRobin)
                .persistent(Duration::from_secs(300))
                .netmask(Netmask::V4("255.255.255.0".parse().unwrap())),
            destinations: vec![
                real("192.168.1.1", 8080).forward(ForwardMethod::Masquerade),
                real("192.168.1.2", 8080).weight(Weight(3)),
                real("192.168.1.3", 0).tunnel(TunnelType::Gue, 6080, TunnelFlags::CSUM),
                real("192.168.1.4", 0).tunnel(TunnelType::Gre, 0, TunnelFlags::REMCSUM),
                real("192.168.1.5", 0).ipip(),
            ],
        },
        ServiceEntry {
            service: Service::udp("[2001:db8::1]:53".parse().unwrap())
                .scheduler(Scheduler::SourceHashing)
                .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT)
                .one_packet(),
            destinations: vec![real("2001:db8::2", 53).forward(ForwardMethod::Masquerade)],
        },
        ServiceEntry {
            service: Service::fwmark6(7)
                .scheduler(Scheduler::MaglevHashing)
                .flags(ServiceFlags::MH_PORT)
                .persistent(Duration::from_secs(60))
                .netmask(Netmask::V6(64))
                .persistence_engine("sip"),
            destinations: vec![],
        },
        ServiceEntry {
            service: Service::sctp("10.0.0.9:3868".parse().unwrap()),
            destinations: vec![],
        },
    ]
}

#[test]
fn entries_display_as_ipvsadm_sn() {
    let names = names::Names::parse("", "");
    let info = Info {
        version: Version(0x010201),
        conn_tab_size: 4096,
    };
    let mut e = entries();
    let save = format::list_all(&info, &mut e, cli::FMT_RULE | cli::FMT_NUMERIC, &names);
    let ours: String = e.iter().map(|s| format!("{s}\n")).collect();
    assert_eq!(ours, save);
    // Each line is also the Display of the operation that makes it.
    let ops: String = e
        .iter()
        .flat_map(|s| {
            std::iter::once(Operation::AddService(s.service.clone())).chain(
                s.destinations
                    .iter()
                    .map(|d| Operation::AddDestination(s.service.key, d.clone())),
            )
        })
        .map(|o| format!("{o}\n"))
        .collect();
    assert_eq!(ops, save);
}

#[test]
fn services_display_as_ipvsadm_ln_lines() {
    let names = names::Names::parse("", "");
    let info = Info {
        version: Version(0x010201),
        conn_tab_size: 4096,
    };
    let mut e = entries();
    let plain = format::list_all(&info, &mut e, cli::FMT_NUMERIC, &names);
    let service_lines: Vec<&str> = plain
        .lines()
        .skip(2) // the two title lines
        .filter(|l| !l.starts_with("  ->"))
        .collect();
    let ours: Vec<String> = e.iter().map(|s| s.service.to_string()).collect();
    assert_eq!(ours, service_lines);
}

#[test]
fn other_operations() {
    let s = Service::tcp("10.0.0.1:80".parse().unwrap());
    let d = Destination::new("192.168.1.1".parse().unwrap(), 8080)
        .forward(ForwardMethod::Masquerade)
        .upper_threshold(100)
        .lower_threshold(10);
    let cases = [
        (
            Operation::EditService(s.clone()),
            "-E -t 10.0.0.1:80 -s wlc",
        ),
        (Operation::DeleteService(s.key), "-D -t 10.0.0.1:80"),
        (
            Operation::EditDestination(s.key, d.clone()),
            "-e -t 10.0.0.1:80 -r 192.168.1.1:8080 -m -w 1 -x 100 -y 10",
        ),
        (
            Operation::DeleteDestination(s.key, d),
            "-d -t 10.0.0.1:80 -r 192.168.1.1:8080",
        ),
        (Operation::ZeroService(s.key), "-Z -t 10.0.0.1:80"),
    ];
    for (op, text) in cases {
        assert_eq!(op.to_string(), text);
        assert_eq!(op.borrowed().to_string(), text);
    }
}
