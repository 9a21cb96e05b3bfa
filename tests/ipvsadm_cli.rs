//! Host-side tests of the `ipvsadm` example's pure modules (no kernel):
//! the popt-compatible parser (`examples/ipvsadm/cli/`) on command lines
//! whose ipvsadm 1.31 answers were observed in the uml guest, random
//! command lines (it must never panic), the restore tokenizer, and the
//! listing formatter (`format.rs`) against text captured from ipvsadm.
//! The differential suite against the real ipvsadm is
//! `guest-tests/tests/guest_uml_ipvsadm.rs`.

#[path = "../examples/ipvsadm/cli/mod.rs"]
#[allow(dead_code, unused_imports)]
mod cli;
#[path = "../examples/ipvsadm/format.rs"]
#[allow(dead_code)]
mod format;
#[path = "../examples/ipvsadm/names.rs"]
#[allow(dead_code)]
mod names;

use cli::{Cmd, Failure, NoLookup, Outcome, Parsed};

fn argv(s: &str) -> Vec<String> {
    std::iter::once("ipvsadm")
        .chain(s.split_whitespace())
        .map(str::to_owned)
        .collect()
}

fn ok(s: &str) -> Parsed {
    match cli::parse(&argv(s), false, &NoLookup) {
        Ok(Outcome::Run(p)) => *p,
        other => panic!("{s}: {other:?}"),
    }
}

fn err(s: &str) -> Failure {
    match cli::parse(&argv(s), false, &NoLookup) {
        Err(f) => f,
        other => panic!("{s}: expected a failure, got {other:?}"),
    }
}

const TRY: &str = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n";

#[test]
fn observed_answers_of_ipvsadm() {
    // (command line, stderr, exit status, fatal) as ipvsadm 1.31 answered
    // in the uml guest.
    let cases: &[(&str, &str, u8, bool)] = &[
        ("-Lq", "-Lq: unknown option\n", 255, false),
        ("-L -q", "-q: unknown option\n", 255, false),
        ("--lis", TRY, 255, true),
        (
            "-list",
            "Illegal 'scheduler' option with the 'list' command\n",
            2,
            true,
        ),
        (
            "-A",
            "You need to supply the 'service-address' option for the 'add-service' command\n",
            2,
            true,
        ),
        ("-A -t", "-t: missing argument\n", 255, false),
        ("-A -t 10.0.0.8:80 -s", "-s: missing argument\n", 255, false),
        (
            "-L -n=1",
            "-n=1: option does not take an argument\n",
            255,
            false,
        ),
        ("--numeric=1 -L", TRY, 255, true),
        (
            "-A -t 10.0.0.1:80 foo",
            "unexpected argument foo\n",
            2,
            true,
        ),
        ("-A foo", "unexpected argument foo\n", 2, true),
        ("foo", TRY, 255, true),
        ("-C -C", "invalid option `-C'\n", 2, true),
        (
            "-L --nosort=3",
            "--nosort=3: option does not take an argument\n",
            255,
            false,
        ),
        ("-- -L", TRY, 255, true),
        ("-6 -A", TRY, 255, true),
        ("-A -6 -t 1.2.3.4:80", "-6 used before -f\n\n", 2, true),
        (
            "-A -t 10.0.0.9:0",
            "Zero port specified for non-persistent service\n",
            2,
            true,
        ),
        (
            "-L -c -t 10.0.0.1:80",
            "The option 'service-address' conflicts with the 'connection' option in the 'list' command\n",
            2,
            true,
        ),
        (
            "-L --stats --timeout",
            "options conflicts in the list command\n",
            2,
            true,
        ),
        (
            "--set 1 2",
            "--set option requires 3 timeout values\n",
            2,
            true,
        ),
        (
            "--set 1 x 3",
            "invalid timeout value `x' specified\n",
            2,
            true,
        ),
        ("-A -f 0", "invalid fwmark value `0' specified\n", 2, true),
        (
            "-A -t 10.0.0.3:80 -b sh-port",
            "incompatible scheduler flag `sh-port'\n",
            2,
            true,
        ),
        (
            "-A -t 10.0.0.1:80 -s rr -s rr",
            "multiple 'scheduler' options specified\n",
            2,
            true,
        ),
        (
            "-L --start-daemon master",
            "invalid option `master'\n",
            2,
            true,
        ),
        ("-AC", "invalid option `-AC'\n", 2, true),
        (
            "-a -t 10.0.0.1:80 -r 1.1.1.1 -i --tun-type gue",
            "You need to supply the 'tun-port' option for the 'gue' tunnel type\n",
            2,
            true,
        ),
        (
            "-a -t 10.0.0.1:80 -r 1.1.1.1 --tun-type gue",
            "Tunnel options conflict with forward method\n",
            2,
            true,
        ),
        (
            "-a -t 10.0.0.1:80 -r 2001:db8::1",
            "Different address family is allowed only for tunneling servers\n",
            2,
            true,
        ),
        (
            "--start-daemon foo",
            "illegal start-daemon parameter specified\n",
            2,
            true,
        ),
        (
            "--stop-daemon foo",
            "illegal start_daemon specified\n",
            2,
            true,
        ),
        (
            "-R -n",
            "Illegal 'numeric' option with the 'restore' command\n",
            2,
            true,
        ),
    ];
    for (line, msg, status, fatal) in cases {
        let f = err(line);
        assert_eq!(
            (f.message.as_str(), f.status, f.fatal),
            (*msg, *status, *fatal),
            "{line}"
        );
    }
}

