//! Expect-style helpers for interactive children, without a pty: read until a pattern or a
//! line, with a timeout, keeping whatever follows for the next call.

use std::time::{Duration, Instant};

use crate::output::Found;
use crate::{deadline_after, Error, Popen, Result, Stream};

impl Popen {
    /// Waits at most `timeout` for `pattern` to appear on stdout and returns everything up to
    /// and including it; bytes after it stay buffered for the next call (see
    /// [`expect_from`](Popen::expect_from)).
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     use std::io::Write;
    /// #     let mut out = std::io::stdout();
    /// #     out.write_all(b"booting...\nready> ")?;
    /// #     out.flush()?;
    /// #     let mut line = String::new();
    /// #     std::io::stdin().read_line(&mut line)?;
    /// #     out.write_all(format!("you said {line}ready> ").as_bytes())?;
    /// #     return Ok(());
    /// # }
    /// # let program = std::env::current_exe()?;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // `program` prints a prompt, reads a line, answers and prompts again.
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
    /// let banner = child.expect(b"ready> ", Duration::from_secs(10))?;
    /// assert_eq!(banner, b"booting...\nready> ");
    /// child.send(b"hi\n")?;
    /// let reply = child.read_line(Duration::from_secs(10))?;
    /// assert_eq!(reply.as_deref(), Some(&b"you said hi\n"[..]));
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn expect(&self, pattern: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        self.expect_op(Stream::Stdout, pattern, timeout, "expect")
    }

    /// Waits at most `timeout` for `pattern` to appear on `which` and returns everything up to
    /// and including its first occurrence; the rest stays buffered for the next call.
    ///
    /// The pattern may arrive split across any number of chunks. An empty pattern matches at
    /// once. It holds at most [`Options::output_capacity`](crate::Options::output_capacity)
    /// bytes while it searches; the other stream keeps being taken in meanwhile, up to its own
    /// bound.
    ///
    /// # Errors
    /// - [`Error::Timeout`] if the pattern did not appear in time;
    /// - [`Error::UnexpectedEof`] if the stream ended first;
    /// - [`Error::Stalled`] naming `which` if the bound filled without the pattern, or naming
    ///   the other stream if the child is blocked on it with nobody reading it. Avoid the
    ///   latter by merging stderr into stdout, reading the other stream from another thread,
    ///   or making it [`Overflow::KeepTail`](crate::Overflow::KeepTail).
    ///
    /// Nothing is lost in any case: the bytes read are still returned by the next `recv`,
    /// `asyncread` or `expect`.
    pub fn expect_from(&self, which: Stream, pattern: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        self.expect_op(which, pattern, timeout, "expect_from")
    }

    pub(crate) fn expect_op(
        &self,
        which: Stream,
        pattern: &[u8],
        timeout: Duration,
        operation: &'static str,
    ) -> Result<Vec<u8>> {
        match self.search(which, pattern, deadline_after(timeout), operation) {
            Some(Ok(Found::Match(bytes))) => Ok(bytes),
            Some(Ok(Found::Eof)) => Err(Error::UnexpectedEof {
                stream: which.name(),
            }),
            Some(Err(e)) => Err(e),
            None => Err(Error::timeout(operation, timeout)),
        }
    }

    /// Waits at most `timeout` for one line of stdout and returns it with its `\n`; at EOF
    /// a last line without `\n` is returned as it is, then `None`.
    ///
    /// This is the call for streaming a build's output line by line. It never stalls on
    /// stderr filling up while the child writes lines slowly: stderr is taken in meanwhile, up
    /// to its bound.
    ///
    /// # Errors
    /// [`Error::Timeout`] if no whole line arrived in time (nothing is lost);
    /// [`Error::Stalled`] as for [`expect_from`](Popen::expect_from): a line longer than the
    /// bound, or more than the bound of unread stderr (merge it, read it, or make it
    /// [`Overflow::KeepTail`](crate::Overflow::KeepTail)).
    pub fn read_line(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.read_line_op(
            Stream::Stdout,
            deadline_after(timeout),
            timeout,
            "read_line",
        )
    }

    /// Waits at most `timeout` for one line on `which`; as [`read_line`](Popen::read_line).
    pub fn read_line_from(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.read_line_op(which, deadline_after(timeout), timeout, "read_line_from")
    }

    pub(crate) fn read_line_op(
        &self,
        which: Stream,
        deadline: Option<Instant>,
        timeout: Duration,
        operation: &'static str,
    ) -> Result<Option<Vec<u8>>> {
        match self.search(which, b"\n", deadline, operation) {
            Some(Ok(Found::Match(line))) => Ok(Some(line)),
            Some(Ok(Found::Eof)) => {
                let rest = self.output(which)?.recv(usize::MAX, operation)?;
                Ok(rest.filter(|r| !r.is_empty()))
            }
            Some(Err(e)) => Err(e),
            None => Err(Error::timeout(operation, timeout)),
        }
    }

    fn search(
        &self,
        which: Stream,
        pattern: &[u8],
        deadline: Option<Instant>,
        operation: &'static str,
    ) -> Option<Result<Found>> {
        match self.output(which) {
            Ok(pump) => pump.search(pattern, deadline, operation),
            Err(e) => Some(Err(e)),
        }
    }
}
