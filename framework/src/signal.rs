//! Unix signal handlers per loop, over one process-wide registry.
//!
//! Signal dispositions belong to the process, so one registry owns them:
//! the first loop to subscribe to a signal installs the counting handler
//! (`sys::signal`) and saves the old disposition; the last one to leave puts
//! it back. Each loop with handlers borrows a wake pipe from the registry
//! and watches its read end (`add_reader`); the handler counts every
//! delivery and writes a byte to every wake pipe, and a woken loop runs its
//! handler once per delivery it has not seen, as an ordinary callback (so
//! it may do anything a callback may). There is no dispatcher thread: a
//! thread would make every process that handles Ctrl-C multi-threaded, and
//! each system call of a multi-threaded process costs more (glibc's
//! cancellation points, the kernel's file reference counts): 2% of a 1 KiB
//! echo round trip.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::sys::signal::{self as sys_signal, SavedAction};
use crate::{Error, ErrorKind, EventLoop, Result};

type SignalCallback = Box<dyn FnMut(&EventLoop)>;

struct SignalSlot {
    version: u64,
    /// `None` while the handler runs.
    callback: Option<SignalCallback>,
    /// The signal's delivery count (`sys::signal::delivered`) this handler
    /// has answered up to.
    seen: usize,
}

/// One loop's signal handlers.
#[derive(Default)]
pub(crate) struct SignalHandlers {
    handlers: HashMap<libc::c_int, SignalSlot>,
    next_version: u64,
    /// The wake pipe this loop watches while it has handlers.
    wake: Option<WakePipe>,
}

/// A wake pipe's read end, lent by the registry to one loop; it goes back
/// to the pool when dropped (never closed: see `sys::signal`).
struct WakePipe {
    slot: usize,
    read: Option<OwnedFd>,
}

impl Drop for WakePipe {
    fn drop(&mut self) {
        if let Some(read) = self.read.take() {
            sys_signal::set_wake_lent(self.slot, false);
            registry().free_pipes.push((self.slot, read));
        }
    }
}

struct Subscription {
    saved: SavedAction,
    /// Ids of the loops with a handler for the signal.
    loops: Vec<u64>,
}

#[derive(Default)]
struct Registry {
    signals: HashMap<libc::c_int, Subscription>,
    /// Wake pipes not lent to a loop: (slot, read end).
    free_pipes: Vec<(usize, OwnedFd)>,
    /// Wake pipes made so far (slots `0..made`).
    pipes_made: usize,
}

