//! `ipvsadm`, rebuilt on ipvs-nl: the command line of Debian's ipvsadm 1.31
//! (every command and option, short and long, popt's clusters), its
//! messages and exit statuses, and its listings byte for byte; plus `--json`
//! on every listing (docs/ipvsadm-json.md) and a `-R` that streams the
//! restore through [`IpvsHandle::apply_stream`] (large datagrams, one ACK
//! per datagram, each line encoded as soon as it is read; the lines
//! `ipvsadm -S -n` writes are read without option scanning,
//! `cli::parse_saved`).
//!
//! `cli.rs` parses (pure, never panics), `format.rs` prints, `names.rs`
//! reads `/etc/hosts` and `/etc/services`; this file only runs the kernel
//! operations, all through ipvs-nl, in the network namespace it is started
//! in.

mod cli;
mod doctor;
mod format;
mod names;

use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use cli::{Cmd, Failure, Outcome, Parsed};
use ipvs_nl::{
    BatchResults, ConnFilter, DaemonState, Destination, Error, Family, ForwardMethod, Info,
    IpvsHandle, IpvsMessage, Netmask, Operation, Protocol, Scheduler, Service, ServiceEntry,
    ServiceFlags, ServiceKey, SyncDaemon, Timeouts, TunnelFlags, TunnelType, Weight,
};
use names::Names;

/// Which libipvs function failed (ipvs_strerror picks messages by it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Func {
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    StartDaemon,
    StopDaemon,
    GetServices,
    GetDests,
    GetService,
    Other,
}

fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// libipvs's `ipvs_strerror`.
fn ipvs_strerror(func: Func, errno: i32) -> String {
    use Func::*;
    let m = match (func, errno) {
        (AddService, libc::EEXIST) => "Service already exists",
        (AddService | UpdateService, libc::ENOENT) => "Scheduler or persistence engine not found",
        (UpdateService | DelService | ZeroService, libc::ESRCH) => "No such service",
        (AddDest | UpdateDest | DelDest, libc::ESRCH) => "Service not defined",
        (AddDest, libc::EEXIST) => "Destination already exists",
        (UpdateDest | DelDest, libc::ENOENT) => "No such destination",
        (StartDaemon, libc::EEXIST) => "Daemon has already run",
        (StopDaemon, libc::ESRCH) => "No daemon is running",
        (GetServices | GetDests | GetService, libc::ESRCH) => "No such service",
        (_, libc::EPERM) => "Permission denied (you must be root)",
        (_, libc::EINVAL) => {
            "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        }
        (_, libc::ENOPROTOOPT) => "Protocol not available",
        (_, libc::ENOMEM) => "Memory allocation problem",
        (_, libc::EOPNOTSUPP) => "Operation not supported with IPv6",
        (_, libc::EAFNOSUPPORT) => "Operation not supported with specified address family",
        (_, libc::EMSGSIZE) => "Module is wrong version",
        _ => return strerror(errno),
    };
    m.to_owned()
}

fn error_text(func: Func, e: &Error) -> String {
    match e.kernel_error() {
        Some(k) => ipvs_strerror(func, k.errno.abs()),
        None => match e {
            Error::Unsupported { .. } => ipvs_strerror(func, libc::ENOPROTOOPT),
            Error::NotPermitted { .. } => ipvs_strerror(func, libc::EPERM),
            other => other.to_string(),
        },
    }
}

// ------------------------------------------------------- conversions

fn ip_of(af: u16, a: &[u8; 16]) -> IpAddr {
    if af == cli::AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*a))
    } else {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    }
}

fn key_of(p: &Parsed) -> ServiceKey {
    let s = &p.svc;
    if s.fwmark != 0 {
        ServiceKey::Fwmark {
            family: Family::from(s.af),
            mark: s.fwmark,
        }
    } else {
        ServiceKey::Addr {
            protocol: Protocol::from(s.protocol),
            addr: SocketAddr::new(ip_of(s.af, &s.addr), s.port),
        }
    }
}

fn service_of(p: &Parsed) -> Service {
    let s = &p.svc;
    let mut svc = Service::new(key_of(p)).scheduler(Scheduler::from_name(&s.sched_name));
    svc.flags = ServiceFlags::from_bits_retain(s.flags);
    svc.timeout = Duration::from_secs(u64::from(s.timeout));
    svc.netmask = if s.af == cli::AF_INET6 {
        Netmask::V6(s.netmask)
    } else {
        Netmask::V4(Ipv4Addr::from(s.netmask))
    };
    if !s.pe_name.is_empty() {
        svc.pe_name = Some(s.pe_name.clone());
    }
    svc
}

