//! procpump: the project under test, driven through its PEP 3145 API (`send`, `recv_timeout`,
//! `communicate`) as `procpump`, and through `ProcessIoWrapper` (std::io Read/Write) as `procpump_io`.
//! Compiled with the `procpump` feature (on by default in this copy: the repository's crate).
//!
//! `stdin`: `asyncwrite` of each slice (waiting for room), `close_stdin`, then `communicate`
//! for the count (`procpump_io`: `write_all`, `close_stdin`, `read_to_end`). `fanout`: one
//! thread for all children through a `Group` in line mode (`procpump_io`: a thread per child
//! in `BufRead::read_line` on the wrapper).

use std::io::{BufRead, Read, Write};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use procpump::{Capture, EventKind, Group, Options, Popen, ProcessIoWrapper, Stream};

use crate::bench::*;

pub struct Procpump;
pub struct ProcpumpIo;

const LONG: Duration = Duration::from_secs(30);

fn cmd(ctx: &Ctx, args: &[&str]) -> Command {
    let mut c = Command::new(ctx.child());
    c.args(args);
    c
}

fn err<E: std::fmt::Display>(e: E) -> Fail {
    Fail::Err(e.to_string())
}

/// Spawn `children` copies of `child lines <lines>` (stdin closed at once, as in `bulk`).
fn spawn_fanout(ctx: &Ctx, children: usize, lines: usize) -> Outcome<Vec<Popen>> {
    let mut kids = Vec::with_capacity(children);
    for _ in 0..children {
        let p = Popen::spawn(&mut cmd(ctx, &["lines", &lines.to_string()])).map_err(err)?;
        p.close_stdin();
        kids.push(p);
    }
    Ok(kids)
}

/// Join the fanout threads, adding up their line counts.
fn join_fanout(threads: Vec<thread::JoinHandle<Outcome<u64>>>) -> Outcome<u64> {
    let mut total = 0;
    for t in threads {
        total += t
            .join()
            .map_err(|_| Fail::Err("fanout thread panicked".into()))??;
    }
    Ok(total)
}

/// Drain one stream with recv_timeout until EOF, counting bytes.
fn drain(p: &Popen, which: Stream) -> Outcome<u64> {
    let mut n = 0u64;
    while let Some(b) = p.recv_timeout(which, LONG).map_err(err)? {
        n += b.len() as u64;
    }
    Ok(n)
}

impl Contender for Procpump {
    fn bulk(&mut self, ctx: &Ctx, bytes: u64) -> Outcome<u64> {
        let p = Popen::spawn(&mut cmd(ctx, &["bulk", &bytes.to_string()])).map_err(err)?;
        p.close_stdin();
        let n = drain(&p, Stream::Stdout)?;
        check_success(p.wait().map_err(err)?.success(), "bulk")?;
        Ok(n)
    }

    fn both(&mut self, ctx: &Ctx, bytes: u64) -> Outcome<(u64, u64)> {
        // Like std_raw: a second thread for stderr (Popen is Sync), counting, not storing.
        let p = Popen::spawn(&mut cmd(ctx, &["both", &bytes.to_string()])).map_err(err)?;
        p.close_stdin();
        let (n_out, n_err) = std::thread::scope(|s| {
            let t = s.spawn(|| drain(&p, Stream::Stderr));
            let o = drain(&p, Stream::Stdout);
            (
                o,
                t.join().unwrap_or_else(|_| bad("stderr thread panicked")),
            )
        });
        check_success(p.wait().map_err(err)?.success(), "both")?;
        Ok((n_out?, n_err?))
    }

