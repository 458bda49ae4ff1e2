//! The writer thread: takes what is queued and writes it to the pipe, in one vectored write.

use std::io::{self, IoSlice, Write};
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, TryRecvError};

use super::{Pipe, Shared};

pub(super) fn write_loop(
    mut pipe: Pipe,
    rx: &Receiver<Vec<u8>>,
    write_size: usize,
    shared: &Shared,
) {
    let step = || {
        shared.state.lock().last_step = shared.hub.stamp();
        // Pairs with the increment in `waiting`: a caller counted after this load looks at
        // the progress just made before it parks.
        std::sync::atomic::fence(Ordering::SeqCst);
        if shared.waiters.load(Ordering::SeqCst) > 0 {
            shared.hub.notify();
        }
    };
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    loop {
        let closed = || shared.closed.load(Ordering::Acquire);
        let first = match rx.try_recv() {
            Ok(first) => first,
            // Every sender is gone and the queue is empty: closing the pipe is the child's EOF.
            Err(TryRecvError::Disconnected) => break,
            // Closed: `close` dropped the sender, so this ends at once with the last message.
            Err(TryRecvError::Empty) if closed() => match rx.recv() {
                Ok(first) => first,
                Err(_) => break,
            },
            Err(TryRecvError::Empty) => {
                shared
                    .wake
                    .wait_for_deadline(|| !rx.is_empty() || closed(), None);
                continue;
            }
        };
        // What is already queued goes out in one vectored write, without joining copies:
        // fewer syscalls and fewer wake-ups of the child than a write per send.
        let mut len = first.len();
        pieces.push(first);
        while len < write_size {
            match rx.try_recv() {
                Ok(more) => {
                    len += more.len();
                    pieces.push(more);
                }
                Err(_) => break,
            }
        }
        // Room in the queue: senders waiting for it go on.
        step();
        let result = write_all_vectored(&mut pipe, &pieces).and_then(|()| pipe.flush());
        pieces.clear();
        let mut st = shared.state.lock();
        match result {
            Ok(()) => st.written += len as u64,
            // The child closed its stdin: it stopped reading, which is not our failure.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => st.broken = true,
            Err(e) => st.error = Some(e),
        }
        let failed = st.broken || st.error.is_some();
        drop(st);
        step();
        if failed {
            break;
        }
    }
    shared.state.lock().finished = true;
    shared.hub.notify();
}

/// `write_all` for several buffers (std's `write_all_vectored` is not stable yet).
fn write_all_vectored(pipe: &mut Pipe, pieces: &[Vec<u8>]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match pipe.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