/// Lends a wake pipe, drained of what it collected while unused.
fn borrow_wake_pipe() -> Result<WakePipe> {
    let mut registry = registry();
    let (slot, read) = match registry.free_pipes.pop() {
        Some(free) => free,
        None => {
            let slot = registry.pipes_made;
            if slot == sys_signal::WAKE_PIPES {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "at most {} event loops can handle signals at once; \
                         handle them on one loop and post to the others",
                        sys_signal::WAKE_PIPES
                    ),
                ));
            }
            let read = sys_signal::open_wake_pipe(slot)
                .map_err(|e| Error::io("creating a signal wake pipe", e))?;
            registry.pipes_made += 1;
            (slot, read)
        }
    };
    sys_signal::drain(read.as_raw_fd());
    sys_signal::set_wake_lent(slot, true);
    Ok(WakePipe {
        slot,
        read: Some(read),
    })
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Checks that `signum` is a signal a loop can handle.
fn validate(signum: libc::c_int) -> Result<()> {
    let invalid = |why: &str| {
        Err(Error::new(
            ErrorKind::InvalidSignal,
            format!("signal {signum} {why}"),
        ))
    };
    if signum < 1 || signum >= crate::sys::signal_count() {
        return invalid("is not a valid signal number");
    }
    match signum {
        libc::SIGKILL | libc::SIGSTOP => {
            invalid("cannot be caught (SIGKILL and SIGSTOP never can)")
        }
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP => {
            invalid("is a synchronous fault: it cannot be deferred to an event loop callback")
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        _ if signum > libc::SIGSYS && signum < libc::SIGRTMIN() => {
            invalid("is reserved by the C library's threading implementation")
        }
        _ => Ok(()),
    }
}

fn subscribe(signum: libc::c_int, loop_id: u64) -> Result<()> {
    let mut registry = registry();
    if let Some(sub) = registry.signals.get_mut(&signum) {
        if !sub.loops.contains(&loop_id) {
            sub.loops.push(loop_id);
        }
        return Ok(());
    }
    let saved = sys_signal::install(signum)
        .map_err(|e| Error::io(format!("installing a handler for signal {signum}"), e))?;
    registry.signals.insert(
        signum,
        Subscription {
            saved,
            loops: vec![loop_id],
        },
    );
    Ok(())
}

fn unsubscribe(signum: libc::c_int, loop_id: u64) {
    let mut registry = registry();
    let Some(sub) = registry.signals.get_mut(&signum) else {
        return;
    };
    sub.loops.retain(|&id| id != loop_id);
    if sub.loops.is_empty() {
        let sub = registry.signals.remove(&signum).expect("present above");
        if let Err(e) = sys_signal::restore(signum, &sub.saved) {
            tracing::warn!(signum, error = %e, "loopcore: could not restore a signal disposition");
        }
    }
}

/// Removes every handler of a loop that is closing.
pub(crate) fn close_loop(lp: &EventLoop) {
    let handlers = std::mem::take(&mut lp.core.signals.borrow_mut().handlers);
    for signum in handlers.keys() {
        unsubscribe(*signum, lp.core.shared.id);
    }
    drop(handlers);
    lp.stop_watching_signals();
}

impl EventLoop {
    /// Calls `callback` on this loop each time the process receives `signum`
    /// (e.g. `libc::SIGTERM`). Adding a handler again replaces it.
    ///
    /// Every loop that subscribed to a signal gets it, and runs `callback`
    /// once per delivery (the kernel may merge deliveries of a standard
    /// signal that arrive close together; real-time signals queue). No
    /// thread is started for it.
    ///
    /// Errors of kind [`InvalidSignal`](ErrorKind::InvalidSignal) for
    /// numbers out of range, `SIGKILL`/`SIGSTOP`, and synchronous faults
    /// (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`); of kind
    /// [`Unsupported`](ErrorKind::Unsupported) when 256 other loops already
    /// have signal handlers.
    pub fn add_signal_handler<F>(&self, signum: libc::c_int, callback: F) -> Result<()>
    where
        F: FnMut(&EventLoop) + 'static,
    {
        validate(signum)?;
        if self.is_closed() {
            return Err(Error::closed());
        }
        self.watch_signals()?;
        if let Err(e) = subscribe(signum, self.core.shared.id) {
            if self.core.signals.borrow().handlers.is_empty() {
                self.stop_watching_signals();
            }
            return Err(e);
        }
        let replaced = {
            let mut signals = self.core.signals.borrow_mut();
            signals.next_version += 1;
            // A replaced handler's unanswered deliveries go to the new one.
            let seen = signals
                .handlers
                .get(&signum)
                .map_or_else(|| sys_signal::delivered(signum), |old| old.seen);
            let slot = SignalSlot {
                version: signals.next_version,
                callback: Some(Box::new(callback)),
                seen,
            };
            signals.handlers.insert(signum, slot)
        };
        drop(replaced);
        Ok(())
    }

    /// Removes the handler for `signum`; `Ok(true)` if there was one,
    /// `Ok(false)` if not, as asyncio: a signal that cannot have a handler
    /// (`SIGKILL`, a synchronous fault) has none, so it is `Ok(false)` too.
    /// Only a number that is no signal at all is an error
    /// (`ErrorKind::InvalidSignal`, asyncio's `ValueError`). When no loop
    /// handles the signal any more, its previous disposition returns.
    pub fn remove_signal_handler(&self, signum: libc::c_int) -> Result<bool> {
        if signum < 1 || signum >= crate::sys::signal_count() {
            return Err(Error::new(
                ErrorKind::InvalidSignal,
                format!("signal {signum} is not a valid signal number"),
            ));
        }
        let removed = self.core.signals.borrow_mut().handlers.remove(&signum);
        let had = removed.is_some();
        if had {
            unsubscribe(signum, self.core.shared.id);
        }
        drop(removed);
        if self.core.signals.borrow().handlers.is_empty() {
            self.stop_watching_signals();
        }
        Ok(had)
    }

    /// Borrows a wake pipe and watches it, unless this loop already does.
    fn watch_signals(&self) -> Result<()> {
        if self.core.signals.borrow().wake.is_some() {
            return Ok(());
        }
        let wake = borrow_wake_pipe()?;
        let fd = wake.read.as_ref().expect("lent with its fd").as_raw_fd();
        self.add_reader(fd, |lp: &EventLoop| lp.signals_arrived())?;
        self.core.signals.borrow_mut().wake = Some(wake);
        Ok(())
    }

    /// Stops watching the wake pipe and gives it back.
    fn stop_watching_signals(&self) {
        let wake = self.core.signals.borrow_mut().wake.take();
        if let Some(fd) = wake.as_ref().and_then(|w| w.read.as_ref()) {
            self.remove_reader(fd.as_raw_fd());
        }
        drop(wake);
    }

    /// The wake pipe is readable: runs each handler once per delivery of
    /// its signal it has not answered yet.
    fn signals_arrived(&self) {
        let due: Vec<(libc::c_int, usize)> = {
            let mut signals = self.core.signals.borrow_mut();
            if let Some(fd) = signals.wake.as_ref().and_then(|w| w.read.as_ref()) {
                // Drained before the counters are read: a signal counted
                // after this leaves a byte, so a wake-up, behind.
                sys_signal::drain(fd.as_raw_fd());
            }
            signals
                .handlers
                .iter_mut()
                .filter_map(|(&signum, slot)| {
                    let delivered = sys_signal::delivered(signum);
                    let new = delivered.wrapping_sub(slot.seen);
                    slot.seen = delivered;
                    (new > 0).then_some((signum, new))
                })
                .collect()
        };
        for (signum, times) in due {
            for _ in 0..times {
                self.dispatch_signal(signum);
            }
        }
    }

    fn dispatch_signal(&self, signum: libc::c_int) {
        let taken = {
            let mut signals = self.core.signals.borrow_mut();
            signals
                .handlers
                .get_mut(&signum)
                .and_then(|slot| Some((slot.version, slot.callback.take()?)))
        };
        let Some((version, mut callback)) = taken else {
            return;
        };
        self.guarded("signal handler", || callback(self));
        let mut signals = self.core.signals.borrow_mut();
        let leftover = match signals.handlers.get_mut(&signum) {
            Some(slot) if slot.version == version && slot.callback.is_none() => {
                slot.callback = Some(callback);
                None
            }
            _ => Some(callback),
        };
        drop(signals);
        drop(leftover);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncatchable_and_invalid_signals_are_refused() {
        for bad in [
            0,
            -1,
            65,
            1000,
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            32,
        ] {
            let err = validate(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidSignal, "signal {bad}");
        }
        for good in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGUSR1,
            libc::SIGHUP,
            libc::SIGRTMIN(),
        ] {
            validate(good).unwrap();
        }
    }
}