#[test]
fn popt_forms_and_defaults() {
    let p = ok("-A -t10.0.0.2:80 -p");
    assert_eq!(p.cmd, Cmd::Add);
    assert_eq!(p.svc.timeout, 360);
    assert_eq!(p.svc.flags & cli::SVC_F_PERSISTENT, cli::SVC_F_PERSISTENT);
    assert_eq!(p.svc.sched_name, "wlc");
    assert_eq!(p.svc.port, 80);
    assert_eq!(&p.svc.addr[..4], &[10, 0, 0, 2]);
    assert_eq!(ok("-A -t 10.0.0.2:80 -p=30").svc.timeout, 30);
    assert_eq!(ok("-A -t 10.0.0.2:80 -p30").svc.timeout, 30);
    assert_eq!(ok("-A -t 10.0.0.2:80 --persistent=40").svc.timeout, 40);
    assert_eq!(ok("-A -t 10.0.0.2:80 --persistent 50").svc.timeout, 50);
    assert_eq!(ok("-A -t 10.0.0.2:80 -p -s rr").svc.timeout, 360);
    assert_eq!(ok("-A -t 10.0.0.2:80 -s --").svc.sched_name, "--");
    let l = ok("-Lnc");
    assert!(l.has(cli::OPTC_CONNECTION) && l.format & cli::FMT_NUMERIC != 0);
    let l = ok("-ln --stats");
    assert_eq!(l.cmd, Cmd::List);
    assert_eq!(l.format, cli::FMT_NUMERIC | cli::FMT_STATS);
    let d = ok("-a -t 10.0.0.1:80 -r 192.168.1.1");
    assert_eq!((d.dest.weight, d.dest.conn_flags, d.dest.port), (1, 3, 80));
    let d = ok("-a -t 10.0.0.1:80 -r 192.168.1.1:8080 -m -w 2147483647");
    assert_eq!(
        (d.dest.weight, d.dest.conn_flags, d.dest.port),
        (i32::MAX as u32, 0, 8080)
    );
    // -g/-i force the service port
    assert_eq!(ok("-a -t 10.0.0.1:80 -r 192.168.1.1:8080").dest.port, 80);
    let s = ok("--start-daemon backup");
    assert_eq!((s.daemon.state, s.daemon.mcast_ifn.as_str()), (2, "eth0"));
    let f = ok("-A -f 4294967295 -6 -M 64");
    assert_eq!((f.svc.fwmark, f.svc.af, f.svc.netmask), (u32::MAX, 10, 64));
    let v6 = ok("-A -t [2001:db8::1]:443 -s mh -b mh-port,mh-fallback");
    assert_eq!((v6.svc.af, v6.svc.netmask, v6.svc.flags), (10, 128, 0x18));
    // inet_aton forms and the lost port of a bracketed IPv4 address
    assert_eq!(&ok("-A -t 0x7f.1:82").svc.addr[..4], &[127, 0, 0, 1]);
    assert_eq!(&ok("-A -t 10.1:83").svc.addr[..4], &[10, 0, 0, 1]);
    assert_eq!(ok("-A -t [1.2.3.4]:83 -p").svc.port, 0);
    assert_eq!(ok("--set 1 2 3").timeout.udp, 3);
    assert!(matches!(
        cli::parse(&argv("-h"), false, &NoLookup),
        Ok(Outcome::Help)
    ));
    assert!(matches!(
        cli::parse(&argv("--version"), false, &NoLookup),
        Ok(Outcome::Version)
    ));
    assert!(ok("-L --json").json);
    // -R inside a restore is refused like ipvsadm does
    assert_eq!(
        cli::parse(&argv("-R"), true, &NoLookup)
            .unwrap_err()
            .message,
        TRY
    );
}