    fn rtt(&mut self, ctx: &Ctx, iters: usize, msg_len: usize) -> Outcome<Duration> {
        let p = Popen::spawn(&mut cmd(ctx, &["echo"])).map_err(err)?;
        let mut msg = vec![0u8; msg_len];
        let mut back: Vec<u8> = Vec::with_capacity(msg_len);
        let t0 = Instant::now();
        for i in 0..iters {
            fill_message(i, &mut msg);
            let sent = p.asyncwrite(&msg, LONG).map_err(err)?;
            if sent != msg_len {
                return bad("rtt: asyncwrite took less than the message");
            }
            back.clear();
            while back.len() < msg_len {
                match p.recv_timeout(Stream::Stdout, LONG).map_err(err)? {
                    Some(b) => back.extend_from_slice(&b),
                    None => return bad("rtt: child closed stdout early"),
                }
            }
            if back != msg {
                return bad(format!("rtt: echo {i} differs"));
            }
        }
        let elapsed = t0.elapsed();
        let out = p.communicate(&[], None).map_err(err)?;
        check_count(out.stdout.len() as u64, 0, "rtt trailing output")?;
        check_success(out.status.success(), "rtt")?;
        Ok(elapsed)
    }

    fn spawn(&mut self, ctx: &Ctx, count: usize) -> Outcome<()> {
        for _ in 0..count {
            let p = Popen::spawn(&mut cmd(ctx, &["exit"])).map_err(err)?;
            let out = p.communicate(&[], None).map_err(err)?;
            check_count(
                (out.stdout.len() + out.stderr.len()) as u64,
                0,
                "spawn output",
            )?;
            check_success(out.status.success(), "spawn")?;
        }
        Ok(())
    }

    fn idle(&mut self, ctx: &Ctx, secs: u64, wait: Duration) -> Outcome<IdleSample> {
        let p = Popen::spawn(&mut cmd(ctx, &["silent", &secs.to_string()])).map_err(err)?;
        let meter = IdleMeter::start();
        let r = p.recv_timeout(Stream::Stdout, wait).map_err(err)?;
        let sample = meter.stop();
        p.kill().map_err(err)?;
        let _ = p.wait().map_err(err)?;
        match r {
            Some(b) if b.is_empty() => Ok(sample),
            Some(_) => bad("idle: got output from a silent child"),
            None => bad("idle: stdout closed early"),
        }
    }

    fn many(&mut self, ctx: &Ctx, children: usize, bytes: u64) -> Outcome<u64> {
        let mut kids = Vec::with_capacity(children);
        for _ in 0..children {
            kids.push(Popen::spawn(&mut cmd(ctx, &["bulk", &bytes.to_string()])).map_err(err)?);
        }
        let mut total = 0;
        for p in &kids {
            let out = p.communicate(&[], None).map_err(err)?;
            check_count(out.stdout.len() as u64, bytes, "many")?;
            check_success(out.status.success(), "many")?;
            total += out.stdout.len() as u64;
        }
        Ok(total)
    }

    fn stdin(&mut self, ctx: &Ctx, bytes: u64) -> Outcome<u64> {
        let p = Popen::spawn(&mut cmd(ctx, &["sink"])).map_err(err)?;
        let buf = stdin_buffer();
        for slice in stdin_slices(&buf, bytes) {
            let sent = p.asyncwrite(slice, LONG).map_err(err)?;
            if sent != slice.len() {
                return bad("stdin: asyncwrite timed out before taking the slice");
            }
        }
        p.close_stdin(); // EOF once the queue is written: the child prints its count
        let out = p.communicate(b"", None).map_err(err)?;
        check_success(out.status.success(), "stdin")?;
        parse_sink_count(&out.stdout)
    }

