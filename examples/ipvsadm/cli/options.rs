//! ipvsadm's option table: the option bits (`OPTC_*`) and their names,
//! which options each command takes (`commands_v_options`), the tunnel
//! options, popt's table of long and short options, and the checks of a
//! command's options against its row.

use super::*;

// Option bits (OPTC_*).
/// `-n`
pub const OPTC_NUMERIC: u32 = 0;
/// `-c`
pub const OPTC_CONNECTION: u32 = 1;
/// `-t/-u/-f/--sctp-service`
pub const OPTC_SERVICE: u32 = 2;
pub(super) const OPTC_SCHEDULER: u32 = 3;
pub(super) const OPTC_PERSISTENT: u32 = 4;
pub(super) const OPTC_NETMASK: u32 = 5;
pub(super) const OPTC_SERVER: u32 = 6;
pub(super) const OPTC_FORWARD: u32 = 7;
pub(super) const OPTC_WEIGHT: u32 = 8;
pub(super) const OPTC_UTHRESHOLD: u32 = 9;
pub(super) const OPTC_LTHRESHOLD: u32 = 10;
pub(super) const OPTC_MCAST: u32 = 11;
/// `--timeout`
pub const OPTC_TIMEOUT: u32 = 12;
/// `--daemon`
pub const OPTC_DAEMON: u32 = 13;
pub(super) const OPTC_STATS: u32 = 14;
pub(super) const OPTC_RATE: u32 = 15;
pub(super) const OPTC_THRESHOLDS: u32 = 16;
pub(super) const OPTC_PERSISTENTCONN: u32 = 17;
pub(super) const OPTC_NOSORT: u32 = 18;
pub(super) const OPTC_SYNCID: u32 = 19;
pub(super) const OPTC_EXACT: u32 = 20;
pub(super) const OPTC_ONEPACKET: u32 = 21;
pub(super) const OPTC_PE: u32 = 22;
pub(super) const OPTC_SCHED_FLAGS: u32 = 23;
pub(super) const OPTC_MCAST_GROUP: u32 = 24;
pub(super) const OPTC_MCAST_PORT: u32 = 25;
pub(super) const OPTC_MCAST_TTL: u32 = 26;
pub(super) const OPTC_SYNC_MAXLEN: u32 = 27;
pub(super) const OPTC_TUN_INFO: u32 = 28;
pub(super) const OPTC_TUN_TYPE: u32 = 29;
pub(super) const OPTC_TUN_PORT: u32 = 30;
pub(super) const OPTC_TUN_NOCSUM: u32 = 31;
pub(super) const OPTC_TUN_CSUM: u32 = 32;
pub(super) const OPTC_TUN_REMCSUM: u32 = 33;
pub(super) const NUMBER_OF_OPT: usize = 34;

