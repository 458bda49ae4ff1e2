//! `Popen`: the PEP 3145 facade over the pumps and the process handle.

use std::fmt;
use std::io;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::communicate::Unsent;
use crate::input::InputPump;
use crate::options::{slots_and_chunk, Capture, Options};
use crate::output::{self, Core, OutputPump, Sizes};
use crate::process::Process;
use crate::signal::Hub;
use crate::{deadline_after, Error, Result};

/// One of the child's two output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's standard output (and its stderr too, with
    /// [`Options::merge_stderr`](crate::Options::merge_stderr)).
    Stdout,
    /// The child's standard error.
    Stderr,
}

impl Stream {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    /// `stdout` or `stderr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A running child process with non-blocking, deadlock-free access to its pipes.
///
/// Each captured pipe is served by its own thread through a bounded channel, so no call here
/// ever blocks on a pipe: the `recv*` family and [`send`](Popen::send) return immediately, the
/// `*_timeout` and `async*` methods wait at most their timeout, and only the methods that say
/// so block until EOF or exit. Every method takes `&self` and `Popen` is `Send + Sync`, so one
/// thread can read while another writes, waits or kills (share it with `Arc<Popen>`).
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use procpump::Popen;
///
/// # // This example runs itself as the child, which echoes stdin to stdout.
/// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
/// #     std::io::copy(&mut std::io::stdin(), &mut std::io::stdout())?;
/// #     return Ok(());
/// # }
/// # let program = std::env::current_exe()?;
/// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
/// child.send(b"hello\n")?;                                     // returns at once
/// let echoed = child.asyncread(Duration::from_millis(200))?;   // waits at most 200 ms
/// child.close_stdin();
/// let out = child.communicate(b"", Some(Duration::from_secs(10)))?;
/// let mut all = echoed.unwrap_or_default();
/// all.extend(out.stdout);
/// assert_eq!(all, b"hello\n");
/// assert!(out.status.success());
/// # Ok::<(), procpump::Error>(())
/// ```
///
/// # Drop behavior
///
/// Dropping a `Popen` returns at once. It closes stdin (after the writer has written what was
/// queued, the child sees EOF) and drops the output channels: each reader thread ends on its
/// next read, closing its pipe, so a child that keeps writing gets a broken pipe instead of
/// blocking forever. No thread is joined. The child is left running unless
/// [`Options::kill_on_drop`] was set; either way a small thread reaps it once it exits, so
/// no zombie is left behind.
#[derive(Debug)]
pub struct Popen {
    // The pumps are declared (and so dropped) before the process handle: their threads can
    // start winding down before the reaper is handed the child.
    pub(crate) stdout: Option<OutputPump>,
    pub(crate) stderr: Option<OutputPump>,
    pub(crate) stdin: Option<InputPump>,
    /// Input given to `communicate` and not yet queued; kept across a timeout.
    pub(crate) unsent: Mutex<Unsent>,
    /// Where the caller's threads wait for anything this child's pumps do.
    pub(crate) hub: Arc<Hub>,
    pub(crate) process: Process,
    kill_on_drop: bool,
}

fn stdio(capture: Capture) -> Stdio {
    match capture {
        Capture::Piped => Stdio::piped(),
        Capture::Inherit => Stdio::inherit(),
        Capture::Null => Stdio::null(),
    }
}

impl Popen {
    /// Returns once the child has started, with all three streams piped (whatever `Stdio` the
    /// `Command` had) and the default [`Options`].
    ///
    /// # Errors
    /// [`Error::Spawn`] names the program when it cannot be started.
    pub fn spawn(cmd: &mut Command) -> Result<Popen> {
        Options::new().spawn(cmd)
    }

