//! General IPVS information (`IPVS_CMD_GET_INFO`: `IPVS_INFO_ATTR_*`).

use std::fmt;

/// The IPVS version and connection table size of the running kernel
/// (`ipvsadm`'s first line: "IP Virtual Server version 1.2.1 (size=4096)").
///
/// ```no_run
/// # async fn f() -> ipvs_nl::Result<()> {
/// let info = ipvs_nl::IpvsHandle::new().await?.info().await?;
/// println!("IP Virtual Server version {} (size={})", info.version, info.conn_tab_size);
/// # Ok(()) }
/// ```
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Info {
    /// The IPVS version.
    pub version: Version,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

/// An IPVS version code (`IP_VS_VERSION_CODE`, e.g. `0x010201` = 1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Version(pub u32);

impl Version {
    /// Major, minor, patch.
    pub fn parts(self) -> (u8, u8, u8) {
        let [_, a, b, c] = self.0.to_be_bytes();
        (a, b, c)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b, c) = self.parts();
        write!(f, "{a}.{b}.{c}")
    }
}

impl fmt::Display for Info {
    /// The first line of `ipvsadm -L`:
    /// `IP Virtual Server version 1.2.1 (size=4096)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IP Virtual Server version {} (size={})",
            self.version, self.conn_tab_size
        )
    }
}
