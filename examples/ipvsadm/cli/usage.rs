//! This project's `-h` and `-v` texts.

use std::fmt::Write as _;

/// This project's `-h` text.
pub fn help_text(program: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{program}: IPVS administration on generic netlink (clusterip's ipvs-nl),\n\
         a drop-in replacement for ipvsadm 1.31 with the same command line.\n\n\
         Usage:\n  \
         {program} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe engine] [-b sched-flags]\n  \
         {program} -D virtual-service\n  \
         {program} -C\n  \
         {program} -R            (restore -S output from stdin, in large batches)\n  \
         {program} -S [-n]\n  \
         {program} -a|e virtual-service -r server-address [options]\n  \
         {program} -d virtual-service -r server-address\n  \
         {program} -L|l [virtual-service] [options] [--json]\n  \
         {program} -Z [virtual-service]\n  \
         {program} --set tcp tcpfin udp\n  \
         {program} --start-daemon {{master|backup}} [daemon-options]\n  \
         {program} --stop-daemon {{master|backup}}\n  \
         {program} -h | -v\n\n\
         virtual-service: -t|--tcp-service, -u|--udp-service, --sctp-service host[:port],\n\
         \x20                or -f|--fwmark-service mark [-6|--ipv6]\n\n\
         Options: -s|--scheduler (default wlc), -p|--persistent [timeout] (default 360),\n\
         -M|--netmask, --pe, -b|--sched-flags, -o|--ops, -r|--real-server,\n\
         -g|--gatewaying (default), -i|--ipip, -m|--masquerading, --tun-type ipip|gue|gre,\n\
         --tun-port, --tun-nocsum|--tun-csum|--tun-remcsum, -w|--weight (default 1),\n\
         -x|--u-threshold, -y|--l-threshold.\n\
         Listing: -n|--numeric, -c|--connection, --timeout, --daemon, --stats, --rate,\n\
         --thresholds, --persistent-conn, --tun-info, --exact|-X, --nosort, --sort,\n\
         --json (machine-readable, see docs/ipvsadm-json.md).\n\
         Daemon: --mcast-interface, --syncid, --sync-maxlen, --mcast-group, --mcast-port,\n\
         --mcast-ttl.\n"
    );
    s
}

/// This project's `-v` text.
pub fn version_text() -> String {
    format!(
        "ipvsadm (clusterip example) {} on ipvs-nl, command line of ipvsadm v1.31\n",
        env!("CARGO_PKG_VERSION")
    )
}
