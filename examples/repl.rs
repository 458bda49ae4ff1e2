//! Drives a real interactive program with the expect helpers, without a pty: the Python REPL
//! (`python3 -i`), or another interpreter if Python is not installed.
//!
//! Run it with `cargo run --example repl`.

use std::process::Command;
use std::time::Duration;

use procpump::{Options, Popen};

/// An interpreter this example knows how to drive: its command, its prompt, and what to type.
struct Interpreter {
    program: &'static str,
    args: &'static [&'static str],
    prompt: &'static [u8],
    lines: &'static [&'static str],
}

const CANDIDATES: &[Interpreter] = &[
    Interpreter {
        program: "python3",
        // -i: interactive even without a terminal; -q: no banner; -u: unbuffered.
        args: &["-i", "-q", "-u"],
        prompt: b">>> ",
        lines: &[
            "6 * 7",
            "import sys; sys.version_info[:2]",
            "sum(range(10))",
        ],
    },
    Interpreter {
        program: "python",
        args: &["-i", "-q", "-u"],
        prompt: b">>> ",
        lines: &["6 * 7", "sum(range(10))"],
    },
    Interpreter {
        program: "node",
        args: &["--interactive"],
        prompt: b"> ",
        lines: &["6 * 7", "[1, 2, 3].map(x => x * x)"],
    },
];

fn start(it: &Interpreter) -> Option<Popen> {
    // The REPL writes its prompt to stderr: merge it into stdout to see both in order.
    Options::new()
        .merge_stderr(true)
        .kill_on_drop(true)
        .spawn(Command::new(it.program).args(it.args))
        .ok()
}

fn main() -> Result<(), procpump::Error> {
    let Some((it, repl)) = CANDIDATES.iter().find_map(|it| Some((it, start(it)?))) else {
        println!("No interpreter found (tried python3, python and node): nothing to drive.");
        return Ok(());
    };
    let timeout = Duration::from_secs(10);
    println!("driving {} {}", it.program, it.args.join(" "));
    repl.expect(it.prompt, timeout)?;
    for line in it.lines {
        repl.send(format!("{line}\n").as_bytes())?;
        let answer = repl.expect(it.prompt, timeout)?;
        let answer = &answer[..answer.len() - it.prompt.len()];
        println!(
            "{line:>40}  =>  {}",
            String::from_utf8_lossy(answer).trim_end()
        );
    }
    // A pattern that never comes times out, and nothing is lost.
    match repl.expect(b"this never appears", Duration::from_millis(200)) {
        Err(e) if e.is_timeout() => println!(
            "{:>40}  =>  timed out, as it should",
            "(wait for a missing pattern)"
        ),
        other => println!("unexpected: {other:?}"),
    }
    repl.close_stdin();
    match repl.wait_timeout(timeout)? {
        Some(status) => println!("interpreter exited: {status}"),
        None => println!("interpreter still running after {timeout:?}; dropping it"),
    }
    Ok(())
}
