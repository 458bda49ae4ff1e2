//! The stream model: reading one stream never hangs on the other. Each stream holds at most
//! its byte bound; a wait on one stream keeps taking in the other up to its bound, and says
//! `Stalled` (naming the stream to read) instead of hanging once the child is blocked on it.

mod common;

use std::io::{self, Read, Write};
use std::time::Duration;

use common::{child, pattern, within, HANG};
use procpump::{Error, Options, Overflow, Popen, ProcessIoWrapper, Stream};

/// Reads stdout line by line only, as a caller streaming a build's output would.
fn stdout_lines(p: &Popen) -> Result<Vec<Vec<u8>>, Error> {
    let mut lines = Vec::new();
    while let Some(line) = p.read_line(HANG)? {
        lines.push(line);
    }
    Ok(lines)
}

#[test]
fn a_build_tool_streams_every_stdout_line_while_stderr_is_taken_in_unread() {
    // 2,000 lines, each followed by 200 bytes of warnings: 400 KB of stderr, under the bound.
    let p = Popen::spawn(&mut child(&["build", "2000", "200"])).unwrap();
    let (p, lines) = within(HANG, move || {
        let lines = stdout_lines(&p);
        (p, lines)
    });
    let lines = lines.unwrap();
    assert_eq!(lines.len(), 2000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line, format!("line {i}\n").as_bytes());
    }
    let err = p.asyncread_from(Stream::Stderr, HANG).unwrap().unwrap();
    assert_eq!(err.len(), 2000 * 200);
    assert!(p.wait().unwrap().success());
}

#[test]
fn more_stderr_than_the_bound_stalls_promptly_and_reading_it_lets_stdout_go_on() {
    let capacity = 64 * 1024;
    let p = Options::new()
        .output_capacity(capacity)
        .spawn(&mut child(&["build", "2000", "200"]))
        .unwrap();
    let (p, lines, err) = within(HANG, move || {
        let (mut lines, mut err) = (Vec::new(), Vec::new());
        let mut stalls = 0;
        loop {
            match p.read_line(HANG) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(Error::Stalled {
                    stream: Stream::Stderr,
                    operation,
                }) => {
                    // The timeout is a minute: this came because stderr filled, not late.
                    assert_eq!(operation, "read_line");
                    assert_eq!(p.buffered(Stream::Stderr), capacity);
                    stalls += 1;
                    err.extend(p.recv_err(usize::MAX).unwrap().unwrap());
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(stalls >= 5, "{stalls} stalls for 400 KB of stderr");
        err.extend(
            p.asyncread_from(Stream::Stderr, HANG)
                .unwrap()
                .unwrap_or_default(),
        );
        (p, lines, err)
    });
    assert_eq!(lines.len(), 2000, "a stall lost no line");
    assert_eq!(lines[1999], b"line 1999\n");
    assert_eq!(err.len(), 2000 * 200, "a stall lost no stderr");
    assert!(p.wait().unwrap().success());
}

#[test]
fn a_big_stderr_before_one_stdout_line_does_not_hang_any_stdout_call() {
    // 128 KiB of stderr, then one stdout line: twice the pipe, well under the bound.
    let spawn = || Popen::spawn(&mut child(&["err-then-line", "131072"])).unwrap();
    let p = spawn();
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"done\n");
    let p = spawn();
    let out = within(HANG, move || p.asyncread(Duration::MAX).unwrap().unwrap());
    assert_eq!(out, b"done\n");
    let p = spawn();
    assert_eq!(
        p.recv_timeout(Stream::Stdout, HANG).unwrap().unwrap(),
        b"done\n"
    );
    assert_eq!(
        p.asyncread_from(Stream::Stderr, HANG).unwrap().unwrap(),
        pattern(131072)
    );
}

#[test]
fn hundred_byte_writes_fill_the_whole_byte_bound() {
    // 20,000 stderr lines of 100 bytes (2 MB), then a stdout line; the bound is 1 MiB.
    let p = Popen::spawn(&mut child(&["err-lines-then-line", "20000", "100"])).unwrap();
    let err = within(HANG, move || {
        let err = p.read_line(HANG).unwrap_err();
        (err, p.buffered(Stream::Stderr))
    });
    // Counted in bytes, not writes: exactly the bound was held when the child blocked.
    assert!(
        matches!(
            err.0,
            Error::Stalled {
                stream: Stream::Stderr,
                ..
            }
        ),
        "{:?}",
        err.0
    );
    assert_eq!(err.1, procpump::DEFAULT_OUTPUT_CAPACITY);
}

#[test]
fn recv_returns_everything_buffered_at_once() {
    let p = Popen::spawn(&mut child(&["err-lines-then-line", "2000", "100"])).unwrap();
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"done\n");
    // read_line took in stderr while it waited: 2,000 writes' worth, less what was still in
    // the pipe. One recv returns all of it, not one read's worth.
    let held = p.buffered(Stream::Stderr);
    assert!(held > 100_000, "{held}");
    let got = p.recv_err(usize::MAX).unwrap().unwrap();
    assert!(got.len() >= held, "{} of {held}", got.len());
    let rest = p
        .asyncread_from(Stream::Stderr, HANG)
        .unwrap()
        .unwrap_or_default();
    assert_eq!(got.len() + rest.len(), 200_000);
}

