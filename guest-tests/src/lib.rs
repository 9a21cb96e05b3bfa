//! The workspace's tests that need a guest kernel with IPVS, in `tests/`
//! (never published). This library is empty: a package needs a target of
//! its own besides its tests.
//!
//! ```text
//! cargo test --workspace --all-features --no-run   # builds them (feature `guest`)
//! tools/guest --kernel uml -- target/debug/deps/guest_uml_ipvsadm-HASH --test-threads=2
//! ```
//!
//! `tools/test` builds them with that command and runs every test binary
//! whose name starts with `guest` under `tools/guest` (`guest_uml*` under
//! user-mode-linux, the others under QEMU).
