//! Property-based tests: whatever the mix of calls, chunk sizes and `maxsize` values, what
//! comes out equals what went in, in order, with no byte lost or repeated.
//!
//! `PROCPUMP_PROPTEST_CASES` sets the number of cases (default 24).

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{child, HANG};
use procpump::{Error, Options, Popen, ProcessIoWrapper, Stream};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Send(Vec<u8>),
    AsyncWrite(Vec<u8>, u64),
    Recv(Stream, usize),
    RecvTimeout(Stream, u64),
    AsyncRead(Stream, u64),
    ReadLine(Stream, u64),
    RecvAny(u64),
    Communicate(u64),
    CloseStdin,
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        3 => prop::collection::vec(any::<u8>(), 0..4096),
        1 => prop::collection::vec(any::<u8>(), 0..200_000),
    ]
}

fn maxsize() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0), 1..8usize, 1..100_000usize, Just(usize::MAX)]
}

fn stream() -> impl Strategy<Value = Stream> {
    prop_oneof![Just(Stream::Stdout), Just(Stream::Stderr)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => data().prop_map(Op::Send),
        3 => (data(), 0..20u64).prop_map(|(d, ms)| Op::AsyncWrite(d, ms)),
        4 => (stream(), maxsize()).prop_map(|(s, m)| Op::Recv(s, m)),
        2 => (stream(), 0..10u64).prop_map(|(s, ms)| Op::RecvTimeout(s, ms)),
        2 => (stream(), 0..10u64).prop_map(|(s, ms)| Op::AsyncRead(s, ms)),
        2 => (stream(), 0..10u64).prop_map(|(s, ms)| Op::ReadLine(s, ms)),
        2 => (0..10u64).prop_map(Op::RecvAny),
        1 => (0..10u64).prop_map(Op::Communicate),
        1 => Just(Op::CloseStdin),
    ]
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROCPUMP_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    ProptestConfig::with_cases(cases)
}