#[test]
fn names_are_looked_up() {
    let n = names::Names::parse(
        "127.0.0.1 localhost\n10.9.9.9 web www # x\n",
        "http 80/tcp www\nhttp 80/udp\ndomain 53/udp\n",
    );
    let p = cli::parse(&argv("-A -t www:http"), false, &n).unwrap();
    let Outcome::Run(p) = p else { panic!() };
    assert_eq!((&p.svc.addr[..4], p.svc.port), (&[10u8, 9, 9, 9][..], 80));
    assert!(cli::parse(&argv("-A -t www:domain"), false, &n).is_err());
    assert_eq!(n.host_name("127.0.0.1".parse().unwrap()), Some("localhost"));
    assert_eq!(n.service_name(53, "udp"), Some("domain"));
}

#[test]
fn restore_tokenizer() {
    // as the restore reads them: lines with their newline
    let l: Vec<_> = [
        "ipvsadm -A -t 1.2.3.4:80\n",
        "\n",
        "  \t\r\n",
        "-C\r\n",
        "-a\t-t x   -r y",
    ]
    .into_iter()
    .filter_map(|line| cli::restore_line(line, "prog"))
    .collect();
    assert_eq!(
        l,
        vec![
            vec!["prog", "-A", "-t", "1.2.3.4:80"],
            vec!["prog", "-C"],
            vec!["prog", "-a", "-t", "x", "-r", "y"],
        ]
    );
}

