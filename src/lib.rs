//! Non-blocking, deadlock-free I/O with child processes, for synchronous Rust.
//!
//! procpump is the Rust realisation of [PEP 3145], "Asynchronous I/O for subprocess.Popen":
//! a [`Popen`] whose pipes never block the caller. Read what has arrived without waiting
//! ([`recv`](Popen::recv)), wait at most a timeout ([`asyncread`](Popen::asyncread),
//! [`recv_timeout`](Popen::recv_timeout)), queue input without waiting
//! ([`send`](Popen::send)), run a whole exchange with a timeout that loses nothing
//! ([`communicate`](Popen::communicate)), or treat the child as a file
//! ([`ProcessIoWrapper`]). No async runtime and no platform-specific code; the crate is
//! `#![forbid(unsafe_code)]`.
//!
//! [PEP 3145]: https://peps.python.org/pep-3145/
//!
//! # Quick start
//!
//! ```
//! use std::process::Command;
//! use std::time::Duration;
//! use procpump::Popen;
//!
//! # // This example runs itself as the child, which echoes stdin to stdout.
//! # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
//! #     std::io::copy(&mut std::io::stdin(), &mut std::io::stdout())?;
//! #     return Ok(());
//! # }
//! # let program = std::env::current_exe()?;
//! // `program` echoes its stdin to its stdout.
//! let child = Popen::spawn(Command::new(program).env("PROCPUMP_DOC_CHILD", "1"))?;
//! child.send(b"ping\n")?;                                   // never blocks
//! let reply = child.recv_timeout(procpump::Stream::Stdout, Duration::from_secs(10))?;
//! assert_eq!(reply.as_deref(), Some(&b"ping\n"[..]));
//! child.close_stdin();                                      // the child sees EOF
//! assert!(child.wait()?.success());
//! # Ok::<(), procpump::Error>(())
//! ```
//!
//! # Which call do I want?
//!
//! | | returns immediately | waits at most a timeout | blocks until EOF or exit |
//! |---|---|---|---|
//! | read output | [`recv`](Popen::recv), [`recv_err`](Popen::recv_err), [`recv_from`](Popen::recv_from) | [`recv_timeout`](Popen::recv_timeout) (first bytes), [`asyncread`](Popen::asyncread) / [`asyncread_from`](Popen::asyncread_from) (the whole timeout), [`recv_any`](Popen::recv_any) (either stream) | [`events`](Popen::events), `asyncread(Duration::MAX)` |
//! | talk to a prompt | | [`expect`](Popen::expect), [`expect_from`](Popen::expect_from), [`read_line`](Popen::read_line), [`read_line_from`](Popen::read_line_from) | |
//! | write input | [`send`](Popen::send), [`close_stdin`](Popen::close_stdin) | [`asyncwrite`](Popen::asyncwrite), [`flush_stdin`](Popen::flush_stdin) | `asyncwrite(.., Duration::MAX)` |
//! | both at once | | [`communicate`](Popen::communicate) with `Some(timeout)` | [`communicate`](Popen::communicate) with `None` |
//! | the process | [`try_wait`](Popen::try_wait), [`kill`](Popen::kill), [`pid`](Popen::pid) | [`wait_timeout`](Popen::wait_timeout) | [`wait`](Popen::wait) |
//! | as a file | | [`ProcessIoWrapper`] with timeouts set; its [`expect`](ProcessIoWrapper::expect), [`read_line_timeout`](ProcessIoWrapper::read_line_timeout) | [`ProcessIoWrapper`] without timeouts |
//!
//! `Duration::ZERO` and `Duration::MAX` are legal everywhere: zero does not wait, `MAX`
//! waits as long as it takes. No call panics on a timeout.
//!
//! # The deadlocks this crate removes
//!
//! - **Full pipe buffers.** A pipe holds a few KiB to 64 KiB. A parent that writes all of its
//!   input before reading blocks as soon as the child, itself blocked on a full stdout, stops
//!   reading. A parent that reads stdout to the end blocks while the child is blocked on a
//!   full stderr. Here a thread per pipe keeps every pipe moving, and the caller never touches
//!   a pipe: both sides always make progress.
//! - **Waiting on a child that is blocked writing.** std and CPython warn that `wait` can
//!   deadlock when nobody reads the child's output. [`Popen::wait`] keeps moving output into
//!   the `Popen`'s own buffer while it waits, so the child finishes and no byte is lost.
//! - **A child that stops reading.** Its stdin pipe fills; [`send`](Popen::send) then returns
//!   a short count instead of blocking, and a child that exits without reading gives
//!   [`Error::StdinClosed`], never a `SIGPIPE` in the parent.
//! - **A grandchild holding a pipe.** A grandchild that inherited the pipes keeps them open
//!   after the child exits, so EOF never comes. `wait`, `try_wait`, `kill` and drop do not
//!   depend on EOF, and [`communicate`](Popen::communicate) with a timeout returns
//!   [`Error::Timeout`] on time.
//!
//! # Threads and memory
//!
//! Each captured output pipe costs one thread with a 64 KiB stack, alive while its pipe is
//! open; the stdin writer thread starts with the first byte sent (a child that is only
//! `communicate(b"")`'d never gets one). The reader waits for room in a bounded channel before
//! it reads, in chunks of at most [`Options::chunk_size`] (64 KiB by default), so at most
//! [`Options::output_capacity`] bytes (64 KiB by default) wait per stream, plus the unreturned
//! tail of one chunk that a small `maxsize` cut. Beyond that the reader stops and the child,
//! once its pipe is full, blocks: backpressure, not unbounded buffering. At most
//! [`Options::input_capacity`] bytes (256 KiB by default) are queued for stdin; the writer
//! takes what is queued into one write, so as much again can be in a write in progress. The one exception is [`wait`](Popen::wait) (and
//! [`communicate`](Popen::communicate)), which must take in all the output the child writes
//! until it exits. Measured: 200 children each holding 1 MiB of unread output, drained one
//! after another, peak at about 30 MiB of RSS in all.
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
mod expect;
mod input;
mod options;
mod output;
mod popen;
mod process;
mod select;
mod signal;
mod wait;
mod wrapper;

pub use error::{Error, Result};
pub use options::{
    Capture, Options, Overflow, DEFAULT_CHUNK_SIZE, DEFAULT_INPUT_CAPACITY,
    DEFAULT_OUTPUT_CAPACITY, DEFAULT_READ_AHEAD, MAX_CHUNK_SIZE,
};
pub use popen::{Popen, Stream};
pub use select::Events;
pub use wrapper::ProcessIoWrapper;

use std::time::{Duration, Instant};

/// The instant `timeout` from now, or `None` ("never") when that is beyond what `Instant` can
/// represent: `Duration::MAX` means forever, not a panic.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}
