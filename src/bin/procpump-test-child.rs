//! A tiny child program for procpump's tests, examples and benches.
//!
//! It is written in Rust and built by this crate, so everything that spawns it runs wherever
//! the crate does: no `sh`, `cat` or `sleep` from the host. Usage: `procpump-test-child MODE
//! [ARGS…]`; see `main` for the modes. Generated data is `pattern(i) = i % 251`, which no
//! power-of-two chunking lines up with.

use std::io::{self, BufRead, Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::Duration;

const BLOCK: usize = 64 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> u64 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
    let result = match args.first().map(String::as_str) {
        // Copy stdin to stdout, chunk by chunk, until EOF.
        Some("echo") => echo(false),
        // Copy stdin to both stdout and stderr.
        Some("echo-both") => echo(true),
        // Echo stdin to stdout while writing N pattern bytes to stderr at the same time.
        Some("echo-flood-err") => {
            let n = arg(1);
            let flood = thread::spawn(move || write_pattern(&mut io::stderr().lock(), n));
            echo(false).and_then(|()| flood.join().expect("stderr thread"))
        }
        // Write N pattern bytes to stdout / stderr / both.
        Some("write") => write_pattern(&mut io::stdout().lock(), arg(1)),
        Some("write-err") => write_pattern(&mut io::stderr().lock(), arg(1)),
        Some("write-both") => {
            let n = arg(1);
            let err = thread::spawn(move || write_pattern(&mut io::stderr().lock(), n));
            write_pattern(&mut io::stdout().lock(), n).and_then(|()| err.join().expect("thread"))
        }
        // Read stdin to EOF, then print how many bytes it held and whether they were the pattern.
        Some("count") => count(),
        // As `count`, after sleeping MS milliseconds without reading.
        Some("count-after") => {
            thread::sleep(Duration::from_millis(arg(1)));
            count()
        }
        // Read stdin to EOF and throw it away, as fast as possible.
        Some("discard") => discard(),
        // Alternate "o<i>\n" on stdout and "e<i>\n" on stderr N times, flushing each line.
        Some("interleave") => interleave(arg(1)),
        // As `interleave`, sleeping MS milliseconds after each line.
        Some("interleave-slow") => interleave_slow(arg(1), arg(2)),
        // Print N lines "line <i>", sleeping MS milliseconds between them.
        Some("lines") => lines(arg(1), arg(2)),
        // Write the given text to stdout with no newline, then exit.
        Some("print") => io::stdout().write_all(args.get(1).map_or("", |s| s).as_bytes()),
        // A prompt-driven program: prints "> ", reads a line, answers "got <line>".
        Some("prompt") => prompt(),
        // Sleep MS milliseconds, then exit 0 without touching stdin.
        Some("sleep") => {
            thread::sleep(Duration::from_millis(arg(1)));
            Ok(())
        }
        // Sleep MS milliseconds, then create the file PATH: shows whether the child lived on.
        Some("touch-after") => {
            thread::sleep(Duration::from_millis(arg(1)));
            std::fs::write(args.get(2).map_or("", |s| s), b"alive")
        }
        // Exit at once with the given code, reading nothing.
        Some("exit") => return ExitCode::from(arg(1) as u8),
        // Start a grandchild that sleeps MS milliseconds holding our pipes, then exit at once.
        Some("grandchild") => grandchild(arg(1)),
        // A build tool: N stdout lines "line <i>" (flushed), each followed by B bytes of
        // stderr warning text in one unflushed write.
        Some("build") => build(arg(1), arg(2)),
        // N bytes of stderr (pattern), then the stdout line "done".
        Some("err-then-line") => write_pattern(&mut io::stderr().lock(), arg(1))
            .and_then(|()| io::stdout().write_all(b"done\n")),
        // N stderr lines of L bytes each (`e` L - 1 times and a newline), then the
        // stdout line "done".
        Some("err-lines-then-line") => err_lines_then_line(arg(1), arg(2)),
        // N stdout lines "o<i> <padding>\n" of uneven length, written in two pieces and never
        // flushed by hand, and on every third i the stderr line "e<i>\n" in two raw writes.
        Some("chatter") => chatter(arg(1)),
        // One line of N bytes of `x` and its newline, then "tail" with no newline.
        Some("long-line") => {
            io::stdout().write_all(&[vec![b'x'; arg(1) as usize], b"\ntail".to_vec()].concat())
        }
        // N lines "l<i>\r\n".
        Some("crlf") => (0..arg(1)).try_for_each(|i| write!(io::stdout(), "l{i}\r\n")),
        // stdout "a", stderr "E\n", stdout "b\nc\n", MS milliseconds apart, each flushed.
        Some("order") => order(arg(1)),
        // Print "ready", then write forever (until killed or the pipe breaks).
        Some("flood") => flood(),
        // Forever: 64 KiB to stdout, then "tick <n>" to stderr (backpressure shows as ticks).
        Some("flood-ticks") => flood_ticks(),
        _ => {
            eprintln!("procpump-test-child: unknown mode {args:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe is how tests stop some modes: it is not a failure to report loudly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(3),
        Err(e) => {
            eprintln!("procpump-test-child: {e}");
            ExitCode::from(1)
        }
    }
}

fn pattern(offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = ((offset + i as u64) % 251) as u8;
    }
}

fn write_pattern(out: &mut impl Write, n: u64) -> io::Result<()> {
    // The pattern repeats every 251 bytes: one block a little longer than a write holds every
    // phase, so each write is a slice of it and the child spends nothing per byte.
    let mut block = vec![0u8; BLOCK + 251];
    pattern(0, &mut block);
    let mut done = 0;
    while done < n {
        let len = (n - done).min(BLOCK as u64) as usize;
        let at = (done % 251) as usize;
        out.write_all(&block[at..at + len])?;
        done += len as u64;
    }
    out.flush()
}

fn echo(both: bool) -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut out = io::stdout().lock();
    let mut err = io::stderr().lock();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
        if both {
            err.write_all(&buf[..n])?;
            err.flush()?;
        }
    }
}

