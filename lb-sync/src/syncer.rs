//! The [`Syncer`](crate::Syncer): reads the kernel, plans, applies, reports.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use ipset_nl::{BulkOptions, IpSet, IpsetHandle, Outcome, SetElement};
use ipvs_nl::{Destination, IpvsHandle, OperationRef, Service, ServiceKey};
use nl_engine::{BatchResults, Error, Netns, Result};

use crate::plan::{Adds, owned, plan_refs, validate};
use crate::{
    Change, Changes, DesiredSet, DesiredState, Ownership, SetPlan, SetReport, SetStrategy,
    SyncOptions, SyncReport, plan_set,
};

/// Reads one set with its members as a sync sees it: `None` when it does
/// not exist.
pub async fn read_set(ipset: &IpsetHandle, name: &str) -> Result<Option<IpSet>> {
    match ipset.list(Some(name)).await {
        Ok(mut sets) => Ok(sets.pop()),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

// ----------------------------------------------------------------- syncer

/// Brings IPVS and ipset to a [`DesiredState`]; see the [module
/// documentation](crate).
///
/// Clones share the remembered service list; syncs of one syncer should
/// not overlap (two syncers may: they converge, see
/// [`SyncOptions::max_rounds`]).
///
/// ```no_run
/// use lb_sync::ipvs::{Destination, IpvsHandle, Service};
/// use lb_sync::ipset::IpsetHandle;
/// use lb_sync::{DesiredState, Graceful, Ownership, SyncOptions, Syncer};
/// # async fn f() -> lb_sync::netlink::Result<()> {
/// let syncer = Syncer::new(IpvsHandle::new().await?, IpsetHandle::new()?).with_options(
///     SyncOptions::new()
///         .ownership(Ownership::Listed)
///         .graceful(Graceful::ConnectionOriented),
/// );
/// let svc = Service::tcp("10.96.0.1:443".parse().unwrap());
/// let mut state = DesiredState::default();
/// state.services.push((svc, vec![Destination::new("192.168.1.10".parse().unwrap(), 6443).masquerade()]));
/// let report = syncer.sync(&state).await?;
/// for (op, err) in &report.failed {
///     eprintln!("{}: {err}", op.context());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Syncer {
    ipvs: Option<IpvsHandle>,
    ipset: Option<IpsetHandle>,
    options: SyncOptions,
    listed: Arc<Mutex<HashSet<ServiceKey>>>,
}

impl Syncer {
    /// A syncer over both handles (which may be in any namespace).
    pub fn new(ipvs: IpvsHandle, ipset: IpsetHandle) -> Self {
        Self::from_parts(Some(ipvs), Some(ipset))
    }

    /// A syncer for IPVS only ([`DesiredState::sets`] must be empty).
    pub fn ipvs_only(ipvs: IpvsHandle) -> Self {
        Self::from_parts(Some(ipvs), None)
    }

    /// A syncer for ipset only ([`DesiredState::services`] is ignored and
    /// no service is touched).
    pub fn ipset_only(ipset: IpsetHandle) -> Self {
        Self::from_parts(None, Some(ipset))
    }

    /// A syncer over IPVS and ipset in `netns` (fails with
    /// [`Error::Unsupported`] when the kernel has no IPVS).
    pub async fn in_netns(netns: &Netns) -> Result<Self> {
        Ok(Self::new(
            IpvsHandle::in_netns(netns).await?,
            IpsetHandle::in_netns(netns)?,
        ))
    }

    fn from_parts(ipvs: Option<IpvsHandle>, ipset: Option<IpsetHandle>) -> Self {
        Syncer {
            ipvs,
            ipset,
            options: SyncOptions::default(),
            listed: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// This syncer with other options.
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// The IPVS handle, if this syncer has one.
    pub fn ipvs(&self) -> Option<&IpvsHandle> {
        self.ipvs.as_ref()
    }

    /// The ipset handle, if this syncer has one.
    pub fn ipset(&self) -> Option<&IpsetHandle> {
        self.ipset.as_ref()
    }

    /// Brings the kernel to `desired`: IPVS first, then the sets.
    ///
    /// With [`Ownership::All`] (the default) the desired services are the
    /// whole IPVS configuration of the namespace: an empty service list
    /// deletes every service. Use [`Syncer::ipset_only`] or
    /// [`Syncer::sync_sets`] to sync sets alone.
    ///
    /// The outer error means the state could not be read or an exchange
    /// failed (then run the sync again); refused single changes are in the
    /// report.
    pub async fn sync(&self, desired: &DesiredState) -> Result<SyncReport> {
        validate(&desired.services)?;
        let mut report = SyncReport::default();
        if let Some(ipvs) = &self.ipvs {
            self.sync_ipvs_into(ipvs, &desired.services, &mut report)
                .await?;
        }
        if !desired.sets.is_empty() {
            let Some(ipset) = &self.ipset else {
                return Err(Error::invalid_input(
                    "sync sets",
                    "this syncer has no ipset handle",
                ));
            };
            for set in &desired.sets {
                report.sets.push(self.sync_set(ipset, set).await?);
            }
        }
        Ok(report)
    }

    /// Brings IPVS alone to `services`.
    pub async fn sync_services(
        &self,
        services: &[(Service, Vec<Destination>)],
    ) -> Result<SyncReport> {
        validate(services)?;
        let ipvs = self.ipvs.as_ref().ok_or_else(|| {
            Error::invalid_input("sync IPVS services", "this syncer has no IPVS handle")
        })?;
        let mut report = SyncReport::default();
        self.sync_ipvs_into(ipvs, services, &mut report).await?;
        Ok(report)
    }

    /// Brings sets to their members.
    pub async fn sync_sets<E: SetElement>(
        &self,
        sets: &[DesiredSet<E>],
    ) -> Result<Vec<SetReport<E>>> {
        let ipset = self.ipset_handle()?;
        let mut out = Vec::with_capacity(sets.len());
        for s in sets {
            out.push(self.sync_set(ipset, s).await?);
        }
        Ok(out)
    }

    /// Brings one set to its members, like [`Syncer::sync_sets`], and also
    /// returns the changes it planned from its fresh read of the kernel
    /// (the members the report counts).
    pub async fn sync_set_planned<E: SetElement>(
        &self,
        set: &DesiredSet<E>,
    ) -> Result<(SetPlan<E>, SetReport<E>)> {
        let ipset = self.ipset_handle()?;
        let current = read_members(ipset, set).await?;
        let plan = plan_set(current.as_deref(), &set.members);
        let report = self.apply_set(ipset, set, &plan).await?;
        Ok((plan, report))
    }

    fn ipset_handle(&self) -> Result<&IpsetHandle> {
        self.ipset
            .as_ref()
            .ok_or_else(|| Error::invalid_input("sync sets", "this syncer has no ipset handle"))
    }

    async fn sync_ipvs_into(
        &self,
        ipvs: &IpvsHandle,
        services: &[(Service, Vec<Destination>)],
        report: &mut SyncReport,
    ) -> Result<()> {
        let ownership = &self.options.ownership;
        let remember = matches!(ownership, Ownership::Listed);
        // asked only of the few services found and not desired
        let owns = |k: &ServiceKey| {
            let listed = remember && self.listed.lock().is_ok_and(|l| l.contains(k));
            ownership.owns(k, listed)
        };
        let rounds = self.options.max_rounds.max(1);
        for round in 1..=rounds {
            report.rounds = round;
            let current = ipvs.config_snapshot().await?;
            report.failed.clear();
            if current.is_empty() {
                // From empty, every desired service and destination is one
                // add, streamed from `services` into the datagrams: no list
                // of operations is built.
                report.draining.clear();
                let ops = Adds::new(services);
                if ops.clone().next().is_none() {
                    break;
                }
                // The report is the desired state itself, recorded service
                // by service, if every add is applied: it is written the
                // first time the apply waits (for the connection's thread
                // sending a datagram, where it has one), so that it
                // overlaps the kernel's work (after the apply if it never
                // waits), and taken back when an add is refused.
                let end = report.applied.end();
                let applied = &mut report.applied;
                let (results, written) = on_first_wait(ipvs.apply_iter(ops.clone()), || {
                    write_adds(applied, services)
                })
                .await;
                let results = results?;
                if !written {
                    write_adds(&mut report.applied, services);
                }
                if !results.all_ok() {
                    report.applied.truncate(end);
                    record(report, ops, results);
                }
            } else {
                let mut zeroed = Vec::new();
                let (mut ops, draining) = plan_refs(
                    &current,
                    services,
                    &owns,
                    self.options.graceful,
                    &mut zeroed,
                );
                ops.extend(
                    zeroed
                        .iter()
                        .map(|(k, d)| OperationRef::EditDestination(k, d)),
                );
                report.draining = draining;
                if ops.is_empty() {
                    break;
                }
                // One bulk apply: the engine encodes each operation straight
                // into the datagram being filled, so memory stays at one
                // datagram however large the change; only failures come back.
                let results = ipvs.apply(&ops).await?;
                record(report, ops.iter().copied(), results);
            }
            // Only refusals that a fresh read can explain are worth
            // another round: the state moved (exists / not found).
            let retry = report
                .failed
                .iter()
                .any(|(_, e)| matches!(e, Error::Exists { .. } | Error::NotFound { .. }));
            if !retry {
                break;
            }
        }
        // Only Ownership::Listed needs the services remembered.
        if !remember {
            return Ok(());
        }
        if let Ok(mut l) = self.listed.lock() {
            l.extend(services.iter().map(|(s, _)| s.key));
            // a service removed and deleted is no longer ours to remember
            for c in &report.applied {
                if let Change::DeleteService(k) = c {
                    l.remove(&k);
                }
            }
        }
        Ok(())
    }

    async fn sync_set<E: SetElement>(
        &self,
        ipset: &IpsetHandle,
        want: &DesiredSet<E>,
    ) -> Result<SetReport<E>> {
        let current = read_members(ipset, want).await?;
        let plan = plan_set(current.as_deref(), &want.members);
        self.apply_set(ipset, want, &plan).await
    }

    /// Sends a [`plan_set`] plan for `want`: create and fill, or replace,
    /// or delete then add (bulk messages).
    async fn apply_set<E: SetElement>(
        &self,
        ipset: &IpsetHandle,
        want: &DesiredSet<E>,
        plan: &SetPlan<E>,
    ) -> Result<SetReport<E>> {
        let name = want.spec.name.as_str();
        let mut rep = SetReport::<E>::named(name);
        if plan.create {
            ipset.create(&want.spec, true).await?;
            rep.created = true;
            let r = ipset.add_many(name, &plan.add, bulk_options()).await?;
            collect(&mut rep, &plan.add, r.into_outcomes(), true);
            return Ok(rep);
        }
        if plan.is_empty() {
            return Ok(rep);
        }
        if self.options.sets == SetStrategy::Replace {
            let r = ipset.replace(&want.spec, &want.members).await?;
            rep.replaced = true;
            rep.added = r.applied();
            rep.removed = plan.del.len();
            return Ok(rep);
        }
        if !plan.del.is_empty() {
            let r = ipset.del_many(name, &plan.del, bulk_options()).await?;
            collect(&mut rep, &plan.del, r.into_outcomes(), false);
        }
        if !plan.add.is_empty() {
            let r = ipset.add_many(name, &plan.add, bulk_options()).await?;
            collect(&mut rep, &plan.add, r.into_outcomes(), true);
        }
        Ok(rep)
    }
}

/// Adds what `ops` did to the report: the applied ones to
/// [`SyncReport::applied`], the refused ones (by index in `results`) to
/// [`SyncReport::failed`].
fn record<'o>(
    report: &mut SyncReport,
    ops: impl Iterator<Item = OperationRef<'o>> + Clone,
    results: BatchResults<Error>,
) {
    report.applied.reserve_for(ops.clone());
    let mut errors = results.into_errors().into_iter().peekable();
    for (i, op) in ops.enumerate() {
        match errors.next_if(|(j, _)| *j == i) {
            Some((_, e)) => report.failed.push((owned(&op), e)),
            None => report.applied.push_op(op),
        }
    }
}

pub(crate) fn bulk_options() -> BulkOptions {
    BulkOptions::new().exist(true)
}

/// The members of the desired set's set as the kernel holds them (`None`
/// when it does not exist), refusing a set of a type `E` cannot read.
pub(crate) async fn read_members<E: SetElement>(
    ipset: &IpsetHandle,
    want: &DesiredSet<E>,
) -> Result<Option<Vec<E>>> {
    let name = &want.spec.name;
    if !E::accepts(&want.spec.set_type) {
        return Err(Error::invalid_input(
            format!("sync set {name}"),
            format!(
                "its members are not of the type of a {} set",
                want.spec.set_type
            ),
        ));
    }
    match read_set(ipset, name).await? {
        Some(s) if s.set_type != want.spec.set_type => Err(Error::invalid_input(
            format!("sync set {name}"),
            format!(
                "exists as {} instead of {}; destroy it or choose another name",
                s.set_type, want.spec.set_type
            ),
        )),
        Some(s) => Ok(Some(s.members_as()?)),
        None => Ok(None),
    }
}

pub(crate) fn collect<E: SetElement>(
    rep: &mut SetReport<E>,
    elems: &[E],
    outcomes: impl Iterator<Item = Outcome>,
    add: bool,
) {
    for (e, o) in elems.iter().zip(outcomes) {
        match o {
            Outcome::Applied if add => rep.added += 1,
            Outcome::Applied => rep.removed += 1,
            Outcome::Failed(err) => rep.failures.push((e.clone(), *err)),
            Outcome::NotAttempted => rep.failures.push((
                e.clone(),
                Error::invalid_input(format!("element {e}"), "not attempted"),
            )),
            // An outcome a newer ipset-nl may add (`Outcome` is
            // non_exhaustive): not known to be applied, so a failure.
            _ => rep.failures.push((
                e.clone(),
                Error::invalid_input(format!("element {e}"), "outcome unknown"),
            )),
        }
    }
}

/// Records, in order, the changes of a sync from empty that applies every
/// add: each desired service, then its destinations.
fn write_adds(applied: &mut Changes, services: &[(Service, Vec<Destination>)]) {
    applied.reserve_for_adds(services);
    for (s, ds) in services {
        applied.push_adds(&s.key, ds);
    }
}

/// Awaits `fut`, calling `first_wait` the first time `fut` is not ready
/// (so that the work done there overlaps what `fut` waits for: the kernel
/// at work on a datagram, say) and never if it is ready at once; returns
/// `fut`'s output and whether `first_wait` ran.
async fn on_first_wait<F: Future>(fut: F, first_wait: impl FnOnce()) -> (F::Output, bool) {
    let mut fut = std::pin::pin!(fut);
    let mut first_wait = Some(first_wait);
    let out = std::future::poll_fn(|cx| {
        let polled = fut.as_mut().poll(cx);
        if polled.is_pending() {
            // (woken meanwhile, the task is polled again)
            if let Some(f) = first_wait.take() {
                f();
            }
        }
        polled
    })
    .await;
    (out, first_wait.is_none())
}

#[cfg(test)]
mod tests {
    use super::on_first_wait;
    use clusterip_test_support::block_on;
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Not ready `waits` times (waking its task each time), then ready,
    /// noting in `log` each poll and whether the first-wait work had run.
    struct Waits<'a> {
        waits: usize,
        ran: &'a Cell<bool>,
        log: &'a Cell<Vec<bool>>,
    }

    impl Future for Waits<'_> {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let mut log = self.log.take();
            log.push(self.ran.get());
            self.log.set(log);
            if self.waits == 0 {
                return Poll::Ready(7);
            }
            self.waits -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    /// The first-wait work (a sync from empty writing its report) runs
    /// once, while the future is waiting, before it is ready: after its
    /// first poll and before its second; and not at all when the future
    /// never waits.
    #[test]
    fn first_wait_work_runs_once_while_the_future_waits() {
        for waits in [1, 3] {
            let (ran, log, calls) = (Cell::new(false), Cell::new(Vec::new()), Cell::new(0));
            let fut = Waits {
                waits,
                ran: &ran,
                log: &log,
            };
            let (out, written) = block_on(on_first_wait(fut, || {
                calls.set(calls.get() + 1);
                ran.set(true);
            }));
            assert_eq!((out, written, calls.get()), (7, true, 1));
            let mut want = vec![true; waits + 1];
            want[0] = false;
            assert_eq!(log.take(), want, "{waits} waits");
        }
        let (ran, log) = (Cell::new(false), Cell::new(Vec::new()));
        let fut = Waits {
            waits: 0,
            ran: &ran,
            log: &log,
        };
        let (out, written) = block_on(on_first_wait(fut, || ran.set(true)));
        assert_eq!((out, written, ran.get()), (7, false, false));
        assert_eq!(log.take(), vec![false]);
    }
}
