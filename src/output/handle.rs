//! The public operations of an [`OutputHandle`], each as a family of four: `try_*` (never
//! blocks), plain (blocks until done or EOF), `*_timeout` and `*_deadline`. Each family is one
//! `look` at the buffer, run by [`OutputHandle::run`] as often as the wait allows.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::{OutputHandle, Reading, Wait};
use crate::{deadline_after, Error, Overflow, Result, Stream};

/// The four forms of one operation. `$op` is the private method that takes the operation's
/// arguments, then how long to wait, the method's name and the timeout to report.
macro_rules! family {
    (
        $(#[$doc:meta])*
        $op:ident: $try_name:ident, $name:ident, $timeout_name:ident, $deadline_name:ident
        ($($arg:ident: $ty:ty),*) -> $ret:ty;
        try_doc = $try_doc:literal, plain_doc = $plain_doc:literal, what = $what:literal $(,)?
    ) => {
        #[doc = concat!("Returns immediately: ", $try_doc, " See [`", stringify!($name),
            "`](Self::", stringify!($name), ").")]
        ///
        /// # Errors
        /// As for the plain form, and [`Error::Stalled`] instead of "not yet" when the child
        /// is blocked on the other stream, which holds its whole bound unread.
        pub fn $try_name(&self, $($arg: $ty),*) -> Result<$ret> {
            self.$op($($arg,)* Wait::No, stringify!($try_name), Duration::ZERO)
        }

        #[doc = concat!("Blocks until ", $plain_doc, ", or the stream ends (`Ok(None)`).")]
        ///
        $(#[$doc])*
        pub fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
            self.$op($($arg,)* Wait::Until(None), stringify!($name), Duration::MAX)
        }

        #[doc = concat!("Waits at most `timeout` for ", $what, "; `Ok(None)` if the stream \
            ends first. See [`", stringify!($name), "`](Self::", stringify!($name), ").")]
        ///
        /// Built on the deadline form: `Duration::MAX` (or any timeout past what `Instant`
        /// can hold) waits for ever, `Duration::ZERO` looks once.
        ///
        /// # Errors
        /// [`Error::Timeout`] naming this method when the timeout passed first (nothing is
        /// lost); otherwise as for the plain form.
        pub fn $timeout_name(&self, $($arg: $ty,)* timeout: Duration) -> Result<$ret> {
            let wait = Wait::Until(deadline_after(timeout));
            self.$op($($arg,)* wait, stringify!($timeout_name), timeout)
        }

        #[doc = concat!("Waits until `deadline` for ", $what, "; `Ok(None)` if the stream ends \
            first. See [`", stringify!($name), "`](Self::", stringify!($name), ").")]
        ///
        /// A deadline in the past looks once. One deadline can be shared by the calls of a
        /// whole exchange, with no time left to recompute between them.
        ///
        /// # Errors
        /// [`Error::Timeout`] naming this method when the deadline passed first (nothing is
        /// lost); otherwise as for the plain form.
        pub fn $deadline_name(&self, $($arg: $ty,)* deadline: Instant) -> Result<$ret> {
            let timeout = deadline.saturating_duration_since(Instant::now());
            self.$op($($arg,)* Wait::Until(Some(deadline)), stringify!($deadline_name), timeout)
        }
    };
}

impl OutputHandle {
    /// Returns immediately with the stream this handle reads.
    pub fn stream(&self) -> Stream {
        self.core().stream
    }

