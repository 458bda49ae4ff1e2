//! Non-blocking, deadlock-free I/O with child processes, for synchronous Rust.
//!
//! procpump is the Rust realisation of [PEP 3145], "Asynchronous I/O for subprocess.Popen":
//! a [`Popen`] whose pipes never block the caller. Each captured stream has a handle
//! ([`Popen::stdout`], [`Popen::stderr`] → [`OutputHandle`]; [`Popen::stdin`] →
//! [`InputHandle`]) whose every operation comes, as in crossbeam-channel, in four forms:
//! `try_*` never blocks, the plain form blocks until done or EOF, `*_timeout` waits at most a
//! duration, `*_deadline` until an instant. The PEP's own names ([`send`](Popen::send),
//! [`recv`](Popen::recv), [`asyncread`](Popen::asyncread), [`asyncwrite`](Popen::asyncwrite),
//! …) stay on `Popen` with their PEP meaning, delegating to the handles;
//! [`communicate`](Popen::communicate) runs a whole exchange with a timeout that loses
//! nothing, and [`ProcessIoWrapper`] treats the child as a file. No async runtime and no
//! platform-specific code; the crate is `#![forbid(unsafe_code)]`.
//!
//! [PEP 3145]: https://peps.python.org/pep-3145/
//!
//! # Quick start
//!
//! In the examples, `command` is a [`std::process::Command`] for a small program that the
//! comment above its use describes. (The examples run themselves as that program, out of
//! sight; your code spawns whatever program it drives.)
//!
//! ```
//! use std::time::{Duration, Instant};
//! use procpump::Popen;
//!
//! # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
//! #     std::io::copy(&mut std::io::stdin(), &mut std::io::stdout())?;
//! #     return Ok(());
//! # }
//! # let mut command = std::process::Command::new(std::env::current_exe()?);
//! # command.env("PROCPUMP_DOC_CHILD", "1"); // the example runs itself as the child
//! // `command` starts a child that echoes its stdin to its stdout, like `cat`.
//! let child = Popen::spawn(&mut command)?;
//! let (stdin, stdout) = (child.stdin().unwrap(), child.stdout().unwrap());
//! let deadline = Instant::now() + Duration::from_secs(10); // one deadline for the exchange
//! stdin.send_deadline(b"ping\n", deadline)?;                // waits only for queue room
//! assert_eq!(stdout.recv_line_deadline(deadline)?.unwrap(), b"ping\n");
//! stdin.close();                                            // the child sees EOF
//! assert_eq!(stdout.recv()?, None);                         // and so do we
//! println!("{}", child.wait()?);                            // "exit status: 0"
//! # Ok::<(), procpump::Error>(())
//! ```
//!
//! # Which call do I want?
//!
//! On the handles (`out` is [`Popen::stdout`] or [`Popen::stderr`], `inp` is
//! [`Popen::stdin`]); each operation also comes as `try_*`, `*_timeout` and `*_deadline`:
//!
//! | to | call |
//! |---|---|
//! | read output as it comes | [`out.recv()`](OutputHandle::recv); into your buffer, allocating nothing: [`recv_into`](OutputHandle::recv_into), [`recv_slice`](OutputHandle::recv_slice), or `Read for &OutputHandle` |
//! | read both streams in arrival order | [`Popen::recv_any`], [`Popen::events`], [`Popen::events_deadline`] |
//! | stream a build's output line by line | [`out.recv_line_timeout(t)`](OutputHandle::recv_line_timeout) in a loop (stderr is taken in meanwhile; merge it with [`Options::merge_stderr`] to get both in the child's order) |
//! | talk to a prompt | [`out.expect_timeout(b"> ", t)`](OutputHandle::expect_timeout), then [`inp.send(..)`](InputHandle::send) |
//! | read a sized reply (`git cat-file --batch`) | [`out.recv_exact_timeout(n, t)`](OutputHandle::recv_exact_timeout) |
//! | write input | [`inp.try_send`](InputHandle::try_send) (what fits, never waits), [`inp.send`](InputHandle::send) (all, waiting), `Write for &InputHandle`, [`flush`](InputHandle::flush), [`close`](InputHandle::close) |
//! | both at once | [`Popen::communicate`]; any size, in constant memory: [`Popen::communicate_io`] |
//! | the process | [`try_wait`](Popen::try_wait), [`wait_timeout`](Popen::wait_timeout), [`wait_deadline`](Popen::wait_deadline), [`wait`](Popen::wait), [`kill`](Popen::kill), [`pid`](Popen::pid) |
//! | the child as a file | [`ProcessIoWrapper`] (`Read`, `BufRead`, `Write`, timeouts) |
//! | many children from one thread: a job runner, a test runner, a supervisor | [`Group`]: [`next_event`](Group::next_event) gives every member's output, EOFs and exit in arrival order; [`Options::lines`] makes each output event one line; [`Group::with_max_running`] + [`queue`](Group::queue) limit how many run |
//!
//! The PEP 3145 facade on [`Popen`], for code written after the PEP:
//!
//! | | returns immediately | waits at most a timeout | blocks until EOF or exit |
//! |---|---|---|---|
//! | read output | [`recv`](Popen::recv), [`recv_err`](Popen::recv_err), [`recv_from`](Popen::recv_from) | [`recv_timeout`](Popen::recv_timeout) (first bytes), [`asyncread`](Popen::asyncread) / [`asyncread_from`](Popen::asyncread_from) (the whole timeout) | `asyncread(Duration::MAX)` |
//! | talk to a prompt | | [`expect`](Popen::expect), [`read_line`](Popen::read_line) | |
//! | write input | [`send`](Popen::send), [`close_stdin`](Popen::close_stdin) | [`asyncwrite`](Popen::asyncwrite), [`flush_stdin`](Popen::flush_stdin) | `asyncwrite(.., Duration::MAX)` |
//! | memory | [`buffered`](Popen::buffered), [`dropped`](Popen::dropped) | | |
//!
//! # Conventions
//!
//! | outcome | handle operations | PEP facade |
//! |---|---|---|
//! | data | `Ok(Some(bytes))` (`Ok(Some(n))` for `recv_into`/`recv_slice`) | `Ok(Some(bytes))`; `asyncwrite` and `send`: the count taken |
//! | nothing yet, from a call that does not wait (`try_*`) | `Ok(Some(empty))` (`Ok(Some(0))`; `try_flush`: `Ok(false)`) | `recv`: `Ok(Some(empty))`; `send`: `Ok(0)` |
//! | the wait ran out | `Err(Error::Timeout { operation, .. })`, naming the method | `recv_timeout`, `asyncread`: `Ok(Some(empty))`; `asyncwrite`: a short count; `flush_stdin`: `Ok(false)`; `wait_timeout`, `wait_deadline`: `Ok(None)`; `expect`, `read_line`, `recv_any`, `communicate`: `Err(Timeout)` |
//! | end of stream | `Ok(None)` (`Ok(0)` for `Read`) | `Ok(None)`; `expect`: `Err(UnexpectedEof)` |
//! | the child is blocked on output nobody reads | `Err(Error::Stalled { stream, .. })` | the same |
//! | stream not captured | the handle is `None` | `Err(Error::NotCaptured)` |
//!
//! No call holds a stream while it sleeps: waiting calls look, release, and park, so a
//! `try_recv` from one thread returns what is buffered even while another thread waits on the
//! same stream for a line, and each byte goes to exactly one caller.
//!
//! `Duration::ZERO` and `Duration::MAX` are legal everywhere: zero does not wait, `MAX`
//! waits as long as it takes. A deadline in the past looks once. No call panics on a timeout.
//!
//! # The deadlocks this crate removes
//!
//! - **Full pipe buffers.** A pipe holds a few KiB to 64 KiB. A parent that writes all of its
//!   input before reading blocks as soon as the child, itself blocked on a full stdout, stops
//!   reading. A parent that reads stdout to the end blocks while the child is blocked on a
//!   full stderr. Here a thread per pipe keeps every pipe moving, and the caller never touches
//!   a pipe.
//! - **Reading one stream while the child fills the other.** While any call waits on one
//!   stream ([`read_line`](Popen::read_line), [`expect`](Popen::expect),
//!   [`recv_timeout`](Popen::recv_timeout), [`asyncread`](Popen::asyncread), the wrapper's
//!   `Read`), the other stream's output keeps being taken into the `Popen`, up to its bound
//!   ([`Options::output_capacity`], 1 MiB by default). So streaming a build's stdout line by
//!   line works while the compiler writes warnings to stderr, and the non-blocking
//!   [`recv`](Popen::recv) and [`send`](Popen::send) move the other stream along too.
//! - **Waiting on a child that is blocked writing.** std and CPython warn that `wait` can
//!   deadlock when nobody reads the child's output. [`Popen::wait`] keeps moving output into
//!   the `Popen`'s own buffer while it waits, so the child finishes and no byte is lost.
//! - **A child that stops reading.** Its stdin pipe fills; [`send`](Popen::send) then returns
//!   a short count instead of blocking, and a child that exits without reading gives
//!   [`Error::StdinClosed`], never a `SIGPIPE` in the parent.
//! - **A grandchild holding a pipe.** A grandchild that inherited the pipes keeps them open
//!   after the child exits, so EOF never comes. `wait`, `try_wait`, `kill` and drop do not
//!   depend on EOF, and [`communicate`](Popen::communicate) with a timeout returns
//!   [`Error::Timeout`] on time (its docs show how to kill at a deadline and keep the output).
//!
//! What remains is the one wait that no library can end for you: the child has written more
//! than the bound to a stream nobody reads, and blocks until someone does. Holding more would
//! break the memory bound, so procpump says so instead of hanging: the waiting call returns
//! **[`Error::Stalled`]** within milliseconds (not at its timeout), naming the stream to read.
//! It is not a stall while another thread is blocked reading that stream. Nothing is lost:
//! after that stream is read, the same call works again. To never see it, read both streams
//! ([`recv_any`](Popen::recv_any), [`events`](Popen::events), a thread per stream,
//! [`communicate_io`](Popen::communicate_io)), merge stderr into stdout
//! ([`Options::merge_stderr`]), or let the stream keep only its tail
//! ([`Options::overflow`] with [`Overflow::KeepTail`]). The same holds on the input side:
//! [`asyncwrite`](Popen::asyncwrite), [`flush_stdin`](Popen::flush_stdin) and the wrapper's
//! `Write` return `Stalled` when the child stopped reading stdin because an output it writes
//! to is full and unread (the `file_like` pattern: copy all input in, then read).
//!
//! # Threads and memory
//!
//! Each captured output pipe costs one thread with a 64 KiB stack, alive while its pipe is
//! open; the stdin writer thread starts with the first byte sent (a child that is only
//! `communicate(b"")`'d never gets one). A thread whose pipe ended waits up to 1 s to serve
//! the next pipe procpump opens, then ends: a program that starts many children one after
//! another pays few thread starts.
//!
//! Memory is spent where a call needs it. A reader reads ahead on its own only
//! [`Options::read_ahead`] bytes (32 KiB by default): that is all a `Popen` nobody is
//! calling holds per stream. While a call waits on a stream, its reader runs ahead in reads
//! of up to [`Options::chunk_size`] (64 KiB). Calls move a stream out of its channel into the `Popen`'s buffer, up to
//! [`Options::output_capacity`] unread bytes per stream (1 MiB by default), counted in bytes
//! however the child writes; then the reader stops and the child, once its pipe is full,
//! blocks. [`expect`](Popen::expect) and [`read_line`](Popen::read_line) hold at most that
//! much while they search. At most [`Options::input_capacity`] bytes (256 KiB by default) are
//! queued for stdin; the writer takes what is queued into one write, so as much again can be
//! in a write in progress. The exceptions are [`wait`](Popen::wait) and
//! [`communicate`](Popen::communicate), which take in all the output the child writes until
//! it exits (except for an [`Overflow::KeepTail`] stream, which never holds more than its
//! bound); [`communicate_io`](Popen::communicate_io) streams instead, in constant memory.
//! Measured: 200 children each writing 1 MiB, drained one after another with `communicate`,
//! peak at about 22–30 MiB of RSS in all; 256 MiB both ways through `communicate_io`, under
//! 1 MiB.
//!
//! # Many children at once
//!
//! A [`Group`] watches its members from the caller's thread, with no thread of its own: each
//! member is a `Popen` whose readers also tell the group when they hand over bytes or reach
//! EOF, and [`Group::next_event`] parks until one of them does. Events come in arrival order
//! across the group; a member's [`Exit`](EventKind::Exit) comes after all its output. A
//! member's bytes stay in the member until delivered, so [`Group::get`] and a direct read
//! take bytes that are then never delivered as events. The group moves a member's output out
//! of its channel only when what it holds is used up, so each captured stream holds about
//! twice its [`Options::read_ahead`] (64 KiB by default), more only for a line that long in
//! line mode; a child that writes faster than the caller takes events waits on its pipe. Waiting on 1,000 silent children costs about
//! 0.1–0.2 ms of CPU per second.
//!
//! # Disconnection and drop
//!
//! When the child exits, its pipes close: readers deliver every byte written before, then the
//! `recv` family returns `None`, and `send` returns [`Error::StdinClosed`]. Dropping a
//! [`Popen`] never blocks and never kills unless [`Options::kill_on_drop`] says so; see its
//! "Drop behavior" section.
//!
//! # Platforms
//!
//! Only std's portable process and pipe API is used, so behaviour is the same on Unix and
//! Windows; bytes pass through raw on both (no newline or encoding translation). The exit
//! status of a killed child differs by platform as in std (a signal on Unix, exit code 1 on
//! Windows).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod communicate;
mod error;
mod group;
mod input;
mod options;
mod output;
mod pipes;
mod pool;
mod popen;
mod process;
mod select;
mod signal;
mod wrapper;

pub use error::{Error, Result};
pub use group::{ChildId, Event, EventKind, Group, GroupEvents};
pub use input::InputHandle;
pub use options::{
    Capture, Options, Overflow, DEFAULT_CHUNK_SIZE, DEFAULT_INPUT_CAPACITY,
    DEFAULT_OUTPUT_CAPACITY, DEFAULT_READ_AHEAD, MAX_CHUNK_SIZE,
};
pub use output::OutputHandle;
pub use popen::{Popen, Stream};
pub use select::Events;
pub use wrapper::ProcessIoWrapper;

use std::time::{Duration, Instant};

/// The instant `timeout` from now, or `None` ("never") when that is beyond what `Instant` can
/// represent: `Duration::MAX` means forever, not a panic.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}
