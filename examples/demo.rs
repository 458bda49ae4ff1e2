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
    let child = Popen::spawn(&mut me()?)?;
    println!("spawned child {}", child.pid());

    // 1. recv never blocks: nothing has arrived yet.
    println!("1. recv right away       -> {:?}", child.recv(1024)?);

    // 2. send queues without blocking; recv_timeout waits for the first bytes only.
    child.send(b"hello\n")?;
    let reply = child.recv_timeout(Stream::Stdout, Duration::from_secs(5))?;
    println!("2. send + recv_timeout   -> {:?}", lossy(reply));

    // 3. asyncread collects everything that arrives within its timeout.
    child.send(b"slow\n")?;
    let early = child.asyncread(Duration::from_millis(50))?;
    let late = child.asyncread(Duration::from_secs(2))?;
    println!(
        "3. asyncread 50 ms / 2 s -> {:?} / {:?}",
        lossy(early),
        lossy(late)
    );

    // 4. separate streams, in arrival order.
    child.send(b"both\n")?;
    for _ in 0..2 {
        if let Some((stream, bytes)) = child.recv_any(Duration::from_secs(5))? {
            println!(
                "4. recv_any              -> {stream:?}: {:?}",
                lossy(Some(bytes))
            );
        }
    }

    // 5. communicate with a timeout: a megabyte of output, no deadlock, nothing lost.
    let out = child.communicate(b"flood\nbye\n", Some(Duration::from_secs(10)))?;
    println!(
        "5. communicate           -> {} bytes of stdout, status {}",
        out.stdout.len(),
        out.status
    );

    // 6. merged streams: stderr arrives on stdout, in the child's own order.
    let merged = Options::new().merge_stderr(true).spawn(&mut me()?)?;
    let out = merged.communicate(b"both\n", Some(Duration::from_secs(10)))?;
    println!(
        "6. merged communicate    -> {:?}",
        String::from_utf8_lossy(&out.stdout)
    );

    // 7. the child as a file.
    let mut file = ProcessIoWrapper::new(Popen::spawn(&mut me()?)?);
    file.set_read_timeout(Some(Duration::from_secs(5)));
    writeln!(file, "through the wrapper")?;
    let mut line = String::new();
    file.read_line(&mut line)?;
    file.get_ref().close_stdin();
    let mut rest = String::new();
    file.read_to_string(&mut rest)?;
    println!("7. ProcessIoWrapper      -> {:?} then EOF", line);
    Ok(())
}

fn lossy(bytes: Option<Vec<u8>>) -> Option<String> {
    bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
}
