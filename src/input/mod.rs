//! The input pump: what happens to the bytes sent to the child's stdin.
//!
//! `send` splits data into chunks of at most `chunk` bytes and `try_send`s them into a bounded
//! channel of `slots` chunks, so at most `slots * chunk` bytes are ever queued. A writer thread
//! takes out what is waiting, up to `write_size` bytes, and writes it to the pipe in one
//! vectored write. Dropping the sender (`close`) lets the writer finish what is queued and
//! then close the pipe, which is how the child sees EOF.
//!
//! The writer thread starts with the first byte sent: a child that is never written to (the
//! common `communicate(b"")`) costs no thread, and closing its stdin just closes the pipe.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::output::{Core, Stall, STALL_GRACE};
use crate::signal::{Hub, Signal};
use crate::{Error, Result};

mod handle;
mod writer;

type Pipe = Box<dyn Write + Send>;

/// The child's stdin: queue bytes for it without blocking, or waiting for room; flush; close.
/// Get it from [`Popen::stdin`](crate::Popen::stdin).
///
/// Why this name: like [`OutputHandle`](crate::OutputHandle), it is a handle on a pipe the
/// [`Popen`](crate::Popen) owns and a writer thread serves, not the pipe itself, so queueing
/// never blocks on the child.
///
/// Every waiting operation comes as a family, as in crossbeam-channel: `try_*` never blocks,
/// the plain form blocks until done, `*_timeout` waits at most a duration and `*_deadline`
/// until an instant, and a timeout is `Err(Error::Timeout)`. Methods take `&self`, and
/// `Write` is implemented for `&InputHandle`, so one thread can write while others read.
///
/// While a call waits for room, the child's output keeps being taken in, up to each stream's
/// bound; a child that stopped reading because an output is full and unread makes the call
/// return [`Error::Stalled`] naming that output.
#[derive(Debug)]
pub struct InputHandle {
    /// `None` once stdin was closed by the caller.
    tx: Mutex<Option<Sender<Vec<u8>>>>,
    /// The writer's side until the first send starts the thread (`None` after that).
    idle: Mutex<Option<Idle>>,
    chunk: usize,
    shared: Arc<Shared>,
    /// The child's captured outputs: moved along while a call waits here, and watched for the
    /// stall that makes a child stop reading its stdin.
    outputs: Vec<Arc<Core>>,
}

/// What the writer thread needs, kept until it is started.
struct Idle {
    pipe: Pipe,
    rx: Receiver<Vec<u8>>,
    write_size: usize,
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle")
            .field("write_size", &self.write_size)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) state: Mutex<Progress>,
    /// Wakes the writer when something was queued or stdin was closed.
    pub(super) wake: Signal,
    /// The child's hub: notified when the writer takes pieces out (room), finishes a write
    /// (flush progress), fails or ends. Callers waiting here also see the outputs.
    pub(super) hub: Arc<Hub>,
    /// Set by `close`: the writer then waits for the last sender clone to go.
    pub(super) closed: AtomicBool,
    /// Callers waiting on the hub for the writer's progress. Only while there are any does
    /// the writer notify the hub: otherwise every write would wake the threads that wait for
    /// output, for nothing (two extra wake-ups per round trip).
    pub(super) waiters: AtomicUsize,
}

#[derive(Debug, Default)]
pub(super) struct Progress {
    pub(super) queued: u64,
    pub(super) written: u64,
    /// The child closed its stdin (broken pipe): nothing more can be written.
    pub(super) broken: bool,
    /// Any other write error, returned once by the next call.
    pub(super) error: Option<io::Error>,
    /// The writer thread has returned (or was never needed).
    pub(super) finished: bool,
    /// Hub stamp of the writer's last step (taking pieces out, finishing a write).
    pub(super) last_step: u64,
}