    /// Returns immediately with how many bytes of this stream the `Popen` holds unread: at
    /// most [`Options::output_capacity`](crate::Options::output_capacity), unless a `wait`,
    /// `communicate` or `recv_exact` took in more.
    pub fn buffered(&self) -> usize {
        self.core().held.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Returns immediately with how many bytes an [`Overflow::KeepTail`] stream dropped to
    /// keep its bound; 0 for an [`Overflow::Block`] stream.
    pub fn dropped(&self) -> u64 {
        self.core()
            .dropped
            .load(std::sync::atomic::Ordering::Acquire)
    }

    family! {
        /// Returns every byte buffered at that moment, at least one, as one `Vec` (the read
        /// as the reader thread made it, without a copy, when only one is buffered).
        ///
        /// ```
        /// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() {
        /// #     print!("hello");
        /// #     return Ok(());
        /// # }
        /// # let mut hello = std::process::Command::new(std::env::current_exe()?);
        /// # hello.env("PROCPUMP_DOC_CHILD", "1");
        /// use procpump::Popen;
        ///
        /// // `hello` is a Command for a program that prints "hello" and exits.
        /// let child = Popen::spawn(&mut hello)?;
        /// let stdout = child.stdout().expect("piped by default");
        /// let mut all = Vec::new();
        /// while let Some(bytes) = stdout.recv()? {
        ///     all.extend(bytes);
        /// }
        /// assert_eq!(all, b"hello");
        /// # Ok::<(), procpump::Error>(())
        /// ```
        ///
        /// # Errors
        /// [`Error::Io`] once, after the bytes before it, if reading the pipe failed;
        /// [`Error::Stalled`] when the child is blocked on the other stream, which holds its
        /// whole bound unread and nobody reads it (read it, merge stderr into stdout, or make
        /// it [`Overflow::KeepTail`]).
        recv_op: try_recv, recv, recv_timeout, recv_deadline () -> Option<Vec<u8>>;
        try_doc = "every byte buffered, `Ok(Some(empty))` if none yet, `Ok(None)` at EOF.",
        plain_doc = "output has arrived", what = "output",
    }

    family! {
        /// Appends every byte buffered at that moment, at least one, to `buf` and returns how
        /// many. Allocates nothing when `buf` has the spare capacity.
        ///
        /// # Errors
        /// As for [`recv`](Self::recv).
        recv_into_op: try_recv_into, recv_into, recv_into_timeout, recv_into_deadline
        (buf: &mut Vec<u8>) -> Option<usize>;
        try_doc = "appends every byte buffered to `buf`; `Ok(Some(0))` if none yet, `Ok(None)` at EOF.",
        plain_doc = "output has arrived to append to `buf`", what = "output to append to `buf`",
    }

    family! {
        /// Copies buffered bytes into `buf`, as many as fit, at least one, and returns how
        /// many; the rest stays buffered. Allocates nothing. An empty `buf` returns
        /// `Ok(Some(0))` at once.
        ///
        /// # Errors
        /// As for [`recv`](Self::recv).
        recv_slice_op: try_recv_slice, recv_slice, recv_slice_timeout, recv_slice_deadline
        (buf: &mut [u8]) -> Option<usize>;
        try_doc = "copies what is buffered into `buf`, as much as fits; `Ok(Some(0))` if nothing yet, `Ok(None)` at EOF.",
        plain_doc = "output has arrived to copy into `buf`", what = "output to copy into `buf`",
    }

    family! {
        /// Returns one line with its `\n`; at the end of the stream, a last line without
        /// `\n` as it is, then `None`. `\r\n` is returned raw.
        ///
        /// # Errors
        /// [`Error::Stalled`] naming this stream when a line is longer than the bound (read
        /// it with [`recv`](Self::recv)), or naming the other one as for `recv`;
        /// [`Error::Io`] as for `recv`. Nothing is lost.
        recv_line_op: try_recv_line, recv_line, recv_line_timeout, recv_line_deadline
        () -> Option<Vec<u8>>;
        try_doc = "a whole line if one is buffered, `Ok(Some(empty))` if not yet, `Ok(None)` at EOF.",
        plain_doc = "a whole line has arrived", what = "a whole line",
    }

    family! {
        /// Returns everything up to and including the first `pattern`, which may arrive split
        /// across any number of reads; the rest stays buffered. `None` if the stream ended
        /// first: what arrived stays buffered. An empty pattern matches at once.
        ///
        /// # Errors
        /// [`Error::Stalled`] naming this stream when the bound filled without the pattern
        /// (read on with [`recv`](Self::recv), or raise the bound), or naming the other one
        /// as for `recv`; [`Error::Io`] as for `recv`. Nothing is lost.
        expect_op: try_expect, expect, expect_timeout, expect_deadline
        (pattern: &[u8]) -> Option<Vec<u8>>;
        try_doc = "everything up to `pattern` if it is buffered, `Ok(Some(empty))` if not yet, `Ok(None)` at EOF.",
        plain_doc = "`pattern` has arrived", what = "`pattern`",
    }

    family! {
        /// Returns exactly `n` bytes (a `git cat-file --batch` object, a length-prefixed
        /// message). The bound stretches to `n` while this waits, so `n` may be larger than
        /// [`Options::output_capacity`](crate::Options::output_capacity). `n == 0` returns
        /// an empty `Vec` at once.
        ///
        /// # Errors
        /// [`Error::UnexpectedEof`] when the stream ended with fewer than `n` bytes (they stay
        /// buffered; `None` only if none were); otherwise as for [`recv`](Self::recv).
        recv_exact_op: try_recv_exact, recv_exact, recv_exact_timeout, recv_exact_deadline
        (n: usize) -> Option<Vec<u8>>;
        try_doc = "exactly `n` bytes if that many are buffered, `Ok(Some(empty))` if not yet, `Ok(None)` at EOF.",
        plain_doc = "`n` bytes have arrived", what = "exactly `n` bytes",
    }

    fn recv_op(&self, wait: Wait, operation: &'static str, t: Duration) -> Result<Option<Vec<u8>>> {
        let got = self.run(wait, operation, |r| {
            if r.len() > 0 {
                return Some(Ok(Some(r.take(usize::MAX))));
            }
            r.is_ended().then(|| r.end())
        });
        outcome(got, wait, operation, t, || Some(Vec::new()))
    }

    fn recv_into_op(
        &self,
        buf: &mut Vec<u8>,
        wait: Wait,
        operation: &'static str,
        t: Duration,
    ) -> Result<Option<usize>> {
        let got = self.run(wait, operation, |r| {
            if r.len() > 0 {
                return Some(Ok(Some(r.take_into(buf, usize::MAX))));
            }
            r.is_ended().then(|| r.end())
        });
        outcome(got, wait, operation, t, || Some(0))
    }

    fn recv_slice_op(
        &self,
        buf: &mut [u8],
        wait: Wait,
        operation: &'static str,
        t: Duration,
    ) -> Result<Option<usize>> {
        if buf.is_empty() {
            return Ok(Some(0));
        }
        let got = self.run(wait, operation, |r| {
            if r.len() > 0 {
                return Some(Ok(Some(r.take_slice(buf))));
            }
            r.is_ended().then(|| r.end())
        });
        outcome(got, wait, operation, t, || Some(0))
    }

    fn recv_line_op(
        &self,
        wait: Wait,
        operation: &'static str,
        t: Duration,
    ) -> Result<Option<Vec<u8>>> {
        let mut search = Search::new(b"\n");
        let got = self.run(wait, operation, |r| match search.look(r, operation)? {
            Ok(Some(line)) => Some(Ok(Some(line))),
            // At the end, a last line without `\n` is returned as it is.
            Ok(None) if r.len() > 0 => Some(Ok(Some(r.take(usize::MAX)))),
            other => Some(other),
        });
        outcome(got, wait, operation, t, || Some(Vec::new()))
    }

    fn expect_op(
        &self,
        pattern: &[u8],
        wait: Wait,
        operation: &'static str,
        t: Duration,
    ) -> Result<Option<Vec<u8>>> {
        if pattern.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let mut search = Search::new(pattern);
        let got = self.run(wait, operation, |r| search.look(r, operation));
        outcome(got, wait, operation, t, || Some(Vec::new()))
    }

    fn recv_exact_op(
        &self,
        n: usize,
        wait: Wait,
        operation: &'static str,
        t: Duration,
    ) -> Result<Option<Vec<u8>>> {
        if n == 0 {
            return Ok(Some(Vec::new()));
        }
        let _stretched = self.core().wanting(n);
        let got = self.run(wait, operation, |r| {
            if r.len() >= n {
                return Some(Ok(Some(r.take(n))));
            }
            match (r.is_ended(), r.len()) {
                (false, _) => None,
                (true, 0) => Some(r.end()),
                (true, _) => Some(Err(Error::UnexpectedEof {
                    stream: r.core().stream.name(),
                })),
            }
        });
        outcome(got, wait, operation, t, || Some(Vec::new()))
    }

    /// The PEP-era `expect`: the pattern, or `UnexpectedEof` when the stream ends first.
    pub(crate) fn expect_or_eof(
        &self,
        pattern: &[u8],
        deadline: Option<Instant>,
        operation: &'static str,
        t: Duration,
    ) -> Result<Vec<u8>> {
        match self.expect_op(pattern, Wait::Until(deadline), operation, t)? {
            Some(bytes) => Ok(bytes),
            None => Err(Error::UnexpectedEof {
                stream: self.stream().name(),
            }),
        }
    }

    /// A line, waiting until `deadline` (for the PEP facade and the wrapper).
    pub(crate) fn line_deadline(
        &self,
        deadline: Option<Instant>,
        operation: &'static str,
        t: Duration,
    ) -> Result<Option<Vec<u8>>> {
        self.recv_line_op(Wait::Until(deadline), operation, t)
    }
}

/// What a family's look came to: its answer; "nothing yet" when it did not wait; a timeout
/// when it did.
fn outcome<T>(
    got: Option<Result<T>>,
    wait: Wait,
    operation: &'static str,
    timeout: Duration,
    nothing: impl FnOnce() -> T,
) -> Result<T> {
    match (got, wait) {
        (Some(done), _) => done,
        (None, Wait::No) => Ok(nothing()),
        (None, Wait::Until(_)) => Err(Error::timeout(operation, timeout)),
    }
}

/// A search for a pattern across looks: it remembers how far the buffer was searched, by
/// stream offset, so that a long search stays linear even while other threads take bytes.
struct Search<'p> {
    pattern: &'p [u8],
    /// The stream offset below which no match can start.
    searched: u64,
}

