//! `Popen`: the PEP 3145 facade over the pumps and the process handle.

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::communicate;
use crate::pipes::Pipes;
use crate::process::Process;
use crate::select::{self, Events};
use crate::signal::{Hub, Link};
use crate::{deadline_after, Capture, Error, InputHandle, Options, OutputHandle, Result};
use std::sync::Arc;

/// One of the child's two output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's standard output (and its stderr too, with
    /// [`Options::merge_stderr`](crate::Options::merge_stderr)).
    Stdout,
    /// The child's standard error.
    Stderr,
}

impl Stream {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    /// `stdout` or `stderr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A running child process with non-blocking, deadlock-free access to its pipes.
///
/// Each captured pipe is served by its own thread through a bounded channel, so no call here
/// ever blocks on a pipe: the `recv*` family and [`send`](Popen::send) return immediately, the
/// `*_timeout` and `async*` methods wait at most their timeout, and only the methods that say
/// so block until EOF or exit. Every method takes `&self` and `Popen` is `Send + Sync`, so one
/// thread can read while another writes, waits or kills (share it with `Arc<Popen>`).
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use procpump::Popen;
///
/// # // This example runs itself as the child, which echoes stdin to stdout.
/// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
/// #     std::io::copy(&mut std::io::stdin(), &mut std::io::stdout())?;
/// #     return Ok(());
/// # }
/// # let mut command = std::process::Command::new(std::env::current_exe()?);
/// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
/// // `command` starts a child that echoes its stdin to its stdout, like `cat`.
/// let child = Popen::spawn(&mut command)?;
/// child.send(b"hello\n")?;                                     // returns at once
/// let echoed = child.asyncread(Duration::from_millis(200))?;   // waits at most 200 ms
/// child.close_stdin();
/// let out = child.communicate(b"", Some(Duration::from_secs(10)))?;
/// let mut all = echoed.unwrap_or_default();
/// all.extend(out.stdout);
/// assert_eq!(all, b"hello\n");
/// assert!(out.status.success());
/// # Ok::<(), procpump::Error>(())
/// ```
///
/// # Drop behavior
///
/// Dropping a `Popen` returns at once. It closes stdin (after the writer has written what was
/// queued, the child sees EOF) and drops the output channels: each reader thread ends on its
/// next read, closing its pipe, so a child that keeps writing gets a broken pipe instead of
/// blocking forever. No thread is joined. The child is left running unless
/// [`Options::kill_on_drop`] was set; either way a small thread reaps it once it exits, so
/// no zombie is left behind.
#[derive(Debug)]
pub struct Popen {
    // The pipes are declared (and so dropped) before the process handle: their threads can
    // start winding down before the reaper is handed the child.
    pub(crate) pipes: Pipes,
    pub(crate) process: Process,
    kill_on_drop: bool,
}

fn stdio(capture: Capture) -> Stdio {
    match capture {
        Capture::Piped => Stdio::piped(),
        Capture::Inherit => Stdio::inherit(),
        Capture::Null => Stdio::null(),
    }
}

impl Popen {
    /// Returns once the child has started, with all three streams piped (whatever `Stdio` the
    /// `Command` had) and the default [`Options`].
    ///
    /// # Errors
    /// [`Error::Spawn`] names the program when it cannot be started.
    pub fn spawn(cmd: &mut Command) -> Result<Popen> {
        Options::new().spawn(cmd)
    }

    pub(crate) fn spawn_with(cmd: &mut Command, opts: &Options) -> Result<Popen> {
        Popen::spawn_linked(cmd, opts, None)
    }

