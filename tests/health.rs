//! The health checker (`clusterip::health`) against real sockets and real
//! processes, each test inside its own throwaway network namespace: the
//! servers listen on the namespace's loopback (sockets created inside it)
//! and the checker runs in the same namespace
//! (`MonitorOptions::netns`). Intervals are tens of milliseconds; the
//! tests assert on the events and the published destinations, never on
//! how long things took (except that a timeout is not cut short).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clusterip::health::{HealthEvent, HealthMonitor, MonitorOptions, ServerId};
use clusterip::keepalived::Config;
use clusterip::netlink::Netns;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod common;
use common::{block_on, netns_with_lo, sh};

// ---------------------------------------------------------------- servers

/// A listener on 127.0.0.1:`port` of `ns` (0: any free port), for the
/// current runtime. The socket is created on a thread inside `ns`.
fn listen(ns: &Netns, port: u16) -> TcpListener {
    let l = ns
        .run(move || std::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap()
        .unwrap();
    l.set_nonblocking(true).unwrap();
    TcpListener::from_std(l).unwrap()
}

fn port_of(l: &TcpListener) -> u16 {
    l.local_addr().unwrap().port()
}

/// A server that accepts connections (and closes them).
fn serve_accept(l: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    })
}

/// A server that accepts connections and never answers, holding them open.
fn serve_silent(l: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    })
}

/// What an HTTP test server answers, and the requests it saw.
#[derive(Clone, Default)]
struct Http {
    answer: Arc<Mutex<(u16, Vec<u8>)>>,
    requests: Arc<Mutex<Vec<String>>>,
    peers: Arc<Mutex<Vec<std::net::SocketAddr>>>,
}

impl Http {
    fn set(&self, status: u16, body: &[u8]) {
        *self.answer.lock().unwrap() = (status, body.to_vec());
    }
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn write_all(s: &TcpStream, mut data: &[u8]) {
    while !data.is_empty() {
        if s.writable().await.is_err() {
            return;
        }
        match s.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// A small HTTP server: reads a request header, answers with the current
/// status and body, closes.
fn serve_http(l: TcpListener, h: Http) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((s, peer)) = l.accept().await {
            h.peers.lock().unwrap().push(peer);
            let h = h.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    if s.readable().await.is_err() {
                        return;
                    }
                    match s.try_read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
                h.requests
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&req).into_owned());
                let (code, body) = h.answer.lock().unwrap().clone();
                let mut resp = format!(
                    "HTTP/1.0 {code} Whatever\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                resp.extend_from_slice(&body);
                write_all(&s, &resp).await;
            });
        }
    })
}

// ----------------------------------------------------------------- events

/// The monitor's event channel, waited on with a limit; events put aside
/// by [`Events::server_until`] are read again by the next call.
struct Events {
    rx: UnboundedReceiver<HealthEvent>,
    backlog: VecDeque<HealthEvent>,
}

fn of_server(e: &HealthEvent) -> Option<ServerId> {
    match e {
        HealthEvent::CheckFailed { server, .. }
        | HealthEvent::CheckPassed { server, .. }
        | HealthEvent::RealServerUp { server }
        | HealthEvent::RealServerDown { server, .. }
        | HealthEvent::WeightChanged { server, .. } => Some(*server),
        _ => None,
    }
}

