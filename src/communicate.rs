//! `communicate`: write all input, read both outputs to EOF, wait for exit — never deadlocking,
//! and losing nothing on a timeout.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::input::InputPump;
use crate::{deadline_after, Error, Popen, Result, Stream};

impl Popen {
    /// Blocks until the child has taken `input` (or closed its stdin), both outputs reached EOF
    /// and the child exited, or until `timeout` passed; returns the status and all output not
    /// returned by earlier calls.
    ///
    /// Stdin is closed once the input is written, so the child sees EOF. A child that exits
    /// without reading all its input is not an error. Output of a stream that was not captured
    /// is empty. `None` waits as long as it takes; so does `Some(Duration::MAX)`.
    ///
    /// # Errors
    /// [`Error::Timeout`] when `timeout` passes first. Nothing is lost then: the output read so
    /// far and the input not yet written stay with the `Popen`, and calling
    /// `communicate(b"", ..)` again continues writing that input and returns all the output
    /// from the first call on, exactly once (as CPython's `communicate` does). Input given to a
    /// later call is appended to what is still unsent.
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
    /// [`Error::NotCaptured`] for non-empty `input` when stdin was not piped;
    /// [`Error::StdinClosed`] for non-empty `input` after stdin was closed;
    /// [`Error::Io`] if reading or writing a pipe failed (the output stays buffered).
    pub fn communicate(&self, input: &[u8], timeout: Option<Duration>) -> Result<Output> {
        let deadline = timeout.and_then(deadline_after);
        let timed_out = || Error::timeout("communicate", timeout.unwrap_or(Duration::MAX));
        let mut unsent = match deadline {
            None => self.unsent.lock(),
            Some(d) => self.unsent.try_lock_until(d).ok_or_else(timed_out)?,
        };
        if !input.is_empty() {
            let stdin = self.input()?;
            if stdin.is_closed() && unsent.is_empty() {
                return Err(Error::StdinClosed);
            }
            unsent.append(input);
        }
        // No stream lock is held while waiting: another thread may keep reading or writing
        // (what it takes, communicate does not return), and `pump_step` moves the rest.
        loop {
            if let Some(stdin) = &self.stdin {
                feed(stdin, &mut unsent)?;
            }
            if unsent.is_empty() && self.open_outputs().is_empty() {
                break;
            }
            // Checked on every turn: with a busy child something is always ready, so the
            // wait below alone would never report the deadline.
            let now = Instant::now();
            let step_end = now + STEP;
            let step_end = match deadline {
                Some(d) if d <= now => return Err(timed_out()),
                Some(d) => d.min(step_end),
                None => step_end,
            };
            let tx = match (&self.stdin, unsent.is_empty()) {
                (Some(stdin), false) => stdin.sender(),
                _ => None,
            };
            self.pump_step(step_end, tx.as_ref());
        }
        let status = self.wait_until(deadline)?.ok_or_else(timed_out)?;
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
            let mut st = pump.lock_until(deadline).ok_or_else(timed_out)?;
            // The stream has ended: whatever is still in the channel is moved in now.
            pump.pull(&mut st, usize::MAX);
            if let Some(e) = st.take_error_now() {
                return Err(Error::Io(e));
            }
            let all = st.take(usize::MAX);
            match which {
                Stream::Stdout => output.stdout = all,
                Stream::Stderr => output.stderr = all,
            }
        }
        Ok(output)
    }
}

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
        match stdin.send(&unsent.data[unsent.pos..]) {
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
