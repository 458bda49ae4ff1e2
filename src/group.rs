//! Many children, one event stream: [`Group`].
//!
//! Each member is an ordinary [`Popen`] whose hub also reports to the group's board: a reader
//! that hands over a chunk, or sees EOF, lists its member there (once, until the group looks)
//! and wakes the group. [`Group::next_event`] looks only at listed members, keeps the front of
//! every stream with something to say in a heap ordered by arrival stamp (one counter for the
//! whole group), and hands out the earliest. Nothing is copied out of a member before it is
//! delivered, so a direct read through [`Group::get`] takes bytes that then never appear as
//! events. Exits are found with `try_wait`: right after a member's outputs end (backing off
//! from 50 µs to 100 ms), and otherwise in a rare sweep over all members, for a child whose
//! grandchild holds its pipes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::process::{Command, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::output::Core;
use crate::signal::{Board, Link};
use crate::{Error, Options, Popen, Result, Stream};

/// First `try_wait` interval after a member's outputs ended, doubled up to `LAST_POLL`.
const FIRST_POLL: Duration = Duration::from_micros(50);
const LAST_POLL: Duration = Duration::from_millis(100);
/// How long an exited member's output stream may stay open with nothing new in it, and
/// nothing left undelivered, before the group stops following it: a grandchild holds it.
const EXIT_GRACE: Duration = Duration::from_millis(100);
/// After the exit, at most this many more bytes of a stream are taken as the member's own
/// (what its pipe held); a stream that goes on beyond it is written by a grandchild, and the
/// group stops following it once it has delivered them.
const AFTER_EXIT: u64 = 1 << 20;
/// The sweep for exits of members whose outputs are open runs every `SWEEP_PER_MEMBER` per
/// member, within these bounds: about 50 `try_wait` calls per second however many wait.
const SWEEP_PER_MEMBER: Duration = Duration::from_millis(20);
const SWEEP_MIN: Duration = Duration::from_millis(500);
const SWEEP_MAX: Duration = Duration::from_secs(20);
/// Polls this far apart or more are put on a common grid, so that members polled at the
/// same rate (those without captured output) share one wake-up.
const ALIGN_FROM: Duration = Duration::from_millis(10);

/// The name of a group member, given by [`Group::spawn`] or [`Group::queue`]: ids compare
/// in the order they were given out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(u64);