    /// Starts the child; its pumps also report to a group's board when `link` is given.
    pub(crate) fn spawn_linked(
        cmd: &mut Command,
        opts: &Options,
        link: Option<Link>,
    ) -> Result<Popen> {
        opts.validate()?;
        cmd.stdin(stdio(opts.stdin));
        let merged = if opts.merge_stderr {
            let (reader, writer) = io::pipe()?;
            cmd.stdout(writer.try_clone()?);
            cmd.stderr(writer);
            Some(reader)
        } else {
            cmd.stdout(stdio(opts.stdout));
            cmd.stderr(stdio(opts.stderr));
            None
        };
        let spawned = cmd.spawn();
        if merged.is_some() {
            // The Command still holds write ends of the shared pipe: while any copy outside the
            // child is open, the reader would never see EOF.
            cmd.stdout(Stdio::piped());
            cmd.stderr(Stdio::piped());
        }
        let mut child = spawned.map_err(|source| Error::Spawn {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
        let merged = merged.map(|r| Box::new(r) as Box<dyn Read + Send>);
        let hub = Arc::new(Hub::with_link(link));
        let pipes = match Pipes::start(&mut child, merged, opts, hub) {
            Ok(pipes) => pipes,
            Err(e) => {
                // No thread for a pipe means no usable Popen: do not leave the child behind.
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Io(e));
            }
        };
        Ok(Popen {
            pipes,
            process: Process::new(child),
            kill_on_drop: opts.kill_on_drop,
        })
    }

    /// Returns immediately with the child's stdout, `None` if it was not captured (inherited,
    /// sent to null). With [`Options::merge_stderr`], it carries stderr too.
    ///
    /// The handle has the whole receiving API: `try_recv`, `recv_line_timeout`,
    /// `expect_deadline`, `recv_exact`, `Read`, …; see [`OutputHandle`].
    pub fn stdout(&self) -> Option<&OutputHandle> {
        self.pipes.stdout.as_ref()
    }

    /// Returns immediately with the child's stderr, `None` if it was not captured (inherited,
    /// sent to null, or merged into stdout). See [`OutputHandle`].
    pub fn stderr(&self) -> Option<&OutputHandle> {
        self.pipes.stderr.as_ref()
    }

    /// Returns immediately with the child's stdin, `None` if it was not captured. See
    /// [`InputHandle`].
    pub fn stdin(&self) -> Option<&InputHandle> {
        self.pipes.stdin.as_ref()
    }

    /// Returns immediately with the child's OS process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Returns immediately after queueing as much of `data` as fits for the child's stdin;
    /// returns how many bytes were taken (0 when the queue is full, or for empty `data`).
    ///
    /// The bytes are written to the pipe by the writer thread, in order. It also moves the
    /// child's output along (out of the channels, up to each stream's bound), so a loop of
    /// `send` calls alone does not hold the child back.
    ///
    /// # Errors
    /// [`Error::StdinClosed`] after [`close_stdin`](Popen::close_stdin) or once the child closed
    /// its stdin; [`Error::Io`] once for any other write failure;
    /// [`Error::NotCaptured`] when stdin was not piped; [`Error::Stalled`] instead of a count
    /// of 0 when the child stopped reading because an output it writes to is full and unread
    /// (read that output, or see [`asyncwrite`](Popen::asyncwrite)).
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        self.pipes.input()?.try_send(data)
    }

    /// Returns immediately with up to `maxsize` bytes of stdout (see
    /// [`recv_from`](Popen::recv_from)).
    pub fn recv(&self, maxsize: usize) -> Result<Option<Vec<u8>>> {
        self.pipes.output(Stream::Stdout)?.recv_max(maxsize, "recv")
    }

    /// Returns immediately with up to `maxsize` bytes of stderr (see
    /// [`recv_from`](Popen::recv_from)).
    pub fn recv_err(&self, maxsize: usize) -> Result<Option<Vec<u8>>> {
        self.pipes
            .output(Stream::Stderr)?
            .recv_max(maxsize, "recv_err")
    }