/// A small deterministic generator (no external crates).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// Random command lines from ipvsadm's vocabulary plus junk: the parser
/// must answer every one without panicking, and the same way twice.
#[test]
fn random_command_lines_never_panic() {
    let words = [
        "-A",
        "-E",
        "-D",
        "-C",
        "-R",
        "-S",
        "-a",
        "-e",
        "-d",
        "-L",
        "-l",
        "-Z",
        "--set",
        "--start-daemon",
        "--stop-daemon",
        "-h",
        "-v",
        "-t",
        "-u",
        "-f",
        "--sctp-service",
        "-s",
        "-p",
        "-M",
        "-r",
        "-m",
        "-i",
        "-g",
        "-w",
        "-x",
        "-y",
        "-n",
        "-c",
        "-6",
        "-o",
        "-b",
        "-X",
        "--pe",
        "--tun-type",
        "--tun-port",
        "--tun-csum",
        "--tun-nocsum",
        "--tun-remcsum",
        "--mcast-group",
        "--mcast-port",
        "--mcast-ttl",
        "--sync-maxlen",
        "--syncid",
        "--mcast-interface",
        "--stats",
        "--rate",
        "--thresholds",
        "--persistent-conn",
        "--nosort",
        "--sort",
        "--exact",
        "--timeout",
        "--daemon",
        "--tun-info",
        "--json",
        "--",
        "-",
        "",
        "=",
        "-=",
        "--=",
        "-Ln",
        "-Lnc",
        "-p=",
        "-p=5",
        "10.0.0.1:80",
        "[2001:db8::1]:80",
        "[::1",
        "[1.2.3.4]:x",
        "1.2.3.4",
        "0x7f.1",
        "4294967296",
        "-1",
        "99999999999999999999999",
        "master",
        "backup",
        "gue",
        "gre",
        "ipip",
        "sh-port,sh-fallback",
        ",",
        ",,",
        "flag-1",
        "rr",
        "sh",
        "mh",
        "255.255.255.0",
        "129",
        "ff02::1",
        "239.1.1.1",
        "é",
        "-é",
        "--é=é",
        "-t\u{1F600}",
        "\u{0}",
        " 5",
        "+5",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..50_000 {
        let n = (rng.next() % 9) as usize;
        let mut v = vec!["ipvsadm".to_owned()];
        for _ in 0..n {
            let w = rng.pick(&words).to_owned();
            // sometimes glue two words, or cut one
            let w = match rng.next() % 6 {
                0 => w + rng.pick(&words),
                1 => {
                    let cut = (rng.next() as usize) % (w.len() + 1);
                    String::from_utf8_lossy(&w.as_bytes()[..cut]).into_owned()
                }
                _ => w,
            };
            v.push(w);
        }
        let a = cli::parse(&v, rng.next() % 2 == 0, &NoLookup);
        let b = cli::parse(&v, false, &NoLookup);
        if let (Ok(x), Ok(y)) = (&a, &b) {
            if !matches!(x, Outcome::Run(p) if p.cmd == Cmd::Restore) {
                assert_eq!(x, y, "{v:?}");
            }
        }
    }
    // arbitrary bytes
    for _ in 0..20_000 {
        let n = (rng.next() % 5) as usize;
        let mut v = vec!["ipvsadm".to_owned()];
        for _ in 0..n {
            let len = (rng.next() % 12) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 256) as u8).collect();
            let mut s = String::from_utf8_lossy(&bytes).into_owned();
            if rng.next() % 2 == 0 {
                s.insert(0, '-');
            }
            v.push(s);
        }
        let _ = cli::parse(&v, false, &NoLookup);
    }
    for line in "\u{0}\n\r\r\n ipvsadm ipvsadm\n-\n".split_inclusive('\n') {
        let _ = cli::restore_line(line, "");
    }
}

#[test]
fn number_formats() {
    assert_eq!(cli::string_to_number(" +12", 0, 20), Some(12));
    assert_eq!(cli::string_to_number("12 ", 0, 20), None);
    assert_eq!(cli::string_to_number("", 0, 20), None);
    assert_eq!(cli::string_to_number("-0", 0, 20), Some(0));
    assert_eq!(
        cli::string_to_number("99999999999999999999", 0, i64::MAX),
        None
    );
    assert_eq!(cli::inet_aton("1.2.3.4 junk"), Some([1, 2, 3, 4]));
    assert_eq!(cli::inet_aton("010.0x10.1"), Some([8, 16, 0, 1]));
    assert_eq!(cli::inet_aton("08.1.1.1"), None);
    assert_eq!(cli::inet_aton("1.2.3.4.5"), None);
    assert_eq!(cli::inet_aton("256.1.1.1"), None);
    assert_eq!(cli::inet_aton("4294967295"), Some([255; 4]));
    assert_eq!(format::ntop6(&"::1".parse().unwrap()), "::1");
    assert_eq!(format::ntop6(&"::2:3".parse().unwrap()), "::0.2.0.3");
    assert_eq!(
        format::ntop6(&"::ffff:1.2.3.4".parse().unwrap()),
        "::ffff:1.2.3.4"
    );
    assert_eq!(
        format::ntop6(&"2001:db8:0:0:1:0:0:1".parse().unwrap()),
        "2001:db8::1:0:0:1"
    );
    assert_eq!(
        format::ntop6(&"2001:db8:0:1:1:1:1:1".parse().unwrap()),
        "2001:db8:0:1:1:1:1:1"
    );
}

