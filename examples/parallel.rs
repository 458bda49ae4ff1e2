//! A small `xargs -P` / GNU parallel on one thread: a `procpump::Group` with a running limit.
//!
//! ```text
//! cargo run --example parallel -- [-j N] [--timeout SECS] [COMMAND ...]
//! ```
//!
//! Each COMMAND is one argument, split on whitespace into a program and its arguments (no
//! shell, no quoting); with none, one command per line of stdin. At most N jobs run at once
//! (default: the number of CPUs). Every line a job prints is shown as it comes, prefixed with
//! the job's number and program (stderr lines on stderr); on a terminal a progress line
//! (done / running / failed of total) stays at the bottom. A job running longer than
//! `--timeout` seconds from its start is killed, and the example says so. The exit status is
//! the highest of the failed jobs' codes, where a job that timed out counts as 124, one that
//! could not start as 127, and one killed by a signal (or with a code outside 1-255) as 1;
//! 0 if none failed.
//!
//! For example, with the crate's test child (`cargo build` makes it):
//!
//! ```text
//! cargo run --example parallel -- -j 2 --timeout 1 \
//!     "target/debug/procpump-test-child lines 3 100" \
//!     "target/debug/procpump-test-child exit 3" \
//!     "target/debug/procpump-test-child sleep 5000"
//! ```

use std::collections::HashMap;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use procpump::{Capture, ChildId, EventKind, Group, Options, Stream};

struct Args {
    jobs: usize,
    timeout: Option<Duration>,
    commands: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut timeout = None;
    let mut commands = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-j" | "--jobs" => {
                let n = args.next().ok_or("-j needs a number")?;
                jobs = n.parse().map_err(|_| format!("-j {n}: not a number"))?;
            }
            "--timeout" => {
                let s = args.next().ok_or("--timeout needs seconds")?;
                let secs: f64 = s
                    .parse()
                    .map_err(|_| format!("--timeout {s}: not a number"))?;
                timeout = Some(
                    Duration::try_from_secs_f64(secs)
                        .map_err(|_| format!("--timeout {s}: not a duration"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            "--" => commands.extend(args.by_ref()),
            _ => commands.push(arg),
        }
    }
    if commands.is_empty() {
        if io::stdin().is_terminal() {
            return Err("no commands: give them as arguments or one per stdin line".into());
        }
        for line in io::stdin().lock().lines() {
            let line = line.map_err(|e| format!("reading stdin: {e}"))?;
            if !line.trim().is_empty() {
                commands.push(line);
            }
        }
    }
    Ok(Args {
        jobs,
        timeout,
        commands,
    })
}

/// A job as the runner follows it.
struct Job {
    name: String,
    started: Option<Instant>,
    timed_out: bool,
    /// Its `Exit` (or `SpawnFailed`) came.
    done: bool,
}

/// The terminal's progress line: drawn at the bottom, cleared before other output.
struct Screen {
    tty: bool,
    drawn: bool,
}

impl Screen {
    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            self.drawn = false;
        }
    }

    fn progress(&mut self, done: usize, running: usize, failed: usize, total: usize) {
        if self.tty {
            eprint!("\r\x1b[K[{done} done, {running} running, {failed} failed of {total}]");
            let _ = io::stderr().flush();
            self.drawn = true;
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("parallel: {msg}");
            }
            eprintln!(
                "usage: parallel [-j N] [--timeout SECS] [COMMAND ...]  (or commands on stdin)"
            );
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("parallel: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> procpump::Result<u8> {
    let group = Group::with_max_running(args.jobs).kill_on_drop(true);
    let mut options = Options::new();
    options.lines(true).stdin(Capture::Null);
    let mut jobs: HashMap<ChildId, Job> = HashMap::new();
    for (n, text) in args.commands.iter().enumerate() {
        let mut words = text.split_whitespace();
        let Some(program) = words.next() else {
            continue;
        };
        let mut cmd = Command::new(program);
        cmd.args(words);
        let short = std::path::Path::new(program)
            .file_name()
            .map_or(program.into(), |f| f.to_string_lossy());
        let id = group.queue_with(&options, &mut cmd);
        let job = Job {
            name: format!("{}:{short}", n + 1),
            started: None,
            timed_out: false,
            done: false,
        };
        jobs.insert(id, job);
    }
    let total = jobs.len();
    let (mut done, mut failed, mut worst) = (0, 0, 0u8);
    let mut screen = Screen {
        tty: io::stderr().is_terminal(),
        drawn: false,
    };
    let (mut out, mut err) = (io::stdout(), io::stderr());
    loop {
        // Wake for the next event, or when the earliest running job reaches its timeout.
        let deadline = args.timeout.and_then(|limit| {
            jobs.values()
                .filter(|j| !j.done && !j.timed_out)
                .filter_map(|j| j.started)
                .min()
                .and_then(|start| start.checked_add(limit))
        });
        let next = match deadline {
            Some(d) => group.next_event_deadline(d),
            None => group.next_event(Duration::MAX),
        };
        // Jobs are checked after every event too: steady output from one job must not keep
        // another from its deadline.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            kill_overdue(&group, &mut jobs, args.timeout, &mut screen)?;
        }
        let event = match next {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(e) if e.is_timeout() => continue,
            Err(e) => return Err(e),
        };
        let Some(job) = jobs.get_mut(&event.id) else {
            continue;
        };
        screen.clear();
        match event.kind {
            EventKind::Started => job.started = Some(Instant::now()),
            EventKind::Output(stream, line) => {
                let sink: &mut dyn Write = match stream {
                    Stream::Stdout => &mut out,
                    Stream::Stderr => &mut err,
                };
                let _ = write!(sink, "[{}] ", job.name);
                let _ = sink.write_all(&line);
                if !line.ends_with(b"\n") {
                    let _ = sink.write_all(b"\n");
                }
            }
            kind => {
                if let Some(failure) = job_end(&kind, job.timed_out) {
                    job.done = true;
                    done += 1;
                    if let Some((code, what)) = failure {
                        failed += 1;
                        worst = worst.max(code);
                        eprintln!("[{}] {what}", job.name);
                    }
                }
            }
        }
        let _ = out.flush();
        let running = jobs
            .values()
            .filter(|j| j.started.is_some() && !j.done)
            .count();
        screen.progress(done, running, failed, total);
    }
    screen.clear();
    eprintln!("{done} jobs, {failed} failed");
    Ok(worst)
}

