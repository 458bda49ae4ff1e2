//! Waiting for exit without blocking `kill`, without spinning, and without the classic
//! deadlock of a child blocked on a full output pipe.
//!
//! std offers no portable blocking wait that leaves the child usable from another thread, so
//! `wait` is built from two signals: the output readers reach EOF when the child exits (the
//! prompt signal, taken while moving their output into the `Popen`'s own buffer so the child
//! never blocks on a full pipe), and `try_wait` polled with a backoff (the fallback, for
//! children without captured output or with a grandchild holding the pipes).

use std::process::ExitStatus;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::output::Core;
use crate::{deadline_after, Popen, Result};

/// First poll interval after a sign of exit (an EOF), doubled up to `LAST_POLL` while idle.
const FIRST_POLL: Duration = Duration::from_micros(50);
const LAST_POLL: Duration = Duration::from_millis(100);
/// How many times to yield and poll at once when the outputs have ended, before sleeping.
const QUICK_POLLS: u32 = 4;
/// How long one step waits while an output is still open: its EOF is the prompt exit signal,
/// so `try_wait` is only the fallback (for a grandchild holding the pipe) and can be rare. A
/// timed wake-up costs tens of microseconds of CPU on a VM: this keeps waiting near zero.
const OPEN_POLL: Duration = Duration::from_millis(500);

/// What one pump step saw.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Activity {
    /// An output stream just ended: the child is probably exiting, poll soon.
    Ended,
    /// Something happened (output moved, stdin has room).
    Data,
    /// Nothing happened until the step's end.
    Idle,
}

impl Popen {
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
    /// # let program = std::env::current_exe()?;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // A child that writes 4 MiB to stdout: with std, waiting before reading would deadlock.
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
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
        loop {
            if let Some(status) = self.wait_deadline(None)? {
                return Ok(status);
            }
        }
    }

    /// Waits at most `timeout` for the child to exit; `None` if it still runs.
    ///
    /// Polls at least once, so `Duration::ZERO` still returns a finished status;
    /// `Duration::MAX` is the same as [`wait`](Popen::wait). Output is moved as in `wait`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.wait_deadline(deadline_after(timeout))
    }

    pub(crate) fn wait_deadline(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        // Every byte the child writes is taken in while this runs: the bound is lifted.
        let outputs = self.outputs();
        let _draining: Vec<_> = outputs.iter().map(|c| c.draining()).collect();
        let mut poll = FIRST_POLL;
        let mut quick = QUICK_POLLS;
        let mut was_open = true;
        loop {
            if let Some(status) = self.process.try_wait()? {
                return Ok(Some(status));
            }
            let outputs_open = !self.open_outputs().is_empty();
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
            match self.pump_step(step_end) {
                Activity::Ended => {
                    poll = FIRST_POLL;
                    quick = QUICK_POLLS;
                }
                Activity::Data => {}
                Activity::Idle => poll = (poll * 2).min(LAST_POLL),
            }
        }
    }

    /// The captured output streams.
    pub(crate) fn outputs(&self) -> Vec<&Core> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .map(|p| &**p.core())
            .collect()
    }

    /// The captured output streams that have not ended yet.
    pub(crate) fn open_outputs(&self) -> Vec<&Core> {
        let mut outputs = self.outputs();
        outputs.retain(|c| !c.is_ended());
        outputs
    }

    /// Moves output from the channels into the buffers, waiting until `until` for the first
    /// event of the child if nothing was there.
    fn pump_step(&self, until: Instant) -> Activity {
        let seen = self.hub.signal.epoch();
        let activity = self.move_outputs();
        if activity != Activity::Idle || self.open_outputs().is_empty() {
            if activity == Activity::Idle {
                sleep_until(until);
            }
            return activity;
        }
        // Parked on the hub: no spinning, one wake-up per event.
        if self.hub.signal.wait_past(seen, Some(until)) {
            self.move_outputs()
        } else {
            Activity::Idle
        }
    }

    /// Moves what is in each open output's channel into its buffer.
    fn move_outputs(&self) -> Activity {
        let mut activity = Activity::Idle;
        for core in self.open_outputs() {
            let moved = core.in_channel.load(Ordering::Acquire) > 0;
            core.move_along();
            if core.is_ended() {
                activity = Activity::Ended;
            } else if moved && activity == Activity::Idle {
                activity = Activity::Data;
            }
        }
        activity
    }
}

fn sleep_until(until: Instant) {
    let left = until.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        thread::sleep(left);
    }
}
