//! The command line of `svc-setup`: a pure parser that never panics (a fuzz
//! target and the tests include this file by path).

use std::path::PathBuf;

use clusterip::svc::Dataplane;

/// Usage text.
pub const USAGE: &str = "\
usage: svc-setup [OPTIONS]

Reads keepalived's configuration and sets up ClusterIP-style services:
the virtual IPs on a dummy interface, the cluster-IP ipset (VIP,proto:port),
the service NAT chains (mark + masquerade) and the sysctls
net.ipv4.ip_forward=1 and net.ipv4.vs.conntrack=1, plus kube-proxy's IPVS
sysctl profile for the running kernel (conn_reuse_mode=0 on 4.1 to 5.8,
expire_nodest_conn=1, expire_quiescent_template=1); for IPv6 services, a
second ipset (family inet6), the same chains in an ip6 table and
net.ipv6.conf.all.forwarding=1. Idempotent: a second run changes nothing and
says \"no changes\".

With --dataplane nftables the services' traffic goes through nf_tables
instead of IPVS, as in kube-proxy's nftables mode: one inet table (default
zgz-dnat) maps each VIP:port to its service's chain, which picks a real server
by numgen (lb_algo rr: each in turn; wrr: by weight), DNATs to it, marks and
masquerades. The VIPs stay on the dummy interface and forwarding is enabled;
no ipset, NAT chains or IPVS sysctls are needed. A run removes the other data
path's objects: with nftables the IPVS services of the namespace, the NAT
chains and the cluster-IP ipsets; with ipvs the DNAT table. Other schedulers,
persistence_timeout, lb_kind DR/TUN and fwmark services are refused (file:line)
before any change.

options:
  --config FILE          keepalived configuration (default /etc/keepalived/keepalived.conf)
  --interface NAME       dummy interface for the VIPs (default svc)
  --ipset NAME           cluster-IP ipset (default ZGZ-CLUSTER-IP)
  --ipset6 NAME          cluster-IP ipset of the IPv6 services (default ZGZ-CLUSTER-IP6)
  --nat-table NAME       nf_tables table of the NAT chains (default zgz-services)
  --nat-prefix NAME      NAT chain name prefix (default ZGZ-SERVICES)
  --mark N               mark bit for service traffic (default 0x2000)
  --dataplane ipvs|nftables
                         the data path: IPVS with the ipset and NAT chains
                         (default), or an nf_tables DNAT table (see above)
  --dnat-table NAME      inet table of the nftables data path (default zgz-dnat)
  --ipvs                 also program IPVS services and destinations (ipvs data path)
  --no-drain             with --ipvs: delete real servers that leave the configuration
                         at once (default: keep one that still has connections at
                         weight 0 until a later run finds it idle)
  --dry-run              print the plan, change nothing
  --watch                daemon mode: set up, then run the configuration's health
                         checks (TCP_CHECK, HTTP_GET, MISC_CHECK) and keep IPVS in
                         line with them (with --ipvs), or the DNAT table (with
                         --dataplane nftables: a table changed by someone else is
                         repaired); run quorum_up/quorum_down;
                         reload on SIGHUP or when a configuration file changes
                         (only the difference is applied); stop on SIGTERM/SIGINT
  --state-file PATH      with --watch: the drain state (real servers drained by
                         health or removal), kept across restarts
                         (default /run/svc-setup/state)
  --check                only read and check the configuration (no kernel access)
  --reload-keepalived    send SIGHUP to keepalived afterwards
  --pid-file PATH        keepalived's pid file (default /run/keepalived.pid)
  --netns PATH           act on this network namespace (e.g. /run/netns/node)
  -h, --help             this text
";

/// An ipset name given to `flag`: 1 to 31 bytes.
fn set_name(flag: &str, v: String) -> Result<String, String> {
    if v.is_empty() || v.len() > 31 {
        return Err(format!("{flag} {v:?}: a set name is 1 to 31 bytes"));
    }
    Ok(v)
}

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--config`.
    pub config: PathBuf,
    /// `--interface`.
    pub interface: String,
    /// `--ipset`.
    pub ipset: String,
    /// `--ipset6`.
    pub ipset6: String,
    /// `--nat-table`.
    pub nat_table: String,
    /// `--nat-prefix`.
    pub nat_prefix: String,
    /// `--mark`.
    pub mark: u32,
    /// `--ipvs`.
    pub ipvs: bool,
    /// `--dataplane`.
    pub dataplane: Dataplane,
    /// `--dnat-table`.
    pub dnat_table: String,
    /// `--no-drain`.
    pub no_drain: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--check`.
    pub check: bool,
    /// `--reload-keepalived`.
    pub reload: bool,
    /// `--pid-file`.
    pub pid_file: PathBuf,
    /// `--netns`.
    pub netns: Option<PathBuf>,
    /// `--watch`.
    pub watch: bool,
    /// `--state-file`.
    pub state_file: PathBuf,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            config: "/etc/keepalived/keepalived.conf".into(),
            interface: "svc".into(),
            ipset: "ZGZ-CLUSTER-IP".into(),
            ipset6: "ZGZ-CLUSTER-IP6".into(),
            nat_table: "zgz-services".into(),
            nat_prefix: "ZGZ-SERVICES".into(),
            mark: 0x2000,
            ipvs: false,
            dataplane: Dataplane::Ipvs,
            dnat_table: "zgz-dnat".into(),
            no_drain: false,
            dry_run: false,
            check: false,
            reload: false,
            pid_file: "/run/keepalived.pid".into(),
            netns: None,
            watch: false,
            state_file: "/run/svc-setup/state".into(),
        }
    }
}

