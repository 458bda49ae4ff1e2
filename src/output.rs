//! The output pump: what happens to the child's stdout (or stderr).
//!
//! A reader thread waits for room in a bounded channel, then reads the pipe into a chunk and
//! sends it, so at most `slots * chunk` bytes wait there. The caller's side owns the bytes taken out of the channel but not yet returned
//! (`State::chunks`): the tail of a chunk that `maxsize` cut, and whatever `wait` or
//! `communicate` moved out of the channel to keep the child from blocking.
//!
//! Locking: holding `state` is the right to consume from `rx`. That keeps the bytes in order
//! whatever mix of calls and threads is used, and lets a blocking read wait on the channel
//! itself (no polling) while it holds the lock.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Select, Sender, TryRecvError};
use parking_lot::{Mutex, MutexGuard};

use crate::process::THREAD_STACK;
use crate::signal::Signal;
use crate::{Error, Result};

/// What a reader thread sends.
#[derive(Debug)]
pub(crate) enum Msg {
    Data(Chunk),
    /// The read failed; the reader stops after sending this.
    Failed(io::Error),
}

/// Bytes from one read, stamped with a counter shared by the stdout and stderr readers so that
/// output from both can be returned in arrival order.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) seq: u64,
    pub(crate) data: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct OutputPump {
    rx: Receiver<Msg>,
    /// Woken by the reader after each send and when it finishes.
    reader: Arc<ReaderSide>,
    state: Mutex<State>,
    /// Mirrors `State::ended`, readable without the lock (by `wait`'s drain loop).
    ended: AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    chunks: VecDeque<Chunk>,
    /// How much of the front chunk was already returned.
    front_pos: usize,
    /// Bytes in `chunks` not yet returned.
    bytes: usize,
    /// The reader finished (EOF or error) and everything it sent is in `chunks`.
    ended: bool,
    /// A read error, returned once the bytes before it have been returned.
    error: Option<io::Error>,
}

/// What the reader thread shares with the caller's side, beside the channel.
#[derive(Debug)]
struct ReaderSide {
    /// Shared by the stdout and stderr readers of one child, so one wait covers both.
    signal: Arc<Signal>,
    /// Set once the reader returned and dropped its sender.
    done: AtomicBool,
}

/// Result of one blocking wait on the channel.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Filled {
    Yes,
    TimedOut,
}

