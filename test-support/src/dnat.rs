//! The topology of the DNAT traffic tests: client -- node -- backend-1 /
//! backend-2, joined by veth pairs, the node in the middle (it holds the
//! DNAT table and forwards); small TCP servers on the backends and a
//! client that reads what they answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::{enter, sh};

/// The addresses of one IP family in the topology.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    /// `ip`'s family option (`-4`, `-6`).
    pub ip: &'static str,
    /// The prefix length of every link.
    pub prefix: u8,
    /// Appended to `ip addr add` (` nodad` for IPv6: usable at once).
    pub nodad: &'static str,
    /// The sysctl file that turns forwarding on.
    pub forwarding: &'static str,
    /// The client, on `c0`.
    pub client: &'static str,
    /// The node on the client's link (`nc0`), the client's gateway.
    pub node_client_side: &'static str,
    /// The node on backend-1's link (`nb1`), its gateway.
    pub node_b1_side: &'static str,
    /// Backend-1, on `b0`.
    pub b1: &'static str,
    /// The node on backend-2's link (`nb2`), its gateway.
    pub node_b2_side: &'static str,
    /// Backend-2, on `b0`.
    pub b2: &'static str,
    /// The virtual address the services are reached at.
    pub vip: &'static str,
}

/// IPv4: 10.101.1.0/24 (client), 10.101.2.0/24 and 10.101.3.0/24
/// (backends), VIP 10.96.7.7.
pub const V4: Addrs = Addrs {
    ip: "-4",
    prefix: 24,
    nodad: "",
    forwarding: "/proc/sys/net/ipv4/ip_forward",
    client: "10.101.1.2",
    node_client_side: "10.101.1.1",
    node_b1_side: "10.101.2.1",
    b1: "10.101.2.2",
    node_b2_side: "10.101.3.1",
    b2: "10.101.3.2",
    vip: "10.96.7.7",
};

/// IPv6: fd00:101:1::/64 (client), fd00:101:2::/64 and fd00:101:3::/64
/// (backends), VIP fd00:96::7.
pub const V6: Addrs = Addrs {
    ip: "-6",
    prefix: 64,
    nodad: " nodad",
    forwarding: "/proc/sys/net/ipv6/conf/all/forwarding",
    client: "fd00:101:1::2",
    node_client_side: "fd00:101:1::1",
    node_b1_side: "fd00:101:2::1",
    b1: "fd00:101:2::2",
    node_b2_side: "fd00:101:3::1",
    b2: "fd00:101:3::2",
    vip: "fd00:96::7",
};

/// Runs `ip ARGS` (split at white space) in `ns`; panics on failure.
pub fn ip(ns: impl AsRef<Path>, args: &str) {
    let v: Vec<&str> = std::iter::once("ip")
        .chain(args.split_whitespace())
        .collect();
    sh(ns, &v);
}

/// Joins four namespaces (paths; `lo` already up in each) as client -- node
/// -- backend-1 / backend-2 with the addresses `a`: veth pairs `c0`/`nc0`,
/// `b0`/`nb1`, `b0`/`nb2` (the `n*` ends in the node), up and addressed;
/// the client and the backends route through the node. The node's own
/// routes and forwarding are the caller's.
pub fn wire(client: &str, node: &str, b1: &str, b2: &str, a: &Addrs) {
    let link = |ns: &str, dev: &str, peer: &str| {
        ip(
            ns,
            &format!("link add {dev} type veth peer name {peer} netns {node}"),
        );
        ip(ns, &format!("link set {dev} up"));
        ip(node, &format!("link set {peer} up"));
    };
    link(client, "c0", "nc0");
    link(b1, "b0", "nb1");
    link(b2, "b0", "nb2");
    let addr = |ns: &str, a_: &str, dev: &str| {
        ip(
            ns,
            &format!("{} addr add {a_}/{} dev {dev}{}", a.ip, a.prefix, a.nodad),
        );
    };
    addr(client, a.client, "c0");
    addr(node, a.node_client_side, "nc0");
    addr(node, a.node_b1_side, "nb1");
    addr(node, a.node_b2_side, "nb2");
    addr(b1, a.b1, "b0");
    addr(b2, a.b2, "b0");
    ip(
        client,
        &format!("{} route add default via {}", a.ip, a.node_client_side),
    );
    ip(
        b1,
        &format!("{} route add default via {}", a.ip, a.node_b1_side),
    );
    ip(
        b2,
        &format!("{} route add default via {}", a.ip, a.node_b2_side),
    );
}

/// A TCP server in a namespace answering every connection with its name,
/// until dropped (then its port refuses connections).
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listens on `addr` in the namespace at `ns`.
    ///
    /// # Panics
    /// When it cannot listen.
    pub fn start(ns: impl AsRef<Path>, addr: SocketAddr, name: &'static str) -> Server {
        let l = enter(ns, move || TcpListener::bind(addr))
            .unwrap_or_else(|e| panic!("listen on {addr}: {e}"));
        l.set_nonblocking(true)
            .unwrap_or_else(|e| panic!("non-blocking listener: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        if c.set_nonblocking(false).is_ok() {
                            let _ = c.write_all(name.as_bytes());
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Connects from the namespace at `ns` to `to` (5 s at most) and returns
/// what the server said.
///
/// # Panics
/// When the connection or the read fails.
pub fn ask(ns: impl AsRef<Path>, to: SocketAddr) -> String {
    enter(ns, move || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {to}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("read timeout: {e}"));
        let mut out = String::new();
        s.read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("read from {to}: {e}"));
        out
    })
}