    /// Returns immediately with what has arrived on `which`, at most `maxsize` bytes (the PEP's
    /// `_recv`).
    ///
    /// `Some(bytes)` holds 0..=`maxsize` bytes (empty when nothing is there yet); `None` comes
    /// only once the stream reached EOF and every byte was returned. A chunk cut by `maxsize`
    /// keeps its tail for the next call. Everything buffered at that moment is returned (up to
    /// `maxsize`), even while another thread is blocked reading this stream. It also moves the
    /// other stream along (out of its channel, up to its bound), so a polling loop over one
    /// stream does not hold the child back.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     print!("0123456789");
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::{Popen, Stream};
    ///
    /// // `command` starts a child that prints ten digits and exits.
    /// let child = Popen::spawn(&mut command)?;
    /// let mut got = Vec::new();
    /// // A polling loop: recv never waits, so the caller can do other work between calls.
    /// while let Some(bytes) = child.recv_from(Stream::Stdout, 4)? {
    ///     assert!(bytes.len() <= 4);
    ///     got.extend(bytes);
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(got, b"0123456789");
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] once, after the bytes before it, if reading the pipe failed;
    /// [`Error::NotCaptured`] when the stream was not piped; [`Error::Stalled`] instead of an
    /// empty read when the child is blocked writing to the *other* stream, which holds its
    /// whole bound unread: no byte will come here until that one is read. Read both streams
    /// ([`recv_any`](Popen::recv_any)), merge stderr into stdout
    /// ([`Options::merge_stderr`]), or make the other stream
    /// [`Overflow::KeepTail`](crate::Overflow::KeepTail) to never see it.
    pub fn recv_from(&self, which: Stream, maxsize: usize) -> Result<Option<Vec<u8>>> {
        self.pipes.output(which)?.recv_max(maxsize, "recv_from")
    }

    /// Waits at most `timeout` for the first byte on `which`, then returns at once with
    /// everything there: `Some` (empty on timeout), or `None` at EOF.
    ///
    /// `Duration::ZERO` does not wait; `Duration::MAX` waits for data or EOF however long.
    /// While it waits, the other stream is taken in up to its bound; beyond that, this returns
    /// [`Error::Stalled`] naming it, within milliseconds rather than at the timeout (see
    /// [`recv_from`](Popen::recv_from) for how to avoid it). Other errors as for `recv_from`.
    pub fn recv_timeout(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.pipes
            .output(which)?
            .recv_or_empty(deadline_after(timeout), "recv_timeout")
    }

    /// Waits for the whole `timeout` collecting stdout, returning early at EOF (see
    /// [`asyncread_from`](Popen::asyncread_from)).
    pub fn asyncread(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.pipes
            .output(Stream::Stdout)?
            .collect_deadline(deadline_after(timeout), "asyncread")
    }

    /// Waits for the whole `timeout` (or until EOF, if sooner) and returns all the bytes that
    /// arrived on `which`.
    ///
    /// `None` only if the stream was already at EOF, and drained, when called.
    /// `Duration::MAX` reads to EOF. While it waits, the other stream is taken in up to its
    /// bound; if the child then blocks on it, this returns early with what it collected, or
    /// [`Error::Stalled`] naming that stream if it collected nothing (see
    /// [`recv_from`](Popen::recv_from) for how to avoid it). Other errors as for `recv_from`.
    pub fn asyncread_from(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.pipes
            .output(which)?
            .collect_deadline(deadline_after(timeout), "asyncread_from")
    }

