//! Waiting for exit without blocking `kill`, without spinning, and without the classic
//! deadlock of a child blocked on a full output pipe.
//!
//! std offers no portable blocking wait that leaves the child usable from another thread, so
//! `wait` is built from two signals: the output readers reach EOF when the child exits (the
//! prompt signal, taken while moving their output into the `Popen`'s own buffer so the child
//! never blocks on a full pipe), and `try_wait` polled with a backoff (the fallback, for
//! children without captured output or with a grandchild holding the pipes).

use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Select;

use crate::output::OutputPump;
use crate::{deadline_after, Popen, Result};

/// First poll interval after a sign of exit (an EOF), doubled up to `LAST_POLL` while idle.
const FIRST_POLL: Duration = Duration::from_micros(50);
const LAST_POLL: Duration = Duration::from_millis(50);
/// How much one drain step moves at most, so a flooding child cannot stall a deadline.
const DRAIN_STEP: usize = 4 * 1024 * 1024;

/// What one wait step saw.
enum Activity {
    /// An output stream just ended: the child is probably exiting, poll soon.
    Ended,
    /// Output was moved.
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
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.wait_until(None)? {
                return Ok(status);
            }
        }
    }

    /// Waits at most `timeout` for the child to exit; `None` if it still runs.
    ///
    /// Polls at least once, so `Duration::ZERO` still returns a finished status;
    /// `Duration::MAX` is the same as [`wait`](Popen::wait). Output is moved as in `wait`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.wait_until(deadline_after(timeout))
    }

    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        let mut poll = FIRST_POLL;
        loop {
            if let Some(status) = self.process.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            let step_end = now + poll;
            let step_end = match deadline {
                Some(d) if d <= now => return Ok(None),
                Some(d) => d.min(step_end),
                None => step_end,
            };
            match self.drain_outputs(step_end) {
                Activity::Ended => poll = FIRST_POLL,
                Activity::Data => {}
                Activity::Idle => poll = (poll * 2).min(LAST_POLL),
            }
        }
    }

    /// Moves output from the channels into the buffers until `until` or the first activity.
    fn drain_outputs(&self, until: Instant) -> Activity {
        let open: Vec<&OutputPump> = [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_ended())
            .collect();
        let mut activity = Activity::Idle;
        for pump in &open {
            activity = merge(activity, drain_one(pump));
        }
        if !matches!(activity, Activity::Idle) {
            return activity;
        }
        if open.is_empty() {
            sleep_until(until);
            return Activity::Idle;
        }
        let mut sel = Select::new();
        for pump in &open {
            sel.recv(pump.receiver());
        }
        match sel.ready_deadline(until) {
            Ok(i) => match drain_one(open[i]) {
                // Another thread holds the stream and is reading it: let it, and sleep a step.
                Activity::Idle => {
                    sleep_until(until);
                    Activity::Idle
                }
                seen => seen,
            },
            Err(_) => Activity::Idle,
        }
    }
}

/// Moves what is in one channel into its buffer, unless another thread is reading it.
fn drain_one(pump: &OutputPump) -> Activity {
    let Some(mut st) = pump.try_lock() else {
        return Activity::Idle;
    };
    let before = st.buffered();
    pump.pull(&mut st, before.saturating_add(DRAIN_STEP));
    if st.is_ended() {
        Activity::Ended
    } else if st.buffered() > before {
        Activity::Data
    } else {
        Activity::Idle
    }
}

fn merge(a: Activity, b: Activity) -> Activity {
    match (a, b) {
        (Activity::Ended, _) | (_, Activity::Ended) => Activity::Ended,
        (Activity::Data, _) | (_, Activity::Data) => Activity::Data,
        _ => Activity::Idle,
    }
}

fn sleep_until(until: Instant) {
    let left = until.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        thread::sleep(left);
    }
}
