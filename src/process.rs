//! The process handle: try_wait / kill / reap, shared across threads without blocking `kill`.
//!
//! std's `Child::wait` needs `&mut Child` and blocks, so holding it behind a lock would block
//! `kill` for as long as the child runs. Instead every call here takes the lock only for a
//! non-blocking `try_wait` or `kill`; blocking waits are built on top (in `Popen`) from the
//! readers' EOF signals and a backoff.

use std::process::{Child, ExitStatus};
use std::thread;

use parking_lot::Mutex;

use crate::Result;

/// Stack size for the threads procpump starts; they only move bytes between heap buffers.
pub(crate) const THREAD_STACK: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// `None` once the child was handed to the reaper on drop.
    child: Mutex<Option<Child>>,
    /// Cached once seen, so that repeated waits agree and `try_wait` never goes back to `None`.
    status: Mutex<Option<ExitStatus>>,
}

impl Process {
    pub(crate) fn new(child: Child) -> Self {
        Process {
            pid: child.id(),
            child: Mutex::new(Some(child)),
            status: Mutex::new(None),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Returns immediately with the exit status if the child has exited.
    pub(crate) fn try_wait(&self) -> Result<Option<ExitStatus>> {
        if let Some(status) = *self.status.lock() {
            return Ok(Some(status));
        }
        let mut child = self.child.lock();
        let Some(child) = child.as_mut() else {
            return Ok(None);
        };
        let found = child.try_wait()?;
        if let Some(status) = found {
            *self.status.lock() = Some(status);
        }
        Ok(found)
    }

    /// Returns immediately after asking the OS to kill the child; `Ok` if it already exited.
    pub(crate) fn kill(&self) -> Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let mut child = self.child.lock();
        let Some(child) = child.as_mut() else {
            return Ok(());
        };
        match child.kill() {
            Ok(()) => Ok(()),
            // The child exited between our try_wait and kill: that is success for the caller.
            Err(_) if matches!(child.try_wait(), Ok(Some(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Returns immediately; a child still running is reaped by a small detached thread once it
    /// exits (killed first if `kill` is set), so a dropped handle never leaves a zombie.
    pub(crate) fn release(&self, kill: bool) {
        if kill {
            let _ = self.kill();
        }
        if matches!(self.try_wait(), Ok(Some(_))) {
            return;
        }
        let Some(mut child) = self.child.lock().take() else {
            return;
        };
        // If no thread can be started, the child is left to the OS: it is reaped when this
        // process exits. Nothing better is possible without platform-specific calls.
        let _ = thread::Builder::new()
            .name(format!("procpump-reap-{}", self.pid))
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let _ = child.wait();
            });
    }
}
