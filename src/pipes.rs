//! The child's captured pipes: its three handles and what they share (the hub where callers
//! wait, the input `communicate` has not queued yet). Operations on more than one pipe live
//! beside this: both outputs in arrival order (`select.rs`), the whole exchange
//! (`communicate.rs`).

use std::io;
use std::process::{Child, ChildStdin};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use parking_lot::Mutex;

use crate::communicate::Unsent;
use crate::input::InputHandle;
use crate::options::{slots_and_chunk, Options};
use crate::output::{self, Core, OutputHandle, Sizes};
use crate::signal::Hub;
use crate::{Error, Result, Stream};

#[derive(Debug)]
pub(crate) struct Pipes {
    pub(crate) stdout: Option<OutputHandle>,
    pub(crate) stderr: Option<OutputHandle>,
    pub(crate) stdin: Option<InputHandle>,
    /// Input given to `communicate` and not yet queued; kept across a timeout.
    pub(crate) unsent: Mutex<Unsent>,
    /// Where the caller's threads wait for anything this child's pumps do.
    pub(crate) hub: Arc<Hub>,
}

/// A pipe to read from: the child's own, or the read end of the merged pipe.
type Source = Box<dyn io::Read + Send>;

impl Pipes {
    /// Starts a reader thread per output pipe and prepares the stdin writer. `merged` is the
    /// read end of the pipe that stdout and stderr share, when they do.
    pub(crate) fn start(
        child: &mut Child,
        merged: Option<Source>,
        opts: &Options,
        hub: Arc<Hub>,
    ) -> io::Result<Pipes> {
        let start = |which: Stream, pipe: Option<Source>| {
            pipe.map(|p| {
                let sizes = Sizes {
                    capacity: opts.output_capacity,
                    read_ahead: opts.read_ahead,
                    chunk: opts.chunk_size.min(opts.output_capacity),
                    policy: opts.overflow[which as usize],
                };
                output::start(which, p, sizes, &hub)
            })
            .transpose()
        };
        let stdout = merged.or_else(|| child.stdout.take().map(|p| Box::new(p) as Source));
        let stderr = child.stderr.take().map(|p| Box::new(p) as Source);
        let stdout = start(Stream::Stdout, stdout)?;
        let stderr = start(Stream::Stderr, stderr)?;
        let outputs: Vec<Arc<Core>> = stdout.iter().chain(&stderr).cloned().collect();
        let stdin = child
            .stdin
            .take()
            .map(|p| input(p, opts, Arc::clone(&hub), outputs));
        let handle = |core: &Option<Arc<Core>>, sibling: &Option<Arc<Core>>| {
            core.clone()
                .map(|core| OutputHandle::new(core, sibling.clone()))
        };
        Ok(Pipes {
            stdout: handle(&stdout, &stderr),
            stderr: handle(&stderr, &stdout),
            stdin,
            unsent: Mutex::new(Unsent::default()),
            hub,
        })
    }

    /// The handle of `which`, or [`Error::NotCaptured`].
    pub(crate) fn output(&self, which: Stream) -> Result<&OutputHandle> {
        let handle = match which {
            Stream::Stdout => self.stdout.as_ref(),
            Stream::Stderr => self.stderr.as_ref(),
        };
        handle.ok_or(Error::NotCaptured {
            stream: which.name(),
        })
    }

    /// The stdin handle, or [`Error::NotCaptured`].
    pub(crate) fn input(&self) -> Result<&InputHandle> {
        self.stdin
            .as_ref()
            .ok_or(Error::NotCaptured { stream: "stdin" })
    }

    /// The captured output streams, stdout first.
    pub(crate) fn outputs(&self) -> Vec<&Core> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .map(|h| &**h.core())
            .collect()
    }

    /// The captured output streams whose end has not been seen yet.
    pub(crate) fn open_outputs(&self) -> Vec<&Core> {
        let mut outputs = self.outputs();
        outputs.retain(|c| !c.is_ended());
        outputs
    }

    /// Moves output from the channels into the buffers, waiting until `until` for the first
    /// event of the child if nothing was there. `expect_open`: the caller saw an output open
    /// (and chose a long step); if another thread has seen them all end since, that is the
    /// news, not a reason to sleep the whole step.
    pub(crate) fn pump_step(&self, until: Instant, expect_open: bool) -> Activity {
        let seen = self.hub.signal.epoch();
        let activity = self.move_outputs();
        if expect_open && activity == Activity::Idle && self.open_outputs().is_empty() {
            return Activity::Ended;
        }
        if activity != Activity::Idle || self.open_outputs().is_empty() {
            if activity == Activity::Idle {
                sleep_to_deadline(until);
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

/// The stdin handle: its queue holds `input_capacity` bytes in pieces of at most `chunk_size`,
/// sixteen pieces at least, so that many small sends fit before it reports full. The writer
/// joins what is queued into one vectored write of up to the same bound.
fn input(pipe: ChildStdin, opts: &Options, hub: Arc<Hub>, outputs: Vec<Arc<Core>>) -> InputHandle {
    let (slots, chunk) = slots_and_chunk(opts.input_capacity, opts.chunk_size, 16);
    InputHandle::new(pipe, chunk, slots, opts.input_capacity, hub, outputs)
}

/// What one pump step saw.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// An output stream just ended: the child is probably exiting, poll soon.
    Ended,
    /// Something happened (output moved).
    Data,
    /// Nothing happened until the step's end.
    Idle,
}

fn sleep_to_deadline(until: Instant) {
    let left = until.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        thread::sleep(left);
    }
}
