//! The `ipvsadm` example's command-line parser (`examples/ipvsadm/cli.rs`,
//! compiled here as a module) over arbitrary text: the input as a `-R`
//! restore file (ipvsadm's tokenizer), and every line split into words as a
//! command line and as a restore line. It must never panic; every failure
//! carries a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../examples/ipvsadm/cli.rs"]
#[allow(dead_code)]
mod cli;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for mut argv in text
        .split('\n')
        .filter_map(|line| cli::restore_line(line, "ipvsadm"))
    {
        let _ = cli::parse(&argv, true, &cli::NoLookup);
        argv.insert(0, "ipvsadm");
        let _ = cli::parse(&argv, false, &cli::NoLookup);
    }
    for line in text.lines() {
        let mut argv = vec!["ipvsadm".to_string()];
        argv.extend(line.split_whitespace().map(str::to_string));
        let _ = cli::parse(&argv, false, &cli::NoLookup);
    }
});
