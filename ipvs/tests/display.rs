//! `Display` of the model types, in `ipvsadm`'s syntax (its `-Ln`,
//! `--timeout`, `--daemon` and `-Lcn` listings), offline.

use std::net::SocketAddr;
use std::time::Duration;

use ipvs_nl::{
    ConnEntry, ConnState, DaemonState, Family, Info, IpvsCmd, Netmask, Protocol, Scheduler,
    Service, ServiceFlags, Stats, StatsWidth, SyncDaemon, Timeouts, TunnelFlags, TunnelType,
    Version,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn service_as_ipvsadm_lists_it() {
    let s = Service::tcp(sa("10.0.0.1:80")).scheduler(Scheduler::RoundRobin);
    assert_eq!(s.to_string(), "TCP  10.0.0.1:80 rr");
    let s = Service::udp(sa("[2001:db8::1]:53"))
        .scheduler(Scheduler::SourceHashing)
        .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT)
        .persistent(Duration::from_secs(300))
        .netmask(Netmask::V6(64))
        .one_packet();
    assert_eq!(
        s.to_string(),
        "UDP  [2001:db8::1]:53 sh (sh-fallback,sh-port) persistent 300 mask 64 ops"
    );
    let s = Service::fwmark(7)
        .scheduler(Scheduler::MaglevHashing)
        .flags(ServiceFlags::MH_PORT)
        .persistent(Duration::from_secs(60))
        .netmask(Netmask::V4("255.255.255.0".parse().unwrap()))
        .persistence_engine("sip");
    assert_eq!(
        s.to_string(),
        "FWM  7 mh (mh-port) persistent 60 mask 255.255.255.0 pe sip"
    );
    // A host mask is not shown; flags of other schedulers are flag-N.
    let s = Service::tcp(sa("10.0.0.1:443"))
        .flags(ServiceFlags::SCHED_FLAG3)
        .persistent(Duration::from_secs(360));
    assert_eq!(
        s.to_string(),
        "TCP  10.0.0.1:443 wlc (flag-3) persistent 360"
    );
}

#[test]
fn flags_and_small_types() {
    assert_eq!(ServiceFlags::empty().to_string(), "none");
    assert_eq!(
        (ServiceFlags::PERSISTENT | ServiceFlags::HASHED | ServiceFlags::ONE_PACKET).to_string(),
        "persistent,hashed,ops"
    );
    assert_eq!(
        ServiceFlags::from_bits_retain(0x0001_0000 | 0x8).to_string(),
        "flag-1,0x10000"
    );
    assert_eq!(TunnelFlags::NOCSUM.to_string(), "nocsum");
    assert_eq!(TunnelFlags::CSUM.to_string(), "csum");
    assert_eq!(
        (TunnelFlags::REMCSUM | TunnelFlags::from_bits_retain(0x100)).to_string(),
        "remcsum,0x100"
    );
    assert_eq!(TunnelType::Gue.to_string(), "gue");
    assert_eq!(TunnelType::Other(9).to_string(), "tun-type-9");
    assert_eq!(Family::Ipv6.to_string(), "IPv6");
    assert_eq!(Family::Other(7).to_string(), "AF 7");
    assert_eq!(StatsWidth::Bits32.to_string(), "32-bit");
    assert_eq!(IpvsCmd::NewService.to_string(), "new-service");
    assert_eq!(IpvsCmd::from(99).to_string(), "command 99");
}

#[test]
fn timeouts_info_daemon() {
    let t = Timeouts {
        tcp: Duration::from_secs(900),
        tcp_fin: Duration::from_secs(120),
        udp: Duration::from_secs(300),
    };
    assert_eq!(t.to_string(), "Timeout (tcp tcpfin udp): 900 120 300");
    let i = Info {
        version: Version(0x010201),
        conn_tab_size: 4096,
    };
    assert_eq!(i.to_string(), "IP Virtual Server version 1.2.1 (size=4096)");
    assert_eq!(
        SyncDaemon::master("eth0").to_string(),
        "master sync daemon (mcast=eth0, syncid=0)"
    );
    let d = SyncDaemon::new(DaemonState::Backup, "eth1")
        .sync_id(3)
        .max_len(1472)
        .group("224.0.0.81".parse().unwrap())
        .port(8848)
        .ttl(1);
    assert_eq!(
        d.to_string(),
        "backup sync daemon (mcast=eth1, syncid=3, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"
    );
}

#[test]
fn connection_as_ipvsadm_lcn() {
    let mut c = ConnEntry {
        protocol: Protocol::Tcp,
        client: sa("10.0.0.9:40000"),
        virtual_addr: sa("10.96.0.1:80"),
        destination: sa("10.244.0.5:8080"),
        state: ConnState::Established,
        expires: Duration::from_secs(899),
        pe_name: None,
        pe_data: None,
    };
    assert_eq!(
        c.to_string(),
        "TCP 14:59  ESTABLISHED 10.0.0.9:40000     10.96.0.1:80       10.244.0.5:8080"
    );
    c.protocol = Protocol::Other(1);
    c.pe_name = Some("sip".into());
    c.pe_data = Some("call-1".into());
    assert_eq!(
        c.to_string(),
        "ICMP 14:59  ESTABLISHED 10.0.0.9:40000     10.96.0.1:80       10.244.0.5:8080  sip                call-1"
    );
}

#[test]
fn stats() {
    let s = Stats {
        conns: 1,
        inpkts: 2,
        outpkts: 3,
        inbytes: 4,
        outbytes: 5,
        cps: 6,
        inpps: 7,
        outpps: 8,
        inbps: 9,
        outbps: 10,
        width: StatsWidth::Bits64,
    };
    assert_eq!(
        s.to_string(),
        "conns 1 inpkts 2 outpkts 3 inbytes 4 outbytes 5 cps 6 inpps 7 outpps 8 inbps 9 outbps 10"
    );
}