/// What the command line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these options.
    Run(Box<Args>),
    /// Print the usage.
    Help,
}

fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Checks a name for an interface (1-15 bytes, no '/', ':' or space).
fn interface_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 15 || s.contains(['/', ':']) || s.contains(char::is_whitespace) {
        return Err(format!(
            "--interface {s:?}: an interface name is 1 to 15 bytes without '/', ':' or spaces"
        ));
    }
    Ok(s.to_string())
}

/// Parses the arguments (without the program name).
pub fn parse<I, S>(args: I) -> Result<Parsed, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut a = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let arg = arg.as_ref();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .map(|v| v.as_ref().to_string())
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--config" => a.config = value(flag)?.into(),
            "--interface" => a.interface = interface_name(&value(flag)?)?,
            "--ipset" => a.ipset = set_name(flag, value(flag)?)?,
            "--ipset6" => a.ipset6 = set_name(flag, value(flag)?)?,
            "--nat-table" => {
                let v = value(flag)?;
                if v.is_empty() {
                    return Err("--nat-table needs a name".into());
                }
                a.nat_table = v;
            }
            "--nat-prefix" => {
                let v = value(flag)?;
                if v.is_empty() {
                    return Err("--nat-prefix needs a name".into());
                }
                a.nat_prefix = v;
            }
            "--mark" => {
                let v = value(flag)?;
                a.mark = match parse_u32(&v) {
                    Some(m) if m != 0 => m,
                    _ => return Err(format!("--mark {v:?}: a non-zero number (e.g. 0x2000)")),
                };
            }
            "--dataplane" => a.dataplane = value(flag)?.parse()?,
            "--dnat-table" => {
                let v = value(flag)?;
                if v.is_empty() {
                    return Err("--dnat-table needs a name".into());
                }
                a.dnat_table = v;
            }
            "--pid-file" => a.pid_file = value(flag)?.into(),
            "--netns" => a.netns = Some(value(flag)?.into()),
            "--state-file" => {
                let v = value(flag)?;
                if v.is_empty() {
                    return Err("--state-file needs a path".into());
                }
                a.state_file = v.into();
            }
            "--ipvs"
            | "--no-drain"
            | "--dry-run"
            | "--check"
            | "--reload-keepalived"
            | "--watch"
                if inline.is_some() =>
            {
                return Err(format!("{flag} takes no value"));
            }
            "--ipvs" => a.ipvs = true,
            "--no-drain" => a.no_drain = true,
            "--dry-run" => a.dry_run = true,
            "--check" => a.check = true,
            "--reload-keepalived" => a.reload = true,
            "--watch" => a.watch = true,
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if a.watch && (a.dry_run || a.check || a.reload) {
        return Err(
            "--watch runs as a daemon: it does not combine with --dry-run, --check or --reload-keepalived"
                .into(),
        );
    }
    if a.dataplane == Dataplane::Nftables && a.ipvs {
        return Err(
            "--ipvs programs IPVS, --dataplane nftables replaces it: give one of them".into(),
        );
    }
    Ok(Parsed::Run(Box::new(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_flags() {
        assert_eq!(
            parse(Vec::<String>::new()).unwrap(),
            Parsed::Run(Box::default())
        );
        let Parsed::Run(a) = parse([
            "--config=/x.conf",
            "--ipvs",
            "--dry-run",
            "--mark",
            "0x4000",
            "--netns",
            "/run/netns/node",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.config, PathBuf::from("/x.conf"));
        assert!(a.ipvs && a.dry_run && !a.reload);
        assert_eq!(a.mark, 0x4000);
        assert_eq!(a.netns, Some(PathBuf::from("/run/netns/node")));
        assert!(parse(["--mark", "0"]).is_err());
        assert!(parse(["--config"]).is_err());
        assert!(parse(["--interface", "a/b"]).is_err());
        assert!(parse(["--ipvs=1"]).is_err());
        assert!(parse(["--bogus"]).is_err());
        assert_eq!(parse(["-h"]).unwrap(), Parsed::Help);
        let Parsed::Run(a) = parse(["--watch", "--ipvs", "--state-file", "/tmp/s"]).unwrap() else {
            panic!()
        };
        assert!(a.watch && a.ipvs);
        assert_eq!(a.state_file, PathBuf::from("/tmp/s"));
        assert!(parse(["--watch", "--dry-run"]).is_err());
        assert!(parse(["--watch=1"]).is_err());
        assert!(parse(["--state-file="]).is_err());
        let Parsed::Run(a) = parse(["--dataplane=nftables", "--dnat-table", "t"]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.dataplane, a.dnat_table.as_str()),
            (Dataplane::Nftables, "t")
        );
        assert!(parse(["--dataplane", "iptables"]).is_err());
        assert!(parse(["--dataplane", "nftables", "--ipvs"]).is_err());
        assert!(parse(["--dataplane", "ipvs", "--ipvs"]).is_ok());
    }
}
