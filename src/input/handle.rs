//! The public waiting operations of an [`InputHandle`], in crossbeam's family of forms, and
//! `Write`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::InputHandle;
use crate::{deadline_after, Error, Result};

impl InputHandle {
    /// Blocks until all of `data` is queued for the child's stdin (not yet written: see
    /// [`flush`](InputHandle::flush)).
    ///
    /// Data that fits the queue ([`Options::input_capacity`](crate::Options::input_capacity))
    /// is queued all at once when there is room for all of it, so a timing-out (or stalling)
    /// [`send_timeout`](InputHandle::send_timeout) queues none of it and can simply be
    /// called again. Larger data is queued in parts as room appears: an error then may come
    /// after some parts were queued (they will be written), so resending all of it would
    /// repeat them. For data larger than the queue whose sending must resume after an error,
    /// use [`try_send`](InputHandle::try_send) or `Write`, which report how much they took.
    /// While it waits, the child's output is taken in, up to each stream's bound.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     std::io::copy(&mut std::io::stdin(), &mut std::io::stdout())?;
    /// #     return Ok(());
    /// # }
    /// # let mut echo = std::process::Command::new(std::env::current_exe()?);
    /// # echo.env("PROCPUMP_DOC_CHILD", "1");
    /// use std::time::{Duration, Instant};
    /// use procpump::Popen;
    ///
    /// // `echo` is a Command for a program that copies its stdin to its stdout, like `cat`.
    /// let child = Popen::spawn(&mut echo)?;
    /// let (stdin, stdout) = (child.stdin().unwrap(), child.stdout().unwrap());
    /// // One deadline for the whole exchange.
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// stdin.send_deadline(b"ping\n", deadline)?;
    /// assert_eq!(stdout.recv_line_deadline(deadline)?.unwrap(), b"ping\n");
    /// stdin.close();
    /// assert!(child.wait()?.success());
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::StdinClosed`] after [`close`](InputHandle::close) or once the child closed its
    /// stdin; [`Error::Io`] once for any other write failure; [`Error::Stalled`] when the
    /// child stopped reading because an output it writes to is full and unread (read it, from
    /// another thread or with [`Popen::recv_any`](crate::Popen::recv_any)).
    pub fn send(&self, data: &[u8]) -> Result<()> {
        self.send_all(data, None, "send", Duration::MAX)
    }

    /// Waits at most `timeout` for all of `data` to be queued; see [`send`](InputHandle::send).
    ///
    /// Built on the deadline form: `Duration::MAX` waits for ever.
    ///
    /// # Errors
    /// [`Error::Timeout`] naming this method when the timeout passed first; data that fits the
    /// queue was then not queued at all. Otherwise as for `send`.
    pub fn send_timeout(&self, data: &[u8], timeout: Duration) -> Result<()> {
        self.send_all(data, deadline_after(timeout), "send_timeout", timeout)
    }

    /// Waits until `deadline` for all of `data` to be queued; see [`send`](InputHandle::send).
    ///
    /// # Errors
    /// [`Error::Timeout`] naming this method when the deadline passed first; data that fits
    /// the queue was then not queued at all. Otherwise as for `send`.
    pub fn send_deadline(&self, data: &[u8], deadline: Instant) -> Result<()> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.send_all(data, Some(deadline), "send_deadline", timeout)
    }

    fn send_all(
        &self,
        data: &[u8],
        deadline: Option<Instant>,
        operation: &'static str,
        timeout: Duration,
    ) -> Result<()> {
        let timed_out = || Error::timeout(operation, timeout);
        if data.is_empty() {
            return self.queue(data).map(drop);
        }
        if self.could_hold(data.len()) {
            // All or nothing: wait for room for all of it, then queue it in one go (another
            // thread may have taken the room meanwhile: then wait again).
            loop {
                if self.queue_if(data, true)? == data.len() {
                    return Ok(());
                }
                if !self.block(deadline, operation, || self.has_room_for(data.len()))? {
                    return Err(timed_out());
                }
            }
        }
        let mut taken = 0;
        loop {
            taken += self.queue(&data[taken..])?;
            if taken == data.len() {
                return Ok(());
            }
            if !self.wait_room(deadline, operation)? {
                return Err(timed_out());
            }
        }
    }

    /// Returns immediately: whether everything queued so far has been written to the pipe.
    ///
    /// # Errors
    /// As for [`flush`](InputHandle::flush), when it is known already.
    pub fn try_flush(&self) -> Result<bool> {
        self.flush_within(Some(Instant::now()), "try_flush")
    }

    /// Blocks until everything queued so far has been written to the pipe (the child may not
    /// have read it yet).
    ///
    /// # Errors
    /// [`Error::StdinClosed`] if the child closed its stdin before taking it all;
    /// [`Error::Io`] once for another write failure; [`Error::Stalled`] as for
    /// [`send`](InputHandle::send).
    pub fn flush(&self) -> Result<()> {
        self.flush_all(None, "flush", Duration::MAX)
    }

    /// Waits at most `timeout` until everything queued so far has been written; see
    /// [`flush`](InputHandle::flush). `Duration::MAX` waits for ever.
    ///
    /// # Errors
    /// [`Error::Timeout`] naming this method when the timeout passed first; otherwise as for
    /// `flush`.
    pub fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        self.flush_all(deadline_after(timeout), "flush_timeout", timeout)
    }

    /// Waits until `deadline` until everything queued so far has been written; see
    /// [`flush`](InputHandle::flush).
    ///
    /// # Errors
    /// [`Error::Timeout`] naming this method when the deadline passed first; otherwise as for
    /// `flush`.
    pub fn flush_deadline(&self, deadline: Instant) -> Result<()> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.flush_all(Some(deadline), "flush_deadline", timeout)
    }

    fn flush_all(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
        timeout: Duration,
    ) -> Result<()> {
        match self.flush_within(deadline, operation)? {
            true => Ok(()),
            false => Err(Error::timeout(operation, timeout)),
        }
    }
}

impl Write for &InputHandle {
    /// Blocks until at least one byte of `data` is queued, and returns how many were;
    /// `ErrorKind::BrokenPipe` once stdin is closed, `ErrorKind::Deadlock` for
    /// [`Error::Stalled`].
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        Ok(self.send_some(data, None, "write")?)
    }

    /// Blocks until everything queued was written to the pipe, as
    /// [`InputHandle::flush`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(InputHandle::flush(self)?)
    }
}
