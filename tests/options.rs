//! Options: capture modes, merged stderr, kill on drop, bad options, spawn failures.

mod common;

use std::io;
use std::time::Duration;

use common::{child, pattern, within, HANG};
use procpump::{Capture, Error, Options, Popen, Stream};

#[test]
fn merged_stderr_arrives_on_stdout_in_the_childs_order() {
    let p = Options::new()
        .merge_stderr(true)
        .spawn(&mut child(&["interleave", "200"]))
        .unwrap();
    let out = p.communicate(b"", Some(HANG)).unwrap();
    let expect: String = (0..200).map(|i| format!("o{i}\ne{i}\n")).collect();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expect);
    assert!(out.stderr.is_empty());
    assert!(matches!(
        p.recv_err(1),
        Err(Error::NotCaptured { stream: "stderr" })
    ));
}

#[test]
fn merged_stderr_reaches_eof_when_the_child_exits() {
    let p = Options::new()
        .merge_stderr(true)
        .spawn(&mut child(&["write-both", "100000"]))
        .unwrap();
    let out = within(HANG, move || p.asyncread(Duration::MAX).unwrap().unwrap());
    assert_eq!(
        out.len(),
        200_000,
        "the Command's copy of the pipe was not closed"
    );
}

#[test]
fn merge_needs_a_piped_stdout() {
    let err = Options::new()
        .merge_stderr(true)
        .stdout(Capture::Null)
        .spawn(&mut child(&["exit", "0"]))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)));
}

#[test]
fn zero_sizes_are_rejected_with_a_typed_error() {
    for opts in [
        Options::new().chunk_size(0).clone(),
        Options::new().output_capacity(0).clone(),
        Options::new().input_capacity(0).clone(),
    ] {
        let err = opts.spawn(&mut child(&["exit", "0"])).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);
    }
}

#[test]
fn tiny_chunks_and_capacities_still_move_every_byte() {
    // One byte per read and write: kept small, since under Wine every pipe call is slow.
    let n = 20_000;
    let p = Options::new()
        .chunk_size(1)
        .output_capacity(3)
        .input_capacity(5)
        .spawn(&mut child(&["echo-both"]))
        .unwrap();
    let out = p.communicate(&pattern(n), Some(HANG * 2)).unwrap();
    assert!(out.stdout == pattern(n) && out.stderr == pattern(n));
}

#[test]
fn spawning_a_missing_program_names_it() {
    let err =
        Popen::spawn(&mut std::process::Command::new("procpump-no-such-program")).unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }));
    assert!(
        err.to_string().contains("procpump-no-such-program"),
        "{err}"
    );
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
}

/// Spawns a child that creates a file after 300 ms, drops its Popen, and reports whether
/// the file appeared (the child lived on) within a generous wait.
fn survives_drop(kill_on_drop: bool) -> bool {
    let path = std::env::temp_dir().join(format!(
        "procpump-kill-on-drop-{}-{kill_on_drop}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let p = Options::new()
        .kill_on_drop(kill_on_drop)
        .spawn(&mut child(&["touch-after", "300", path.to_str().unwrap()]))
        .unwrap();
    within(HANG, move || drop(p));
    // Long enough for a loaded machine to run the child's 300 ms sleep; a killed child never writes.
    let deadline =
        std::time::Instant::now() + Duration::from_millis(if kill_on_drop { 1500 } else { 20_000 });
    while std::time::Instant::now() < deadline {
        if path.exists() {
            let _ = std::fs::remove_file(&path);
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn kill_on_drop_kills_the_child_and_the_default_leaves_it_running() {
    assert!(
        survives_drop(false),
        "by default a dropped Popen leaves its child running"
    );
    assert!(
        !survives_drop(true),
        "kill_on_drop(true) must kill the child"
    );
}

#[test]
fn inherit_and_null_leave_the_stream_uncaptured() {
    let p = Options::new()
        .stdout(Capture::Null)
        .stderr(Capture::Inherit)
        .spawn(&mut child(&["write", "10"]))
        .unwrap();
    assert!(p.recv(1).unwrap_err().is_not_captured());
    assert!(p
        .recv_timeout(Stream::Stderr, Duration::ZERO)
        .unwrap_err()
        .is_not_captured());
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
}
