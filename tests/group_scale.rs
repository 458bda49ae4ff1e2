//! `Group` at scale (Linux, read from /proc): 1,000 silent children cost no CPU while the
//! group waits, at most two pump threads each while they run and none once they ended, and
//! no zombie after the group is dropped. Under Wine the portable tests in group.rs run
//! instead (its wineserver fails beyond about 200 processes at once).
#![cfg(target_os = "linux")]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{child, zombies, HANG};
use procpump::{EventKind, Group};

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// CPU time (ns) used so far by every thread of this process but the calling one.
fn others_cpu_ns() -> u64 {
    let me = std::fs::read_link("/proc/thread-self").unwrap();
    let me = me.file_name().unwrap().to_owned();
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != me)
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time (ns) used so far by the calling thread.
fn my_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

const SILENT: usize = 1000;

/// One test, so that no other test's threads or children blur the process-wide counts.
#[test]
fn a_thousand_silent_children_cost_no_cpu_while_waited_on_and_leave_nothing_behind() {
    let baseline_threads = threads();
    let group = Group::new();
    for _ in 0..SILENT {
        group
            .spawn(child(&["sleep", "600000"]).stdin(Stdio::null()))
            .unwrap();
    }
    let running_threads = threads() - baseline_threads;
    assert!(
        running_threads <= 2 * SILENT,
        "{running_threads} threads for {SILENT} members"
    );
    // Let the readers settle into their blocking reads, then wait on the group for 2 s.
    let _ = group.next_event(Duration::from_millis(300));
    let others = others_cpu_ns();
    // A thread's running slice is added to its schedstat when it is switched out: sleep once
    // so that the reading above is not charged to the window below.
    std::thread::sleep(Duration::from_millis(20));
    let (mine, start) = (my_cpu_ns(), Instant::now());
    let err = group.next_event(Duration::from_secs(2)).unwrap_err();
    let (mine, waited) = (my_cpu_ns() - mine, start.elapsed());
    let others = others_cpu_ns() - others;
    assert!(err.is_timeout());
    let per_second_ms = (mine + others) as f64 / 1e6 / waited.as_secs_f64();
    eprintln!(
        "{SILENT} silent members: {per_second_ms:.3} ms CPU per second waited \
         (waiting thread {:.3} ms, pump threads {:.3} ms, over {waited:?})",
        mine as f64 / 1e6,
        others as f64 / 1e6
    );
    // The budget is 0.25 ms per second (see `cargo bench -- group_idle`); this bound only
    // catches a spinning or polling wait, which costs hundreds of milliseconds per second.
    assert!(
        per_second_ms < 5.0,
        "{per_second_ms:.3} ms CPU per second waited"
    );

    group.kill_all().unwrap();
    let mut exits = 0;
    let start = Instant::now();
    while let Some(e) = group.next_event(HANG).unwrap() {
        if let EventKind::Exit(status) = e.kind {
            assert!(!status.success());
            exits += 1;
        }
        assert!(start.elapsed() < HANG * 2, "hang");
    }
    assert_eq!(exits, SILENT);
    // Every member ended: its pump threads are gone, and no child is left unreaped.
    let start = Instant::now();
    while threads() > baseline_threads || zombies() > 0 {
        assert!(
            start.elapsed() < HANG,
            "{} threads over the baseline, {} zombies",
            threads() - baseline_threads,
            zombies()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Dropping a group of running members (here in the same test: the thread and zombie
    // counts above are process-wide) returns at once and leaves no zombie.
    let group = Group::new();
    for _ in 0..50 {
        group.spawn(&mut child(&["sleep", "200"])).unwrap();
    }
    let start = Instant::now();
    drop(group);
    assert!(start.elapsed() < HANG, "drop blocked");
    // The members exit on their own 200 ms later; the reapers take them.
    std::thread::sleep(Duration::from_millis(400));
    let start = Instant::now();
    while zombies() > 0 {
        assert!(start.elapsed() < HANG, "{} zombies", zombies());
        std::thread::sleep(Duration::from_millis(50));
    }
}
