//! Helpers shared by the kernel tests of every crate of this workspace
//! (never published; each crate has it as a path-only dev-dependency,
//! which `cargo publish` strips).
//!
//! It depends on none of the workspace's library crates: a namespace is
//! named by its path (`nl_engine::Netns::proc_path()`, any
//! `/proc/PID/ns/net` or `/run/netns/NAME`), so that the tests create and
//! drop their namespaces with the crate under test (`Netns::new_anonymous`,
//! gone when the last handle on it is) and pass `ns.proc_path()` here.
//!
//! - [`block_on`]: a current-thread Tokio runtime (never `#[tokio::test]`:
//!   the "macros" feature is not allowed in this workspace).
//! - [`enter`]: runs a closure on a helper thread inside a namespace.
//! - [`nsenter`], [`sh`], [`tool`], [`run`], [`run_in`], [`merged`]: reference
//!   tools (and our examples) run inside a namespace with
//!   `nsenter --net=PATH`; [`require_tool`] fails a test whose tool is
//!   missing.
//! - [`require_guest`]: fails unless this runs in a guest kernel that
//!   `tools/guest` booted.
//! - [`netlink`]: a netlink-proto connection in a namespace and the
//!   request/reply helpers of the "bring your own connection" tests.
//! - [`dnat`]: the four-namespace topology (client, node, two backends)
//!   of the DNAT traffic tests, and small TCP servers and clients in it.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod dnat;
pub mod netlink;

/// Runs `f` to completion on a fresh current-thread Tokio runtime with
/// every driver (I/O, time) enabled, as the netlink handles need.
///
/// # Panics
/// When the runtime cannot be built.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

/// Runs `f` on a helper thread that has entered the network namespace at
/// `ns` (a path such as `nl_engine::Netns::proc_path()`), and returns its
/// result; the calling thread never changes namespace.
///
/// # Panics
/// When the namespace cannot be opened or entered, and when `f` panics.
pub fn enter<F, R>(ns: impl AsRef<Path>, f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let path = ns.as_ref();
    let file = std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("open the namespace {}: {e}", path.display()));
    std::thread::scope(|s| {
        let thread = s.spawn(|| {
            // SAFETY: the descriptor belongs to `file`, which outlives this
            // scoped thread; setns only reads it and moves this helper
            // thread, which ends when `f` returns.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                panic!(
                    "enter the namespace {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                );
            }
            f()
        });
        match thread.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// A `Command` for `nsenter --net=PATH` into the namespace at `ns`; add
/// the program and its arguments.
pub fn nsenter(ns: impl AsRef<Path>) -> Command {
    let mut arg = std::ffi::OsString::from("--net=");
    arg.push(ns.as_ref());
    let mut c = Command::new("nsenter");
    c.arg(arg);
    c
}

/// Runs `args` (a program and its arguments) in `ns`, asserts that it
/// succeeded (the message shows its output) and returns its stdout.
///
/// # Panics
/// When it cannot be run or fails.
pub fn sh(ns: impl AsRef<Path>, args: &[&str]) -> String {
    let out = nsenter(ns)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run nsenter {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `args` (a program and its arguments) in `ns`, success or not:
/// (success, stdout followed by stderr).
///
/// # Panics
/// When it cannot be run at all.
pub fn tool(ns: impl AsRef<Path>, args: &[&str]) -> (bool, String) {
    let (ok, out, err) = run(ns, args, None);
    (ok, out + &err)
}

/// The member lines of `ipset list NAME` in `ns` (the lines after
/// `Members:`, trimmed), as the reference tool prints them.
///
/// # Panics
/// When `ipset list NAME` fails.
pub fn ipset_members(ns: impl AsRef<Path>, name: &str) -> std::collections::BTreeSet<String> {
    let (ok, text) = tool(ns, &["ipset", "list", name]);
    assert!(ok, "ipset list {name}: {text}");
    text.lines()
        .skip_while(|l| !l.starts_with("Members:"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect()
}

/// Runs `args` (a program and its arguments) in `ns`, with `stdin` (if
/// any) written to its standard input, success or not: (success, stdout,
/// stderr).
///
/// # Panics
/// When it cannot be run at all.
pub fn run(ns: impl AsRef<Path>, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let (prog, rest) = match args.split_first() {
        Some(p) => p,
        None => panic!("run: no program given"),
    };
    let out = run_in(ns, prog, rest, stdin.unwrap_or(""));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `prog args` in `ns` with `stdin` written to its standard input
/// (then closed) and returns its output.
///
/// # Panics
/// When it cannot be run at all.
pub fn run_in(ns: impl AsRef<Path>, prog: impl AsRef<OsStr>, args: &[&str], stdin: &str) -> Output {
    let prog = prog.as_ref();
    let mut c = nsenter(ns)
        .arg(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run nsenter {prog:?}: {e}"));
    if let Some(mut input) = c.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .unwrap_or_else(|e| panic!("write to {prog:?}: {e}"));
    }
    c.wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {prog:?}: {e}"))
}

/// A process's stdout followed by its stderr, as text.
pub fn merged(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The path of the reference tool `name` (the first of `candidates` that
/// exists, else the first executable `name` on `PATH`).
///
/// # Panics
/// When it is not installed: a test that needs a tool fails, never skips.
pub fn require_tool(name: &str, candidates: &[&str]) -> PathBuf {
    let path_dirs = std::env::var_os("PATH").unwrap_or_default();
    candidates
        .iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path_dirs).map(|d| d.join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("the reference tool {name} is not installed"))
}

/// Panics unless this process runs in a guest kernel that `tools/guest`
/// booted (its command line carries `clusterip_rig=1`, which no host's
/// does). Guest tests call it first: they load kernel modules, and the
/// scenario builds bridges and namespaces in the root namespace of the
/// kernel it runs on, which must never be a host's.
pub fn require_guest() {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    assert!(
        cmdline.split_whitespace().any(|w| w == "clusterip_rig=1"),
        "this test runs only inside a guest kernel started by tools/guest \
         (tools/test runs it there); refusing to run on this machine's own kernel"
    );
}

/// The workspace's root directory (this crate's parent): where
/// `tools/`, the root package's `tests/data` and its `Cargo.toml` are,
/// whichever member's test asks.
pub fn workspace_root() -> &'static Path {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here)
}
