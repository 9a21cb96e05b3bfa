//! The `ipset` example's command-line and restore-file parser
//! (`examples/ipset/cli.rs`, compiled here as a module as its header
//! suggests) over arbitrary text: every line as a restore-file line and as
//! a command line split into words, and the whole input as an
//! `/etc/protocols` file.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../examples/ipset/cli.rs"]
#[allow(dead_code)]
mod cli;

use cli::{Protocols, RestoreLine};
use ipset_nl::{Element, SetType};

/// A fixed protocol table (the machine's /etc/protocols would make runs
/// depend on the machine).
fn protos() -> &'static Protocols {
    static P: OnceLock<Protocols> = OnceLock::new();
    P.get_or_init(|| {
        Protocols::parse(
            "ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\nipv6-icmp 58 IPv6-ICMP icmpv6\n\
             udplite 136 UDPLite\nsctp 132 SCTP\n",
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let p = Protocols::parse(&text);
    for (num, name) in &p.by_num {
        assert!(p.by_name.contains_key(name), "{num} {name}");
    }
    for line in text.lines() {
        match cli::parse_restore_line(line, protos()) {
            Ok(RestoreLine::Adt { text, args, .. }) => {
                // The element read as a member of every typed set type.
                for t in [
                    SetType::HashIpPort,
                    SetType::HashIp,
                    SetType::HashNet,
                    SetType::HashIpPortIp,
                    SetType::HashIpPortNet,
                    SetType::BitmapPort,
                ] {
                    if let Ok(elem) = cli::parse_member(&t, &text, &args, protos()) {
                        let _ = (elem.to_string(), format!("{elem:#}"), elem.to_attrs());
                    }
                }
            }
            Ok(RestoreLine::Create(c)) => {
                let _ = (c.set_type.to_string(), c.options.to_attrs());
            }
            // destroy, flush, rename, swap (add and del are read above)
            Ok(RestoreLine::Command(c)) => {
                assert!(
                    matches!(
                        c,
                        cli::Cmd::Destroy(_)
                            | cli::Cmd::Flush(_)
                            | cli::Cmd::Rename(..)
                            | cli::Cmd::Swap(..)
                    ),
                    "{line:?}: {c:?}"
                );
            }
            Ok(RestoreLine::Nothing) => {}
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        let words = cli::split_words(line);
        if let Err(e) = cli::parse_args(&words, protos()) {
            assert!(!e.to_string().is_empty());
        }
    }
});
