//! Reading: `recv*`, `recv_timeout`, `asyncread*` — exactly once, in order, without losing a
//! byte to `maxsize` or a timeout.

mod common;

use std::time::{Duration, Instant};

use common::{child, pattern, HANG};
use procpump::{Error, Popen, Stream};

/// Reads stdout with `recv(maxsize)`, sleeping briefly on empty, until EOF.
fn drain_with_recv(p: &Popen, maxsize: usize) -> Vec<u8> {
    let start = Instant::now();
    let mut all = Vec::new();
    while let Some(bytes) = p.recv(maxsize).unwrap() {
        assert!(bytes.len() <= maxsize, "recv returned more than maxsize");
        if bytes.is_empty() {
            assert!(start.elapsed() < HANG, "hang");
            std::thread::sleep(Duration::from_millis(1));
        }
        all.extend(bytes);
    }
    all
}

#[test]
fn recv_returns_every_byte_once_in_order_then_none() {
    let p = Popen::spawn(&mut child(&["write", "1000000"])).unwrap();
    assert_eq!(drain_with_recv(&p, usize::MAX), pattern(1_000_000));
    assert_eq!(p.recv(10).unwrap(), None, "None stays None after EOF");
    assert!(p.wait().unwrap().success());
}

#[test]
fn maxsize_cuts_chunks_without_losing_their_tails() {
    let p = Popen::spawn(&mut child(&["write", "300001"])).unwrap();
    assert_eq!(drain_with_recv(&p, 7), pattern(300_001));
}

#[test]
fn maxsize_zero_returns_empty_until_eof_and_then_none() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.send(b"abc").unwrap();
    for _ in 0..100 {
        assert_eq!(
            p.recv(0).unwrap(),
            Some(Vec::new()),
            "open stream: never None"
        );
    }
    let got = p.recv_timeout(Stream::Stdout, HANG).unwrap();
    assert_eq!(got, Some(b"abc".to_vec()), "maxsize 0 took nothing");
    p.close_stdin();
    let start = Instant::now();
    loop {
        match p.recv(0).unwrap() {
            None => break,
            Some(b) => assert!(b.is_empty()),
        }
        assert!(start.elapsed() < HANG, "EOF never reported with maxsize 0");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn recv_never_blocks_on_a_silent_child() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    assert_eq!(p.recv(100).unwrap(), Some(Vec::new()));
    assert_eq!(p.recv_err(100).unwrap(), Some(Vec::new()));
    assert_eq!(
        p.recv_timeout(Stream::Stdout, Duration::ZERO).unwrap(),
        Some(Vec::new())
    );
    assert_eq!(p.asyncread(Duration::ZERO).unwrap(), Some(Vec::new()));
    p.close_stdin();
    p.wait().unwrap();
}

#[test]
fn recv_timeout_returns_as_soon_as_data_arrives() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.send(b"hi").unwrap();
    let got = p.recv_timeout(Stream::Stdout, HANG).unwrap();
    assert_eq!(got, Some(b"hi".to_vec()));
    p.close_stdin();
    assert_eq!(p.recv_timeout(Stream::Stdout, Duration::MAX).unwrap(), None);
}

#[test]
fn recv_timeout_times_out_with_empty_and_loses_nothing() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let got = p
        .recv_timeout(Stream::Stdout, Duration::from_millis(30))
        .unwrap();
    assert_eq!(got, Some(Vec::new()));
    p.send(b"late").unwrap();
    p.close_stdin();
    let got = p.asyncread(Duration::MAX).unwrap();
    assert_eq!(got, Some(b"late".to_vec()));
}

#[test]
fn asyncread_collects_the_whole_timeout_and_returns_early_at_eof() {
    let p = Popen::spawn(&mut child(&["lines", "3", "20"])).unwrap();
    let got = p.asyncread(HANG).unwrap().unwrap();
    assert_eq!(got, b"line 0\nline 1\nline 2\n", "everything until EOF");
    assert_eq!(p.asyncread(HANG).unwrap(), None, "already at EOF: None");
}

#[test]
fn asyncread_from_stderr_and_recv_err_read_stderr() {
    let p = Popen::spawn(&mut child(&["write-err", "100000"])).unwrap();
    let first = p.recv_err(10).unwrap().unwrap();
    let mut all = first;
    all.extend(
        p.asyncread_from(Stream::Stderr, Duration::MAX)
            .unwrap()
            .unwrap(),
    );
    assert_eq!(all, pattern(100_000));
    let stdout = p.asyncread(Duration::MAX).unwrap();
    assert!(stdout.unwrap_or_default().is_empty(), "stdout was empty");
    assert_eq!(
        p.asyncread(Duration::MAX).unwrap(),
        None,
        "now known to be at EOF"
    );
}

#[test]
fn mixed_read_calls_return_each_byte_exactly_once() {
    let n = 2_000_000;
    let p = Popen::spawn(&mut child(&["write", &n.to_string()])).unwrap();
    let mut all = Vec::new();
    let mut turn = 0usize;
    let start = Instant::now();
    loop {
        let got = match turn % 4 {
            0 => p.recv(1 + turn % 5000).unwrap(),
            1 => p
                .recv_timeout(Stream::Stdout, Duration::from_millis(5))
                .unwrap(),
            2 => p.asyncread(Duration::from_millis(1)).unwrap(),
            _ => p.recv_from(Stream::Stdout, 65_537).unwrap(),
        };
        match got {
            Some(bytes) => all.extend(bytes),
            None => break,
        }
        turn += 1;
        assert!(start.elapsed() < HANG, "hang");
    }
    assert_eq!(all.len(), n);
    assert!(all == pattern(n), "bytes lost, repeated or reordered");
}

#[test]
fn output_of_a_killed_child_written_before_death_is_delivered() {
    let p = Popen::spawn(&mut child(&["flood"])).unwrap();
    let first = p.recv_timeout(Stream::Stdout, HANG).unwrap().unwrap();
    assert!(first.starts_with(b"ready\n"));
    p.kill().unwrap();
    let rest = p.asyncread(HANG).unwrap().unwrap();
    assert!(rest.iter().all(|&b| b == b'x'));
    assert!(!p.wait().unwrap().success());
}

#[test]
fn reading_an_uncaptured_stream_is_a_typed_error() {
    let p = procpump::Options::new()
        .stderr(procpump::Capture::Null)
        .spawn(&mut child(&["exit", "0"]))
        .unwrap();
    for result in [
        p.recv_err(1),
        p.recv_timeout(Stream::Stderr, Duration::ZERO),
        p.asyncread_from(Stream::Stderr, Duration::MAX),
    ] {
        assert!(matches!(
            result,
            Err(Error::NotCaptured { stream: "stderr" })
        ));
    }
    let stdout = p.asyncread(Duration::MAX).unwrap();
    assert!(
        stdout.unwrap_or_default().is_empty(),
        "stdout is still readable"
    );
}

#[test]
fn bytes_pass_through_raw() {
    let data: Vec<u8> = b"a\r\nb\nc\r\x00\xff\xfe".to_vec();
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let out = p.communicate(&data, Some(HANG)).unwrap();
    assert_eq!(out.stdout, data, "no newline or encoding translation");
}

#[test]
fn asyncread_returns_on_time_even_while_the_child_floods() {
    let p = Popen::spawn(&mut child(&["flood"])).unwrap();
    let got = common::within(HANG, move || {
        let zero = p.asyncread(Duration::ZERO).unwrap().unwrap();
        let short = p.asyncread(Duration::from_millis(50)).unwrap().unwrap();
        p.kill().unwrap();
        zero.len() + short.len()
    });
    assert!(got > 0);
}
