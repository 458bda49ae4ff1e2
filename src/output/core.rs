//! What the reader thread of one output stream shares with the caller's side: the channel's
//! receiving end, the buffer, the byte counts that make the bound, and the stall state.
//!
//! The bound. `held` counts every byte the reader has read and nobody has returned yet, in
//! the channel or in the buffer. The reader reads only while `held < capacity` (unless a
//! `wait` or `communicate` is taking in everything) and while the channel holds less than
//! the read-ahead. So a stream nobody calls keeps at most the read-ahead (32 KiB), while a
//! caller busy with the other stream moves this one out of the channel into the buffer, up
//! to `capacity`, and a caller waiting on this one lets the reader run ahead up to
//! `capacity` in full-size reads: memory is spent where a call needs it.
//!
//! Locking. The buffer's lock is held only to move bytes, never while sleeping: blocking
//! calls look, release, and park on the hub. Holding it (a [`Reading`]) is the right to take.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use parking_lot::{Mutex, MutexGuard};

use super::buffer::{Buffer, Chunk};
use super::Msg;
use crate::signal::{Hub, Signal};
use crate::{Overflow, Stream};

/// How long a stream may sit over its bound, with nobody reading it, before a call waiting on
/// something else reports [`Error::Stalled`](crate::Error::Stalled): long enough that a
/// thread reading it in a loop is not taken for absent, short enough to answer at once.
pub(crate) const STALL_GRACE: Duration = Duration::from_millis(25);

#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) stream: Stream,
    rx: Receiver<Msg>,
    buf: Mutex<Buffer>,
    pub(crate) capacity: usize,
    pub(crate) read_ahead: usize,
    pub(crate) policy: Overflow,
    /// Bytes in the channel.
    pub(crate) in_channel: AtomicUsize,
    /// Bytes in the channel or the buffer: what the bound counts.
    pub(crate) held: AtomicUsize,
    /// Calls (`wait`, `communicate`) taking in all output: the bound is lifted while they run.
    draining: AtomicUsize,
    /// Hub stamp of when the reader found more output than the bound allows; 0 when not.
    overflow_since: AtomicU64,
    /// Threads inside a blocking call that reads this stream.
    waiting: AtomicUsize,
    /// Bytes the waiting `recv_exact` calls need at once, and the largest of them (read
    /// without the lock): the bound stretches to hold it.
    wants: Mutex<Vec<usize>>,
    wanted: AtomicUsize,
    /// Bytes a [`Overflow::KeepTail`] stream dropped.
    pub(crate) dropped: AtomicU64,
    /// Bytes the reader has handed over since it started.
    pub(crate) arrived: AtomicU64,
    /// The reader returned.
    pub(crate) done: AtomicBool,
    /// The buffer saw the end of the channel.
    ended: AtomicBool,
    /// The `Popen` is gone: the reader stops at its next chance.
    pub(crate) closed: AtomicBool,
    /// Notified when bytes leave the channel or the buffer; only the reader waits here.
    pub(crate) room: Signal,
    pub(crate) hub: Arc<Hub>,
}

/// Whether a stream keeps the child from going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    No,
    /// Over its bound and unread; a stall if nobody reads it before this instant.
    From(Instant),
    Yes(Stream),
}

impl Stall {
    /// The more urgent of two.
    pub(crate) fn or(self, other: Stall) -> Stall {
        match (self, other) {
            (Stall::Yes(s), _) | (_, Stall::Yes(s)) => Stall::Yes(s),
            (Stall::From(a), Stall::From(b)) => Stall::From(a.min(b)),
            (Stall::From(a), Stall::No) | (Stall::No, Stall::From(a)) => Stall::From(a),
            (Stall::No, Stall::No) => Stall::No,
        }
    }

    /// The deadline to wake at to see this stall come due.
    pub(crate) fn wake(self, deadline: Option<Instant>) -> Option<Instant> {
        match self {
            Stall::From(at) => Some(deadline.map_or(at, |d| d.min(at))),
            _ => deadline,
        }
    }
}