fn dest_of(p: &Parsed) -> Destination {
    let d = &p.dest;
    let mut dest = Destination::new(ip_of(d.af, &d.addr), d.port)
        .forward(ForwardMethod::from(d.conn_flags & 7))
        .weight(Weight(d.weight))
        .upper_threshold(d.u_threshold)
        .lower_threshold(d.l_threshold);
    dest.tunnel_type = TunnelType::from(d.tun_type);
    dest.tunnel_port = d.tun_port;
    dest.tunnel_flags = TunnelFlags::from_bits_retain(d.tun_flags);
    dest
}

fn daemon_of(p: &Parsed) -> SyncDaemon {
    let d = &p.daemon;
    let mut sd = SyncDaemon::new(DaemonState::from(d.state), &d.mcast_ifn).sync_id(d.syncid);
    if d.sync_maxlen != 0 {
        sd = sd.max_len(d.sync_maxlen);
    }
    if d.mcast_port != 0 {
        sd = sd.port(d.mcast_port);
    }
    if d.mcast_ttl != 0 {
        sd = sd.ttl(d.mcast_ttl);
    }
    match d.mcast_af {
        cli::AF_INET => sd = sd.group(ip_of(cli::AF_INET, &d.mcast_group)),
        cli::AF_INET6 => sd = sd.group(ip_of(cli::AF_INET6, &d.mcast_group)),
        _ => {}
    }
    sd
}

/// A change that can go into a bulk `apply`, with the libipvs function
/// whose messages its errors take.
fn operation_of(p: &Parsed) -> Option<(Operation, Func)> {
    Some(match p.cmd {
        Cmd::Add => (Operation::AddService(service_of(p)), Func::AddService),
        Cmd::Edit => (Operation::EditService(service_of(p)), Func::UpdateService),
        Cmd::Del => (Operation::DeleteService(key_of(p)), Func::DelService),
        Cmd::AddDest => (
            Operation::AddDestination(key_of(p), dest_of(p)),
            Func::AddDest,
        ),
        Cmd::EditDest => (
            Operation::EditDestination(key_of(p), dest_of(p)),
            Func::UpdateDest,
        ),
        Cmd::DelDest => (
            Operation::DeleteDestination(key_of(p), dest_of(p)),
            Func::DelDest,
        ),
        Cmd::Zero if p.has(cli::OPTC_SERVICE) => {
            (Operation::ZeroService(key_of(p)), Func::ZeroService)
        }
        _ => return None,
    })
}

/// An operation ipvs-nl's own checks would refuse before sending (those
/// mirror ipvsadm's, so the parser normally stops such a line first); if one
/// gets through, it goes to the kernel as the crate's own message,
/// unvalidated, so the kernel decides as it does for ipvsadm.
fn crate_refuses(op: &Operation) -> bool {
    match op {
        Operation::AddService(s) | Operation::EditService(s) => s.validate().is_err(),
        _ => false,
    }
}

// ------------------------------------------------------------- runner

struct Run {
    ipvs: IpvsHandle,
    info: Info,
    names: Names,
    program: String,
    out: Vec<u8>,
}

/// What a command ended with: ipvsadm's `result` (0 or -1), or an exit.
enum Done {
    Result(i32),
    Exit(u8),
}

