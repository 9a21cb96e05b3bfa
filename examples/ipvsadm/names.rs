//! Host and service names from `/etc/hosts` and `/etc/services` (what
//! glibc's `files` backend answers ipvsadm's `gethostbyname`,
//! `gethostbyaddr`, `getservbyname` and `getservbyport`). No DNS: an address
//! without an `/etc/hosts` entry prints as a number.

use std::net::IpAddr;
use std::sync::OnceLock;

/// `/etc/hosts` and `/etc/services`, read at the first look-up (a restore
/// or a numeric listing never reads them).
#[derive(Debug, Default, Clone)]
pub struct Names {
    tables: OnceLock<Tables>,
    /// Read the system files when first asked (else: no names).
    system: bool,
}

/// Parsed `/etc/hosts` and `/etc/services`.
#[derive(Debug, Default, Clone)]
struct Tables {
    /// (address, canonical name, aliases)
    hosts: Vec<(IpAddr, String, Vec<String>)>,
    /// (name, port, protocol, aliases)
    services: Vec<(String, u16, String, Vec<String>)>,
}

impl Names {
    /// The system files, read when first needed (missing files mean no
    /// names).
    pub fn system() -> Self {
        Names {
            tables: OnceLock::new(),
            system: true,
        }
    }

    /// Names from the texts of the two files.
    #[allow(dead_code)] // the tests' (tests/ipvsadm_cli.rs)
    pub fn parse(hosts: &str, services: &str) -> Self {
        Names {
            tables: OnceLock::from(Tables::parse(hosts, services)),
            system: false,
        }
    }

    fn tables(&self) -> &Tables {
        self.tables.get_or_init(|| {
            if !self.system {
                return Tables::default();
            }
            let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
            Tables::parse(&hosts, &services)
        })
    }

    /// `gethostbyaddr`: the canonical name of the first entry with `addr`.
    pub fn host_name(&self, addr: IpAddr) -> Option<&str> {
        self.tables()
            .hosts
            .iter()
            .find(|(a, _, _)| *a == addr)
            .map(|(_, n, _)| n.as_str())
    }

    /// `getservbyport`: the first service with `port`/`proto`.
    pub fn service_name(&self, port: u16, proto: &str) -> Option<&str> {
        self.tables()
            .services
            .iter()
            .find(|(_, p, pr, _)| *p == port && pr == proto)
            .map(|(n, _, _, _)| n.as_str())
    }
}

impl Tables {
    fn parse(hosts: &str, services: &str) -> Self {
        let mut n = Tables::default();
        for line in hosts.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            let (Some(a), Some(name)) = (w.next(), w.next()) else {
                continue;
            };
            let Ok(addr) = a.parse::<IpAddr>() else {
                continue;
            };
            n.hosts
                .push((addr, name.to_owned(), w.map(str::to_owned).collect()));
        }
        for line in services.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            let (Some(name), Some(pp)) = (w.next(), w.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            n.services.push((
                name.to_owned(),
                port,
                proto.to_owned(),
                w.map(str::to_owned).collect(),
            ));
        }
        n
    }
}

impl crate::cli::Lookup for Names {
    fn host_v4(&self, name: &str) -> Option<[u8; 4]> {
        self.tables().hosts.iter().find_map(|(a, n, al)| match a {
            IpAddr::V4(v4) if n == name || al.iter().any(|x| x == name) => Some(v4.octets()),
            _ => None,
        })
    }

    fn service_port(&self, name: &str, proto: &str) -> Option<u16> {
        self.tables()
            .services
            .iter()
            .find(|(n, _, pr, al)| pr == proto && (n == name || al.iter().any(|x| x == name)))
            .map(|(_, p, _, _)| *p)
    }
}
