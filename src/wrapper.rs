//! `ProcessIoWrapper`: the child as a file, like a `TcpStream` with timeouts.

use std::io::{self, BufRead, Read, Write};
use std::time::Duration;

use parking_lot::Mutex;

use crate::output::Chunk;
use crate::{deadline_after, Error, Popen, Stream};

/// A child process used as a file: [`Read`] and [`BufRead`] take its stdout, [`Write`] feeds
/// its stdin (the PEP's `ProcessIOWrapper`).
///
/// `Read` and `Write` are implemented for `&ProcessIoWrapper` too, so one thread can write
/// while another reads (as with `&TcpStream`).
///
/// It behaves like a `TcpStream` with timeouts: `read` blocks until at least one byte, EOF
/// (`Ok(0)`) or the read timeout (`ErrorKind::TimedOut`, nothing lost); `write` blocks until
/// at least one byte is queued or the write timeout passes; `flush` waits until everything
/// queued was written to the pipe. With no timeout set (the default), they wait as long as it
/// takes; a zero timeout means "do not wait".
///
/// A child is not a file in one way: it stops reading once its output is full and unread. So
/// writing all input before reading any output (`io::copy` in, then `read_to_end`) works only
/// while the output fits the bound ([`Options::output_capacity`](crate::Options::output_capacity));
/// beyond that, `write` returns `ErrorKind::Deadlock` ([`Error::Stalled`]) instead of
/// hanging. For a filter of any size, read and write at once: write from one thread and read
/// from another through `&ProcessIoWrapper`, or use
/// [`Popen::communicate_io`], which does both on one thread in constant memory. Reads, in
/// turn, take in stderr meanwhile up to its bound and return `ErrorKind::Deadlock` if the
/// child blocks on it: read stderr through [`get_ref`](ProcessIoWrapper::get_ref), merge it
/// into stdout, or make it [`Overflow::KeepTail`](crate::Overflow::KeepTail).
///
/// ```
/// use std::io::{BufRead, Write};
/// use std::process::Command;
/// use procpump::{Popen, ProcessIoWrapper};
///
/// # // This example runs itself as the child, which echoes stdin to stdout.
/// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
/// #     std::io::copy(&mut std::io::stdin(), &mut std::io::stdout())?;
/// #     return Ok(());
/// # }
/// # let mut command = std::process::Command::new(std::env::current_exe()?);
/// # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
/// // `command` starts a child that echoes its stdin to its stdout, like `cat`.
/// let child = Popen::spawn(&mut command)?;
/// let mut file = ProcessIoWrapper::new(child);
/// file.write_all(b"one\ntwo\n")?;
/// let mut line = String::new();
/// file.read_line(&mut line)?;
/// assert_eq!(line, "one\n");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Drop behavior
///
/// Dropping the wrapper drops its [`Popen`] (see there); bytes it had buffered are discarded.
/// [`into_inner`](ProcessIoWrapper::into_inner) gives them back to the `Popen` instead.
#[derive(Debug)]
pub struct ProcessIoWrapper {
    popen: Popen,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Stdout bytes taken from the `Popen` and not yet read: the `BufRead` buffer. Behind a
    /// lock so that `&ProcessIoWrapper` can implement `Read` too; `&mut self` methods reach it
    /// without locking.
    buf: Mutex<ReadBuf>,
}

#[derive(Debug, Default)]
struct ReadBuf {
    data: Vec<u8>,
    pos: usize,
    /// The arrival stamp of the chunk `data` is, kept for giving it back.
    seq: u64,
}

impl ReadBuf {
    /// Blocks until bytes are buffered, EOF (empty) or `timeout` (`TimedOut`).
    fn fill(&mut self, popen: &Popen, timeout: Option<Duration>) -> io::Result<&[u8]> {
        if self.pos >= self.data.len() {
            let stdout = popen.pipes.output(Stream::Stdout)?;
            match stdout.recv_chunk_deadline(deadline(timeout), "read") {
                None => return Err(timed_out("read", timeout)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(None)) => return Ok(&[]),
                Some(Ok(Some(chunk))) => {
                    self.data = chunk.data;
                    self.seq = chunk.seq;
                    self.pos = 0;
                }
            }
        }
        Ok(&self.data[self.pos..])
    }

    fn read(
        &mut self,
        popen: &Popen,
        timeout: Option<Duration>,
        out: &mut [u8],
    ) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let available = self.fill(popen, timeout)?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Ok(n)
    }

    /// Gives the buffered bytes back to the `Popen`, ahead of everything it holds.
    fn give_back(&mut self, popen: &Popen) {
        let rest = self.data.split_off(self.pos.min(self.data.len()));
        self.data.clear();
        self.pos = 0;
        if let Ok(stdout) = popen.pipes.output(Stream::Stdout) {
            stdout.unread(Chunk {
                seq: self.seq,
                data: rest,
            });
        }
    }
}

impl ProcessIoWrapper {
    /// Returns immediately with a wrapper around `p`, with no timeouts.
    pub fn new(p: Popen) -> ProcessIoWrapper {
        ProcessIoWrapper {
            popen: p,
            read_timeout: None,
            write_timeout: None,
            buf: Mutex::new(ReadBuf::default()),
        }
    }

