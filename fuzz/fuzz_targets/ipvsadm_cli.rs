//! The `ipvsadm` example's command-line parser (`examples/ipvsadm/cli/`,
//! compiled here as a module) over arbitrary text: the input as a `-R`
//! restore file (ipvsadm's tokenizer), and every line split into words as a
//! command line and as a restore line. It must never panic; every failure
//! carries a message (a non-empty line of text, ended by a newline as
//! ipvsadm prints it) and a non-zero exit status; the same input always
//! parses the same way; and a line the direct reader of saved lines
//! (`parse_saved`) takes is what `parse` makes of it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../examples/ipvsadm/cli/mod.rs"]
#[allow(dead_code, unused_imports)]
mod cli;

/// Parses `argv` and checks what every outcome must satisfy.
fn check(argv: &[String], restore: bool) {
    let first = cli::parse(argv, restore, &cli::NoLookup);
    if let Err(f) = &first {
        assert!(
            !f.message.trim().is_empty(),
            "a failure without a message: {argv:?}"
        );
        assert!(f.message.ends_with('\n'), "{argv:?}: {:?}", f.message);
        assert_ne!(f.status, 0, "a failure with exit status 0: {argv:?}");
    }
    let again = cli::parse(argv, restore, &cli::NoLookup);
    assert_eq!(first, again, "the same input parsed two ways: {argv:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        if let Some(direct) = cli::parse_saved(line) {
            let argv: Vec<String> = cli::restore_line(line, "ipvsadm")
                .unwrap_or_default()
                .iter()
                .map(|s| s.to_string())
                .collect();
            match cli::parse(&argv, true, &cli::NoLookup) {
                Ok(cli::Outcome::Run(p)) => assert_eq!(*p, direct, "{line:?}"),
                other => panic!("{line:?} read directly, but parse gives {other:?}"),
            }
        }
    }
    for mut argv in text
        .split('\n')
        .filter_map(|line| cli::restore_line(line, "ipvsadm"))
    {
        let owned: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        check(&owned, true);
        argv.insert(0, "ipvsadm");
        let owned: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        check(&owned, false);
    }
    for line in text.lines() {
        let mut argv = vec!["ipvsadm".to_string()];
        argv.extend(line.split_whitespace().map(str::to_string));
        check(&argv, false);
    }
});
