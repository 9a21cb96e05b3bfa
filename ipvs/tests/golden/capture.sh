#!/bin/bash
# Captures the generic netlink messages the real ipvsadm (1.31) exchanges with
# a real IPVS kernel, for the golden-bytes tests in tests/golden.rs.
#
# Run from the repository root (the guest has IPVS, the host does not):
#   tools/guest --kernel uml -- ipvs/tests/golden/capture.sh /tmp/ipvscap \
#     | sed -n '/^BEGIN-TAR$/,/^END-TAR$/p' | sed '1d;$d' | base64 -d | tar x -C DIR
# (the traces are written to the guest's /tmp and sent back as a base64 tar on
# stdout, because `--rw` did not work with the uml guest at the time).
# Each step runs `strace -f -e trace=sendmsg,recvmsg -e write=all -e read=all -xx`
# around one ipvsadm command inside a fresh network namespace (unshare -n)
# and writes the trace to OUT/NN-name.trace.
set -u
OUT=${1:?output directory}
mkdir -p "$OUT"
cat >"$OUT/steps.sh" <<'STEPS'
ip link set lo up
ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up
modprobe -d "$CLUSTERIP_RIG_MODDIR" ip_vs_pe_sip || echo "no ip_vs_pe_sip" >&2
cap() { local name=$1; shift; strace -f -o "$OUT/$name.trace" -e trace=sendmsg,recvmsg -e write=all -e read=all -xx "$@"; echo "== $name rc=$?"; }
cap 01-add-service-tcp ipvsadm -A -t 10.0.0.1:80 -s rr
cap 02-add-service-udp6-persist ipvsadm -A -u [2001:db8::1]:53 -s wlc -p 600 -M 64
cap 03-add-service-fwmark-flags ipvsadm -A -f 7 -s sh -b sh-fallback,sh-port
cap 04-add-service-persist-mask ipvsadm -A -t 10.0.0.2:443 -s mh -b mh-fallback,mh-port -p -M 255.255.255.0
cap 04b-add-service-ops ipvsadm -A -u 10.0.0.4:53 -s lc -o
cap 05-add-service-pe-sip ipvsadm -A -u 10.0.0.3:5060 -s rr -p 60 --pe sip
cap 06-edit-service ipvsadm -E -t 10.0.0.1:80 -s wrr -b flag-3
cap 07-add-dest-masq ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 3 -x 100 -y 10
cap 08-add-dest-tunnel ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.3 -i --tun-type gue --tun-port 6080 --tun-remcsum
cap 09-add-dest-mixed ipvsadm -a -t 10.0.0.1:80 -r [2001:db8::9]:80 -i -w 0
cap 10-add-dest-v6 ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -g
cap 11-edit-dest ipvsadm -e -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 5
cap 12-list ipvsadm -Ln
cap 13-list-one ipvsadm -Ln -t 10.0.0.1:80
cap 14-list-stats ipvsadm -Ln --stats
cap 15-zero-one ipvsadm -Z -t 10.0.0.1:80
cap 16-zero-all ipvsadm -Z
cap 17-set-timeouts ipvsadm --set 900 120 300
cap 18-get-timeouts ipvsadm -Ln --timeout
cap 23-del-dest ipvsadm -d -t 10.0.0.1:80 -r 192.168.0.2:8080
cap 24-del-service ipvsadm -D -t 10.0.0.1:80
cap 25-save ipvsadm -Sn
cap 26-flush ipvsadm -C
# the sync daemon refuses to start while mixed-family destinations exist (EINVAL)
cap 19-start-daemon ipvsadm --start-daemon master --mcast-interface v0 --syncid 5
cap 20-start-daemon-backup ipvsadm --start-daemon backup --mcast-interface v0 --syncid 6 --sync-maxlen 1400 --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 2
cap 21-list-daemon ipvsadm -Ln --daemon
cap 22-stop-daemon ipvsadm --stop-daemon master
ipvsadm -A -u [2001:db8::1]:53 -s wlc
cap 27-err-dup-service ipvsadm -A -u [2001:db8::1]:53 -s wlc
cap 28-err-missing-service ipvsadm -D -t 10.9.9.9:1
cap 29-err-bad-sched ipvsadm -A -t 10.0.0.5:80 -s nosuchsched
cap 29b-err-missing-dest ipvsadm -d -u [2001:db8::1]:53 -r [2001:db8::7]:53
cap 30-version ipvsadm -v
STEPS
unshare -n env OUT="$OUT" bash -x "$OUT/steps.sh" >&2
echo BEGIN-TAR
tar c -C "$OUT" . | base64
echo END-TAR
