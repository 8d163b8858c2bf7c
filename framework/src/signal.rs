//! Unix signal handlers per loop, over one process-wide registry.
//!
//! Signal dispositions belong to the process, so one registry owns them:
//! the first loop to subscribe to a signal installs the self-pipe handler
//! (`sys::signal`) and saves the old disposition; the last one to leave puts
//! it back. One dispatcher thread reads the pipe and fans each signal out to
//! every subscribed loop through its mailbox, where the loop's own handler
//! runs as an ordinary callback (so it may do anything a callback may).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::mailbox::{Message, Shared};
use crate::sys::signal::{self as sys_signal, SavedAction};
use crate::{Error, ErrorKind, EventLoop, Result};

type SignalCallback = Box<dyn FnMut(&EventLoop)>;

struct SignalSlot {
    version: u64,
    /// `None` while the handler runs.
    callback: Option<SignalCallback>,
}

/// One loop's signal handlers.
#[derive(Default)]
pub(crate) struct SignalHandlers {
    handlers: HashMap<libc::c_int, SignalSlot>,
    next_version: u64,
}

struct Subscription {
    saved: SavedAction,
    loops: Vec<Arc<Shared>>,
}

#[derive(Default)]
struct Registry {
    signals: HashMap<libc::c_int, Subscription>,
    dispatcher_started: bool,
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

fn start_dispatcher(registry: &mut Registry) -> Result<()> {
    if registry.dispatcher_started {
        return Ok(());
    }
    let read_end: OwnedFd =
        sys_signal::open_pipe().map_err(|e| Error::io("creating the signal pipe", e))?;
    std::thread::Builder::new()
        .name("loopcore-signals".into())
        .spawn(move || dispatch_forever(read_end))
        .map_err(|e| Error::io("starting the signal dispatcher thread", e))?;
    registry.dispatcher_started = true;
    Ok(())
}

fn dispatch_forever(read_end: OwnedFd) {
    while let Ok(signum) = sys_signal::read_signal(read_end.as_raw_fd()) {
        let loops: Vec<Arc<Shared>> = match registry().signals.get(&signum) {
            Some(sub) => sub.loops.clone(),
            None => continue,
        };
        for shared in loops {
            let _ = shared.post(Message::Call(Box::new(move |lp: &EventLoop| {
                lp.dispatch_signal(signum)
            })));
        }
    }
}

fn subscribe(signum: libc::c_int, shared: &Arc<Shared>) -> Result<()> {
    let mut registry = registry();
    start_dispatcher(&mut registry)?;
    if let Some(sub) = registry.signals.get_mut(&signum) {
        if !sub.loops.iter().any(|s| s.id == shared.id) {
            sub.loops.push(Arc::clone(shared));
        }
        return Ok(());
    }
    let saved = sys_signal::install(signum)
        .map_err(|e| Error::io(format!("installing a handler for signal {signum}"), e))?;
    registry.signals.insert(
        signum,
        Subscription {
            saved,
            loops: vec![Arc::clone(shared)],
        },
    );
    Ok(())
}

fn unsubscribe(signum: libc::c_int, loop_id: u64) {
    let mut registry = registry();
    let Some(sub) = registry.signals.get_mut(&signum) else {
        return;
    };
    sub.loops.retain(|s| s.id != loop_id);
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
}

impl EventLoop {
    /// Calls `callback` on this loop each time the process receives `signum`
    /// (e.g. `libc::SIGTERM`). Adding a handler again replaces it.
    ///
    /// Every loop that subscribed to a signal gets it. Errors of kind
    /// [`InvalidSignal`](ErrorKind::InvalidSignal) for numbers out of range,
    /// `SIGKILL`/`SIGSTOP`, and synchronous faults (`SIGSEGV`, `SIGBUS`,
    /// `SIGILL`, `SIGFPE`, `SIGTRAP`).
    pub fn add_signal_handler<F>(&self, signum: libc::c_int, callback: F) -> Result<()>
    where
        F: FnMut(&EventLoop) + 'static,
    {
        validate(signum)?;
        if self.is_closed() {
            return Err(Error::closed());
        }
        subscribe(signum, &self.core.shared)?;
        let replaced = {
            let mut signals = self.core.signals.borrow_mut();
            signals.next_version += 1;
            let slot = SignalSlot {
                version: signals.next_version,
                callback: Some(Box::new(callback)),
            };
            signals.handlers.insert(signum, slot)
        };
        drop(replaced);
        Ok(())
    }

    /// Removes the handler for `signum`; `Ok(true)` if there was one. When no
    /// loop handles the signal any more, its previous disposition returns.
    pub fn remove_signal_handler(&self, signum: libc::c_int) -> Result<bool> {
        validate(signum)?;
        let removed = self.core.signals.borrow_mut().handlers.remove(&signum);
        let had = removed.is_some();
        if had {
            unsubscribe(signum, self.core.shared.id);
        }
        drop(removed);
        Ok(had)
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
