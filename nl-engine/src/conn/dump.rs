//! Single requests and dumps: [`Connection::request`], [`Connection::ack`],
//! [`Connection::dump`] and [`Connection::dump_with`].

use std::sync::atomic::Ordering;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader,
    NetlinkMessage, NetlinkSerializable,
};

use super::socket::{Inner, Recv, Sock};
use super::{Config, Connection, Shared};
use crate::error::{Error, Result};
use crate::wire::{self, Messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};

impl Connection {
    /// Sends one request asking for an ACK and returns the data messages the
    /// kernel answered before the ACK (none for most changes, one for a
    /// get-one request).
    pub async fn request<I>(&self, context: &str, mut msg: NetlinkMessage<I>) -> Result<Vec<I>>
    where
        I: NetlinkSerializable + NetlinkDeserializable,
    {
        msg.header.flags |= NLM_F_REQUEST | NLM_F_ACK;
        self.single(context, msg, false, |h, p| {
            I::deserialize(h, p).map(Some).map_err(|e| e.to_string())
        })
        .await
    }

    /// Sends one request asking for an ACK and discards any data reply.
    pub async fn ack<I>(&self, context: &str, msg: NetlinkMessage<I>) -> Result<()>
    where
        I: NetlinkSerializable + NetlinkDeserializable,
    {
        self.request(context, msg).await.map(drop)
    }

    /// Runs a dump (`NLM_F_DUMP`) and returns every message of it.
    ///
    /// A dump the kernel marks as interrupted by concurrent changes
    /// (`NLM_F_DUMP_INTR`) is restarted up to [`Config::dump_retries`]
    /// times, then reported as [`Error::DumpInterrupted`]; it is never
    /// returned as if complete. A message that fails to decode makes the
    /// whole dump fail with [`Error::Decode`] once the dump has been drained.
    pub async fn dump<I>(&self, context: &str, mut msg: NetlinkMessage<I>) -> Result<Vec<I>>
    where
        I: NetlinkSerializable + NetlinkDeserializable,
    {
        msg.header.flags |= NLM_F_REQUEST | NLM_F_DUMP;
        self.single(context, msg, true, |h, p| {
            I::deserialize(h, p).map(Some).map_err(|e| e.to_string())
        })
        .await
    }

    /// [`dump`](Self::dump) that decodes each data message straight from
    /// the received bytes with `decode` (given the message's header and its
    /// payload after the 16-byte netlink header) instead of through a typed
    /// message tree: the read path of large dumps, with no allocation per
    /// message beyond what `decode` makes. `decode` returns `Ok(None)` to
    /// skip a message; an `Err` makes the dump fail with [`Error::Decode`]
    /// once it has been drained. Interrupted dumps are restarted as
    /// [`dump`](Self::dump) does (what `decode` returned for the abandoned
    /// attempt is dropped).
    ///
    /// ```no_run
    /// # use netlink_packet_core::{NetlinkMessage, NetlinkSerializable};
    /// # async fn f<I: NetlinkSerializable>(
    /// #     conn: &nl_engine::Connection,
    /// #     req: NetlinkMessage<I>,
    /// # ) -> nl_engine::Result<()> {
    /// // the payload length of every message of a dump
    /// let lens: Vec<usize> = conn.dump_with("list", req, |_, payload| Ok(Some(payload.len()))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn dump_with<I, T>(
        &self,
        context: &str,
        mut msg: NetlinkMessage<I>,
        decode: impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>>
    where
        I: NetlinkSerializable,
    {
        msg.header.flags |= NLM_F_REQUEST | NLM_F_DUMP;
        self.single(context, msg, true, decode).await
    }

