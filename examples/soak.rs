//! A soak test: children churn on several threads for `PROCPUMP_STRESS_SECONDS` (default 600)
//! while this process samples its RSS, threads and descriptors every second (Linux: /proc),
//! and fails if they grow. Run it with `bash ci/soak.sh` (or `cargo run --release --example
//! soak`); CI runs a short version.

use std::io::{self, Read, Write};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use procpump::{Options, Stream};

const WORKERS: usize = 6;

fn child_main() -> io::Result<()> {
    // Echo stdin to stdout and stderr.
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = io::stdin().read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        io::stdout().write_all(&buf[..n])?;
        io::stdout().flush()?;
        io::stderr().write_all(&buf[..n])?;
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rss_kib: u64,
    threads: u64,
    fds: u64,
}

fn sample() -> Option<Sample> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(Sample {
        rss_kib: field("VmRSS:")?,
        threads: field("Threads:")?,
        fds: std::fs::read_dir("/proc/self/fd").ok()?.count() as u64,
    })
}

/// One churn cycle; returns the bytes it moved.
fn cycle(me: &std::path::Path, i: u64) -> Result<u64, procpump::Error> {
    let mut cmd = Command::new(me);
    cmd.arg("--child");
    let p = Options::new()
        .kill_on_drop(i.is_multiple_of(7))
        .spawn(&mut cmd)?;
    let data = vec![(i % 251) as u8; (i as usize * 7919) % (512 * 1024)];
    Ok(match i % 5 {
        0 | 1 => {
            let out = p.communicate(&data, Some(Duration::from_secs(60)))?;
            assert_eq!(out.stdout, data, "echo differs");
            2 * data.len() as u64
        }
        2 => {
            p.send(&data)?; // and drop it with stdin open
            0
        }
        3 => {
            p.send(&data[..data.len().min(1000)])?;
            let _ = p.recv_timeout(Stream::Stdout, Duration::from_millis(5))?;
            p.kill()?;
            p.wait()?;
            0
        }
        _ => {
            // PEP 3145 style: non-blocking sends interleaved with reads of both streams. (An
            // asyncwrite of all of it first would wait out its timeout once the echo filled
            // both output channels: the caller's deadlock, which this crate cannot undo.)
            let (mut sent, mut n) = (0, 0);
            loop {
                if sent < data.len() {
                    sent += p.send(&data[sent..])?;
                    if sent == data.len() {
                        p.close_stdin();
                    }
                } else {
                    p.close_stdin();
                }
                match p.recv_any(Duration::from_millis(10)) {
                    Ok(Some((_, bytes))) => n += bytes.len(),
                    Ok(None) => break,
                    Err(e) if e.is_timeout() => {}
                    Err(e) => return Err(e),
                }
            }
            assert_eq!(n, 2 * data.len(), "recv_any lost bytes");
            n as u64
        }
    })
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--child") {
        return child_main().map_or(ExitCode::FAILURE, |()| ExitCode::SUCCESS);
    }
    let seconds: u64 = std::env::var("PROCPUMP_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let me = std::env::current_exe().expect("current_exe");
    let stop = Arc::new(AtomicBool::new(false));
    let (cycles, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..WORKERS as u64)
        .map(|w| {
            let (me, stop, cycles, bytes) = (
                me.clone(),
                Arc::clone(&stop),
                Arc::clone(&cycles),
                Arc::clone(&bytes),
            );
            thread::spawn(move || {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    bytes.fetch_add(cycle(&me, i).expect("cycle failed"), Ordering::Relaxed);
                    cycles.fetch_add(1, Ordering::Relaxed);
                    i += WORKERS as u64;
                }
            })
        })
        .collect();

    let start = Instant::now();
    let mut samples = Vec::new();
    println!("  time  cycles      MiB moved   RSS KiB  threads  fds");
    while start.elapsed() < Duration::from_secs(seconds) {
        thread::sleep(Duration::from_secs(1));
        let Some(s) = sample() else {
            println!("no /proc here: churning without sampling");
            continue;
        };
        samples.push(s);
        let t = start.elapsed().as_secs();
        if t <= 5 || t.is_multiple_of(10) {
            println!(
                "{t:>5}s {:>7} {:>14.1} {:>9} {:>8} {:>4}",
                cycles.load(Ordering::Relaxed),
                bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
                s.rss_kib,
                s.threads,
                s.fds
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker panicked");
    }
    println!(
        "{} cycles, {:.1} MiB moved in {} s",
        cycles.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
        seconds
    );
    verdict(&samples)
}

/// Compares the last fifth of the run with the first fifth (after a warm-up second).
fn verdict(samples: &[Sample]) -> ExitCode {
    if samples.len() < 10 {
        println!("too few samples to judge growth");
        return ExitCode::SUCCESS;
    }
    let fifth = samples.len() / 5;
    let max = |s: &[Sample], f: fn(&Sample) -> u64| s.iter().map(f).max().unwrap_or(0);
    let (early, late) = (&samples[1..1 + fifth], &samples[samples.len() - fifth..]);
    let checks = [
        (
            "RSS KiB",
            max(early, |s| s.rss_kib),
            max(late, |s| s.rss_kib),
            16 * 1024,
        ),
        (
            "threads",
            max(early, |s| s.threads),
            max(late, |s| s.threads),
            4 * WORKERS as u64,
        ),
        (
            "fds",
            max(early, |s| s.fds),
            max(late, |s| s.fds),
            6 * WORKERS as u64,
        ),
    ];
    let mut ok = true;
    for (what, early, late, slack) in checks {
        let grew = late > early + slack;
        println!(
            "{what:>8}: early max {early}, late max {late}{}",
            if grew { "  <-- GROWTH" } else { "" }
        );
        ok &= !grew;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
