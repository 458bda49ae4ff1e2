//! Reading both output streams at once, in arrival order.

use std::time::{Duration, Instant};

use crate::output::Reading;
use crate::{deadline_after, Error, Popen, Result, Stream};

/// A chunk of output and the stream it came on.
type Tagged = (Stream, Vec<u8>);

impl Popen {
    /// Waits at most `timeout` for output on either stream and returns the first chunk to
    /// arrive, with the stream it came on: `Some((stream, bytes))` with non-empty bytes, or
    /// `None` once both streams reached EOF and every byte was returned.
    ///
    /// Chunks come out in the order the reader threads read them, across both streams; each
    /// call returns the rest of one chunk. Streams that were not captured are skipped.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing arrived in time (`Duration::ZERO` does not wait,
    /// `Duration::MAX` waits for output or EOF however long); [`Error::Io`] once if reading a
    /// pipe failed; [`Error::NotCaptured`] if neither stream was piped.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::{Popen, Stream};
    ///
    /// # // This example runs itself as the child, which writes ten bytes to each stream.
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     print!("0123456789");
    /// #     eprint!("0123456789");
    /// #     return Ok(());
    /// # }
    /// # let program = std::env::current_exe()?;
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
    /// let (mut out, mut err) = (Vec::new(), Vec::new());
    /// while let Some((stream, bytes)) = child.recv_any(Duration::from_secs(10))? {
    ///     match stream {
    ///         Stream::Stdout => out.extend(bytes),
    ///         Stream::Stderr => err.extend(bytes),
    ///     }
    /// }
    /// assert_eq!((out.len(), err.len()), (10, 10));
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn recv_any(&self, timeout: Duration) -> Result<Option<(Stream, Vec<u8>)>> {
        self.recv_any_deadline(deadline_after(timeout))
            .ok_or_else(|| Error::timeout("recv_any", timeout))?
    }

    /// Blocks until output arrives on either stream, in arrival order, as an iterator that
    /// ends when both streams reached EOF and every byte was returned.
    ///
    /// Each item is what [`recv_any`](Popen::recv_any) with no timeout returns.
    pub fn events(&self) -> Events<'_> {
        Events {
            popen: self,
            done: false,
        }
    }

    /// `None` on timeout. No stream is locked while waiting: a thread blocked on one stream
    /// does not keep this call from the other.
    fn recv_any_deadline(&self, deadline: Option<Instant>) -> Option<Result<Option<Tagged>>> {
        let pumps: Vec<_> = [&self.stdout, &self.stderr].into_iter().flatten().collect();
        if pumps.is_empty() {
            return Some(Err(Error::NotCaptured { stream: "stdout" }));
        }
        // This call reads both streams: neither is left unread while it waits.
        let _reading: Vec<_> = pumps.iter().map(|p| p.core().waiting()).collect();
        loop {
            let seen = self.hub.signal.epoch();
            // Both locked at once, briefly, always stdout before stderr (no lock-order
            // deadlock), so the earliest chunk of either is found.
            let mut looks: Vec<Reading<'_>> = pumps.iter().map(|p| p.core().read()).collect();
            let first = looks
                .iter_mut()
                .filter(|r| r.front_seq().is_some())
                .min_by_key(|r| r.front_seq());
            if let Some(r) = first {
                let stream = r.core().stream;
                let chunk = r.take_front().map(|c| c.data).unwrap_or_default();
                return Some(Ok(Some((stream, chunk))));
            }
            for r in looks.iter_mut() {
                if let Some(e) = r.take_error() {
                    return Some(Err(Error::Io(e)));
                }
            }
            if looks.iter().all(|r| r.is_drained()) {
                return Some(Ok(None));
            }
            drop(looks);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            self.hub.signal.wait_past(seen, deadline);
        }
    }
}

/// The blocking iterator returned by [`Popen::events`]: `(stream, bytes)` in arrival order.
#[derive(Debug)]
pub struct Events<'a> {
    popen: &'a Popen,
    /// Set after the end or an error that would repeat forever (nothing captured).
    done: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<(Stream, Vec<u8>)>;

    /// Blocks until the next chunk arrives on either stream, or both reach EOF (`None`).
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.popen.recv_any_deadline(None)? {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = e.is_not_captured();
                Some(Err(e))
            }
        }
    }
}