#[test]
fn expect_holds_at_most_its_bound_and_stalls_on_its_own_stream() {
    let capacity = 256 * 1024;
    let p = Options::new()
        .output_capacity(capacity)
        .spawn(&mut child(&["flood"]))
        .unwrap();
    let err = within(HANG, move || {
        let err = p.expect(b"PROMPT> ", HANG).unwrap_err();
        // Nothing was lost: the bytes searched are still there, starting with the banner.
        assert_eq!(p.buffered(Stream::Stdout), capacity);
        let held = p.recv(usize::MAX).unwrap().unwrap();
        assert!(held.starts_with(b"ready\nxxxx"));
        assert_eq!(held.len(), capacity);
        p.kill().unwrap();
        err
    });
    assert!(
        matches!(
            err,
            Error::Stalled {
                stream: Stream::Stdout,
                operation: "expect"
            }
        ),
        "{err:?}"
    );
    assert!(err.is_stalled());
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::Deadlock);
}

#[test]
fn keep_tail_keeps_exactly_the_last_bytes_and_never_blocks_the_child() {
    let (total, keep) = (5_000_000usize, 100_000usize);
    let p = Options::new()
        .output_capacity(keep)
        .overflow(Stream::Stderr, Overflow::KeepTail)
        .spawn(&mut child(&["write-err", &total.to_string()]))
        .unwrap();
    // Nobody reads stderr, and nothing drains it (try_wait does not): the child still ends.
    let p = within(HANG, move || {
        while p.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        settle(&p, total, keep);
        p
    });
    let tail = p.asyncread_from(Stream::Stderr, HANG).unwrap().unwrap();
    assert_eq!(tail, pattern(total)[total - keep..]);
    assert_eq!(p.dropped(Stream::Stderr), (total - keep) as u64);
    assert_eq!(p.dropped(Stream::Stdout), 0);
}

#[test]
fn a_keep_tail_stream_never_stalls_a_wait_on_the_other() {
    let p = Options::new()
        .output_capacity(64 * 1024)
        .overflow(Stream::Stderr, Overflow::KeepTail)
        .spawn(&mut child(&["build", "2000", "200"]))
        .unwrap();
    let lines = within(HANG, move || {
        let lines = stdout_lines(&p);
        settle(&p, 400_000, 64 * 1024);
        lines.map(|l| (l, p))
    });
    let (lines, p) = lines.unwrap();
    assert_eq!(lines.len(), 2000);
    let kept = p.asyncread_from(Stream::Stderr, HANG).unwrap().unwrap();
    assert_eq!(kept.len(), 64 * 1024);
    assert_eq!(p.dropped(Stream::Stderr), (400_000 - 64 * 1024) as u64);
}

