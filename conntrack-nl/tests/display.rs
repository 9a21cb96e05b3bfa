//! `Display` of the model types in the `conntrack` tool's words, offline,
//! and once against the tool itself (in a throwaway network namespace).

use conntrack_nl::{
    Command, ConntrackHandle, Counters, CtMessage, DeleteReport, Entry, L4, Netns, Proto,
    ProtoInfo, RawAttr, SctpInfo, Status, TcpFlags, TcpInfo, TcpState,
};

#[test]
fn offline() {
    assert_eq!(L4::udp(5000, 53).to_string(), "sport=5000 dport=53");
    assert_eq!(L4::icmp(7, 8, 0).to_string(), "type=8 code=0 id=7");
    assert_eq!(L4::Other(Proto::Other(47)).to_string(), "");
    assert_eq!(Status::empty().to_string(), "UNSET");
    assert_eq!(
        (Status::ASSURED | Status::SEEN_REPLY | Status::CONFIRMED).to_string(),
        "SEEN_REPLY,ASSURED,CONFIRMED"
    );
    assert_eq!(
        (Status::HW_OFFLOAD | Status::from_bits_retain(1 << 20)).to_string(),
        "HW_OFFLOAD,0x100000"
    );
    assert_eq!(
        TcpFlags {
            flags: 0x0a,
            mask: 0
        }
        .to_string(),
        "flags=0x0a mask=0x00"
    );
    assert_eq!(
        ProtoInfo::Tcp(TcpInfo::state(TcpState::TimeWait)).to_string(),
        "TIME_WAIT"
    );
    let sctp = |state| SctpInfo {
        state,
        vtag_orig: 1,
        vtag_reply: 2,
    };
    assert_eq!(ProtoInfo::Sctp(sctp(4)).to_string(), "ESTABLISHED");
    assert_eq!(sctp(3).to_string(), "COOKIE_ECHOED");
    assert_eq!(sctp(42).to_string(), "state 42");
    let raw = RawAttr::new(0x8012, vec![10, 11, 12]);
    assert_eq!(raw.to_string(), "attr 0x8012 (3 bytes: 0a0b0c)");
    assert_eq!(
        ProtoInfo::Other(raw).to_string(),
        "attr 0x8012 (3 bytes: 0a0b0c)"
    );
    assert_eq!(
        Counters {
            packets: 3,
            bytes: 180
        }
        .to_string(),
        "packets=3 bytes=180"
    );
    assert_eq!(
        CtMessage::new(Command::New, 2, vec![0; 40]).to_string(),
        "new family 2 (40 bytes of attributes)"
    );
    let r = DeleteReport {
        matched: 3,
        deleted: 2,
        vanished: 1,
        failures: vec![],
    };
    assert_eq!(
        r.to_string(),
        "2 of 3 flow entries deleted (1 vanished, 0 failed)"
    );
}

/// What the tool creates, we list; the words our `Display` writes are the
/// ones in the tool's own listing of the same entry.
#[test]
fn words_match_the_conntrack_tool() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let run = |args: &[&str]| {
        let o = clusterip_test_support::nsenter(ns.proc_path())
            .arg("conntrack")
            .args(args)
            .output()
            .expect("run nsenter conntrack");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&[
        "-I",
        "-p",
        "tcp",
        "-s",
        "10.0.0.1",
        "-d",
        "10.0.0.2",
        "--sport",
        "1000",
        "--dport",
        "80",
        "--state",
        "TIME_WAIT",
        "-t",
        "100",
        "-u",
        "SEEN_REPLY",
    ]);
    run(&[
        "-I",
        "-p",
        "icmp",
        "-s",
        "10.0.0.1",
        "-d",
        "10.0.0.3",
        "--icmp-type",
        "8",
        "--icmp-code",
        "0",
        "--icmp-id",
        "77",
        "-t",
        "30",
    ]);
    let tool = run(&["-L"]);
    let entries: Vec<Entry> = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            ConntrackHandle::in_netns(&ns)
                .unwrap()
                .list()
                .await
                .unwrap()
        });
    assert_eq!(entries.len(), 2);
    for e in &entries {
        let line = tool
            .lines()
            .find(|l| l.starts_with(&e.orig.l4.proto().to_string()))
            .unwrap_or_else(|| panic!("{e} not in {tool}"));
        let orig = format!("src={} dst={} {}", e.orig.src, e.orig.dst, e.orig.l4);
        assert!(line.contains(&orig), "{orig:?} not in {line:?}");
        let reply = format!("src={} dst={} {}", e.reply.src, e.reply.dst, e.reply.l4);
        assert!(line.contains(&reply), "{reply:?} not in {line:?}");
        if let Some(p) = &e.protoinfo {
            assert!(line.contains(&format!(" {p} ")), "{p} not in {line:?}");
        }
    }
}
