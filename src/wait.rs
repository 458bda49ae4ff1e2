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

use crossbeam_channel::{Select, Sender};

use crate::output::OutputPump;
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
/// How long to step aside when another thread holds a ready stream: it is reading it.
const BUSY_PAUSE: Duration = Duration::from_millis(1);
/// How much one drain step moves at most, so a flooding child cannot stall a deadline.
const DRAIN_STEP: usize = 4 * 1024 * 1024;

/// What one pump step saw.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// An output stream just ended: the child is probably exiting, poll soon.
    Ended,
    /// Output was moved, or stdin has room.
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
            match self.pump_step(step_end, None) {
                Activity::Ended => {
                    poll = FIRST_POLL;
                    quick = QUICK_POLLS;
                }
                Activity::Data => {}
                Activity::Idle => poll = (poll * 2).min(LAST_POLL),
            }
        }
    }

    /// The captured output streams that have not ended yet.
    pub(crate) fn open_outputs(&self) -> Vec<&OutputPump> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_ended())
            .collect()
    }

    /// Moves output from the channels into the buffers, waiting until `until` for the first
    /// activity: output, an EOF, or room in the stdin queue when `stdin` is given.
    pub(crate) fn pump_step(&self, until: Instant, stdin: Option<&Sender<Vec<u8>>>) -> Activity {
        let mut activity = Activity::Idle;
        for pump in self.open_outputs() {
            activity = merge(activity, drain_one(pump));
        }
        if activity != Activity::Idle {
            return activity;
        }
        let open = self.open_outputs();
        let ready = match (stdin, open.first()) {
            (None, None) => {
                sleep_until(until);
                return Activity::Idle;
            }
            (None, Some(first)) => {
                // Parked on the readers' shared signal: no spinning, one wake-up per event.
                let news = || open.iter().any(|p| p.has_news());
                first
                    .signal()
                    .wait_until(news, Some(until))
                    .then(|| open.iter().position(|p| p.has_news()))
                    .flatten()
            }
            (Some(tx), _) => {
                // Room in the stdin queue is only visible to a `Select`.
                let mut sel = Select::new();
                sel.send(tx);
                for pump in &open {
                    sel.recv(pump.receiver());
                }
                match sel.ready_deadline(until) {
                    Ok(0) => return Activity::Data, // stdin has room
                    Ok(i) => Some(i - 1),
                    Err(_) => None,
                }
            }
        };
        let Some(i) = ready else {
            return Activity::Idle;
        };
        match drain_one(open[i]) {
            Activity::Idle => {
                // Another thread holds this stream and is reading it: let it.
                sleep_until(until.min(Instant::now() + BUSY_PAUSE));
                Activity::Idle
            }
            seen => seen,
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
