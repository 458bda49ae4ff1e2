//! A tour of procpump that needs nothing but this crate: the example runs itself as the child.
//!
//! Run it with `cargo run --example demo`.

use std::io::{self, BufRead, Read, Write};
use std::process::Command;
use std::thread;
use std::time::Duration;

use procpump::{Options, Popen, ProcessIoWrapper, Stream};

/// What the example does when it is the child: a small line-oriented "server".
fn child_main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = io::stdout();
    for line in stdin.lock().lines() {
        let line = line?;
        match line.as_str() {
            "slow" => {
                thread::sleep(Duration::from_millis(300));
                writeln!(out, "finally")?;
            }
            "both" => {
                writeln!(out, "to stdout")?;
                out.flush()?;
                eprintln!("to stderr");
            }
            "flood" => {
                out.write_all(&vec![b'.'; 1 << 20])?;
                writeln!(out)?;
            }
            other => writeln!(out, "echo: {other}")?,
        }
        out.flush()?;
    }
    Ok(())
}

fn me() -> io::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--child");
    Ok(cmd)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--child") {
        return Ok(child_main()?);
    }
    let five = Duration::from_secs(5);
    let child = Popen::spawn(&mut me()?)?;
    println!(
        "spawned child {}: this program run again as a small line server (it answers \"echo: <line>\")",
        child.pid()
    );

    // 1. recv never blocks: nothing has arrived yet.
    let got = child.recv(1024)?;
    println!(
        "1. recv(1024) at once       -> {:?}: nothing has arrived yet, and recv never waits",
        lossy(got)
    );

    // 2. send queues without blocking; recv_timeout waits for the first bytes only.
    child.send(b"hello\n")?;
    let reply = child.recv_timeout(Stream::Stdout, five)?;
    println!(
        "2. send + recv_timeout(5 s) -> {:?}: the first bytes, as soon as they came",
        lossy(reply)
    );

    // 3. asyncread collects everything that arrives within its timeout.
    child.send(b"slow\n")?;
    let early = child.asyncread(Duration::from_millis(50))?;
    let late = child.asyncread(Duration::from_secs(2))?;
    println!(
        "3. asyncread 50 ms / 2 s    -> {:?} / {:?}: the child answers after 300 ms; \
         asyncread collects until its timeout, or returns early at EOF",
        lossy(early),
        lossy(late)
    );

    // 4. separate streams, in arrival order.
    child.send(b"both\n")?;
    for _ in 0..2 {
        if let Some((stream, bytes)) = child.recv_any(five)? {
            println!(
                "4. recv_any(5 s)            -> {stream}: {:?}: either stream, as each chunk arrives \
                 (two pipes are read by two threads, so the order may differ from the child's; \
                 see 7)",
                lossy(Some(bytes))
            );
        }
    }

    // 5. the per-stream handles: every operation in try_, plain, _timeout and _deadline forms.
    let stdin = child.stdin().expect("piped by default");
    let stdout = child.stdout().expect("piped by default");
    stdin.send(b"via the handles\n")?;
    let line = stdout.recv_line_timeout(five)?;
    println!(
        "5. stdin().send, stdout().recv_line_timeout(5 s) -> {:?}: one whole line",
        lossy(line)
    );

    // 6. communicate with a timeout: a megabyte of output, no deadlock, nothing lost.
    let out = child.communicate(b"flood\nbye\n", Some(Duration::from_secs(10)))?;
    println!(
        "6. communicate(\"flood\")     -> {} bytes of stdout and {}: a megabyte came back \
         while the input went in, and stdin was closed so the child ended",
        out.stdout.len(),
        out.status
    );

    // 7. merged streams: stderr arrives on stdout, in the child's own order.
    let merged = Options::new().merge_stderr(true).spawn(&mut me()?)?;
    let out = merged.communicate(b"both\n", Some(Duration::from_secs(10)))?;
    println!(
        "7. merged stderr            -> {:?}: one pipe, so stderr's line comes after stdout's, \
         as the child wrote them",
        String::from_utf8_lossy(&out.stdout)
    );

    // 8. the child as a file.
    let mut file = ProcessIoWrapper::new(Popen::spawn(&mut me()?)?);
    file.set_read_timeout(Some(five));
    writeln!(file, "through the wrapper")?;
    let mut line = String::new();
    file.read_line(&mut line)?;
    file.get_ref().close_stdin();
    let mut rest = String::new();
    file.read_to_string(&mut rest)?;
    println!(
        "8. ProcessIoWrapper         -> {line:?}, then EOF ({} more bytes): \
         write and read_line as on a file; closing stdin ended the child",
        rest.len()
    );
    Ok(())
}

fn lossy(bytes: Option<Vec<u8>>) -> Option<String> {
    bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
}
