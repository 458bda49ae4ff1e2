//! `communicate`: write all input, read both outputs to EOF, wait for exit — never deadlocking,
//! and losing nothing on a timeout.

use std::io::{Read, Write};
use std::process::{ExitStatus, Output};
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;

use crate::input::InputPump;
use crate::{deadline_after, Error, Popen, Result, Stream};

impl Popen {
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
    /// # let program = std::env::current_exe()?;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // A child that prints "started", works for 300 ms, then prints "finished".
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
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
    /// # let program = std::env::current_exe()?;
    /// use std::process::{Command, Output};
    /// use std::time::Duration;
    /// use procpump::{Popen, Stream};
    ///
    /// // A child that prints "working", then takes far too long.
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
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
        let deadline = timeout.and_then(deadline_after);
        let timed_out = || Error::timeout("communicate", timeout.unwrap_or(Duration::MAX));
        let mut unsent = self.lock_unsent(deadline).ok_or_else(timed_out)?;
        if !input.is_empty() {
            let stdin = self.input()?;
            if stdin.is_closed() && unsent.is_empty() {
                return Err(Error::StdinClosed);
            }
            unsent.append(input);
        }
        // Everything the child writes is taken in: the bound is lifted while this runs.
        let outputs = self.outputs();
        let _draining: Vec<_> = outputs.iter().map(|c| c.draining()).collect();
        // No stream lock is held while waiting: another thread may keep reading or writing
        // (what it takes, communicate does not return).
        loop {
            let seen = self.hub.signal.epoch();
            if let Some(stdin) = &self.stdin {
                feed(stdin, &mut unsent)?;
            }
            for core in &outputs {
                core.move_along();
            }
            if unsent.is_empty() && self.open_outputs().is_empty() {
                break;
            }
            // Checked on every turn: with a busy child something always happens, so the
            // wait below alone would never report the deadline.
            let step_end = step_end(deadline).ok_or_else(timed_out)?;
            self.hub.signal.wait_past(seen, Some(step_end));
        }
        let status = self.wait_deadline(deadline)?.ok_or_else(timed_out)?;
        if let Some(e) = self.stdin.as_ref().and_then(InputPump::take_io_error) {
            return Err(Error::Io(e));
        }
        let mut output = Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        for which in [Stream::Stdout, Stream::Stderr] {
            let Ok(pump) = self.output(which) else {
                continue;
            };
            let mut r = pump.core().read();
            if let Some(e) = r.take_error_now() {
                return Err(Error::Io(e));
            }
            let all = r.take(usize::MAX);
            match which {
                Stream::Stdout => output.stdout = all,
                Stream::Stderr => output.stderr = all,
            }
        }
        Ok(output)
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
    /// # let program = std::env::current_exe()?;
    /// use std::process::Command;
    /// use procpump::Popen;
    ///
    /// // `program` upper-cases its stdin onto its stdout, like a filter would.
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
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
        mut input: impl Read,
        mut stdout: impl Write,
        mut stderr: impl Write,
        timeout: Option<Duration>,
    ) -> Result<ExitStatus> {
        let deadline = timeout.and_then(deadline_after);
        let timed_out = || Error::timeout("communicate_io", timeout.unwrap_or(Duration::MAX));
        let mut unsent = self.lock_unsent(deadline).ok_or_else(timed_out)?;
        let mut copy = Vec::new();
        let mut input_done = self.stdin.is_none();
        loop {
            let seen = self.hub.signal.epoch();
            self.copy_out(Stream::Stdout, &mut stdout)?;
            self.copy_out(Stream::Stderr, &mut stderr)?;
            if let Some(stdin) = &self.stdin {
                input_done = feed_from(stdin, &mut unsent, &mut input, &mut copy, input_done)?;
            }
            if input_done && self.open_outputs().is_empty() {
                break;
            }
            let step_end = step_end(deadline).ok_or_else(timed_out)?;
            self.hub.signal.wait_past(seen, Some(step_end));
        }
        // The last bytes, once the streams ended.
        self.copy_out(Stream::Stdout, &mut stdout)?;
        self.copy_out(Stream::Stderr, &mut stderr)?;
        let sink = |stream| move |source| Error::Sink { stream, source };
        stdout.flush().map_err(sink(Stream::Stdout))?;
        stderr.flush().map_err(sink(Stream::Stderr))?;
        let status = self.wait_deadline(deadline)?.ok_or_else(timed_out)?;
        if let Some(e) = self.stdin.as_ref().and_then(InputPump::take_io_error) {
            return Err(Error::Io(e));
        }
        Ok(status)
    }

    /// Returns once everything buffered of `which` was written to `to`.
    fn copy_out(&self, which: Stream, to: &mut impl Write) -> Result<()> {
        let Ok(pump) = self.output(which) else {
            return Ok(());
        };
        // Taken under the lock, written without it: a slow writer blocks no other thread.
        let (data, error) = {
            let mut r = pump.core().read();
            let data = r.take(usize::MAX);
            (data, r.take_error())
        };
        to.write_all(&data).map_err(|source| Error::Sink {
            stream: which,
            source,
        })?;
        error.map_or(Ok(()), |e| Err(Error::Io(e)))
    }

    /// Waits until `deadline` for the right to feed the unsent input; `None` on timeout.
    fn lock_unsent(&self, deadline: Option<Instant>) -> Option<MutexGuard<'_, Unsent>> {
        match deadline {
            None => Some(self.unsent.lock()),
            Some(d) => self.unsent.try_lock_until(d),
        }
    }
}