impl Run {
    fn flush_out(&mut self) {
        if !self.out.is_empty() {
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&self.out);
            let _ = so.flush();
            self.out.clear();
        }
    }

    fn err(&mut self, msg: &str) {
        self.flush_out();
        let mut se = std::io::stderr().lock();
        let _ = se.write_all(msg.as_bytes());
    }

    async fn snapshot(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        self.ipvs.snapshot().await
    }

    async fn list(&mut self, p: &Parsed) -> Done {
        let f = p.format;
        if p.has(cli::OPTC_CONNECTION) {
            match self.ipvs.connections(&ConnFilter::new()) {
                Ok(c) => {
                    let s = if p.json {
                        format::json_connections(&c)
                    } else {
                        format::connections(&c, f, &self.names)
                    };
                    self.out.extend_from_slice(s.as_bytes());
                }
                Err(_) => {
                    self.err("cannot open file /proc/net/ip_vs_conn\n");
                    return Done::Exit(1);
                }
            }
        } else if p.has(cli::OPTC_SERVICE) {
            let key = key_of(p);
            let svc = match self.ipvs.get_service(&key).await {
                Ok(s) => s,
                Err(e) => {
                    self.err(&format!("{}\n", error_text(Func::GetService, &e)));
                    return Done::Exit(1);
                }
            };
            let dests = match self.ipvs.destinations(&key).await {
                Ok(d) => d,
                Err(e) => {
                    self.err(&format!("{}\n", error_text(Func::GetDests, &e)));
                    return Done::Exit(1);
                }
            };
            let mut entries = vec![ServiceEntry {
                service: svc,
                destinations: dests,
            }];
            format::sort_entries(&mut entries, f);
            let s = if p.json {
                format::json_services(None, &entries)
            } else {
                let mut s = format::title(f);
                if let Some(e) = entries.first() {
                    format::service_entry(&mut s, e, f, &self.names);
                }
                s
            };
            self.out.extend_from_slice(s.as_bytes());
        } else if p.has(cli::OPTC_TIMEOUT) {
            match self.ipvs.timeouts().await {
                Ok(t) => {
                    let s = if p.json {
                        format::json_timeouts(&t)
                    } else {
                        format::timeouts(&t)
                    };
                    self.out.extend_from_slice(s.as_bytes());
                }
                Err(_) => return Done::Exit(1),
            }
        } else if p.has(cli::OPTC_DAEMON) {
            match self.ipvs.daemons().await {
                Ok(d) => {
                    let s = if p.json {
                        format::json_daemons(&d)
                    } else {
                        format::daemons(&d)
                    };
                    self.out.extend_from_slice(s.as_bytes());
                }
                Err(_) => return Done::Exit(1),
            }
        } else {
            return self.list_all(f, p.json).await;
        }
        Done::Result(0)
    }

    async fn list_all(&mut self, f: u32, json: bool) -> Done {
        if f & cli::FMT_RULE == 0 && !json {
            let v = format::version_line(&self.info);
            self.out.extend_from_slice(v.as_bytes());
        }
        let mut entries = match self.snapshot().await {
            Ok(e) => e,
            Err(e) => {
                self.err(&format!("{}\n", error_text(Func::GetServices, &e)));
                return Done::Exit(1);
            }
        };
        let s = if json {
            format::sort_entries(&mut entries, f);
            format::json_services(Some(&self.info), &entries)
        } else {
            format::list_all(&self.info, &mut entries, f, &self.names)
        };
        self.out.extend_from_slice(s.as_bytes());
        Done::Result(0)
    }

    /// One command that is not a restore; `Done::Result(-1)` after a
    /// reported kernel error.
    async fn execute(&mut self, p: &Parsed) -> Done {
        let r: Result<(), (Func, Error)> = match p.cmd {
            Cmd::List => return self.list(p).await,
            Cmd::Save => return self.list_all(p.format | cli::FMT_RULE, p.json).await,
            Cmd::Restore => return self.restore().await,
            Cmd::None => return Done::Result(0),
            Cmd::Flush => self.ipvs.flush().await.map_err(|e| (Func::Other, e)),
            Cmd::Timeout => {
                let t = Timeouts {
                    tcp: Duration::from_secs(u64::from(p.timeout.tcp)),
                    tcp_fin: Duration::from_secs(u64::from(p.timeout.tcp_fin)),
                    udp: Duration::from_secs(u64::from(p.timeout.udp)),
                };
                self.ipvs
                    .set_timeouts(&t)
                    .await
                    .map_err(|e| (Func::Other, e))
            }
            Cmd::StartDaemon => self
                .ipvs
                .start_daemon(&daemon_of(p))
                .await
                .map_err(|e| (Func::StartDaemon, e)),
            Cmd::StopDaemon => self
                .ipvs
                .stop_daemon(DaemonState::from(p.daemon.state))
                .await
                .map_err(|e| (Func::StopDaemon, e)),
            Cmd::Zero if !p.has(cli::OPTC_SERVICE) => self
                .ipvs
                .zero_all()
                .await
                .map_err(|e| (Func::ZeroService, e)),
            _ => match operation_of(p) {
                Some((op, func)) => self.one(&op).await.map_err(|e| (func, e)),
                None => Ok(()),
            },
        };
        match r {
            Ok(()) => Done::Result(0),
            Err((func, e)) => {
                self.err(&format!("{}\n", error_text(func, &e)));
                Done::Result(-1)
            }
        }
    }

    /// One change, as its own request.
    async fn one(&self, op: &Operation) -> Result<(), Error> {
        if crate_refuses(op) {
            let msg = match op {
                Operation::AddService(s) => IpvsMessage::add_service(s),
                Operation::EditService(s) => IpvsMessage::edit_service(s),
                _ => return Ok(()),
            };
            return self
                .ipvs
                .connection()
                .ack(&op.context(), self.ipvs.message(msg))
                .await;
        }
        let r = self.ipvs.apply(std::slice::from_ref(op)).await?;
        r.into_vec().into_iter().next().unwrap_or(Ok(()))
    }

    /// `-R`: the lines of stdin, parsed as command lines; changes are
    /// streamed to the kernel as they are parsed, in order, with each
    /// failure reported as ipvsadm reports it.
    async fn restore(&mut self) -> Done {
        let mut lines = RestoreLines {
            // Read line by line: memory stays at one line however long the
            // input is (as ipvsadm's own reader).
            input: std::io::BufReader::with_capacity(64 * 1024, std::io::stdin()),
            raw: Vec::with_capacity(256),
            program: self.program.clone(),
            names: std::mem::take(&mut self.names),
            log: Log::default(),
            stop: None,
            eof: false,
            read: 0,
        };
        let mut result = 0;
        loop {
            // Every change up to the next line that is not one (or the end
            // of the input), each encoded into the datagram being filled as
            // soon as it is parsed: memory holds one datagram and a byte
            // per change, however long the input.
            let read = lines.read;
            let outcome = self.ipvs.apply_stream(&mut lines).await;
            self.report(&mut lines.log, outcome, &mut result);
            let Some(stop) = lines.stop.take() else {
                // The end; or the exchange failed before it (reported),
                // and the lines after go on, as ipvsadm goes on after a
                // line that failed, unless it failed before reading one.
                if lines.eof || lines.read == read {
                    break;
                }
                continue;
            };
            match stop {
                Stop::Fatal(f) => {
                    self.err(&f.message);
                    return Done::Exit(f.status);
                }
                Stop::Help(argv) => {
                    let (t, _) = help_or_version(&argv, true);
                    self.out.extend_from_slice(t.as_bytes());
                    return Done::Exit(0);
                }
                Stop::Run(p) => {
                    std::mem::swap(&mut self.names, &mut lines.names);
                    let done = Box::pin(self.execute(&p)).await;
                    std::mem::swap(&mut self.names, &mut lines.names);
                    match done {
                        Done::Result(r) => result = r,
                        Done::Exit(c) => return Done::Exit(c),
                    }
                }
            }
        }
        self.names = lines.names;
        Done::Result(result)
    }

    /// Reports the lines `log` recorded, in line order: each popt message,
    /// and the failure of each change that `outcome` says failed; `result`
    /// ends as the last line's.
    fn report(
        &mut self,
        log: &mut Log,
        outcome: Result<BatchResults<Error>, Error>,
        result: &mut i32,
    ) {
        if log.funcs.is_empty() && log.msgs.is_empty() {
            return;
        }
        // Only the failures, by operation index.
        let mut failures = match outcome {
            Ok(r) => r.into_errors().into_iter().peekable(),
            Err(e) => {
                // The exchange failed: the outcome of the changes is unknown.
                self.err(&format!("{e}\n"));
                *result = -1;
                log.clear();
                return;
            }
        };
        let mut text = String::new();
        let mut msgs = log.msgs.drain(..).peekable();
        for (index, func) in log.funcs.drain(..).enumerate() {
            while let Some((_, m)) = msgs.next_if(|(before, _)| *before == index) {
                text.push_str(&m);
                *result = -1;
            }
            match failures.next_if(|(i, _)| *i == index) {
                None => *result = 0,
                Some((_, e)) => {
                    text.push_str(&error_text(func, &e));
                    text.push('\n');
                    *result = -1;
                }
            }
        }
        for (_, m) in msgs {
            text.push_str(&m);
            *result = -1;
        }
        if !text.is_empty() {
            self.err(&text);
        }
    }
}

