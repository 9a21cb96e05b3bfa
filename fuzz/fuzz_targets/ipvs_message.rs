//! ipvs-nl's decoders over arbitrary datagrams: every IPVS generic netlink
//! message (`GenlMessage<IpvsMessage>`, as the handle deserializes replies),
//! then the typed views of its nests: services, destinations (with and
//! without a service family to fall back on), sync daemons, timeouts, info.
//!
//! Round trips, where the crate promises losslessness: a decoded message
//! re-encodes to bytes that decode to the same message; a decoded service,
//! destination or daemon survives `to_attrs` -> `from_attrs`, once the
//! fields only the kernel reports (statistics, connection counters) are
//! cleared.
//!
//! The direct decoders of the dump read path (`Service::decode`,
//! `Destination::decode` over the raw nest) agree with the typed path.
//!
//! Input: one datagram (ipvsadm's requests and the kernel's replies).
#![no_main]

use ipvs_nl::message::IpvsMessage;
use ipvs_nl::{Destination, Family, Service, SyncDaemon};
use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{Emitable, NetlinkDeserializable, NlasIterator, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use nl_engine::wire::Messages;

fn round_trip(m: &IpvsMessage) {
    let mut buf = vec![0; m.buffer_len()];
    m.emit(&mut buf);
    let header = GenlHeader {
        cmd: m.command(),
        version: m.version(),
    };
    let again = IpvsMessage::parse_with_param(&buf[..], header)
        .unwrap_or_else(|e| panic!("re-encoded message does not decode: {e:?}\n{m:?}"));
    assert_eq!(&again, m, "decode -> encode -> decode changed the message");
    let mut buf2 = vec![0; again.buffer_len()];
    again.emit(&mut buf2);
    assert_eq!(buf2, buf, "encoding is not a fixed point");
}

fn check_service(s: &Service) {
    let _ = (
        s.key().to_string(),
        s.validate(),
        s.is_persistent(),
        s.stats(),
    );
    let mut want = s.clone();
    want.stats = None;
    let back = Service::from_attrs(&want.to_attrs())
        .unwrap_or_else(|e| panic!("service does not decode again: {e:?}\n{want:?}"));
    assert_eq!(back, want, "service changed in to_attrs/from_attrs");
}

fn check_destination(d: &Destination) {
    let _ = (d.to_string(), d.family(), d.stats());
    let mut want = d.clone();
    want.stats = None;
    want.active_conns = 0;
    want.inactive_conns = 0;
    want.persistent_conns = 0;
    let back = Destination::from_attrs(&want.to_attrs(), None)
        .unwrap_or_else(|e| panic!("destination does not decode again: {e:?}\n{want:?}"));
    assert_eq!(back, want, "destination changed in to_attrs/from_attrs");
}

fn check_daemon(d: &SyncDaemon) {
    let _ = d.state.to_string();
    let back = SyncDaemon::from_attrs(&d.to_attrs())
        .unwrap_or_else(|e| panic!("daemon does not decode again: {e:?}\n{d:?}"));
    assert_eq!(&back, d, "daemon changed in to_attrs/from_attrs");
}

const IPVS_CMD_ATTR_SERVICE: u16 = 1;
const IPVS_CMD_ATTR_DEST: u16 = 2;

/// The first top-level nest of kind `kind` of a generic netlink payload.
fn raw_nest(payload: &[u8], kind: u16) -> Option<&[u8]> {
    NlasIterator::new(payload.get(4..)?)
        .map_while(Result::ok)
        .find(|n| n.kind() == kind)
        .and_then(|n| {
            let len = usize::from(n.length());
            n.into_inner().get(4..len)
        })
}

fuzz_target!(|data: &[u8]| {
    for raw in Messages::new(data).flatten() {
        let Ok(g) = GenlMessage::<IpvsMessage>::deserialize(&raw.header, raw.payload) else {
            continue;
        };
        let m = &g.payload;
        round_trip(m);
        let mut family = None;
        let service = m.service();
        if let Some(Ok(s)) = &service {
            family = Some(s.key.family());
            check_service(s);
        }
        // The dump read path decodes the nest straight from the bytes: the
        // same service or the same refusal as the typed path.
        if let Some(typed) = service {
            let direct = raw_nest(raw.payload, IPVS_CMD_ATTR_SERVICE).map(Service::decode);
            assert_eq!(direct.map(|r| r.ok()), Some(typed.ok()), "direct service decode differs");
        }
        for fam in [None, family, Some(Family::Ipv6)] {
            let typed = m.destination(fam);
            if let Some(Ok(d)) = &typed {
                check_destination(d);
            }
            if let Some(typed) = typed {
                let direct = raw_nest(raw.payload, IPVS_CMD_ATTR_DEST).map(|n| Destination::decode(n, fam));
                assert_eq!(direct.map(|r| r.ok()), Some(typed.ok()), "direct destination decode differs");
            }
        }
        if let Some(Ok(d)) = m.daemon() {
            check_daemon(&d);
        }
        let _ = (format!("{:?}", m.timeouts()), format!("{:?}", m.info()));
    }
});
