//! The checks themselves: one attempt of a `TCP_CHECK`, an `HTTP_GET` or a
//! `MISC_CHECK`, with its timeout, in a chosen network namespace.

use std::io;
use std::net::SocketAddr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nl_engine::Netns;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};

use super::Md5;
use crate::keepalived::UrlCheck;

/// What one attempt found: up (with the weight a `misc_dynamic` script
/// asked for), or down and why.
pub(crate) type Outcome = Result<Option<u32>, String>;

/// One check, resolved: addresses, timeouts.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    Tcp {
        target: SocketAddr,
        bind: Option<SocketAddr>,
        timeout: Duration,
    },
    Http {
        target: SocketAddr,
        bind: Option<SocketAddr>,
        timeout: Duration,
        /// The `Host` header when the URL names none.
        host: String,
        urls: Vec<UrlCheck>,
    },
    Misc {
        command: String,
        timeout: Duration,
        dynamic: bool,
    },
}

impl Probe {
    /// Runs one attempt.
    pub(crate) async fn run(&self, netns: &Netns) -> Outcome {
        match self {
            Probe::Tcp {
                target,
                bind,
                timeout: t,
            } => match timeout(*t, connect(netns, *target, *bind)).await {
                Ok(Ok(_)) => Ok(None),
                Ok(Err(e)) => Err(format!("connect to {target}: {e}")),
                Err(_) => Err(format!("connect to {target}: no answer within {t:?}")),
            },
            Probe::Http {
                target,
                bind,
                timeout: t,
                host,
                urls,
            } => {
                for url in urls {
                    let host = url.virtualhost.as_deref().unwrap_or(host);
                    match timeout(*t, http_get(netns, *target, *bind, host, url)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(format!("GET {} from {target}: {e}", url.path)),
                        Err(_) => {
                            return Err(format!(
                                "GET {} from {target}: no complete answer within {t:?}",
                                url.path
                            ));
                        }
                    }
                }
                Ok(None)
            }
            Probe::Misc {
                command,
                timeout: t,
                dynamic,
            } => misc(netns, command, *t, *dynamic).await,
        }
    }
}

/// A TCP connection to `target`, from a socket created in `netns`.
async fn connect(
    netns: &Netns,
    target: SocketAddr,
    bind: Option<SocketAddr>,
) -> io::Result<TcpStream> {
    // A socket belongs to the namespace of the thread that creates it;
    // `Netns::run` creates it on a helper thread inside `netns` (inline for
    // the caller's own namespace). Connecting needs no particular thread.
    let socket = netns.run(move || {
        let s = if target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(b) = bind {
            s.bind(b)?;
        }
        Ok::<_, io::Error>(s)
    })??;
    socket.connect(target).await
}

// Reads and writes through readiness (`try_read`/`try_write`): the
// extension traits need tokio's "io-util" feature, which this workspace
// does not enable.

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn read(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Largest response header accepted.
const MAX_HEADER: usize = 64 * 1024;

/// One HTTP/1.0 `GET`: the status must be accepted and, when the URL has a
/// digest, the MD5 digest of the body (read to the end of the connection)
/// must match.
async fn http_get(
    netns: &Netns,
    target: SocketAddr,
    bind: Option<SocketAddr>,
    host: &str,
    url: &UrlCheck,
) -> Result<(), String> {
    let stream = connect(netns, target, bind)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nUser-Agent: clusterip-health\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        url.path
    );
    write_all(&stream, request.as_bytes())
        .await
        .map_err(|e| format!("send request: {e}"))?;
    let mut header = Vec::new();
    let mut buf = vec![0u8; 8192];
    // Read up to the end of the header.
    let body_start = loop {
        let n = read(&stream, &mut buf)
            .await
            .map_err(|e| format!("read response: {e}"))?;
        if n == 0 {
            return Err("connection closed before the end of the response header".into());
        }
        header.extend_from_slice(buf.get(..n).unwrap_or_default());
        if let Some(end) = header.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if header.len() > MAX_HEADER {
            return Err(format!("response header longer than {MAX_HEADER} bytes"));
        }
    };
    let status = status_code(&header)?;
    if !url.accepts(status) {
        return Err(format!("status {status} not accepted"));
    }
    let Some(want) = url.digest else {
        return Ok(());
    };
    let mut md5 = Md5::new();
    md5.update(header.get(body_start..).unwrap_or_default());
    loop {
        let n = read(&stream, &mut buf)
            .await
            .map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            break;
        }
        md5.update(buf.get(..n).unwrap_or_default());
    }
    let got = md5.finish();
    if got != want {
        return Err(format!(
            "body digest {} instead of {}",
            Md5::hex(&got),
            Md5::hex(&want)
        ));
    }
    Ok(())
}

/// The status code of a response's status line (`HTTP/1.1 200 OK`).
fn status_code(header: &[u8]) -> Result<u16, String> {
    let line_end = header
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(header.len());
    let line = String::from_utf8_lossy(header.get(..line_end).unwrap_or_default());
    let mut words = line.split_ascii_whitespace();
    match (words.next(), words.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") && code.len() == 3 => code
            .parse()
            .map_err(|_| format!("bad status line {line:?}")),
        _ => Err(format!("bad status line {line:?}")),
    }
}

/// A started check program, killed with its whole process group (it leads
/// one) and reaped when dropped before it ended: on a timeout, or when the
/// checker task is cancelled.
struct Running(Option<Child>);

impl Running {
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill takes two integers and touches no memory.
                // The child is not reaped yet (we hold it), so its pid, which
                // is also its process group's id, names no other process.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `command` with `/bin/sh -c` in `netns`, in its own process group,
/// for at most `limit`. Exit status 0: up; with `dynamic`, 2 + N: up with
/// weight N; anything else, a signal or the timeout: down.
async fn misc(netns: &Netns, command: &str, limit: Duration, dynamic: bool) -> Outcome {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // A child starts in the network namespace of the thread that forks it.
    let child = netns
        .run(move || cmd.spawn())
        .and_then(|r| r)
        .map_err(|e| format!("cannot run /bin/sh -c {command:?}: {e}"))?;
    let mut running = Running(Some(child));
    let deadline = Instant::now() + limit;
    // The standard library's Child has no asynchronous wait (no tokio
    // "process" feature here): poll, from 1 ms up to every 20 ms.
    let mut pause = Duration::from_millis(1);
    let status = loop {
        let polled = match running.0.as_mut() {
            Some(c) => c.try_wait(),
            None => return Err("check program lost".into()),
        };
        match polled {
            Ok(Some(status)) => {
                running.0 = None;
                break status;
            }
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {command:?}: {e}")),
        }
        let now = Instant::now();
        if now >= deadline {
            running.kill();
            return Err(format!("{command:?} timed out after {limit:?} (killed)"));
        }
        sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    match status.code() {
        Some(0) => Ok(None),
        Some(code @ 2..=255) if dynamic => Ok(u32::try_from(code - 2).ok()),
        Some(code) => Err(format!("{command:?} exited with status {code}")),
        None => Err(format!(
            "{command:?} killed by signal {}",
            status.signal().unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.0 404 Not Found\r\n\r\n"), Ok(404));
        assert_eq!(status_code(b"HTTP/1.1 200\r\n"), Ok(200));
        assert!(status_code(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(status_code(b"HTTP/1.1 20x OK\r\n").is_err());
    }
}
