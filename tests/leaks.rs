//! Leaks (Linux, read from /proc): after many spawn / communicate / drop cycles and many
//! failed spawns, threads, descriptors and zombie children are back to their baseline and RSS
//! does not grow. One test function, so nothing else runs in this process meanwhile.
//!
//! `PROCPUMP_STRESS_CYCLES` sets the number of cycles (default 1000).

#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{child, zombies, HANG};
use procpump::{Options, Popen};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Usage {
    threads: usize,
    fds: usize,
    zombies: usize,
    rss_kib: usize,
}

fn status_field(name: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn usage() -> Usage {
    Usage {
        threads: status_field("Threads:"),
        fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
        zombies: zombies(),
        rss_kib: status_field("VmRSS:"),
    }
}

/// Waits for pump and reaper threads to wind down, then samples.
fn settled(baseline: Usage) -> Usage {
    let start = Instant::now();
    loop {
        let now = usage();
        let back = now.threads <= baseline.threads
            && now.fds <= baseline.fds
            && now.zombies <= baseline.zombies;
        if back || start.elapsed() > HANG {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_thread_descriptor_zombie_or_memory_leak_after_many_cycles() {
    let cycles: usize = std::env::var("PROCPUMP_STRESS_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    // Warm up allocators and std's lazy statics, so the baseline is a fair one.
    for _ in 0..20 {
        Popen::spawn(&mut child(&["echo"]))
            .unwrap()
            .communicate(b"warm", Some(HANG))
            .unwrap();
    }
    let baseline = settled(usage());

    for i in 0..cycles {
        let p = Popen::spawn(&mut child(&["echo-both"])).unwrap();
        match i % 4 {
            // The common case: an exchange to the end.
            0 => assert_eq!(p.communicate(b"ping", Some(HANG)).unwrap().stdout, b"ping"),
            // Dropped while running, with stdin open.
            1 => drop(p),
            // Killed, then dropped without a wait.
            2 => p.kill().unwrap(),
            // Waited for with output left unread.
            _ => {
                p.send(b"unread").unwrap();
                p.close_stdin();
                p.wait().unwrap();
            }
        }
    }
    let after_cycles = settled(baseline);
    for _ in 0..cycles {
        let err = Options::new()
            .spawn(&mut std::process::Command::new("procpump-no-such-program"))
            .unwrap_err();
        assert!(matches!(err, procpump::Error::Spawn { .. }));
    }
    let after_failures = settled(baseline);

    eprintln!("baseline {baseline:?}\nafter {cycles} cycles {after_cycles:?}\nafter {cycles} failed spawns {after_failures:?}");
    for (what, now) in [("cycles", after_cycles), ("failed spawns", after_failures)] {
        assert!(
            now.threads <= baseline.threads,
            "threads leaked by {what}: {now:?} vs {baseline:?}"
        );
        assert!(
            now.fds <= baseline.fds,
            "descriptors leaked by {what}: {now:?} vs {baseline:?}"
        );
        assert_eq!(now.zombies, 0, "zombies left by {what}");
        // Allocator caches move a little; a leak of even 1 KiB per cycle would show as 1 MiB.
        assert!(
            now.rss_kib <= baseline.rss_kib + 1024,
            "RSS grew by {what}: {} KiB -> {} KiB",
            baseline.rss_kib,
            now.rss_kib
        );
    }
}
