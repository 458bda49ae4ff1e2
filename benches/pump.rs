//! procpump against the fastest straightforward std code for the same job, in the same
//! process, alternating runs: reads into one reused 64 KiB buffer (a thread per stream for
//! both), `write_all` from one reused buffer, blocking `write_all` + `read_exact` round trips.
//!
//! `fanout` consumes 200 children's lines with one `Group` against a thread per child.
//!
//! `cargo bench` runs everything; `cargo bench -- rtt spawn` runs the workloads whose names
//! contain `rtt` or `spawn`. Pin it to one CPU for repeatable figures: `taskset -c 1 cargo bench`. The child is
//! `procpump-test-child`, built by this crate. Idle CPU and memory are read from /proc (Linux);
//! elsewhere those rows say so.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use procpump::{Capture, EventKind, Group, Options, OutputHandle, Popen, ProcessIoWrapper, Stream};

const MIB: usize = 1 << 20;

fn child(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_procpump-test-child"));
    cmd.args(args);
    cmd
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `baseline` and each variant `rounds` times, alternating, and returns the medians.
fn alternate(rounds: usize, baseline: &dyn Fn() -> f64, variants: &[&dyn Fn() -> f64]) -> Vec<f64> {
    let mut samples = vec![Vec::new(); variants.len() + 1];
    for _ in 0..rounds {
        samples[0].push(baseline());
        for (i, v) in variants.iter().enumerate() {
            samples[i + 1].push(v());
        }
    }
    samples.into_iter().map(median).collect()
}

struct Row {
    workload: &'static str,
    variant: &'static str,
    value: String,
    baseline: String,
    ratio: String,
    target: &'static str,
}

fn rate_rows(
    workload: &'static str,
    names: &[&'static str],
    mibs: &[f64],
    target: &'static str,
) -> Vec<Row> {
    names
        .iter()
        .zip(&mibs[1..])
        .map(|(name, v)| Row {
            workload,
            variant: name,
            value: format!("{v:.0} MiB/s"),
            baseline: format!("{:.0} MiB/s", mibs[0]),
            ratio: format!("{:.2}x", v / mibs[0]),
            target,
        })
        .collect()
}

fn mib_per_s(bytes: usize, start: Instant) -> f64 {
    bytes as f64 / MIB as f64 / start.elapsed().as_secs_f64()
}

/// The read buffer of the strong baselines, as a user who wants speed would write them.
const BUF: usize = 64 * 1024;

/// Reads `r` to its end into one reused buffer, counting: the fastest straightforward std code.
fn count_to_end(mut r: impl Read) -> usize {
    let mut buf = vec![0u8; BUF];
    let mut total = 0;
    loop {
        match r.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

/// Receives a stream to its end in chunks, counting.
fn recv_to_end(h: &OutputHandle) -> usize {
    let mut total = 0;
    while let Some(chunk) = h.recv().unwrap() {
        total += chunk.len();
    }
    total
}

/// Receives a stream to its end into one reused buffer, counting.
fn recv_slices_to_end(h: &OutputHandle) -> usize {
    let mut buf = vec![0u8; BUF];
    let mut total = 0;
    while let Some(n) = h.recv_slice(&mut buf).unwrap() {
        total += n;
    }
    total
}

// ---- 1. bulk: 256 MiB from stdout ----

fn bulk() -> Vec<Row> {
    let n = 256 * MIB;
    let arg = n.to_string();
    let std_read = || {
        let start = Instant::now();
        let mut c = child(&["write", &arg])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(count_to_end(c.stdout.take().unwrap()), n);
        c.wait().unwrap();
        mib_per_s(n, start)
    };
    let recv_loop = || {
        let start = Instant::now();
        let p = Popen::spawn(&mut child(&["write", &arg])).unwrap();
        assert_eq!(recv_to_end(p.stdout().unwrap()), n);
        p.wait().unwrap();
        mib_per_s(n, start)
    };
    let recv_slice = || {
        let start = Instant::now();
        let p = Popen::spawn(&mut child(&["write", &arg])).unwrap();
        assert_eq!(recv_slices_to_end(p.stdout().unwrap()), n);
        p.wait().unwrap();
        mib_per_s(n, start)
    };
    let wrapper = || {
        let start = Instant::now();
        let w = ProcessIoWrapper::new(Popen::spawn(&mut child(&["write", &arg])).unwrap());
        assert_eq!(count_to_end(&w), n);
        w.get_ref().wait().unwrap();
        mib_per_s(n, start)
    };
    let m = alternate(5, &std_read, &[&recv_loop, &recv_slice, &wrapper]);
    rate_rows(
        "bulk 256 MiB",
        &[
            "stdout().recv() chunks",
            "stdout().recv_slice() 64 KiB reused",
            "wrapper read 64 KiB reused",
        ],
        &m,
        ">= 0.90",
    )
}

// ---- 2. both: 64 MiB on each stream ----

fn both() -> Vec<Row> {
    let n = 64 * MIB;
    let arg = n.to_string();
    let std_both = || {
        let start = Instant::now();
        let mut c = child(&["write-both", &arg])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = c.stderr.take().unwrap();
        let t = thread::spawn(move || count_to_end(err));
        let out = count_to_end(c.stdout.take().unwrap());
        assert_eq!(out + t.join().unwrap(), 2 * n);
        c.wait().unwrap();
        mib_per_s(2 * n, start)
    };
    let events = || {
        let start = Instant::now();
        let p = Popen::spawn(&mut child(&["write-both", &arg])).unwrap();
        let total: usize = p.events().map(|e| e.unwrap().1.len()).sum();
        assert_eq!(total, 2 * n);
        p.wait().unwrap();
        mib_per_s(2 * n, start)
    };
    let two_threads = || {
        let start = Instant::now();
        let p = Popen::spawn(&mut child(&["write-both", &arg])).unwrap();
        let total = thread::scope(|s| {
            let err = s.spawn(|| recv_slices_to_end(p.stderr().unwrap()));
            recv_slices_to_end(p.stdout().unwrap()) + err.join().unwrap()
        });
        assert_eq!(total, 2 * n);
        p.wait().unwrap();
        mib_per_s(2 * n, start)
    };
    let m = alternate(5, &std_both, &[&events, &two_threads]);
    rate_rows(
        "both 2 x 64 MiB",
        &["events (one thread)", "recv_slice, a thread per stream"],
        &m,
        ">= 0.95",
    )
}

// ---- 3. rtt: 64-byte round trips through an echo child ----

fn rtt() -> Vec<Row> {
    const TRIPS: usize = 10_000;
    let msg = [b'r'; 64];
    let std_rtt = || {
        let mut c = child(&["echo"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (mut tx, mut rx) = (c.stdin.take().unwrap(), c.stdout.take().unwrap());
        let mut buf = [0u8; 64];
        let mut times = Vec::with_capacity(TRIPS);
        for _ in 0..TRIPS {
            let t = Instant::now();
            tx.write_all(&msg).unwrap();
            rx.read_exact(&mut buf).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        drop(tx);
        c.wait().unwrap();
        median(times)
    };
    let handles = || {
        let p = Popen::spawn(&mut child(&["echo"])).unwrap();
        let (stdin, stdout) = (p.stdin().unwrap(), p.stdout().unwrap());
        let mut times = Vec::with_capacity(TRIPS);
        for _ in 0..TRIPS {
            let t = Instant::now();
            stdin.send(&msg).unwrap();
            assert_eq!(stdout.recv_exact(64).unwrap().unwrap().len(), 64);
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        stdin.close();
        p.wait().unwrap();
        median(times)
    };
    let send_recv = || {
        let p = Popen::spawn(&mut child(&["echo"])).unwrap();
        let mut times = Vec::with_capacity(TRIPS);
        for _ in 0..TRIPS {
            let t = Instant::now();
            assert_eq!(p.send(&msg).unwrap(), 64);
            let mut got = 0;
            while got < 64 {
                got += p
                    .recv_timeout(Stream::Stdout, Duration::from_secs(10))
                    .unwrap()
                    .unwrap()
                    .len();
            }
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        p.close_stdin();
        p.wait().unwrap();
        median(times)
    };
    let wrapper = || {
        let mut w = ProcessIoWrapper::new(Popen::spawn(&mut child(&["echo"])).unwrap());
        let mut buf = [0u8; 64];
        let mut times = Vec::with_capacity(TRIPS);
        for _ in 0..TRIPS {
            let t = Instant::now();
            w.write_all(&msg).unwrap();
            w.read_exact(&mut buf).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        w.get_ref().close_stdin();
        w.get_ref().wait().unwrap();
        median(times)
    };
    let m = alternate(3, &std_rtt, &[&handles, &send_recv, &wrapper]);
    [
        "stdin().send + stdout().recv_exact",
        "PEP send + recv_timeout",
        "wrapper write + read",
    ]
    .iter()
    .zip(&m[1..])
    .map(|(name, v)| Row {
        workload: "rtt 64 B x 10k (median)",
        variant: name,
        value: format!("{v:.1} us"),
        baseline: format!("{:.1} us", m[0]),
        ratio: format!("{:.2}x", v / m[0]),
        target: "<= 2.5x",
    })
    .collect()
}

// ---- 4. spawn: a child that exits at once, 300 times ----

fn spawn() -> Vec<Row> {
    const RUNS: usize = 300;
    let std_output = || {
        let start = Instant::now();
        for _ in 0..RUNS {
            let out = child(&["exit", "0"]).output().unwrap();
            assert!(out.status.success());
        }
        start.elapsed().as_secs_f64() * 1e3
    };
    let communicate = || {
        let start = Instant::now();
        for _ in 0..RUNS {
            let p = Popen::spawn(&mut child(&["exit", "0"])).unwrap();
            assert!(p.communicate(b"", None).unwrap().status.success());
        }
        start.elapsed().as_secs_f64() * 1e3
    };
    let m = alternate(3, &std_output, &[&communicate]);
    vec![Row {
        workload: "spawn + communicate x 300",
        variant: "Popen::spawn + communicate",
        value: format!("{:.0} ms", m[1]),
        baseline: format!("{:.0} ms", m[0]),
        ratio: format!("{:.2}x", m[1] / m[0]),
        target: "<= 1.10x",
    }]
}

// ---- 5. stdin: 256 MiB to a child that discards it ----

fn stdin() -> Vec<Row> {
    let n = 256 * MIB;
    let data = vec![b's'; MIB];
    let std_write = || {
        let start = Instant::now();
        let mut c = child(&["discard"]).stdin(Stdio::piped()).spawn().unwrap();
        let mut tx = c.stdin.take().unwrap();
        for _ in 0..n / data.len() {
            tx.write_all(&data).unwrap();
        }
        drop(tx);
        c.wait().unwrap();
        mib_per_s(n, start)
    };
    let asyncwrite = || {
        let start = Instant::now();
        let p = Popen::spawn(&mut child(&["discard"])).unwrap();
        for _ in 0..n / data.len() {
            assert_eq!(p.asyncwrite(&data, Duration::MAX).unwrap(), data.len());
        }
        p.close_stdin();
        p.wait().unwrap();
        mib_per_s(n, start)
    };
    let send = || {
        let start = Instant::now();
        let p = Popen::spawn(&mut child(&["discard"])).unwrap();
        let stdin = p.stdin().unwrap();
        for _ in 0..n / data.len() {
            stdin.send(&data).unwrap();
        }
        stdin.close();
        p.wait().unwrap();
        mib_per_s(n, start)
    };
    let wrapper = || {
        let start = Instant::now();
        let mut w = ProcessIoWrapper::new(Popen::spawn(&mut child(&["discard"])).unwrap());
        for _ in 0..n / data.len() {
            w.write_all(&data).unwrap();
        }
        w.get_ref().close_stdin();
        w.get_ref().wait().unwrap();
        mib_per_s(n, start)
    };
    let m = alternate(5, &std_write, &[&asyncwrite, &send, &wrapper]);
    rate_rows(
        "stdin 256 MiB",
        &["asyncwrite", "stdin().send", "wrapper write_all"],
        &m,
        ">= 0.90",
    )
}

// ---- 6. idle: CPU spent while waiting on a silent child ----

/// CPU time (ns) of every thread of this process but the calling one (Linux, schedstat).
fn others_cpu_ns() -> Option<u64> {
    let me = std::fs::read_link("/proc/thread-self").ok()?;
    let me = me.file_name()?.to_owned();
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread that ended since the listing has no schedstat any more: skip it.
        if task.file_name() == me {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// CPU time (ns) of the calling thread.
fn my_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// CPU milliseconds per second of wall time that `f` costs this process. Reading other
/// threads' figures costs CPU too (much, with thousands of threads): it is kept out of the
/// window, and a short sleep makes the kernel book it before the window starts.
fn cpu_ms_per_s(f: impl FnOnce()) -> Option<f64> {
    let others = others_cpu_ns()?;
    thread::sleep(Duration::from_millis(20));
    let (mine, start) = (my_cpu_ns()?, Instant::now());
    f();
    let (mine, elapsed) = (my_cpu_ns()?.saturating_sub(mine), start.elapsed());
    // A thread that ended meanwhile takes its time with it: never below zero.
    let others = others_cpu_ns()?.saturating_sub(others);
    Some((mine + others) as f64 / 1e6 / elapsed.as_secs_f64())
}

fn idle() -> Vec<Row> {
    // (name, what procpump does, std's baseline, how long the child sleeps in ms): a child
    // that outlives the 1 s timed waits, so that they measure waiting and not its exit.
    type Case<'a> = (&'static str, &'a dyn Fn(&Popen), &'a dyn Fn(), &'static str);
    let sleep: &dyn Fn() = &|| thread::sleep(Duration::from_secs(1));
    let std_wait: &dyn Fn() = &|| {
        let mut c = child(&["sleep", "1000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.wait().unwrap();
    };
    let cases: [Case; 3] = [
        (
            "recv_timeout 1 s (std: thread::sleep)",
            &|p| {
                p.recv_timeout(Stream::Stdout, Duration::from_secs(1))
                    .unwrap();
            },
            sleep,
            "5000",
        ),
        (
            "asyncread 1 s (std: thread::sleep)",
            &|p| {
                p.asyncread(Duration::from_secs(1)).unwrap();
            },
            sleep,
            "5000",
        ),
        (
            "wait, child sleeps 1 s (std: Child::wait)",
            &|p| {
                p.wait().unwrap();
            },
            std_wait,
            "1000",
        ),
    ];
    let show = |v: Option<f64>| v.map_or("needs /proc".to_string(), |v| format!("{v:.3} ms/s"));
    // The median of three: a VM's wake-ups after a long sleep vary a lot from one to the next.
    let median_of = |v: Vec<Option<f64>>| -> Option<f64> {
        v.into_iter().collect::<Option<Vec<_>>>().map(median)
    };
    cases
        .into_iter()
        .map(|(name, f, baseline, child_ms)| {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for round in 0..3 {
                // Pump threads left idle by earlier work end 1 s after their last pipe: a
                // one-time cost, not one per second waited; let them go first.
                thread::sleep(Duration::from_millis(1200));
                // Whichever runs first after the pause wakes a cold CPU: take turns.
                if round == 1 {
                    theirs.push(cpu_ms_per_s(baseline));
                }
                let p = Popen::spawn(&mut child(&["sleep", child_ms])).unwrap();
                // Let the pump threads start and block first: their start-up is not waiting.
                thread::sleep(Duration::from_millis(50));
                ours.push(cpu_ms_per_s(|| f(&p)));
                let _ = p.kill();
                drop(p);
                if round != 1 {
                    theirs.push(cpu_ms_per_s(baseline));
                }
            }
            let (ours, theirs) = (median_of(ours), median_of(theirs));
            Row {
                workload: "idle CPU",
                variant: name,
                value: show(ours),
                baseline: show(theirs),
                ratio: "-".into(),
                target: "< 0.25 ms/s",
            }
        })
        .collect()
}

// ---- 7. fanout: many children's lines consumed as they come ----

const FANOUT_CHILDREN: usize = 200;
const FANOUT_LINES: usize = 2000;

/// CPU time of the whole process so far, threads that ended included (Linux, /proc/self/stat,
/// in clock ticks of 10 ms: summed over several rounds).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}

fn fanout_command() -> Command {
    let mut c = child(&["lines", &FANOUT_LINES.to_string(), "0"]);
    c.stdin(Stdio::null()).stderr(Stdio::null());
    c
}

/// std: a thread per child reading its lines with `BufRead::read_line`, then reaping it.
fn fanout_std() -> usize {
    let threads: Vec<_> = (0..FANOUT_CHILDREN)
        .map(|_| {
            let mut c = fanout_command().stdout(Stdio::piped()).spawn().unwrap();
            thread::spawn(move || {
                use std::io::BufRead;
                let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
                let (mut line, mut n) = (String::new(), 0);
                while out.read_line(&mut line).unwrap() > 0 {
                    n += 1;
                    line.clear();
                }
                assert!(c.wait().unwrap().success());
                n
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// procpump: one thread, a `Group` in line mode.
fn fanout_group() -> usize {
    let group = Group::new();
    let mut options = Options::new();
    options
        .lines(true)
        .stdin(Capture::Null)
        .stderr(Capture::Null);
    for _ in 0..FANOUT_CHILDREN {
        group.spawn_with(&options, &mut fanout_command()).unwrap();
    }
    let mut n = 0;
    while let Some(e) = group.next_event(Duration::from_secs(60)).unwrap() {
        match e.kind {
            EventKind::Output(_, line) => {
                assert_eq!(line.last(), Some(&b'\n'));
                n += 1;
            }
            EventKind::Exit(status) => assert!(status.success()),
            _ => {}
        }
    }
    n
}

fn fanout() -> Vec<Row> {
    const ROUNDS: usize = 5;
    let total = FANOUT_CHILDREN * FANOUT_LINES;
    let (mut wall, mut cpu) = ([Vec::new(), Vec::new()], [0.0, 0.0]);
    for _ in 0..ROUNDS {
        for (i, run) in [fanout_std as fn() -> usize, fanout_group]
            .iter()
            .enumerate()
        {
            let (c0, t0) = (process_cpu_ms(), Instant::now());
            assert_eq!(run(), total);
            wall[i].push(t0.elapsed().as_secs_f64());
            cpu[i] += process_cpu_ms().zip(c0).map_or(f64::NAN, |(b, a)| b - a);
        }
    }
    let [std_wall, group_wall] = wall.map(median);
    let [std_cpu, group_cpu] = cpu.map(|c| c / ROUNDS as f64);
    let show_cpu = |ms: f64| {
        if ms.is_nan() {
            "needs /proc".into()
        } else {
            format!("{:.3} s", ms / 1e3)
        }
    };
    vec![
        Row {
            workload: "fanout 200 x 2,000 lines",
            variant: "parent CPU, Group on one thread (std: a thread per child)",
            value: show_cpu(group_cpu),
            baseline: show_cpu(std_cpu),
            ratio: format!("{:.2}x", group_cpu / std_cpu),
            target: "<= 1.0x",
        },
        Row {
            workload: "fanout 200 x 2,000 lines",
            variant: "wall time",
            value: format!("{group_wall:.3} s"),
            baseline: format!("{std_wall:.3} s"),
            ratio: format!("{:.2}x", group_wall / std_wall),
            target: "<= 1.2x",
        },
    ]
}

/// Group::next_event while 1,000 silent children run: 21 s, so that one sweep for exits
/// (every 20 s at 1,000 members) is included.
fn group_idle() -> Vec<Row> {
    // As in `idle`: pump threads left idle by earlier workloads end first.
    thread::sleep(Duration::from_millis(1200));
    let group = Group::new();
    let mut options = Options::new();
    options.stdin(Capture::Null);
    for _ in 0..1000 {
        group
            .spawn_with(&options, &mut child(&["sleep", "600000"]))
            .unwrap();
    }
    let _ = group.next_event(Duration::from_millis(500));
    let ours = cpu_ms_per_s(|| {
        let _ = group.next_event(Duration::from_secs(21));
    });
    group.kill_all().unwrap();
    while group.next_event(Duration::from_secs(60)).unwrap().is_some() {}
    vec![Row {
        workload: "idle CPU",
        variant: "Group::next_event 21 s, 1,000 silent children (one sweep for exits)",
        value: ours.map_or("needs /proc".to_string(), |v| format!("{v:.3} ms/s")),
        baseline: "-".into(),
        ratio: "-".into(),
        target: "< 0.25 ms/s",
    }]
}

// ---- 8. memory: peak RSS growth, each scenario in a fresh process ----

fn rss_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs in the re-executed bench process: prints the peak RSS growth in KiB.
fn memory_scenario(name: &str) {
    let base = rss_kib("VmRSS:").unwrap_or(0);
    match name {
        "flood" => {
            let p = Popen::spawn(&mut child(&["flood"])).unwrap();
            thread::sleep(Duration::from_secs(2));
            p.kill().unwrap();
        }
        "children" => {
            let kids: Vec<Popen> = (0..200)
                .map(|_| Popen::spawn(&mut child(&["write", &MIB.to_string()])).unwrap())
                .collect();
            thread::sleep(Duration::from_millis(500));
            for p in &kids {
                let out = p.communicate(b"", None).unwrap();
                assert_eq!(out.stdout.len(), MIB);
            }
        }
        "fanout" => {
            assert_eq!(fanout_group(), FANOUT_CHILDREN * FANOUT_LINES);
        }
        _ => unreachable!(),
    }
    let peak = rss_kib("VmHWM:").unwrap_or(0);
    println!("{}", peak.saturating_sub(base));
}

fn memory() -> Vec<Row> {
    let cases = [
        (
            "flood, nothing read for 2 s",
            "flood",
            "<= bound + 4 MiB",
            1024.0 + 4096.0,
        ),
        (
            "200 children x 1 MiB, communicate",
            "children",
            "<= 32 MiB",
            32768.0,
        ),
        (
            "fanout 200 x 2,000 lines, one Group",
            "fanout",
            "<= 16 MiB",
            16384.0,
        ),
    ];
    cases
        .iter()
        .map(|&(variant, scenario, target, _limit)| {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--memory-scenario", scenario])
                .output()
                .unwrap();
            let kib: Option<f64> = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
            Row {
                workload: "peak RSS growth",
                variant,
                value: kib.map_or("needs /proc".into(), |k| format!("{:.1} MiB", k / 1024.0)),
                baseline: "-".into(),
                ratio: "-".into(),
                target,
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-scenario") {
        memory_scenario(&args[i + 1]);
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    type Workload = (&'static str, fn() -> Vec<Row>);
    let workloads: [Workload; 9] = [
        ("bulk", bulk),
        ("both", both),
        ("rtt", rtt),
        ("spawn", spawn),
        ("stdin", stdin),
        ("idle", idle),
        ("group_idle", group_idle),
        ("fanout", fanout),
        ("memory", memory),
    ];
    println!("| workload | procpump variant | procpump | std baseline | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for (name, run) in workloads {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        for r in run() {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.workload, r.variant, r.value, r.baseline, r.ratio, r.target
            );
        }
    }
}