pub(super) const OPTNAMES: [&str; NUMBER_OF_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

// Which options each command takes: ' ' allowed, 'x' illegal, '+' required,
// '1' at most one of the '1's (ipvsadm's commands_v_options).
pub(super) const COMMANDS_V_OPTIONS: [&[u8; NUMBER_OF_OPT]; 14] = [
    // -n c  sv -s -p -M -r fw -w -x -y mc to dm st rt th pc ns id ex op pe -b gr po tt ml ti ty tp no cs rc
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // ADD
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // EDIT
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // DEL
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // FLUSH
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // LIST
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // ADDSRV
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // DELSRV
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // EDITSRV
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // TIMEOUT
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // STARTD
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // STOPD
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // RESTORE
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // SAVE
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // ZERO
];

pub(super) const TUNNAMES: [&str; 3] = ["ipip", "gue", "gre"];
pub(super) const TUNOPTS: [u32; 4] = [
    OPTC_TUN_PORT,
    OPTC_TUN_NOCSUM,
    OPTC_TUN_CSUM,
    OPTC_TUN_REMCSUM,
];
pub(super) const TUNNEL_TYPES_V_OPTIONS: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ArgKind {
    None,
    Str,
    OptStr,
}

pub(super) const TAG_SET: i32 = 128;
pub(super) const TAG_START_DAEMON: i32 = 129;
pub(super) const TAG_STOP_DAEMON: i32 = 130;
pub(super) const TAG_MCAST_INTERFACE: i32 = 131;
pub(super) const TAG_TIMEOUT: i32 = 132;
pub(super) const TAG_DAEMON: i32 = 133;
pub(super) const TAG_STATS: i32 = 134;
pub(super) const TAG_RATE: i32 = 135;
pub(super) const TAG_THRESHOLDS: i32 = 136;
pub(super) const TAG_PERSISTENTCONN: i32 = 137;
pub(super) const TAG_SORT: i32 = 138;
pub(super) const TAG_NO_SORT: i32 = 139;
pub(super) const TAG_PE: i32 = 140;
pub(super) const TAG_SCTP_SERVICE: i32 = 141;
pub(super) const TAG_MCAST_GROUP: i32 = 142;
pub(super) const TAG_MCAST_PORT: i32 = 143;
pub(super) const TAG_MCAST_TTL: i32 = 144;
pub(super) const TAG_SYNC_MAXLEN: i32 = 145;
pub(super) const TAG_TUN_INFO: i32 = 146;
pub(super) const TAG_TUN_TYPE: i32 = 147;
pub(super) const TAG_TUN_PORT: i32 = 148;
pub(super) const TAG_TUN_NOCSUM: i32 = 149;
pub(super) const TAG_TUN_CSUM: i32 = 150;
pub(super) const TAG_TUN_REMCSUM: i32 = 151;
pub(super) const TAG_JSON: i32 = 200;

pub(super) const fn c(b: u8) -> i32 {
    b as i32
}

// (long name, short name, argument, value), in ipvsadm's table order
// (findOption returns the first match).
pub(super) const OPTIONS: &[(&str, u8, ArgKind, i32)] = &[
    ("add-service", b'A', ArgKind::None, c(b'A')),
    ("edit-service", b'E', ArgKind::None, c(b'E')),
    ("delete-service", b'D', ArgKind::None, c(b'D')),
    ("clear", b'C', ArgKind::None, c(b'C')),
    ("list", b'L', ArgKind::None, c(b'L')),
    ("list", b'l', ArgKind::None, c(b'l')),
    ("zero", b'Z', ArgKind::None, c(b'Z')),
    ("add-server", b'a', ArgKind::None, c(b'a')),
    ("edit-server", b'e', ArgKind::None, c(b'e')),
    ("delete-server", b'd', ArgKind::None, c(b'd')),
    ("set", 0, ArgKind::None, TAG_SET),
    ("help", b'h', ArgKind::None, c(b'h')),
    ("version", b'v', ArgKind::None, c(b'v')),
    ("restore", b'R', ArgKind::None, c(b'R')),
    ("save", b'S', ArgKind::None, c(b'S')),
    ("start-daemon", 0, ArgKind::Str, TAG_START_DAEMON),
    ("stop-daemon", 0, ArgKind::Str, TAG_STOP_DAEMON),
    ("tcp-service", b't', ArgKind::Str, c(b't')),
    ("udp-service", b'u', ArgKind::Str, c(b'u')),
    ("sctp-service", 0, ArgKind::Str, TAG_SCTP_SERVICE),
    ("fwmark-service", b'f', ArgKind::Str, c(b'f')),
    ("scheduler", b's', ArgKind::Str, c(b's')),
    ("persistent", b'p', ArgKind::OptStr, c(b'p')),
    ("netmask", b'M', ArgKind::Str, c(b'M')),
    ("real-server", b'r', ArgKind::Str, c(b'r')),
    ("masquerading", b'm', ArgKind::None, c(b'm')),
    ("ipip", b'i', ArgKind::None, c(b'i')),
    ("gatewaying", b'g', ArgKind::None, c(b'g')),
    ("weight", b'w', ArgKind::Str, c(b'w')),
    ("u-threshold", b'x', ArgKind::Str, c(b'x')),
    ("l-threshold", b'y', ArgKind::Str, c(b'y')),
    ("numeric", b'n', ArgKind::None, c(b'n')),
    ("connection", b'c', ArgKind::None, c(b'c')),
    ("mcast-interface", 0, ArgKind::Str, TAG_MCAST_INTERFACE),
    ("syncid", 0, ArgKind::Str, c(b'I')),
    ("timeout", 0, ArgKind::None, TAG_TIMEOUT),
    ("daemon", 0, ArgKind::None, TAG_DAEMON),
    ("stats", 0, ArgKind::None, TAG_STATS),
    ("rate", 0, ArgKind::None, TAG_RATE),
    ("thresholds", 0, ArgKind::None, TAG_THRESHOLDS),
    ("persistent-conn", 0, ArgKind::None, TAG_PERSISTENTCONN),
    ("nosort", 0, ArgKind::None, TAG_NO_SORT),
    ("sort", 0, ArgKind::None, TAG_SORT),
    ("exact", b'X', ArgKind::None, c(b'X')),
    ("ipv6", b'6', ArgKind::None, c(b'6')),
    ("ops", b'o', ArgKind::None, c(b'o')),
    ("pe", 0, ArgKind::Str, TAG_PE),
    ("sched-flags", b'b', ArgKind::Str, c(b'b')),
    ("mcast-group", 0, ArgKind::Str, TAG_MCAST_GROUP),
    ("mcast-port", 0, ArgKind::Str, TAG_MCAST_PORT),
    ("mcast-ttl", 0, ArgKind::Str, TAG_MCAST_TTL),
    ("sync-maxlen", 0, ArgKind::Str, TAG_SYNC_MAXLEN),
    ("tun-info", 0, ArgKind::None, TAG_TUN_INFO),
    ("tun-type", 0, ArgKind::Str, TAG_TUN_TYPE),
    ("tun-port", 0, ArgKind::Str, TAG_TUN_PORT),
    ("tun-nocsum", 0, ArgKind::None, TAG_TUN_NOCSUM),
    ("tun-csum", 0, ArgKind::None, TAG_TUN_CSUM),
    ("tun-remcsum", 0, ArgKind::None, TAG_TUN_REMCSUM),
    // This project's own: machine-readable listings.
    ("json", 0, ArgKind::None, TAG_JSON),
];

/// The index in [`OPTIONS`] of each short option letter's first entry
/// (what popt's `findOption` returns), by byte value.
pub(super) const SHORT_OPTIONS: [Option<u8>; 128] = {
    let mut t = [None; 128];
    let mut k = OPTIONS.len();
    // backwards, so that the first entry of a letter is the one kept
    while k > 0 {
        k -= 1;
        let ch = OPTIONS[k].1 as usize;
        if ch != 0 && ch < 128 {
            t[ch] = Some(k as u8);
        }
    }
    t
};
const _: () = assert!(OPTIONS.len() < 256);

pub(super) fn set_option(options: &mut u64, optc: u32) -> Result<(), Failure> {
    let bit = 1u64 << optc;
    if *options & bit != 0 {
        return Err(fail(format!(
            "multiple '{}' options specified",
            OPTNAMES.get(optc as usize).copied().unwrap_or("?")
        )));
    }
    *options |= bit;
    Ok(())
}

/// A row of [`COMMANDS_V_OPTIONS`] as bit masks of its option numbers:
/// (illegal, required, at most one of).
pub(super) const fn rule_masks(row: &[u8; NUMBER_OF_OPT]) -> (u64, u64, u64) {
    let (mut illegal, mut required, mut one) = (0, 0, 0);
    let mut j = 0;
    while j < NUMBER_OF_OPT {
        match row[j] {
            b'x' => illegal |= 1 << j,
            b'+' => required |= 1 << j,
            b'1' => one |= 1 << j,
            _ => {}
        }
        j += 1;
    }
    (illegal, required, one)
}

/// [`rule_masks`] of every command's row.
pub(super) const COMMAND_MASKS: [(u64, u64, u64); 14] = {
    let mut m = [(0, 0, 0); 14];
    let mut i = 0;
    while i < 14 {
        m[i] = rule_masks(COMMANDS_V_OPTIONS[i]);
        i += 1;
    }
    m
};

/// Whether `options` obey command `i`'s row (by its masks).
pub(super) fn obeys_row(i: usize, options: u64) -> bool {
    COMMAND_MASKS
        .get(i)
        .is_some_and(|&(illegal, required, one)| {
            options & illegal == 0 && required & !options == 0 && (options & one).count_ones() <= 1
        })
}

pub(super) fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), Failure> {
    let Some(i) = cmd.index() else {
        return Ok(());
    };
    // The common case: no rule broken, no need to find which one.
    if obeys_row(i, options) {
        return Ok(());
    }
    row_check(i, options)
}

