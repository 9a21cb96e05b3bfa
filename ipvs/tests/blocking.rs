//! The blocking IPVS handle on this machine's own kernel, which has no
//! IPVS: its constructors fail with the same `Unsupported` error as the
//! async handle's, from a plain `#[test]` with no runtime, in a throwaway
//! network namespace. (With IPVS, the blocking handle is exercised by the
//! guest tests, `guest-tests/tests/guest_ipvs.rs` in the repository.)

use ipvs_nl::blocking::IpvsHandle;
use ipvs_nl::netlink::{Connection, Protocol};
use ipvs_nl::{Error, Netns};

use clusterip_test_support::block_on;

/// `Unsupported` without IPVS, word for word the async handle's error.
#[test]
fn blocking_handle_without_ipvs_is_unsupported_like_the_async_one() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "the test itself has no runtime"
    );
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let want = block_on(ipvs_nl::IpvsHandle::in_netns(&ns)).unwrap_err();
    assert!(matches!(want, Error::Unsupported { .. }), "{want:?}");
    assert!(
        want.to_string()
            .contains("no IPVS in this kernel: load ip_vs"),
        "{want}"
    );

    let got = IpvsHandle::in_netns(&ns).unwrap_err();
    assert!(matches!(got, Error::Unsupported { .. }), "{got:?}");
    assert_eq!(got.to_string(), want.to_string());

    // new() works in the caller's namespace: run it inside `ns`
    let got = ns.run(|| IpvsHandle::new().map(drop)).unwrap().unwrap_err();
    assert!(matches!(got, Error::Unsupported { .. }), "{got:?}");
    assert_eq!(got.to_string(), want.to_string());

    let conn = Connection::open(Protocol::Generic, &ns).unwrap();
    let got = IpvsHandle::with_connection(conn).unwrap_err();
    assert!(matches!(got, Error::Unsupported { .. }), "{got:?}");
    assert_eq!(got.to_string(), want.to_string());

    // another protocol is refused before the kernel is asked, as by the
    // async handle
    let conn = Connection::open(Protocol::Netfilter, &ns).unwrap();
    let got = IpvsHandle::with_connection(conn).unwrap_err();
    assert!(matches!(got, Error::InvalidInput { .. }), "{got:?}");
}

/// Inside a Tokio runtime the constructor is refused with an `Io` error
/// naming the blocking handle, not a panic, before the kernel is asked.
#[test]
fn blocking_constructor_inside_a_runtime_is_refused() {
    let ns = Netns::new_anonymous().expect("new network namespace (run as root)");
    let e = block_on(async { IpvsHandle::in_netns(&ns).map(drop) }).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("create ipvs_nl::blocking::IpvsHandle: "),
        "{text}"
    );
    assert!(text.contains("inside a Tokio runtime"), "{text}");
    assert!(text.contains("ipvs_nl::IpvsHandle"), "{text}");
}