/// The lines of a restore, parsed: an iterator of the changes they make,
/// which ends at the first line that is something else (kept in `stop`)
/// or at the end of the input.
struct RestoreLines<R> {
    input: R,
    raw: Vec<u8>,
    program: String,
    names: Names,
    /// The changes yielded and the popt messages met, in line order.
    log: Log,
    /// The line the changes stopped at.
    stop: Option<Stop>,
    /// The input has ended.
    eof: bool,
    /// Lines read so far.
    read: usize,
}

/// A restore line that is not a change sent in bulk.
enum Stop {
    /// A fatal popt error: reported, and the restore ends.
    Fatal(Failure),
    /// `-h` (help) or `-v` (version), with its argument vector.
    Help(Vec<String>),
    /// A command run on its own (a listing, a flush, a change ipvsadm
    /// sends as it is).
    Run(Box<Parsed>),
}

/// What a restore stream yielded, to report in line order: per change its
/// libipvs function (one byte each), and each popt message with the
/// number of changes before it.
#[derive(Default)]
struct Log {
    funcs: Vec<Func>,
    msgs: Vec<(usize, String)>,
}

impl Log {
    fn clear(&mut self) {
        self.funcs.clear();
        self.msgs.clear();
    }
}

impl<R: BufRead> Iterator for RestoreLines<R> {
    type Item = Operation;