impl Events {
    async fn next(&mut self, what: &str, deadline: Instant, got: &[HealthEvent]) -> HealthEvent {
        if let Some(e) = self.backlog.pop_front() {
            return e;
        }
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(e)) => e,
            Ok(None) => panic!("event channel closed waiting for {what}: {got:#?}"),
            Err(_) => panic!("no {what} within 10 s; got {got:#?}"),
        }
    }

    /// The events up to and including the first one `pred` accepts; fails
    /// (showing what came) when none comes within 10 s.
    async fn until(&mut self, what: &str, pred: impl Fn(&HealthEvent) -> bool) -> Vec<HealthEvent> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        loop {
            let e = self.next(what, deadline, &got).await;
            let hit = pred(&e);
            got.push(e);
            if hit {
                return got;
            }
        }
    }

    /// The events of server `id` up to and including its `RealServerUp`
    /// (`up`) or `RealServerDown`; the other events met on the way are put
    /// aside for the next calls.
    async fn server_until(&mut self, id: ServerId, up: bool) -> Vec<HealthEvent> {
        let what = if up { "RealServerUp" } else { "RealServerDown" };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        let mut aside = Vec::new();
        loop {
            let e = self.next(what, deadline, &got).await;
            if of_server(&e) != Some(id) {
                aside.push(e);
                continue;
            }
            let hit = match e {
                HealthEvent::RealServerUp { .. } => up,
                HealthEvent::RealServerDown { .. } => !up,
                _ => false,
            };
            got.push(e);
            if hit {
                for e in aside.into_iter().rev() {
                    self.backlog.push_front(e);
                }
                return got;
            }
        }
    }

    /// The events already received, without waiting.
    fn pending(&mut self) -> Vec<HealthEvent> {
        let mut out: Vec<_> = self.backlog.drain(..).collect();
        out.extend(std::iter::from_fn(|| self.rx.try_recv().ok()));
        out
    }
}

/// `events` without the failed attempts.
fn no_failures(events: Vec<HealthEvent>) -> Vec<HealthEvent> {
    events
        .into_iter()
        .filter(|e| !matches!(e, HealthEvent::CheckFailed { .. }))
        .collect()
}

fn start(cfg: &str, ns: &Netns) -> (Config, HealthMonitor, Events) {
    start_with_rise(cfg, ns, 1)
}

fn start_with_rise(cfg: &str, ns: &Netns, rise: u32) -> (Config, HealthMonitor, Events) {
    let cfg = Config::parse_str(cfg, "health.conf").unwrap();
    let (m, rx) = HealthMonitor::start(
        &cfg,
        MonitorOptions {
            netns: ns.clone(),
            seed: 42,
            jitter: 0.1,
            rise,
        },
    )
    .unwrap();
    (
        cfg,
        m,
        Events {
            rx,
            backlog: VecDeque::new(),
        },
    )
}

/// The destinations of the first service: address:port -> weight.
fn dests(m: &HealthMonitor) -> BTreeMap<String, u32> {
    let services = m.services();
    // The published update agrees with the direct reading.
    assert_eq!(m.updates().borrow().services, services);
    services[0]
        .1
        .iter()
        .map(|d| (format!("{}:{}", d.addr, d.port), d.weight.0))
        .collect()
}