impl<'p> Search<'p> {
    fn new(pattern: &'p [u8]) -> Search<'p> {
        Search {
            pattern,
            searched: 0,
        }
    }

    /// The match (`Ok(Some)`), the end of the stream (`Ok(None)`), a stall on this stream's
    /// own bound, or `None`: not yet.
    fn look(
        &mut self,
        r: &mut Reading<'_>,
        operation: &'static str,
    ) -> Option<Result<Option<Vec<u8>>>> {
        let skip = usize::try_from(self.searched.saturating_sub(r.start())).unwrap_or(usize::MAX);
        if let Some(end) = r.find(self.pattern, skip.min(r.len())) {
            return Some(Ok(Some(r.take(end))));
        }
        // Only the last `len - 1` bytes can start a match that more data ends.
        let tail = r.len().saturating_sub(self.pattern.len() - 1);
        self.searched = r.start() + tail as u64;
        if r.is_ended() {
            return Some(match r.take_error() {
                Some(e) => Err(Error::Io(e)),
                None => Ok(None),
            });
        }
        let core = r.core();
        let full = core.is_overflowing() || r.len() > core.bound();
        (core.policy == Overflow::Block && full).then_some(Err(Error::Stalled {
            stream: core.stream,
            operation,
        }))
    }
}

impl Read for &OutputHandle {
    /// Blocks until at least one byte has arrived (`Ok(n)`), or EOF (`Ok(0)`); as
    /// [`OutputHandle::recv_slice`]. For timeouts, use `recv_slice_timeout`; for `BufRead`,
    /// wrap it in a `std::io::BufReader` (which then holds what it read ahead).
    ///
    /// `ErrorKind::Deadlock` for [`Error::Stalled`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv_slice(buf)?.unwrap_or(0))
    }
}
