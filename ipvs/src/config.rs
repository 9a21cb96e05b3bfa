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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// Established TCP connections.
    #[cfg_attr(feature = "serde", serde(with = "nl_engine::serde_support::secs"))]
    pub tcp: Duration,
    /// TCP connections after a FIN.
    #[cfg_attr(feature = "serde", serde(with = "nl_engine::serde_support::secs"))]
    pub tcp_fin: Duration,
    /// UDP.
    #[cfg_attr(feature = "serde", serde(with = "nl_engine::serde_support::secs"))]
    pub udp: Duration,
}

impl Timeouts {
    /// Seconds as the kernel takes them (saturating).
    pub(crate) fn secs(d: Duration) -> u32 {
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
    }
}

impl std::fmt::Display for Timeouts {
    /// As `ipvsadm -L --timeout`: `Timeout (tcp tcpfin udp): 900 120 300`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Timeout (tcp tcpfin udp): {} {} {}",
            self.tcp.as_secs(),
            self.tcp_fin.as_secs(),
            self.udp.as_secs()
        )
    }
}
