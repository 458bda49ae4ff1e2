//! How a child is started: what is captured, how much may wait in memory, what drop does.

use std::process::Command;

use crate::{Popen, Result, Stream};

/// What happens to one of the child's standard streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Capture {
    /// A pipe served by a procpump thread (the default for all three streams).
    #[default]
    Piped,
    /// The child shares the parent's stream.
    Inherit,
    /// Connected to the null device.
    Null,
}

/// What a stream's reader does when the caller has left [`Options::output_capacity`] bytes
/// of it unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Stop reading: the child blocks once its pipe is full too, until the caller reads.
    /// Nothing is lost; a call waiting on something else then returns
    /// [`Error::Stalled`](crate::Error::Stalled) naming this stream.
    #[default]
    Block,
    /// Never block the child: keep the most recent `output_capacity` bytes and drop the
    /// oldest, counting them in [`Popen::dropped`]. For output only wanted when something
    /// goes wrong (servers, noisy tools). Such a stream never causes `Stalled`, and holds up
    /// to `output_capacity` bytes even while nobody calls.
    KeepTail,
}

/// Options for [`Popen`], built in the style of `std::fs::OpenOptions`.
///
/// Setting an option returns immediately; [`spawn`](Options::spawn) starts the child.
///
/// ```
/// use procpump::{Capture, Options};
/// # if std::env::var_os("PROCPUMP_DOC_CHILD").is_some() { return Ok(()); }
/// # let mut cmd = std::process::Command::new(std::env::current_exe()?);
/// # cmd.env("PROCPUMP_DOC_CHILD", "1"); // this example runs itself as the child
/// let child = Options::new()
///     .merge_stderr(true)          // stderr arrives on stdout, in the child's order
///     .stdin(Capture::Null)
///     .output_capacity(64 * 1024)  // at most 64 KiB waits per output stream
///     .kill_on_drop(true)
///     .spawn(&mut cmd)?;
/// assert!(child.wait()?.success());
/// # Ok::<(), procpump::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) stdin: Capture,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    pub(crate) merge_stderr: bool,
    pub(crate) output_capacity: usize,
    pub(crate) read_ahead: usize,
    pub(crate) overflow: [Overflow; 2],
    pub(crate) input_capacity: usize,
    pub(crate) chunk_size: usize,
    pub(crate) kill_on_drop: bool,
    pub(crate) lines: bool,
}

/// Default most unread bytes a stream may hold in the `Popen` (1 MiB, as Node's `exec`
/// `maxBuffer`): what calls may move out of a pipe while the caller is busy with the other.
pub const DEFAULT_OUTPUT_CAPACITY: usize = 1024 * 1024;
/// Default bytes a reader reads ahead on its own, while no call waits on its stream: what a
/// `Popen` nobody is calling holds per stream (small, so that hundreds of idle children cost
/// little: 200 children with unread output peak near 30 MiB in all).
pub const DEFAULT_READ_AHEAD: usize = 32 * 1024;
/// Default bytes that [`Popen::send`] may queue for the child's stdin.
pub const DEFAULT_INPUT_CAPACITY: usize = 256 * 1024;
/// The largest accepted [`Options::chunk_size`].
pub const MAX_CHUNK_SIZE: usize = 64 * 1024 * 1024;
/// Most chunks a channel holds: crossbeam allocates every slot up front, so a huge capacity
/// with tiny chunks would allocate gigabytes. Past this, the effective bound is lower.
const MAX_SLOTS: usize = 1024;
/// Default largest read a reader thread makes, and largest write the writer makes.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            stdin: Capture::Piped,
            stdout: Capture::Piped,
            stderr: Capture::Piped,
            merge_stderr: false,
            output_capacity: DEFAULT_OUTPUT_CAPACITY,
            read_ahead: DEFAULT_READ_AHEAD,
            overflow: [Overflow::Block; 2],
            input_capacity: DEFAULT_INPUT_CAPACITY,
            chunk_size: DEFAULT_CHUNK_SIZE,
            kill_on_drop: false,
            lines: false,
        }
    }
}

impl Options {
    /// Returns immediately with the defaults: all three streams piped, up to 1 MiB of unread
    /// output per stream (32 KiB read ahead while nobody calls), 256 KiB of queued input,
    /// 64 KiB chunks, [`Overflow::Block`], the child left running on drop.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns immediately; sets what the child's stdin is.
    pub fn stdin(&mut self, capture: Capture) -> &mut Self {
        self.stdin = capture;
        self
    }

    /// Returns immediately; sets what the child's stdout is.
    pub fn stdout(&mut self, capture: Capture) -> &mut Self {
        self.stdout = capture;
        self
    }

    /// Returns immediately; sets what the child's stderr is (ignored when merged).
    pub fn stderr(&mut self, capture: Capture) -> &mut Self {
        self.stderr = capture;
        self
    }

    /// Returns immediately; when `true`, stdout and stderr share one pipe, so the bytes arrive
    /// on [`Stream::Stdout`](crate::Stream::Stdout) exactly in the order the child wrote them.
    /// Requires stdout to be [`Capture::Piped`].
    pub fn merge_stderr(&mut self, merge: bool) -> &mut Self {
        self.merge_stderr = merge;
        self
    }

