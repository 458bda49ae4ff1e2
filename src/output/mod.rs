//! The output pump: what happens to the child's stdout (or stderr).
//!
//! A reader thread (`reader.rs`) waits for room, reads the pipe into a chunk and sends it
//! through a bounded channel. The caller's side moves chunks out of the channel into the
//! stream's buffer (`buffer.rs`) and returns bytes from there. `core.rs` holds what both
//! sides share and explains the byte bound.
//!
//! Every blocking call here looks at the buffer under its lock, releases it, and parks on the
//! child's hub until something happens. While it waits it moves the *other* output stream of
//! the child along (out of its channel, up to that stream's bound), so a child writing to the
//! stream nobody waits on is not held back, and if that stream overflows its bound with
//! nobody reading it, the call returns [`Error::Stalled`] instead of waiting for ever.

mod buffer;
mod core;
mod handle;
mod reader;

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::bounded;

pub(crate) use self::buffer::Chunk;
pub(crate) use self::core::{Core, Reading, Stall, STALL_GRACE};
use crate::signal::Hub;
use crate::{Error, Overflow, Result, Stream};

/// What a reader thread sends.
#[derive(Debug)]
pub(crate) enum Msg {
    Data(Chunk),
    /// The read failed; the reader stops after sending this.
    Failed(io::Error),
}

/// How many chunks the channel holds: with small reads (a line each) the channel fills by
/// count before the read-ahead fills by bytes, and a waiting caller then moves them along.
const SLOTS: usize = 64;

/// The sizes that shape one output stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) capacity: usize,
    pub(crate) read_ahead: usize,
    pub(crate) chunk: usize,
    pub(crate) policy: Overflow,
}

/// Starts the reader thread for `pipe` and returns the stream's shared core.
pub(crate) fn start<R: Read + Send + 'static>(
    stream: Stream,
    pipe: R,
    sizes: Sizes,
    hub: &Arc<Hub>,
) -> io::Result<Arc<Core>> {
    let (tx, rx) = bounded(SLOTS);
    let read_ahead = sizes.read_ahead.min(sizes.capacity).max(1);
    let core = Arc::new(Core::new(
        stream,
        rx,
        sizes.capacity,
        read_ahead,
        sizes.policy,
        Arc::clone(hub),
    ));
    reader::start(pipe, Arc::clone(&core), tx, sizes.chunk)?;
    Ok(core)
}

/// How long a call may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Not at all: look once.
    No,
    /// Until the deadline (`None`: for ever).
    Until(Option<Instant>),
}

/// One captured output stream of the child (stdout or stderr): receive what it wrote, in
/// chunks, into a buffer, by line, up to a pattern or by exact count, each with and without
/// waiting. Get it from [`Popen::stdout`](crate::Popen::stdout) or
/// [`Popen::stderr`](crate::Popen::stderr).
///
/// Why this name: it is a *handle* on a stream the [`Popen`](crate::Popen) owns and keeps
/// pumping, not the pipe itself (std's `ChildStdout` is the pipe, and reading it blocks the
/// way a pipe does). One type serves both streams, because both behave the same; ask
/// [`stream`](OutputHandle::stream) which one it is.
///
/// Every operation comes as a family, as in crossbeam-channel: `try_*` never blocks, the
/// plain form blocks until it is done or the stream ends, `*_timeout` waits at most a
/// duration and `*_deadline` until an instant. See the crate docs' conventions table for
/// what each returns. Methods take `&self`, so any number of threads may use a handle at once;
/// no call holds the stream while it sleeps, so whichever thread looks first gets the bytes,
/// each byte exactly once.
///
/// While a call waits on this stream, the child's other output stream keeps being taken in,
/// up to its bound; if the child blocks on that one with nobody reading it, the call returns
/// [`Error::Stalled`] naming it (see the crate docs).
#[derive(Debug)]
pub struct OutputHandle {
    core: Arc<Core>,
    /// The child's other output stream, moved along while this one is waited on.
    sibling: Option<Arc<Core>>,
}