    pub(crate) fn spawn_with(cmd: &mut Command, opts: &Options) -> Result<Popen> {
        opts.validate()?;
        cmd.stdin(stdio(opts.stdin));
        let merged = if opts.merge_stderr {
            let (reader, writer) = io::pipe()?;
            cmd.stdout(writer.try_clone()?);
            cmd.stderr(writer);
            Some(reader)
        } else {
            cmd.stdout(stdio(opts.stdout));
            cmd.stderr(stdio(opts.stderr));
            None
        };
        let spawned = cmd.spawn();
        if merged.is_some() {
            // The Command still holds write ends of the shared pipe: while any copy outside the
            // child is open, the reader would never see EOF.
            cmd.stdout(Stdio::piped());
            cmd.stderr(Stdio::piped());
        }
        let mut child = spawned.map_err(|source| Error::Spawn {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
        let pid = child.id();
        let hub = Arc::new(Hub::new());
        // Sixteen slots at least, so that many small sends fit before the queue reports full.
        // The writer joins what is queued into one vectored write of up to the same bound.
        let (in_slots, in_chunk) = slots_and_chunk(opts.input_capacity, opts.chunk_size, 16);
        let start = |which: Stream, pipe: Option<Box<dyn io::Read + Send>>| {
            pipe.map(|p| {
                let name = format!("procpump-{pid}-{which}");
                let sizes = Sizes {
                    capacity: opts.output_capacity,
                    read_ahead: opts.read_ahead,
                    chunk: opts.chunk_size.min(opts.output_capacity),
                    policy: opts.overflow[which as usize],
                };
                output::start(which, name, p, sizes, &hub)
            })
            .transpose()
        };
        let pumps = (|| {
            let stdout: Option<Box<dyn io::Read + Send>> = match merged {
                Some(reader) => Some(Box::new(reader)),
                None => child.stdout.take().map(|p| Box::new(p) as _),
            };
            let stderr = child.stderr.take().map(|p| Box::new(p) as _);
            let stdout = start(Stream::Stdout, stdout)?;
            let stderr = start(Stream::Stderr, stderr)?;
            let outputs: Vec<Arc<Core>> = stdout.iter().chain(&stderr).cloned().collect();
            let stdin = child.stdin.take().map(|p| {
                let name = format!("procpump-{pid}-stdin");
                let hub = Arc::clone(&hub);
                InputPump::new(
                    name,
                    p,
                    in_chunk,
                    in_slots,
                    opts.input_capacity,
                    hub,
                    outputs,
                )
            });
            io::Result::Ok((stdout, stderr, stdin))
        })();
        let (stdout, stderr, stdin) = match pumps {
            Ok(pumps) => pumps,
            Err(e) => {
                // No thread for a pipe means no usable Popen: do not leave the child behind.
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Io(e));
            }
        };
        let pump = |core: &Option<Arc<Core>>, sibling: &Option<Arc<Core>>| {
            core.clone()
                .map(|core| OutputPump::new(core, sibling.clone()))
        };
        Ok(Popen {
            stdout: pump(&stdout, &stderr),
            stderr: pump(&stderr, &stdout),
            stdin,
            unsent: Mutex::new(Unsent::default()),
            hub,
            process: Process::new(child),
            kill_on_drop: opts.kill_on_drop,
        })
    }

    /// Returns immediately with the child's OS process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub(crate) fn output(&self, which: Stream) -> Result<&OutputPump> {
        let pump = match which {
            Stream::Stdout => self.stdout.as_ref(),
            Stream::Stderr => self.stderr.as_ref(),
        };
        pump.ok_or(Error::NotCaptured {
            stream: which.name(),
        })
    }

    pub(crate) fn input(&self) -> Result<&InputPump> {
        self.stdin
            .as_ref()
            .ok_or(Error::NotCaptured { stream: "stdin" })
    }

    /// Returns immediately after queueing as much of `data` as fits for the child's stdin;
    /// returns how many bytes were taken (0 when the queue is full, or for empty `data`).
    ///
    /// The bytes are written to the pipe by the writer thread, in order. It also moves the
    /// child's output along (out of the channels, up to each stream's bound), so a loop of
    /// `send` calls alone does not hold the child back.
    ///
    /// # Errors
    /// [`Error::StdinClosed`] after [`close_stdin`](Popen::close_stdin) or once the child closed
    /// its stdin; [`Error::Io`] once for any other write failure;
    /// [`Error::NotCaptured`] when stdin was not piped; [`Error::Stalled`] instead of a count
    /// of 0 when the child stopped reading because an output it writes to is full and unread
    /// (read that output, or see [`asyncwrite`](Popen::asyncwrite)).
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        self.input()?.send(data)
    }

