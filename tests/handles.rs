//! The per-stream handles: every operation in its four forms (`try_`, plain, `_timeout`,
//! `_deadline`) on stdout, stderr and stdin; one convention for timeouts (`Err(Timeout)`),
//! EOF (`Ok(None)`) and "nothing yet" (`Ok(Some(empty))`); no call holds a stream while it
//! sleeps.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{child, pattern, within, HANG};
use procpump::{Error, InputHandle, Options, OutputHandle, Popen, Stream};

const SHORT: Duration = Duration::from_millis(20);

fn handle(p: &Popen, s: Stream) -> &OutputHandle {
    match s {
        Stream::Stdout => p.stdout().unwrap(),
        Stream::Stderr => p.stderr().unwrap(),
    }
}

/// A child that copies its stdin to both stdout and stderr.
fn mirror() -> Popen {
    Popen::spawn(&mut child(&["echo-both"])).unwrap()
}

fn soon() -> Instant {
    Instant::now() + HANG
}

fn timed_out(result: procpump::Result<impl std::fmt::Debug>, operation: &str) {
    match result {
        Err(Error::Timeout { operation: op, .. }) => assert_eq!(op, operation),
        other => panic!("{operation}: expected a timeout, got {other:?}"),
    }
}

#[test]
fn captured_streams_have_handles_and_others_do_not() {
    let p = Options::new()
        .merge_stderr(true)
        .stdin(procpump::Capture::Null)
        .spawn(&mut child(&["exit", "0"]))
        .unwrap();
    assert!(p.stdout().is_some());
    assert!(p.stderr().is_none(), "merged into stdout");
    assert!(p.stdin().is_none());
    assert_eq!(p.stdout().unwrap().stream(), Stream::Stdout);
}

#[test]
fn recv_in_all_four_forms_on_both_streams() {
    for s in [Stream::Stdout, Stream::Stderr] {
        let p = mirror();
        let (stdin, h) = (p.stdin().unwrap(), handle(&p, s));
        assert_eq!(h.try_recv().unwrap(), Some(Vec::new()), "nothing yet");
        timed_out(h.recv_timeout(SHORT), "recv_timeout");
        timed_out(h.recv_deadline(Instant::now()), "recv_deadline");
        stdin.send(b"one").unwrap();
        assert_eq!(h.recv().unwrap().unwrap(), b"one");
        stdin.send(b"two").unwrap();
        assert_eq!(h.recv_timeout(HANG).unwrap().unwrap(), b"two");
        stdin.send(b"three").unwrap();
        assert_eq!(h.recv_deadline(soon()).unwrap().unwrap(), b"three");
        stdin.send(b"four").unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            got.extend(h.try_recv().unwrap().unwrap());
        }
        assert_eq!(got, b"four");
        stdin.close();
        assert_eq!(h.recv().unwrap(), None, "EOF");
        assert_eq!(h.try_recv().unwrap(), None);
        assert_eq!(h.recv_timeout(SHORT).unwrap(), None);
        assert_eq!(h.recv_deadline(Instant::now()).unwrap(), None);
    }
}

