//! rtnetlink helpers against this machine's kernel, in throwaway namespaces.

use clusterip::link::{InterfaceAddress, LinkHandle};
use clusterip::netlink::Netns;

mod common;
use common::block_on;

#[test]
fn loopback_up_and_addresses() {
    let ns = Netns::new_anonymous().unwrap();
    let links = LinkHandle::in_netns(&ns).unwrap();
    block_on(async {
        let lo = links.index("lo").await.unwrap().expect("lo exists");
        assert_eq!(links.index("no-such-if").await.unwrap(), None);
        assert!(!links.is_up(lo).await.unwrap());
        links.set_up(lo).await.unwrap();
        assert!(links.is_up(lo).await.unwrap());

        let vip = "169.254.11.2".parse().unwrap();
        assert!(!links.is_local(vip).await.unwrap());
        assert!(links.add_address(lo, vip, 32).await.unwrap());
        assert!(
            !links.add_address(lo, vip, 32).await.unwrap(),
            "second add is a no-op"
        );
        assert!(links.is_local(vip).await.unwrap());
        let addrs = links.addresses(lo).await.unwrap();
        assert!(
            addrs.contains(&InterfaceAddress {
                address: vip,
                prefix_len: 32
            }),
            "{addrs:?}"
        );
        let v6 = "fd00::2".parse().unwrap();
        links.add_address(lo, v6, 128).await.unwrap();
        // IPv6 installs the local route from a work queue, even without
        // DAD: wait for it (bounded).
        let mut local = false;
        for _ in 0..200 {
            local = links.is_local(v6).await.unwrap();
            if local {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(local, "IPv6 address never became local");
        // Listed too (IPv6 names it in IFA_ADDRESS only), and removable.
        let v6_addr = InterfaceAddress {
            address: v6,
            prefix_len: 128,
        };
        let addrs = links.addresses(lo).await.unwrap();
        assert!(addrs.contains(&v6_addr), "{addrs:?}");
        links.del_address(lo, v6, 128).await.unwrap();
        let addrs = links.addresses(lo).await.unwrap();
        assert!(!addrs.contains(&v6_addr), "{addrs:?}");
        links.del_address(lo, vip, 32).await.unwrap();
        assert!(!links.is_local(vip).await.unwrap());
        let err = links.del_address(lo, vip, 32).await.unwrap_err();
        assert!(err.to_string().contains("169.254.11.2/32"), "{err}");
    });
    // The caller's own namespace was never touched.
    let host = LinkHandle::new().unwrap();
    assert!(!block_on(host.is_local("169.254.11.2".parse().unwrap())).unwrap());
}
