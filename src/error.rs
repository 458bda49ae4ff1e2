//! The one error type of the crate.

use std::io;
use std::time::Duration;

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
    /// The operation did not finish within its timeout; nothing was lost.
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

    pub(crate) fn timeout(operation: &'static str, timeout: Duration) -> Error {
        Error::Timeout { operation, timeout }
    }
}

impl From<Error> for io::Error {
    /// Keeps the kind a `std::io` caller expects: `TimedOut`, `BrokenPipe`, `NotFound` for a
    /// missing program, `InvalidInput` for a stream or option that cannot be used.
    fn from(err: Error) -> io::Error {
        let kind = match err {
            Error::Io(inner) => return inner,
            Error::Spawn { ref source, .. } => source.kind(),
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::UnexpectedEof { .. } => io::ErrorKind::UnexpectedEof,
            Error::StdinClosed => io::ErrorKind::BrokenPipe,
            Error::NotCaptured { .. } | Error::InvalidOption(_) => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, err)
    }
}
