//! ipvs-nl's reader of `/proc/net/ip_vs_conn` over arbitrary text:
//! `conn_table::parse` (the whole file) and `conn_table::parse_line`, then
//! the filters applied to every entry.
#![no_main]

use ipvs_nl::Protocol;
use ipvs_nl::conn_table::{self, ConnFilter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let whole = conn_table::parse(&text);
    let mut by_line = Vec::new();
    for line in text.lines() {
        if let Some(e) = conn_table::parse_line(line) {
            let _ = (e.is_template(), e.state.name(), e.state.to_string());
            let filters = [
                ConnFilter::new(),
                ConnFilter::new().service(e.protocol, e.virtual_addr),
                ConnFilter::new()
                    .protocol(Protocol::Tcp)
                    .destination(e.destination)
                    .client(e.client.ip()),
                ConnFilter::new().destination_ip(e.destination.ip()),
            ];
            for f in &filters[..2] {
                assert!(f.matches(&e), "{f:?} does not match its own entry {e:?}");
            }
            for f in &filters[2..] {
                let _ = f.matches(&e);
            }
            by_line.push(e);
        }
    }
    // A whole file that parses is exactly its parseable lines.
    if let Ok(all) = whole {
        assert_eq!(all, by_line);
    }
});