    /// Returns immediately; sets how long `read` and `fill_buf` wait (`None`: forever).
    pub fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.read_timeout = t;
    }

    /// Returns immediately; sets how long `write` and `flush` wait (`None`: forever).
    pub fn set_write_timeout(&mut self, t: Option<Duration>) {
        self.write_timeout = t;
    }

    /// Returns immediately with the read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Returns immediately with the write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout
    }

    /// Returns immediately with the wrapped `Popen`, for `wait`, `kill`, `recv_err`, ….
    ///
    /// Stdout bytes the wrapper has buffered are not visible to the `Popen`'s `recv`.
    pub fn get_ref(&self) -> &Popen {
        &self.popen
    }

    /// Returns immediately with the `Popen`; stdout bytes the wrapper had buffered are put
    /// back, so the `Popen`'s next `recv` returns them first.
    pub fn into_inner(mut self) -> Popen {
        self.buf.get_mut().give_back(&self.popen);
        self.popen
    }

    /// Waits at most `timeout` for `pattern` on stdout and returns everything up to and
    /// including it, starting with the bytes the wrapper had buffered; see
    /// [`Popen::expect`].
    ///
    /// # Errors
    /// `ErrorKind::TimedOut`, `ErrorKind::UnexpectedEof`, or `ErrorKind::Deadlock` when the
    /// bound filled without the pattern or the child blocks on unread stderr (see
    /// [`OutputHandle::expect`](crate::OutputHandle::expect) for how to avoid it); nothing is lost in any case.
    pub fn expect(&mut self, pattern: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
        self.buf.get_mut().give_back(&self.popen);
        let deadline = deadline_after(timeout);
        let stdout = self.popen.pipes.output(Stream::Stdout)?;
        Ok(stdout.expect_or_eof(pattern, deadline, "expect", timeout)?)
    }

    /// Waits at most `timeout` for one line of stdout, with its `\n`; `None` at EOF. See
    /// [`Popen::read_line`]. (`BufRead::read_line` uses the read timeout instead.)
    ///
    /// # Errors
    /// `ErrorKind::TimedOut` if no whole line arrived in time; `ErrorKind::Deadlock` for a
    /// line longer than the bound, or when the child blocks on unread stderr (see
    /// [`Popen::read_line`]); nothing is lost.
    pub fn read_line_timeout(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        self.buf.get_mut().give_back(&self.popen);
        let deadline = deadline_after(timeout);
        let stdout = self.popen.pipes.output(Stream::Stdout)?;
        Ok(stdout.line_deadline(deadline, "read_line_timeout", timeout)?)
    }
}

fn deadline(t: Option<Duration>) -> Option<std::time::Instant> {
    t.and_then(deadline_after)
}

fn timed_out(what: &'static str, t: Option<Duration>) -> io::Error {
    Error::timeout(what, t.unwrap_or(Duration::MAX)).into()
}

impl BufRead for ProcessIoWrapper {
    /// Blocks until stdout has at least one byte, reaches EOF (empty slice) or the read
    /// timeout passes (`ErrorKind::TimedOut`); `ErrorKind::Deadlock` as for `read`.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.buf.get_mut().fill(&self.popen, self.read_timeout)
    }

    fn consume(&mut self, amt: usize) {
        let buf = self.buf.get_mut();
        buf.pos = (buf.pos + amt).min(buf.data.len());
    }
}

impl Read for ProcessIoWrapper {
    /// Blocks until at least one byte of stdout, EOF (`Ok(0)`) or the read timeout
    /// (`ErrorKind::TimedOut`; nothing is lost); `ErrorKind::Deadlock` at once when the child
    /// blocks on unread stderr (see the type's docs).
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let timeout = self.read_timeout;
        self.buf.get_mut().read(&self.popen, timeout, out)
    }
}

impl Read for &ProcessIoWrapper {
    /// As `Read` for the wrapper itself; threads sharing `&ProcessIoWrapper` take turns, and
    /// a turn waited for counts against the read timeout.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut buf = match deadline(self.read_timeout) {
            None => self.buf.lock(),
            Some(d) => self
                .buf
                .try_lock_until(d)
                .ok_or_else(|| timed_out("read", self.read_timeout))?,
        };
        buf.read(&self.popen, self.read_timeout, out)
    }
}

impl Write for ProcessIoWrapper {
    /// Blocks until at least one byte is queued for stdin or the write timeout passes
    /// (`ErrorKind::TimedOut`); `ErrorKind::BrokenPipe` once stdin is closed;
    /// `ErrorKind::Deadlock` at once when the child stopped reading because its output is
    /// full and unread (see the type's docs).
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        (&*self).write(data)
    }

    /// Blocks until everything queued was written to the pipe, or the write timeout passes
    /// (`ErrorKind::TimedOut`); `ErrorKind::Deadlock` as for `write`.
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Write for &ProcessIoWrapper {
    /// As `Write` for the wrapper itself: a thread can write while another reads.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let stdin = self.popen.pipes.input()?;
        match stdin.send_some(data, deadline(self.write_timeout), "write")? {
            0 => Err(timed_out("write", self.write_timeout)),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let stdin = self.popen.pipes.input()?;
        if stdin.flush_within(deadline(self.write_timeout), "flush")? {
            Ok(())
        } else {
            Err(timed_out("flush", self.write_timeout))
        }
    }
}