    /// Returns immediately; sets the most unread output a stream may hold in the `Popen`, in
    /// bytes however the child writes (1 MiB by default).
    ///
    /// This is what calls may move out of a pipe while the caller is busy with the other
    /// stream: a `read_line` on stdout keeps taking in stderr up to this bound. Beyond it the
    /// reader stops (holding back one byte to learn that more is coming) and the child, once
    /// its pipe is full, blocks until the stream is read; a call waiting on the other stream
    /// then returns [`Error::Stalled`](crate::Error::Stalled) (unless the stream is
    /// [`Overflow::KeepTail`]). `expect` and `read_line` hold at most this much while they
    /// search. [`Popen::wait`] and [`Popen::communicate`] lift it while they run: they take in
    /// everything the child writes (except on an [`Overflow::KeepTail`] stream, which keeps
    /// its tail, so `communicate` returns the last `output_capacity` bytes of it).
    pub fn output_capacity(&mut self, bytes: usize) -> &mut Self {
        self.output_capacity = bytes;
        self
    }

    /// Returns immediately; sets how many bytes a reader reads ahead on its own, while no call
    /// waits on its stream or moves it along (32 KiB by default). This is what an idle `Popen`
    /// holds per stream; while a call waits on the stream, the reader runs ahead up to
    /// `output_capacity` in reads of up to `chunk_size`.
    pub fn read_ahead(&mut self, bytes: usize) -> &mut Self {
        self.read_ahead = bytes;
        self
    }

    /// Returns immediately; sets what `stream`'s reader does once the caller has left
    /// `output_capacity` bytes of it unread ([`Overflow::Block`] by default). Ignored for
    /// stderr when it is merged into stdout.
    pub fn overflow(&mut self, stream: Stream, policy: Overflow) -> &mut Self {
        self.overflow[stream as usize] = policy;
        self
    }

    /// Returns immediately; sets how many bytes [`send`](Popen::send) may queue for the child's
    /// stdin before it starts returning short counts (256 KiB by default). The queue holds
    /// pieces of at most [`chunk_size`](Options::chunk_size) bytes, 16 at least and 1,024 at
    /// most, so the effective bound is at most 1,024 chunks (64 MiB with the default chunk
    /// size).
    pub fn input_capacity(&mut self, bytes: usize) -> &mut Self {
        self.input_capacity = bytes;
        self
    }

    /// Returns immediately; sets the largest single read from an output pipe (and the size
    /// the writer coalesces small sends into). Capped at the capacities.
    pub fn chunk_size(&mut self, bytes: usize) -> &mut Self {
        self.chunk_size = bytes;
        self
    }

    /// Returns immediately; when `true`, a [`Group`](crate::Group) member's
    /// [`Output`](crate::EventKind::Output) events carry one whole line each, ending with
    /// `\n` (`false` by default: each event is one chunk as the reader read it).
    ///
    /// Only these events lack the `\n`: the last line of a stream that ends without one (or
    /// that the group stops following, see [`EventKind::Eof`](crate::EventKind::Eof)), and
    /// the pieces of a line longer than [`output_capacity`](Options::output_capacity) (each
    /// piece that long). Bytes are passed on as they are: a `\r\n` ending keeps its
    /// `\r`. A `Popen` outside a group ignores this option.
    pub fn lines(&mut self, lines: bool) -> &mut Self {
        self.lines = lines;
        self
    }

    /// Returns immediately; when `true`, dropping the [`Popen`] kills the child.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Self {
        self.kill_on_drop = kill;
        self
    }

    /// Returns once the child has started (it does not wait for the child to do anything).
    ///
    /// The `Command`'s own stdio settings are replaced by these options.
    ///
    /// # Errors
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) for a zero capacity or chunk size,
    /// or `merge_stderr` without a piped stdout; [`Error::Spawn`](crate::Error::Spawn) when the
    /// program cannot be started.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Popen> {
        Popen::spawn_with(cmd, self)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        use crate::Error::InvalidOption;
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(InvalidOption("chunk_size must be from 1 byte to 64 MiB"));
        }
        if self.output_capacity == 0 || self.input_capacity == 0 || self.read_ahead == 0 {
            return Err(InvalidOption(
                "capacities and read_ahead must be at least 1 byte",
            ));
        }
        if self.merge_stderr && self.stdout != Capture::Piped {
            return Err(InvalidOption(
                "merge_stderr needs stdout to be Capture::Piped",
            ));
        }
        Ok(())
    }
}

/// How a byte bound becomes a bounded channel: chunks of at most `chunk` bytes, and few enough
/// slots that `slots * chunk <= capacity` (with at least one slot).
pub(crate) fn slots_and_chunk(capacity: usize, chunk: usize, min_slots: usize) -> (usize, usize) {
    let chunk = chunk.min(capacity).min(capacity.div_ceil(min_slots)).max(1);
    ((capacity / chunk).clamp(1, MAX_SLOTS), chunk)
}