/// ipvsadm's `generic_opt_check` loop over command `i`'s row: the message
/// of the first rule `options` break.
pub(super) fn row_check(i: usize, options: u64) -> Result<(), Failure> {
    let (Some(row), Some(cname)) = (COMMANDS_V_OPTIONS.get(i), CMDNAMES.get(i)) else {
        return Ok(());
    };
    let mut last = 0;
    let mut count = 0;
    for (j, &rule) in row.iter().enumerate() {
        let name = OPTNAMES.get(j).copied().unwrap_or("?");
        if options & (1u64 << j) == 0 {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{name}' option for the '{cname}' command"
                )));
            }
        } else {
            if rule == b'x' {
                return Err(fail(format!(
                    "Illegal '{name}' option with the '{cname}' command"
                )));
            }
            if rule == b'1' {
                count += 1;
                if count == 1 {
                    last = j;
                    continue;
                }
                return Err(fail(format!(
                    "The option '{name}' conflicts with the '{}' option in the '{cname}' command",
                    OPTNAMES.get(last).copied().unwrap_or("?")
                )));
            }
        }
    }
    Ok(())
}

pub(super) fn tunnel_opt_check(tun_type: u8, options: u64) -> Result<(), Failure> {
    let i = usize::from(tun_type);
    let (Some(row), Some(tname)) = (TUNNEL_TYPES_V_OPTIONS.get(i), TUNNAMES.get(i)) else {
        return Ok(());
    };
    let mut last = 0usize;
    let mut count = 0;
    for (j, &k) in TUNOPTS.iter().enumerate() {
        let name = OPTNAMES.get(k as usize).copied().unwrap_or("?");
        let rule = row.get(j).copied().unwrap_or(b' ');
        if options & (1u64 << k) == 0 {
            if rule == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{name}' option for the '{tname}' tunnel type"
                )));
            }
        } else {
            if rule == b'x' {
                return Err(fail(format!(
                    "Illegal '{name}' option with the '{tname}' tunnel type"
                )));
            }
            if rule == b'1' {
                count += 1;
                if count == 1 {
                    last = k as usize;
                    continue;
                }
                return Err(fail(format!(
                    "The option '{name}' conflicts with the '{}' option in the '{tname}' tunnel type",
                    OPTNAMES.get(last).copied().unwrap_or("?")
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_option_table_is_popts_first_match() {
        for ch in 0..=255u8 {
            let table = SHORT_OPTIONS
                .get(usize::from(ch))
                .and_then(|&k| OPTIONS.get(usize::from(k?)));
            let scan = OPTIONS.iter().find(|o| o.1 != 0 && o.1 == ch);
            assert_eq!(table.map(|o| o.3), scan.map(|o| o.3), "option letter {ch}");
        }
    }

    #[test]
    fn row_masks_agree_with_the_row_loop() {
        // every single option, every pair, and pseudo-random sets
        let mut sets: Vec<u64> = vec![0];
        for a in 0..NUMBER_OF_OPT {
            for b in a..NUMBER_OF_OPT {
                sets.push((1 << a) | (1 << b));
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // sparse sets break few rules, dense ones many
            sets.push(x & (x >> 3) & ((1 << NUMBER_OF_OPT) - 1));
            sets.push(x & ((1 << NUMBER_OF_OPT) - 1));
        }
        for i in 0..COMMANDS_V_OPTIONS.len() {
            for &o in &sets {
                assert_eq!(
                    obeys_row(i, o),
                    row_check(i, o).is_ok(),
                    "command {i}, options {o:#x}"
                );
            }
        }
    }
}