#[test]
fn recv_into_and_recv_slice_in_all_four_forms() {
    for s in [Stream::Stdout, Stream::Stderr] {
        let p = mirror();
        let (stdin, h) = (p.stdin().unwrap(), handle(&p, s));
        let mut v = b">".to_vec();
        assert_eq!(h.try_recv_into(&mut v).unwrap(), Some(0));
        timed_out(h.recv_into_timeout(&mut v, SHORT), "recv_into_timeout");
        timed_out(
            h.recv_into_deadline(&mut v, Instant::now()),
            "recv_into_deadline",
        );
        stdin.send(b"abc").unwrap();
        assert_eq!(h.recv_into(&mut v).unwrap(), Some(3));
        stdin.send(b"de").unwrap();
        assert_eq!(h.recv_into_timeout(&mut v, HANG).unwrap(), Some(2));
        stdin.send(b"f").unwrap();
        assert_eq!(h.recv_into_deadline(&mut v, soon()).unwrap(), Some(1));
        assert_eq!(v, b">abcdef", "appended");

        let mut buf = [0u8; 4];
        assert_eq!(h.try_recv_slice(&mut buf).unwrap(), Some(0));
        assert_eq!(
            h.recv_slice(&mut []).unwrap(),
            Some(0),
            "an empty slice returns at once"
        );
        timed_out(h.recv_slice_timeout(&mut buf, SHORT), "recv_slice_timeout");
        timed_out(
            h.recv_slice_deadline(&mut buf, Instant::now()),
            "recv_slice_deadline",
        );
        stdin.send(b"0123456789").unwrap();
        assert_eq!(h.recv_exact(10).unwrap().unwrap(), b"0123456789");
        stdin.send(b"0123456789").unwrap();
        while h.buffered() < 10 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(h.recv_slice(&mut buf).unwrap(), Some(4));
        assert_eq!(&buf, b"0123", "cut: the rest stays buffered");
        assert_eq!(h.recv_slice_timeout(&mut buf, HANG).unwrap(), Some(4));
        assert_eq!(&buf, b"4567");
        assert_eq!(h.recv_slice_deadline(&mut buf, soon()).unwrap(), Some(2));
        assert_eq!(&buf[..2], b"89");
        stdin.close();
        assert_eq!(h.recv_into(&mut v).unwrap(), None);
        assert_eq!(h.try_recv_slice(&mut buf).unwrap(), None);
    }
}

#[test]
fn recv_line_in_all_four_forms() {
    for s in [Stream::Stdout, Stream::Stderr] {
        let p = mirror();
        let (stdin, h) = (p.stdin().unwrap(), handle(&p, s));
        stdin.send(b"partial").unwrap();
        timed_out(h.recv_line_timeout(SHORT), "recv_line_timeout");
        timed_out(h.recv_line_deadline(Instant::now()), "recv_line_deadline");
        assert_eq!(
            h.try_recv_line().unwrap(),
            Some(Vec::new()),
            "no whole line yet"
        );
        stdin.send(b" one\r\ntwo\nthree\nfour\nlast").unwrap();
        assert_eq!(
            h.recv_line().unwrap().unwrap(),
            b"partial one\r\n",
            "\\r\\n kept raw"
        );
        assert_eq!(h.recv_line_timeout(HANG).unwrap().unwrap(), b"two\n");
        assert_eq!(h.recv_line_deadline(soon()).unwrap().unwrap(), b"three\n");
        assert_eq!(h.try_recv_line().unwrap().unwrap(), b"four\n");
        stdin.close();
        assert_eq!(
            h.recv_line().unwrap().unwrap(),
            b"last",
            "the last line as it is"
        );
        assert_eq!(h.recv_line().unwrap(), None);
        assert_eq!(h.try_recv_line().unwrap(), None);
    }
}

#[test]
fn expect_in_all_four_forms() {
    for s in [Stream::Stdout, Stream::Stderr] {
        let p = mirror();
        let (stdin, h) = (p.stdin().unwrap(), handle(&p, s));
        stdin.send(b"boot...\nready").unwrap();
        timed_out(h.expect_timeout(b"> ", SHORT), "expect_timeout");
        timed_out(h.expect_deadline(b"> ", Instant::now()), "expect_deadline");
        assert_eq!(h.try_expect(b"> ").unwrap(), Some(Vec::new()));
        stdin.send(b"> a> b> c> tail").unwrap();
        assert_eq!(h.expect(b"> ").unwrap().unwrap(), b"boot...\nready> ");
        assert_eq!(h.expect_timeout(b"> ", HANG).unwrap().unwrap(), b"a> ");
        assert_eq!(h.expect_deadline(b"> ", soon()).unwrap().unwrap(), b"b> ");
        assert_eq!(h.try_expect(b"> ").unwrap().unwrap(), b"c> ");
        assert_eq!(
            h.expect(b"").unwrap().unwrap(),
            b"",
            "an empty pattern matches at once"
        );
        stdin.close();
        assert_eq!(h.expect(b"> ").unwrap(), None, "EOF first");
        assert_eq!(
            h.recv().unwrap().unwrap(),
            b"tail",
            "what arrived stays buffered"
        );
    }
}

