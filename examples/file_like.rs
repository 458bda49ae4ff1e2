//! `ProcessIoWrapper`: a child process used with the std::io tools you already know —
//! `io::copy`, `BufReader::lines`, `read_line` — with timeouts. The example runs itself as
//! the child, which upper-cases what it reads.
//!
//! Run it with `cargo run --example file_like`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::Command;
use std::time::Duration;

use procpump::{Popen, ProcessIoWrapper};

fn child_main() -> io::Result<()> {
    let mut input = String::new();
    let stdin = io::stdin();
    while stdin.lock().read_line(&mut input)? > 0 {
        print!("{}", input.to_uppercase());
        io::stdout().flush()?;
        input.clear();
    }
    Ok(())
}

fn wrapper() -> io::Result<ProcessIoWrapper> {
    let popen = Popen::spawn(Command::new(std::env::current_exe()?).arg("--child"))?;
    let mut file = ProcessIoWrapper::new(popen);
    file.set_read_timeout(Some(Duration::from_secs(10)));
    file.set_write_timeout(Some(Duration::from_secs(10)));
    Ok(file)
}

fn main() -> io::Result<()> {
    if std::env::args().any(|a| a == "--child") {
        return child_main();
    }

    // 1. read_line through the wrapper's own BufRead.
    let mut file = wrapper()?;
    writeln!(file, "hello, file")?;
    let mut line = String::new();
    file.read_line(&mut line)?;
    print!("read_line        -> {line}");

    // 2. io::copy a whole input in, then read everything out.
    let mut file = wrapper()?;
    let text = "many\nlines\nof\ninput\n".repeat(1000);
    io::copy(&mut text.as_bytes(), &mut file)?;
    file.get_ref().close_stdin();
    let mut all = String::new();
    file.read_to_string(&mut all)?;
    println!(
        "io::copy         -> {} bytes in, {} bytes out",
        text.len(),
        all.len()
    );

    // 3. BufReader::lines on a shared reference, while this thread keeps writing.
    let file = wrapper()?;
    std::thread::scope(|scope| -> io::Result<()> {
        let reader = scope.spawn(|| {
            BufReader::new(&file)
                .lines()
                .collect::<io::Result<Vec<String>>>()
        });
        for word in ["alpha", "beta", "gamma"] {
            writeln!(&file, "{word}")?;
        }
        file.get_ref().close_stdin();
        let lines = reader.join().expect("reader thread")?;
        println!("BufReader::lines -> {lines:?}");
        Ok(())
    })?;

    // 4. A read timeout is an ordinary io::ErrorKind::TimedOut, and loses nothing.
    let mut file = wrapper()?;
    file.set_read_timeout(Some(Duration::from_millis(100)));
    let err = file.read(&mut [0u8; 16]).unwrap_err();
    println!("read timeout     -> {:?}", err.kind());
    Ok(())
}
