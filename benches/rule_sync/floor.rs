//! The raw floor: the cases' messages pre-encoded, packed and sent with
//! no engine.

use super::*;

pub(crate) struct Raw {
    pub(crate) sock: netlink_sys::Socket,
    pub(crate) buf: Vec<u8>,
    /// The length each receive offers (which also sizes the kernel's
    /// dump parts, see `Config::recv_len`).
    pub(crate) recv_len: usize,
}

impl Raw {
    pub(crate) fn open(proto: isize) -> Res<Raw> {
        let mut s = netlink_sys::Socket::new(proto)?;
        s.bind_auto()?;
        s.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        let size: libc::c_int = 4 << 20;
        for opt in [libc::SO_SNDBUFFORCE, libc::SO_RCVBUFFORCE] {
            // SAFETY: setsockopt on the socket we own with a live c_int.
            unsafe {
                use std::os::fd::AsRawFd;
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok(Raw {
            sock: s,
            buf: vec![0; 1 << 20],
            recv_len: 1 << 20,
        })
    }

    /// A socket whose receives offer `len` bytes, as a connection with
    /// `Config::recv_len` `len` does.
    pub(crate) fn open_with_recv_len(proto: isize, len: usize) -> Res<Raw> {
        let mut r = Raw::open(proto)?;
        r.recv_len = len.min(r.buf.len());
        Ok(r)
    }

    /// Packs messages into datagrams of at most `max` bytes, each
    /// message with a sequence number (counting from `*seq`), the last of
    /// each datagram asking an ACK. Returns (datagram bytes, last sequence
    /// number) per datagram.
    pub(crate) fn pack_with(seq: &mut u32, msgs: Vec<Vec<u8>>, max: usize) -> Vec<(Vec<u8>, u32)> {
        let mut out: Vec<(Vec<u8>, u32)> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut last_off = 0;
        let close =
            |cur: &mut Vec<u8>, last_off: usize, seq: u32, out: &mut Vec<(Vec<u8>, u32)>| {
                let f = u16::from_ne_bytes([cur[last_off + 6], cur[last_off + 7]]) | NLM_F_ACK;
                cur[last_off + 6..last_off + 8].copy_from_slice(&f.to_ne_bytes());
                out.push((std::mem::take(cur), seq));
            };
        for mut m in msgs {
            if !cur.is_empty() && cur.len() + m.len() > max {
                close(&mut cur, last_off, *seq, &mut out);
            }
            *seq += 1;
            m[8..12].copy_from_slice(&seq.to_ne_bytes());
            last_off = cur.len();
            cur.extend_from_slice(&m);
            while cur.len() % 4 != 0 {
                cur.push(0);
            }
        }
        if !cur.is_empty() {
            close(&mut cur, last_off, *seq, &mut out);
        }
        out
    }

    /// Sends the datagrams back to back, then reads the replies until the
    /// ACK of the last datagram's last message. Returns the number of
    /// error replies.
    ///
    /// The kernel handles each datagram inside its `send`, so nothing is
    /// gained by reading between sends: the replies wait in the receive
    /// buffer (forced to 4 MiB by `open`; with an ACK asked only of each
    /// datagram's last message, they are one short message per datagram
    /// when nothing is refused). This is the least a client can do, one
    /// system call per datagram and one receive at the end, and it is what
    /// ours approaches by sending from a thread of its own while the
    /// caller encodes the next datagram.
    pub(crate) fn send_all(&mut self, dgrams: &Records) -> Res<usize> {
        let mut last = None;
        for (d, seq) in dgrams.iter() {
            self.sock.send(d, 0)?;
            last = Some(seq);
        }
        match last {
            Some(seq) => self.wait_ack(seq),
            None => Ok(0),
        }
    }

    /// Reads replies until the ACK of sequence number `last`, scanning only
    /// their headers. Returns the number of error replies seen.
    fn wait_ack(&mut self, last: u32) -> Res<usize> {
        let mut errors = 0;
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off + 16 <= n {
                let field = |at: usize, len: usize| -> Res<&[u8]> {
                    Ok(self
                        .buf
                        .get(..n)
                        .and_then(|b| b.get(off + at..off + at + len))
                        .ok_or("short reply")?)
                };
                let len = u32::from_ne_bytes(field(0, 4)?.try_into()?) as usize;
                let ty = u16::from_ne_bytes(field(4, 2)?.try_into()?);
                let seq = u32::from_ne_bytes(field(8, 4)?.try_into()?);
                if ty == 2 {
                    let errno = i32::from_ne_bytes(field(16, 4)?.try_into()?);
                    if errno != 0 {
                        errors += 1;
                    }
                    if seq == last {
                        return Ok(errors);
                    }
                }
                off += (len.max(16) + 3) & !3;
            }
        }
    }

    /// Sends one request (its sequence number set to `u32::MAX`, an ACK
    /// asked) and reads until its ACK; a refusal is an error.
    pub(crate) fn request(&mut self, msg: &[u8]) -> Res<()> {
        let mut m = msg.to_vec();
        let seq = u32::MAX;
        let flags = u16::from_ne_bytes(m.get(6..8).ok_or("short")?.try_into()?) | NLM_F_ACK;
        m.get_mut(6..8)
            .ok_or("short")?
            .copy_from_slice(&flags.to_ne_bytes());
        m.get_mut(8..12)
            .ok_or("short")?
            .copy_from_slice(&seq.to_ne_bytes());
        self.sock.send(&m, 0)?;
        match self.wait_ack(seq)? {
            0 => Ok(()),
            _ => Err("request refused".into()),
        }
    }

    /// Reads one datagram of a running dump: (data messages, DONE seen).
    pub(crate) fn recv_part(&mut self) -> Res<(usize, bool)> {
        let n = self.sock.recv(&mut &mut self.buf[..self.recv_len], 0)?;
        let mut msgs = 0;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(self.buf[off..off + 4].try_into()?) as usize;
            let ty = u16::from_ne_bytes(self.buf[off + 4..off + 6].try_into()?);
            if ty == 3 || ty == 2 {
                return Ok((msgs, true));
            }
            msgs += 1;
            off += (len.max(16) + 3) & !3;
        }
        Ok((msgs, false))
    }

