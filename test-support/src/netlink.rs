//! A netlink-proto connection whose socket lives in a namespace, and the
//! request/reply helpers of the "bring your own connection" tests (our
//! message types sent over netlink-proto instead of our handles).

use std::fmt::Debug;
use std::path::Path;

use futures_util::StreamExt;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable,
};
use netlink_proto::ConnectionHandle;
use netlink_proto::sys::SocketAddr;

pub use netlink_proto::sys::protocols::{NETLINK_GENERIC, NETLINK_NETFILTER};

/// A netlink-proto connection for messages `T` of `protocol`
/// ([`NETLINK_GENERIC`], [`NETLINK_NETFILTER`]) whose socket lives in the
/// namespace at `ns`: created on a thread that entered the namespace
/// (inside the caller's runtime, so that tokio registers it), spawned on
/// that runtime. ACKs are forwarded so that a request's success is seen,
/// not assumed.
///
/// # Panics
/// Outside a Tokio runtime, and when the namespace or the socket cannot be
/// opened.
pub fn connect<T>(ns: impl AsRef<Path>, protocol: isize) -> ConnectionHandle<T>
where
    T: Debug + NetlinkSerializable + NetlinkDeserializable + Unpin + Send + 'static,
{
    let rt = tokio::runtime::Handle::current();
    let (mut conn, handle, _unsolicited) = crate::enter(ns, move || {
        let _guard = rt.enter();
        netlink_proto::new_connection::<T>(protocol)
    })
    .unwrap_or_else(|e| panic!("netlink-proto connection: {e}"));
    conn.set_forward_ack(true);
    tokio::spawn(conn);
    handle
}

/// `payload` as a request asking for an ACK (`NLM_F_REQUEST | NLM_F_ACK`).
pub fn acked<T: NetlinkSerializable>(payload: T) -> NetlinkMessage<T> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
    msg.finalize();
    msg
}

/// Sends `msg` and collects every reply (then the ACK or error, or the end
/// of a dump).
///
/// # Panics
/// When the connection is gone.
pub async fn exchange<T>(h: &ConnectionHandle<T>, msg: NetlinkMessage<T>) -> Vec<NetlinkMessage<T>>
where
    T: Debug + NetlinkSerializable + NetlinkDeserializable,
{
    h.request(msg, SocketAddr::new(0, 0))
        .unwrap_or_else(|e| panic!("send: {e}"))
        .collect()
        .await
}

/// The errno of the ACK or error that ends `replies` (0: success).
///
/// # Panics
/// When `replies` does not end with an ACK or error.
pub fn errno<T: Debug>(replies: &[NetlinkMessage<T>]) -> i32 {
    match replies.last().map(|m| &m.payload) {
        Some(NetlinkPayload::Error(e)) => e.code.map_or(0, |c| -c.get()),
        other => panic!("no ACK at the end of {replies:?}: {other:?}"),
    }
}

/// The messages (not the ACK, not the end of a dump) among `replies`.
///
/// # Panics
/// On an error or any other unexpected reply.
pub fn inner<T: Debug>(replies: Vec<NetlinkMessage<T>>) -> Vec<T> {
    replies
        .into_iter()
        .filter_map(|m| match m.payload {
            NetlinkPayload::InnerMessage(i) => Some(i),
            NetlinkPayload::Error(e) if e.code.is_none() => None,
            NetlinkPayload::Done(_) => None,
            other => panic!("unexpected reply: {other:?}"),
        })
        .collect()
}
