//! The input pump: what happens to the bytes sent to the child's stdin.
//!
//! `send` splits data into chunks of at most `chunk` bytes and `try_send`s them into a bounded
//! channel of `slots` chunks, so at most `slots * chunk` bytes are ever queued. A writer thread
//! takes them out, coalesces small ones into one write, and writes them to the pipe. Dropping
//! the sender (`close`) lets the writer finish what is queued and then close the pipe, which
//! is how the child sees EOF.

use std::io::{self, Write};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Select, Sender, TrySendError};
use parking_lot::{Condvar, Mutex};

use crate::process::THREAD_STACK;
use crate::{Error, Result};

#[derive(Debug)]
pub(crate) struct InputPump {
    /// `None` once stdin was closed by the caller.
    tx: Mutex<Option<Sender<Vec<u8>>>>,
    chunk: usize,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<Progress>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Progress {
    queued: u64,
    written: u64,
    /// The child closed its stdin (broken pipe): nothing more can be written.
    broken: bool,
    /// Any other write error, returned once by the next call.
    error: Option<io::Error>,
    /// The writer thread has returned.
    finished: bool,
}

impl InputPump {
    /// Starts the writer thread for `pipe`.
    pub(crate) fn start<W: Write + Send + 'static>(
        name: String,
        pipe: W,
        chunk: usize,
        slots: usize,
    ) -> io::Result<InputPump> {
        let (tx, rx) = bounded(slots);
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        thread::Builder::new()
            .name(name)
            .stack_size(THREAD_STACK)
            .spawn(move || write_loop(pipe, &rx, chunk, &theirs))?;
        Ok(InputPump {
            tx: Mutex::new(Some(tx)),
            chunk,
            shared,
        })
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

    /// Returns immediately with how many bytes of `data` were queued (0 when the queue is full).
    pub(crate) fn send(&self, data: &[u8]) -> Result<usize> {
        let guard = self.tx.lock();
        let Some(tx) = guard.as_ref() else {
            return Err(Error::StdinClosed);
        };
        if let Some(e) = self.writer_failure() {
            return Err(e);
        }
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
        }
        Ok(taken)
    }

    /// Waits until `deadline` for room in the queue (or for stdin to close); `false` on timeout.
    pub(crate) fn wait_room(&self, deadline: Option<Instant>) -> bool {
        let Some(tx) = self.sender() else {
            return true;
        };
        let mut sel = Select::new();
        sel.send(&tx);
        match deadline {
            None => {
                sel.ready();
                true
            }
            Some(d) => sel.ready_deadline(d).is_ok(),
        }
    }

    /// A clone of the sender for a `Select`; dropped right after, so `close` still closes.
    pub(crate) fn sender(&self) -> Option<Sender<Vec<u8>>> {
        self.tx.lock().clone()
    }

    /// Queues all of `data`, waiting until `deadline` for room; returns the bytes taken.
    pub(crate) fn send_until(&self, data: &[u8], deadline: Option<Instant>) -> Result<usize> {
        let mut taken = self.send(data)?;
        while taken < data.len() && self.wait_room(deadline) {
            match self.send(&data[taken..]) {
                Ok(n) => taken += n,
                Err(_) if taken > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(taken)
    }

    /// Queues at least one byte of non-empty `data`, waiting until `deadline` for room.
    /// `Ok(0)` means the deadline passed first.
    pub(crate) fn send_some(&self, data: &[u8], deadline: Option<Instant>) -> Result<usize> {
        loop {
            let n = self.send(data)?;
            if n > 0 || data.is_empty() || !self.wait_room(deadline) {
                return Ok(n);
            }
        }
    }

    /// Returns immediately; later sends fail with `StdinClosed`, and the writer closes the pipe
    /// once everything already queued is written. Idempotent.
    pub(crate) fn close(&self) {
        self.tx.lock().take();
    }

    /// Returns immediately: whether `close` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.lock().is_none()
    }

    /// Waits until `deadline` for everything queued so far to be written to the pipe.
    /// `Ok(false)` on timeout.
    pub(crate) fn flush_until(&self, deadline: Option<Instant>) -> Result<bool> {
        let mut st = self.shared.state.lock();
        let target = st.queued;
        loop {
            if st.written >= target {
                return Ok(true);
            }
            if let Some(e) = st.error.take() {
                st.broken = true;
                return Err(Error::Io(e));
            }
            if st.broken || st.finished {
                return Err(Error::StdinClosed);
            }
            match deadline {
                None => self.shared.changed.wait(&mut st),
                Some(d) => {
                    if self.shared.changed.wait_until(&mut st, d).timed_out() {
                        return Ok(st.written >= target);
                    }
                }
            }
        }
    }
}

fn write_loop<W: Write>(mut pipe: W, rx: &Receiver<Vec<u8>>, chunk: usize, shared: &Shared) {
    let mut joined = Vec::new();
    // `recv` fails once the sender is dropped and the queue is empty: then the pipe is closed.
    while let Ok(first) = rx.recv() {
        let data = if first.len() >= chunk / 4 {
            first
        } else {
            // Many small sends become one write: fewer syscalls, and fewer wake-ups of the child.
            joined.clear();
            joined.extend_from_slice(&first);
            while joined.len() < chunk {
                match rx.try_recv() {
                    Ok(more) => joined.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            std::mem::take(&mut joined)
        };
        let result = pipe.write_all(&data).and_then(|()| pipe.flush());
        let mut st = shared.state.lock();
        match result {
            Ok(()) => st.written += data.len() as u64,
            // The child closed its stdin: it stopped reading, which is not our failure.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => st.broken = true,
            Err(e) => st.error = Some(e),
        }
        let failed = st.broken || st.error.is_some();
        drop(st);
        shared.changed.notify_all();
        if failed {
            break;
        }
        if data.capacity() <= chunk * 2 && joined.capacity() == 0 {
            joined = data;
        }
    }
    shared.state.lock().finished = true;
    shared.changed.notify_all();
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

    fn soon() -> Option<Instant> {
        Instant::now().checked_add(Duration::from_secs(60))
    }

    #[test]
    fn a_write_error_is_returned_once_then_stdin_is_closed() {
        let pump = InputPump::start("test".into(), Failing(io::ErrorKind::Other), 16, 4).unwrap();
        assert_eq!(pump.send(b"abc").unwrap(), 3);
        assert!(matches!(pump.flush_until(soon()), Err(Error::Io(_))));
        assert!(matches!(pump.send(b"abc"), Err(Error::StdinClosed)));
    }

    #[test]
    fn a_broken_pipe_is_stdin_closed_not_an_io_error() {
        let pump =
            InputPump::start("test".into(), Failing(io::ErrorKind::BrokenPipe), 16, 4).unwrap();
        assert_eq!(pump.send(b"abc").unwrap(), 3);
        assert!(matches!(pump.flush_until(soon()), Err(Error::StdinClosed)));
        assert!(matches!(pump.send(b"abc"), Err(Error::StdinClosed)));
        assert!(matches!(
            pump.send_until(b"x", soon()),
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
        let pump = InputPump::start("test".into(), Stuck, 10, 3).unwrap();
        let taken = pump.send(&[0u8; 1000]).unwrap();
        // The writer may hold one chunk; the queue holds three chunks of at most 10 bytes.
        assert!(
            (30..=40).contains(&taken),
            "took {taken} bytes with a 30-byte queue"
        );
    }
}