#[test]
fn communicate_io_streams_any_size_through_a_filter_while_stderr_floods() {
    let size = 64 << 20;
    let p = Popen::spawn(&mut child(&["echo-flood-err", &size.to_string()])).unwrap();
    let (status, out, err) = within(HANG, move || {
        let (mut out, mut err) = (Checker::default(), Checker::default());
        let status = p
            .communicate_io(Pattern::new(size), &mut out, &mut err, None)
            .unwrap();
        (status, out, err)
    });
    assert!(status.success());
    assert_eq!(
        (out.len, out.wrong),
        (size, 0),
        "stdout is the input, byte for byte"
    );
    assert_eq!(
        (err.len, err.wrong),
        (size, 0),
        "stderr is the flood, byte for byte"
    );
}

#[test]
fn communicate_io_after_a_timeout_goes_on_and_loses_nothing() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    // Input that trickles: every read waits a little, so the first call times out midway.
    let mut input = Slow(Pattern::new(4 << 20));
    let mut out = Checker::default();
    let first = p.communicate_io(
        &mut input,
        &mut out,
        io::sink(),
        Some(Duration::from_millis(30)),
    );
    assert!(first.unwrap_err().is_timeout());
    assert!(out.len < 4 << 20);
    let status = within(HANG, move || {
        let status = p.communicate_io(&mut input, &mut out, io::sink(), None);
        (status.unwrap(), out)
    });
    assert!(status.0.success());
    assert_eq!((status.1.len, status.1.wrong), (4 << 20, 0));
}

#[test]
fn communicate_io_returns_a_failing_writer_error_typed() {
    let p = Popen::spawn(&mut child(&["write", "1000000"])).unwrap();
    let err = within(HANG, move || {
        p.communicate_io(io::empty(), Failing(1000), io::sink(), None)
            .unwrap_err()
    });
    let Error::Sink { stream, source } = err else {
        panic!("{err:?}");
    };
    assert_eq!(stream, Stream::Stdout);
    assert_eq!(source.kind(), io::ErrorKind::WriteZero);
}

#[test]
fn the_wrapper_as_a_filter_stalls_instead_of_hanging_when_nobody_reads() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let mut w = ProcessIoWrapper::new(p);
    let err = within(HANG, move || {
        let mut input = Pattern::new(8 << 20);
        io::copy(&mut input, &mut w).unwrap_err()
    });
    assert_eq!(err.kind(), io::ErrorKind::Deadlock, "{err}");
    assert!(err.to_string().contains("stdout"), "{err}");
}

#[test]
fn arrival_order_survives_searches_line_reads_and_put_back_bytes() {
    let order = |p: &Popen| -> Vec<(Stream, Vec<u8>)> { p.events().map(Result::unwrap).collect() };
    let spawn = || {
        let p = Popen::spawn(&mut child(&["order", "50"])).unwrap();
        // Every byte has arrived before the calls below.
        assert!(p.wait().unwrap().success());
        p
    };
    let (out, err) = (Stream::Stdout, Stream::Stderr);

    let p = spawn();
    assert!(p.expect(b"zzz", HANG).unwrap_err().is_eof());
    assert_eq!(
        order(&p),
        [
            (out, b"a".to_vec()),
            (err, b"E\n".to_vec()),
            (out, b"b\nc\n".to_vec())
        ]
    );

    let p = spawn();
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"ab\n");
    assert_eq!(order(&p), [(err, b"E\n".to_vec()), (out, b"c\n".to_vec())]);

    let mut w = ProcessIoWrapper::new(spawn());
    let mut one = [0u8; 1];
    w.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"a");
    let mut two = [0u8; 1];
    w.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"b");
    let p = w.into_inner();
    assert_eq!(
        order(&p),
        [(err, b"E\n".to_vec()), (out, b"\nc\n".to_vec())]
    );
}

#[test]
fn after_a_kill_at_the_deadline_what_was_written_is_kept_without_waiting_for_a_grandchild() {
    // The child prints "spawned" and exits, leaving a grandchild holding the pipes for 30 s.
    let p = Popen::spawn(&mut child(&["grandchild", "30000"])).unwrap();
    let out = within(Duration::from_secs(20), move || {
        let err = p
            .communicate(b"", Some(Duration::from_millis(300)))
            .unwrap_err();
        assert!(err.is_timeout());
        // The recipe in `communicate`'s docs.
        p.kill().unwrap();
        let status = p.wait().unwrap();
        let stdout = p
            .asyncread(Duration::from_millis(100))
            .unwrap()
            .unwrap_or_default();
        (status, stdout)
    });
    assert_eq!(out.1, b"spawned\n");
}