impl ChildId {
    /// Returns immediately with the id as a number: 0 for the group's first member, then 1,
    /// 2, … in the order `spawn` and `queue` were called.
    pub fn index(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ChildId {
    /// Returns immediately, writing `#` and the index, as in `#3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Something that happened to one member of a [`Group`].
#[derive(Debug)]
pub struct Event {
    /// The member it happened to.
    pub id: ChildId,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a member of a [`Group`].
///
/// A member's events come in this order: `Started` (queued commands only), its `Output`
/// and `Eof` events interleaved as the bytes arrived, then `Exit`. A queued command that
/// could not start has only `SpawnFailed`; one cancelled by [`Group::kill_all`] only
/// `Cancelled`.
#[derive(Debug)]
#[non_exhaustive]
pub enum EventKind {
    /// A command given to [`Group::queue`] started: a running slot was free.
    Started,
    /// Bytes from one stream, never empty: a chunk as the reader read it, or one line with
    /// [`Options::lines`].
    Output(Stream, Vec<u8>),
    /// That stream ended: every byte of it was delivered (or taken by direct reads).
    ///
    /// Also sent for a stream a grandchild keeps open after the member exited, once the
    /// group has seen the exit (see [`Group`] on the sweep) and the stream has stayed quiet
    /// for 100 ms with nothing undelivered, or gone on 1 MiB past the exit. The group stops
    /// following it then: later bytes are not delivered (a direct read can still take them
    /// while the `Popen` is held).
    Eof(Stream),
    /// The member exited; it comes after all its `Output` and `Eof` events, and the group
    /// forgets the member ([`Group::get`] returns `None` from then on).
    Exit(ExitStatus),
    /// Asking the OS for the member's exit status failed (for example because something
    /// else reaped it); it comes where `Exit` would, and the group forgets the member.
    WaitFailed(Error),
    /// A command given to [`Group::queue`] could not start (the error says why).
    SpawnFailed(Error),
    /// Reading that stream failed (the error comes after the bytes before it; `Eof`
    /// follows).
    ReadFailed(Stream, Error),
    /// A command given to [`Group::queue`] was dropped unstarted by [`Group::kill_all`].
    Cancelled,
}

/// Many children watched from one thread: their output, EOFs and exits as one stream of
/// [`Event`]s in arrival order, with an optional limit on how many run at once.
///
/// Every member is a [`Popen`] (reach it with [`get`](Group::get)): it has a reader thread
/// per captured output, and a writer thread for stdin only once input is sent to it; the
/// group adds no thread. Every method but the builder [`kill_on_drop`](Group::kill_on_drop)
/// takes `&self`, and `Group` is `Send + Sync`.
///
/// Waiting on the group costs no CPU while nothing happens, besides two kinds of polling
/// for exits (std offers no portable way to wait for a child without blocking a thread on
/// it). A member whose outputs have ended, or that has none captured, is polled with
/// `try_wait`, backing off to every 100 ms. Members whose outputs are open are swept every
/// 20 ms per member, at least 0.5 s and at most 20 s apart: their exit normally shows as
/// EOF at once, but a member whose grandchild holds its pipes is seen to have exited only by
/// the sweep, so its `Exit` can come that much later.
///
/// ```
/// use std::process::Command;
/// use procpump::{EventKind, Group, Options, Stream};
///
/// # if let Some(n) = std::env::var_os("PROCPUMP_DOC_CHILD") {
/// #     println!("job {} done", n.to_string_lossy());
/// #     return Ok(());
/// # }
/// # let job = |n: u32| {
/// #     let mut c = Command::new(std::env::current_exe().unwrap());
/// #     c.env("PROCPUMP_DOC_CHILD", n.to_string()); // the example runs itself as the child
/// #     c
/// # };
/// // `job(n)` is a Command for a program that prints "job <n> done".
/// let group = Group::with_max_running(2);   // at most two run at once
/// let mut options = Options::new();
/// options.lines(true);                      // one Output event per line
/// let ids: Vec<_> = (0..5).map(|n| group.queue_with(&options, &mut job(n))).collect();
/// let mut lines = Vec::new();
/// while let Some(event) = group.next_event(std::time::Duration::from_secs(30))? {
///     match event.kind {
///         EventKind::Output(Stream::Stdout, line) => lines.push((event.id, line)),
///         EventKind::Exit(status) => assert!(status.success()),
///         _ => {}
///     }
/// }
/// assert_eq!(lines.len(), 5);
/// assert!(lines.contains(&(ids[3], b"job 3 done\n".to_vec())));
/// # Ok::<(), procpump::Error>(())
/// ```
///
/// # Drop behavior
///
/// Dropping the group returns at once and drops each member as a [`Popen`] is dropped: its
/// stdin is closed, its readers end, and it is reaped by a small thread once it exits, so no
/// zombie is left. Members keep running unless [`kill_on_drop`](Group::kill_on_drop) (or
/// the member's own [`Options::kill_on_drop`]) was set. Queued commands never start. A
/// member still held through an `Arc` from [`get`](Group::get) is dropped (and killed by its
/// own option) only when that `Arc` is; the group's `kill_on_drop` kills it at once.
pub struct Group {
    board: Arc<Board>,
    state: Mutex<State>,
    max_running: usize,
    kill_on_drop: bool,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Group")
            .field("running", &st.members.len())
            .field("queued", &st.queued.len())
            .field("max_running", &self.max_running)
            .finish()
    }
}

impl Default for Group {
    /// Returns immediately with [`Group::new`].
    fn default() -> Group {
        Group::new()
    }
}

/// A kind of heap entry beside the two streams: the member's exit.
const EXIT: u8 = 2;
/// Timers are looked at when no output is ready, and at least once every this many events.
const POLL_EVERY: u32 = 64;

/// Member ids are small sequential numbers: one multiplication spreads them (SipHash, the
/// default, costs more than the rest of a lookup).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type ById<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

struct State {
    /// The origin of the grid that long poll intervals are aligned to.
    base: Instant,
    next_id: u64,
    members: ById<Member>,
    /// `(arrival stamp, member, stream index or EXIT)`, earliest first. An entry may be
    /// stale (a direct read took its bytes): it is checked when it comes up.
    heap: Queue,
    /// Events already decided, delivered before the heap's (`Started` after the `Exit`
    /// that freed its slot, `SpawnFailed`, `Cancelled`).
    news: VecDeque<Event>,
    /// When to `try_wait` a member next: `(instant, member)`.
    polls: BinaryHeap<Reverse<(Instant, u64)>>,
    next_sweep: Option<Instant>,
    queued: VecDeque<Queued>,
    /// The board's list, swapped out so that taking it allocates nothing.
    listed: Vec<u64>,
    /// Events delivered since the timers were last looked at.
    since_poll: u32,
}

struct Queued {
    id: u64,
    options: Options,
    command: Command,
}

struct Member {
    popen: Arc<Popen>,
    tracks: Vec<Track>,
    lines: bool,
    capacity: usize,
    /// Its exit status once seen, or why it cannot be.
    status: Option<Result<ExitStatus>>,
    /// A poll timer is set (outputs ended, or none captured, or the exit grace).
    polling: bool,
    poll_step: Duration,
    /// The exit was seen with outputs still open: they get `EXIT_GRACE` at a time to end.
    exited_open: bool,
    exit_queued: bool,
}

/// One captured output stream of a member, as the group follows it.
struct Track {
    stream: Stream,
    core: Arc<Core>,
    /// An entry for it is in the heap.
    in_heap: bool,
    eof_sent: bool,
    /// Line mode: the stream offset searched for `\n` so far.
    searched: u64,
    /// The member exited and a grandchild holds this stream open: treated as ended.
    abandoned: bool,
    /// `core.arrived` when the exit was seen, and at the last look since.
    arrived_at_exit: u64,
    arrived_seen: u64,
}

impl Track {
    /// The reader has handed over its last byte (or the group stopped following it).
    fn is_ended(&self) -> bool {
        self.abandoned || self.core.done.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Group {
    /// Returns immediately with an empty group and no limit on running members.
    pub fn new() -> Group {
        Group::with_max_running(usize::MAX)
    }

    /// Returns immediately with an empty group where at most `n` members run at once
    /// (`n` = 0 counts as 1): [`queue`](Group::queue) holds commands back until a slot is
    /// free. [`spawn`](Group::spawn) ignores the limit (its members still count).
    pub fn with_max_running(n: usize) -> Group {
        Group {
            board: Arc::new(Board::default()),
            state: Mutex::new(State {
                base: Instant::now(),
                next_id: 0,
                members: ById::default(),
                heap: Queue::default(),
                news: VecDeque::new(),
                polls: BinaryHeap::new(),
                next_sweep: None,
                queued: VecDeque::new(),
                listed: Vec::new(),
                since_poll: 0,
            }),
            max_running: n.max(1),
            kill_on_drop: false,
        }
    }

    /// Returns immediately; when `true`, dropping the group kills every member still running
    /// (members an `Arc` from [`get`](Group::get) keeps alive too).
    pub fn kill_on_drop(mut self, kill: bool) -> Group {
        self.kill_on_drop = kill;
        self
    }

    /// Returns once the child has started, with all three streams piped and the default
    /// [`Options`]; it runs at once, whatever the limit.
    ///
    /// # Errors
    /// [`Error::Spawn`] when the program cannot be started.
    pub fn spawn(&self, cmd: &mut Command) -> Result<ChildId> {
        self.spawn_with(&Options::new(), cmd)
    }

    /// Returns once the child has started with `options`; as [`spawn`](Group::spawn).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for bad options, [`Error::Spawn`] when the program cannot be
    /// started.
    pub fn spawn_with(&self, options: &Options, cmd: &mut Command) -> Result<ChildId> {
        let mut st = self.state.lock();
        let id = st.next_id;
        self.start(&mut st, id, options, cmd)?;
        st.next_id += 1;
        Ok(ChildId(id))
    }

    /// Returns once the child has started if fewer than the limit run, otherwise at once,
    /// with the id the command has; the default [`Options`]. See
    /// [`queue_with`](Group::queue_with).
    pub fn queue(&self, cmd: &mut Command) -> ChildId {
        self.queue_with(&Options::new(), cmd)
    }

    /// Returns once the child has started if fewer than the limit run, otherwise at once,
    /// with the id the command has. A command held back starts with `options` when
    /// [`next_event`](Group::next_event) delivers a member's `Exit`; either way a
    /// [`Started`](EventKind::Started) event says when, or a
    /// [`SpawnFailed`](EventKind::SpawnFailed) event that it could not start.
    ///
    /// A command held back is taken out of `cmd` (with all its settings), which is left as a
    /// new `Command` with the same program, arguments, environment changes and directory.
    pub fn queue_with(&self, options: &Options, cmd: &mut Command) -> ChildId {
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        if st.members.len() < self.max_running {
            self.start_queued(&mut st, id, options, cmd);
        } else {
            let command = std::mem::replace(cmd, copy_of(cmd));
            st.queued.push_back(Queued {
                id,
                options: options.clone(),
                command,
            });
        }
        ChildId(id)
    }

    /// Returns immediately with the member `id` while it runs or has events to deliver;
    /// `None` for an id not started yet or never started (`SpawnFailed`, `Cancelled`), and
    /// once its `Exit` (or `WaitFailed`) event was delivered.
    ///
    /// The `Popen` has the whole API: send input, kill, read directly. Bytes a direct read
    /// takes are not delivered as events.
    pub fn get(&self, id: ChildId) -> Option<Arc<Popen>> {
        let st = self.state.lock();
        st.members.get(&id.0).map(|m| Arc::clone(&m.popen))
    }

    /// Returns immediately with how many members run or have events to deliver.
    pub fn running(&self) -> usize {
        self.state.lock().members.len()
    }

    /// Returns immediately with how many queued commands wait for a slot.
    pub fn queued(&self) -> usize {
        self.state.lock().queued.len()
    }

    /// Returns immediately: whether [`next_event`](Group::next_event) would return `Ok(None)`
    /// (no member, nothing queued, no event left).
    pub fn is_empty(&self) -> bool {
        self.state.lock().is_empty()
    }

    /// Returns immediately after asking the OS to kill every running member, and cancelling
    /// every queued command (each gets a [`Cancelled`](EventKind::Cancelled) event). The
    /// members' output and `Exit` events still come.
    ///
    /// # Errors
    /// The first [`Error::Io`] a kill returned; every member is tried.
    pub fn kill_all(&self) -> Result<()> {
        let mut st = self.state.lock();
        while let Some(q) = st.queued.pop_front() {
            st.news.push_back(Event {
                id: ChildId(q.id),
                kind: EventKind::Cancelled,
            });
        }
        let mut first = Ok(());
        for m in st.members.values() {
            if let Err(e) = m.popen.kill() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        drop(st);
        self.board.signal.notify();
        first
    }

    /// Waits at most `timeout` for the next event of any member; `Ok(None)` once the group is
    /// empty (every member's `Exit` delivered, nothing queued).
    ///
    /// `Duration::ZERO` does not wait; `Duration::MAX` waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::Timeout`] when nothing happened in time (nothing is lost).
    pub fn next_event(&self, timeout: Duration) -> Result<Option<Event>> {
        self.next_until(Limit::Timeout(timeout), "next_event")
    }

    /// Waits until `deadline` for the next event of any member; as
    /// [`next_event`](Group::next_event) (a deadline in the past looks once).
    ///
    /// # Errors
    /// [`Error::Timeout`] when nothing happened by `deadline`.
    pub fn next_event_deadline(&self, deadline: Instant) -> Result<Option<Event>> {
        self.next_until(Limit::Deadline(deadline), "next_event_deadline")
    }

    /// Returns immediately with an iterator whose `next` blocks until the next event, and
    /// which ends when the group is empty; each item is what
    /// [`next_event`](Group::next_event) with no timeout returns.
    pub fn events(&self) -> GroupEvents<'_> {
        GroupEvents { group: self }
    }

    fn next_until(&self, limit: Limit, operation: &'static str) -> Result<Option<Event>> {
        // The clock is read only once the call has to wait: an event ready at once costs
        // no clock read.
        let mut deadline = None;
        loop {
            let seen = self.board.signal.epoch();
            let mut st = self.state.lock();
            if let Some(event) = self.next_now(&mut st) {
                return Ok(Some(event));
            }
            if st.is_empty() {
                return Ok(None);
            }
            let wake = st.next_timer();
            drop(st);
            let now = Instant::now();
            let (until, timeout) = *deadline.get_or_insert_with(|| limit.at(now));
            if until.is_some_and(|d| now >= d) {
                return Err(Error::timeout(operation, timeout));
            }
            let until = match (until, wake) {
                (Some(d), Some(w)) => Some(d.min(w)),
                (d, w) => d.or(w),
            };
            self.board.signal.wait_past(seen, until);
        }
    }

    /// The next event if one is due now.
    fn next_now(&self, st: &mut State) -> Option<Event> {
        if let Some(event) = st.news.pop_front() {
            return Some(event);
        }
        st.take_listed(&self.board);
        // Timers (exit polls, the sweep) need the clock: look at them when no output is
        // ready, or now and then while output keeps coming.
        st.since_poll += 1;
        let mut polled = st.since_poll >= POLL_EVERY;
        if polled {
            st.poll_due(&self.board, Instant::now());
        }
        loop {
            if let Some(event) = self.pop(st) {
                return Some(event);
            }
            if polled {
                return None;
            }
            st.poll_due(&self.board, Instant::now());
            polled = true;
        }
    }

    /// The earliest event in the heap, if any is whole.
    fn pop(&self, st: &mut State) -> Option<Event> {
        while let Some((seq, id, what)) = st.heap.pop() {
            if what == EXIT {
                let event = st.exit(id);
                self.fill_slots(st);
                return event;
            }
            if let Some(event) = st.deliver(&self.board, seq, id, usize::from(what)) {
                return Some(event);
            }
        }
        None
    }

    /// Starts queued commands while slots are free.
    fn fill_slots(&self, st: &mut State) {
        while st.members.len() < self.max_running {
            let Some(mut q) = st.queued.pop_front() else {
                break;
            };
            self.start_queued(st, q.id, &q.options, &mut q.command);
        }
    }

    /// Starts a queued command now, with a `Started` or `SpawnFailed` event.
    fn start_queued(&self, st: &mut State, id: u64, options: &Options, cmd: &mut Command) {
        let kind = match self.start(st, id, options, cmd) {
            Ok(()) => EventKind::Started,
            Err(e) => EventKind::SpawnFailed(e),
        };
        st.news.push_back(Event {
            id: ChildId(id),
            kind,
        });
        self.board.signal.notify();
    }

    /// Spawns the member `id`.
    fn start(&self, st: &mut State, id: u64, options: &Options, cmd: &mut Command) -> Result<()> {
        let link = Link {
            board: Arc::clone(&self.board),
            id,
            listed: AtomicBool::new(false),
        };
        let popen = Arc::new(Popen::spawn_linked(cmd, options, Some(link))?);
        let tracks: Vec<Track> = [&popen.pipes.stdout, &popen.pipes.stderr]
            .into_iter()
            .flatten()
            .map(|h| Track {
                stream: h.core().stream,
                core: Arc::clone(h.core()),
                in_heap: false,
                eof_sent: false,
                searched: 0,
                abandoned: false,
                arrived_at_exit: 0,
                arrived_seen: 0,
            })
            .collect();
        let no_output = tracks.is_empty();
        st.members.insert(
            id,
            Member {
                popen,
                tracks,
                lines: options.lines,
                capacity: options.output_capacity,
                status: None,
                polling: false,
                poll_step: FIRST_POLL,
                exited_open: false,
                exit_queued: false,
            },
        );
        if no_output {
            // No EOF will say it is ending: poll from the start.
            st.poll_soon(id, Instant::now());
        }
        st.schedule_sweep(Instant::now());
        // A thread already waiting computed its wake-up without this member's timers.
        self.board.signal.notify();
        Ok(())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.kill_on_drop {
            let _ = self.kill_all();
        }
    }
}

impl State {
    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.queued.is_empty() && self.news.is_empty()
    }

    /// When a timer next needs the group's attention.
    fn next_timer(&self) -> Option<Instant> {
        let poll = self.polls.peek().map(|Reverse((at, _))| *at);
        match (poll, self.next_sweep) {
            (Some(p), Some(s)) => Some(p.min(s)),
            (p, s) => p.or(s),
        }
    }

    fn schedule_sweep(&mut self, now: Instant) {
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now + self.sweep_interval());
        }
    }

    fn sweep_interval(&self) -> Duration {
        let per =
            SWEEP_PER_MEMBER.saturating_mul(u32::try_from(self.members.len()).unwrap_or(u32::MAX));
        per.clamp(SWEEP_MIN, SWEEP_MAX)
    }

    /// Sets a poll timer for member `id` at `at` (it then polls with backoff), unless one is
    /// set; returns whether it set one.
    fn poll_soon(&mut self, id: u64, at: Instant) -> bool {
        let Some(m) = self.members.get_mut(&id) else {
            return false;
        };
        if m.polling {
            return false;
        }
        m.polling = true;
        m.poll_step = FIRST_POLL;
        self.polls.push(Reverse((at, id)));
        true
    }

    /// Sets member `id`'s next poll `step` after `now`; long steps land on a common grid.
    fn poll_after(&mut self, id: u64, now: Instant, step: Duration) {
        let mut at = now + step;
        if step >= ALIGN_FROM {
            let step_ns = step.as_nanos().max(1);
            let since = at.saturating_duration_since(self.base).as_nanos();
            let up = (step_ns - since % step_ns) % step_ns;
            at += Duration::from_nanos(u64::try_from(up).unwrap_or(0));
        }
        if let Some(m) = self.members.get_mut(&id) {
            m.polling = true;
        }
        self.polls.push(Reverse((at, id)));
    }

    /// Looks at every member the board listed since the last time: each stream with bytes or
    /// an end to deliver gets a heap entry.
    fn take_listed(&mut self, board: &Board) {
        let mut listed = std::mem::take(&mut self.listed);
        board.take_ready(&mut listed);
        for &id in &listed {
            self.scan(board, id);
        }
        listed.clear();
        self.listed = listed;
    }

    fn scan(&mut self, board: &Board, id: u64) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        m.popen.pipes.hub.unlist();
        for (k, t) in m.tracks.iter_mut().enumerate() {
            if t.in_heap || t.eof_sent {
                continue;
            }
            let r = t.core.read();
            let seq = match r.front_seq() {
                Some(seq) => seq,
                None if r.is_ended() || t.abandoned => board.next_seq(),
                None => continue,
            };
            drop(r);
            t.in_heap = true;
            self.heap.push((seq, id, k as u8));
        }
        self.exit_when_delivered(board, id);
    }

    /// Polls the members whose timer is due, and sweeps all running members when it is time.
    fn poll_due(&mut self, board: &Board, now: Instant) {
        self.since_poll = 0;
        while let Some(&Reverse((at, id))) = self.polls.peek() {
            if at > now {
                break;
            }
            self.polls.pop();
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            m.polling = false;
            self.poll(board, id, now);
        }
        if self.next_sweep.is_some_and(|s| s <= now) {
            let ids: Vec<u64> = self
                .members
                .iter()
                .filter(|(_, m)| m.status.is_none() && !m.polling)
                .map(|(&id, _)| id)
                .collect();
            for id in ids {
                self.poll(board, id, now);
            }
            self.next_sweep = if self.members.is_empty() {
                None
            } else {
                Some(now + self.sweep_interval())
            };
        }
    }

    /// One `try_wait` of member `id` (or the end of its exit grace), and what follows.
    fn poll(&mut self, board: &Board, id: u64, now: Instant) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if m.status.is_none() {
            match m.popen.try_wait() {
                Ok(Some(status)) => m.status = Some(Ok(status)),
                Ok(None) => {
                    if m.tracks.iter().all(Track::is_ended) {
                        // Its outputs ended (or it has none): poll again, backing off.
                        m.poll_step = (m.poll_step * 2).min(LAST_POLL);
                        let step = m.poll_step;
                        self.poll_after(id, now, step);
                    }
                    return;
                }
                // Not something waiting longer fixes (the child was reaped elsewhere).
                Err(e) => m.status = Some(Err(e)),
            }
        }
        if m.tracks.iter().all(Track::is_ended) {
            self.exit_when_delivered(board, id);
            return;
        }
        // Exited with outputs still open: the last bytes may be on their way or waiting for
        // the group, or a grandchild holds the pipes. A stream is let go once it stayed quiet
        // for a grace period with nothing left undelivered, or went on far past the exit.
        let mut open = false;
        for (k, t) in m.tracks.iter_mut().enumerate() {
            if t.is_ended() {
                continue;
            }
            let arrived = t.core.arrived.load(std::sync::atomic::Ordering::Acquire);
            if !m.exited_open {
                t.arrived_at_exit = arrived;
                t.arrived_seen = arrived;
                open = true;
                continue;
            }
            let quiet = arrived == t.arrived_seen
                && t.core.held.load(std::sync::atomic::Ordering::Acquire) == 0
                && !t.core.is_overflowing();
            if quiet || arrived - t.arrived_at_exit > AFTER_EXIT {
                t.abandoned = true;
                if !t.in_heap && !t.eof_sent {
                    t.in_heap = true;
                    self.heap.push((board.next_seq(), id, k as u8));
                }
            } else {
                t.arrived_seen = arrived;
                open = true;
            }
        }
        m.exited_open = true;
        if open {
            m.polling = true;
            self.polls.push(Reverse((now + EXIT_GRACE, id)));
        }
    }

