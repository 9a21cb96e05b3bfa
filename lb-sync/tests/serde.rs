//! The `serde` feature: a desired state as a daemon reads it, written by
//! hand as JSON (only the fields that matter; the rest take their
//! defaults where the types have them), read into the same state the
//! builders make; states, plans and change lists read back as written.

use std::time::Duration;

use ipset_nl::{CreateSet, IpPortEntry, IpProto};
use ipvs_nl::{Destination, Operation, Scheduler, Service, ServiceKey, Weight};
use lb_sync::{Change, Changes, DesiredSet, DesiredState, Graceful, Plan, SetStrategy, plan};
use serde_json::json;

fn state() -> DesiredState {
    let web = Service::tcp("10.96.0.10:80".parse().unwrap())
        .scheduler(Scheduler::RoundRobin)
        .persistent(Duration::from_secs(300));
    let dests = vec![
        Destination::new("10.0.2.2".parse().unwrap(), 8080).masquerade(),
        Destination::new("10.0.3.2".parse().unwrap(), 8080)
            .masquerade()
            .weight(Weight(3)),
    ];
    let set = DesiredSet::new(
        CreateSet::hash_ip_port("svc").options(|o| o.counters()),
        vec![IpPortEntry::new(
            "10.96.0.10".parse().unwrap(),
            IpProto::Tcp,
            80,
        )],
    );
    DesiredState::new().with_service(web, dests).with_set(set)
}

#[test]
fn desired_state_from_handwritten_json() {
    let text = json!({
        "services": [[
            {
                "key": {"addr": {"protocol": "tcp", "addr": "10.96.0.10:80"}},
                "scheduler": "rr",
                "flags": ["persistent"],
                "flags_mask": 4294967295u32,
                "timeout": 300,
                "netmask": "255.255.255.255"
            },
            [
                {"addr": "10.0.2.2", "port": 8080, "forward": "masquerade", "weight": 1,
                 "upper_threshold": 0, "lower_threshold": 0, "tunnel_type": "ipip",
                 "tunnel_port": 0, "tunnel_flags": "nocsum", "active_conns": 0,
                 "inactive_conns": 0, "persistent_conns": 0},
                {"addr": "10.0.3.2", "port": 8080, "forward": "masquerade", "weight": 3,
                 "upper_threshold": 0, "lower_threshold": 0, "tunnel_type": "ipip",
                 "tunnel_port": 0, "tunnel_flags": "nocsum", "active_conns": 0,
                 "inactive_conns": 0, "persistent_conns": 0}
            ]
        ]],
        "sets": [{
            "spec": {
                "name": "svc", "set_type": "hash:ip,port", "family": "inet",
                "options": {"flags": ["counters"]}
            },
            "members": [{"ip": "10.96.0.10", "proto": "tcp", "port": 80}]
        }]
    });
    let read: DesiredState = serde_json::from_value(text).unwrap();
    assert_eq!(read, state());
}

#[test]
fn states_plans_and_changes_round_trip() {
    let s = state();
    let text = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<DesiredState>(&text).unwrap(), s);

    let p = plan(&[], &s.services, &|_| true, Graceful::All);
    assert_eq!(p.ops.len(), 3);
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["ops"][0]["add_service"]["scheduler"], "rr");
    assert_eq!(serde_json::from_value::<Plan>(v).unwrap(), p);
    let zero = Operation::ZeroService(ServiceKey::fwmark(3));
    let text = serde_json::to_string(&zero).unwrap();
    assert_eq!(serde_json::from_str::<Operation>(&text).unwrap(), zero);

    let changes: Changes = [
        Change::AddService(s.services[0].0.key),
        Change::DeleteDestination(s.services[0].0.key, "10.0.2.2:8080".parse().unwrap()),
    ]
    .into_iter()
    .collect();
    let v = serde_json::to_value(&changes).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["delete_destination"][1], "10.0.2.2:8080");
    assert_eq!(serde_json::from_value::<Changes>(v).unwrap(), changes);

    assert_eq!(
        serde_json::to_value(Graceful::ConnectionOriented).unwrap(),
        "connection_oriented"
    );
    assert_eq!(
        serde_json::from_value::<SetStrategy>(json!("replace")).unwrap(),
        SetStrategy::Replace
    );
}