/// Whether an event ends its job (`Some`), and if the job failed, its exit status for the
/// runner's own and what to say: a timeout counts as 124, a failed start as 127, a signal or
/// a code outside 1-255 as 1.
fn job_end(kind: &EventKind, timed_out: bool) -> Option<Option<(u8, String)>> {
    match kind {
        EventKind::Exit(status) if status.success() => Some(None),
        EventKind::Exit(status) => {
            let code = status.code().and_then(|c| u8::try_from(c).ok());
            let code = if timed_out {
                124
            } else {
                code.unwrap_or(1).max(1)
            };
            Some(Some((code, format!("failed: {status}"))))
        }
        EventKind::WaitFailed(e) => Some(Some((1, format!("its exit status is unknown: {e}")))),
        EventKind::SpawnFailed(e) => Some(Some((127, format!("could not start: {e}")))),
        _ => None,
    }
}

/// Kills every job that has run longer than `limit`, saying so.
fn kill_overdue(
    group: &Group,
    jobs: &mut HashMap<ChildId, Job>,
    limit: Option<Duration>,
    screen: &mut Screen,
) -> procpump::Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    for (id, job) in jobs.iter_mut() {
        let overdue = job.started.is_some_and(|s| s.elapsed() >= limit);
        if overdue && !job.done && !job.timed_out {
            job.timed_out = true;
            screen.clear();
            eprintln!("[{}] timed out after {limit:?}: killed", job.name);
            if let Some(member) = group.get(*id) {
                member.kill()?;
            }
        }
    }
    Ok(())
}