    /// Waits at most `timeout` for room to queue all of `data`; returns the bytes taken, which
    /// is all of them unless the timeout passed first.
    ///
    /// `Duration::ZERO` behaves like [`send`](Popen::send); `Duration::MAX` waits as long as
    /// it takes. Errors as for `send`; bytes taken before an error are reported, and the error
    /// comes on the next call.
    ///
    /// While it waits, the child's output is taken in, up to each stream's bound. A child that
    /// echoes its input stops reading once more than that is unread: then this returns
    /// [`Error::Stalled`] naming the output to read, within milliseconds (or a short count, if
    /// it took some bytes first; the next call reports the stall). To avoid it, read the
    /// output meanwhile (from another thread, or with `send` and
    /// [`recv_any`](Popen::recv_any) in one loop), or let
    /// [`communicate`](Popen::communicate) or [`communicate_io`](Popen::communicate_io) do
    /// both.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     let n = std::io::copy(&mut std::io::stdin(), &mut std::io::sink())?;
    /// #     print!("{n}");
    /// #     return Ok(());
    /// # }
    /// # let program = std::env::current_exe()?;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::Popen;
    ///
    /// // A child that counts the bytes on its stdin.
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
    /// let data = vec![b'x'; 5 << 20]; // far more than a pipe or the queue holds
    /// assert_eq!(child.asyncwrite(&data, Duration::from_secs(30))?, data.len());
    /// child.close_stdin();
    /// assert_eq!(child.communicate(b"", None)?.stdout, b"5242880");
    /// # Ok::<(), procpump::Error>(())
    /// ```
    pub fn asyncwrite(&self, data: &[u8], timeout: Duration) -> Result<usize> {
        self.input()?
            .send_deadline(data, deadline_after(timeout), "asyncwrite")
    }

    /// Waits at most `timeout` until everything queued so far has been written to the pipe;
    /// returns whether it was.
    ///
    /// # Errors
    /// [`Error::StdinClosed`] if the child closed its stdin before taking it all;
    /// [`Error::Stalled`] if the child stopped reading because an output it writes to is full
    /// and unread (read it, from another thread or with [`recv_any`](Popen::recv_any)).
    pub fn flush_stdin(&self, timeout: Duration) -> Result<bool> {
        self.input()?
            .flush_deadline(deadline_after(timeout), "flush_stdin")
    }

    /// Returns immediately; the child sees EOF on its stdin once everything queued before this
    /// call has been written. Idempotent, and a no-op when stdin was not piped.
    pub fn close_stdin(&self) {
        if let Some(stdin) = &self.stdin {
            stdin.close();
        }
    }

    /// Returns immediately with up to `maxsize` bytes of stdout (see
    /// [`recv_from`](Popen::recv_from)).
    pub fn recv(&self, maxsize: usize) -> Result<Option<Vec<u8>>> {
        self.output(Stream::Stdout)?.recv(maxsize, "recv")
    }

    /// Returns immediately with up to `maxsize` bytes of stderr (see
    /// [`recv_from`](Popen::recv_from)).
    pub fn recv_err(&self, maxsize: usize) -> Result<Option<Vec<u8>>> {
        self.output(Stream::Stderr)?.recv(maxsize, "recv_err")
    }