    /// Waits at most `timeout` for room to queue all of `data`; returns the bytes taken, which
    /// is all of them unless the timeout passed first.
    ///
    /// `Duration::ZERO` behaves like [`send`](Popen::send); `Duration::MAX` waits as long as
    /// it takes. Errors as for `send`; bytes taken before an error are reported, and the error
    /// comes on the next call.
    ///
    /// While it waits, the child's output is taken in, up to each stream's bound. A child that
    /// echoes its input stops reading once more than that is unread: then this returns
    /// [`Error::Stalled`] naming the output to read, within milliseconds (or a short count, if
    /// it took some bytes first; the next call reports the stall). To avoid it, read the
    /// output meanwhile (from another thread, or with `send` and
    /// [`recv_any`](Popen::recv_any) in one loop), or let
    /// [`communicate`](Popen::communicate) or [`communicate_io`](Popen::communicate_io) do
    /// both.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     let n = std::io::copy(&mut std::io::stdin(), &mut std::io::sink())?;
    /// #     print!("{n}");
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // `command` starts a child that counts the bytes on its stdin.
    /// let child = Popen::spawn(&mut command)?;
    /// let data = vec![b'x'; 5 << 20]; // far more than a pipe or the queue holds
    /// assert_eq!(child.asyncwrite(&data, Duration::from_secs(30))?, data.len());
    /// child.close_stdin();
    /// assert_eq!(child.communicate(b"", None)?.stdout, b"5242880");
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn asyncwrite(&self, data: &[u8], timeout: Duration) -> Result<usize> {
        self.pipes
            .input()?
            .send_partial(data, deadline_after(timeout), "asyncwrite")
    }

    /// Waits at most `timeout` until everything queued so far has been written to the pipe;
    /// returns whether it was.
    ///
    /// # Errors
    /// [`Error::StdinClosed`] if the child closed its stdin before taking it all;
    /// [`Error::Stalled`] if the child stopped reading because an output it writes to is full
    /// and unread (read it, from another thread or with [`recv_any`](Popen::recv_any)).
    pub fn flush_stdin(&self, timeout: Duration) -> Result<bool> {
        self.pipes
            .input()?
            .flush_within(deadline_after(timeout), "flush_stdin")
    }

    /// Returns immediately; the child sees EOF on its stdin once everything queued before this
    /// call has been written. Idempotent, and a no-op when stdin was not piped.
    pub fn close_stdin(&self) {
        if let Some(stdin) = &self.pipes.stdin {
            stdin.close();
        }
    }

    /// Blocks until the child has taken `input` (or closed its stdin), both outputs reached EOF
    /// and the child exited, or until `timeout` passed; returns the status and all output not
    /// returned by earlier calls.
    ///
    /// Stdin is closed once the input is written, so the child sees EOF. A child that exits
    /// without reading all its input is not an error. Output of a stream that was not captured
    /// is empty. `None` waits as long as it takes; so does `Some(Duration::MAX)`. All output
    /// is held in memory while this runs, beyond [`Options::output_capacity`] (except for an
    /// [`Overflow::KeepTail`] stream, which keeps its tail); for output of any size, use
    /// [`communicate_io`](Popen::communicate_io).
    ///
    /// [`Options::output_capacity`]: crate::Options::output_capacity
    /// [`Overflow::KeepTail`]: crate::Overflow::KeepTail
    ///
    /// # Errors
    /// - [`Error::Timeout`] when `timeout` passes first. Nothing is lost then: the output read
    ///   so far and the input not yet written stay with the `Popen`, and calling
    ///   `communicate(b"", ..)` again continues writing that input and returns all the output
    ///   from the first call on, exactly once (as CPython's `communicate` does). Input given
    ///   to a later call is appended to what is still unsent.
    /// - [`Error::NotCaptured`] for non-empty `input` when stdin was not piped;
    ///   [`Error::StdinClosed`] for non-empty `input` after stdin was closed.
    /// - [`Error::Io`] if reading or writing a pipe failed (the output stays buffered).
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     println!("started");
    /// #     std::thread::sleep(std::time::Duration::from_millis(300));
    /// #     println!("finished");
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // `command` starts a child that prints "started", works for 300 ms, then prints "finished".
    /// let child = Popen::spawn(&mut command)?;
    /// let err = child.communicate(b"", Some(Duration::from_millis(50))).unwrap_err();
    /// assert!(err.is_timeout());
    /// // Nothing was lost: the next call returns all the output, from the start.
    /// let out = child.communicate(b"", None)?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).lines().collect::<Vec<_>>(), ["started", "finished"]);
    /// assert!(out.status.success());
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    /// # Kill at a deadline, keep what it wrote, never hang on a grandchild
    ///
    /// `communicate` waits for EOF, and a grandchild that inherited the pipes keeps them
    /// open after the child exits, so after `kill` do not call `communicate` again: wait for
    /// the child itself, then take what arrived, with a short wait for the last bytes.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     println!("working");
    /// #     std::thread::sleep(std::time::Duration::from_secs(30));
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::{Command, Output};
    /// use std::time::Duration;
    /// use procpump::{Popen, Stream};
    ///
    /// // `command` starts a child that prints "working", then takes far too long.
    /// let child = Popen::spawn(&mut command)?;
    /// let out = match child.communicate(b"", Some(Duration::from_millis(300))) {
    ///     Ok(out) => out,
    ///     Err(e) if e.is_timeout() => {
    ///         child.kill()?;
    ///         let status = child.wait()?; // the child, not its pipes: no grandchild holds this up
    ///         let grace = Duration::from_millis(100); // for bytes still in the pipes
    ///         let stdout = child.asyncread(grace)?.unwrap_or_default();
    ///         let stderr = child.asyncread_from(Stream::Stderr, grace)?.unwrap_or_default();
    ///         Output { status, stdout, stderr }
    ///     }
    ///     Err(e) => return Err(e),
    /// };
    /// assert_eq!(out.stdout, b"working\n");
    /// assert!(!out.status.success());
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    pub fn communicate(&self, input: &[u8], timeout: Option<Duration>) -> Result<Output> {
        communicate::communicate(&self.pipes, &self.process, input, timeout)
    }

