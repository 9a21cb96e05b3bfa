//! One measured operation (`rule_sync exec`), in a child process.

use super::*;

/// A connection in the current namespace whose batches are packed into
/// datagrams of up to `dgram` bytes (0: the engine's default).
pub(crate) fn connection(proto: clusterip::netlink::Protocol, dgram: usize) -> Res<Connection> {
    connection_in(proto, dgram, &Netns::current())
}

/// [`connection`] in the namespace `ns`.
fn connection_in(proto: clusterip::netlink::Protocol, dgram: usize, ns: &Netns) -> Res<Connection> {
    let mut config = clusterip::netlink::Config::default();
    if dgram > 0 {
        config.max_datagram = dgram;
    }
    Ok(Connection::open_with(proto, ns, config)?)
}

/// One measured operation; prints "op_ns changes".
pub(crate) fn exec(imp: &str, case: &str, n: usize, dgram: usize, file: Option<&str>) -> Res<()> {
    let rt = rt();
    let ipvs = || async {
        let conn = connection(clusterip::netlink::Protocol::Generic, dgram)?;
        Res::<IpvsHandle>::Ok(IpvsHandle::with_connection(conn).await?)
    };
    let ipset = || -> Res<IpsetHandle> {
        Ok(IpsetHandle::with_connection(connection(
            clusterip::netlink::Protocol::Netfilter,
            dgram,
        )?)?)
    };
    let (ns, changes) = match (imp, case) {
        // case 6, the change a daemon that knows it sends: those operations
        // only, no read
        ("incr", "6") => {
            let ops = one_change_ops(n);
            rt.block_on(async {
                let h = ipvs().await?;
                let t = op_start();
                let r = h.apply(&ops).await?;
                let el = op_end(t);
                if !r.all_ok() {
                    return Err(format!("refused: {:?}", r.errors()).into());
                }
                Res::Ok((el, r.len()))
            })?
        }
        ("ours", "1" | "1w" | "2" | "3" | "6") => {
            let want = match case {
                "3" => changed(n),
                "6" => one_changed(n),
                _ => state(n),
            };
            rt.block_on(async {
                // (the warm-up's namespace, flushed, lives until the
                // measured operation has ended: not torn down meanwhile)
                let warm = if case == "1w" {
                    let ns = warm_up(&want, dgram).await?;
                    settle()?;
                    Some(ns)
                } else {
                    None
                };
                let h = ipvs().await?;
                let s = Syncer::ipvs_only(h);
                let t = op_start();
                let r = s.sync_services(&want).await?;
                let el = op_end(t);
                drop(warm);
                if !r.is_converged() {
                    return Err(format!("not converged: {:?}", r.failed.first()).into());
                }
                Res::Ok((el, r.changes()))
            })?
        }
        // ours: what `ipvsadm -S` reads (configuration and connection
        // counters); stats: the same with every statistics block decoded
        ("ours" | "stats", "4") => rt.block_on(async {
            let h = ipvs().await?;
            let t = op_start();
            let s = if imp == "ours" {
                h.config_snapshot().await?
            } else {
                h.snapshot().await?
            };
            let el = op_end(t);
            if s.len() != n {
                return Err(format!("read {} services, expected {n}", s.len()).into());
            }
            Res::Ok((el, 0))
        })?,
        ("ours", "5a") => {
            let es = elems(0);
            rt.block_on(async {
                let h = ipset()?;
                let t = op_start();
                let r = h.add_many(SET, &es, BulkOptions::default()).await?;
                let el = op_end(t);
                if !r.all_applied() {
                    return Err("add refused".into());
                }
                Res::Ok((el, r.applied()))
            })?
        }
        ("ours", "5b") => {
            let es = elems(IPSET_N / 2);
            rt.block_on(async {
                let h = ipset()?;
                let t = op_start();
                let r = h.replace(&ipset_spec(SET), &es).await?;
                Res::Ok((op_end(t), r.applied()))
            })?
        }
        // The cost of a page's first touch in this kernel: TOUCH_PAGES
        // fresh pages, one byte written to each.
        ("touch", _) => {
            let el = touch_pages(TOUCH_PAGES)?;
            (el, TOUCH_PAGES)
        }
        ("floor", "1" | "1w" | "3" | "6" | "5a" | "5b") => {
            // The input, encoded and packed by the runner, read whole
            // before the clock starts.
            let dg = Records::read(file.ok_or("floor needs its input file")?)?;
            let proto = if case.starts_with('5') {
                netlink_sys::protocols::NETLINK_NETFILTER
            } else {
                netlink_sys::protocols::NETLINK_GENERIC
            };
            let mut raw = Raw::open(proto)?;
            // (the warm-up's namespace lives until the operation has ended)
            let mut warm_ns = None;
            if case == "1w" {
                // the same warm-up as ours, in a namespace of its own:
                // the whole input once, then `ipvsadm -C`
                let ns = rt.block_on(warm_netns())?;
                let mut warm = ns
                    .run(|| Raw::open(proto).map_err(|e| e.to_string()))?
                    .map_err(|e| format!("warm-up socket: {e}"))?;
                let errors = warm.send_all(&dg)?;
                if errors > 0 {
                    return Err(format!("warm-up: {errors} errors").into());
                }
                // the family id, from the first message's header
                let family = dg
                    .iter()
                    .next()
                    .and_then(|(d, _)| d.get(4..6)?.try_into().ok())
                    .map(u16::from_ne_bytes)
                    .ok_or("an empty floor input")?;
                warm.request(&genl(family, IpvsMessage::flush(), NLM_F_REQUEST))?;
                drop(warm);
                warm_ns = Some(ns);
                settle()?;
            }
            let t = op_start();
            let errors = raw.send_all(&dg)?;
            let el = op_end(t);
            drop(warm_ns);
            if errors > 0 {
                return Err(format!("{errors} errors").into());
            }
            (el, dg.len())
        }
        ("floor", "2" | "4") => {
            // the service dump, then the N destination dumps over as many
            // sockets as our reader pipelines them over
            let reqs = Records::read(file.ok_or("floor needs its input file")?)?;
            let all: Vec<&[u8]> = reqs.iter().map(|(r, _)| r).collect();
            let (svc_req, dest_reqs) = all.split_first().ok_or("no requests")?;
            let proto = netlink_sys::protocols::NETLINK_GENERIC;
            let mut raw = Raw::open(proto)?;
            // the destination dumps with the receive length our reader's
            // pool uses (the service dump with the default, as ours)
            let small = clusterip::netlink::Config::new()
                .with_recv_len(clusterip::netlink::Config::SMALL_DUMPS)
                .effective_recv_len();
            let mut pipe = (0..clusterip::ipvs::DEFAULT_PIPELINE)
                .map(|_| Raw::open_with_recv_len(proto, small))
                .collect::<Res<Vec<_>>>()?;
            let t = op_start();
            let got = raw.dump(svc_req)?;
            let d = Raw::dump_pipelined(&mut pipe, dest_reqs)?;
            let el = op_end(t);
            if got != n || d != 4 * n {
                return Err(format!("read {got} services, {d} destinations").into());
            }
            (el, 0)
        }
        _ => return Err(format!("unknown exec {imp} {case}").into()),
    };
    // Our own peak RSS: wait4's ru_maxrss would include the runner's, which
    // Linux records at exec.
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .unwrap_or(-1);
    let op_faults = FAULTS_AT_END.load(Ordering::Relaxed) - FAULTS_AT_START.load(Ordering::Relaxed);
    println!("{} {changes} {hwm} {op_faults}", ns.as_nanos());
    Ok(())
}

