//! `clusterip::agent::Signals` (svc-setup --watch's signal handling): real
//! signals sent to this process arrive as control messages. Its own test
//! binary, with a single test: the handlers are process-wide.

use std::time::Duration;

use clusterip::agent::{Control, Signals};

#[test]
fn signals_become_control_messages() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Outside a runtime: an error, not a panic.
    assert!(Signals::install().is_err());
    rt.block_on(async {
        let signals = Signals::install().unwrap();
        // Once per process.
        let again = Signals::install().unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let fwd = tokio::spawn(signals.forward(tx));
        let pid = std::process::id() as libc::pid_t;
        for (sig, want) in [
            (libc::SIGHUP, Control::Reload),
            (libc::SIGTERM, Control::Shutdown),
            (libc::SIGHUP, Control::Reload),
            (libc::SIGINT, Control::Shutdown),
        ] {
            // SAFETY: kill(2) to our own pid with a signal we handle.
            assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
            let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("signal not delivered within 5 s")
                .unwrap();
            assert_eq!(got, want, "signal {sig}");
        }
        // Several at once: standard signals do not queue, so the kernel may
        // merge those still pending into one (seen in CI); at least one
        // reload arrives, and never more than were sent.
        for _ in 0..3 {
            // SAFETY: as above.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        }
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no reload within 5 s of three SIGHUPs")
            .unwrap();
        assert_eq!(got, Control::Reload);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut more = 0;
        while let Ok(got) = rx.try_recv() {
            assert_eq!(got, Control::Reload);
            more += 1;
        }
        assert!(more <= 2, "{} reloads for 3 signals", more + 1);
        drop(rx);
        // The forwarder ends once the receiver is gone (at the next signal).
        // SAFETY: as above.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        tokio::time::timeout(Duration::from_secs(5), fwd)
            .await
            .unwrap()
            .unwrap();
    });
}
