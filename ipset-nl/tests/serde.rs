//! The `serde` feature: model types read back as they were written, and
//! the kernel's own sets, listed in a throwaway network namespace, written
//! as JSON that says what the real `ipset save` says, read back equal, and
//! created again from that JSON alone (kernel -> JSON -> kernel).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::process::Command;

use ipset_nl::blocking::IpsetHandle;
use ipset_nl::{
    CadtFlags, CmdFlags, CreateOptions, CreateSet, ElementAttr, Entry, Extensions, Family, IpEntry,
    IpPortEntry, IpProto, IpSet, NetEntry, Netns, PortEntry, SetType, Timeout, TypedEntry,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) -> Value {
    let text = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, v, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn names_flags_and_other_values_round_trip() {
    assert_eq!(round_trip(&Family::Inet6), "inet6");
    assert_eq!(round_trip(&Family::Unspec), "any");
    assert_eq!(round_trip(&Family::Other(7)), 7);
    assert_eq!(round_trip(&IpProto::Tcp), "tcp");
    assert_eq!(round_trip(&IpProto::IcmpV6), "icmpv6");
    assert_eq!(round_trip(&IpProto::Other(99)), 99);
    assert_eq!(round_trip(&SetType::HashIpPort), "hash:ip,port");
    assert_eq!(round_trip(&SetType::Other("hash:mac".into())), "hash:mac");
    assert_eq!(
        round_trip(
            &(CadtFlags::WITH_COUNTERS
                | CadtFlags::WITH_COMMENT
                | CadtFlags::from_bits_retain(0x4000))
        ),
        json!(["counters", "comment", 0x4000])
    );
    assert_eq!(round_trip(&CmdFlags::EXIST), json!(["exist"]));
    assert_eq!(round_trip(&CadtFlags::empty()), json!([]));
    assert_eq!(
        serde_json::from_value::<CadtFlags>(json!(["nomatch", 8])).unwrap(),
        CadtFlags::NOMATCH | CadtFlags::WITH_COUNTERS
    );
    assert!(serde_json::from_value::<CadtFlags>(json!(["no-such-flag"])).is_err());
    assert!(serde_json::from_value::<IpProto>(json!("no-such-proto")).is_err());
    assert_eq!(round_trip(&Timeout(300)), 300);
}

#[test]
fn sets_and_typed_entries_round_trip() {
    let spec = CreateSet::hash_ip_port("svc")
        .family(Family::Inet6)
        .options(|o| o.timeout(600).counters().comment().maxelem(1 << 20));
    let v = round_trip(&spec);
    assert_eq!(v["set_type"], "hash:ip,port");
    assert_eq!(v["options"]["flags"], json!(["counters", "comment"]));
    assert_eq!(v["options"]["timeout"], 600);
    round_trip(&CreateOptions::default());

    let mut e = IpPortEntry::new("2001:db8::1".parse().unwrap(), IpProto::Sctp, 5060);
    e.comment = Some("sip \"trunk\"".into());
    e.skbmark = Some((1, 0xff));
    e.other.push(ElementAttr::LineNo(3));
    let v = round_trip(&e);
    assert_eq!(v["proto"], "sctp");
    assert_eq!(v["skbmark"], json!([1, 255]));
    assert_eq!(v["other"], json!([{"line_no": 3}]));

    for t in [
        TypedEntry::Ip(IpEntry::new("10.0.0.1".parse().unwrap()).timeout(5)),
        TypedEntry::Net("10.0.0.0/8 nomatch".parse::<NetEntry>().unwrap()),
        TypedEntry::Port(PortEntry::new(80).port_to(82).comment("web")),
        TypedEntry::IpPort(IpPortEntry::new(
            "10.0.0.1".parse().unwrap(),
            IpProto::Udp,
            53,
        )),
    ] {
        round_trip(&t);
    }
    let x = Extensions::default().with_timeout(5).with_comment("web");
    round_trip(&x);
    let entry = Entry::new(vec![
        ElementAttr::Ip("10.0.0.1".parse().unwrap()),
        ElementAttr::Port(80),
        ElementAttr::Proto(6),
        ElementAttr::SkbPrio { major: 1, minor: 2 },
        ElementAttr::CadtFlags(CadtFlags::NOMATCH),
        ElementAttr::Ether([0, 1, 2, 3, 4, 5]),
    ]);
    let v = round_trip(&entry);
    assert_eq!(v["attrs"][0], json!({"ip": "10.0.0.1"}));
    assert_eq!(v["attrs"][3], json!({"skb_prio": {"major": 1, "minor": 2}}));
}

/// Runs the real ipset in `ns`; its stdout.
fn ipset(ns: &Netns, args: &[&str]) -> String {
    let o = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg("ipset")
        .args(args)
        .output()
        .expect("run nsenter ipset");
    assert!(
        o.status.success(),
        "ipset {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `ipset save` lines as words (quoted comments kept whole).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap();
            out.push(q[..end].to_owned());
            rest = q[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = rest[end..].trim_start();
        }
    }
    out
}

/// The options after the first `skip` words of a save line: `key value`
/// pairs and the flags in `lone` (value "").
fn options(w: &[String], skip: usize, lone: &[&str]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut it = w.iter().skip(skip);
    while let Some(k) = it.next() {
        let v = if lone.contains(&k.as_str()) {
            String::new()
        } else {
            it.next()
                .unwrap_or_else(|| panic!("{k} without a value in {w:?}"))
                .clone()
        };
        m.insert(k.clone(), v);
    }
    m
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[test]
fn kernel_sets_as_json_match_ipset_save_and_create_again() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = IpsetHandle::in_netns(&ns).unwrap();
    // Built by the reference tool. Timeout 0 on every element (never
    // expires) keeps the saved text stable while the test runs.
    for cmd in [
        "create web hash:ip,port family inet hashsize 1024 maxelem 4096 timeout 300 counters comment skbinfo",
        "add web 10.0.0.1,tcp:80 timeout 0 packets 5 bytes 700 comment \"front door\" skbmark 0x10/0xff",
        "add web 10.0.0.2,udp:53 timeout 0 packets 0 bytes 0 comment \"dns\"",
        "add web 10.0.0.3,sctp:5060 timeout 0 packets 1 bytes 2 comment \"sip\" skbprio 1:2 skbqueue 3",
        "create nets hash:net family inet6 hashsize 64 maxelem 100",
        "add nets 2001:db8::/32",
        "add nets 2001:db8:1::/48 nomatch",
        "create ports bitmap:port range 1000-2000 counters",
        "add ports 1080 packets 9 bytes 10",
    ] {
        let args = words(cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ipset(&ns, &args);
    }

    let sets = h.list(None).unwrap();
    assert_eq!(sets.len(), 3);
    let json = serde_json::to_string(&sets).unwrap();
    let doc: Value = serde_json::from_str(&json).unwrap();

    // Every `create` and `add` line of the tool's save, found in the JSON.
    let save = ipset(&ns, &["save"]);
    let mut adds = 0;
    for line in save.lines() {
        let w = words(line);
        let name = &w[1];
        let set = doc
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from {json}"));
        match w[0].as_str() {
            "create" => {
                assert_eq!(set["set_type"], w[2].as_str(), "{line}");
                let o = options(&w, 3, &["counters", "comment", "skbinfo", "forceadd"]);
                let opts = &set["options"];
                for (k, v) in &o {
                    match k.as_str() {
                        "family" => assert_eq!(set["family"], v.as_str(), "{line}"),
                        "hashsize" | "maxelem" | "timeout" | "bucketsize" | "initval" => {
                            let ours = if k == "initval" {
                                format!("{:#010x}", opts[k].as_u64().unwrap())
                            } else {
                                text(&opts[k])
                            };
                            assert_eq!(&ours, v, "{k} of {line}")
                        }
                        "counters" | "comment" | "skbinfo" => {
                            let flags = opts["flags"].as_array().unwrap();
                            assert!(flags.contains(&json!(k)), "{k} of {line}: {flags:?}");
                        }
                        "range" => {
                            let (a, b) = v.split_once('-').unwrap();
                            assert_eq!(
                                opts["port_range"],
                                json!([a.parse::<u16>().unwrap(), b.parse::<u16>().unwrap()]),
                                "{line}"
                            );
                        }
                        _ => {}
                    }
                }
                assert_eq!(
                    set["counts"]["elements"].as_u64().unwrap(),
                    save.lines()
                        .filter(|l| l.starts_with(&format!("add {name} ")))
                        .count() as u64,
                    "{line}"
                );
            }
            "add" => {
                adds += 1;
                let member = &w[2];
                let o = options(&w, 3, &["nomatch"]);
                // The member as its typed entry's JSON.
                let ours: IpSet = serde_json::from_value(set.clone()).unwrap();
                let typed: Vec<Value> = ours
                    .typed_members()
                    .unwrap()
                    .iter()
                    .map(|t| serde_json::to_value(t).unwrap())
                    .collect();
                let found = typed.iter().find(|t| {
                    let (kind, e) = t.as_object().unwrap().iter().next().unwrap();
                    match kind.as_str() {
                        "ip_port" => {
                            format!("{},{}:{}", text(&e["ip"]), text(&e["proto"]), e["port"])
                                == *member
                        }
                        "net" => {
                            format!("{}/{}", text(&e["ip"]), e["cidr"]) == *member
                                && e["nomatch"] == json!(o.contains_key("nomatch"))
                        }
                        "port" => member.parse::<u64>().ok() == e["port"].as_u64(),
                        other => panic!("unexpected entry kind {other}"),
                    }
                });
                let t = found.unwrap_or_else(|| panic!("{line} not in {typed:?}"));
                let e = t.as_object().unwrap().values().next().unwrap();
                let ext = if e.get("ext").is_some() { &e["ext"] } else { e };
                for (k, v) in &o {
                    match k.as_str() {
                        "timeout" | "packets" | "bytes" | "comment" | "skbqueue" => {
                            assert_eq!(&text(&ext[k]), v, "{k} of {line}")
                        }
                        "skbmark" => {
                            let (m, mask) = v.split_once('/').unwrap();
                            let n = |s: &str| u64::from_str_radix(&s[2..], 16).unwrap();
                            assert_eq!(ext[k], json!([n(m), n(mask)]), "{line}");
                        }
                        "skbprio" => {
                            let (a, b) = v.split_once(':').unwrap();
                            assert_eq!(
                                ext[k],
                                json!([a.parse::<u16>().unwrap(), b.parse::<u16>().unwrap()]),
                                "{line}"
                            );
                        }
                        _ => {}
                    }
                }
            }
            other => panic!("unexpected save line {other}: {line}"),
        }
    }
    assert_eq!(adds, 6, "{save}");

    // Read back: the same sets.
    let back: Vec<IpSet> = serde_json::from_str(&json).unwrap();
    let mut known = sets.clone();
    for s in &mut known {
        s.other.clear();
    }
    assert_eq!(back, known);

    // And from that JSON alone, the same sets again under new names: the
    // tool saves them as it saved the originals.
    for s in &back {
        let mut spec = s.to_create();
        spec.name = format!("{}-2", s.name);
        h.create(&spec, false).unwrap();
        for m in &s.members {
            h.add(&spec.name, m, false).unwrap();
        }
        let norm = |name: &str| {
            let mut lines: Vec<String> = ipset(&ns, &["save", name])
                .lines()
                .map(|l| {
                    l.replacen(&format!(" {name} "), " X ", 1)
                        // the hash seed is the kernel's own choice per set
                        .split(" initval ")
                        .next()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(norm(&spec.name), norm(&s.name), "{}", s.name);
    }
}