impl Core {
    pub(crate) fn new(
        stream: Stream,
        rx: Receiver<Msg>,
        capacity: usize,
        read_ahead: usize,
        policy: Overflow,
        hub: Arc<Hub>,
    ) -> Core {
        Core {
            stream,
            rx,
            buf: Mutex::new(Buffer::default()),
            capacity,
            read_ahead,
            policy,
            in_channel: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            draining: AtomicUsize::new(0),
            overflow_since: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            wants: Mutex::new(Vec::new()),
            wanted: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            arrived: AtomicU64::new(0),
            done: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            room: Signal::default(),
            hub,
        }
    }

    /// Returns once the buffer's lock is taken and the channel moved into the buffer.
    pub(crate) fn read(&self) -> Reading<'_> {
        let mut reading = self.lock();
        reading.pull();
        reading
    }

    /// Returns once the buffer's lock is taken; the channel is left as it is.
    fn lock(&self) -> Reading<'_> {
        Reading {
            core: self,
            buf: self.buf.lock(),
            moved: false,
        }
    }

    /// Returns once the buffer's lock is taken; the channel is moved in only if the buffer
    /// is empty (call [`Reading::pull`] for more). A consumer that keeps up this way holds
    /// what the reader reads ahead and no more: the reader waits for the channel to empty.
    pub(crate) fn read_lazily(&self) -> Reading<'_> {
        let mut reading = self.lock();
        if reading.buf.len() == 0 {
            reading.pull();
        }
        reading
    }

    /// Returns immediately after moving what is in the channel into the buffer, so the
    /// reader can go on up to the bound while the caller is busy with another stream.
    pub(crate) fn move_along(&self) {
        if self.in_channel.load(Ordering::Acquire) > 0 || self.done.load(Ordering::Acquire) {
            drop(self.read());
        }
    }

    /// Returns immediately: whether the buffer saw the end (every byte sent is buffered).
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Returns immediately: whether this stream is over its bound with more to come.
    pub(crate) fn is_overflowing(&self) -> bool {
        self.overflow_since.load(Ordering::Acquire) != 0
    }

    /// Called by the reader: it holds a byte beyond the bound (`true`) or got room (`false`).
    pub(crate) fn set_overflow(&self, over: bool) {
        let stamp = if over { self.hub.stamp() } else { 0 };
        self.overflow_since.store(stamp, Ordering::Release);
        if over {
            self.hub.notify();
        }
    }

    /// Returns immediately: whether this stream blocks the child with nobody to read it.
    pub(crate) fn stall(&self, now: Instant) -> Stall {
        let since = self.overflow_since.load(Ordering::Acquire);
        if since == 0 || self.policy != Overflow::Block || self.waiting.load(Ordering::Acquire) > 0
        {
            return Stall::No;
        }
        let at = self.hub.instant(since) + STALL_GRACE;
        if now >= at {
            Stall::Yes(self.stream)
        } else {
            Stall::From(at)
        }
    }

    /// The most unread bytes the stream may hold: its capacity, or more while a call waits
    /// for that many bytes at once.
    pub(crate) fn bound(&self) -> usize {
        self.capacity.max(self.wanted.load(Ordering::Acquire))
    }

    /// Stretches the bound to `n` bytes until the guard drops.
    pub(crate) fn wanting(&self, n: usize) -> Wanting<'_> {
        let mut wants = self.wants.lock();
        wants.push(n);
        self.wanted.fetch_max(n, Ordering::AcqRel);
        drop(wants);
        self.room.notify();
        Wanting { core: self, n }
    }

    /// Whether the bound holds the reader back now: a drain lifts it, except for a
    /// [`Overflow::KeepTail`] stream, which never holds more.
    pub(crate) fn is_bounded(&self) -> bool {
        self.policy == Overflow::KeepTail || self.draining.load(Ordering::Acquire) == 0
    }

    /// Whether a call is waiting on this stream or draining it: then the reader reads ahead
    /// up to the bound, in full-size reads, instead of just the read-ahead.
    pub(crate) fn is_demanded(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0 || self.draining.load(Ordering::Acquire) > 0
    }

    /// Counts the calling thread as reading this stream until the guard drops.
    pub(crate) fn waiting(&self) -> Counted<'_> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.room.notify();
        Counted {
            count: &self.waiting,
            core: Some(self),
            wakes_hub: true,
        }
    }

    /// Lifts the bound until the guard drops: every byte the child writes is taken in.
    pub(crate) fn draining(&self) -> Counted<'_> {
        self.draining.fetch_add(1, Ordering::AcqRel);
        self.room.notify();
        Counted {
            count: &self.draining,
            core: Some(self),
            wakes_hub: false,
        }
    }
}