    fn next(&mut self) -> Option<Operation> {
        if self.stop.is_some() {
            return None;
        }
        loop {
            self.raw.clear();
            match self.input.read_until(b'\n', &mut self.raw) {
                Ok(0) | Err(_) => {
                    self.eof = true;
                    return None;
                }
                Ok(_) => self.read += 1,
            }
            // valid UTF-8 (the usual case) is checked fast and borrowed
            let line = match std::str::from_utf8(&self.raw) {
                Ok(t) => std::borrow::Cow::Borrowed(t),
                Err(_) => String::from_utf8_lossy(&self.raw),
            };
            // the lines `ipvsadm -S -n` writes, read directly
            if let Some(p) = cli::parse_saved(&line) {
                if let Some((op, func)) = operation_of(&p).filter(|(op, _)| !crate_refuses(op)) {
                    self.log.funcs.push(func);
                    return Some(op);
                }
            }
            let Some(argv) = cli::restore_line(&line, &self.program) else {
                continue;
            };
            match cli::parse(&argv, true, &self.names) {
                Err(f) if f.fatal => {
                    self.stop = Some(Stop::Fatal(f));
                    return None;
                }
                Err(f) => self.log.msgs.push((self.log.funcs.len(), f.message)),
                Ok(Outcome::Help) | Ok(Outcome::Version) => {
                    let argv = argv.iter().map(|a| a.to_string()).collect();
                    self.stop = Some(Stop::Help(argv));
                    return None;
                }
                Ok(Outcome::Run(p)) => match operation_of(&p) {
                    Some((op, func)) if !crate_refuses(&op) => {
                        self.log.funcs.push(func);
                        return Some(op);
                    }
                    _ => {
                        self.stop = Some(Stop::Run(p));
                        return None;
                    }
                },
            }
        }
    }
}

fn help_or_version<S: AsRef<str>>(argv: &[S], help: bool) -> (String, u8) {
    let program = argv.first().map(S::as_ref).unwrap_or("ipvsadm");
    if help {
        (cli::help_text(program), 0)
    } else {
        (cli::version_text(), 0)
    }
}

fn exit_of(result: i32) -> ExitCode {
    ExitCode::from(result as u8)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if argv.len() == 2 && argv.get(1).is_some_and(|a| a == "doctor") {
        // Not ipvsadm 1.31's: a health report (doctor.rs).
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("ipvsadm: cannot start the runtime: {e}");
                return ExitCode::from(2);
            }
        };
        let (text, ok) = rt.block_on(doctor::report());
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let names = Names::system();
    let parsed = if argv.len() > 1 {
        Some(cli::parse(&argv, false, &names))
    } else {
        None
    };
    match &parsed {
        Some(Ok(Outcome::Help)) | Some(Ok(Outcome::Version)) => {
            let help = matches!(parsed, Some(Ok(Outcome::Help)));
            let (t, code) = help_or_version(&argv, help);
            let _ = std::io::stdout().lock().write_all(t.as_bytes());
            return ExitCode::from(code);
        }
        _ => {}
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ipvsadm: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async move {
        let init = async {
            let ipvs = IpvsHandle::new().await?;
            let info = ipvs.info().await?;
            Ok::<_, Error>((ipvs, info))
        };
        let (ipvs, info) = match init.await {
            Ok(x) => x,
            Err(e) => {
                eprintln!(
                    "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in the kernel or as module?",
                    error_text(Func::Other, &e)
                );
                return ExitCode::from(2);
            }
        };
        let mut run = Run {
            ipvs,
            info,
            names,
            program: argv.first().cloned().unwrap_or_else(|| "ipvsadm".into()),
            out: Vec::new(),
        };
        let done = match parsed {
            None => run.list_all(0, false).await,
            Some(Err(Failure {
                message, status, ..
            })) => {
                run.err(&message);
                Done::Exit(status)
            }
            Some(Ok(Outcome::Run(p))) => run.execute(&p).await,
            Some(Ok(_)) => Done::Result(0),
        };
        run.flush_out();
        match done {
            Done::Result(r) => exit_of(r),
            Done::Exit(c) => ExitCode::from(c),
        }
    })
}
