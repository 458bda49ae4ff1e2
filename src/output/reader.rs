//! The reader thread of one output stream: room first, then read, then send.

use std::io::{self, Read};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use super::buffer::Chunk;
use super::core::Core;
use super::Msg;
use crate::Overflow;

/// The size of a reader's first read; later ones grow up to the chunk size.
const FIRST_READ: usize = 4096;

/// Starts the reader thread for `pipe`. It ends at EOF, on a read error, or once the `Popen`
/// is gone; then it drops `tx` (the stream's end) and wakes the callers.
pub(crate) fn start<R: Read + Send + 'static>(
    pipe: R,
    core: Arc<Core>,
    tx: Sender<Msg>,
    chunk: usize,
) -> io::Result<()> {
    crate::pool::run(move || {
        read_loop(pipe, &core, &tx, chunk);
        drop(tx);
        core.done.store(true, Ordering::Release);
        core.hub.notify();
    })
}

fn read_loop<R: Read>(mut pipe: R, core: &Core, tx: &Sender<Msg>, chunk: usize) {
    let mut buf = Vec::new();
    let mut size = FIRST_READ.min(chunk);
    // A byte read beyond the bound, to learn whether the child has more to write.
    let mut carry = None;
    loop {
        let room = match core.policy {
            // Never waits: the oldest bytes make way instead. It stops once the `Popen` is
            // gone (the channel never closes: the reader shares the receiving end's `Core`).
            Overflow::KeepTail if core.closed.load(Ordering::Acquire) => return,
            Overflow::KeepTail => usize::MAX,
            _ => match wait_for_room(&mut pipe, core, tx, size, &mut carry, &mut buf) {
                Some(room) => room,
                None => return,
            },
        };
        if let Some(byte) = carry.take() {
            // It goes out alone: reading more behind it could block while a caller waits
            // for exactly this byte.
            core.set_overflow(false);
            if !deliver(core, tx, vec![byte]) {
                return;
            }
            continue;
        }
        // Reads start small and double while they come back full, up to `chunk`: a stream
        // that stays quiet (often stderr) never holds a large buffer, and a flood reaches
        // full-size reads after a few. A read that fills half its buffer or more hands the
        // buffer over without a copy; a shorter one is copied out and the buffer kept.
        if buf.len() != size {
            buf = vec![0u8; size];
        }
        let want = size.min(room);
        match pipe.read(&mut buf[..want]) {
            Ok(0) => return,
            Ok(n) => {
                let data = if n >= size / 2 {
                    let mut full = std::mem::take(&mut buf);
                    full.truncate(n);
                    full
                } else {
                    buf[..n].to_vec()
                };
                if n == size {
                    // While nobody waits on the stream, reads stay within the read-ahead:
                    // an idle reader's buffer is no larger than what it may hold.
                    let most = if core.is_demanded() {
                        chunk
                    } else {
                        chunk.min(core.read_ahead.max(FIRST_READ))
                    };
                    size = (size * 2).min(most);
                }
                if !deliver(core, tx, data) {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                fail(core, tx, e);
                return;
            }
        }
    }
}

/// How many bytes the reader may read now, given its next read `size`: a whole read if it
/// fits the channel, and what the stream's bound allows (unless a drain lifted it).
///
/// While no call is waiting on or draining the stream, what waits in the channel stays
/// within the read-ahead, in reads no larger; while one is, reads are full-size and only the
/// bound limits them. Reads are kept whole so that their buffers are alike and reused.
fn room(core: &Core, tx: &Sender<Msg>, size: usize) -> (usize, usize) {
    let (limit, size) = if core.is_demanded() {
        (core.bound().max(size), size)
    } else {
        (core.read_ahead, size.min(core.read_ahead))
    };
    let in_channel = core.in_channel.load(Ordering::Acquire);
    let channel = if tx.is_full() || in_channel + size > limit {
        0
    } else {
        size
    };
    let bound = if core.is_bounded() {
        core.bound()
            .saturating_sub(core.held.load(Ordering::Acquire))
    } else {
        usize::MAX
    };
    (channel, bound)
}

/// What the reader can do next.
#[derive(PartialEq, Eq)]
enum Step {
    Read(usize),
    /// Read one byte beyond the bound.
    Probe,
    Wait,
    Stop,
}

fn next_step(core: &Core, tx: &Sender<Msg>, size: usize, holding_carry: bool) -> Step {
    if core.closed.load(Ordering::Acquire) {
        return Step::Stop;
    }
    match room(core, tx, size) {
        (channel, bound) if channel.min(bound) > 0 => Step::Read(channel.min(bound)),
        (channel, 0) if channel > 0 && !holding_carry => Step::Probe,
        _ => Step::Wait,
    }
}

/// Blocks until there is room to read into; `None` when the reader should stop.
///
/// Room first, then read: the reader never holds bytes while there is no room, so what waits
/// in memory is the bound, and a fast child is held back by its own full pipe. At the bound
/// it reads one byte more: if one comes, the child has more to write than the bound allows
/// and is about to block on this stream, which the callers are told (the stream overflows).
fn wait_for_room<R: Read>(
    pipe: &mut R,
    core: &Core,
    tx: &Sender<Msg>,
    size: usize,
    carry: &mut Option<u8>,
    buf: &mut Vec<u8>,
) -> Option<usize> {
    loop {
        match next_step(core, tx, size, carry.is_some()) {
            Step::Stop => return None,
            Step::Read(room) => return Some(room),
            Step::Probe => {
                let mut one = [0u8; 1];
                match pipe.read(&mut one) {
                    Ok(0) => return None,
                    Ok(_) => {
                        *carry = Some(one[0]);
                        core.set_overflow(true);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        fail(core, tx, e);
                        return None;
                    }
                }
            }
            Step::Wait => {
                // Nothing to read into for a while: a quiet stream should not hold a buffer.
                *buf = Vec::new();
                let holding = carry.is_some();
                let ready = || next_step(core, tx, size, holding) != Step::Wait;
                core.room.wait_for_deadline(ready, None);
            }
        }
    }
}

/// Hands a read error to the callers, after every byte before it, without ever blocking: a
/// full channel (a KeepTail stream nobody reads) gets it into the buffer instead.
fn fail(core: &Core, tx: &Sender<Msg>, e: io::Error) {
    if let Err(TrySendError::Full(Msg::Failed(e))) = tx.try_send(Msg::Failed(e)) {
        core.read().keep_error(e);
    }
}

/// Hands one read's bytes to the callers: through the channel, or straight into the buffer
/// for a [`Overflow::KeepTail`] stream whose channel or bound is full. `false` once the
/// `Popen` is gone.
fn deliver(core: &Core, tx: &Sender<Msg>, data: Vec<u8>) -> bool {
    let n = data.len();
    core.arrived.fetch_add(n as u64, Ordering::Relaxed);
    let chunk = Chunk {
        seq: core.hub.next_seq(),
        data,
    };
    if core.policy == Overflow::KeepTail {
        let (channel, bound) = room(core, tx, n);
        if n > channel.min(bound) {
            core.read().push_keeping_tail(chunk);
            core.hub.notify();
            return !core.closed.load(Ordering::Acquire);
        }
    }
    // Counted before it is visible, so a caller never subtracts what was not added.
    core.held.fetch_add(n, Ordering::AcqRel);
    core.in_channel.fetch_add(n, Ordering::AcqRel);
    // The room was checked and this is the only sender, so this does not block.
    if tx.send(Msg::Data(chunk)).is_err() {
        return false;
    }
    core.hub.notify();
    // Once the `Popen` is gone the reader returns, dropping the pipe: a child that keeps
    // writing sees a broken pipe instead of blocking forever.
    !core.closed.load(Ordering::Acquire)
}
