//! Reading both output streams at once, in arrival order.

use std::time::{Duration, Instant};

use crate::output::Reading;
use crate::pipes::Pipes;
use crate::{Error, Result, Stream};

/// A chunk of output and the stream it came on.
type Tagged = (Stream, Vec<u8>);

/// Waits until `deadline` for the earliest chunk of either output stream; `None` on timeout.
/// No stream is locked while waiting: a thread blocked on one stream does not keep this call
/// from the other.
pub(crate) fn recv_any(pipes: &Pipes, deadline: Option<Instant>) -> Option<Result<Option<Tagged>>> {
    let pumps: Vec<_> = [&pipes.stdout, &pipes.stderr]
        .into_iter()
        .flatten()
        .collect();
    if pumps.is_empty() {
        return Some(Err(Error::NotCaptured { stream: "stdout" }));
    }
    // This call reads both streams: neither is left unread while it waits.
    let _reading: Vec<_> = pumps.iter().map(|p| p.core().waiting()).collect();
    loop {
        let seen = pipes.hub.signal.epoch();
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
        pipes.hub.signal.wait_past(seen, deadline);
    }
}

/// The blocking iterator returned by [`Popen::events`](crate::Popen::events) and
/// [`Popen::events_deadline`](crate::Popen::events_deadline): `(stream, bytes)` in arrival
/// order.
#[derive(Debug)]
pub struct Events<'a> {
    pipes: &'a Pipes,
    deadline: Option<Instant>,
    /// What the deadline was from the start, for the timeout error.
    timeout: Duration,
    /// Set after the end, the deadline, or an error that would repeat forever.
    done: bool,
}

impl<'a> Events<'a> {
    pub(crate) fn new(pipes: &'a Pipes, deadline: Option<Instant>) -> Events<'a> {
        let timeout = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        Events {
            pipes,
            deadline,
            timeout,
            done: false,
        }
    }
}

impl Iterator for Events<'_> {
    type Item = Result<(Stream, Vec<u8>)>;

    /// Blocks until the next chunk arrives on either stream, or both reach EOF (`None`), or
    /// the deadline passes (one `Err(Error::Timeout)`, then `None`).
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some(got) = recv_any(self.pipes, self.deadline) else {
            self.done = true;
            return Some(Err(Error::timeout("events_deadline", self.timeout)));
        };
        match got {
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
