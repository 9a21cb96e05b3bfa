//! Keepalived's reload signal, as the seeds' script sends it
//! (`pkill --signal HUP keepalived`), but to the one process named by its
//! pid file.

use std::path::Path;

/// Sends SIGHUP to the pid written in `pid_file`; returns the pid.
pub fn sighup(pid_file: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("keepalived pid file {}: {e}", pid_file.display()))?;
    let pid: i32 = match text.trim().parse() {
        Ok(p) if p > 1 => p,
        _ => {
            return Err(format!(
                "keepalived pid file {}: {:?} is not a process id",
                pid_file.display(),
                text.trim()
            ));
        }
    };
    // SAFETY: kill(2) with a positive pid and a valid signal number only
    // sends a signal; it touches no memory of ours.
    let rc = unsafe { libc::kill(pid, libc::SIGHUP) };
    if rc != 0 {
        return Err(format!(
            "SIGHUP to keepalived (pid {pid} from {}): {}",
            pid_file.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(pid)
}