#[test]
fn listing_matches_captured_ipvsadm_text() {
    use ipvs_nl::{Destination, Info, Service, ServiceEntry, Version, Weight};
    let names = names::Names::parse("", "http 80/tcp\n");
    let mut entries = vec![
        ServiceEntry {
            service: Service::tcp("10.0.0.2:80".parse().unwrap())
                .persistent(std::time::Duration::from_secs(360)),
            destinations: vec![],
        },
        ServiceEntry {
            service: Service::tcp("10.0.0.1:80".parse().unwrap()),
            destinations: vec![
                Destination::new("192.168.1.2".parse().unwrap(), 80).weight(Weight(2147483647)),
                Destination::new("192.168.1.1".parse().unwrap(), 80).weight(Weight(70000)),
            ],
        },
    ];
    let info = Info {
        version: Version(0x010201),
        conn_tab_size: 4096,
    };
    // Captured from ipvsadm 1.31 -L (names) and -Sn in the uml guest.
    let plain = format::version_line(&info) + &format::list_all(&info, &mut entries, 0, &names);
    assert_eq!(
        plain,
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  10.0.0.1:http wlc\n  \
         -> 192.168.1.1:http             Route   70000  0          0         \n  \
         -> 192.168.1.2:http             Route   2147483647 0          0         \n\
         TCP  10.0.0.2:http wlc persistent 360\n"
    );
    let save = format::list_all(
        &info,
        &mut entries,
        cli::FMT_RULE | cli::FMT_NUMERIC,
        &names,
    );
    assert_eq!(
        save,
        "-A -t 10.0.0.1:80 -s wlc\n\
         -a -t 10.0.0.1:80 -r 192.168.1.1:80 -g -w 70000\n\
         -a -t 10.0.0.1:80 -r 192.168.1.2:80 -g -w 2147483647\n\
         -A -t 10.0.0.2:80 -s wlc -p 360\n"
    );
    let stats = format::list_all(
        &info,
        &mut entries,
        cli::FMT_STATS | cli::FMT_NUMERIC,
        &names,
    );
    assert!(stats.starts_with(
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n\
         TCP  10.0.0.1:80                         0        0        0        0        0\n  \
         -> 192.168.1.1:80                      0        0        0        0        0\n"
    ));
    let json = format::json_services(Some(&info), &entries);
    assert!(json.starts_with(
        "{\"version\":\"1.2.1\",\"conn_tab_size\":4096,\"services\":[{\"protocol\":\"TCP\""
    ));
    assert!(json.ends_with("]}\n"));
}

