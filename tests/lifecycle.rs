//! Drop, threads and sharing: drop never blocks, `Popen` is `Send + Sync`, many children at once.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{child, pattern, within, HANG};
use procpump::{Events, Options, Popen, ProcessIoWrapper, Stream};

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Popen>();
    check::<ProcessIoWrapper>();
    check::<Options>();
    check::<procpump::Error>();
    check::<Events<'static>>();
}

#[test]
fn drop_returns_at_once_whatever_the_child_does() {
    for args in [
        &["flood"][..],
        &["sleep", "60000"],
        &["grandchild", "30000"],
        &["echo"],
    ] {
        let p = Popen::spawn(&mut child(args)).unwrap();
        p.send(&[0u8; 1000]).unwrap();
        within(Duration::from_secs(10), move || drop(p));
    }
}

#[test]
fn a_flooding_child_is_not_left_blocked_after_drop() {
    // With the Popen gone, the reader closes the pipe: the child gets a broken pipe and ends.
    let p = Options::new()
        .kill_on_drop(false)
        .spawn(&mut child(&["flood"]))
        .unwrap();
    let _ = p.recv_timeout(Stream::Stdout, HANG).unwrap();
    let pid = p.pid();
    drop(p);
    assert!(pid > 0);
    #[cfg(target_os = "linux")]
    {
        // The reaper thread collects it: no zombie is left behind.
        let start = Instant::now();
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                start.elapsed() < HANG,
                "child {pid} was neither ended nor reaped"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn one_popen_shared_by_threads_reading_writing_and_waiting() {
    let n = 2 << 20;
    let p = Arc::new(Popen::spawn(&mut child(&["echo"])).unwrap());
    let writer = {
        let p = Arc::clone(&p);
        thread::spawn(move || {
            let data = pattern(n);
            for piece in data.chunks(10_007) {
                assert_eq!(p.asyncwrite(piece, HANG).unwrap(), piece.len());
            }
            p.close_stdin();
        })
    };
    let waiter = {
        let p = Arc::clone(&p);
        thread::spawn(move || p.wait().unwrap())
    };
    let mut got = Vec::new();
    let start = Instant::now();
    while let Some(bytes) = p.asyncread(Duration::from_millis(20)).unwrap() {
        got.extend(bytes);
        assert!(start.elapsed() < HANG, "hang");
    }
    writer.join().unwrap();
    assert!(waiter.join().unwrap().success());
    assert!(got == pattern(n));
}

#[test]
fn many_concurrent_children() {
    let kids: Vec<Popen> = (0..50)
        .map(|_| Popen::spawn(&mut child(&["echo-both"])).unwrap())
        .collect();
    for (i, p) in kids.iter().enumerate() {
        p.send(format!("child {i}\n").as_bytes()).unwrap();
        p.close_stdin();
    }
    for (i, p) in kids.iter().enumerate() {
        let out = p.communicate(b"", Some(HANG)).unwrap();
        let expect = format!("child {i}\n");
        assert_eq!(out.stdout, expect.as_bytes());
        assert_eq!(out.stderr, expect.as_bytes());
    }
}

#[test]
fn recv_any_returns_both_streams_in_arrival_order() {
    // The child writes o0, e0, o1, e1, ... with pauses, so arrival order is unambiguous.
    let p = Popen::spawn(&mut child(&["interleave-slow", "4", "100"])).unwrap();
    let mut events = Vec::new();
    while let Some((stream, bytes)) = p.recv_any(HANG).unwrap() {
        events.push((stream, String::from_utf8(bytes).unwrap()));
    }
    let expect: Vec<(Stream, String)> = (0..4)
        .flat_map(|i| {
            [
                (Stream::Stdout, format!("o{i}\n")),
                (Stream::Stderr, format!("e{i}\n")),
            ]
        })
        .collect();
    assert_eq!(events, expect);
}

#[test]
fn events_iterates_until_both_streams_end() {
    let n = 1 << 20;
    let p = Popen::spawn(&mut child(&["write-both", &n.to_string()])).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for event in p.events() {
        match event.unwrap() {
            (Stream::Stdout, bytes) => out.extend(bytes),
            (Stream::Stderr, bytes) => err.extend(bytes),
        }
    }
    assert!(out == pattern(n) && err == pattern(n));
    assert!(p.recv_any(Duration::ZERO).unwrap().is_none());
}

#[test]
fn recv_any_times_out_with_a_typed_error() {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    let err = p.recv_any(Duration::from_millis(20)).unwrap_err();
    assert!(err.is_timeout());
    assert!(p.recv_any(Duration::ZERO).unwrap_err().is_timeout());
    p.close_stdin();
    assert!(p.recv_any(Duration::MAX).unwrap().is_none());
}

/// User + system CPU time of this process, in clock ticks (1/100 s on Linux).
#[cfg(target_os = "linux")]
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn waiting_on_a_silent_child_does_not_spin() {
    let p = Popen::spawn(&mut child(&["sleep", "20000"])).unwrap();
    let before = cpu_ticks();
    assert_eq!(
        p.recv_timeout(Stream::Stdout, Duration::from_millis(700))
            .unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        p.asyncread(Duration::from_millis(700)).unwrap(),
        Some(Vec::new())
    );
    assert_eq!(p.wait_timeout(Duration::from_millis(700)).unwrap(), None);
    let stdout = p.stdout().unwrap();
    assert!(stdout
        .recv_line_timeout(Duration::from_millis(700))
        .unwrap_err()
        .is_timeout());
    // communicate closes stdin, then waits for EOF: closing once must not wake it for ever.
    assert!(p
        .communicate(b"", Some(Duration::from_millis(700)))
        .unwrap_err()
        .is_timeout());
    let (out, err) = (std::io::sink(), std::io::sink());
    let t = Some(Duration::from_millis(700));
    assert!(p
        .communicate_io(std::io::empty(), out, err, t)
        .unwrap_err()
        .is_timeout());
    let used = cpu_ticks() - before;
    // A spinning wait burns about 420 ticks here; a quiet one rounds to 0 or 1.
    assert!(
        used < 40,
        "waiting 4.2 s used {used} ticks of CPU: something spins"
    );
    p.kill().unwrap();
}