#[test]
fn recv_exact_in_all_four_forms_across_chunks_with_a_timeout_midway() {
    for s in [Stream::Stdout, Stream::Stderr] {
        let p = mirror();
        let (stdin, h) = (p.stdin().unwrap(), handle(&p, s));
        stdin.send(b"abc").unwrap();
        timed_out(
            h.recv_exact_timeout(6, Duration::from_millis(100)),
            "recv_exact_timeout",
        );
        timed_out(
            h.recv_exact_deadline(6, Instant::now()),
            "recv_exact_deadline",
        );
        assert_eq!(h.try_recv_exact(6).unwrap(), Some(Vec::new()));
        // Each send is its own read: the six bytes span chunks, and the timeout lost none.
        stdin.send(b"de").unwrap();
        stdin.send(b"fghij").unwrap();
        assert_eq!(h.recv_exact(6).unwrap().unwrap(), b"abcdef");
        assert_eq!(h.recv_exact_timeout(2, HANG).unwrap().unwrap(), b"gh");
        assert_eq!(h.recv_exact_deadline(1, soon()).unwrap().unwrap(), b"i");
        assert_eq!(h.recv_exact(0).unwrap().unwrap(), b"");
        stdin.close();
        let err = h.recv_exact(2).unwrap_err();
        assert!(err.is_eof(), "{err:?}");
        assert_eq!(
            h.try_recv_exact(1).unwrap().unwrap(),
            b"j",
            "the short tail stays buffered"
        );
        assert_eq!(h.recv_exact(1).unwrap(), None);
    }
}

#[test]
fn recv_exact_may_ask_for_more_than_the_bound() {
    let p = Options::new()
        .output_capacity(1000)
        .spawn(&mut child(&["write", "100000"]))
        .unwrap();
    let got = within(HANG, move || {
        p.stdout().unwrap().recv_exact(100_000).unwrap()
    });
    assert_eq!(got.unwrap(), pattern(100_000));
}

#[test]
fn stdin_in_all_its_forms() {
    let p = Popen::spawn(&mut child(&["count"])).unwrap();
    let stdin = p.stdin().unwrap();
    assert!(!stdin.is_closed());
    let block = pattern(1000);
    assert_eq!(stdin.try_send(&block[..100]).unwrap(), 100);
    stdin.send(&block[100..300]).unwrap();
    stdin.send_timeout(&block[300..600], HANG).unwrap();
    stdin.send_deadline(&block[600..], soon()).unwrap();
    stdin.flush().unwrap();
    assert!(stdin.try_flush().unwrap());
    stdin.flush_timeout(HANG).unwrap();
    stdin.flush_deadline(soon()).unwrap();
    let mut w: &InputHandle = stdin;
    w.write_all(&pattern(2000)[1000..]).unwrap();
    w.flush().unwrap();
    stdin.close();
    assert!(stdin.is_closed());
    assert!(matches!(stdin.try_send(b"x"), Err(Error::StdinClosed)));
    assert!(matches!(stdin.send(b"x"), Err(Error::StdinClosed)));
    let out = p.communicate(b"", Some(HANG)).unwrap();
    assert_eq!(out.stdout, b"2000 pattern\n");
}