/// Every `--json` document (docs/ipvsadm-json.md), whole: the example of
/// the schema document, a tunnel, IPv6, firewall-mark and scheduler-flag
/// service, timeouts, daemons and connections.
#[test]
fn json_documents_keep_their_schema() {
    use ipvs_nl::{
        ConnEntry, ConnState, DaemonState, Destination, Info, Protocol, Scheduler, Service,
        ServiceEntry, ServiceFlags, Stats, SyncDaemon, Timeouts, TunnelFlags, TunnelType, Version,
        Weight,
    };
    use std::time::Duration;
    let info = Info {
        version: Version(0x010201),
        conn_tab_size: 4096,
    };
    // docs/ipvsadm-json.md's example.
    let mut svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .scheduler(Scheduler::RoundRobin)
        .persistent(Duration::from_secs(60))
        .flags(ServiceFlags::HASHED);
    svc.stats = Some(Box::default());
    let mut d = Destination::new("192.168.1.2".parse().unwrap(), 80)
        .masquerade()
        .weight(Weight(3));
    d.stats = Some(Box::default());
    let doc = vec![ServiceEntry {
        service: svc,
        destinations: vec![d],
    }];
    assert_eq!(
        format::json_services(Some(&info), &doc),
        r#"{"version":"1.2.1","conn_tab_size":4096,"services":[{"protocol":"TCP","fwmark":null,"family":"ipv4","address":"10.0.0.1","port":80,"scheduler":"rr","sched_flags":[],"persistent":true,"timeout":60,"netmask":"255.255.255.255","pe":null,"one_packet":false,"flags":3,"stats":{"conns":0,"inpkts":0,"outpkts":0,"inbytes":0,"outbytes":0},"rates":{"cps":0,"inpps":0,"outpps":0,"inbps":0,"outbps":0},"destinations":[{"address":"192.168.1.2","port":80,"family":"ipv4","forward":"masquerade","weight":3,"upper_threshold":0,"lower_threshold":0,"active_conns":0,"inactive_conns":0,"persistent_conns":0,"tunnel":null,"stats":{"conns":0,"inpkts":0,"outpkts":0,"inbytes":0,"outbytes":0},"rates":{"cps":0,"inpps":0,"outpps":0,"inbps":0,"outbps":0}}]}]}"#.to_owned() + "\n"
    );

    let stats = Stats {
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
        ..Stats::default()
    };
    let mut v6 = Service::udp("[::2:3]:53".parse().unwrap())
        .scheduler(Scheduler::SourceHashing)
        .flags(ServiceFlags::SH_PORT | ServiceFlags::ONE_PACKET);
    v6.pe_name = Some("sip\"x".into());
    v6.stats = Some(Box::new(stats));
    let mut tun = Destination::new("10.1.1.1".parse().unwrap(), 8080)
        .tunnel(TunnelType::Gue, 6080, TunnelFlags::REMCSUM)
        .upper_threshold(9)
        .lower_threshold(2);
    tun.active_conns = 4;
    tun.inactive_conns = 5;
    tun.persistent_conns = 6;
    tun.stats = Some(Box::new(stats));
    let many = vec![
        ServiceEntry {
            service: v6,
            destinations: vec![tun],
        },
        ServiceEntry {
            service: Service::fwmark6(7)
                .scheduler(Scheduler::MaglevHashing)
                .flags(ServiceFlags::MH_FALLBACK | ServiceFlags::SCHED_FLAG3),
            destinations: vec![],
        },
    ];
    assert_eq!(
        format::json_services(None, &many),
        r#"{"services":[{"protocol":"UDP","fwmark":null,"family":"ipv6","address":"::0.2.0.3","port":53,"scheduler":"sh","sched_flags":["sh-port"],"persistent":false,"timeout":0,"netmask":128,"pe":"sip\"x","one_packet":true,"flags":20,"stats":{"conns":1,"inpkts":2,"outpkts":3,"inbytes":18446744073709551615,"outbytes":5},"rates":{"cps":6,"inpps":7,"outpps":8,"inbps":9,"outbps":10},"destinations":[{"address":"10.1.1.1","port":8080,"family":"ipv4","forward":"tunnel","weight":1,"upper_threshold":9,"lower_threshold":2,"active_conns":4,"inactive_conns":5,"persistent_conns":6,"tunnel":{"type":"gue","port":6080,"checksum":"remcsum"},"stats":{"conns":1,"inpkts":2,"outpkts":3,"inbytes":18446744073709551615,"outbytes":5},"rates":{"cps":6,"inpps":7,"outpps":8,"inbps":9,"outbps":10}}]},{"protocol":null,"fwmark":7,"family":"ipv6","address":null,"port":null,"scheduler":"mh","sched_flags":["mh-fallback"],"persistent":false,"timeout":0,"netmask":128,"pe":null,"one_packet":false,"flags":40,"stats":{"conns":0,"inpkts":0,"outpkts":0,"inbytes":0,"outbytes":0},"rates":{"cps":0,"inpps":0,"outpps":0,"inbps":0,"outbps":0},"destinations":[]}]}"#.to_owned() + "\n"
    );

    let t = Timeouts {
        tcp: Duration::from_secs(900),
        tcp_fin: Duration::from_secs(120),
        udp: Duration::from_secs(300),
    };
    assert_eq!(
        format::json_timeouts(&t),
        "{\"timeouts\":{\"tcp\":900,\"tcp_fin\":120,\"udp\":300}}\n"
    );

    let mut master = SyncDaemon::new(DaemonState::Master, "eth0").sync_id(5);
    master.max_len = Some(1472);
    master.group = Some("224.0.0.81".parse().unwrap());
    master.port = Some(8848);
    master.ttl = Some(1);
    let backup = SyncDaemon::new(DaemonState::Backup, "eth1");
    assert_eq!(
        format::json_daemons(&[master, backup]),
        r#"{"daemons":[{"state":"master","interface":"eth0","sync_id":5,"max_len":1472,"group":"224.0.0.81","port":8848,"ttl":1},{"state":"backup","interface":"eth1","sync_id":0,"max_len":null,"group":null,"port":null,"ttl":null}]}"#.to_owned() + "\n"
    );
    assert_eq!(format::json_daemons(&[]), "{\"daemons\":[]}\n");

    let conn = ConnEntry {
        protocol: Protocol::Tcp,
        client: "10.2.2.2:40000".parse().unwrap(),
        virtual_addr: "10.0.0.1:80".parse().unwrap(),
        destination: "[::2:3]:80".parse().unwrap(),
        state: ConnState::Established,
        expires: Duration::from_secs(42),
        pe_name: None,
        pe_data: None,
    };
    let icmp = ConnEntry {
        protocol: Protocol::Other(58),
        client: "10.2.2.2:0".parse().unwrap(),
        state: ConnState::Other("ICMP".into()),
        pe_name: Some("sip".into()),
        pe_data: Some("call-1".into()),
        ..conn.clone()
    };
    assert_eq!(
        format::json_connections(&[conn, icmp]),
        r#"{"connections":[{"protocol":"TCP","client":{"address":"10.2.2.2","port":40000},"virtual":{"address":"10.0.0.1","port":80},"destination":{"address":"::0.2.0.3","port":80},"state":"ESTABLISHED","expires":42,"template":false,"pe_name":null,"pe_data":null},{"protocol":"ICMPv6","client":{"address":"10.2.2.2","port":0},"virtual":{"address":"10.0.0.1","port":80},"destination":{"address":"::0.2.0.3","port":80},"state":"ICMP","expires":42,"template":true,"pe_name":"sip","pe_data":"call-1"}]}"#.to_owned() + "\n"
    );
}

