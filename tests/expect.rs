//! Expect-style helpers: patterns split across chunks, patterns that never come, EOF first.

mod common;

use std::time::Duration;

use common::{child, HANG};
use procpump::{Error, Options, Popen, ProcessIoWrapper, Stream};

#[test]
fn expect_finds_a_prompt_split_across_chunks_and_keeps_the_rest() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    for piece in [&b"hello wor"[..], b"ld\nre", b"ady", b"> after"] {
        p.send(piece).unwrap();
        assert!(p.flush_stdin(HANG).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = p.expect(b"ready> ", HANG).unwrap();
    assert_eq!(got, b"hello world\nready> ");
    p.close_stdin();
    assert_eq!(p.asyncread(Duration::MAX).unwrap().unwrap(), b"after");
}

#[test]
fn expect_times_out_without_losing_bytes() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.send(b"no prompt here").unwrap();
    let err = p.expect(b"$ ", Duration::from_millis(100)).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let err = p.expect(b"$ ", Duration::ZERO).unwrap_err();
    assert!(err.is_timeout());
    p.send(b" $ tail").unwrap();
    assert_eq!(p.expect(b"$ ", HANG).unwrap(), b"no prompt here $ ");
    assert_eq!(p.expect(b"tail", HANG).unwrap(), b"tail");
}

#[test]
fn expect_reports_eof_before_the_pattern_and_keeps_the_bytes() {
    let p = Popen::spawn(&mut child(&["print", "partial output"])).unwrap();
    let err = p.expect(b"never", HANG).unwrap_err();
    assert!(matches!(err, Error::UnexpectedEof { stream: "stdout" }));
    assert!(err.is_eof());
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    assert_eq!(p.recv(usize::MAX).unwrap().unwrap(), b"partial output");
    assert_eq!(p.recv(usize::MAX).unwrap(), None);
}

#[test]
fn expect_finds_a_pattern_after_megabytes_of_output_within_its_bound() {
    let p = Options::new()
        .output_capacity(4 << 20)
        .spawn(&mut child(&["echo"]))
        .unwrap();
    let mut data = vec![b'.'; 3 << 20];
    data.extend_from_slice(b"END");
    // A second thread feeds the child while this one searches its output: written from
    // one thread alone, the echo would fill both pipes and stall.
    let got = std::thread::scope(|scope| {
        scope.spawn(|| assert_eq!(p.asyncwrite(&data, HANG).unwrap(), data.len()));
        p.expect(b"END", HANG).unwrap()
    });
    assert_eq!(got.len(), data.len());
}

#[test]
fn empty_pattern_matches_at_once() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    assert_eq!(p.expect(b"", Duration::ZERO).unwrap(), b"");
}

#[test]
fn read_line_returns_lines_then_the_partial_last_line_then_none() {
    let p = Popen::spawn(&mut child(&["print", "one\ntwo\nthree"])).unwrap();
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"one\n");
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"two\n");
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"three");
    assert_eq!(p.read_line(HANG).unwrap(), None);
}

#[test]
fn read_line_times_out_on_a_half_line() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.send(b"half").unwrap();
    assert!(p
        .read_line(Duration::from_millis(50))
        .unwrap_err()
        .is_timeout());
    p.send(b" line\n").unwrap();
    assert_eq!(p.read_line(HANG).unwrap().unwrap(), b"half line\n");
}

#[test]
#[allow(deprecated)] // the 0.1 `_from` aliases keep working
fn expect_and_read_line_work_on_stderr_too() {
    let p = Popen::spawn(&mut child(&["echo-both"])).unwrap();
    p.send(b"a\nb> ").unwrap();
    assert_eq!(
        p.read_line_from(Stream::Stderr, HANG).unwrap().unwrap(),
        b"a\n"
    );
    assert_eq!(p.expect_from(Stream::Stderr, b"> ", HANG).unwrap(), b"b> ");
    assert_eq!(p.expect(b"> ", HANG).unwrap(), b"a\nb> ");
}

#[test]
fn wrapper_expect_uses_the_bytes_it_had_buffered() {
    use std::io::BufRead;
    let mut w = ProcessIoWrapper::new(Popen::spawn(&mut child(&["prompt"])).unwrap());
    w.set_read_timeout(Some(HANG));
    // fill_buf pulls "> " into the wrapper's own buffer; expect must still see it.
    assert_eq!(w.fill_buf().unwrap(), b"> ");
    assert_eq!(w.expect(b"> ", HANG).unwrap(), b"> ");
    std::io::Write::write_all(&mut w, b"x\n").unwrap();
    assert_eq!(w.read_line_timeout(HANG).unwrap().unwrap(), b"got x\n");
    assert!(
        w.expect(b"never", Duration::from_millis(30))
            .unwrap_err()
            .kind()
            == std::io::ErrorKind::TimedOut
    );
}
