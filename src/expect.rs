//! Expect-style helpers for interactive children, without a pty: read until a pattern or a
//! line, with a timeout, keeping whatever follows for the next call.

use std::time::Duration;

use crate::output::Filled;
use crate::{deadline_after, Error, Popen, Result, Stream};

/// How a search for a pattern ended.
enum Found {
    /// Everything up to and including the pattern.
    Match(Vec<u8>),
    /// The stream ended first; the bytes read so far are still buffered.
    Eof,
}

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
        self.expect_from(Stream::Stdout, pattern, timeout)
    }

    /// Waits at most `timeout` for `pattern` to appear on `which` and returns everything up to
    /// and including its first occurrence; the rest stays buffered for the next call.
    ///
    /// The pattern may arrive split across any number of chunks. An empty pattern matches at
    /// once. Output is taken in while searching, so a prompt far down a long output is found.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the pattern did not appear in time, and
    /// [`Error::UnexpectedEof`] if the stream ended first. Nothing is lost either way: the
    /// bytes read are still returned by the next `recv`, `asyncread` or `expect`.
    pub fn expect_from(&self, which: Stream, pattern: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        match self.search(which, pattern, timeout)? {
            Found::Match(bytes) => Ok(bytes),
            Found::Eof => Err(Error::UnexpectedEof {
                stream: which.name(),
            }),
        }
    }

    /// Waits at most `timeout` for one line of stdout and returns it with its `\n`; at EOF
    /// a last line without `\n` is returned as it is, then `None`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if no whole line arrived in time (nothing is lost).
    pub fn read_line(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.read_line_from(Stream::Stdout, timeout)
    }

    /// Waits at most `timeout` for one line on `which`; as [`read_line`](Popen::read_line).
    pub fn read_line_from(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        match self.search(which, b"\n", timeout)? {
            Found::Match(line) => Ok(Some(line)),
            Found::Eof => {
                let rest = self.recv_from(which, usize::MAX)?;
                Ok(rest.filter(|r| !r.is_empty()))
            }
        }
    }

    fn search(&self, which: Stream, pattern: &[u8], timeout: Duration) -> Result<Found> {
        let pump = self.output(which)?;
        let deadline = deadline_after(timeout);
        let timed_out = || Error::timeout("expect", timeout);
        let mut st = pump.lock_until(deadline).ok_or_else(timed_out)?;
        if pattern.is_empty() {
            return Ok(Found::Match(Vec::new()));
        }
        let mut from = 0;
        loop {
            pump.pull(&mut st, usize::MAX);
            if let Some(end) = st.find(pattern, from) {
                return Ok(Found::Match(st.take(end)));
            }
            // Only the last `pattern.len() - 1` bytes can start a match that more data ends.
            from = st.buffered().saturating_sub(pattern.len() - 1);
            if st.is_ended() {
                return match st.take_error() {
                    Some(e) => Err(Error::Io(e)),
                    None => Ok(Found::Eof),
                };
            }
            if pump.fill(&mut st, deadline) == Filled::TimedOut {
                return Err(timed_out());
            }
        }
    }
}