/// Case 1w's warm-up (a daemon's earlier sync): the whole sync in a
/// namespace of its own, flushed there; that namespace is returned, for
/// the caller to keep until its measured operation has ended (torn down
/// earlier, the kernel would be freeing it in the background meanwhile).
/// Not in the case's namespace: flushed destinations stay in their
/// namespace's trash for a minute or more, and the kernel scans that list
/// on every destination added there.
async fn warm_up(want: &[(Service, Vec<Destination>)], dgram: usize) -> Res<Netns> {
    let ns = warm_netns().await?;
    let conn = connection_in(clusterip::netlink::Protocol::Generic, dgram, &ns)?;
    let s = Syncer::ipvs_only(IpvsHandle::with_connection(conn).await?);
    let r = s.sync_services(want).await?;
    if !r.is_converged() {
        return Err(format!("warm-up not converged: {:?}", r.failed.first()).into());
    }
    s.ipvs().ok_or("a syncer without IPVS")?.flush().await?;
    Ok(ns)
}

/// A namespace of its own for a warm-up, with `lo` up as in the case's
/// namespace (until a route exists the namespace has no local routing
/// table, and IPVS refuses every destination then, EINVAL).
async fn warm_netns() -> Res<Netns> {
    let ns = Netns::new_anonymous()?;
    let link = clusterip::link::LinkHandle::in_netns(&ns)?;
    let lo = link.index("lo").await?.ok_or("no lo in a new namespace")?;
    link.set_up(lo).await?;
    Ok(ns)
}

