//! `Display` of the model types, in `nft`'s syntax: hooks, priorities
//! (named as `nft list` names them), policies, chain types and a base
//! chain's `type ... hook ... priority ...; policy ...;` line, verdicts, set
//! key types and flags, objects as `nft list` addresses them (`set ip t
//! s`), and a transaction as the commands it holds.
//!
//! Kept apart from the types' modules so that their files stay as they are.

use std::fmt;

use crate::chain::{BaseChain, ChainFlags, ChainType, Hook, Policy, Priority};
use crate::expr::Verdict;
use crate::msg::{Command, NftMessage};
use crate::set::{DataType, ElementFlags, KeyType, Set, SetFlags};
use crate::table::TableFlags;
use crate::transaction::{Change, Transaction};

/// Writes the names of the set bits of `bits` (`names`: bit, name),
/// comma-separated, unknown bits in hex; `empty` when none is set.
fn flag_names(
    f: &mut fmt::Formatter<'_>,
    bits: u32,
    names: &[(u32, &str)],
    empty: &str,
) -> fmt::Result {
    if bits == 0 {
        return f.write_str(empty);
    }
    let mut words: Vec<String> = Vec::new();
    let mut rest = bits;
    for &(bit, name) in names {
        if bits & bit != 0 {
            words.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        words.push(format!("{rest:#x}"));
    }
    f.write_str(&words.join(","))
}

impl fmt::Display for Hook {
    /// `prerouting`, `input`, `forward`, `output`, `postrouting`,
    /// `ingress`, or `hook N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
            Hook::Ingress => "ingress",
            Hook::Other(n) => return write!(f, "hook {n}"),
        })
    }
}

impl fmt::Display for Priority {
    /// The number (`-100`): what a priority means by name depends on the
    /// hook (see [`BaseChain`]'s `Display`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Priority {
    /// The priority as `nft list` writes it on `hook` (families ip, ip6,
    /// inet): a standard name within 10 of it, with the offset (`filter +
    /// 10`, `mangle - 5`; `dstnat` only on prerouting, `srcnat` only on
    /// postrouting), else the number.
    fn nft_text(self, hook: Hook) -> String {
        let standard = [
            ("raw", -300, None),
            ("mangle", -150, None),
            ("dstnat", -100, Some(Hook::Prerouting)),
            ("filter", 0, None),
            ("security", 50, None),
            ("srcnat", 100, Some(Hook::Postrouting)),
        ];
        for (name, value, only) in standard {
            if only.is_some_and(|h| h != hook) {
                continue;
            }
            let d = i64::from(self.0) - i64::from(value);
            match d {
                0 => return name.to_string(),
                1..=10 => return format!("{name} + {d}"),
                -10..=-1 => return format!("{name} - {}", -d),
                _ => {}
            }
        }
        self.0.to_string()
    }
}

impl fmt::Display for Policy {
    /// `accept`, `drop`, or `policy N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Accept => f.write_str("accept"),
            Policy::Drop => f.write_str("drop"),
            Policy::Other(n) => write!(f, "policy {n}"),
        }
    }
}

impl fmt::Display for ChainType {
    /// `filter`, `nat`, `route`, or the other type's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
            ChainType::Other(s) => s,
        })
    }
}

impl fmt::Display for BaseChain {
    /// The line `nft list` writes inside a base chain: `type nat hook
    /// prerouting priority dstnat; policy accept;` (with `device "eth0"`
    /// after the hook when there is one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "type {} hook {}", self.chain_type, self.hook)?;
        if let Some(d) = &self.device {
            write!(f, " device \"{d}\"")?;
        }
        write!(
            f,
            " priority {}; policy {};",
            self.priority.nft_text(self.hook),
            self.policy
        )
    }
}

impl fmt::Display for ChainFlags {
    /// `base`, `hw_offload`, `binding` (comma-separated; `none` when
    /// empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (ChainFlags::BASE.bits(), "base"),
            (ChainFlags::HW_OFFLOAD.bits(), "hw_offload"),
            (ChainFlags::BINDING.bits(), "binding"),
        ];
        flag_names(f, self.bits(), &names, "none")
    }
}

impl fmt::Display for TableFlags {
    /// `nft`'s table flag words: `dormant`, `owner`, `persist`
    /// (comma-separated; `none` when empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        flag_names(
            f,
            self.bits(),
            &[(0x1, "dormant"), (0x2, "owner"), (0x4, "persist")],
            "none",
        )
    }
}