impl OutputHandle {
    pub(crate) fn new(core: Arc<Core>, sibling: Option<Arc<Core>>) -> OutputHandle {
        OutputHandle { core, sibling }
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Returns immediately after moving the other stream along: the sibling's stall, if any.
    fn sibling_stall(&self, now: Instant) -> Stall {
        match &self.sibling {
            Some(sibling) => {
                sibling.move_along();
                sibling.stall(now)
            }
            None => Stall::No,
        }
    }

    /// Blocks until `look` decides (`Some`), the other stream stalls, or `deadline` passes
    /// (`None`). `look` runs with the buffer locked and the channel moved in, first at once
    /// and then after every event of the child; no lock is held in between.
    fn block<T>(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
        mut look: impl FnMut(&mut Reading<'_>) -> Option<Result<T>>,
    ) -> Option<Result<T>> {
        let _reading = self.core.waiting();
        loop {
            let seen = self.core.hub.signal.epoch();
            if let Some(done) = look(&mut self.core.read()) {
                return Some(done);
            }
            let now = Instant::now();
            let stall = self.sibling_stall(now);
            if let Stall::Yes(stream) = stall {
                return Some(Err(Error::Stalled { stream, operation }));
            }
            // Checked on every turn: a busy child wakes this loop before any deadline would.
            if deadline.is_some_and(|d| now >= d) {
                return None;
            }
            self.core.hub.signal.wait_past(seen, stall.wake(deadline));
        }
    }

    /// Runs `look` once (`Wait::No`) or until it decides; `None` when it did not in time.
    /// Not waiting, "nothing yet" is `Some(Err(Stalled))` if the other stream blocks the
    /// child, else `None`.
    pub(crate) fn run<T>(
        &self,
        wait: Wait,
        operation: &'static str,
        mut look: impl FnMut(&mut Reading<'_>) -> Option<Result<T>>,
    ) -> Option<Result<T>> {
        match wait {
            Wait::Until(deadline) => self.block(deadline, operation, look),
            Wait::No => {
                let stall = self.sibling_stall(Instant::now());
                if let Some(done) = look(&mut self.core.read()) {
                    return Some(done);
                }
                match stall {
                    Stall::Yes(stream) => Some(Err(Error::Stalled { stream, operation })),
                    _ => None,
                }
            }
        }
    }

    /// The PEP's `recv`: returns immediately with up to `maxsize` bytes (`Some`, possibly
    /// empty) while the stream is open, `None` once it ended and every byte was returned.
    pub(crate) fn recv_max(
        &self,
        maxsize: usize,
        operation: &'static str,
    ) -> Result<Option<Vec<u8>>> {
        if maxsize == 0 {
            // Nothing can be returned, so nothing is looked at: not even a stall.
            return self.core.read().finish(0);
        }
        let got = self.run(Wait::No, operation, |r| {
            (r.len() > 0 || r.is_ended()).then(|| r.finish(maxsize))
        });
        got.unwrap_or(Ok(Some(Vec::new())))
    }

    /// The PEP's `recv_timeout`: waits until `deadline` for the first byte, then returns
    /// everything that is there; `Some(empty)` on timeout.
    pub(crate) fn recv_or_empty(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Result<Option<Vec<u8>>> {
        let got = self.block(deadline, operation, |r| {
            (r.len() > 0 || r.is_ended()).then(|| r.finish(usize::MAX))
        });
        got.unwrap_or(Ok(Some(Vec::new())))
    }

    /// Waits until `deadline` for the first chunk and returns it whole, with its arrival
    /// stamp: `Some(None)` at EOF, `None` on timeout.
    pub(crate) fn recv_chunk_deadline(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Option<Result<Option<Chunk>>> {
        self.block(deadline, operation, |r| {
            if r.front_seq().is_some() {
                return Some(Ok(r.take_front()));
            }
            r.is_ended().then(|| r.end())
        })
    }

    /// The PEP's `asyncread`: collects everything that arrives until `deadline` or the end of
    /// the stream. Returns early with what it has if the other stream stalls (the next call
    /// reports it).
    pub(crate) fn collect_deadline(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut first = true;
        let got = self.block(deadline, operation, |r| {
            if std::mem::take(&mut first) && r.is_ended() && r.len() == 0 {
                // Already at the end when called: EOF (or the error), not an empty read.
                return Some(Ok(true));
            }
            r.take_into(&mut out, usize::MAX);
            r.is_ended().then_some(Ok(false))
        });
        match got {
            Some(Ok(true)) => return self.core.read().end(),
            Some(Err(e)) if out.is_empty() => return Err(e),
            _ => {}
        }
        let mut r = self.core.read();
        match r.take_error() {
            // The error comes out now only if no bytes would be returned with it.
            Some(e) if out.is_empty() => Err(Error::Io(e)),
            Some(e) => {
                r.keep_error(e);
                Ok(Some(out))
            }
            None => Ok(Some(out)),
        }
    }

    /// Puts bytes back at the front, with the stamp of the read they came from.
    pub(crate) fn unread(&self, chunk: Chunk) {
        if !chunk.data.is_empty() {
            self.core.read().put_back(chunk);
        }
    }
}

impl Drop for OutputHandle {
    fn drop(&mut self) {
        // The reader stops at its next chance; the bytes it left are freed now, not when it
        // ends (a child that never writes again keeps its reader in `read`).
        self.core
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.core.read().clear();
        self.core.room.notify();
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

    fn pump(data: &'static [u8]) -> OutputHandle {
        let sizes = Sizes {
            capacity: 256,
            read_ahead: 64,
            chunk: 64,
            policy: Overflow::Block,
        };
        let hub = Arc::new(Hub::with_link(None));
        let core = start(Stream::Stdout, Failing(Some(data)), sizes, &hub);
        OutputHandle::new(core.unwrap(), None)
    }

    fn soon() -> Option<Instant> {
        Instant::now().checked_add(Duration::from_secs(60))
    }

    #[test]
    fn a_read_error_comes_once_after_the_bytes_before_it() {
        let p = pump(b"abc");
        assert_eq!(
            p.collect_deadline(soon(), "t").unwrap(),
            Some(b"abc".to_vec())
        );
        let err = p.recv_max(10, "t").unwrap_err();
        assert!(matches!(err, Error::Io(ref e) if e.to_string() == "the pipe broke"));
        assert_eq!(p.recv_max(10, "t").unwrap(), None, "after the error, EOF");
    }

    #[test]
    fn recv_deadline_surfaces_the_error_too() {
        // An empty first read is EOF for the reader: no error is sent.
        assert_eq!(pump(b"").recv_or_empty(soon(), "t").unwrap(), None);
        let p = pump(b"x");
        assert_eq!(p.recv_or_empty(soon(), "t").unwrap(), Some(b"x".to_vec()));
        assert!(matches!(p.recv_or_empty(soon(), "t"), Err(Error::Io(_))));
    }

    #[test]
    fn unread_bytes_come_first_and_count_against_the_bound() {
        let p = pump(b"tail");
        assert_eq!(
            p.recv_or_empty(soon(), "t").unwrap(),
            Some(b"tail".to_vec())
        );
        p.unread(Chunk {
            seq: 0,
            data: b"head".to_vec(),
        });
        assert_eq!(p.core().held.load(std::sync::atomic::Ordering::Acquire), 4);
        assert_eq!(p.recv_max(2, "t").unwrap(), Some(b"he".to_vec()));
        p.unread(Chunk {
            seq: 0,
            data: b"H".to_vec(),
        });
        assert_eq!(p.recv_max(usize::MAX, "t").unwrap(), Some(b"Had".to_vec()));
        assert_eq!(p.core().held.load(std::sync::atomic::Ordering::Acquire), 0);
    }
}
