//! nfnetlink framing shared by ipset and nf_tables: the `nfgenmsg` header,
//! subsystem ids and batch message types.
//!
//! Numbers from `include/uapi/linux/netfilter/nfnetlink.h`.

use crate::error::DecodeError;

/// `NFNETLINK_V0`
pub const NFNETLINK_V0: u8 = 0;
/// `NFNL_SUBSYS_IPSET`
pub const NFNL_SUBSYS_IPSET: u8 = 6;
/// `NFNL_SUBSYS_NFTABLES`
pub const NFNL_SUBSYS_NFTABLES: u8 = 10;
/// `NFNL_MSG_BATCH_BEGIN`
pub const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
/// `NFNL_MSG_BATCH_END`
pub const NFNL_MSG_BATCH_END: u16 = 0x11;

/// Length of `struct nfgenmsg`.
pub const NFGENMSG_LEN: usize = 4;

/// `struct nfgenmsg`: the 4-byte header after `nlmsghdr` in every nfnetlink
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NfGenMsg {
    /// Address family (`NFPROTO_*`; `AF_INET`/`AF_INET6`/`AF_UNSPEC` for ipset).
    pub family: u8,
    /// `NFNETLINK_V0`.
    pub version: u8,
    /// Resource id, big endian on the wire: the subsystem for batch
    /// messages, the ruleset generation in some nf_tables replies.
    pub res_id: u16,
}

impl NfGenMsg {
    /// A header for `family` with version 0 and resource id 0.
    pub fn new(family: u8) -> Self {
        NfGenMsg {
            family,
            version: NFNETLINK_V0,
            res_id: 0,
        }
    }

    /// Writes the 4 bytes into `buf` (which must hold at least 4).
    pub fn emit(&self, buf: &mut [u8]) {
        let [r0, r1] = self.res_id.to_be_bytes();
        if let Some(b) = buf.get_mut(..NFGENMSG_LEN) {
            b.copy_from_slice(&[self.family, self.version, r0, r1]);
        }
    }

    /// Reads the header from the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let Some(&[family, version, r0, r1]) = buf.get(..NFGENMSG_LEN) else {
            return Err(DecodeError::from("nfnetlink message shorter than nfgenmsg"));
        };
        Ok(NfGenMsg {
            family,
            version,
            res_id: u16::from_be_bytes([r0, r1]),
        })
    }
}

/// The nfnetlink message type of `command` in `subsystem`.
pub const fn message_type(subsystem: u8, command: u8) -> u16 {
    ((subsystem as u16) << 8) | command as u16
}

impl std::fmt::Display for NfGenMsg {
    /// `family 2 version 0 res_id 10`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "family {} version {} res_id {}",
            self.family, self.version, self.res_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = NfGenMsg {
            family: 2,
            version: 0,
            res_id: 10,
        };
        let mut b = [0u8; 4];
        h.emit(&mut b);
        assert_eq!(b, [2, 0, 0, 10]);
        assert_eq!(NfGenMsg::parse(&b).unwrap(), h);
        assert!(NfGenMsg::parse(&b[..3]).is_err());
        assert_eq!(message_type(NFNL_SUBSYS_IPSET, 2), 0x602);
    }
}