    /// Runs one dump request; scans only headers until DONE.
    pub(crate) fn dump(&mut self, req: &[u8]) -> Res<usize> {
        self.sock.send(req, 0)?;
        let mut msgs = 0;
        loop {
            let (m, done) = self.recv_part()?;
            msgs += m;
            if done {
                return Ok(msgs);
            }
        }
    }

    /// Runs the dump requests `reqs` over the sockets `socks`, one dump in
    /// flight on each (as `IpvsHandle::config_snapshot` pipelines its
    /// destination dumps over `DEFAULT_PIPELINE` connections), and returns
    /// the data messages received.
    pub(crate) fn dump_pipelined(socks: &mut [Raw], reqs: &[&[u8]]) -> Res<usize> {
        let mut next = 0;
        let mut busy = vec![false; socks.len()];
        for (s, b) in socks.iter_mut().zip(busy.iter_mut()) {
            if let Some(r) = reqs.get(next) {
                s.sock.send(r, 0)?;
                next += 1;
                *b = true;
            }
        }
        let mut total = 0;
        while busy.iter().any(|b| *b) {
            for (s, b) in socks.iter_mut().zip(busy.iter_mut()) {
                if !*b {
                    continue;
                }
                let (m, done) = s.recv_part()?;
                total += m;
                if done {
                    *b = false;
                    if let Some(r) = reqs.get(next) {
                        s.sock.send(r, 0)?;
                        next += 1;
                        *b = true;
                    }
                }
            }
        }
        Ok(total)
    }
}

/// Writes pre-encoded datagrams (or requests) for a floor run:
/// `[u32 length][u32 last sequence number][bytes]` each.
pub(crate) fn write_records(path: &std::path::Path, recs: &[(Vec<u8>, u32)]) -> Res<()> {
    let mut f = std::io::BufWriter::new(File::create(path)?);
    for (b, seq) in recs {
        f.write_all(&(b.len() as u32).to_ne_bytes())?;
        f.write_all(&seq.to_ne_bytes())?;
        f.write_all(b)?;
    }
    f.flush()?;
    Ok(())
}

/// A floor's whole input in memory: the file read in one go (every page
/// touched while reading it, before the clock starts) and where each
/// record lies in it; nothing is copied again.
pub(crate) struct Records {
    pub(crate) all: Vec<u8>,
    pub(crate) recs: Vec<(std::ops::Range<usize>, u32)>,
}

impl Records {
    /// Reads what [`write_records`] wrote.
    pub(crate) fn read(path: &str) -> Res<Records> {
        let all = std::fs::read(path)?;
        let mut recs = Vec::new();
        let mut off = 0;
        while off + 8 <= all.len() {
            let len = u32::from_ne_bytes(all[off..off + 4].try_into()?) as usize;
            let seq = u32::from_ne_bytes(all[off + 4..off + 8].try_into()?);
            let range = off + 8..off + 8 + len;
            all.get(range.clone()).ok_or("short record file")?;
            recs.push((range, seq));
            off += 8 + len;
        }
        Ok(Records { all, recs })
    }