fn discard() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut buf = vec![0u8; BLOCK];
    while input.read(&mut buf)? > 0 {}
    Ok(())
}

fn count() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut buf = vec![0u8; BLOCK];
    let mut expect = vec![0u8; BLOCK];
    let (mut total, mut is_pattern) = (0u64, true);
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        pattern(total, &mut expect[..n]);
        is_pattern &= buf[..n] == expect[..n];
        total += n as u64;
    }
    println!("{total} {}", if is_pattern { "pattern" } else { "other" });
    Ok(())
}

fn interleave(n: u64) -> io::Result<()> {
    for i in 0..n {
        let mut out = io::stdout().lock();
        out.write_all(format!("o{i}\n").as_bytes())?;
        out.flush()?;
        drop(out);
        io::stderr().write_all(format!("e{i}\n").as_bytes())?;
    }
    Ok(())
}

fn interleave_slow(n: u64, ms: u64) -> io::Result<()> {
    for i in 0..n {
        for (out, tag) in [
            (&mut io::stdout() as &mut dyn Write, 'o'),
            (&mut io::stderr(), 'e'),
        ] {
            // One write per line: stderr is unbuffered, and `writeln!` would write in pieces.
            out.write_all(format!("{tag}{i}\n").as_bytes())?;
            out.flush()?;
            thread::sleep(Duration::from_millis(ms));
        }
    }
    Ok(())
}

fn lines(n: u64, ms: u64) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for i in 0..n {
        writeln!(out, "line {i}")?;
        out.flush()?;
        thread::sleep(Duration::from_millis(ms));
    }
    Ok(())
}

fn prompt() -> io::Result<()> {
    let mut out = io::stdout().lock();
    let mut input = io::stdin().lock();
    loop {
        out.write_all(b"> ")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        write!(out, "got {}", line)?;
    }
}

fn grandchild(ms: u64) -> io::Result<()> {
    let me = std::env::current_exe()?;
    // The grandchild inherits our stdin, stdout and stderr, so it holds the parent's pipes.
    Command::new(me)
        .args(["sleep", &ms.to_string()])
        .stdin(Stdio::inherit())
        .spawn()?;
    println!("spawned");
    Ok(())
}

fn build(n: u64, err_bytes: u64) -> io::Result<()> {
    let mut warning = vec![b'w'; err_bytes as usize];
    if let Some(last) = warning.last_mut() {
        *last = b'\n';
    }
    for i in 0..n {
        let mut out = io::stdout().lock();
        writeln!(out, "line {i}")?;
        out.flush()?;
        drop(out);
        io::stderr().write_all(&warning)?;
    }
    Ok(())
}

fn err_lines_then_line(n: u64, len: u64) -> io::Result<()> {
    let mut line = vec![b'e'; len.max(1) as usize];
    if let Some(last) = line.last_mut() {
        *last = b'\n';
    }
    let mut err = io::stderr().lock();
    for _ in 0..n {
        err.write_all(&line)?;
    }
    drop(err);
    io::stdout().write_all(b"done\n")
}

fn chatter(n: u64) -> io::Result<()> {
    let mut out = io::stdout();
    let mut err = io::stderr();
    for i in 0..n {
        let pad = "p".repeat((i as usize * 37) % 300);
        write!(out, "o{i} ")?;
        writeln!(out, "{pad}")?;
        if i % 3 == 0 {
            write!(err, "e")?;
            writeln!(err, "{i}")?;
        }
    }
    Ok(())
}

fn order(ms: u64) -> io::Result<()> {
    let pause = || thread::sleep(Duration::from_millis(ms));
    let mut out = io::stdout();
    out.write_all(b"a")?;
    out.flush()?;
    pause();
    io::stderr().write_all(b"E\n")?;
    pause();
    out.write_all(b"b\nc\n")?;
    out.flush()
}

fn flood() -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(b"ready\n")?;
    out.flush()?;
    let buf = vec![b'x'; BLOCK];
    loop {
        out.write_all(&buf)?;
    }
}

fn flood_ticks() -> io::Result<()> {
    let buf = vec![b'x'; BLOCK];
    for tick in 0u64.. {
        io::stdout().write_all(&buf)?;
        io::stdout().flush()?;
        io::stderr().write_all(format!("tick {tick}\n").as_bytes())?;
    }
    Ok(())
}