/// Waits, in a warm process between its warm-up and its measured
/// operation, for the machine to go idle, as the runner waits before
/// every run: the kernel tears down the warm-up's namespace in the
/// background.
fn settle() -> Res<()> {
    quiesce(Duration::from_millis(200))?;
    Ok(())
}

/// The pages `exec touch` touches.
pub(crate) const TOUCH_PAGES: usize = 1024;

/// Maps `pages` fresh pages of 4 KiB (transparent huge pages refused, so
/// that each first touch faults in one small page, as our allocations of
/// less than 2 MiB do) and writes one byte to each: the time of the writes.
fn touch_pages(pages: usize) -> Res<Duration> {
    let len = pages * 4096;
    // SAFETY: an anonymous private mapping of `len` bytes, no address
    // hint, no file; checked against MAP_FAILED below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `p`..`p + len` is the mapping made above. A kernel without
    // transparent huge pages refuses the advice (EINVAL): nothing to
    // refuse then, so its result is not needed.
    unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
    let t = op_start();
    for i in 0..pages {
        // SAFETY: `i * 4096 < len`: a byte inside the writable mapping,
        // which nothing else refers to.
        unsafe { std::ptr::write_volatile(p.cast::<u8>().add(i * 4096), 1) };
    }
    let el = op_end(t);
    // SAFETY: the mapping made above, no longer used.
    unsafe { libc::munmap(p, len) };
    Ok(el)
}

/// Minor page faults of this process when the measured operation began
/// and when it ended.
pub(crate) static FAULTS_AT_START: AtomicI64 = AtomicI64::new(0);
pub(crate) static FAULTS_AT_END: AtomicI64 = AtomicI64::new(0);

/// Starts the clock of the measured operation (and notes the page faults
/// so far).
pub(crate) fn op_start() -> Instant {
    FAULTS_AT_START.store(faults_so_far().0, Ordering::Relaxed);
    Instant::now()
}

/// Stops the clock of the measured operation started at `t` (and notes the
/// page faults so far).
pub(crate) fn op_end(t: Instant) -> Duration {
    let el = t.elapsed();
    FAULTS_AT_END.store(faults_so_far().0, Ordering::Relaxed);
    el
}

/// This process's page faults so far (minor, major), from getrusage.
pub(crate) fn faults_so_far() -> (i64, i64) {
    // SAFETY: getrusage writes one rusage into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid pointer to our rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (-1, -1);
    }
    (ru.ru_minflt, ru.ru_majflt)
}
