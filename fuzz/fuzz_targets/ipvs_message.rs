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
//! Input: one datagram (ipvsadm's requests and the kernel's replies).
#![no_main]

use ipvs_nl::message::IpvsMessage;
use ipvs_nl::{Destination, Family, Service, SyncDaemon};
use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{Emitable, NetlinkDeserializable, ParseableParametrized};
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

fuzz_target!(|data: &[u8]| {
    for raw in Messages::new(data).flatten() {
        let Ok(g) = GenlMessage::<IpvsMessage>::deserialize(&raw.header, raw.payload) else {
            continue;
        };
        let m = &g.payload;
        round_trip(m);
        let mut family = None;
        if let Some(Ok(s)) = m.service() {
            family = Some(s.key.family());
            check_service(&s);
        }
        for fam in [None, family, Some(Family::Ipv6)] {
            if let Some(Ok(d)) = m.destination(fam) {
                check_destination(&d);
            }
        }
        if let Some(Ok(d)) = m.daemon() {
            check_daemon(&d);
        }
        let _ = (format!("{:?}", m.timeouts()), format!("{:?}", m.info()));
    }
});