impl OutputPump {
    /// Starts the reader thread for `pipe`.
    pub(crate) fn start<R: Read + Send + 'static>(
        name: String,
        pipe: R,
        chunk: usize,
        slots: usize,
        seq: Arc<AtomicU64>,
        signal: Arc<Signal>,
    ) -> io::Result<OutputPump> {
        let (tx, rx) = bounded(slots);
        let reader = Arc::new(ReaderSide {
            signal,
            done: AtomicBool::new(false),
        });
        let side = Arc::clone(&reader);
        thread::Builder::new()
            .name(name)
            .stack_size(THREAD_STACK)
            .spawn(move || {
                read_loop(pipe, chunk, &tx, &seq, &side.signal);
                drop(tx);
                side.done.store(true, Ordering::Release);
                side.signal.notify();
            })?;
        Ok(OutputPump {
            rx,
            reader,
            state: Mutex::new(State::default()),
            ended: AtomicBool::new(false),
        })
    }

    /// Returns immediately with the lock, or `None` if another thread is reading this stream.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.try_lock()
    }

    /// Waits until `deadline` (forever for `None`) for the right to read this stream.
    pub(crate) fn lock_until(&self, deadline: Option<Instant>) -> Option<MutexGuard<'_, State>> {
        match deadline {
            None => Some(self.state.lock()),
            Some(d) => self.state.try_lock_until(d),
        }
    }

    pub(crate) fn receiver(&self) -> &Receiver<Msg> {
        &self.rx
    }

    /// Returns immediately: whether this stream has something for a consumer: a message in
    /// the channel, or a finished reader (whose end another thread may already have taken:
    /// a waiter must not sleep through that either).
    pub(crate) fn has_news(&self) -> bool {
        !self.rx.is_empty() || self.reader.done.load(Ordering::Acquire)
    }

    /// The signal the readers of this child notify.
    pub(crate) fn signal(&self) -> &Signal {
        &self.reader.signal
    }

    /// Returns immediately: whether the reader finished and its last message was taken.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Returns immediately: moves messages from the channel into `st` until it holds at least
    /// `up_to` bytes or the channel is empty. Stopping at `up_to` keeps the memory bound: what
    /// is moved out frees channel slots for the reader.
    pub(crate) fn pull(&self, st: &mut State, up_to: usize) {
        while !st.ended && (st.bytes < up_to || st.chunks.is_empty()) {
            match self.rx.try_recv() {
                Ok(msg) => st.push(msg),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.mark_ended(st),
            }
        }
    }

    /// Blocks until one message arrives (or the reader finishes), or `deadline` passes.
    pub(crate) fn fill(&self, st: &mut State, deadline: Option<Instant>) -> Filled {
        loop {
            if st.ended {
                return Filled::Yes;
            }
            match self.rx.try_recv() {
                Ok(msg) => {
                    st.push(msg);
                    return Filled::Yes;
                }
                Err(TryRecvError::Disconnected) => self.mark_ended(st),
                Err(TryRecvError::Empty) => {
                    let ready = || !self.rx.is_empty() || self.reader.done.load(Ordering::Acquire);
                    if !self.reader.signal.wait_until(ready, deadline) {
                        return Filled::TimedOut;
                    }
                }
            }
        }
    }

    /// Takes a message that a `Select` over several receivers already received.
    pub(crate) fn accept(&self, st: &mut State, got: Result<Msg, crossbeam_channel::RecvError>) {
        match got {
            Ok(msg) => st.push(msg),
            Err(_) => self.mark_ended(st),
        }
    }

    fn mark_ended(&self, st: &mut State) {
        st.ended = true;
        self.ended.store(true, Ordering::Release);
    }

    /// Returns immediately with up to `maxsize` bytes: `Some` (possibly empty) while the stream
    /// is open, `None` once it ended and every byte was returned; a read error comes out once,
    /// after the bytes before it.
    pub(crate) fn recv(&self, maxsize: usize) -> Result<Option<Vec<u8>>> {
        let Some(mut st) = self.try_lock() else {
            // Another thread is reading this stream right now; it gets the bytes.
            return Ok(Some(Vec::new()));
        };
        self.pull(&mut st, maxsize);
        st.finish(maxsize)
    }

    /// Waits until `deadline` for the first byte, then returns everything that is there.
    pub(crate) fn recv_deadline(&self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>> {
        let Some(mut st) = self.lock_until(deadline) else {
            return Ok(Some(Vec::new()));
        };
        loop {
            self.pull(&mut st, usize::MAX);
            if st.bytes > 0 || st.ended {
                return st.finish(usize::MAX);
            }
            if self.fill(&mut st, deadline) == Filled::TimedOut {
                return Ok(Some(Vec::new()));
            }
        }
    }

    /// Collects everything that arrives until `deadline` or the end of the stream.
    pub(crate) fn read_until(&self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>> {
        let Some(mut st) = self.lock_until(deadline) else {
            return Ok(Some(Vec::new()));
        };
        self.pull(&mut st, usize::MAX);
        if st.ended && st.bytes == 0 {
            return st.finish(usize::MAX);
        }
        let mut out = Vec::new();
        loop {
            self.pull(&mut st, usize::MAX);
            let more = st.take(usize::MAX);
            if out.is_empty() {
                out = more;
            } else {
                out.extend_from_slice(&more);
            }
            // The deadline is checked here too: a busy child never lets `fill` time out.
            let expired = deadline.is_some_and(|d| Instant::now() >= d);
            if st.ended || expired || self.fill(&mut st, deadline) == Filled::TimedOut {
                break;
            }
        }
        match st.take_error() {
            // The error comes out now only if no bytes would be returned with it.
            Some(e) if out.is_empty() => Err(Error::Io(e)),
            Some(e) => {
                st.error = Some(e);
                Ok(Some(out))
            }
            None => Ok(Some(out)),
        }
    }

    /// Puts bytes back at the front, to be returned before anything else.
    pub(crate) fn unread(&self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        st.unread(data);
    }
}

impl State {
    fn push(&mut self, msg: Msg) {
        match msg {
            Msg::Data(chunk) => {
                self.bytes += chunk.data.len();
                self.chunks.push_back(chunk);
            }
            Msg::Failed(e) => self.error = Some(e),
        }
    }

    fn unread(&mut self, data: Vec<u8>) {
        if self.front_pos > 0 {
            // Drop the returned head of the front chunk so the new chunk can go first.
            if let Some(front) = self.chunks.front_mut() {
                front.data.drain(..self.front_pos);
            }
            self.front_pos = 0;
        }
        self.bytes += data.len();
        self.chunks.push_front(Chunk { seq: 0, data });
    }

    /// Bytes not yet returned.
    pub(crate) fn buffered(&self) -> usize {
        self.bytes
    }

    /// Whether the stream ended and every byte (and error) was returned.
    pub(crate) fn is_drained(&self) -> bool {
        self.ended && self.bytes == 0 && self.error.is_none()
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// The sequence number of the next byte to return, if one is buffered.
    pub(crate) fn front_seq(&self) -> Option<u64> {
        self.chunks.front().map(|c| c.seq)
    }

    /// Removes and returns up to `maxsize` buffered bytes, moving whole chunks where it can.
    pub(crate) fn take(&mut self, maxsize: usize) -> Vec<u8> {
        let want = maxsize.min(self.bytes);
        let front_rest = self
            .chunks
            .front()
            .map_or(0, |c| c.data.len() - self.front_pos);
        // One chunk is handed over as it is; several are joined into one exact allocation
        // (growing a Vec chunk by chunk would copy and fragment far more).
        let mut out = if want > front_rest {
            Vec::with_capacity(want)
        } else {
            Vec::new()
        };
        while out.len() < maxsize {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let rest = front.data.len() - self.front_pos;
            let want = maxsize - out.len();
            if rest > want {
                out.extend_from_slice(&front.data[self.front_pos..self.front_pos + want]);
                self.front_pos += want;
                self.bytes -= want;
                break;
            }
            let chunk = self.chunks.pop_front().map(|c| c.data).unwrap_or_default();
            if out.capacity() == 0 && self.front_pos == 0 {
                out = chunk;
            } else {
                out.extend_from_slice(&chunk[self.front_pos..]);
            }
            self.front_pos = 0;
            self.bytes -= rest;
        }
        out
    }

    /// Finds `pattern` in the buffered bytes, searching from byte `from` on, and returns the
    /// number of bytes up to and including its first occurrence. Appends the buffered chunks
    /// to the first one (amortised growth, so a long search stays linear).
    pub(crate) fn find(&mut self, pattern: &[u8], from: usize) -> Option<usize> {
        if let Some(mut first) = self.chunks.pop_front() {
            first.data.drain(..self.front_pos);
            self.front_pos = 0;
            for more in self.chunks.drain(..) {
                first.data.extend_from_slice(&more.data);
            }
            self.chunks.push_front(first);
        }
        let data = self.chunks.front().map_or(&[][..], |c| &c.data[..]);
        let start = from.min(data.len());
        data[start..]
            .windows(pattern.len())
            .position(|w| w == pattern)
            .map(|i| start + i + pattern.len())
    }

    /// Takes only the front chunk's remaining bytes (for arrival-order reads of two streams).
    pub(crate) fn take_front(&mut self) -> Vec<u8> {
        let rest = self
            .chunks
            .front()
            .map_or(0, |c| c.data.len() - self.front_pos);
        self.take(rest)
    }

    /// The `recv` result once bytes were pulled: data if any, else the error, else EOF.
    pub(crate) fn finish(&mut self, maxsize: usize) -> Result<Option<Vec<u8>>> {
        let out = self.take(maxsize);
        if !out.is_empty() || self.bytes > 0 || !self.ended {
            return Ok(Some(out));
        }
        match self.error.take() {
            Some(e) => Err(Error::Io(e)),
            None => Ok(None),
        }
    }

    /// Takes the pending read error even if bytes are still buffered (they stay buffered).
    pub(crate) fn take_error_now(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Takes the pending read error, if the stream ended with one and its bytes are gone.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        if self.bytes == 0 {
            self.error.take()
        } else {
            None
        }
    }
}

/// The size of a reader's first read; later ones grow up to the chunk size.
const FIRST_READ: usize = 4096;

fn read_loop<R: Read>(
    mut pipe: R,
    chunk: usize,
    tx: &Sender<Msg>,
    seq: &AtomicU64,
    signal: &Signal,
) {
    let mut buf = Vec::new();
    let mut size = FIRST_READ.min(chunk);
    loop {
        // Room first, then read: the reader never holds bytes while the channel is full, so
        // what waits in memory is the channel's bound, and a fast child is held back by its
        // own full pipe.
        if tx.is_full() {
            let mut room = Select::new();
            room.send(tx);
            room.ready();
        }
        // Reads start small and double while they come back full, up to `chunk`: a stream
        // that stays quiet (often stderr) never holds a large zeroed buffer, and a flood
        // reaches full-size reads after a few. A read that fills half its buffer or more hands
        // the buffer over without a copy (the next read gets a fresh one); a shorter read is
        // copied out and the buffer kept, so a small reply costs no large allocation.
        if buf.len() != size {
            buf = vec![0u8; size];
        }
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let data = if n >= size / 2 {
                    let mut full = std::mem::take(&mut buf);
                    full.truncate(n);
                    full
                } else {
                    buf[..n].to_vec()
                };
                if n == size {
                    size = (size * 2).min(chunk);
                }
                let seq = seq.fetch_add(1, Ordering::Relaxed);
                // A closed channel means the Popen is gone: returning drops the pipe, so a child
                // that keeps writing sees a broken pipe instead of blocking forever.
                if tx.send(Msg::Data(Chunk { seq, data })).is_err() {
                    return;
                }
                signal.notify();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Returns `data` once, then fails: a pipe whose read breaks.
    struct Failing(Option<&'static [u8]>);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.take() {
                Some(data) => {
                    buf[..data.len()].copy_from_slice(data);
                    Ok(data.len())
                }
                None => Err(io::Error::other("the pipe broke")),
            }
        }
    }

    fn pump(data: &'static [u8]) -> OutputPump {
        let seq = Arc::new(AtomicU64::new(0));
        let signal = Arc::new(Signal::default());
        OutputPump::start("test".into(), Failing(Some(data)), 64, 4, seq, signal).unwrap()
    }

    fn forever() -> Option<Instant> {
        Instant::now().checked_add(Duration::from_secs(60))
    }

    #[test]
    fn a_read_error_comes_once_after_the_bytes_before_it() {
        let p = pump(b"abc");
        assert_eq!(p.read_until(forever()).unwrap(), Some(b"abc".to_vec()));
        let err = p.recv(10).unwrap_err();
        assert!(matches!(err, Error::Io(ref e) if e.to_string() == "the pipe broke"));
        assert_eq!(
            p.recv(10).unwrap(),
            None,
            "after the error, the stream is at EOF"
        );
    }

    #[test]
    fn recv_deadline_surfaces_the_error_too() {
        let p = pump(b"");
        // An empty first read is EOF for the reader: no error is sent.
        assert_eq!(p.recv_deadline(forever()).unwrap(), None);
        let p = pump(b"x");
        assert_eq!(p.recv_deadline(forever()).unwrap(), Some(b"x".to_vec()));
        assert!(matches!(p.recv_deadline(forever()), Err(Error::Io(_))));
    }

    #[test]
    fn unread_bytes_come_first() {
        let p = pump(b"tail");
        assert_eq!(p.recv_deadline(forever()).unwrap(), Some(b"tail".to_vec()));
        p.unread(b"head".to_vec());
        assert_eq!(p.recv(2).unwrap(), Some(b"he".to_vec()));
        p.unread(b"H".to_vec());
        assert_eq!(p.recv(usize::MAX).unwrap(), Some(b"Had".to_vec()));
    }
}
