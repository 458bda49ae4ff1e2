//! Memory stays bounded (Linux, read from /proc): expect against a flood with no match, and
//! 256 MiB streamed both ways through a child. One test function, so nothing else runs in
//! this process while the peak is measured.

#![cfg(target_os = "linux")]

mod common;

use std::io::{self, Read, Write};
use std::time::Duration;

use common::{child, within, HANG};
use procpump::{Error, Popen, Stream};

const MIB: usize = 1 << 20;

fn status_kib(name: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// How far the process's resident set rose above where it was while `f` ran, in bytes.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    // "5" resets the peak (VmHWM) to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    let value = f();
    let peak = status_kib("VmHWM:");
    (value, peak.saturating_sub(before) * 1024)
}

#[test]
fn memory_stays_within_the_bounds() {
    expect_against_a_flood_holds_the_bound_plus_a_little();
    communicate_io_streams_256_mib_both_ways_in_constant_memory();
}

fn expect_against_a_flood_holds_the_bound_plus_a_little() {
    let p = Popen::spawn(&mut child(&["flood"])).unwrap();
    let (err, growth) = peak_growth(|| within(HANG, move || p.expect(b"PROMPT> ", HANG)));
    assert!(
        matches!(
            err,
            Err(Error::Stalled {
                stream: Stream::Stdout,
                ..
            })
        ),
        "{err:?}"
    );
    let limit = procpump::DEFAULT_OUTPUT_CAPACITY + 8 * MIB;
    assert!(growth <= limit, "expect grew RSS by {growth} bytes");
    println!(
        "expect against a flood: peak RSS growth {} KiB",
        growth / 1024
    );
}

fn communicate_io_streams_256_mib_both_ways_in_constant_memory() {
    let size = 256 * MIB;
    let p = Popen::spawn(&mut child(&["echo-flood-err", &size.to_string()])).unwrap();
    let ((status, out, err), growth) = peak_growth(|| {
        within(Duration::from_secs(600), move || {
            let (mut out, mut err) = (Count(0), Count(0));
            let input = Repeat(size);
            let status = p.communicate_io(input, &mut out, &mut err, None).unwrap();
            (status, out.0, err.0)
        })
    });
    assert!(status.success());
    assert_eq!((out, err), (size, size));
    // Two bounds of 1 MiB, the copy buffer, the stdin queue: far below this.
    assert!(
        growth <= 8 * MIB,
        "256 MiB through the child grew RSS by {growth} bytes"
    );
    println!(
        "communicate_io, 2 x 256 MiB: peak RSS growth {} KiB",
        growth / 1024
    );
}

/// `n` bytes of `x`, generated as read.
struct Repeat(usize);

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.0);
        buf[..n].fill(b'x');
        self.0 -= n;
        Ok(n)
    }
}

/// Counts what is written and keeps nothing.
struct Count(usize);

impl Write for Count {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0 += data.len();
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