#[test]
fn send_timeout_queues_all_of_a_message_or_none_of_it() {
    // The child sleeps before reading: the pipe and the queue fill, and stay full a while.
    let p = Popen::spawn(&mut child(&["count-after", "3000"])).unwrap();
    let stdin = p.stdin().unwrap();
    let mut queued = 0;
    // Filled twice: the writer takes what is queued into its write, then blocks in it.
    for _ in 0..2 {
        loop {
            let n = stdin.try_send(&[b'q'; 4096]).unwrap();
            if n == 0 {
                break;
            }
            queued += n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    timed_out(stdin.send_timeout(&[b'x'; 100], SHORT), "send_timeout");
    timed_out(
        stdin.send_deadline(&[b'x'; 100], Instant::now()),
        "send_deadline",
    );
    timed_out(stdin.flush_timeout(SHORT), "flush_timeout");
    assert!(!stdin.try_flush().unwrap());
    stdin.close();
    let out = within(HANG, move || p.communicate(b"", None).unwrap());
    // Every byte try_send took, and none of the messages that timed out.
    assert_eq!(out.stdout, format!("{queued} other\n").as_bytes());
}

#[test]
fn one_deadline_serves_a_whole_exchange_and_max_waits_for_ever() {
    let p = Popen::spawn(&mut child(&["prompt"])).unwrap();
    let (stdin, stdout) = (p.stdin().unwrap(), p.stdout().unwrap());
    let deadline = soon();
    assert_eq!(
        stdout.expect_deadline(b"> ", deadline).unwrap().unwrap(),
        b"> "
    );
    stdin.send_deadline(b"hi\n", deadline).unwrap();
    assert_eq!(
        stdout.recv_line_deadline(deadline).unwrap().unwrap(),
        b"got hi\n"
    );
    stdin.send_timeout(b"there\n", Duration::MAX).unwrap();
    assert_eq!(
        stdout
            .expect_timeout(b"> ", Duration::MAX)
            .unwrap()
            .unwrap(),
        b"> "
    );
    assert_eq!(
        stdout.recv_line_timeout(Duration::MAX).unwrap().unwrap(),
        b"got there\n"
    );
    // A deadline in the past still looks once: data that is there is returned.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        stdout.recv_deadline(Instant::now()).unwrap().unwrap(),
        b"> "
    );
    stdin.close();
    assert!(p.wait_deadline(soon()).unwrap().unwrap().success());
}

#[test]
fn a_parked_reader_does_not_make_the_stream_look_empty() {
    let p = mirror();
    let stdout = p.stdout().unwrap();
    let stdin = p.stdin().unwrap();
    std::thread::scope(|scope| {
        // One thread waits for a whole line, holding nothing while it waits.
        let waiter = scope.spawn(|| stdout.recv_line_timeout(HANG).unwrap().unwrap());
        std::thread::sleep(Duration::from_millis(50));
        stdin.send(b"abc").unwrap();
        // Another takes the bytes that are there: it does not get "empty" because the
        // first is parked.
        let mut got = Vec::new();
        while got.len() < 3 {
            got.extend(stdout.recv_timeout(HANG).unwrap().unwrap());
        }
        assert_eq!(got, b"abc");
        stdin.send(b"d\n").unwrap();
        assert_eq!(waiter.join().unwrap(), b"d\n", "each byte exactly once");
    });
}

#[test]
fn recv_any_answers_from_stdout_while_another_thread_waits_on_stderr() {
    let p = Popen::spawn(&mut child(&["lines", "1", "0"])).unwrap();
    std::thread::scope(|scope| {
        let parked = scope.spawn(|| p.stderr().unwrap().recv_line_timeout(HANG));
        std::thread::sleep(Duration::from_millis(50));
        let (stream, bytes) = p.recv_any(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!((stream, bytes), (Stream::Stdout, b"line 0\n".to_vec()));
        assert_eq!(parked.join().unwrap().unwrap(), None, "stderr ended empty");
    });
}

#[test]
fn read_for_both_output_handles_and_write_for_stdin() {
    let p = Popen::spawn(&mut child(&["write-both", "300000"])).unwrap();
    let (mut out, mut err) = (p.stdout().unwrap(), p.stderr().unwrap());
    let (mut o, mut e) = (Vec::new(), Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| err.read_to_end(&mut e).unwrap());
        out.read_to_end(&mut o).unwrap();
    });
    assert_eq!(o, pattern(300_000));
    assert_eq!(e, pattern(300_000));

    let p = Popen::spawn(&mut child(&["count"])).unwrap();
    let mut stdin = p.stdin().unwrap();
    std::io::copy(&mut &pattern(500_000)[..], &mut stdin).unwrap();
    stdin.close();
    assert_eq!(
        p.communicate(b"", Some(HANG)).unwrap().stdout,
        b"500000 pattern\n"
    );
}

#[test]
fn events_deadline_ends_with_one_timeout_and_loses_nothing() {
    let p = Popen::spawn(&mut child(&["lines", "3", "300"])).unwrap();
    let deadline = Instant::now() + Duration::from_millis(150);
    let items: Vec<_> = p.events_deadline(deadline).collect();
    let (last, got) = items.split_last().unwrap();
    assert!(last.as_ref().unwrap_err().is_timeout());
    assert_eq!(got.len(), 1, "{items:?}");
    // The rest comes later, none of it lost.
    let rest: Vec<u8> = p.events().flat_map(|e| e.unwrap().1).collect();
    assert_eq!(rest, b"line 1\nline 2\n");
    assert!(p.recv_any_deadline(Instant::now()).unwrap().is_none());
}