    /// Queues the `Exit` of member `id` once its status is known and every stream's `Eof`
    /// was delivered; once its outputs ended with the status not known yet, starts polling
    /// for it (the exit is near).
    fn exit_when_delivered(&mut self, board: &Board, id: u64) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if m.status.is_none() {
            if m.tracks.iter().all(Track::is_ended) && self.poll_soon(id, Instant::now()) {
                // Another thread may be waiting with a wake-up computed before this timer.
                board.signal.notify();
            }
        } else if !m.exit_queued && m.tracks.iter().all(|t| t.eof_sent) {
            m.exit_queued = true;
            self.heap.push((board.next_seq(), id, EXIT));
        }
    }

    /// The `Exit` (or `WaitFailed`) event of member `id`; the group forgets the member.
    fn exit(&mut self, id: u64) -> Option<Event> {
        let m = self.members.remove(&id)?;
        let kind = match m.status? {
            Ok(status) => EventKind::Exit(status),
            Err(e) => EventKind::WaitFailed(e),
        };
        if self.members.is_empty() {
            self.next_sweep = None;
        }
        Some(Event {
            id: ChildId(id),
            kind,
        })
    }

    /// The event for stream `k` of member `id`, whose heap entry said `seq`; `None` if the
    /// entry was stale or the stream has nothing whole to deliver yet.
    fn deliver(&mut self, board: &Board, seq: u64, id: u64, k: usize) -> Option<Event> {
        let m = self.members.get_mut(&id)?;
        let (lines, capacity) = (m.lines, m.capacity);
        let t = m.tracks.get_mut(k)?;
        t.in_heap = false;
        if t.eof_sent {
            return None;
        }
        let stream = t.stream;
        // The channel is moved in only when the buffer runs dry (or holds no whole line):
        // what waits is then what the reader reads ahead, and a fast child waits on its pipe.
        let mut r = t.core.read_lazily();
        let mut ended = r.is_ended() || t.abandoned;
        let kind = match r.front_seq() {
            Some(front) if front != seq => {
                // A direct read took what the entry was for: file it under what is first now.
                t.in_heap = true;
                self.heap.push((front, id, k as u8));
                return None;
            }
            Some(_) if !lines => {
                let chunk = r.take_front().map(|c| c.data).unwrap_or_default();
                EventKind::Output(stream, chunk)
            }
            Some(_) => {
                let from = t.searched.saturating_sub(r.start());
                let from = usize::try_from(from).unwrap_or(usize::MAX).min(r.len());
                let mut found = r.find(b"\n", from);
                if found.is_none() {
                    let searched = r.len();
                    r.pull();
                    ended = r.is_ended() || t.abandoned;
                    found = r.find(b"\n", searched);
                }
                let cut = match found {
                    // A line longer than the bound (the bound was stretched by a direct
                    // `recv_exact`, or lifted by a `wait`) still goes out in bound-sized pieces.
                    Some(end) if end <= capacity => end,
                    Some(_) => capacity,
                    None if r.len() >= capacity => capacity,
                    None if ended => r.len(),
                    None => {
                        // An unfinished line: wait for the reader to list the member again.
                        t.searched = r.start() + r.len() as u64;
                        return None;
                    }
                };
                EventKind::Output(stream, r.take(cut))
            }
            None => {
                if let Some(e) = r.take_error() {
                    EventKind::ReadFailed(stream, Error::Io(e))
                } else if ended {
                    t.eof_sent = true;
                    drop(r);
                    self.exit_when_delivered(board, id);
                    return Some(Event {
                        id: ChildId(id),
                        kind: EventKind::Eof(stream),
                    });
                } else {
                    return None;
                }
            }
        };
        // More to come from this stream: it keeps its place by its new front. The reader
        // may be waiting for the channel to empty, with no news to list the member again.
        if r.len() == 0 {
            r.pull();
        }
        let next = match r.front_seq() {
            Some(front) => Some(front),
            None if ended || r.is_ended() => Some(board.next_seq()),
            None => None,
        };
        drop(r);
        if let Some(next) = next {
            t.in_heap = true;
            self.heap.push((next, id, k as u8));
        }
        Some(Event {
            id: ChildId(id),
            kind,
        })
    }
}

