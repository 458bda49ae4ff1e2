//! `communicate`: write all input, read both outputs to EOF, wait for exit — never deadlocking,
//! and losing nothing on a timeout.

use std::io::{Read, Write};
use std::process::{ExitStatus, Output};
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;

use crate::input::InputHandle;
use crate::pipes::Pipes;
use crate::process::Process;
use crate::{deadline_after, Error, Result, Stream};

/// [`Popen::communicate`](crate::Popen::communicate).
pub(crate) fn communicate(
    pipes: &Pipes,
    process: &Process,
    input: &[u8],
    timeout: Option<Duration>,
) -> Result<Output> {
    let deadline = timeout.and_then(deadline_after);
    let timed_out = || Error::timeout("communicate", timeout.unwrap_or(Duration::MAX));
    let mut unsent = lock_unsent(pipes, deadline).ok_or_else(timed_out)?;
    if !input.is_empty() {
        let stdin = pipes.input()?;
        if stdin.is_closed() && unsent.is_empty() {
            return Err(Error::StdinClosed);
        }
        unsent.append(input);
    }
    // Everything the child writes is taken in: the bound is lifted while this runs.
    let outputs = pipes.outputs();
    let _draining: Vec<_> = outputs.iter().map(|c| c.draining()).collect();
    // Woken by the writer's progress too, while feeding input.
    let _feeding = pipes.stdin.as_ref().map(InputHandle::waiting);
    // No stream lock is held while waiting: another thread may keep reading or writing
    // (what it takes, communicate does not return).
    loop {
        let seen = pipes.hub.signal.epoch();
        if let Some(stdin) = &pipes.stdin {
            feed(stdin, &mut unsent)?;
        }
        for core in &outputs {
            core.move_along();
        }
        if unsent.is_empty() && pipes.open_outputs().is_empty() {
            break;
        }
        // Checked on every turn: with a busy child something always happens, so the
        // wait below alone would never report the deadline.
        let step_end = step_end(deadline).ok_or_else(timed_out)?;
        pipes.hub.signal.wait_past(seen, Some(step_end));
    }
    let status = process
        .wait_deadline(pipes, deadline)?
        .ok_or_else(timed_out)?;
    if let Some(e) = pipes.stdin.as_ref().and_then(InputHandle::take_io_error) {
        return Err(Error::Io(e));
    }
    let mut output = Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    for which in [Stream::Stdout, Stream::Stderr] {
        let Ok(pump) = pipes.output(which) else {
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

/// [`Popen::communicate_io`](crate::Popen::communicate_io).
pub(crate) fn communicate_io(
    pipes: &Pipes,
    process: &Process,
    mut input: impl Read,
    mut stdout: impl Write,
    mut stderr: impl Write,
    timeout: Option<Duration>,
) -> Result<ExitStatus> {
    let deadline = timeout.and_then(deadline_after);
    let timed_out = || Error::timeout("communicate_io", timeout.unwrap_or(Duration::MAX));
    let mut unsent = lock_unsent(pipes, deadline).ok_or_else(timed_out)?;
    let mut copy = Vec::new();
    let mut input_done = pipes.stdin.is_none();
    let _feeding = pipes.stdin.as_ref().map(InputHandle::waiting);
    loop {
        let seen = pipes.hub.signal.epoch();
        copy_out(pipes, Stream::Stdout, &mut stdout)?;
        copy_out(pipes, Stream::Stderr, &mut stderr)?;
        if let Some(stdin) = &pipes.stdin {
            input_done = feed_from(stdin, &mut unsent, &mut input, &mut copy, input_done)?;
        }
        if input_done && pipes.open_outputs().is_empty() {
            break;
        }
        let step_end = step_end(deadline).ok_or_else(timed_out)?;
        pipes.hub.signal.wait_past(seen, Some(step_end));
    }
    // The last bytes, once the streams ended.
    copy_out(pipes, Stream::Stdout, &mut stdout)?;
    copy_out(pipes, Stream::Stderr, &mut stderr)?;
    let sink = |stream| move |source| Error::Sink { stream, source };
    stdout.flush().map_err(sink(Stream::Stdout))?;
    stderr.flush().map_err(sink(Stream::Stderr))?;
    let status = process
        .wait_deadline(pipes, deadline)?
        .ok_or_else(timed_out)?;
    if let Some(e) = pipes.stdin.as_ref().and_then(InputHandle::take_io_error) {
        return Err(Error::Io(e));
    }
    Ok(status)
}

/// Returns once everything buffered of `which` was written to `to`.
fn copy_out(pipes: &Pipes, which: Stream, to: &mut impl Write) -> Result<()> {
    let Ok(pump) = pipes.output(which) else {
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
fn lock_unsent(pipes: &Pipes, deadline: Option<Instant>) -> Option<MutexGuard<'_, Unsent>> {
    match deadline {
        None => Some(pipes.unsent.lock()),
        Some(d) => pipes.unsent.try_lock_until(d),
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
fn feed(stdin: &InputHandle, unsent: &mut Unsent) -> Result<()> {
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
    stdin: &InputHandle,
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