    pub(crate) fn len(&self) -> usize {
        self.recs.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], u32)> {
        self.recs
            .iter()
            .filter_map(|(r, seq)| self.all.get(r.clone()).map(|b| (b, *seq)))
    }
}

/// The floor's input for `case`, encoded by the runner (outside every
/// measured process): datagrams for writes, requests for reads.
pub(crate) fn floor_input(
    case: &str,
    n: usize,
    family: u16,
    dgram: usize,
) -> Res<Vec<(Vec<u8>, u32)>> {
    use clusterip::ipset::{Command as C, IpsetAttr as A};
    let pack = |msgs: Vec<Vec<u8>>| Raw::pack_with(&mut 0, msgs, dgram);
    Ok(match case {
        "1" | "1w" | "3" | "6" => {
            let ops = match case {
                "1" | "1w" => apply_ops(n),
                "3" => change_ops(n),
                _ => one_change_ops(n),
            };
            pack(
                ops.iter()
                    .map(|o| genl(family, o.message(), NLM_F_REQUEST))
                    .collect(),
            )
        }
        "2" | "4" => std::iter::once(genl(
            family,
            IpvsMessage::dump_services(),
            NLM_F_REQUEST | NLM_F_DUMP,
        ))
        .chain(state(n).iter().map(|(s, _)| {
            genl(
                family,
                IpvsMessage::dump_destinations(&s.key),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
        }))
        .map(|b| (b, 0))
        .collect(),
        "5a" => pack(ipset_adds(SET, &elems(0))),
        "5b" => {
            let tmp = "bench-tmp";
            let spec = ipset_spec(tmp);
            let mut v = vec![ipset_msg(
                C::Create,
                NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
                vec![
                    A::SetName(tmp.into()),
                    A::TypeName("hash:ip,port".into()),
                    A::Revision(6),
                    A::Family(clusterip::ipset::Family::Inet),
                    A::CreateData(spec.options.to_attrs()),
                ],
            )];
            v.extend(ipset_adds(tmp, &elems(IPSET_N / 2)));
            v.push(ipset_msg(
                C::Swap,
                NLM_F_REQUEST,
                vec![A::SetName(tmp.into()), A::SetName2(SET.into())],
            ));
            v.push(ipset_msg(
                C::Destroy,
                NLM_F_REQUEST,
                vec![A::SetName(tmp.into())],
            ));
            pack(v)
        }
        _ => return Err(format!("no floor for case {case}").into()),
    })
}

pub(crate) fn genl(family: u16, p: IpvsMessage, flags: u16) -> Vec<u8> {
    let mut g = GenlMessage::from_payload(p);
    g.set_resolved_family_id(family);
    let mut h = NetlinkHeader::default();
    h.flags = flags;
    let mut m = NetlinkMessage::new(h, NetlinkPayload::InnerMessage(g));
    m.finalize();
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

pub(crate) fn ipset_msg(
    cmd: clusterip::ipset::Command,
    flags: u16,
    attrs: Vec<clusterip::ipset::IpsetAttr>,
) -> Vec<u8> {
    let m = clusterip::ipset::request::build(cmd, 7, flags, attrs);
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

/// ADD messages of as many elements as fit in 64 KiB each.
pub(crate) fn ipset_adds(set: &str, es: &[IpPortEntry]) -> Vec<Vec<u8>> {
    use clusterip::ipset::{Command as C, ElementAttr, IpsetAttr as A};
    let mut out = Vec::new();
    let mut chunk: Vec<Vec<ElementAttr>> = Vec::new();
    let mut size = 0;
    let flush = |chunk: &mut Vec<Vec<ElementAttr>>, out: &mut Vec<Vec<u8>>| {
        out.push(ipset_msg(
            C::Add,
            NLM_F_REQUEST | NLM_F_EXCL,
            vec![
                A::SetName(set.into()),
                A::LineNo(0),
                A::Adt(std::mem::take(chunk)),
            ],
        ));
    };
    for e in es {
        let mut a = e.to_attrs();
        a.push(ElementAttr::LineNo(0));
        // DATA nest: ip nest 12 + port 8 + proto 8 + lineno 8 + header 4
        let sz = 40;
        if size + sz > 65000 {
            flush(&mut chunk, &mut out);
            size = 0;
        }
        size += sz;
        chunk.push(a);
    }
    if !chunk.is_empty() {
        flush(&mut chunk, &mut out);
    }
    out
}
