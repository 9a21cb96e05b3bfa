#!/usr/bin/env python3
"""Turns the strace traces written by capture.sh into the golden files.

    python3 ipvs/tests/golden/extract.py CAPTURE_DIR ipvs/tests/golden

For each NN-name.trace, writes NN-name.txt: one line per netlink message of
the IPVS family, `send HEX` (what ipvsadm sent) or `recv HEX` (what the kernel
answered), in order. Messages of the generic netlink controller (nlctrl,
type 0x10: family resolution) and MSG_PEEK duplicates are left out.
The bytes are exactly those strace printed (sequence numbers and port ids
included; the tests zero them before comparing).
"""
import os
import re
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
cmds = {}
for line in open(os.path.join(src, "steps.sh")):
    m = re.match(r"cap (\S+) (.*)", line.strip())
    if m:
        cmds[m.group(1)] = m.group(2)

for name in sorted(cmds):
    path = os.path.join(src, name + ".trace")
    if not os.path.exists(path):
        continue
    out = []
    kind = None
    buf = bytearray()

    def flush():
        global kind, buf
        if kind and buf:
            off = 0
            while off + 16 <= len(buf):
                ln, ty = struct.unpack_from("<IH", buf, off)
                if ln < 16 or off + ln > len(buf):
                    break
                msg = bytes(buf[off:off + ln])
                # ACK/errors to nlctrl requests: look at the echoed type
                echoed = struct.unpack_from("<H", msg, 24)[0] if ty == 2 and ln >= 26 else None
                if ty != 0x10 and echoed != 0x10:
                    out.append("%s %s" % (kind, msg.hex()))
                off += (ln + 3) & ~3
        kind = None
        buf = bytearray()

    for line in open(path):
        m = re.match(r"\d+\s+(sendmsg|recvmsg)\(", line)
        if m:
            flush()
            if m.group(1) == "recvmsg" and "MSG_PEEK" in line:
                kind = None
            else:
                kind = "send" if m.group(1) == "sendmsg" else "recv"
            continue
        m = re.match(r" \| [0-9a-f]{5}  (.{48})", line)
        if m and kind:
            buf += bytes.fromhex(m.group(1).replace(" ", ""))
    flush()
    with open(os.path.join(dst, name + ".txt"), "w") as f:
        f.write("# ipvsadm 1.31: %s\n" % cmds[name])
        f.write("# captured with strace by tests/golden/capture.sh in the uml guest (Debian kernel 6.1)\n")
        for o in out:
            f.write(o + "\n")
