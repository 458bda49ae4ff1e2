//! A parked hand-off beside a channel, for the hot blocking paths.
//!
//! Data always travels through the bounded crossbeam channels; this only decides how a thread
//! that found its channel empty sleeps. crossbeam's blocking `recv` spins and yields before it
//! parks, which on a busy or single CPU costs extra context switches on every round trip; a
//! `Mutex` + `Condvar` parks at once. `notify` is a single atomic load when nobody waits, so
//! the bulk path pays almost nothing for it.

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

#[derive(Debug, Default)]
pub(crate) struct Signal {
    lock: Mutex<()>,
    cond: Condvar,
    waiters: AtomicUsize,
}

impl Signal {
    /// Returns immediately; wakes the threads in `wait_until`. Call it after making their
    /// condition true (sending a message, setting a flag).
    pub(crate) fn notify(&self) {
        // Pairs with the fence in `wait_until`: either the waiter is counted here, or its
        // check of the condition comes after the change the caller just made.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.cond.notify_all();
        }
    }

    /// Blocks until `ready()` is true (`true`) or `deadline` passes (`false`).
    pub(crate) fn wait_until(&self, ready: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
        if ready() {
            return true;
        }
        let mut guard = self.lock.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let result = loop {
            if ready() {
                break true;
            }
            match deadline {
                None => self.cond.wait(&mut guard),
                Some(d) => {
                    if self.cond.wait_until(&mut guard, d).timed_out() {
                        break ready();
                    }
                }
            }
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }
}
