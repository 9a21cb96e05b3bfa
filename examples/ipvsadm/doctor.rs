//! `ipvsadm doctor`: the kernel version, whether IPVS is there (and its
//! version), and the IPVS sysctls against kube-proxy's profile for that
//! kernel (`clusterip::svc::SysctlProfile`, the table svc-setup applies).
//! Exit status 0 when IPVS is there and every sysctl matches, 1 otherwise.

use clusterip::netlink::Netns;
use clusterip::svc::{KernelVersion, SysctlProfile, Want};
use ipvs_nl::IpvsHandle;

/// Runs the report in the current network namespace; returns its text
/// and whether everything is right.
pub async fn report() -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let kernel = match KernelVersion::running() {
        Ok((v, release)) => {
            out += &format!("Kernel {release} (version {v})\n");
            v
        }
        Err(e) => {
            out += &format!("Kernel version unknown: {e}\n");
            return (out, false);
        }
    };
    let ipvs = async {
        let h = IpvsHandle::new().await?;
        h.info().await
    };
    match ipvs.await {
        Ok(info) => {
            out += &format!(
                "IP Virtual Server version {} (size={})\n",
                info.version, info.conn_tab_size
            );
        }
        Err(e) => {
            ok = false;
            out += &format!("IP Virtual Server not available: {e}\n");
        }
    }
    let profile = SysctlProfile::for_kernel(kernel).with_base();
    let values = match profile.read(&Netns::current()) {
        Ok(v) => v,
        Err(e) => {
            out += &format!("Cannot read the sysctls: {e}\n");
            return (out, false);
        }
    };
    out += &format!(
        "{:<38} {:<8} {:<8} {}\n",
        "Sysctl", "Value", "Profile", "Status"
    );
    let mut differ = 0;
    for (s, value) in &values {
        let shown = value.as_deref().unwrap_or("-");
        let (want, status) = match s.want {
            Want::Value(w) if value.as_deref() == Some(w) => (w, "ok".to_string()),
            Want::Value(w) if value.is_none() => (w, "MISSING".to_string()),
            Want::Value(w) => (w, "MISMATCH".to_string()),
            Want::AsIs(why) => ("as is", format!("ok ({why})")),
        };
        if !profile.matches(s.name, value.as_deref()) {
            differ += 1;
        }
        out += &format!("{:<38} {:<8} {:<8} {}\n", s.name, shown, want, status);
    }
    if differ == 0 {
        out += &format!(
            "All {} sysctls match the profile for kernel {kernel}\n",
            values.len()
        );
    } else {
        ok = false;
        out += &format!(
            "{differ} of {} sysctls differ from the profile for kernel {kernel}\n",
            values.len()
        );
    }
    (out, ok)
}
