//! Where pump threads come from: a thread that finished its pipe waits a short while for the
//! next one before it ends, so a program that starts many children pays a thread start
//! (30–70 µs measured) only when none is idle.
//!
//! A thread serves one pipe at a time, from start to end, exactly as a thread started for it
//! would: the design's "one thread per pipe" holds. Idle threads end after [`IDLE`].

use std::io;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// Stack size for the threads procpump starts; they only move bytes between heap buffers.
pub(crate) const THREAD_STACK: usize = 64 * 1024;

/// How long a thread with nothing to do waits for the next pipe before it ends.
const IDLE: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A rendezvous channel: a job is handed over only to a thread already waiting for one.
fn jobs() -> &'static (Sender<Job>, Receiver<Job>) {
    static JOBS: OnceLock<(Sender<Job>, Receiver<Job>)> = OnceLock::new();
    JOBS.get_or_init(|| crossbeam_channel::bounded(0))
}

/// Returns once `job` runs on a thread of its own: an idle pump thread if one waits, else a
/// new one. (Threads are named `procpump`: one serves many pipes in its life.)
///
/// # Errors
/// The OS error when no thread could be started; `job` is dropped then.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let (tx, rx) = jobs();
    let job: Job = match tx.try_send(Box::new(job)) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => job,
    };
    let rx = rx.clone();
    thread::Builder::new()
        .name("procpump".into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let mut job = job;
            loop {
                job();
                match rx.recv_timeout(IDLE) {
                    Ok(next) => job = next,
                    Err(_) => return,
                }
            }
        })?;
    Ok(())
}
