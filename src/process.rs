//! The process handle: try_wait / wait / kill / reap, shared across threads without blocking
//! `kill`.
//!
//! std's `Child::wait` needs `&mut Child` and blocks, so holding it behind a lock would block
//! `kill` for as long as the child runs. Instead every call here takes the lock only for a
//! non-blocking `try_wait` or `kill`, and the blocking waits are built on top from two
//! signals: the output readers reach EOF when the child exits (the prompt signal, taken while
//! moving their output into the pipes' buffers so the child never blocks on a full pipe), and
//! `try_wait` polled with a backoff (the fallback, for children without captured output or
//! with a grandchild holding the pipes).

use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::pipes::{Activity, Pipes};
use crate::Result;

/// First poll interval after a sign of exit (an EOF), doubled up to `LAST_POLL` while idle.
const FIRST_POLL: Duration = Duration::from_micros(50);
const LAST_POLL: Duration = Duration::from_millis(100);
/// How many times to yield and poll at once when the outputs have ended, before sleeping.
const QUICK_POLLS: u32 = 4;
/// How long one step waits while an output is still open: its EOF is the prompt exit signal,
/// so `try_wait` is only the fallback (for a grandchild holding the pipe) and can be rare. A
/// timed wake-up costs tens of microseconds of CPU on a VM: this keeps waiting near zero.
const OPEN_POLL: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// `None` once the child was handed to the reaper on drop.
    child: Mutex<Option<Child>>,
    /// Cached once seen, so that repeated waits agree and `try_wait` never goes back to `None`.
    status: Mutex<Option<ExitStatus>>,
}

impl Process {
    pub(crate) fn new(child: Child) -> Self {
        Process {
            pid: child.id(),
            child: Mutex::new(Some(child)),
            status: Mutex::new(None),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Returns immediately with the exit status if the child has exited.
    pub(crate) fn try_wait(&self) -> Result<Option<ExitStatus>> {
        if let Some(status) = *self.status.lock() {
            return Ok(Some(status));
        }
        let mut child = self.child.lock();
        let Some(child) = child.as_mut() else {
            return Ok(None);
        };
        let found = child.try_wait()?;
        if let Some(status) = found {
            *self.status.lock() = Some(status);
        }
        Ok(found)
    }

    /// Blocks until the child exits; see [`wait_deadline`](Process::wait_deadline).
    pub(crate) fn wait(&self, pipes: &Pipes) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.wait_deadline(pipes, None)? {
                return Ok(status);
            }
        }
    }

    /// Waits until `deadline` (for ever: `None`) for the child to exit, moving its output into
    /// the pipes' buffers meanwhile so it cannot block on a full pipe; `None` if it still runs.
    pub(crate) fn wait_deadline(
        &self,
        pipes: &Pipes,
        deadline: Option<Instant>,
    ) -> Result<Option<ExitStatus>> {
        // Every byte the child writes is taken in while this runs: the bound is lifted.
        let outputs = pipes.outputs();
        let _draining: Vec<_> = outputs.iter().map(|c| c.draining()).collect();
        let mut poll = FIRST_POLL;
        let mut quick = QUICK_POLLS;
        let mut was_open = true;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let outputs_open = !pipes.open_outputs().is_empty();
            if was_open && !outputs_open {
                // The outputs ended (perhaps seen by another thread): the exit is near.
                poll = FIRST_POLL;
                quick = QUICK_POLLS;
            }
            was_open = outputs_open;
            if quick > 0 && !outputs_open && deadline.is_none_or(|d| Instant::now() < d) {
                // The outputs ended, so the child is probably exiting: that usually takes
                // microseconds, less than the shortest sleep the OS gives. A few yields first.
                quick -= 1;
                thread::yield_now();
                continue;
            }
            let now = Instant::now();
            let step = if outputs_open { OPEN_POLL } else { poll };
            let step_end = match deadline {
                Some(d) if d <= now => return Ok(None),
                Some(d) => d.min(now + step),
                None => now + step,
            };
            match pipes.pump_step(step_end, outputs_open) {
                Activity::Ended => {
                    poll = FIRST_POLL;
                    quick = QUICK_POLLS;
                }
                Activity::Data => {}
                Activity::Idle => poll = (poll * 2).min(LAST_POLL),
            }
        }
    }

    /// Returns immediately after asking the OS to kill the child; `Ok` if it already exited.
    pub(crate) fn kill(&self) -> Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let mut child = self.child.lock();
        let Some(child) = child.as_mut() else {
            return Ok(());
        };
        match child.kill() {
            Ok(()) => Ok(()),
            // The child exited between our try_wait and kill: that is success for the caller.
            Err(_) if matches!(child.try_wait(), Ok(Some(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Returns immediately; a child still running is reaped by a small detached thread once it
    /// exits (killed first if `kill` is set), so a dropped handle never leaves a zombie.
    pub(crate) fn release(&self, kill: bool) {
        if kill {
            let _ = self.kill();
        }
        if matches!(self.try_wait(), Ok(Some(_))) {
            return;
        }
        let Some(mut child) = self.child.lock().take() else {
            return;
        };
        // If no thread can be started, the child is left to the OS: it is reaped when this
        // process exits. Nothing better is possible without platform-specific calls.
        let _ = crate::pool::run(move || {
            let _ = child.wait();
        });
    }
}
