//! `communicate`: no deadlock whatever the sizes, and a timeout that loses nothing.

mod common;

use std::time::Duration;

use common::{child, pattern, within, HANG};
use procpump::{Error, Popen};

#[test]
fn thirty_two_mib_both_ways_while_stderr_floods_too() {
    let n = 32 << 20;
    let out = within(HANG * 3, move || {
        let p = Popen::spawn(&mut child(&["echo-flood-err", &n.to_string()])).unwrap();
        p.communicate(&pattern(n), None).unwrap()
    });
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), n);
    assert!(out.stdout == pattern(n), "stdout corrupted");
    assert!(out.stderr == pattern(n), "stderr corrupted");
}

#[test]
fn communicate_returns_what_recv_did_not_take() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.send(b"first|").unwrap();
    let first = p
        .recv_timeout(procpump::Stream::Stdout, HANG)
        .unwrap()
        .unwrap();
    assert_eq!(first, b"first|");
    let out = p.communicate(b"second", Some(HANG)).unwrap();
    assert_eq!(out.stdout, b"second");
}

#[test]
fn timeout_keeps_output_and_unsent_input_for_the_next_call() {
    let p = Popen::spawn(&mut child(&["grandchild", "800"])).unwrap();
    // Pipes stay open for 800 ms through the grandchild: this call must time out.
    let err = p
        .communicate(b"", Some(Duration::from_millis(100)))
        .unwrap_err();
    assert!(err.is_timeout(), "got {err:?}");
    assert!(matches!(
        err,
        Error::Timeout {
            operation: "communicate",
            ..
        }
    ));
    // The next call continues and returns all output from the start, exactly once.
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert_eq!(out.stdout, b"spawned\n");
    let again = p.communicate(b"", Some(HANG)).unwrap();
    assert!(again.stdout.is_empty(), "output is returned once");
}

#[test]
fn timeout_while_writing_input_continues_with_the_remembered_input() {
    let n = 4 << 20;
    let p = Popen::spawn(&mut child(&["count"])).unwrap();
    let data = pattern(n);
    // A zero timeout cannot write 4 MiB: the rest must be remembered, not lost or repeated.
    let err = p.communicate(&data, Some(Duration::ZERO)).unwrap_err();
    assert!(err.is_timeout());
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert_eq!(out.stdout, format!("{n} pattern\n").as_bytes());
}

#[test]
fn a_child_that_exits_without_reading_is_not_an_error() {
    let p = Popen::spawn(&mut child(&["exit", "7"])).unwrap();
    let out = p.communicate(&vec![1u8; 10 << 20], Some(HANG)).unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty());
}

#[test]
fn grandchild_holding_the_pipes_makes_communicate_time_out_on_time() {
    let p = Popen::spawn(&mut child(&["grandchild", "30000"])).unwrap();
    let err = within(HANG, move || {
        p.communicate(b"", Some(Duration::from_millis(200)))
            .unwrap_err()
    });
    assert!(err.is_timeout());
}

#[test]
fn communicate_with_input_after_close_is_stdin_closed() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.close_stdin();
    assert!(matches!(
        p.communicate(b"x", Some(HANG)),
        Err(Error::StdinClosed)
    ));
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert!(out.status.success());
}

#[test]
fn communicate_with_duration_max_means_forever_not_a_panic() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let out = p.communicate(b"abc", Some(Duration::MAX)).unwrap();
    assert_eq!(out.stdout, b"abc");
}

#[test]
fn exit_code_is_reported() {
    let p = Popen::spawn(&mut child(&["exit", "42"])).unwrap();
    assert_eq!(p.communicate(b"", None).unwrap().status.code(), Some(42));
}
