//! Where pump threads come from: a thread that finished its pipe waits a short while for the
//! next one before it ends, so a program that starts many children pays a thread start
//! (30–70 µs measured) only when none is idle.
//!
//! A thread serves one pipe at a time, from start to end, exactly as a thread started for it
//! would: the design's "one thread per pipe" holds. Idle threads park (no spinning) and end
//! after [`IDLE`].

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Stack size for the threads procpump starts; they only move bytes between heap buffers.
pub(crate) const THREAD_STACK: usize = 64 * 1024;

/// How long a thread with nothing to do waits for the next pipe before it ends.
const IDLE: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Where an idle thread waits for its next job.
#[derive(Default)]
struct Slot {
    job: Mutex<Option<Job>>,
    given: Condvar,
}

/// The idle threads, most recently idle last.
static IDLE_THREADS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

/// Returns once `job` runs on a thread of its own: an idle pump thread if one waits, else a
/// new one. (Threads are named `procpump`: one serves many pipes in its life.)
///
/// # Errors
/// The OS error when no thread could be started; `job` is dropped then.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let job: Job = Box::new(job);
    let idle = IDLE_THREADS.lock().pop();
    if let Some(slot) = idle {
        *slot.job.lock() = Some(job);
        slot.given.notify_one();
        return Ok(());
    }
    thread::Builder::new()
        .name("procpump".into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let mut job = job;
            loop {
                job();
                match next_job() {
                    Some(next) => job = next,
                    None => return,
                }
            }
        })?;
    Ok(())
}

/// Blocks until a job is given to this thread (`Some`) or it has been idle for [`IDLE`].
fn next_job() -> Option<Job> {
    let slot = Arc::new(Slot::default());
    IDLE_THREADS.lock().push(Arc::clone(&slot));
    let deadline = Instant::now() + IDLE;
    let mut job = slot.job.lock();
    loop {
        if let Some(job) = job.take() {
            return Some(job);
        }
        if slot.given.wait_until(&mut job, deadline).timed_out() {
            if let Some(job) = job.take() {
                return Some(job);
            }
            // Still listed: nobody can give it a job once it is off the list.
            let mut idle = IDLE_THREADS.lock();
            if let Some(i) = idle.iter().position(|s| Arc::ptr_eq(s, &slot)) {
                idle.swap_remove(i);
                return None;
            }
            // Taken off the list by `run`, which is about to hand over a job: wait for it.
            drop(idle);
            loop {
                if let Some(job) = job.take() {
                    return Some(job);
                }
                slot.given.wait(&mut job);
            }
        }
    }
}