/// `inet_aton` and `string_to_number` (ipvsadm's `strtol` use) against
/// this machine's C library, on 300,000 strings each made of the
/// characters those parsers treat specially.
#[test]
fn conversions_agree_with_the_c_library() {
    use std::ffi::CString;
    // glibc's (the libc crate binds no inet_aton)
    unsafe extern "C" {
        fn inet_aton(cp: *const libc::c_char, inp: *mut libc::in_addr) -> libc::c_int;
    }
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let alphabet = b"0123456789012345678901.....xXaAfFg +-\t\n";
    let mut tried = 0;
    let fixed = [
        "0.0.0.0",
        "255.255.255.255",
        "256.0.0.0",
        "1.2.3.04",
        "01.2.3.4",
        "00.0.0.0",
        "1.2.3.4 ",
        "1.2.3",
        "1..3.4",
        ".1.2.3",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "-18446744073709551616",
        "+0",
        "-",
        "",
    ];
    let mut cases: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    for _ in 0..300_000 {
        let len = (next() % 24) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
            .collect();
        cases.push(s);
    }
    for s in &cases {
        let c = CString::new(s.as_str()).unwrap();
        let mut addr = libc::in_addr { s_addr: 0 };
        // SAFETY: `c` is a live NUL-terminated string and `addr` a live
        // in_addr that inet_aton writes on success.
        let ok = unsafe { inet_aton(c.as_ptr(), &mut addr) } != 0;
        let want = ok.then(|| addr.s_addr.to_ne_bytes());
        assert_eq!(cli::inet_aton(s), want, "inet_aton({s:?})");
        let mut end: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: errno is this thread's; `c` is a live NUL-terminated
        // string and `end` a live pointer strtol sets into it.
        let (n, whole, range) = unsafe {
            *libc::__errno_location() = 0;
            let n = libc::strtol(c.as_ptr(), &mut end, 10);
            let used = end.offset_from(c.as_ptr());
            (
                n,
                used == s.len() as isize && used != 0,
                *libc::__errno_location() == libc::ERANGE,
            )
        };
        // ipvsadm's string_to_number: the whole string, no ERANGE (glibc
        // consumes a sign with no digits after it as nothing: used == 0)
        let want = (whole && !range).then_some(n);
        assert_eq!(
            cli::string_to_number(s, i64::MIN, i64::MAX),
            want,
            "strtol({s:?})"
        );
        tried += 1;
    }
    assert_eq!(tried, cases.len());
}

