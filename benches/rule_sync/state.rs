//! The desired states, operations and ipset members of the cases.

use super::*;

pub(crate) fn service(i: usize) -> Service {
    Service::tcp(SocketAddr::new(
        IpAddr::from([10, (i >> 16) as u8 + 1, (i >> 8) as u8, i as u8]),
        80,
    ))
    .scheduler(Scheduler::RoundRobin)
}

pub(crate) fn dest(i: usize, j: usize) -> Destination {
    Destination::new(
        IpAddr::from([172, 16 + j as u8, (i >> 8) as u8, i as u8]),
        8080,
    )
    .masquerade()
}

/// N services x 4 destinations.
pub(crate) fn state(n: usize) -> Vec<(Service, Vec<Destination>)> {
    (0..n)
        .map(|i| (service(i), (0..4).map(|j| dest(i, j)).collect()))
        .collect()
}

/// `state(n)` with 10% of services and destinations changed: services
/// with i % 10 == 0 replaced by new ones; services with i % 10 == 1 get
/// destination 0 replaced and destination 1 re-weighted.
pub(crate) fn changed(n: usize) -> Vec<(Service, Vec<Destination>)> {
    let mut v = state(n);
    for (i, (s, ds)) in v.iter_mut().enumerate() {
        match i % 10 {
            0 => *s = service(n + i),
            1 => {
                ds[0] = dest(i, 9);
                ds[1].weight = Weight(5);
            }
            _ => {}
        }
    }
    v
}

pub(crate) fn as_entries(st: &[(Service, Vec<Destination>)]) -> Vec<ServiceEntry> {
    st.iter()
        .map(|(s, d)| ServiceEntry {
            service: s.clone(),
            destinations: d.clone(),
        })
        .collect()
}

/// The operations `state(n)` -> `changed(n)` takes (the planner's own).
pub(crate) fn change_ops(n: usize) -> Vec<Operation> {
    plan(
        &as_entries(&state(n)),
        &changed(n),
        &|_| true,
        Graceful::All,
    )
    .ops
}

/// `state(n)` with one backend changed: service 0's first destination
/// replaced by another (a health check took one backend out, another
/// came in).
pub(crate) fn one_changed(n: usize) -> Vec<(Service, Vec<Destination>)> {
    let mut v = state(n);
    if let Some((_, ds)) = v.first_mut() {
        if let Some(d) = ds.first_mut() {
            *d = dest(0, 9);
        }
    }
    v
}

/// The operations `state(n)` -> `one_changed(n)` takes.
pub(crate) fn one_change_ops(n: usize) -> Vec<Operation> {
    plan(
        &as_entries(&state(n)),
        &one_changed(n),
        &|_| true,
        Graceful::Off,
    )
    .ops
}

pub(crate) fn apply_ops(n: usize) -> Vec<Operation> {
    plan(&[], &state(n), &|_| true, Graceful::All).ops
}

pub(crate) fn ipvsadm_line(op: &Operation) -> String {
    let k = |k: &clusterip::ipvs::ServiceKey| match k {
        clusterip::ipvs::ServiceKey::Addr { addr, .. } => format!("-t {addr}"),
        other => format!("-f {other}"),
    };
    match op {
        Operation::AddService(s) => format!("-A {} -s {}", k(&s.key), s.scheduler),
        Operation::EditService(s) => format!("-E {} -s {}", k(&s.key), s.scheduler),
        Operation::DeleteService(key) => format!("-D {}", k(key)),
        Operation::AddDestination(key, d) => {
            format!("-a {} -r {d} -m -w {}", k(key), d.weight)
        }
        Operation::EditDestination(key, d) => {
            format!("-e {} -r {d} -m -w {}", k(key), d.weight)
        }
        Operation::DeleteDestination(key, d) => format!("-d {} -r {d}", k(key)),
        Operation::ZeroService(key) => format!("-Z {}", k(key)),
    }
}

pub(crate) fn elems(offset: usize) -> Vec<IpPortEntry> {
    (offset..offset + IPSET_N)
        .map(|i| {
            IpPortEntry::new(
                IpAddr::from([10, 200 + (i >> 16) as u8, (i >> 8) as u8, i as u8]),
                if i % 2 == 0 {
                    IpProto::Tcp
                } else {
                    IpProto::Udp
                },
                (1000 + i % 5000) as u16,
            )
        })
        .collect()
}
