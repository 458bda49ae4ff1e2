//! Waiting and killing: from any thread, without deadlock, without losing output, and prompt
//! even when a grandchild holds the pipes.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{child, pattern, within, HANG};
use procpump::{Capture, Options, Popen};

#[test]
fn wait_does_not_deadlock_on_a_child_blocked_writing_and_loses_nothing() {
    // 8 MiB on each stream is far more than pipes and channels hold: without draining, the
    // child would block forever and wait would never return.
    let n = 8 << 20;
    let p = within(HANG, move || {
        let p = Popen::spawn(&mut child(&["write-both", &n.to_string()])).unwrap();
        assert!(p.wait().unwrap().success());
        p
    });
    let out = p.asyncread(Duration::MAX).unwrap().unwrap();
    let err = p
        .asyncread_from(procpump::Stream::Stderr, Duration::MAX)
        .unwrap()
        .unwrap();
    assert!(
        out == pattern(n) && err == pattern(n),
        "output lost or reordered by wait"
    );
}

#[test]
fn wait_timeout_drains_too_and_communicate_returns_everything_after() {
    let n = 4 << 20;
    let p = Popen::spawn(&mut child(&["write", &n.to_string()])).unwrap();
    let start = Instant::now();
    while p.wait_timeout(Duration::from_millis(10)).unwrap().is_none() {
        assert!(start.elapsed() < HANG, "hang");
    }
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert!(out.stdout == pattern(n));
}

#[test]
fn repeated_waits_return_the_same_status_and_try_wait_never_goes_back() {
    let p = Popen::spawn(&mut child(&["exit", "3"])).unwrap();
    let status = p.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(p.wait().unwrap(), status);
    assert_eq!(p.wait_timeout(Duration::ZERO).unwrap(), Some(status));
    assert_eq!(p.wait_timeout(Duration::MAX).unwrap(), Some(status));
    for _ in 0..100 {
        assert_eq!(p.try_wait().unwrap(), Some(status));
    }
    p.kill().unwrap(); // killing an exited child is Ok
}

#[test]
fn wait_timeout_zero_returns_none_for_a_running_child() {
    let p = Popen::spawn(&mut child(&["sleep", "60000"])).unwrap();
    assert_eq!(p.try_wait().unwrap(), None);
    assert_eq!(p.wait_timeout(Duration::ZERO).unwrap(), None);
    assert_eq!(p.wait_timeout(Duration::from_millis(20)).unwrap(), None);
    p.kill().unwrap();
    let status = p.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn kill_from_another_thread_ends_a_wait() {
    let p = Arc::new(Popen::spawn(&mut child(&["sleep", "60000"])).unwrap());
    let waiter = {
        let p = Arc::clone(&p);
        thread::spawn(move || p.wait().unwrap())
    };
    thread::sleep(Duration::from_millis(50));
    within(HANG, {
        let p = Arc::clone(&p);
        move || p.kill().unwrap()
    });
    let status = within(HANG, move || waiter.join().unwrap());
    assert!(!status.success());
    assert_eq!(p.try_wait().unwrap(), Some(status));
}

#[test]
fn killed_child_status_is_the_platform_value() {
    let p = Popen::spawn(&mut child(&["sleep", "60000"])).unwrap();
    p.kill().unwrap();
    let status = p.wait().unwrap();
    if cfg!(windows) {
        // TerminateProcess with exit code 1, as std's Child::kill documents.
        assert_eq!(status.code(), Some(1));
    } else {
        assert_eq!(status.code(), None, "killed by a signal, no exit code");
    }
}

#[test]
fn wait_try_wait_and_kill_stay_prompt_when_a_grandchild_holds_the_pipes() {
    let p = Popen::spawn(&mut child(&["grandchild", "30000"])).unwrap();
    let status = within(HANG, move || {
        let status = p.wait().unwrap();
        assert_eq!(p.try_wait().unwrap(), Some(status));
        p.kill().unwrap();
        drop(p);
        status
    });
    assert!(status.success());
}

#[test]
fn wait_works_without_any_captured_stream() {
    let p = Options::new()
        .stdin(Capture::Null)
        .stdout(Capture::Null)
        .stderr(Capture::Null)
        .spawn(&mut child(&["sleep", "50"]))
        .unwrap();
    assert!(within(HANG, move || p.wait().unwrap()).success());
}

#[test]
fn reading_and_waiting_from_different_threads_share_the_output_exactly_once() {
    let n = 6 << 20;
    let p = Arc::new(Popen::spawn(&mut child(&["write", &n.to_string()])).unwrap());
    let waiter = {
        let p = Arc::clone(&p);
        thread::spawn(move || p.wait().unwrap())
    };
    let mut got = Vec::new();
    let start = Instant::now();
    while let Some(bytes) = p.recv_timeout(procpump::Stream::Stdout, HANG).unwrap() {
        got.extend(bytes);
        assert!(start.elapsed() < HANG);
    }
    assert!(waiter.join().unwrap().success());
    assert!(
        got == pattern(n),
        "bytes lost or repeated between reader and waiter"
    );
}