/// A stretched bound, until dropped.
pub(crate) struct Wanting<'a> {
    core: &'a Core,
    n: usize,
}

impl Drop for Wanting<'_> {
    fn drop(&mut self) {
        // Another call may still need as much or more: the bound is what the rest need.
        let mut wants = self.core.wants.lock();
        if let Some(i) = wants.iter().position(|&w| w == self.n) {
            wants.swap_remove(i);
        }
        let rest = wants.iter().copied().max().unwrap_or(0);
        self.core.wanted.store(rest, Ordering::Release);
    }
}

/// A count held up while a call runs (a waiting reader, a drain).
pub(crate) struct Counted<'a> {
    count: &'a AtomicUsize,
    /// The stream whose reader re-checks its room when the count changes.
    core: Option<&'a Core>,
    /// A waiting reader: when the last one leaves an overflowing stream, that stream now
    /// stalls the child, and calls waiting on something else must hear of it.
    wakes_hub: bool,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        let left = self.count.fetch_sub(1, Ordering::AcqRel) - 1;
        if let Some(core) = self.core {
            core.room.notify();
            if self.wakes_hub && left == 0 && core.is_overflowing() {
                core.hub.notify();
            }
        }
    }
}

/// The right to take from one stream: its buffer's lock, with the channel already moved in.
/// Dropping it tells the reader about the room it made.
pub(crate) struct Reading<'a> {
    core: &'a Core,
    buf: MutexGuard<'a, Buffer>,
    /// Bytes left the channel, or the buffer from at or over the bound: the reader, which
    /// waits only for one of these, may have room now (a take under the bound gives it
    /// none, so it is not woken for each of them).
    moved: bool,
}