    /// Returns immediately with what has arrived on `which`, at most `maxsize` bytes (the PEP's
    /// `_recv`).
    ///
    /// `Some(bytes)` holds 0..=`maxsize` bytes (empty when nothing is there yet); `None` comes
    /// only once the stream reached EOF and every byte was returned. A chunk cut by `maxsize`
    /// keeps its tail for the next call. Everything buffered at that moment is returned (up to
    /// `maxsize`), even while another thread is blocked reading this stream. It also moves the
    /// other stream along (out of its channel, up to its bound), so a polling loop over one
    /// stream does not hold the child back.
    ///
    /// ```
    /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
    /// #     print!("0123456789");
    /// #     return Ok(());
    /// # }
    /// # let program = std::env::current_exe()?;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procpump::{Popen, Stream};
    ///
    /// // A child that prints ten digits and exits.
    /// let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
    /// let mut got = Vec::new();
    /// // A polling loop: recv never waits, so the caller can do other work between calls.
    /// while let Some(bytes) = child.recv_from(Stream::Stdout, 4)? {
    ///     assert!(bytes.len() <= 4);
    ///     got.extend(bytes);
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(got, b"0123456789");
    /// # Ok::<(), procpump::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] once, after the bytes before it, if reading the pipe failed;
    /// [`Error::NotCaptured`] when the stream was not piped; [`Error::Stalled`] instead of an
    /// empty read when the child is blocked writing to the *other* stream, which holds its
    /// whole bound unread: no byte will come here until that one is read. Read both streams
    /// ([`recv_any`](Popen::recv_any)), merge stderr into stdout
    /// ([`Options::merge_stderr`]), or make the other stream
    /// [`Overflow::KeepTail`](crate::Overflow::KeepTail) to never see it.
    pub fn recv_from(&self, which: Stream, maxsize: usize) -> Result<Option<Vec<u8>>> {
        self.output(which)?.recv(maxsize, "recv_from")
    }

    /// Waits at most `timeout` for the first byte on `which`, then returns at once with
    /// everything there: `Some` (empty on timeout), or `None` at EOF.
    ///
    /// `Duration::ZERO` does not wait; `Duration::MAX` waits for data or EOF however long.
    /// While it waits, the other stream is taken in up to its bound; beyond that, this returns
    /// [`Error::Stalled`] naming it, within milliseconds rather than at the timeout (see
    /// [`recv_from`](Popen::recv_from) for how to avoid it). Other errors as for `recv_from`.
    pub fn recv_timeout(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.output(which)?
            .recv_deadline(deadline_after(timeout), "recv_timeout")
    }

    /// Waits for the whole `timeout` collecting stdout, returning early at EOF (see
    /// [`asyncread_from`](Popen::asyncread_from)).
    pub fn asyncread(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.output(Stream::Stdout)?
            .read_deadline(deadline_after(timeout), "asyncread")
    }

    /// Waits for the whole `timeout` (or until EOF, if sooner) and returns all the bytes that
    /// arrived on `which`.
    ///
    /// `None` only if the stream was already at EOF, and drained, when called.
    /// `Duration::MAX` reads to EOF. While it waits, the other stream is taken in up to its
    /// bound; if the child then blocks on it, this returns early with what it collected, or
    /// [`Error::Stalled`] naming that stream if it collected nothing (see
    /// [`recv_from`](Popen::recv_from) for how to avoid it). Other errors as for `recv_from`.
    pub fn asyncread_from(&self, which: Stream, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.output(which)?
            .read_deadline(deadline_after(timeout), "asyncread_from")
    }

    /// Returns immediately with how many bytes of `which` the `Popen` holds unread (0 for a
    /// stream that was not captured). At most [`Options::output_capacity`] unless a
    /// [`wait`](Popen::wait) or [`communicate`](Popen::communicate) took in more.
    pub fn buffered(&self, which: Stream) -> usize {
        self.output(which)
            .map_or(0, |p| p.core().held.load(Ordering::Acquire))
    }

    /// Returns immediately with how many bytes of `which` were dropped because the stream is
    /// [`Overflow::KeepTail`](crate::Overflow::KeepTail) and the caller left more than
    /// [`Options::output_capacity`] unread; 0 for a [`Block`](crate::Overflow::Block) stream
    /// or one that was not captured.
    pub fn dropped(&self, which: Stream) -> u64 {
        self.output(which)
            .map_or(0, |p| p.core().dropped.load(Ordering::Acquire))
    }

    /// Returns immediately with the exit status if the child has exited, `None` if it runs.
    ///
    /// Once it has returned a status, it returns the same one forever.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        self.process.try_wait()
    }

    /// Returns immediately after asking the OS to kill the child; `Ok` if it already exited.
    ///
    /// Bytes the child wrote before it died can still be read.
    pub fn kill(&self) -> Result<()> {
        self.process.kill()
    }
}

impl Drop for Popen {
    fn drop(&mut self) {
        self.close_stdin();
        self.process.release(self.kill_on_drop);
    }
}
