//! Children that misbehave: exit without reading, flood the stream nobody reads, die
//! mid-stream, leave a grandchild holding the pipes, end without a newline.

mod common;

use std::time::Duration;

use common::{child, pattern, within, HANG};
use procpump::{Error, Popen, Stream};

#[test]
fn sending_100_mib_to_a_child_that_exits_without_reading_ends_in_stdin_closed() {
    let p = Popen::spawn(&mut child(&["exit", "0"])).unwrap();
    let block = vec![7u8; 1 << 20];
    let result = within(HANG, move || {
        let mut taken = 0usize;
        for _ in 0..100 {
            match p.asyncwrite(&block, HANG) {
                Ok(n) => taken += n,
                Err(e) => return (taken, Some(e), p.wait().unwrap()),
            }
        }
        (taken, None, p.wait().unwrap())
    });
    let (taken, err, status) = result;
    // The pipe and the queue take a little; then the broken pipe is reported, typed.
    assert!(
        matches!(err, Some(Error::StdinClosed)),
        "{err:?} after {taken} bytes"
    );
    assert!(taken < 100 << 20);
    assert!(
        status.success(),
        "the child exited normally; we did not die of SIGPIPE either"
    );
}

#[test]
fn a_child_flooding_stdout_while_only_stderr_is_read_is_held_at_the_bound_then_stalled() {
    let p = Popen::spawn(&mut child(&["flood-ticks"])).unwrap();
    let (p, ticks, err) = within(HANG, move || {
        let mut ticks = Vec::new();
        let err = loop {
            match p.recv_timeout(Stream::Stderr, HANG) {
                Ok(Some(bytes)) => ticks.extend(bytes),
                Ok(None) => panic!("stderr ended"),
                Err(e) => break e,
            }
        };
        (p, ticks, err)
    });
    // Unread stdout is taken in up to its bound, then the child blocks on it: the call on
    // stderr says so instead of waiting for ever, and names the stream to read.
    assert!(
        matches!(
            err,
            Error::Stalled {
                stream: Stream::Stdout,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        p.buffered(Stream::Stdout),
        procpump::DEFAULT_OUTPUT_CAPACITY
    );
    // Each tick follows 64 KiB of stdout: 1 MiB held plus what the pipe holds, not more.
    let count = ticks.iter().filter(|&&b| b == b'\n').count();
    assert!(count < 64, "{count} ticks: stdout was not held back");
    // Reading stdout lets it go on: more ticks arrive.
    let drained = p.recv(usize::MAX).unwrap().unwrap();
    assert_eq!(drained.len(), procpump::DEFAULT_OUTPUT_CAPACITY);
    let more = p.recv_timeout(Stream::Stderr, HANG).unwrap().unwrap();
    assert!(!more.is_empty());
    p.kill().unwrap();
    assert!(!within(HANG, move || p.wait().unwrap()).success());
}

#[test]
fn killing_mid_stream_delivers_what_was_written_and_ends_every_stream() {
    let n = 64 << 20;
    let p = Popen::spawn(&mut child(&["write-both", &n.to_string()])).unwrap();
    let first = p.recv_timeout(Stream::Stdout, HANG).unwrap().unwrap();
    p.kill().unwrap();
    let (out, err) = within(HANG, move || {
        let out = p.asyncread(Duration::MAX).unwrap().unwrap_or_default();
        let err = p
            .asyncread_from(Stream::Stderr, Duration::MAX)
            .unwrap()
            .unwrap_or_default();
        assert!(!p.wait().unwrap().success());
        (out, err)
    });
    let mut all = first;
    all.extend(out);
    // Whatever arrived is an unbroken prefix of what the child wrote.
    assert!(all.len() < n && all == pattern(all.len()));
    assert!(err == pattern(err.len()));
}

#[test]
fn a_grandchild_holding_the_pipes_blocks_nothing() {
    let p = Popen::spawn(&mut child(&["grandchild", "30000"])).unwrap();
    within(HANG, move || {
        assert!(p.wait().unwrap().success());
        assert!(p.try_wait().unwrap().is_some());
        p.kill().unwrap();
        let err = p
            .communicate(b"", Some(Duration::from_millis(100)))
            .unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(
            p.read_line(Duration::from_millis(50)).unwrap().unwrap(),
            b"spawned\n"
        );
        drop(p);
    });
}

#[test]
fn a_last_line_without_newline_is_delivered() {
    let p = Popen::spawn(&mut child(&["print", "no newline at the end"])).unwrap();
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert_eq!(out.stdout, b"no newline at the end");
}