/// The end of one turn of a feeding loop: `STEP` from now, or the deadline if sooner; `None`
/// once the deadline has passed.
fn step_end(deadline: Option<Instant>) -> Option<Instant> {
    let now = Instant::now();
    match deadline {
        Some(d) if d <= now => None,
        Some(d) => Some(d.min(now + STEP)),
        None => Some(now + STEP),
    }
}

/// The size of `communicate_io`'s one copy buffer for its input.
const COPY_BUFFER: usize = 64 * 1024;

/// How long one turn of the loop waits at most, so that a `close_stdin` or an EOF seen by
/// another thread is noticed.
const STEP: Duration = Duration::from_millis(100);

/// Input given to `communicate` and not yet queued; kept across a timeout.
#[derive(Debug, Default)]
pub(crate) struct Unsent {
    data: Vec<u8>,
    /// Bytes of `data` already queued: an offset, so a large input is not shifted per send.
    pos: usize,
}

impl Unsent {
    fn append(&mut self, more: &[u8]) {
        self.data.drain(..self.pos);
        self.pos = 0;
        self.data.extend_from_slice(more);
    }

    fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    fn clear(&mut self) {
        self.data = Vec::new();
        self.pos = 0;
    }
}

/// Queues what fits of `unsent` without blocking; closes stdin once it is all queued.
fn feed(stdin: &InputPump, unsent: &mut Unsent) -> Result<()> {
    if !unsent.is_empty() {
        match stdin.queue(&unsent.data[unsent.pos..]) {
            Ok(n) => {
                unsent.pos += n;
                if unsent.is_empty() {
                    unsent.clear();
                }
            }
            // The caller closed stdin with input still unsent: that input cannot be written.
            Err(Error::StdinClosed) if stdin.is_closed() => {
                unsent.clear();
                return Err(Error::StdinClosed);
            }
            // The child closed its stdin: it will not read the rest, which is its business.
            Err(Error::StdinClosed) => unsent.clear(),
            Err(e) => return Err(e),
        }
    }
    if unsent.is_empty() {
        stdin.close();
    }
    Ok(())
}

/// Queues what fits of the unsent input, reading more from `input` (one `copy` buffer at a
/// time) once it is all queued; closes stdin at the end of `input`. Returns whether all input
/// was fed (or the child closed its stdin, so the rest will never be read).
fn feed_from(
    stdin: &InputPump,
    unsent: &mut Unsent,
    input: &mut impl Read,
    copy: &mut Vec<u8>,
    mut done: bool,
) -> Result<bool> {
    loop {
        if !unsent.is_empty() {
            match stdin.queue(&unsent.data[unsent.pos..]) {
                Ok(n) => unsent.pos += n,
                Err(Error::StdinClosed) if stdin.is_closed() => {
                    unsent.clear();
                    return Err(Error::StdinClosed);
                }
                // The child closed its stdin: it will not read the rest.
                Err(Error::StdinClosed) => {
                    unsent.clear();
                    return Ok(true);
                }
                Err(e) => return Err(e),
            }
            if !unsent.is_empty() {
                return Ok(done); // the queue is full: wait for room
            }
            unsent.clear();
        }
        if done {
            stdin.close();
            return Ok(true);
        }
        if copy.is_empty() {
            copy.resize(COPY_BUFFER, 0);
        }
        let n = loop {
            match input.read(copy) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => return Err(Error::Source { source }),
            }
        };
        if n == 0 {
            done = true;
        } else {
            unsent.append(&copy[..n]);
        }
    }
}
