//! Bad input and odd timing: every public call with edge arguments (0, usize::MAX,
//! Duration::ZERO, Duration::MAX, empty slices), in every state (running, after close_stdin,
//! after EOF, after wait, after kill). Each gets a defined result or a typed error — never a
//! panic or a hang.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{child, within, HANG};
use procpump::{Error, Options, Popen, ProcessIoWrapper, Stream};

const ZERO: Duration = Duration::ZERO;
const MAX: Duration = Duration::MAX;

fn closed_or<T>(result: Result<T, Error>, ok: impl FnOnce(T) -> bool) -> bool {
    match result {
        Ok(v) => ok(v),
        Err(e) => e.is_stdin_closed(),
    }
}

/// Every call with edge arguments; `ended` says the child's output has reached EOF, so calls
/// that wait for output may be given `Duration::MAX`. The deprecated `_from` aliases are
/// exercised too: they must keep working.
#[allow(deprecated)]
fn exercise(p: &Popen, ended: bool) {
    for maxsize in [0, 1, usize::MAX] {
        for s in [Stream::Stdout, Stream::Stderr] {
            let got = p.recv_from(s, maxsize).unwrap();
            assert!(got.is_none_or(|g| g.len() <= maxsize));
        }
    }
    let waits: &[Duration] = if ended { &[ZERO, MAX] } else { &[ZERO] };
    for &t in waits {
        for s in [Stream::Stdout, Stream::Stderr] {
            p.recv_timeout(s, t).unwrap();
            p.asyncread_from(s, t).unwrap();
            let e = p.expect_from(s, b"never printed", t).unwrap_err();
            assert!(e.is_timeout() || e.is_eof(), "{e:?}");
            assert!(p.read_line_from(s, t).is_ok() || t == ZERO);
        }
        assert_eq!(p.expect(b"", t).unwrap(), b"");
        match p.recv_any(t) {
            Ok(_) => {}
            Err(e) => assert!(e.is_timeout(), "{e:?}"),
        }
    }
    assert!(closed_or(p.send(b""), |n| n == 0));
    assert!(closed_or(p.send(&[1u8; 300_000]), |n| n <= 300_000));
    assert!(closed_or(p.asyncwrite(b"", MAX), |n| n == 0));
    assert!(closed_or(p.asyncwrite(b"x", ZERO), |n| n <= 1));
    assert!(closed_or(p.flush_stdin(ZERO), |_| true));
    p.try_wait().unwrap();
    p.wait_timeout(ZERO).unwrap();
    match p.communicate(b"", Some(ZERO)) {
        Ok(_) => {}
        Err(e) => assert!(e.is_timeout(), "{e:?}"),
    }
    assert!(p.pid() > 0);
}

#[test]
fn every_call_in_every_state_has_a_defined_result() {
    within(HANG * 2, || {
        // Running, stdin open.
        let p = Popen::spawn(&mut child(&["echo-both"])).unwrap();
        exercise(&p, false);
        // After close_stdin (the echo child then ends: EOF follows).
        p.close_stdin();
        p.close_stdin();
        exercise(&p, false);
        // After EOF and exit.
        p.communicate(b"", Some(HANG)).unwrap();
        exercise(&p, true);
        p.wait().unwrap();
        exercise(&p, true);
        // After kill, twice, and a wait.
        let p = Popen::spawn(&mut child(&["echo-both"])).unwrap();
        p.kill().unwrap();
        p.kill().unwrap();
        p.wait().unwrap();
        exercise(&p, true);
        assert!(p.communicate(b"", Some(MAX)).is_ok());
        assert!(matches!(
            p.communicate(b"more", None),
            Err(Error::StdinClosed)
        ));
    });
}

#[test]
fn the_wrapper_takes_edge_arguments_too() {
    within(HANG, || {
        let mut w = ProcessIoWrapper::new(Popen::spawn(&mut child(&["echo"])).unwrap());
        w.set_read_timeout(Some(ZERO));
        w.set_write_timeout(Some(ZERO));
        assert_eq!(w.read(&mut []).unwrap(), 0);
        assert_eq!(w.write(b"").unwrap(), 0);
        let _ = w.flush();
        assert_eq!(
            w.read(&mut [0u8; 8]).unwrap_err().kind(),
            std::io::ErrorKind::TimedOut
        );
        w.set_read_timeout(Some(MAX));
        w.set_write_timeout(Some(MAX));
        w.write_all(b"abc").unwrap();
        w.flush().unwrap();
        w.get_ref().close_stdin();
        let mut all = Vec::new();
        w.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abc");
        assert_eq!(w.read(&mut [0u8; 8]).unwrap(), 0, "EOF stays EOF");
        assert_eq!(
            w.write(b"x").unwrap_err().kind(),
            std::io::ErrorKind::BrokenPipe
        );
        assert_eq!(w.expect(b"", ZERO).unwrap(), b"");
        assert_eq!(w.read_line_timeout(MAX).unwrap(), None);
        let p = w.into_inner();
        assert_eq!(p.recv(usize::MAX).unwrap(), None);
    });
}

#[test]
fn extreme_options_are_rejected_or_work() {
    for bad in [
        Options::new().chunk_size(usize::MAX).clone(),
        Options::new()
            .chunk_size(procpump::MAX_CHUNK_SIZE + 1)
            .clone(),
        Options::new().chunk_size(0).clone(),
    ] {
        let err = bad.spawn(&mut child(&["exit", "0"])).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)));
    }
    // Huge capacities are legal: the slot count is capped, nothing is allocated up front.
    let p = Options::new()
        .output_capacity(usize::MAX)
        .input_capacity(usize::MAX)
        .chunk_size(procpump::MAX_CHUNK_SIZE)
        .spawn(&mut child(&["echo"]))
        .unwrap();
    let out = within(HANG, move || {
        p.communicate(&[5u8; 100_000], Some(HANG)).unwrap()
    });
    assert_eq!(out.stdout, vec![5u8; 100_000]);
}
