//! `ProcessIoWrapper`: the child as a file, like a `TcpStream` with timeouts.

mod common;

use std::io::{self, BufRead, Read, Write};
use std::time::Duration;

use common::{child, pattern, HANG};
use procpump::{Options, Popen, ProcessIoWrapper};

fn wrapper(args: &[&str]) -> ProcessIoWrapper {
    let mut w = ProcessIoWrapper::new(Popen::spawn(&mut child(args)).unwrap());
    w.set_read_timeout(Some(HANG));
    w.set_write_timeout(Some(HANG));
    w
}

#[test]
fn read_to_end_returns_all_stdout() {
    let mut w = wrapper(&["write", "1000003"]);
    let mut all = Vec::new();
    w.read_to_end(&mut all).unwrap();
    assert!(all == pattern(1_000_003));
    assert_eq!(w.read(&mut [0u8; 10]).unwrap(), 0, "EOF is Ok(0)");
}

#[test]
fn write_then_read_lines_through_bufread() {
    let mut w = wrapper(&["prompt"]);
    let mut prompt = [0u8; 2];
    w.read_exact(&mut prompt).unwrap();
    assert_eq!(&prompt, b"> ");
    writeln!(w, "hello").unwrap();
    w.flush().unwrap();
    let mut line = String::new();
    w.read_line(&mut line).unwrap();
    assert_eq!(line, "got hello\n");
    w.get_ref().close_stdin();
    let mut rest = String::new();
    w.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "> ");
}

#[test]
fn read_timeout_is_timed_out_and_loses_nothing() {
    let mut w = wrapper(&["echo"]);
    w.set_read_timeout(Some(Duration::from_millis(30)));
    let err = w.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    w.set_read_timeout(Some(Duration::ZERO));
    assert_eq!(
        w.read(&mut [0u8; 8]).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
    w.write_all(b"abcdef").unwrap();
    w.set_read_timeout(Some(HANG));
    let mut buf = [0u8; 6];
    w.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abcdef");
}

#[test]
fn write_timeout_is_timed_out_when_the_child_does_not_read() {
    let popen = Options::new()
        .input_capacity(4096)
        .spawn(&mut child(&["sleep", "60000"]))
        .unwrap();
    let mut w = ProcessIoWrapper::new(popen);
    w.set_write_timeout(Some(Duration::from_millis(50)));
    let big = vec![0u8; 16 << 20];
    let err = w.write_all(&big).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    w.get_ref().kill().unwrap();
}

#[test]
fn write_after_close_is_broken_pipe() {
    let mut w = wrapper(&["echo"]);
    w.get_ref().close_stdin();
    assert_eq!(w.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn io_copy_moves_megabytes_both_ways() {
    let n = 3 << 20;
    let mut w = wrapper(&["count"]);
    let mut src = io::Cursor::new(pattern(n));
    io::copy(&mut src, &mut w).unwrap();
    w.flush().unwrap();
    w.get_ref().close_stdin();
    let mut out = String::new();
    w.read_to_string(&mut out).unwrap();
    assert_eq!(out, format!("{n} pattern\n"));
}

#[test]
fn into_inner_gives_buffered_bytes_back_to_the_popen() {
    let mut w = wrapper(&["print", "line one\nline two"]);
    let mut line = String::new();
    w.read_line(&mut line).unwrap();
    assert_eq!(line, "line one\n");
    let p = w.into_inner();
    let rest = p.asyncread(Duration::MAX).unwrap().unwrap();
    assert_eq!(rest, b"line two", "the partial last line is kept");
}

#[test]
fn lines_iterates_a_streaming_child() {
    let w = wrapper(&["lines", "5", "1"]);
    let lines: Vec<String> = w.lines().map(|l| l.unwrap()).collect();
    assert_eq!(lines, ["line 0", "line 1", "line 2", "line 3", "line 4"]);
}

#[test]
fn a_shared_wrapper_reads_on_one_thread_while_another_writes() {
    let w = wrapper(&["echo"]);
    let n = 1 << 20;
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut got = Vec::new();
            (&w).read_to_end(&mut got).unwrap();
            got
        });
        let data = pattern(n);
        (&w).write_all(&data).unwrap();
        (&w).flush().unwrap();
        w.get_ref().close_stdin();
        assert!(reader.join().unwrap() == data);
    });
}