    /// Blocks until all of `input` was fed to the child's stdin (then closed), both outputs
    /// were copied to `stdout` and `stderr` to their EOF, and the child exited, or until
    /// `timeout` passed; returns the exit status.
    ///
    /// This is [`communicate`](Popen::communicate) for data of any size: bytes stream through
    /// as they come, so memory stays within the capacities plus one 64 KiB copy buffer,
    /// however much passes. It
    /// never deadlocks, whatever the child reads and writes in whatever order: the filter
    /// pattern (feed a file through `gzip`, read the result) at any size.
    ///
    /// `input` and the writers are used on the calling thread, between moves of the pipes: a
    /// reader that blocks (a terminal, a socket) holds up the output meanwhile. A stream that
    /// was not captured is skipped, and so is `input` when stdin was not piped; the writers
    /// are flushed at the end. `None` waits as long as it takes; so does `Some(Duration::MAX)`.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     let mut buf = [0u8; 8192];
    /// #     let (mut input, mut out) = (std::io::stdin().lock(), std::io::stdout().lock());
    /// #     loop {
    /// #         use std::io::{Read, Write};
    /// #         let n = input.read(&mut buf)?;
    /// #         if n == 0 { return Ok(()); }
    /// #         out.write_all(&buf[..n].to_ascii_uppercase())?;
    /// #     }
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::Command;
    /// use procpump::Popen;
    ///
    /// // `command` starts a child that upper-cases its stdin onto its stdout, like a filter.
    /// let child = Popen::spawn(&mut command)?;
    /// let input = vec![b'a'; 8 << 20];             // far more than every pipe and bound
    /// let mut output = Vec::new();
    /// let status = child.communicate_io(&input[..], &mut output, std::io::sink(), None)?;
    /// assert!(status.success());
    /// assert_eq!(output, vec![b'A'; 8 << 20]);
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    /// # Errors
    /// - [`Error::Timeout`] when `timeout` passes first. Every byte written to the writers is
    ///   exact, and no byte taken from `input` is lost: what was read and not yet queued stays
    ///   with the `Popen`, and so does unread output. Call `communicate_io` again with the rest
    ///   of `input` (or `communicate`) to go on.
    /// - [`Error::Sink`] when a writer fails (the bytes of that write may be partly written);
    ///   [`Error::Source`] when reading `input` fails.
    /// - [`Error::StdinClosed`] when stdin was closed by the caller with input still to send;
    ///   a child that closes its stdin early is not an error (the rest of `input` is not read).
    /// - [`Error::Io`] if reading or writing a pipe failed.
    pub fn communicate_io(
        &self,
        input: impl Read,
        stdout: impl Write,
        stderr: impl Write,
        timeout: Option<Duration>,
    ) -> Result<ExitStatus> {
        let (pipes, process) = (&self.pipes, &self.process);
        communicate::communicate_io(pipes, process, input, stdout, stderr, timeout)
    }

