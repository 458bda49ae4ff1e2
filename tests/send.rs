//! Writing: `send`, `asyncwrite`, `flush_stdin`, `close_stdin` — bounded, never blocking,
//! typed errors once stdin is closed.

mod common;

use std::time::{Duration, Instant};

use common::{child, pattern, HANG};
use procpump::{Error, Options, Popen, Stream};

#[test]
fn send_queues_without_blocking_and_the_child_gets_every_byte() {
    let p = Popen::spawn(&mut child(&["count"])).unwrap();
    let data = pattern(5_000_000);
    let mut sent = 0;
    let start = Instant::now();
    while sent < data.len() {
        sent += p.send(&data[sent..]).unwrap();
        assert!(start.elapsed() < HANG, "hang");
    }
    p.close_stdin();
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert_eq!(out.stdout, b"5000000 pattern\n");
}

#[test]
fn send_returns_zero_when_the_queue_is_full_and_the_queue_is_bounded() {
    // The child never reads: the pipe fills, then the queue, then send takes nothing.
    let p = Options::new()
        .input_capacity(64 * 1024)
        .spawn(&mut child(&["sleep", "60000"]))
        .unwrap();
    let block = vec![7u8; 1 << 20];
    let mut queued = 0usize;
    let start = Instant::now();
    loop {
        let n = p.send(&block).unwrap();
        queued += n;
        if n == 0 && p.send(&block[..1]).unwrap() == 0 {
            break;
        }
        assert!(start.elapsed() < HANG, "the queue never filled: no bound");
        std::thread::sleep(Duration::from_millis(5));
    }
    // What went in is bounded by the pipe (a few KiB to 1 MiB, by platform) plus the queue.
    assert!(
        queued < 4 << 20,
        "queued {queued} bytes: the bound is not enforced"
    );
    p.kill().unwrap();
}

#[test]
fn asyncwrite_waits_for_room_and_takes_everything() {
    let p = Popen::spawn(&mut child(&["count"])).unwrap();
    let data = pattern(3_000_000);
    assert_eq!(p.asyncwrite(&data, Duration::MAX).unwrap(), data.len());
    p.close_stdin();
    assert_eq!(
        p.communicate(b"", Some(HANG)).unwrap().stdout,
        b"3000000 pattern\n"
    );
}

#[test]
fn asyncwrite_times_out_with_a_short_count() {
    let p = Options::new()
        .input_capacity(16 * 1024)
        .spawn(&mut child(&["sleep", "60000"]))
        .unwrap();
    let data = vec![1u8; 8 << 20];
    let taken = p.asyncwrite(&data, Duration::from_millis(100)).unwrap();
    assert!(
        taken < data.len(),
        "a child that never reads cannot take 8 MiB"
    );
    assert_eq!(p.asyncwrite(&data, Duration::ZERO).unwrap(), 0);
    p.kill().unwrap();
}

#[test]
fn send_and_asyncwrite_after_close_stdin_are_stdin_closed() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.close_stdin();
    p.close_stdin(); // idempotent
    assert!(matches!(p.send(b"x"), Err(Error::StdinClosed)));
    assert!(matches!(p.asyncwrite(b"x", HANG), Err(Error::StdinClosed)));
    assert!(p.send(b"").unwrap_err().is_stdin_closed());
    assert!(p.wait().unwrap().success());
}

#[test]
fn data_queued_before_close_stdin_is_still_written_then_eof() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let data = pattern(200_000);
    assert_eq!(p.asyncwrite(&data, HANG).unwrap(), data.len());
    p.close_stdin();
    let out = p.asyncread(Duration::MAX).unwrap().unwrap();
    assert!(out == data);
    assert!(p.wait().unwrap().success(), "the child saw EOF and exited");
}

#[test]
fn send_to_a_child_that_exited_becomes_stdin_closed() {
    let p = Popen::spawn(&mut child(&["exit", "0"])).unwrap();
    p.wait().unwrap();
    let block = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let err = loop {
        match p.asyncwrite(&block, Duration::from_millis(10)) {
            Ok(_) => assert!(start.elapsed() < HANG, "broken pipe never reported"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::StdinClosed), "got {err:?}");
    assert!(matches!(p.send(b"more"), Err(Error::StdinClosed)));
}

#[test]
fn flush_stdin_waits_until_written() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.send(b"abc").unwrap();
    assert!(p.flush_stdin(HANG).unwrap());
    let got = p.recv_timeout(Stream::Stdout, HANG).unwrap().unwrap();
    assert_eq!(got, b"abc");
}

#[test]
fn many_small_sends_arrive_in_order() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let mut expect = Vec::new();
    for i in 0..5000u32 {
        let msg = format!("{i},");
        assert_eq!(p.asyncwrite(msg.as_bytes(), HANG).unwrap(), msg.len());
        expect.extend_from_slice(msg.as_bytes());
    }
    p.close_stdin();
    assert_eq!(p.asyncread(Duration::MAX).unwrap().unwrap(), expect);
}

#[test]
fn writing_to_an_uncaptured_stdin_is_a_typed_error() {
    let p = Options::new()
        .stdin(procpump::Capture::Null)
        .spawn(&mut child(&["count"]))
        .unwrap();
    assert!(matches!(
        p.send(b"x"),
        Err(Error::NotCaptured { stream: "stdin" })
    ));
    assert!(p.asyncwrite(b"x", HANG).unwrap_err().is_not_captured());
    p.close_stdin(); // a no-op, not a panic
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert_eq!(
        out.stdout, b"0 pattern\n",
        "the null device gives EOF at once"
    );
}

#[test]
fn close_stdin_from_another_thread_wakes_a_blocked_asyncwrite() {
    let p = std::sync::Arc::new(
        Options::new()
            .input_capacity(4096)
            .spawn(&mut child(&["sleep", "60000"]))
            .unwrap(),
    );
    let writer = {
        let p = std::sync::Arc::clone(&p);
        std::thread::spawn(move || p.asyncwrite(&vec![0u8; 8 << 20], Duration::MAX))
    };
    std::thread::sleep(Duration::from_millis(50));
    p.close_stdin();
    let result = common::within(HANG, move || writer.join().unwrap());
    // The bytes taken before the close are reported; none are taken after it.
    let taken = result.unwrap();
    assert!(taken < 8 << 20);
    assert!(matches!(p.send(b"x"), Err(Error::StdinClosed)));
    p.kill().unwrap();
}
