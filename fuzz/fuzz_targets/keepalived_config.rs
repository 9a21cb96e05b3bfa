//! The keepalived configuration reader (`clusterip::keepalived`) over
//! arbitrary text: `Config::parse_str`, then every typed field.
//!
//! The module is compiled here from `src/keepalived.rs` (it uses nothing but
//! `std` and `thiserror`), so this target does not build the whole umbrella
//! crate; it is the same code `clusterip::keepalived` exports.
//!
//! `include` statements read files: relative patterns resolve in a scratch
//! directory this target fills with two small files; inputs that could reach
//! anywhere else (an include with a `/`) are skipped, so the fuzzer never
//! reads the machine's files (or blocks on `/dev/stdin`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../src/keepalived.rs"]
#[allow(dead_code)]
mod keepalived;

use keepalived::Config;

/// The scratch directory holding the files relative includes may reach.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Inside fuzz/ (git-ignored), one fixed place: runs leave nothing
        // behind in the machine's temporary directory.
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scratch/keepalived"));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        std::fs::write(
            dir.join("vs.conf"),
            "virtual_server 10.0.0.100 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n \
             real_server 10.0.0.13 80 {\n  weight 1\n  TCP_CHECK {\n   connect_timeout 5\n  }\n }\n}\n",
        )
        .expect("scratch file");
        std::fs::write(dir.join("global.conf"), "global_defs {\n router_id fuzz\n}\n")
            .expect("scratch file");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if text.contains("include") && text.contains('/') {
        return;
    }
    let name = scratch().join("keepalived.conf");
    match Config::parse_str(&text, &name) {
        Ok(cfg) => {
            assert_eq!(cfg.files.first(), Some(&name));
            for vs in &cfg.virtual_servers {
                let _ = (format!("{vs:?}"), vs.effective_protocol().name());
            }
            for b in &cfg.other {
                let _ = b.child("x");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
        }
    }
});
