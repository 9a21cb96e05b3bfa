//! Connection timeouts (`IPVS_CMD_SET_CONFIG`/`GET_CONFIG`:
//! `IPVS_CMD_ATTR_TIMEOUT_*`).

use std::time::Duration;

/// The connection timeouts of a namespace (`ipvsadm --set TCP TCPFIN UDP`).
///
/// When setting, a zero duration leaves that timeout unchanged.
///
/// ```no_run
/// use ipvs_nl::{IpvsHandle, Timeouts};
/// use std::time::Duration;
/// # async fn f() -> ipvs_nl::Result<()> {
/// let ipvs = IpvsHandle::new().await?;
/// let mut t = ipvs.timeouts().await?;
/// t.tcp = Duration::from_secs(900);
/// ipvs.set_timeouts(&t).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// Established TCP connections.
    pub tcp: Duration,
    /// TCP connections after a FIN.
    pub tcp_fin: Duration,
    /// UDP.
    pub udp: Duration,
}

impl Timeouts {
    /// Seconds as the kernel takes them (saturating).
    pub(crate) fn secs(d: Duration) -> u32 {
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
    }
}