impl fmt::Display for Verdict {
    /// As in a rule: `accept`, `drop`, `continue`, `break`, `return`,
    /// `jump SERVICES`, `goto SERVICES`, or `verdict N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Drop => f.write_str("drop"),
            Verdict::Continue => f.write_str("continue"),
            Verdict::Break => f.write_str("break"),
            Verdict::Return => f.write_str("return"),
            Verdict::Jump(c) => write!(f, "jump {c}"),
            Verdict::Goto(c) => write!(f, "goto {c}"),
            Verdict::Other(n, None) => write!(f, "verdict {n}"),
            Verdict::Other(n, Some(c)) => write!(f, "verdict {n} {c}"),
        }
    }
}

impl fmt::Display for DataType {
    /// `nft`'s type name: `integer`, `ipv4_addr`, `ipv6_addr`,
    /// `inet_proto`, `inet_service`, `mark`, or `type N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataType::Integer => "integer",
            DataType::Ipv4Addr => "ipv4_addr",
            DataType::Ipv6Addr => "ipv6_addr",
            DataType::InetProto => "inet_proto",
            DataType::InetService => "inet_service",
            DataType::Mark => "mark",
            DataType::Other(n, _) => return write!(f, "type {n}"),
        })
    }
}

impl fmt::Display for KeyType {
    /// As `nft` writes a set's `type`: `ipv4_addr . inet_proto .
    /// inet_service`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(DataType::to_string).collect();
        f.write_str(&parts.join(" . "))
    }
}

impl fmt::Display for SetFlags {
    /// As `nft` writes a set's `flags`: `interval,timeout` (`dynamic` for
    /// `NFT_SET_EVAL`), comma-separated; `none` when there is none of
    /// them. The flags `nft` derives from the set's declaration and does
    /// not write (anonymous, map, object, concat, expr) are left out too;
    /// unknown bits are shown in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (SetFlags::CONSTANT.bits(), "constant"),
            (SetFlags::INTERVAL.bits(), "interval"),
            (SetFlags::TIMEOUT.bits(), "timeout"),
            (SetFlags::EVAL.bits(), "dynamic"),
        ];
        let implied = SetFlags::ANONYMOUS
            | SetFlags::MAP
            | SetFlags::OBJECT
            | SetFlags::CONCAT
            | SetFlags::EXPR;
        flag_names(f, self.bits() & !implied.bits(), &names, "none")
    }
}

impl fmt::Display for ElementFlags {
    /// `interval_end`, `catchall` (comma-separated; `none` when empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (ElementFlags::INTERVAL_END.bits(), "interval_end"),
            (ElementFlags::CATCHALL.bits(), "catchall"),
        ];
        flag_names(f, self.bits(), &names, "none")
    }
}

impl fmt::Display for Set {
    /// As `nft list set` addresses it: `set ip nat ZGZ-CLUSTER-IP`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "set {} {} {}", self.family, self.table, self.name)
    }
}

impl fmt::Display for Command {
    /// The kernel's message name without its prefix, in lower case
    /// (`newtable`, `delsetelem`), `batch begin` / `batch end`, or
    /// `command N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::NewTable => "newtable",
            Command::GetTable => "gettable",
            Command::DelTable => "deltable",
            Command::NewChain => "newchain",
            Command::GetChain => "getchain",
            Command::DelChain => "delchain",
            Command::NewRule => "newrule",
            Command::GetRule => "getrule",
            Command::DelRule => "delrule",
            Command::NewSet => "newset",
            Command::GetSet => "getset",
            Command::DelSet => "delset",
            Command::NewSetElem => "newsetelem",
            Command::GetSetElem => "getsetelem",
            Command::DelSetElem => "delsetelem",
            Command::NewGen => "newgen",
            Command::GetGen => "getgen",
            Command::BatchBegin => "batch begin",
            Command::BatchEnd => "batch end",
            Command::Other(n) => return write!(f, "command {n}"),
        })
    }
}

impl fmt::Display for NftMessage {
    /// `newtable family 2 (12 bytes of attributes)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} family {} ({} bytes of attributes)",
            self.command,
            self.header.family,
            self.attrs.len()
        )
    }
}

impl fmt::Display for Change {
    /// What it does, in `nft`'s command words (`add chain ip nat
    /// PREROUTING`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl fmt::Display for Transaction {
    /// Its changes in order, one per line (no newline at the end).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.changes().iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}
