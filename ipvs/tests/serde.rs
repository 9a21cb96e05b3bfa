//! The `serde` feature: every model type reads back as it was written
//! (`Other` values, unknown flag bits and boxed statistics included), in the
//! documented representation (scheduler and method names, addresses as
//! strings, durations as seconds).

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipvs_nl::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) -> serde_json::Value {
    let text = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, v, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn stats() -> Stats {
    Stats {
        conns: 1,
        inpkts: 2,
        outpkts: 3,
        inbytes: u64::MAX,
        outbytes: 5,
        cps: 6,
        inpps: 7,
        outpps: 8,
        inbps: 9,
        outbps: 10,
        width: StatsWidth::Bits32,
    }
}

#[test]
fn service_round_trip_and_shape() {
    let mut svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .scheduler(Scheduler::RoundRobin)
        .persistent(Duration::from_secs(60))
        .flags(ServiceFlags::SH_PORT | ServiceFlags::from_bits_retain(0x4000));
    svc.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    svc.pe_name = Some("sip".into());
    svc.stats = Some(Box::new(stats()));
    let v = round_trip(&svc);
    assert_eq!(
        v["key"],
        json!({"addr": {"protocol": "tcp", "addr": "10.0.0.1:80"}})
    );
    assert_eq!(v["scheduler"], "rr");
    assert_eq!(v["flags"], json!(["persistent", "flag-2", 0x4000]));
    assert_eq!(v["timeout"], 60);
    assert_eq!(v["netmask"], "255.255.255.0");
    assert_eq!(v["stats"]["width"], "bits32");
    assert_eq!(v["stats"]["inbytes"], u64::MAX);
    assert!(v.get("unknown").is_none());

    let fw = Service::fwmark6(7).scheduler(Scheduler::Other("my-sched".into()));
    let v = round_trip(&fw);
    assert_eq!(v["key"], json!({"fwmark": {"family": "ipv6", "mark": 7}}));
    assert_eq!(v["scheduler"], "my-sched");
    assert_eq!(v["netmask"], 128);

    let odd = Service::new(ServiceKey::Addr {
        protocol: Protocol::Other(33),
        addr: "[2001:db8::1]:5060".parse().unwrap(),
    });
    let v = round_trip(&odd);
    assert_eq!(v["key"]["addr"]["protocol"], 33);
    round_trip(&Service::new(ServiceKey::Fwmark {
        family: Family::Other(99),
        mark: 1,
    }));
}

#[test]
fn service_reads_flag_aliases_and_any_case_protocol() {
    let v = json!({
        "key": {"addr": {"protocol": "UDP", "addr": "10.0.0.2:53"}},
        "scheduler": "sh",
        "flags": ["sh-fallback", "sh-port"],
        "flags_mask": 4294967295u32,
        "timeout": 0,
        "netmask": "255.255.255.255",
        "pe_name": null,
        "stats": null
    });
    let svc: Service = serde_json::from_value(v).unwrap();
    assert_eq!(
        svc,
        Service::udp("10.0.0.2:53".parse().unwrap())
            .scheduler(Scheduler::SourceHashing)
            .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT)
    );
    let bad = json!({"addr": {"protocol": "icmp", "addr": "10.0.0.2:53"}});
    assert!(serde_json::from_value::<ServiceKey>(bad).is_err());
}

#[test]
fn destination_round_trip_and_shape() {
    let mut d = Destination::new("2001:db8::2".parse().unwrap(), 8080)
        .tunnel(TunnelType::Gue, 6080, TunnelFlags::REMCSUM)
        .weight(Weight(3))
        .upper_threshold(100)
        .lower_threshold(10);
    d.active_conns = 4;
    d.stats = Some(Box::new(stats()));
    let v = round_trip(&d);
    assert_eq!(v["addr"], "2001:db8::2");
    assert_eq!(v["forward"], "tunnel");
    assert_eq!(v["tunnel_type"], "gue");
    assert_eq!(v["tunnel_flags"], "remcsum");
    assert_eq!(v["weight"], 3);

    for f in [
        ForwardMethod::Masquerade,
        ForwardMethod::Local,
        ForwardMethod::DirectRoute,
        ForwardMethod::Bypass,
        ForwardMethod::Other(77),
    ] {
        round_trip(&Destination::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1).forward(f));
    }
    let odd = Destination::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1).tunnel(
        TunnelType::Other(9),
        0,
        TunnelFlags::CSUM | TunnelFlags::REMCSUM,
    );
    let v = round_trip(&odd);
    assert_eq!(v["tunnel_type"], 9);
    assert_eq!(v["tunnel_flags"], 3);
}

#[test]
fn info_timeouts_daemon_entry_conn_round_trip() {
    let info = Info {
        version: Version(0x010201),
        conn_tab_size: 4096,
    };
    assert_eq!(
        round_trip(&info),
        json!({"version": "1.2.1", "conn_tab_size": 4096})
    );
    assert_eq!(
        serde_json::from_value::<Version>(json!(0x010201)).unwrap(),
        Version(0x010201)
    );

    let t = Timeouts {
        tcp: Duration::from_secs(900),
        tcp_fin: Duration::from_secs(120),
        udp: Duration::from_secs(300),
    };
    assert_eq!(
        round_trip(&t),
        json!({"tcp": 900, "tcp_fin": 120, "udp": 300})
    );

    let mut d = SyncDaemon::new(DaemonState::Backup, "eth0");
    d.group = Some("ff02::81".parse().unwrap());
    d.port = Some(8848);
    let v = round_trip(&d);
    assert_eq!(v["state"], "backup");
    assert_eq!(v["group"], "ff02::81");
    assert_eq!(v["ttl"], serde_json::Value::Null);
    round_trip(&SyncDaemon::new(DaemonState::Other(4), "eth1"));

    let entry = ServiceEntry {
        service: Service::tcp("10.0.0.1:80".parse().unwrap()),
        destinations: vec![Destination::new("192.168.1.2".parse().unwrap(), 80).masquerade()],
    };
    round_trip(&entry);

    let c = ConnEntry {
        protocol: Protocol::Tcp,
        client: "10.1.1.1:40000".parse().unwrap(),
        virtual_addr: "10.0.0.1:80".parse().unwrap(),
        destination: "192.168.1.2:80".parse().unwrap(),
        state: ConnState::Established,
        expires: Duration::from_secs(42),
        pe_name: None,
        pe_data: None,
    };
    let v = round_trip(&c);
    assert_eq!(v["state"], "ESTABLISHED");
    assert_eq!(v["expires"], 42);
    round_trip(&ConnEntry {
        state: ConnState::Other("SCTP_COOKIE".into()),
        ..c
    });
    let filter = ConnFilter::new()
        .virtual_addr("10.0.0.1:80".parse::<SocketAddr>().unwrap())
        .client("10.1.1.1".parse().unwrap());
    round_trip(&filter);
}