    /// Waits at most `timeout` for output on either stream and returns the first chunk to
    /// arrive, with the stream it came on: `Some((stream, bytes))` with non-empty bytes, or
    /// `None` once both streams reached EOF and every byte was returned.
    ///
    /// Chunks come out in the order the reader threads read them, across both streams; each
    /// call returns the rest of one chunk. Streams that were not captured are skipped.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing arrived in time (`Duration::ZERO` does not wait,
    /// `Duration::MAX` waits for output or EOF however long); [`Error::Io`] once if reading a
    /// pipe failed; [`Error::NotCaptured`] if neither stream was piped.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::{Popen, Stream};
    ///
    /// # // This example runs itself as the child, which writes ten bytes to each stream.
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     print!("0123456789");
    /// #     eprint!("0123456789");
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// let child = Popen::spawn(&mut command)?;
    /// let (mut out, mut err) = (Vec::new(), Vec::new());
    /// while let Some((stream, bytes)) = child.recv_any(Duration::from_secs(10))? {
    ///     match stream {
    ///         Stream::Stdout => out.extend(bytes),
    ///         Stream::Stderr => err.extend(bytes),
    ///     }
    /// }
    /// assert_eq!((out.len(), err.len()), (10, 10));
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn recv_any(&self, timeout: Duration) -> Result<Option<(Stream, Vec<u8>)>> {
        select::recv_any(&self.pipes, deadline_after(timeout))
            .unwrap_or_else(|| Err(Error::timeout("recv_any", timeout)))
    }