/// `parse_saved`, the direct reader of the lines `ipvsadm -S -n` writes,
/// gives exactly what `parse` gives for the same restore line, and nothing
/// for a line `parse` refuses; on 200,000 lines of those shapes with
/// random, often wrong, fields.
#[test]
fn saved_lines_read_directly_as_parse_reads_them() {
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let mut pick = |opts: &[&'static str]| opts[(next() % opts.len() as u64) as usize];
    let protos = ["-t", "-u", "--sctp-service", "-f", "-t", "-t"];
    let addrs = [
        "10.0.0.1:80",
        "10.0.0.1",
        "10.0.0.1:0",
        "10.0.0.1:65535",
        "10.0.0.1:65536",
        "10.0.0.1:http",
        "010.0.0.1:80",
        "1.2.3:80",
        "[2001:db8::1]:443",
        "[2001:db8::1]",
        "2001:db8::1",
        "[1.2.3.4]:80",
        "256.0.0.1:80",
        "0.0.0.0:1",
        "172.16.0.9:8080",
        "10.0.0.1:080",
        "10.0.0.1:000080",
        "10.0.0.1:+80",
        "10.0.0.1:80:90",
        "10.0.0.1:99999",
        "10.0.0.1:12345678901234567890",
        "1.2.3.4.5:80",
        "1.2.3.456:80",
        "10.0.0.1:",
        "ipvsadm",
        "",
    ];
    let scheds = [
        "rr",
        "wlc",
        "mh",
        "nosuch",
        "abcdefghijklmnopq",
        "r-r",
        "-s",
        "ipvsadm",
    ];
    let fwds = ["-m", "-g", "-i", "-x", "--masquerading", "-w"];
    let weights = [
        "0",
        "1",
        "100",
        "2147483647",
        "2147483648",
        "-1",
        "x",
        "+5",
        " ",
    ];
    let (mut direct, mut lines) = (0, 0);
    for _ in 0..200_000 {
        let line = if pick(&["A", "a"]) == "A" {
            format!("-A {} {} -s {}", pick(&protos), pick(&addrs), pick(&scheds))
        } else {
            format!(
                "-a {} {} -r {} {} -w {}",
                pick(&protos),
                pick(&addrs),
                pick(&addrs),
                pick(&fwds),
                pick(&weights)
            )
        };
        lines += 1;
        let Some(fast) = cli::parse_saved(&line) else {
            continue;
        };
        direct += 1;
        let argv = cli::restore_line(&line, "ipvsadm").unwrap();
        match cli::parse(&argv, true, &NoLookup) {
            Ok(Outcome::Run(p)) => assert_eq!(*p, fast, "{line:?}"),
            other => panic!("{line:?}: read directly, but parse gives {other:?}"),
        }
    }
    // both shapes were read directly, often
    assert!(direct > lines / 20, "{direct} of {lines}");
    for line in [
        "-A -t 10.96.0.0:80 -s rr",
        "-a -t 10.96.0.0:80 -r 172.16.0.0:8080 -m -w 1",
        "-a -u [2001:db8::1]:53 -r [2001:db8::2]:5353 -g -w 0",
    ] {
        assert!(cli::parse_saved(line).is_some(), "{line}");
    }
    for line in [
        "ipvsadm -A -t 10.96.0.0:80 -s rr",
        "-A -t 10.96.0.0:80 -s rr -p 30",
    ] {
        assert!(cli::parse_saved(line).is_none(), "{line}");
    }
}

/// A reproducible stream of pseudo-random numbers (xorshift64) for the
/// generated inputs above.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