/// `(arrival stamp, member, stream index or EXIT)`.
type Entry = (u64, u64, u8);

/// A min-heap of entries that keeps its least entry aside: the lines of one chunk share its
/// stamp, and go out one after another without a trip through the heap each.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// If set, no entry in `heap` is less.
    first: Option<Entry>,
}

impl Queue {
    fn push(&mut self, e: Entry) {
        match self.first {
            Some(f) if e < f => {
                self.heap.push(Reverse(f));
                self.first = Some(e);
            }
            Some(_) => self.heap.push(Reverse(e)),
            None if self.heap.peek().is_none_or(|Reverse(top)| e <= *top) => self.first = Some(e),
            None => self.heap.push(Reverse(e)),
        }
    }

    fn pop(&mut self) -> Option<Entry> {
        self.first
            .take()
            .or_else(|| self.heap.pop().map(|Reverse(e)| e))
    }
}

/// How long a call may wait.
#[derive(Clone, Copy)]
enum Limit {
    Timeout(Duration),
    Deadline(Instant),
}

impl Limit {
    /// The deadline (`None`: for ever) and the timeout it stands for, seen from `now`.
    fn at(self, now: Instant) -> (Option<Instant>, Duration) {
        match self {
            Limit::Timeout(t) => (now.checked_add(t), t),
            Limit::Deadline(d) => (Some(d), d.saturating_duration_since(now)),
        }
    }
}

/// A copy of what `cmd` says that std lets one read back: program, arguments, environment
/// changes and directory.
fn copy_of(cmd: &Command) -> Command {
    let mut copy = Command::new(cmd.get_program());
    copy.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => copy.env(key, value),
            None => copy.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        copy.current_dir(dir);
    }
    copy
}

/// The blocking iterator returned by [`Group::events`]: every event of the group, ending
/// when the group is empty.
#[derive(Debug)]
pub struct GroupEvents<'a> {
    group: &'a Group,
}

impl Iterator for GroupEvents<'_> {
    type Item = Result<Event>;

    /// Blocks until the next event; `None` once the group is empty.
    fn next(&mut self) -> Option<Result<Event>> {
        let forever = Limit::Timeout(Duration::MAX);
        self.group.next_until(forever, "events").transpose()
    }
}
