//! Shared helpers: the Rust child this crate builds, the data it generates, and hang guards.
#![allow(dead_code)] // each test file uses a different subset

use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Generous bound that only catches hangs; no test asserts on speed.
pub const HANG: Duration = Duration::from_secs(60);

/// A `Command` for the test child in the given mode.
pub fn child(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_procpump-test-child"));
    cmd.args(args);
    cmd
}

/// The bytes the test child generates: `i % 251`.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Children of this process that exited and were never reaped (Linux: read from /proc; 0
/// elsewhere).
pub fn zombies() -> usize {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2).min(stat.len())..];
            let mut fields = rest.split(' ');
            fields.next() == Some("Z") && fields.next() == Some(me.as_str())
        })
        .count()
}

/// Runs `f` on another thread and fails the test if it has not finished within `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {limit:?}: a hang"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the checked code panicked"),
    }
}