impl Reading<'_> {
    /// Moves every message in the channel into the buffer.
    pub(crate) fn pull(&mut self) {
        while !self.buf.ended {
            match self.core.rx.try_recv() {
                Ok(Msg::Data(chunk)) => {
                    self.core
                        .in_channel
                        .fetch_sub(chunk.data.len(), Ordering::AcqRel);
                    self.buf.push(chunk);
                    self.moved = true;
                }
                Ok(Msg::Failed(e)) => self.buf.error = Some(e),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.buf.ended = true;
                    self.core.ended.store(true, Ordering::Release);
                }
            }
        }
    }

    /// The stream this reading is of.
    pub(crate) fn core(&self) -> &Core {
        self.core
    }

    /// Bytes buffered and not yet returned.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The stream offset of the first buffered byte.
    pub(crate) fn start(&self) -> u64 {
        self.buf.start()
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.buf.ended
    }

    /// Whether the stream ended and every byte (and error) was returned.
    pub(crate) fn is_drained(&self) -> bool {
        self.buf.is_drained()
    }

    pub(crate) fn front_seq(&self) -> Option<u64> {
        self.buf.front_seq()
    }

    pub(crate) fn find(&self, pattern: &[u8], from: usize) -> Option<usize> {
        self.buf.find(pattern, from)
    }

    /// Removes and returns up to `maxsize` buffered bytes.
    pub(crate) fn take(&mut self, maxsize: usize) -> Vec<u8> {
        let out = self.buf.take(maxsize);
        self.freed(out.len());
        out
    }

    /// Moves up to `out.len()` buffered bytes into `out`, returning how many.
    pub(crate) fn take_slice(&mut self, out: &mut [u8]) -> usize {
        let n = self.buf.take_slice(out);
        self.freed(n);
        n
    }

    /// Appends up to `maxsize` buffered bytes to `out`, returning how many.
    pub(crate) fn take_into(&mut self, out: &mut Vec<u8>, maxsize: usize) -> usize {
        let n = self.buf.take_into(out, maxsize);
        self.freed(n);
        n
    }

    /// The end of the stream as a receive returns it: the read error if one is pending, else
    /// EOF (`None`). Only for a stream that ended with nothing buffered.
    pub(crate) fn end<T>(&mut self) -> crate::Result<Option<T>> {
        match self.buf.error.take() {
            Some(e) => Err(crate::Error::Io(e)),
            None => Ok(None),
        }
    }

    /// Removes the front chunk's remaining bytes, with its arrival stamp.
    pub(crate) fn take_front(&mut self) -> Option<Chunk> {
        let chunk = self.buf.take_front()?;
        self.freed(chunk.data.len());
        Some(chunk)
    }

    /// Puts bytes back at the front, with the stamp of the read they came from.
    pub(crate) fn put_back(&mut self, chunk: Chunk) {
        self.core.held.fetch_add(chunk.data.len(), Ordering::AcqRel);
        self.buf.push_front(chunk);
    }

    /// Adds a chunk at the back (a [`Overflow::KeepTail`] reader whose channel is full), then
    /// drops the oldest bytes beyond the bound and counts them.
    pub(crate) fn push_keeping_tail(&mut self, chunk: Chunk) {
        self.core.held.fetch_add(chunk.data.len(), Ordering::AcqRel);
        self.buf.push(chunk);
        let over = self.buf.len().saturating_sub(self.core.bound());
        let dropped = self.buf.drop_front(over);
        self.freed(dropped);
        self.core
            .dropped
            .fetch_add(dropped as u64, Ordering::AcqRel);
    }

    /// The `recv` result: up to `maxsize` bytes if any, else the error, else EOF (`None`).
    pub(crate) fn finish(&mut self, maxsize: usize) -> crate::Result<Option<Vec<u8>>> {
        let out = self.take(maxsize);
        if !out.is_empty() || self.buf.len() > 0 || !self.buf.ended {
            return Ok(Some(out));
        }
        match self.buf.error.take() {
            Some(e) => Err(crate::Error::Io(e)),
            None => Ok(None),
        }
    }

    /// Takes the pending read error, once the bytes before it are gone.
    pub(crate) fn take_error(&mut self) -> Option<std::io::Error> {
        if self.buf.len() == 0 {
            self.buf.error.take()
        } else {
            None
        }
    }

    /// Takes the pending read error even while bytes are buffered (they stay).
    pub(crate) fn take_error_now(&mut self) -> Option<std::io::Error> {
        self.buf.error.take()
    }

    /// Hands back an error taken too early, to come out after the bytes returned with it.
    pub(crate) fn keep_error(&mut self, e: std::io::Error) {
        self.buf.error = Some(e);
    }

    /// Drops every buffered byte (the `Popen` is gone).
    pub(crate) fn clear(&mut self) {
        let n = self.buf.len();
        self.buf.drop_front(n);
        self.freed(n);
    }

    fn freed(&mut self, n: usize) {
        if n > 0 {
            let before = self.core.held.fetch_sub(n, Ordering::AcqRel);
            let bound = self.core.bound();
            if before - n < bound {
                // Under the bound again: no longer a stall, even before the reader runs.
                self.core.overflow_since.store(0, Ordering::Release);
            }
            if before >= bound {
                self.moved = true;
            }
        }
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if self.moved {
            self.core.room.notify();
        }
    }
}