    fn fanout(&mut self, ctx: &Ctx, children: usize, lines: usize) -> Outcome<u64> {
        // One thread for all children: a Group in line mode, each Output event one line.
        // The same job as std_raw's: stdout piped, stdin null, stderr inherited.
        let group = Group::new();
        let mut options = Options::new();
        options
            .lines(true)
            .stdin(Capture::Null)
            .stderr(Capture::Inherit);
        for _ in 0..children {
            group
                .spawn_with(&options, &mut cmd(ctx, &["lines", &lines.to_string()]))
                .map_err(err)?;
        }
        // Ids count up from 0 in spawn order: a Vec indexed by them counts each child's lines.
        let mut per_child = vec![0u64; children];
        let mut exits = 0;
        while let Some(event) = group.next_event(LONG).map_err(err)? {
            match event.kind {
                EventKind::Output(_, line) => {
                    check_fanout_line(&line)?;
                    per_child[event.id.index() as usize] += 1;
                }
                EventKind::Exit(status) => {
                    check_success(status.success(), "fanout")?;
                    let n = per_child[event.id.index() as usize];
                    check_lines(n, lines as u64, "fanout")?;
                    exits += 1;
                }
                _ => {}
            }
        }
        if exits != children {
            return bad(format!("fanout: {exits} exits for {children} children"));
        }
        Ok(per_child.iter().sum())
    }
}

impl Contender for ProcpumpIo {
    fn bulk(&mut self, ctx: &Ctx, bytes: u64) -> Outcome<u64> {
        let p = Popen::spawn(&mut cmd(ctx, &["bulk", &bytes.to_string()])).map_err(err)?;
        p.close_stdin();
        let mut io = ProcessIoWrapper::new(p);
        let n = drain_count(&mut io)?;
        check_success(io.get_ref().wait().map_err(err)?.success(), "bulk")?;
        Ok(n)
    }

    fn rtt(&mut self, ctx: &Ctx, iters: usize, msg_len: usize) -> Outcome<Duration> {
        let p = Popen::spawn(&mut cmd(ctx, &["echo"])).map_err(err)?;
        let mut io = ProcessIoWrapper::new(p);
        let mut msg = vec![0u8; msg_len];
        let mut back = vec![0u8; msg_len];
        let t0 = Instant::now();
        for i in 0..iters {
            fill_message(i, &mut msg);
            io.write_all(&msg)?;
            io.read_exact(&mut back)?;
            if back != msg {
                return bad(format!("rtt: echo {i} differs"));
            }
        }
        let elapsed = t0.elapsed();
        let p = io.into_inner();
        let out = p.communicate(&[], None).map_err(err)?;
        check_success(out.status.success(), "rtt")?;
        Ok(elapsed)
    }

    fn stdin(&mut self, ctx: &Ctx, bytes: u64) -> Outcome<u64> {
        let p = Popen::spawn(&mut cmd(ctx, &["sink"])).map_err(err)?;
        let mut io = ProcessIoWrapper::new(p);
        let buf = stdin_buffer();
        for slice in stdin_slices(&buf, bytes) {
            io.write_all(slice)?;
        }
        io.get_ref().close_stdin(); // EOF once the queue is written: the child prints its count
        let mut out = Vec::new();
        io.read_to_end(&mut out)?;
        check_success(io.get_ref().wait().map_err(err)?.success(), "stdin")?;
        parse_sink_count(&out)
    }

    fn fanout(&mut self, ctx: &Ctx, children: usize, lines: usize) -> Outcome<u64> {
        let kids = spawn_fanout(ctx, children, lines)?;
        // One thread per child, each with the child as a BufRead (see Procpump::fanout).
        let threads: Vec<_> = kids
            .into_iter()
            .map(|p| {
                thread::spawn(move || -> Outcome<u64> {
                    let mut io = ProcessIoWrapper::new(p);
                    let mut line = String::new();
                    let mut n = 0u64;
                    loop {
                        line.clear();
                        if io.read_line(&mut line)? == 0 {
                            break;
                        }
                        check_fanout_line(line.as_bytes())?;
                        n += 1;
                    }
                    check_lines(n, lines as u64, "fanout")?;
                    check_success(io.get_ref().wait().map_err(err)?.success(), "fanout")?;
                    Ok(n)
                })
            })
            .collect();
        join_fanout(threads)
    }
}