impl InputHandle {
    /// Prepares the pump for `pipe`; the writer thread starts with the first send.
    pub(crate) fn new<W: Write + Send + 'static>(
        pipe: W,
        chunk: usize,
        slots: usize,
        write_size: usize,
        hub: Arc<Hub>,
        outputs: Vec<Arc<Core>>,
    ) -> InputHandle {
        let (tx, rx) = bounded(slots);
        let idle = Idle {
            pipe: Box::new(pipe),
            rx,
            write_size: write_size.max(chunk),
        };
        InputHandle {
            tx: Mutex::new(Some(tx)),
            idle: Mutex::new(Some(idle)),
            chunk,
            shared: Arc::new(Shared {
                state: Mutex::new(Progress::default()),
                wake: Signal::default(),
                hub,
                closed: AtomicBool::new(false),
                waiters: AtomicUsize::new(0),
            }),
            outputs,
        }
    }

    /// Starts the writer thread if it is not running yet.
    fn ensure_writer(&self) -> Result<()> {
        let mut idle = self.idle.lock();
        let Some(Idle {
            pipe,
            rx,
            write_size,
        }) = idle.take()
        else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        crate::pool::run(move || writer::write_loop(pipe, &rx, write_size, &shared))?;
        Ok(())
    }

    /// Returns immediately: whether the writer found a failure, without taking it.
    fn has_failed(&self) -> bool {
        let st = self.shared.state.lock();
        st.broken || st.error.is_some()
    }

    /// Returns immediately: the writer's failure, if it found one (a broken pipe every time,
    /// another I/O error once, then as a closed stdin).
    fn writer_failure(&self) -> Option<Error> {
        let mut st = self.shared.state.lock();
        if let Some(e) = st.error.take() {
            st.broken = true;
            return Some(Error::Io(e));
        }
        st.broken.then_some(Error::StdinClosed)
    }

    /// Returns immediately: a write error other than a broken pipe, if one is pending.
    pub(crate) fn take_io_error(&self) -> Option<io::Error> {
        let mut st = self.shared.state.lock();
        let e = st.error.take();
        st.broken |= e.is_some();
        e
    }

    /// Returns immediately with how many bytes of `data` were queued for the child's stdin:
    /// as many as fit, 0 when the queue is full (or `data` is empty).
    ///
    /// The writer thread writes them to the pipe, in order. It also moves the child's output
    /// along (out of the channels, up to each stream's bound), so a loop of `try_send` calls
    /// alone does not hold the child back.
    ///
    /// # Errors
    /// [`Error::StdinClosed`] after [`close`](InputHandle::close) or once the child closed
    /// its stdin; [`Error::Io`] once for any other write failure; [`Error::Stalled`] instead
    /// of 0 when the child stopped reading because an output it writes to is full and unread.
    pub fn try_send(&self, data: &[u8]) -> Result<usize> {
        let taken = self.queue(data)?;
        if taken == 0 && !data.is_empty() {
            if let Stall::Yes(stream) = self.stall(Instant::now()) {
                return Err(Error::Stalled {
                    stream,
                    operation: "send",
                });
            }
        } else {
            for core in &self.outputs {
                core.move_along();
            }
        }
        Ok(taken)
    }

    /// Returns immediately with how many bytes of `data` were queued (0 when the queue is full).
    pub(crate) fn queue(&self, data: &[u8]) -> Result<usize> {
        self.queue_if(data, false)
    }

    /// Returns immediately with how many bytes of `data` were queued: as many as fit, or with
    /// `whole`, all of them if they all fit and none otherwise.
    pub(crate) fn queue_if(&self, data: &[u8], whole: bool) -> Result<usize> {
        let guard = self.tx.lock();
        let Some(tx) = guard.as_ref() else {
            return Err(Error::StdinClosed);
        };
        if let Some(e) = self.writer_failure() {
            return Err(e);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if whole && free_slots(tx) < self.pieces(data.len()) {
            return Ok(0);
        }
        self.ensure_writer()?;
        let mut taken = 0;
        for piece in data.chunks(self.chunk) {
            match tx.try_send(piece.to_vec()) {
                Ok(()) => taken += piece.len(),
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) if taken == 0 => {
                    return Err(self.writer_failure().unwrap_or(Error::StdinClosed));
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
        if taken > 0 {
            self.shared.state.lock().queued += taken as u64;
            self.shared.wake.notify();
        }
        Ok(taken)
    }
    /// How many queue slots `len` bytes take.
    pub(crate) fn pieces(&self, len: usize) -> usize {
        len.div_ceil(self.chunk)
    }

    /// Returns immediately: whether the queue could ever hold `len` bytes at once.
    pub(crate) fn could_hold(&self, len: usize) -> bool {
        let slots = self.tx.lock().as_ref().and_then(Sender::capacity);
        slots.is_some_and(|slots| self.pieces(len) <= slots)
    }

    /// Returns immediately: whether `send` could take `len` bytes now (or would fail at once).
    pub(crate) fn has_room_for(&self, len: usize) -> bool {
        let pieces = self.pieces(len.max(1));
        let full = self
            .tx
            .lock()
            .as_ref()
            .is_some_and(|tx| free_slots(tx) < pieces);
        let st = self.shared.state.lock();
        !full
            || st.broken
            || st.error.is_some()
            || st.finished
            || self.shared.closed.load(Ordering::Acquire)
    }

    /// Blocks until `ready()`, or `deadline` passes (`Ok(false)`), moving the outputs along
    /// meanwhile; [`Error::Stalled`] if the child stopped reading because an output it writes
    /// to is full and unread.
    pub(crate) fn block(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
        ready: impl Fn() -> bool,
    ) -> Result<bool> {
        let _waiting = self.waiting();
        loop {
            let seen = self.shared.hub.signal.epoch();
            if ready() {
                return Ok(true);
            }
            let now = Instant::now();
            let stall = self.stall(now);
            if let Stall::Yes(stream) = stall {
                return Err(Error::Stalled { stream, operation });
            }
            if deadline.is_some_and(|d| now >= d) {
                return Ok(false);
            }
            self.shared.hub.signal.wait_past(seen, stall.wake(deadline));
        }
    }

    /// Asks the writer to notify the hub of its progress until the guard drops.
    pub(crate) fn waiting(&self) -> InputWaiting<'_> {
        self.shared.waiters.fetch_add(1, Ordering::SeqCst);
        InputWaiting {
            waiters: &self.shared.waiters,
        }
    }

    /// Moves the outputs along and says whether one of them keeps the child from reading:
    /// it is over its bound and unread, and the writer has made no step for a while.
    fn stall(&self, now: Instant) -> Stall {
        let mut stall = Stall::No;
        for core in &self.outputs {
            core.move_along();
            stall = stall.or(core.stall(now));
        }
        if let Stall::Yes(stream) = stall {
            let last = self.shared.state.lock().last_step;
            let quiet_since = self.shared.hub.instant(last) + STALL_GRACE;
            if last != 0 && now < quiet_since {
                return Stall::From(quiet_since);
            }
            return Stall::Yes(stream);
        }
        stall
    }

    /// Waits until `deadline` for room in the queue (or for stdin to close); `false` on timeout.
    pub(crate) fn wait_room(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Result<bool> {
        self.block(deadline, operation, || self.has_room_for(1))
    }

    /// Queues all of `data`, waiting until `deadline` for room; returns the bytes taken.
    /// A stall after some bytes were taken ends the call early; the next call reports it.
    pub(crate) fn send_partial(
        &self,
        data: &[u8],
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Result<usize> {
        let mut taken = self.queue(data)?;
        while taken < data.len() {
            match self.wait_room(deadline, operation) {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) if taken > 0 => break,
                Err(e) => return Err(e),
            }
            // After a partial write, a failure is left for the next call to report.
            if self.has_failed() {
                break;
            }
            match self.queue(&data[taken..]) {
                Ok(n) => taken += n,
                // Bytes already taken are reported; the error comes again on the next call.
                Err(_) if taken > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(taken)
    }

    /// Queues at least one byte of non-empty `data`, waiting until `deadline` for room.
    /// `Ok(0)` means the deadline passed first.
    pub(crate) fn send_some(
        &self,
        data: &[u8],
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Result<usize> {
        loop {
            let n = self.queue(data)?;
            if n > 0 || data.is_empty() || !self.wait_room(deadline, operation)? {
                return Ok(n);
            }
        }
    }

    /// Returns immediately; the child sees EOF on its stdin once everything queued before
    /// this call has been written. Later sends fail with [`Error::StdinClosed`]. Idempotent.
    pub fn close(&self) {
        if self.tx.lock().take().is_none() {
            // Closed already: waking everyone again would make a loop that closes on every
            // turn (communicate's) spin instead of sleeping.
            return;
        }
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify();
        if self.idle.lock().take().is_some() {
            // Never started: dropping the pipe is all it takes for the child to see EOF.
            self.shared.state.lock().finished = true;
        }
        self.shared.hub.notify();
    }

    /// Returns immediately: whether [`close`](InputHandle::close) was called (by anyone,
    /// including `communicate` and drop of the wrapper).
    pub fn is_closed(&self) -> bool {
        self.tx.lock().is_none()
    }

    /// Waits until `deadline` for everything queued so far to be written to the pipe.
    /// `Ok(false)` on timeout.
    pub(crate) fn flush_within(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Result<bool> {
        let target = self.shared.state.lock().queued;
        let done = || {
            let st = self.shared.state.lock();
            st.written >= target || st.broken || st.error.is_some() || st.finished
        };
        if !self.block(deadline, operation, done)? {
            return Ok(false);
        }
        let mut st = self.shared.state.lock();
        if st.written >= target {
            return Ok(true);
        }
        if let Some(e) = st.error.take() {
            st.broken = true;
            return Err(Error::Io(e));
        }
        Err(Error::StdinClosed)
    }
}

/// How many more pieces the queue takes now.
fn free_slots(tx: &Sender<Vec<u8>>) -> usize {
    tx.capacity().unwrap_or(0).saturating_sub(tx.len())
}

/// A caller waiting for the writer's progress, until dropped.
pub(crate) struct InputWaiting<'a> {
    waiters: &'a AtomicUsize,
}

impl Drop for InputWaiting<'_> {
    fn drop(&mut self) {
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for InputHandle {
    fn drop(&mut self) {
        // Wakes a writer parked on the signal, so it sees the channel disconnected and exits.
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A pipe whose writes fail with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(self.0, "write failed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pump_for(pipe: impl Write + Send + 'static, chunk: usize, slots: usize) -> InputHandle {
        let hub = Arc::new(Hub::with_link(None));
        InputHandle::new(pipe, chunk, slots, chunk, hub, Vec::new())
    }

    fn soon() -> Option<Instant> {
        Instant::now().checked_add(Duration::from_secs(60))
    }

    #[test]
    fn a_write_error_is_returned_once_then_stdin_is_closed() {
        let pump = pump_for(Failing(io::ErrorKind::Other), 16, 4);
        assert_eq!(pump.try_send(b"abc").unwrap(), 3);
        assert!(matches!(
            pump.flush_within(soon(), "flush"),
            Err(Error::Io(_))
        ));
        assert!(matches!(pump.try_send(b"abc"), Err(Error::StdinClosed)));
    }

    #[test]
    fn a_broken_pipe_is_stdin_closed_not_an_io_error() {
        let pump = pump_for(Failing(io::ErrorKind::BrokenPipe), 16, 4);
        assert_eq!(pump.try_send(b"abc").unwrap(), 3);
        assert!(matches!(
            pump.flush_within(soon(), "flush"),
            Err(Error::StdinClosed)
        ));
        assert!(matches!(pump.try_send(b"abc"), Err(Error::StdinClosed)));
        assert!(matches!(
            pump.send_partial(b"x", soon(), "asyncwrite"),
            Err(Error::StdinClosed)
        ));
    }

    #[test]
    fn send_splits_into_chunks_and_stops_at_the_bound() {
        // A writer that never finishes its first write: the queue fills and stays full.
        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let pump = pump_for(Stuck, 10, 3);
        let taken = pump.try_send(&[0u8; 1000]).unwrap();
        // The writer may hold one chunk; the queue holds three chunks of at most 10 bytes.
        assert!(
            (30..=40).contains(&taken),
            "took {taken} bytes with a 30-byte queue"
        );
    }
}
