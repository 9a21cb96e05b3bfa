//! The `serde` feature: entries, tuples and filters read back as they were
//! written (`Other` values and unknown status bits included), and an entry
//! the real `conntrack` tool created in a throwaway network namespace,
//! listed by this crate as JSON that says what the tool says, then created
//! again from that JSON alone (kernel -> JSON -> kernel).

use std::fmt::Debug;
use std::process::Command;

use conntrack_nl::{
    ConntrackHandle, Counters, Entry, Family, Filter, L4, Netns, Proto, ProtoInfo, SctpInfo,
    Status, TcpFlags, TcpInfo, TcpState, Tuple,
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
fn entries_round_trip() {
    let orig = Tuple::new(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        L4::tcp(40000, 80),
    );
    let mut e = Entry::new(orig)
        .timeout(100)
        .mark(7)
        .status(Status::SEEN_REPLY | Status::ASSURED | Status::from_bits_retain(1 << 30))
        .tcp_state(TcpState::Established);
    e.counters_orig = Some(Counters {
        packets: 1,
        bytes: u64::MAX,
    });
    if let Some(ProtoInfo::Tcp(t)) = &mut e.protoinfo {
        t.flags_orig = Some(TcpFlags { flags: 3, mask: 3 });
    }
    let v = round_trip(&e);
    assert_eq!(
        v["orig"]["l4"],
        json!({"ports": {"proto": "tcp", "src": 40000, "dst": 80}})
    );
    assert_eq!(v["orig"]["src"], "10.0.0.1");
    assert_eq!(v["status"], json!(["seen-reply", "assured", 1u64 << 30]));
    assert_eq!(v["protoinfo"]["tcp"]["state"], "ESTABLISHED");
    assert!(v.get("other").is_none());

    let icmp = Tuple::new(
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
        L4::Icmp {
            proto: Proto::Icmpv6,
            id: 5,
            icmp_type: 128,
            code: 0,
        },
    );
    let mut e = Entry::new(icmp);
    e.protoinfo = Some(ProtoInfo::Tcp(TcpInfo::state(TcpState::Other(42))));
    let v = round_trip(&e);
    assert_eq!(v["orig"]["l4"]["icmp"]["proto"], "icmpv6");
    assert_eq!(v["protoinfo"]["tcp"]["state"], 42);
    let gre = Tuple::new(
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        L4::Other(Proto::Other(47)),
    );
    let mut e = Entry::new(gre);
    e.protoinfo = Some(ProtoInfo::Sctp(SctpInfo {
        state: 3,
        vtag_orig: 1,
        vtag_reply: 2,
    }));
    assert_eq!(round_trip(&e)["orig"]["l4"], json!({"other": 47}));

    let f = Filter::new().family(Family::Ipv6);
    assert_eq!(round_trip(&f)["family"], "ipv6");
    assert!(serde_json::from_value::<Proto>(json!("no-such-proto")).is_err());
    assert!(serde_json::from_value::<Status>(json!(["no-such-flag"])).is_err());
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// Runs the real conntrack tool in `ns`; its stdout.
fn conntrack(ns: &Netns, args: &str) -> String {
    let o = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path()))
        .arg("conntrack")
        .args(args.split_whitespace())
        .output()
        .expect("run nsenter conntrack");
    assert!(
        o.status.success(),
        "conntrack {args}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The `key=value` words of the tool's listing line, in order.
fn pairs(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn kernel_entry_as_json_matches_the_tool_and_is_created_again() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let h = ConntrackHandle::in_netns(&ns).unwrap();
    conntrack(
        &ns,
        "-I -p tcp -s 10.9.0.1 -d 10.9.0.2 --sport 40000 --dport 80 --state ESTABLISHED -t 500 -u SEEN_REPLY,ASSURED -m 7",
    );
    let listed = block_on(h.list()).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let json = serde_json::to_string(&listed[0]).unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();

    // What the tool lists, in the JSON.
    let tool = conntrack(&ns, "-L");
    let line = tool.lines().next().unwrap();
    assert!(line.starts_with("tcp "), "{line}");
    assert!(line.contains(" ESTABLISHED "), "{line}");
    assert_eq!(v["protoinfo"]["tcp"]["state"], "ESTABLISHED", "{json}");
    assert_eq!(v["orig"]["l4"]["ports"]["proto"], "tcp");
    let p = pairs(line);
    let dirs = [&v["orig"], &v["reply"]];
    let mut seen = [0usize; 2];
    for (k, val) in &p {
        // src/dst/sport/dport come twice: original, then reply
        let (dir, field) = match k.as_str() {
            "src" | "dst" => (seen[0], &dirs[seen[0].min(1)][k]),
            "sport" => (seen[1], &dirs[seen[1].min(1)]["l4"]["ports"]["src"]),
            "dport" => (seen[1], &dirs[seen[1].min(1)]["l4"]["ports"]["dst"]),
            "mark" => {
                assert_eq!(v["mark"].to_string(), *val, "{json}");
                continue;
            }
            _ => continue,
        };
        let ours = match field {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(&ours, val, "{k} (direction {dir}) of {line} in {json}");
        if k == "dst" {
            seen[0] += 1;
        }
        if k == "dport" {
            seen[1] += 1;
        }
    }
    assert_eq!(seen, [2, 2], "{line}");
    let status = v["status"].as_array().unwrap();
    assert!(status.contains(&json!("assured")), "{json}");
    assert!(line.contains("[ASSURED]"), "{line}");

    // Read back equal; then, the entry deleted, created again from the
    // JSON alone: the tool lists the same connection.
    let back: Entry = serde_json::from_str(&json).unwrap();
    let mut known = listed[0].clone();
    known.other.clear();
    known.orig.other.clear();
    known.reply.other.clear();
    assert_eq!(back, known);
    conntrack(&ns, "-D -p tcp -s 10.9.0.1");
    assert!(block_on(h.list()).unwrap().is_empty());
    let mut again = back.clone();
    // The kernel sets these bits itself and refuses them in a request.
    again.status &= !Status::UNCHANGEABLE;
    again.id = None;
    again.use_count = None;
    block_on(h.create(&again)).unwrap();
    let tool2 = conntrack(&ns, "-L");
    let line2 = tool2.lines().next().unwrap();
    let strip = |l: &str| -> Vec<(String, String)> {
        pairs(l).into_iter().filter(|(k, _)| k != "use").collect()
    };
    assert_eq!(strip(line2), strip(line), "{line2} vs {line}");
    assert!(
        line2.contains(" ESTABLISHED ") && line2.contains("[ASSURED]"),
        "{line2}"
    );
    let relisted = block_on(h.list()).unwrap();
    assert_eq!(relisted.len(), 1);
    assert_eq!(relisted[0].orig, listed[0].orig);
    assert_eq!(relisted[0].reply, listed[0].reply);
    assert_eq!(relisted[0].mark, Some(7));
}