    /// Waits until `deadline` for output on either stream; as
    /// [`recv_any`](Popen::recv_any), for a caller that drives a protocol with one deadline.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing arrived by `deadline` (a deadline in the past looks
    /// once); otherwise as for `recv_any`.
    pub fn recv_any_deadline(&self, deadline: Instant) -> Result<Option<(Stream, Vec<u8>)>> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        select::recv_any(&self.pipes, Some(deadline))
            .unwrap_or_else(|| Err(Error::timeout("recv_any_deadline", timeout)))
    }

    /// Blocks until output arrives on either stream, in arrival order, as an iterator that
    /// ends when both streams reached EOF and every byte was returned.
    ///
    /// Each item is what [`recv_any`](Popen::recv_any) with no timeout returns.
    pub fn events(&self) -> Events<'_> {
        Events::new(&self.pipes, None)
    }

    /// Blocks until output arrives on either stream or `deadline` passes, as an iterator: the
    /// items of [`events`](Popen::events) until EOF, or until the deadline, where it yields
    /// one `Err(Error::Timeout)` and ends. Nothing is lost at the deadline: the rest stays
    /// with the `Popen`.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     println!("tick");
    /// #     std::thread::sleep(std::time::Duration::from_secs(30));
    /// #     return Ok(());
    /// # }
    /// # let mut ticker = std::process::Command::new(std::env::current_exe()?);
    /// # ticker.env("PROCPUMP_DOC_CHILD", "1");
    /// use std::time::{Duration, Instant};
    /// use procpump::{Popen, Stream};
    ///
    /// // `ticker` is a Command for a program that prints "tick", then sleeps for 30 s.
    /// let child = Popen::spawn(&mut ticker)?;
    /// let deadline = Instant::now() + Duration::from_millis(500);
    /// let mut events = child.events_deadline(deadline);
    /// assert_eq!(events.next().unwrap()?, (Stream::Stdout, b"tick\n".to_vec()));
    /// assert!(events.next().unwrap().unwrap_err().is_timeout());
    /// assert!(events.next().is_none());
    /// child.kill()?;
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn events_deadline(&self, deadline: Instant) -> Events<'_> {
        Events::new(&self.pipes, Some(deadline))
    }

    /// Waits at most `timeout` for `pattern` to appear on stdout and returns everything up to
    /// and including it; bytes after it stay buffered for the next call (see
    /// [`expect_from`](Popen::expect_from)).
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     use std::io::Write;
    /// #     let mut out = std::io::stdout();
    /// #     out.write_all(b"booting...\nready> ")?;
    /// #     out.flush()?;
    /// #     let mut line = String::new();
    /// #     std::io::stdin().read_line(&mut line)?;
    /// #     out.write_all(format!("you said {line}ready> ").as_bytes())?;
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // `command` starts a child that prints a prompt, reads a line, answers and prompts again.
    /// let child = Popen::spawn(&mut command)?;
    /// let banner = child.expect(b"ready> ", Duration::from_secs(10))?;
    /// assert_eq!(banner, b"booting...\nready> ");
    /// child.send(b"hi\n")?;
    /// let reply = child.read_line(Duration::from_secs(10))?;
    /// assert_eq!(reply.as_deref(), Some(&b"you said hi\n"[..]));
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn expect(&self, pattern: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let deadline = deadline_after(timeout);
        self.pipes
            .output(Stream::Stdout)?
            .expect_or_eof(pattern, deadline, "expect", timeout)
    }

    /// Waits at most `timeout` for `pattern` to appear on `which` and returns everything up to
    /// and including its first occurrence; the rest stays buffered for the next call.
    ///
    /// The pattern may arrive split across any number of chunks. An empty pattern matches at
    /// once. It holds at most [`Options::output_capacity`](crate::Options::output_capacity)
    /// bytes while it searches; the other stream keeps being taken in meanwhile, up to its own
    /// bound.
    ///
    /// # Errors
    /// - [`Error::Timeout`] if the pattern did not appear in time;
    /// - [`Error::UnexpectedEof`] if the stream ended first;
    /// - [`Error::Stalled`] naming `which` if the bound filled without the pattern, or naming
    ///   the other stream if the child is blocked on it with nobody reading it. Avoid the
    ///   latter by merging stderr into stdout, reading the other stream from another thread,
    ///   or making it [`Overflow::KeepTail`](crate::Overflow::KeepTail).
    ///
    /// Nothing is lost in any case: the bytes read are still returned by the next `recv`,
    /// `asyncread` or `expect`.
    #[deprecated(
        since = "0.2.0",
        note = "use the stream's handle: `popen.stderr().unwrap().expect_timeout(pattern, timeout)` (EOF is `Ok(None)` there)"
    )]
    pub fn expect_from(&self, which: Stream, pattern: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let deadline = deadline_after(timeout);
        self.pipes
            .output(which)?
            .expect_or_eof(pattern, deadline, "expect_from", timeout)
    }

    /// Waits at most `timeout` for one line of stdout and returns it with its `\n`; at EOF
    /// a last line without `\n` is returned as it is, then `None`.
    ///
    /// This is the call for streaming a build's output line by line. It never stalls on
    /// stderr filling up while the child writes lines slowly: stderr is taken in meanwhile, up
    /// to its bound.
    ///
    /// # Errors
    /// [`Error::Timeout`] if no whole line arrived in time (nothing is lost);
    /// [`Error::Stalled`] as for [`expect_from`](Popen::expect_from): a line longer than the
    /// bound, or more than the bound of unread stderr (merge it, read it, or make it
    /// [`Overflow::KeepTail`](crate::Overflow::KeepTail)).
    pub fn read_line(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.pipes.output(Stream::Stdout)?.line_deadline(
            deadline_after(timeout),
            "read_line",
            timeout,
        )
    }

    /// Waits at most `timeout` for one line on `which`; as [`read_line`](Popen::read_line).
    #[deprecated(
        since = "0.2.0",
        note = "use the stream's handle: `popen.stderr().unwrap().recv_line_timeout(timeout)`"
    )]
    pub fn read_line_from(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.pipes
            .output(which)?
            .line_deadline(deadline_after(timeout), "read_line_from", timeout)
    }

    /// Returns immediately with how many bytes of `which` the `Popen` holds unread (0 for a
    /// stream that was not captured). At most [`Options::output_capacity`] unless a
    /// [`wait`](Popen::wait) or [`communicate`](Popen::communicate) took in more.
    pub fn buffered(&self, which: Stream) -> usize {
        self.pipes.output(which).map_or(0, OutputHandle::buffered)
    }

    /// Returns immediately with how many bytes of `which` were dropped because the stream is
    /// [`Overflow::KeepTail`](crate::Overflow::KeepTail) and the caller left more than
    /// [`Options::output_capacity`] unread; 0 for a [`Block`](crate::Overflow::Block) stream
    /// or one that was not captured.
    pub fn dropped(&self, which: Stream) -> u64 {
        self.pipes.output(which).map_or(0, OutputHandle::dropped)
    }

    /// Returns immediately with the exit status if the child has exited, `None` if it runs.
    ///
    /// Once it has returned a status, it returns the same one forever.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        self.process.try_wait()
    }

    /// Blocks until the child exits and returns its status; the same status every time.
    ///
    /// While waiting it keeps moving the child's output into the `Popen`'s own buffer, so a
    /// child blocked writing to a full pipe can finish; every byte is still returned by later
    /// `recv`, `asyncread` or `communicate` calls. It does not close stdin: call
    /// [`close_stdin`](Popen::close_stdin) first if the child reads until EOF. Another thread
    /// can [`kill`](Popen::kill) meanwhile.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     use std::io::Write;
    /// #     std::io::stdout().write_all(&vec![b'.'; 4 << 20])?;
    /// #     return Ok(());
    /// # }
    /// # let mut command = std::process::Command::new(std::env::current_exe()?);
    /// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // `command` starts a child that writes 4 MiB to stdout: with std, waiting before reading would deadlock.
    /// let child = Popen::spawn(&mut command)?;
    /// assert!(child.wait()?.success());
    /// let out = child.asyncread(Duration::MAX)?.unwrap_or_default();
    /// assert_eq!(out.len(), 4 << 20);
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    /// The exit is noticed through the output pipes' EOF at once; without captured output, or
    /// while a grandchild holds the pipes, by polling (within 100 ms, or 500 ms while a
    /// grandchild holds the pipes).
    pub fn wait(&self) -> Result<ExitStatus> {
        self.process.wait(&self.pipes)
    }

    /// Waits at most `timeout` for the child to exit; `None` if it still runs.
    ///
    /// Polls at least once, so `Duration::ZERO` still returns a finished status;
    /// `Duration::MAX` is the same as [`wait`](Popen::wait). Output is moved as in `wait`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.process
            .wait_deadline(&self.pipes, deadline_after(timeout))
    }

    /// Waits until `deadline` for the child to exit; `None` if it still runs. As
    /// [`wait_timeout`](Popen::wait_timeout): it polls at least once, so a deadline in the
    /// past still returns a finished status, and output is moved as in `wait`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<Option<ExitStatus>> {
        self.process.wait_deadline(&self.pipes, Some(deadline))
    }

    /// Returns immediately after asking the OS to kill the child; `Ok` if it already exited.
    ///
    /// Bytes the child wrote before it died can still be read.
    pub fn kill(&self) -> Result<()> {
        self.process.kill()
    }
}

impl Drop for Popen {
    fn drop(&mut self) {
        self.close_stdin();
        self.process.release(self.kill_on_drop);
    }
}