/// Waits, without reading, until a `KeepTail` stderr has taken in all `total` bytes the
/// child wrote: the reader thread may still be moving the last ones when the child exits.
fn settle(p: &Popen, total: usize, keep: usize) {
    while p.dropped(Stream::Stderr) + p.buffered(Stream::Stderr) as u64 != total as u64 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(p.buffered(Stream::Stderr), keep);
}

/// The test child's pattern as a reader, generated as it is read.
struct Pattern {
    pos: usize,
    len: usize,
}

impl Pattern {
    fn new(len: usize) -> Pattern {
        Pattern { pos: 0, len }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.len - self.pos);
        let block = block();
        let mut done = 0;
        while done < n {
            let at = (self.pos + done) % 251;
            let take = (n - done).min(block.len() - at);
            buf[done..done + take].copy_from_slice(&block[at..at + take]);
            done += take;
        }
        self.pos += n;
        Ok(n)
    }
}

/// A reader that pauses before each read.
struct Slow(Pattern);

impl Read for Slow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(Duration::from_millis(5));
        let n = buf.len().min(16 * 1024);
        self.0.read(&mut buf[..n])
    }
}

/// 251 * 263 bytes of the pattern: any slice of up to 64 KiB at any phase is in it.
fn block() -> &'static [u8] {
    static BLOCK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLOCK.get_or_init(|| pattern(251 * 263))
}

/// A writer that checks it is given the pattern, byte for byte, without keeping it.
#[derive(Default)]
struct Checker {
    len: usize,
    wrong: usize,
}

impl Write for Checker {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let block = block();
        for piece in data.chunks(64 * 1024) {
            let at = self.len % 251;
            if piece != &block[at..at + piece.len()] {
                self.wrong += 1;
            }
            self.len += piece.len();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that takes `n` bytes, then fails.
struct Failing(usize);

impl Write for Failing {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let n = data.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_wait_on_stdout_learns_of_the_stall_when_the_thread_reading_stderr_gives_up() {
    // One stderr "line" of 200,000 bytes, then a stdout line: with a 64 KiB bound, the
    // thread reading stderr lines stalls on its own stream and leaves; the thread waiting on
    // stdout must then hear that stderr blocks the child, not wait for ever.
    let p = Options::new()
        .output_capacity(64 * 1024)
        .spawn(&mut child(&["err-lines-then-line", "1", "200000"]))
        .unwrap();
    let (out_err, err_err) = within(HANG, move || {
        std::thread::scope(|s| {
            let err = s.spawn(|| p.stderr().unwrap().recv_line().unwrap_err());
            let out = p.stdout().unwrap().recv().unwrap_err();
            (out, err.join().unwrap())
        })
    });
    assert!(
        matches!(
            err_err,
            Error::Stalled {
                stream: Stream::Stderr,
                ..
            }
        ),
        "{err_err:?}"
    );
    assert!(
        matches!(
            out_err,
            Error::Stalled {
                stream: Stream::Stderr,
                ..
            }
        ),
        "{out_err:?}"
    );
}

#[test]
fn concurrent_recv_exact_calls_each_keep_the_bound_they_need() {
    let total = 300_000;
    let p = Options::new()
        .output_capacity(64 * 1024)
        .spawn(&mut child(&["write", &total.to_string()]))
        .unwrap();
    let (a, b) = within(HANG, move || {
        let stdout = p.stdout().unwrap();
        std::thread::scope(|s| {
            let a = s.spawn(|| stdout.recv_exact(100_000).unwrap().unwrap());
            let b = s.spawn(|| stdout.recv_exact(200_000).unwrap().unwrap());
            (a.join().unwrap(), b.join().unwrap())
        })
    });
    assert_eq!((a.len(), b.len()), (100_000, 200_000));
    let whole = pattern(total);
    let (first, second) = if a[..] == whole[..100_000] {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!([first, second].concat(), whole, "each byte once, in order");
}
