//! Streams a long-running child's output line by line while a progress indicator spins, and
//! kills the child when a deadline passes. The example runs itself as the child.
//!
//! Run it with `cargo run --example progress` (add `-- 2` for a 2-second deadline that the
//! child, which needs about 3 seconds, does not meet).

use std::io::Write;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use procpump::Popen;

/// The child: a "build" that reports 30 steps, 100 ms apart.
fn child_main() {
    for step in 1..=30 {
        println!("step {step:2}/30: compiling unit {step}");
        thread::sleep(Duration::from_millis(100));
    }
    println!("done");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--child") {
        child_main();
        return Ok(());
    }
    let limit = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    let child = Popen::spawn(Command::new(std::env::current_exe()?).arg("--child"))?;
    let start = Instant::now();
    let spinner = ['|', '/', '-', '\\'];
    let mut tick = 0;
    let mut out = std::io::stdout();
    loop {
        if start.elapsed() > limit {
            child.kill()?;
            println!(
                "\rdeadline of {limit:?} passed: killed the child ({})",
                child.wait()?
            );
            return Ok(());
        }
        // Wait a little for a line; meanwhile keep the indicator moving.
        match child.read_line(Duration::from_millis(80)) {
            // Overwrite the indicator with the line; the indicator moves to the next line.
            Ok(Some(line)) => print!("\r{:<40}", String::from_utf8_lossy(&line)),
            Ok(None) => break,
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e.into()),
        }
        tick += 1;
        print!(
            "\r{} {:>5.1} s ",
            spinner[tick % 4],
            start.elapsed().as_secs_f64()
        );
        out.flush()?;
    }
    println!(
        "\rchild finished in {:.1} s: {}",
        start.elapsed().as_secs_f64(),
        child.wait()?
    );
    Ok(())
}