fn map(entries: &[(&str, u32)]) -> BTreeMap<String, u32> {
    entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

const A: ServerId = ServerId { vs: 0, rs: 0 };
const B: ServerId = ServerId { vs: 0, rs: 1 };

/// Asserts `events` are `n` failed attempts, numbered from 1, each retried
/// but the last, then `RealServerDown`: the server left the pool right
/// after its last retry, with no check in between.
fn assert_fails_then_down(events: &[HealthEvent], n: u32, reason: &str) {
    assert_eq!(events.len() as u32, n + 1, "{events:#?}");
    for (i, e) in events[..n as usize].iter().enumerate() {
        match e {
            HealthEvent::CheckFailed {
                attempt,
                retrying,
                reason: r,
                ..
            } => {
                assert_eq!(*attempt, i as u32 + 1, "{events:#?}");
                assert_eq!(*retrying, i as u32 + 1 < n, "{events:#?}");
                assert!(r.contains(reason), "{r:?} lacks {reason:?}");
            }
            other => panic!("expected a failed check, got {other:?} in {events:#?}"),
        }
    }
    assert!(
        matches!(&events[n as usize], HealthEvent::RealServerDown { reason: r, .. } if r.contains(reason)),
        "{events:#?}"
    );
}

// ------------------------------------------------------------------ tests

#[test]
fn tcp_check_down_after_retries_and_recovered() {
    let ns = netns_with_lo();
    block_on(async {
        let l = listen(&ns, 0);
        let port = port_of(&l);
        let server = serve_accept(l);
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.05\n lb_kind NAT\n\
                 real_server 127.0.0.1 {port} {{\n  weight 3\n  TCP_CHECK {{\n   connect_timeout 1\n   \
                 retry 2\n   delay_before_retry 0.02\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        let first = ev.pending();
        assert!(
            matches!(first[..], [HealthEvent::QuorumGained { weight: 3, .. }]),
            "{first:?}"
        );
        assert_eq!(dests(&m), map(&[(&format!("127.0.0.1:{port}"), 3)]));
        // Let a few checks succeed: nothing happens.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(ev.pending().is_empty());

        let mut updates = m.updates();
        assert_eq!(updates.borrow_and_update().generation, 0);
        // The server goes away: one failure and two retries, then down.
        server.abort();
        let _ = server.await;
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 3, "connect to 127.0.0.1:");
        assert!(dests(&m).is_empty());
        // The change was published.
        assert!(updates.has_changed().unwrap());
        let u = updates.borrow_and_update().clone();
        assert_eq!(u.generation, 1);
        assert!(u.services[0].1.is_empty());
        assert!(!u.state.server(A).unwrap().alive);
        let lost = ev
            .until("QuorumLost", |e| {
                matches!(e, HealthEvent::QuorumLost { .. })
            })
            .await;
        assert_eq!(
            lost.len(),
            1,
            "quorum lost right after the server: {lost:?}"
        );

        // While down, it is checked every delay_loop and not retried.
        let more = ev
            .until("a failure while down", |e| {
                matches!(e, HealthEvent::CheckFailed { .. })
            })
            .await;
        assert!(
            matches!(
                more[..],
                [HealthEvent::CheckFailed {
                    attempt: 4,
                    retrying: false,
                    ..
                }]
            ),
            "{more:?}"
        );

        // It comes back on the same port: up at its weight, quorum regained.
        let _server = serve_accept(listen(&ns, port));
        ev.server_until(A, true).await;
        let gained = ev
            .until("QuorumGained", |e| {
                matches!(e, HealthEvent::QuorumGained { .. })
            })
            .await;
        assert!(
            matches!(gained[..], [HealthEvent::QuorumGained { weight: 3, .. }]),
            "{gained:?}"
        );
        assert_eq!(dests(&m), map(&[(&format!("127.0.0.1:{port}"), 3)]));
        assert!(m.state().server(A).unwrap().alive);
    });
}

/// `rise`: a down server comes back only after that many successful checks
/// in a row (each one before the last reported as `CheckPassed`), and a
/// failure in between starts the count again; the fall side is `retry`.
#[test]
fn rise_counts_successes_in_a_row_before_up() {
    let ns = netns_with_lo();
    block_on(async {
        let l = listen(&ns, 0);
        let port = port_of(&l);
        let server = serve_accept(l);
        let (_cfg, m, mut ev) = start_with_rise(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.05\n lb_kind NAT\n\
                 real_server 127.0.0.1 {port} {{\n  TCP_CHECK {{\n   connect_timeout 1\n   \
                 retry 0\n  }}\n }}\n}}\n"
            ),
            &ns,
            3,
        );
        // up from the start (no alpha): a failure takes it down at once
        server.abort();
        let _ = server.await;
        let down = ev.server_until(A, false).await;
        assert_fails_then_down(&down, 1, "connect to 127.0.0.1:");
        assert!(dests(&m).is_empty());
        // back: two checks pass without bringing it up, the third does
        let _server = serve_accept(listen(&ns, port));
        let up = ev.server_until(A, true).await;
        let passed: Vec<(u32, u32)> = up
            .iter()
            .filter_map(|e| match e {
                HealthEvent::CheckPassed { streak, rise, .. } => Some((*streak, *rise)),
                _ => None,
            })
            .collect();
        assert_eq!(passed, [(1, 3), (2, 3)], "{up:#?}");
        assert!(
            matches!(up.last(), Some(HealthEvent::RealServerUp { server: A })),
            "{up:#?}"
        );
        assert_eq!(dests(&m), map(&[(&format!("127.0.0.1:{port}"), 1)]));
    });
}

#[test]
fn http_get_status_and_digest() {
    let ns = netns_with_lo();
    block_on(async {
        let l = listen(&ns, 0);
        let port = port_of(&l);
        let http = Http::default();
        // RFC 1321's "abc".
        http.set(200, b"abc");
        let _server = serve_http(l, http.clone());
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.03\n alpha\n\
                 real_server 127.0.0.1 {port} {{\n  HTTP_GET {{\n   url {{\n    path /healthz\n    \
                 status_code 200\n    digest 900150983cd24fb0d6963f7d28e17f72\n   }}\n   \
                 connect_timeout 1\n   retry 1\n   delay_before_retry 0.01\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        // alpha: down until the first successful check.
        assert!(dests(&m).is_empty());
        ev.server_until(A, true).await;
        assert_eq!(dests(&m), map(&[(&format!("127.0.0.1:{port}"), 1)]));
        let req = &http.requests()[0];
        assert!(req.starts_with("GET /healthz HTTP/1.0\r\n"), "{req:?}");
        assert!(
            req.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
            "{req:?}"
        );

        // Same status, another body: the digest no longer matches.
        http.set(200, b"abd");
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 2, "body digest");
        assert!(dests(&m).is_empty());
        http.set(200, b"abc");
        ev.server_until(A, true).await;

        // The right body with another status.
        http.set(503, b"abc");
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 2, "status 503 not accepted");
        http.set(200, b"abc");
        ev.server_until(A, true).await;
        assert_eq!(dests(&m), map(&[(&format!("127.0.0.1:{port}"), 1)]));
    });
}

#[test]
fn http_get_without_digest_accepts_any_body_and_listed_statuses() {
    let ns = netns_with_lo();
    block_on(async {
        let l = listen(&ns, 0);
        let port = port_of(&l);
        let http = Http::default();
        http.set(404, b"not here");
        let _server = serve_http(l, http.clone());
        // As in the seeds (seed000): a 404 is the healthy answer.
        let (_cfg, _m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.03\n alpha\n\
                 real_server 127.0.0.1 8080 {{\n  HTTP_GET {{\n   url {{\n    path /404\n    \
                 status_code 404\n   }}\n   connect_port {port}\n   virtualhost svc.example\n   \
                 bindto 127.0.0.5\n   \
                 connect_timeout 1\n   retry 0\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        ev.server_until(A, true).await;
        let req = &http.requests()[0];
        assert!(req.contains("\r\nHost: svc.example\r\n"), "{req:?}");
        // bindto: the checks come from 127.0.0.5.
        let peers = http.peers.lock().unwrap().clone();
        assert!(
            !peers.is_empty() && peers.iter().all(|p| p.ip().to_string() == "127.0.0.5"),
            "{peers:?}"
        );
        http.set(200, b"found");
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 1, "status 200 not accepted");
    });
}

#[test]
fn server_that_never_answers_times_out() {
    let ns = netns_with_lo();
    block_on(async {
        let l = listen(&ns, 0);
        let port = port_of(&l);
        let _server = serve_silent(l);
        let started = Instant::now();
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.05\n\
                 real_server 127.0.0.1 {port} {{\n  HTTP_GET {{\n   url {{\n    path /\n   }}\n   \
                 connect_timeout 0.3\n   retry 0\n  }}\n }}\n\
                 real_server 127.0.0.2 {port} {{\n  TCP_CHECK {{\n   connect_ip 127.0.0.1\n   connect_timeout 0.3\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 1, "no complete answer within 300ms");
        // The timeout was honoured: not cut short.
        assert!(started.elapsed() >= Duration::from_millis(300));
        // The same server passes a TCP_CHECK (it accepts connections).
        assert!(m.state().server(B).unwrap().alive);
        assert!(!m.state().server(A).unwrap().alive);
        // Another round times out as well: the checker does not hang.
        ev.until(
            "a second timeout",
            |e| matches!(e, HealthEvent::CheckFailed { server, attempt: 2, .. } if *server == A),
        )
        .await;
    });
}

/// A scratch directory under target/, removed on drop.
struct Scratch(PathBuf);
impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("health-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn misc_check_exit_codes_dynamic_weight_and_namespace() {
    let ns = netns_with_lo();
    // An address only this namespace has: the script checks it runs there.
    sh(&ns, &["ip", "addr", "add", "192.0.2.77/32", "dev", "lo"]);
    let dir = Scratch::new("misc");
    let code = dir.0.join("code");
    std::fs::write(&code, "0").unwrap();
    let script = format!(
        "grep -q 192.0.2.77 /proc/net/fib_trie || exit 1; exit $(cat {})",
        code.display()
    );
    block_on(async {
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.03\n alpha\n\
                 real_server 10.0.0.1 80 {{\n  weight 4\n  MISC_CHECK {{\n   misc_path \"{script}\"\n   \
                 misc_timeout 2\n   misc_dynamic\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        // Exit 0: up, with the configured weight (the script ran in the
        // namespace: it saw its address).
        ev.server_until(A, true).await;
        assert_eq!(dests(&m), map(&[("10.0.0.1:80", 4)]));
        // Exit 2 + 7: weight 7.
        std::fs::write(&code, "9").unwrap();
        let e = ev
            .until("WeightChanged", |e| {
                matches!(e, HealthEvent::WeightChanged { .. })
            })
            .await;
        let e: Vec<_> = e.into_iter().filter(|e| of_server(e).is_some()).collect();
        assert_eq!(
            e,
            [HealthEvent::WeightChanged {
                server: A,
                weight: 7
            }]
        );
        assert_eq!(dests(&m), map(&[("10.0.0.1:80", 7)]));
        // Exit 1: down at once (MISC_CHECK's default retry is 0).
        std::fs::write(&code, "1").unwrap();
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 1, "exited with status 1");
        assert!(dests(&m).is_empty());
        // Exit 2: up, weight 0 (which loses the quorum of 1).
        std::fs::write(&code, "2").unwrap();
        let e = no_failures(ev.server_until(A, true).await);
        assert_eq!(
            e,
            [
                HealthEvent::WeightChanged {
                    server: A,
                    weight: 0
                },
                HealthEvent::RealServerUp { server: A }
            ]
        );
        assert_eq!(dests(&m), map(&[("10.0.0.1:80", 0)]));
        // Exit 0 keeps the weight the script gave last.
        std::fs::write(&code, "0").unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            !ev.pending()
                .iter()
                .any(|e| matches!(e, HealthEvent::WeightChanged { .. })),
        );
        assert_eq!(dests(&m), map(&[("10.0.0.1:80", 0)]));
    });
}

#[test]
fn misc_check_without_dynamic_and_outside_the_namespace_marker() {
    let ns = netns_with_lo();
    let dir = Scratch::new("plain");
    let code = dir.0.join("code");
    std::fs::write(&code, "3").unwrap();
    block_on(async {
        // Without misc_dynamic, 3 is a failure; and in a namespace without
        // the marker address, the other test's check fails.
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.03\n\
                 real_server 10.0.0.1 80 {{\n  MISC_CHECK {{\n   misc_path \"exit $(cat {})\"\n   misc_timeout 5\n  }}\n }}\n\
                 real_server 10.0.0.2 80 {{\n  MISC_CHECK {{\n   misc_path \"grep -q 192.0.2.77 /proc/net/fib_trie\"\n   misc_timeout 5\n  }}\n }}\n}}\n",
                code.display()
            ),
            &ns,
        );
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 1, "exited with status 3");
        let events = ev.server_until(B, false).await;
        assert_fails_then_down(&events, 1, "exited with status 1");
        std::fs::write(&code, "0").unwrap();
        ev.server_until(A, true).await;
        assert_eq!(dests(&m), map(&[("10.0.0.1:80", 1)]));
    });
}

/// Whether process `pid` is gone (or a zombie waiting for its reaper).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// The first complete line of `file` (a pid a check script appended),
/// waiting up to 5 s for it.
async fn first_pid(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some((line, _)) = text.split_once('\n') {
            return line.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no pid in {}", file.display());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits up to 5 s for process `pid` to be gone.
async fn wait_gone(pid: &str, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} survived {when}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A check script that starts a child of its own (`sleep 30`), appends
/// the child's pid to `pids` and waits for it.
fn sleeper_config(pids: &Path, timeout: &str) -> String {
    format!(
        "virtual_server 10.96.0.1 80 {{\n delay_loop 0.05\n\
         real_server 10.0.0.1 80 {{\n  MISC_CHECK {{\n   \
         misc_path \"sleep 30 & echo $! >> {}; wait\"\n   misc_timeout {timeout}\n  }}\n }}\n}}\n",
        pids.display()
    )
}

#[test]
fn misc_check_timeout_kills_the_process_group() {
    let ns = netns_with_lo();
    let dir = Scratch::new("timeout");
    block_on(async {
        let pids = dir.0.join("pids");
        let (_cfg, m, mut ev) = start(&sleeper_config(&pids, "0.3"), &ns);
        let started = Instant::now();
        let events = ev.server_until(A, false).await;
        assert_fails_then_down(&events, 1, "timed out after 300ms (killed)");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(dests(&m).is_empty());
        // The script's own child was killed with it.
        wait_gone(&first_pid(&pids).await, "the timeout").await;
        m.shutdown().await;

        // Stopping the monitor kills a check program that is running.
        let pids = dir.0.join("pids2");
        let (_cfg, m, _ev) = start(&sleeper_config(&pids, "30"), &ns);
        let sleeper = first_pid(&pids).await;
        assert!(!gone(&sleeper));
        assert!(
            m.shutdown().await.is_empty(),
            "no omega: no shutdown events"
        );
        wait_gone(&sleeper, "the shutdown").await;
    });
}

#[test]
fn inhibit_on_failure_keeps_weight_zero_instead_of_removal() {
    let ns = netns_with_lo();
    block_on(async {
        let (la, lb) = (listen(&ns, 0), listen(&ns, 0));
        let (pa, pb) = (port_of(&la), port_of(&lb));
        let a = serve_accept(la);
        let b = serve_accept(lb);
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.04\n retry 1\n delay_before_retry 0.01\n\
                 real_server 127.0.0.1 {pa} {{\n  weight 2\n  inhibit_on_failure\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}\n\
                 real_server 127.0.0.1 {pb} {{\n  weight 5\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        let (ka, kb) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
        assert_eq!(dests(&m), map(&[(&ka, 2), (&kb, 5)]));
        a.abort();
        b.abort();
        let _ = (a.await, b.await);
        // retry 1 (from the virtual server): two failures each.
        assert_fails_then_down(&ev.server_until(A, false).await, 2, "connect to 127.0.0.1:");
        assert_fails_then_down(&ev.server_until(B, false).await, 2, "connect to 127.0.0.1:");
        // The inhibited server stays at weight 0; the other one is removed.
        assert_eq!(dests(&m), map(&[(&ka, 0)]));
        let _a = serve_accept(listen(&ns, pa));
        ev.server_until(A, true).await;
        assert_eq!(dests(&m), map(&[(&ka, 2)]));
        let _b = serve_accept(listen(&ns, pb));
        ev.server_until(B, true).await;
        assert_eq!(dests(&m), map(&[(&ka, 2), (&kb, 5)]));
    });
}

#[test]
fn sorry_server_in_and_out_and_omega() {
    let ns = netns_with_lo();
    block_on(async {
        let (la, lb) = (listen(&ns, 0), listen(&ns, 0));
        let (pa, pb) = (port_of(&la), port_of(&lb));
        let a = serve_accept(la);
        let b = serve_accept(lb);
        let (_cfg, m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.04\n omega\n\
                 sorry_server 127.0.0.9 8080\n quorum_down \"/bin/true down\"\n\
                 real_server 127.0.0.1 {pa} {{\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 0\n  }}\n }}\n\
                 real_server 127.0.0.1 {pb} {{\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 0\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        let (ka, kb) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
        let sorry = "127.0.0.9:8080".parse().unwrap();
        let first = ev.pending();
        assert!(
            matches!(first[..], [HealthEvent::QuorumGained { weight: 2, .. }]),
            "{first:?}"
        );
        assert_eq!(dests(&m), map(&[(&ka, 1), (&kb, 1)]));
        // One down: the quorum (1) holds, no sorry server.
        a.abort();
        let _ = a.await;
        ev.server_until(A, false).await;
        assert_eq!(dests(&m), map(&[(&kb, 1)]));
        // Both down: quorum lost, the sorry server is the pool.
        b.abort();
        let _ = b.await;
        let e = ev
            .until("SorryServerIn", |e| {
                matches!(e, HealthEvent::SorryServerIn { .. })
            })
            .await;
        let tail: Vec<_> = e
            .into_iter()
            .filter(|e| !matches!(e, HealthEvent::CheckFailed { .. }))
            .collect();
        assert_eq!(
            tail,
            [
                HealthEvent::RealServerDown {
                    server: B,
                    reason: tail_reason(&tail)
                },
                HealthEvent::QuorumLost {
                    vs: 0,
                    weight: 0,
                    threshold: 1,
                    command: Some("/bin/true down".into()),
                    shutdown: false
                },
                HealthEvent::SorryServerIn {
                    vs: 0,
                    server: sorry
                }
            ]
        );
        assert_eq!(dests(&m), map(&[("127.0.0.9:8080", 1)]));
        // One back: quorum gained, sorry server out, the live one in.
        let _b = serve_accept(listen(&ns, pb));
        let e = ev
            .until("SorryServerOut", |e| {
                matches!(e, HealthEvent::SorryServerOut { .. })
            })
            .await;
        let tail: Vec<_> = e
            .into_iter()
            .filter(|e| !matches!(e, HealthEvent::CheckFailed { .. }))
            .collect();
        assert!(
            matches!(
                tail[..],
                [
                    HealthEvent::RealServerUp { server: B },
                    HealthEvent::QuorumGained { weight: 1, .. },
                    HealthEvent::SorryServerOut { vs: 0, .. }
                ]
            ),
            "{tail:#?}"
        );
        assert_eq!(dests(&m), map(&[(&kb, 1)]));
        // omega: shutting down reports the live server down and the quorum
        // lost.
        let e = m.shutdown().await;
        assert_eq!(
            e,
            [
                HealthEvent::RealServerDown {
                    server: B,
                    reason: "shutting down".into()
                },
                HealthEvent::QuorumLost {
                    vs: 0,
                    weight: 1,
                    threshold: 1,
                    command: Some("/bin/true down".into()),
                    shutdown: true
                }
            ]
        );
        // The same events on the channel, after whatever was pending.
        let rest = ev.pending();
        assert!(rest.ends_with(&e), "{rest:#?}");
    });
}

/// The reason of the `RealServerDown` in `events` (a connection error
/// text, not worth spelling out).
fn tail_reason(events: &[HealthEvent]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            HealthEvent::RealServerDown { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn quorum_with_hysteresis_and_alpha() {
    let ns = netns_with_lo();
    block_on(async {
        let (la, lb) = (listen(&ns, 0), listen(&ns, 0));
        let (pa, pb) = (port_of(&la), port_of(&lb));
        let a = serve_accept(la);
        let b = serve_accept(lb);
        // Weights 2 + 2, quorum 3, hysteresis 1: gained at 4, lost below 2.
        let (_cfg, _m, mut ev) = start(
            &format!(
                "virtual_server 10.96.0.1 80 {{\n delay_loop 0.04\n alpha\n quorum 3\n hysteresis 1\n\
                 quorum_up \"/bin/true up\"\n quorum_down \"/bin/true down\"\n\
                 real_server 127.0.0.1 {pa} {{\n  weight 2\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 0\n  }}\n }}\n\
                 real_server 127.0.0.1 {pb} {{\n  weight 2\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 0\n  }}\n }}\n}}\n"
            ),
            &ns,
        );
        // alpha: both start down, no quorum.
        let first = ev.pending();
        assert!(
            matches!(&first[..], [HealthEvent::QuorumLost { weight: 0, threshold: 4, command: Some(c), .. }] if c == "/bin/true down"),
            "{first:?}"
        );
        // Both come up: quorum gained once, when the second one does.
        let e = ev
            .until("QuorumGained", |e| {
                matches!(e, HealthEvent::QuorumGained { .. })
            })
            .await;
        let ups = e
            .iter()
            .filter(|e| matches!(e, HealthEvent::RealServerUp { .. }))
            .count();
        assert_eq!(ups, 2, "{e:#?}");
        assert!(
            matches!(e.last(), Some(HealthEvent::QuorumGained { weight: 4, threshold: 4, command: Some(c), .. }) if c == "/bin/true up"),
            "{e:#?}"
        );
        // One down: weight 2 is not below 2, the quorum holds.
        a.abort();
        let _ = a.await;
        ev.server_until(A, false).await;
        // Both down: lost.
        b.abort();
        let _ = b.await;
        let e = ev
            .until("QuorumLost", |e| {
                matches!(e, HealthEvent::QuorumLost { .. })
            })
            .await;
        assert!(
            !e.iter()
                .any(|e| matches!(e, HealthEvent::QuorumGained { .. })),
            "{e:#?}"
        );
        assert!(
            matches!(
                e.last(),
                Some(HealthEvent::QuorumLost {
                    weight: 0,
                    threshold: 2,
                    ..
                })
            ),
            "{e:#?}"
        );
        assert!(e.contains(&HealthEvent::RealServerDown {
            server: B,
            reason: tail_reason(&e)
        }));
        // One back: 2 is not 4, no quorum; both back: quorum.
        let _a = serve_accept(listen(&ns, pa));
        let e = no_failures(ev.server_until(A, true).await);
        assert_eq!(e, [HealthEvent::RealServerUp { server: A }]);
        assert!(
            !ev.pending()
                .iter()
                .any(|e| matches!(e, HealthEvent::QuorumGained { .. }))
        );
        let _b = serve_accept(listen(&ns, pb));
        let e = ev
            .until("QuorumGained", |e| {
                matches!(e, HealthEvent::QuorumGained { .. })
            })
            .await;
        assert!(
            e.contains(&HealthEvent::RealServerUp { server: B }),
            "{e:#?}"
        );
    });
}

#[test]
fn monitor_needs_a_runtime_and_runnable_checks() {
    let cfg = Config::parse_str(
        "virtual_server 10.96.0.1 80 {\n real_server 10.0.0.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n",
        "x.conf",
    )
    .unwrap();
    let e = HealthMonitor::start(&cfg, MonitorOptions::default()).unwrap_err();
    assert!(e.to_string().contains("inside a Tokio runtime"), "{e}");
    let cfg = Config::parse_str(
        "virtual_server 10.96.0.1 80 {\n real_server 10.0.0.1 80 {\n  SMTP_CHECK {\n  }\n }\n}\n",
        "x.conf",
    )
    .unwrap();
    let e = block_on(async { HealthMonitor::start(&cfg, MonitorOptions::default()).unwrap_err() });
    assert_eq!(
        e.to_string(),
        "x.conf:3: SMTP_CHECK is not supported by the health checker (TCP_CHECK, HTTP_GET and MISC_CHECK are)"
    );
}