fn handle(p: &Popen, s: Stream) -> &procpump::OutputHandle {
    match s {
        Stream::Stdout => p.stdout().unwrap(),
        Stream::Stderr => p.stderr().unwrap(),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `ops` against a child that mirrors stdin to stdout and stderr, then checks both.
fn run(ops: Vec<Op>, capacity: usize, chunk: usize) -> Result<(), TestCaseError> {
    let p = Options::new()
        .output_capacity(capacity)
        .input_capacity(capacity)
        .chunk_size(chunk)
        .spawn(&mut child(&["echo-both"]))
        .unwrap();
    let (mut sent, mut out, mut err) = (Vec::new(), Vec::new(), Vec::new());
    let mut closed = false;
    let mut collect = |which: Stream, bytes: Option<Vec<u8>>| match which {
        Stream::Stdout => out.extend(bytes.unwrap_or_default()),
        Stream::Stderr => err.extend(bytes.unwrap_or_default()),
    };
    // A stall is a legal answer to a one-stream call: it names a stream that holds at least
    // the bound, never the one the call reads, and loses nothing (checked at the end).
    let stalled = |e: &Error, reading: Option<Stream>| -> Result<(), TestCaseError> {
        let Error::Stalled { stream, .. } = *e else {
            return Err(TestCaseError::fail(format!("{e}")));
        };
        prop_assert!(Some(stream) != reading, "{e}");
        prop_assert!(
            p.buffered(stream) >= capacity,
            "{e}: {}",
            p.buffered(stream)
        );
        Ok(())
    };
    for op in ops {
        match op {
            Op::Send(d) => match p.send(&d) {
                Ok(n) => sent.extend_from_slice(&d[..n]),
                Err(Error::StdinClosed) => prop_assert!(closed),
                Err(e) => stalled(&e, None)?,
            },
            Op::AsyncWrite(d, t) => match p.asyncwrite(&d, ms(t)) {
                Ok(n) => sent.extend_from_slice(&d[..n]),
                Err(Error::StdinClosed) => prop_assert!(closed),
                Err(e) => stalled(&e, None)?,
            },
            Op::Recv(s, m) => match p.recv_from(s, m) {
                Ok(got) => {
                    prop_assert!(got.as_ref().is_none_or(|g| g.len() <= m));
                    collect(s, got);
                }
                Err(e) => stalled(&e, Some(s))?,
            },
            Op::RecvTimeout(s, t) => match p.recv_timeout(s, ms(t)) {
                Ok(got) => collect(s, got),
                Err(e) => stalled(&e, Some(s))?,
            },
            Op::AsyncRead(s, t) => match p.asyncread_from(s, ms(t)) {
                Ok(got) => collect(s, got),
                Err(e) => stalled(&e, Some(s))?,
            },
            Op::ReadLine(s, t) => match handle(&p, s).recv_line_timeout(ms(t)) {
                Ok(got) => {
                    prop_assert!(got.as_ref().is_none_or(|l| !l.is_empty()));
                    collect(s, got);
                }
                Err(e) if e.is_timeout() => {}
                // A line longer than the bound stalls on its own stream.
                Err(Error::Stalled { stream, .. }) if stream == s => {
                    prop_assert!(p.buffered(s) >= capacity);
                }
                Err(e) => stalled(&e, Some(s))?,
            },
            Op::RecvAny(t) => match p.recv_any(ms(t)) {
                Ok(Some((s, bytes))) => collect(s, Some(bytes)),
                Ok(None) => {}
                Err(e) => prop_assert!(e.is_timeout(), "recv_any: {e}"),
            },
            Op::Communicate(t) => match p.communicate(b"", Some(ms(t))) {
                Ok(o) => {
                    collect(Stream::Stdout, Some(o.stdout));
                    collect(Stream::Stderr, Some(o.stderr));
                    closed = true;
                }
                // A timeout keeps everything for later; communicate has closed stdin or will.
                Err(e) => {
                    prop_assert!(e.is_timeout(), "communicate: {e}");
                    closed = true;
                }
            },
            Op::CloseStdin => {
                p.close_stdin();
                closed = true;
            }
        }
    }
    p.close_stdin();
    let rest = p.communicate(b"", Some(HANG)).unwrap();
    out.extend(rest.stdout);
    err.extend(rest.stderr);
    prop_assert!(rest.status.success());
    prop_assert_eq!(out.len(), sent.len());
    prop_assert!(out == sent, "stdout differs from what was sent");
    prop_assert!(err == sent, "stderr differs from what was sent");
    Ok(())
}

/// Runs one-stream waits on stdout while the child floods stderr with `flood` bytes, then
/// checks that both streams arrived whole: what a stall holds back is read afterwards.
fn run_flooded(ops: Vec<Op>, capacity: usize, flood: usize) -> Result<(), TestCaseError> {
    let p = Options::new()
        .output_capacity(capacity)
        .spawn(&mut child(&["echo-flood-err", &flood.to_string()]))
        .unwrap();
    let (mut sent, mut out, mut err) = (Vec::new(), Vec::new(), Vec::new());
    for op in ops {
        let got = match op {
            Op::Send(d) => {
                match p.send(&d) {
                    Ok(n) => sent.extend_from_slice(&d[..n]),
                    Err(e) => prop_assert!(e.is_stalled(), "send: {e}"),
                }
                continue;
            }
            Op::RecvTimeout(_, t) => p.recv_timeout(Stream::Stdout, ms(t)),
            Op::AsyncRead(_, t) => p.asyncread(ms(t)),
            Op::ReadLine(_, t) => p.read_line(ms(t)).or_else(|e| {
                if e.is_timeout() {
                    Ok(Some(Vec::new()))
                } else {
                    Err(e)
                }
            }),
            _ => p.recv(usize::MAX),
        };
        match got {
            Ok(bytes) => out.extend(bytes.unwrap_or_default()),
            Err(Error::Stalled { stream, .. }) => {
                // Only stderr can hold stdout back; reading it lets stdout go on.
                prop_assert_eq!(stream, Stream::Stderr);
                prop_assert!(p.buffered(Stream::Stderr) >= capacity);
                err.extend(p.recv_err(usize::MAX).unwrap().unwrap_or_default());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }
    p.close_stdin();
    let rest = p.communicate(b"", Some(HANG)).unwrap();
    out.extend(rest.stdout);
    err.extend(rest.stderr);
    prop_assert!(rest.status.success());
    prop_assert!(out == sent, "stdout differs from what was sent");
    prop_assert!(
        err == common::pattern(flood),
        "stderr lost or reordered bytes"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn one_stream_waits_while_the_other_floods_lose_nothing_and_never_hang(
        ops in prop::collection::vec(op(), 1..30),
        capacity in prop_oneof![Just(procpump::DEFAULT_OUTPUT_CAPACITY), 1..200_000usize],
        flood in prop_oneof![Just(4 << 20), 0..300_000usize],
    ) {
        run_flooded(ops, capacity, flood)?;
    }

    #[test]
    fn any_mix_of_calls_moves_every_byte_once_in_order(
        ops in prop::collection::vec(op(), 1..40),
        capacity in prop_oneof![Just(64 * 1024), 1..5000usize],
        chunk in prop_oneof![Just(64 * 1024), 1..3000usize],
    ) {
        run(ops, capacity, chunk)?;
    }

    #[test]
    fn the_wrapper_moves_every_byte_once_in_order(
        writes in prop::collection::vec(data(), 1..20),
        reads in prop::collection::vec(1..70_000usize, 1..20),
    ) {
        let mut w = ProcessIoWrapper::new(Popen::spawn(&mut child(&["echo"])).unwrap());
        // Short timeouts both ways: a test that wrote everything before reading would fill
        // both pipes and stall, which is the caller's deadlock, not the crate's.
        w.set_write_timeout(Some(ms(2)));
        w.set_read_timeout(Some(ms(2)));
        let (mut sent, mut got) = (Vec::new(), Vec::new());
        for (i, d) in writes.iter().enumerate() {
            match w.write(d) {
                Ok(n) => sent.extend_from_slice(&d[..n]),
                // Timed out, or stalled: the echo is full and unread. Nothing is lost.
                Err(e) => prop_assert!(
                    matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::Deadlock),
                    "{e}"
                ),
            }
            let mut buf = vec![0u8; reads[i % reads.len()]];
            match w.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => prop_assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
            }
        }
        w.set_write_timeout(Some(HANG));
        w.get_ref().close_stdin();
        w.set_read_timeout(Some(HANG));
        w.read_to_end(&mut got).unwrap();
        prop_assert!(got == sent, "the wrapper lost, repeated or reordered bytes");
    }
}
