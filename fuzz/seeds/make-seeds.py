#!/usr/bin/env python3
"""Regenerates the committed seed corpora under fuzz/seeds/<target>/ from the
crates' golden captures (run from anywhere; needs only python3). The seeds
are committed, so tools/fuzz never runs this.

- ipset_message, nl_engine_wire: the hex constants of ipset-nl/tests/golden.rs
  (ipset 7.17 requests and the 6.18 kernel's replies, captured with strace);
- nftables_message, nl_engine_wire: the datagrams of nftables-glue/tests/data/*.hex
  (nft -f / iptables-nft batches and the kernel's dump replies);
- ipvs_message, nl_engine_wire: the send/recv datagrams of ipvs/tests/golden/*.txt
  (ipvsadm 1.31 against the Debian 6.1 kernel);
- keepalived_config: tests/data/keepalived (the seeds' files); the absolute
  include of seed000 is rewritten to a relative one, since the target skips
  includes that could leave its scratch directory.

Sequence numbers and port ids (bytes 8..16 of every message) are zeroed so
that captures differing only in those collapse into one seed.
"""
import glob
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fuzz", "seeds")


def zero_seq(d):
    d = bytearray(d)
    off = 0
    while off + 16 <= len(d):
        (ln,) = struct.unpack_from("=I", d, off)
        d[off + 8 : off + 16] = bytes(8)
        if ln < 16:
            break
        off += (ln + 3) & ~3
    return bytes(d)


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(OUT, target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.seen = set()

    def add(self, name, data):
        if data in self.seen:
            return
        self.seen.add(data)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


wire = Corpus("nl_engine_wire")

# ipset-nl/tests/golden.rs: const NAME: &str = concat!("..", "..") or "..";
ipset = Corpus("ipset_message")
src = open(os.path.join(ROOT, "ipset-nl/tests/golden.rs")).read()
for name, body in re.findall(r'const ([A-Z0-9_]+): &str = (.*?);\n', src, re.S):
    d = zero_seq(bytes.fromhex("".join(re.findall(r'"([0-9a-f]*)"', body))))
    ipset.add(name.lower(), d)
    if "REPLY" in name:
        wire.add("ipset-" + name.lower(), d)

nft = Corpus("nftables_message")
for path in sorted(glob.glob(os.path.join(ROOT, "nftables-glue/tests/data/*.hex"))):
    base = os.path.basename(path)[:-4]
    for i, line in enumerate(l for l in open(path) if l.strip()):
        d = zero_seq(bytes.fromhex(line.strip()))
        nft.add(f"{base}-{i:02}", d)
        if "replies" in base:
            wire.add(f"nft-{base}-{i:02}", d)

ipvs_files = sorted(glob.glob(os.path.join(ROOT, "ipvs/tests/golden/*.txt")))
if ipvs_files:
    ipvs = Corpus("ipvs_message")
    for path in ipvs_files:
        base = os.path.basename(path)[:-4]
        for i, line in enumerate(open(path)):
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("send", "recv"):
                d = zero_seq(bytes.fromhex(parts[1]))
                ipvs.add(f"{base}-{i:02}-{parts[0]}", d)
                if parts[0] == "recv":
                    wire.add(f"ipvs-{base}-{i:02}", d)

ka = Corpus("keepalived_config")
for path in sorted(glob.glob(os.path.join(ROOT, "tests/data/keepalived/**/*.conf"), recursive=True)):
    rel = os.path.relpath(path, os.path.join(ROOT, "tests/data/keepalived"))
    text = open(path, "rb").read()
    text = re.sub(rb"include /\S*/", b"include ", text)
    ka.add(rel.replace("/", "-"), text)

# ipvs/src/conn_table.rs: the /proc/net/ip_vs_conn captured in the uml guest
# (its unit test CAPTURED), and the persistence-engine line of its tests.
conn = Corpus("ipvs_conn_table")
src = open(os.path.join(ROOT, "ipvs/src/conn_table.rs")).read()
m = re.search(r'const CAPTURED: &str = "\\\n(.*?)";', src, re.S)
if m:
    conn.add("captured", m.group(1).encode())
conn.add("sip", b"UDP 0A000001 13C4 0A000003 13C4 C0A80702 13C4 UDP             170 sip abc@host\n")

# The ipset commands of ipset-nl/tests/golden.rs's capture (one command line
# per seed, without the program name), and `ipset save` of that state.
cli = Corpus("ipset_cli")
src = open(os.path.join(ROOT, "ipset-nl/tests/golden.rs")).read()
for i, line in enumerate(re.findall(r'^//! ipset (.*?)(?:\s+#.*)?$', src, re.M)):
    cli.add(f"cmd-{i:02}", line.encode())
cli.add("save", b"""create s hash:ip,port family inet hashsize 1024 maxelem 65536 timeout 100 counters comment skbinfo forceadd bucketsize 12 initval 0x11223344
add s 10.0.0.1,tcp:80 timeout 50 packets 5 bytes 100 comment "hi" skbmark 0x10/0xff skbprio 1:2 skbqueue 3
add s 10.0.0.0/30,udp:1000-1002
add s 10.0.0.9,icmp:echo-request
create s6 hash:ip,port family inet6 hashsize 1024 maxelem 65536 bucketsize 12 initval 0x5e3b3c1a
add s6 2001:db8::1,sctp:443
COMMIT
""")

for c in [wire, ipset, nft, ka, conn, cli] + ([ipvs] if ipvs_files else []):
    print(f"{os.path.relpath(c.dir, ROOT)}: {len(c.seen)} seeds")