    /// [`dump_with`](Self::dump_with) of a request already encoded:
    /// `request` is one whole netlink message, its length set; its flags
    /// get `NLM_F_REQUEST | NLM_F_DUMP` and its sequence number is set
    /// here. For the many small dumps of a large read, whose requests cost
    /// more to build as typed messages than to answer.
    ///
    /// ```no_run
    /// # async fn f(conn: &nl_engine::Connection) -> nl_engine::Result<()> {
    /// // CTRL_CMD_GETFAMILY (3) of generic netlink's controller (0x10)
    /// let mut req = vec![20, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 0, 0];
    /// let n = conn.dump_encoded("families", &mut req, |_, _| Ok(Some(()))).await?.len();
    /// # Ok(()) }
    /// ```
    pub async fn dump_encoded<T>(
        &self,
        context: &str,
        request: &mut [u8],
        mut decode: impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>> {
        if let Some(f) = request.get_mut(6..8) {
            let flags = crate::wire::u16_at(f, 0).unwrap_or(0) | NLM_F_REQUEST | NLM_F_DUMP;
            f.copy_from_slice(&flags.to_ne_bytes());
        }
        self.exchange(context, request, true, &mut decode).await
    }

    async fn single<I, T>(
        &self,
        context: &str,
        mut msg: NetlinkMessage<I>,
        dump: bool,
        mut decode: impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>>
    where
        I: NetlinkSerializable,
    {
        msg.finalize();
        let len = msg.buffer_len();
        let mut bytes = vec![0u8; len];
        msg.serialize(&mut bytes);
        self.exchange(context, &mut bytes, dump, &mut decode).await
    }

    async fn exchange<T>(
        &self,
        context: &str,
        bytes: &mut [u8],
        dump: bool,
        decode: &mut impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>> {
        let mut inner = self.inner.lock().await;
        let res = inner
            .single(&self.shared, &self.config, context, bytes, dump, decode)
            .await;
        if let Err(e) = &res {
            if e.poisons_socket() {
                inner.sock = Sock::Closed;
            }
        }
        res
    }
}

impl Inner {
    pub(super) async fn single<T>(
        &mut self,
        shared: &Shared,
        config: &Config,
        context: &str,
        bytes: &mut [u8],
        dump: bool,
        decode: &mut impl FnMut(&NetlinkHeader, &[u8]) -> std::result::Result<Option<T>, String>,
    ) -> Result<Vec<T>> {
        self.ensure_async(shared, config, context)?;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let seq = self.next_seq();
            if let Some(s) = bytes.get_mut(8..12) {
                s.copy_from_slice(&seq.to_ne_bytes());
            }
            self.send(shared, config, context, Some(bytes)).await?;
            shared
                .counters
                .messages_sent
                .fetch_add(1, Ordering::Relaxed);

            let mut out = Vec::new();
            let mut interrupted = false;
            let mut decode_error: Option<String> = None;
            'recv: loop {
                let Recv::Got(n) = self.recv(shared, config, context, true).await? else {
                    continue;
                };
                for m in Messages::new(self.rbuf.get(..n).unwrap_or_default()) {
                    let m = m.map_err(|reason| Error::Decode {
                        context: context.to_string(),
                        reason,
                    })?;
                    if m.header.sequence_number != seq {
                        continue; // a late reply to an abandoned request
                    }
                    match m.header.message_type {
                        NLMSG_NOOP => {}
                        NLMSG_ERROR => match wire::parse_error(&m) {
                            Ok(Ok(())) => break 'recv,
                            Ok(Err(ke)) => return Err(Error::from_kernel(context, ke)),
                            Err(reason) => {
                                return Err(Error::Decode {
                                    context: context.to_string(),
                                    reason,
                                });
                            }
                        },
                        NLMSG_DONE => {
                            if m.header.flags & NLM_F_DUMP_INTR != 0 {
                                interrupted = true;
                            }
                            wire::parse_done(&m).map_err(|ke| Error::from_kernel(context, ke))?;
                            break 'recv;
                        }
                        NLMSG_OVERRUN => {
                            return Err(Error::Overrun {
                                context: context.to_string(),
                            });
                        }
                        _ => {
                            if m.header.flags & NLM_F_DUMP_INTR != 0 {
                                interrupted = true;
                            }
                            if decode_error.is_none() {
                                match decode(&m.header, m.payload) {
                                    Ok(Some(v)) => out.push(v),
                                    Ok(None) => {}
                                    Err(e) => decode_error = Some(e),
                                }
                            }
                        }
                    }
                }
            }
            if let Some(reason) = decode_error {
                return Err(Error::Decode {
                    context: context.to_string(),
                    reason,
                });
            }
            if interrupted && dump {
                if attempts <= config.dump_retries {
                    continue;
                }
                return Err(Error::DumpInterrupted {
                    context: context.to_string(),
                    attempts,
                });
            }
            return Ok(out);
        }
    }
}
