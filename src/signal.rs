//! Parked hand-offs beside the channels: how a thread that found nothing to do sleeps.
//!
//! Data always travels through the bounded crossbeam channels; a [`Signal`] only decides how
//! a thread that found its channel empty (or full) sleeps. crossbeam's blocking calls spin and
//! yield before they park, which on a busy or single CPU costs extra context switches on every
//! round trip; a `Mutex` + `Condvar` parks at once. `notify` is one atomic add and one load
//! when nobody waits, so the bulk path pays almost nothing for it.
//!
//! One signal per event, each with one kind of waiter:
//! - the [`Hub`] of a child: "something happened" (output arrived, a stream ended or
//!   overflowed, stdin has room); the caller's threads wait here;
//! - each reader's room signal: "bytes were taken out"; only that reader waits there;
//! - the writer's wake signal: "input was queued or stdin closed"; only the writer waits there.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// An event count: every `notify` moves `epoch` on, and a waiter sleeps until it moves past
/// the value it saw before it last looked at its condition. No wake-up can be lost.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    lock: Mutex<()>,
    cond: Condvar,
    waiters: AtomicUsize,
    epoch: AtomicU64,
}

impl Signal {
    /// Returns immediately; wakes every waiting thread. Call it after making their condition
    /// true (sending a message, setting a flag).
    pub(crate) fn notify(&self) {
        // Pairs with the fence in `wait_for_deadline`: either the waiter is counted here, or its
        // check of the condition comes after the change the caller just made.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.cond.notify_all();
        }
    }

    /// Returns immediately with the current epoch; read it before looking at the condition,
    /// then [`wait_past`](Signal::wait_past) it.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Blocks until a `notify` after `seen` was read (`true`) or `deadline` passes (`false`).
    pub(crate) fn wait_past(&self, seen: u64, deadline: Option<Instant>) -> bool {
        self.wait_for_deadline(|| self.epoch.load(Ordering::SeqCst) != seen, deadline)
    }

    /// Blocks until `ready()` is true (`true`) or `deadline` passes (`false`).
    pub(crate) fn wait_for_deadline(
        &self,
        ready: impl Fn() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
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

/// What one child's pumps share: the caller-side wake-up, the arrival counter that orders
/// chunks across streams, and a clock for the stall grace period.
#[derive(Debug)]
pub(crate) struct Hub {
    /// Notified on every event a caller may wait for.
    pub(crate) signal: Signal,
    /// Stamps chunks from both readers, so output comes back in arrival order.
    seq: AtomicU64,
    base: Instant,
    /// The group this child belongs to, if any: told of every event too.
    link: Option<Link>,
}

/// Where a group waits for all its members at once.
#[derive(Debug, Default)]
pub(crate) struct Board {
    /// Notified when a member joins `ready`.
    pub(crate) signal: Signal,
    /// Members with something new, each listed once until the group looks at it.
    ready: Mutex<Vec<u64>>,
    /// Set after a member joins `ready`: the group looks at the list only then.
    any_ready: AtomicBool,
    /// Stamps chunks of every member, so output comes back in arrival order group-wide.
    pub(crate) seq: AtomicU64,
}

impl Board {
    /// Returns immediately after listing member `id` and waking the group.
    fn list(&self, id: u64) {
        self.ready.lock().push(id);
        self.any_ready.store(true, Ordering::Release);
        self.signal.notify();
    }

    /// Returns immediately after moving the members listed since the last call into `into`
    /// (swapping lists, so that no allocation is made).
    pub(crate) fn take_ready(&self, into: &mut Vec<u64>) {
        if self.any_ready.swap(false, Ordering::AcqRel) {
            std::mem::swap(&mut *self.ready.lock(), into);
        }
    }

    /// Returns immediately with the next arrival stamp.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// A member's place on its group's board.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) board: Arc<Board>,
    pub(crate) id: u64,
    /// Set while the member is listed in `board.ready`.
    pub(crate) listed: AtomicBool,
}

impl Hub {
    /// A hub whose events are also reported to a group's board.
    pub(crate) fn with_link(link: Option<Link>) -> Hub {
        Hub {
            signal: Signal::default(),
            seq: AtomicU64::new(0),
            base: Instant::now(),
            link,
        }
    }

    /// Returns immediately; wakes the callers waiting on this child, and lists it on its
    /// group's board (waking the group) unless it is listed already.
    pub(crate) fn notify(&self) {
        self.signal.notify();
        if let Some(link) = &self.link {
            if !link.listed.swap(true, Ordering::AcqRel) {
                link.board.list(link.id);
            }
        }
    }

    /// Returns immediately; the group is about to look at this member, so the next event
    /// lists it again.
    pub(crate) fn unlist(&self) {
        if let Some(link) = &self.link {
            // SeqCst: ordered before the scan's look at the channel, as the reader's notify
            // (after its send) is ordered by the fence in `Signal::notify`.
            link.listed.swap(false, Ordering::SeqCst);
        }
    }

    /// Returns immediately with the next arrival stamp (group-wide in a group).
    pub(crate) fn next_seq(&self) -> u64 {
        match &self.link {
            Some(link) => link.board.next_seq(),
            None => self.seq.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Nanoseconds since the hub was made, plus one (so that 0 can mean "never").
    pub(crate) fn stamp(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    /// The instant a `stamp` stands for.
    pub(crate) fn instant(&self, stamp: u64) -> Instant {
        self.base + Duration::from_nanos(stamp.saturating_sub(1))
    }
}
