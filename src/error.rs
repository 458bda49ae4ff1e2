//! The one error type of the crate.

use std::io;
use std::time::Duration;

use crate::Stream;

/// A specialized [`Result`](std::result::Result) whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in procpump.
///
/// Callers usually branch on [`is_timeout`](Error::is_timeout) or
/// [`is_stdin_closed`](Error::is_stdin_closed); `?` in `std::io` code converts it with
/// `From<Error> for io::Error`, keeping a meaningful [`io::ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program could not be started (not found, not executable, …).
    #[error("failed to spawn {program:?}: {source}")]
    Spawn {
        /// The program as given to the `Command`.
        program: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The operation did not finish within its timeout; nothing was lost. (Output not
    /// returned stays buffered; input taken stays queued and will be written. Only a waiting
    /// send of more than the stdin queue holds may have queued part of its data first: see
    /// [`InputHandle::send`](crate::InputHandle::send).)
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        /// The method that timed out, such as `"communicate"`.
        operation: &'static str,
        /// The timeout the caller gave.
        timeout: Duration,
    },
    /// The child's stdin is closed: by [`close_stdin`](crate::Popen::close_stdin), by
    /// `communicate`, or by the child itself (a broken pipe).
    #[error("the child's stdin is closed")]
    StdinClosed,
    /// The stream was not captured (it was inherited, sent to null, or merged into stdout).
    #[error("the child's {stream} was not captured")]
    NotCaptured {
        /// `"stdin"`, `"stdout"` or `"stderr"`.
        stream: &'static str,
    },
    /// The stream ended before the pattern that [`expect`](crate::Popen::expect) waited for;
    /// the bytes read are still buffered.
    #[error("the child's {stream} ended before the expected pattern")]
    UnexpectedEof {
        /// `"stdout"` or `"stderr"`.
        stream: &'static str,
    },
    /// The call cannot go on until another reader acts: the child is blocked writing to
    /// `stream`, which holds as much unread output as [`Options::output_capacity`] allows,
    /// and no thread is reading it.
    ///
    /// For a call waiting on one stream, `stream` is the *other* one: the child will write
    /// nothing more here until that one is read. For [`expect`](crate::Popen::expect) and
    /// `read_line`, it can be their own stream: the bound filled without the pattern. On the
    /// input side, the child stopped reading stdin because of `stream`.
    ///
    /// Nothing is lost: after the caller reads `stream` (or from another thread), the same
    /// call works again. To avoid it, read both streams ([`recv_any`](crate::Popen::recv_any),
    /// a thread per stream), merge stderr into stdout ([`Options::merge_stderr`]), raise the
    /// bound, or let the stream keep only its tail ([`Overflow::KeepTail`]).
    ///
    /// [`Options::output_capacity`]: crate::Options::output_capacity
    /// [`Options::merge_stderr`]: crate::Options::merge_stderr
    /// [`Overflow::KeepTail`]: crate::Overflow::KeepTail
    #[error(
        "{operation} stalled: the child is blocked writing to its {stream}, which holds as much \
         unread output as output_capacity allows; {}",
        stall_advice(*stream)
    )]
    Stalled {
        /// The stream to read.
        stream: Stream,
        /// The method that stalled, such as `"read_line"`.
        operation: &'static str,
    },
    /// Writing the child's output to a caller's writer failed (in
    /// [`communicate_io`](crate::Popen::communicate_io)).
    #[error("writing the child's {stream} to the caller's writer failed: {source}")]
    Sink {
        /// The stream whose bytes were being written.
        stream: Stream,
        /// What the writer said.
        #[source]
        source: io::Error,
    },
    /// Reading the caller's input failed (in [`communicate_io`](crate::Popen::communicate_io)).
    #[error("reading the input for the child failed: {source}")]
    Source {
        /// What the reader said.
        #[source]
        source: io::Error,
    },
    /// An [`Options`](crate::Options) value that cannot work, such as a zero chunk size.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    /// An I/O error from a pipe or from the operating system while waiting or killing.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Returns immediately: whether this is [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Returns immediately: whether this is [`Error::StdinClosed`].
    pub fn is_stdin_closed(&self) -> bool {
        matches!(self, Error::StdinClosed)
    }

    /// Returns immediately: whether this is [`Error::UnexpectedEof`].
    pub fn is_eof(&self) -> bool {
        matches!(self, Error::UnexpectedEof { .. })
    }

    /// Returns immediately: whether this is [`Error::NotCaptured`].
    pub fn is_not_captured(&self) -> bool {
        matches!(self, Error::NotCaptured { .. })
    }

    /// Returns immediately: whether this is [`Error::Stalled`].
    pub fn is_stalled(&self) -> bool {
        matches!(self, Error::Stalled { .. })
    }

    pub(crate) fn timeout(operation: &'static str, timeout: Duration) -> Error {
        Error::Timeout { operation, timeout }
    }
}

/// What to do about a stall on `stream`, for the error message.
fn stall_advice(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => {
            "read stdout (from another thread, or with recv_any), raise output_capacity, or \
             keep only its tail (Overflow::KeepTail)"
        }
        Stream::Stderr => {
            "read stderr (from another thread, or with recv_any), merge it into stdout \
             (Options::merge_stderr), raise output_capacity, or keep only its tail \
             (Overflow::KeepTail)"
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the kind a `std::io` caller expects: `TimedOut`, `BrokenPipe`, `NotFound` for a
    /// missing program, `Deadlock` for [`Error::Stalled`], `InvalidInput` for a stream or
    /// option that cannot be used, and the writer's or reader's own kind for `Sink`/`Source`.
    fn from(err: Error) -> io::Error {
        let kind = match err {
            Error::Io(inner) => return inner,
            Error::Spawn { ref source, .. }
            | Error::Sink { ref source, .. }
            | Error::Source { ref source } => source.kind(),
            // The std name for "waiting here would never end".
            Error::Stalled { .. } => io::ErrorKind::Deadlock,
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::UnexpectedEof { .. } => io::ErrorKind::UnexpectedEof,
            Error::StdinClosed => io::ErrorKind::BrokenPipe,
            Error::NotCaptured { .. } | Error::InvalidOption(_) => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, err)
    }
}
