//! `ProcessIoWrapper`: a child process used with the std::io tools you already know —
//! `io::copy`, `BufReader::lines`, `read_line` — with timeouts, and a filter of any size
//! through `communicate_io`. The example runs itself as the child, which upper-cases what it
//! reads, a read at a time, like a filter program (`tr a-z A-Z`).
//!
//! Run it with `cargo run --example file_like`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::Command;
use std::time::Duration;

use procpump::{Popen, ProcessIoWrapper};

fn child_main() -> io::Result<()> {
    let (mut input, mut output) = (io::stdin().lock(), io::stdout().lock());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        buf[..n].make_ascii_uppercase();
        output.write_all(&buf[..n])?;
        output.flush()?;
    }
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

    // 2. A filter of any size: feed a whole input in and take the whole output out, in
    //    constant memory. `communicate_io` does both at once on this thread...
    let text = "many\nlines\nof\ninput\n".repeat(1 << 20); // 20 MiB
    let child = Popen::spawn(Command::new(std::env::current_exe()?).arg("--child"))?;
    let mut upper = Vec::new();
    let status = child.communicate_io(text.as_bytes(), &mut upper, io::sink(), None)?;
    println!(
        "communicate_io   -> {} bytes in, {} bytes out, {status}",
        text.len(),
        upper.len()
    );

    // ...or two threads: one copies the input in while the other reads the output.
    let file = wrapper()?;
    let copied = std::thread::scope(|scope| -> io::Result<usize> {
        let writer = scope.spawn(|| -> io::Result<u64> {
            let n = io::copy(&mut text.as_bytes(), &mut &file)?;
            file.get_ref().close_stdin();
            Ok(n)
        });
        let mut out = Vec::new();
        (&file).read_to_end(&mut out)?;
        writer.join().expect("writer thread")?;
        Ok(out.len())
    })?;
    println!("two threads      -> {} bytes out", copied);

    // Copying everything in before reading anything cannot work once the output outgrows
    // the pipes and the bound: the child stops reading. That is an error, not a hang.
    let mut file = wrapper()?;
    let err = io::copy(&mut text.as_bytes(), &mut file).unwrap_err();
    println!("copy, then read  -> {:?}: {err}", err.kind());

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
