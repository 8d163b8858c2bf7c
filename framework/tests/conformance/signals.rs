//! CPython 3.12 `Lib/test/test_asyncio/test_unix_events.py`, class
//! `SelectorEventLoopSignalTests`.
//!
//! CPython's tests replace the `signal` module with a mock; these deliver
//! real signals (SIGUSR1 and SIGUSR2 only) and read the real dispositions.
//! Dispositions are process-wide: every test here holds `SIGNALS`, so the
//! tests of this binary never race on them (the signal tests of
//! `events.rs` hold it too; no other module of the binary touches signals).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};

use loopcore::{ErrorKind, EventLoop};

static SIGNALS: Mutex<()> = Mutex::new(());

pub(crate) fn exclusive() -> MutexGuard<'static, ()> {
    SIGNALS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn disposition(signum: libc::c_int) -> libc::sighandler_t {
    // SAFETY: with a null new action, sigaction only writes the current
    // one into `old`, a valid, zeroed sigaction owned by this frame.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signum, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn test_check_signal() {
    // CPython 3.12 test_unix_events.SelectorEventLoopSignalTests.test_check_signal
    // (its TypeError for a non-integer cannot be written in Rust).
    let _guard = exclusive();
    let lp = EventLoop::new().unwrap();
    const NSIG: libc::c_int = 65;
    for bad in [NSIG + 1, 0, -1] {
        let error = lp.add_signal_handler(bad, |_| {}).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidSignal, "signal {bad}");
    }
    lp.close().unwrap();
}

#[test]
fn test_add_signal_handler() {
    // CPython 3.12 test_unix_events.SelectorEventLoopSignalTests.test_add_signal_handler
    // (SIGUSR1 for SIGHUP; the handler is checked by running it).
    let _guard = exclusive();
    let lp = EventLoop::new().unwrap();
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    lp.add_signal_handler(libc::SIGUSR1, move |lp| {
        h.set(h.get() + 1);
        lp.stop();
    })
    .unwrap();
    assert_ne!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    lp.call_soon(|_| loopcore::raise_in_process(libc::SIGUSR1).unwrap());
    // Bounded: a signal that never arrives stops the loop anyway.
    let watchdog = lp.call_later(std::time::Duration::from_secs(10), |lp| lp.stop());
    lp.run_forever().unwrap();
    watchdog.cancel();
    assert_eq!(hits.get(), 1);
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    lp.close().unwrap();
}

#[test]
fn test_remove_signal_handler() {
    // CPython 3.12 test_unix_events.SelectorEventLoopSignalTests.test_remove_signal_handler
    // (SIGUSR1 for SIGHUP).
    let _guard = exclusive();
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(libc::SIGUSR1, |_| {}).unwrap();
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    // Removing again: nothing to remove.
    assert!(!lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    lp.close().unwrap();
}

#[test]
fn test_close() {
    // CPython 3.12 test_unix_events.SelectorEventLoopSignalTests.test_close
    // (SIGUSR1 and SIGUSR2 for SIGHUP and SIGCHLD).
    let _guard = exclusive();
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(libc::SIGUSR1, |_| {}).unwrap();
    lp.add_signal_handler(libc::SIGUSR2, |_| {}).unwrap();
    assert_ne!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    assert_ne!(disposition(libc::SIGUSR2), libc::SIG_DFL);
    lp.close().unwrap();
    assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    assert_eq!(disposition(libc::SIGUSR2), libc::SIG_DFL);
    // The handlers are gone with the loop.
    assert!(!lp.remove_signal_handler(libc::SIGUSR1).unwrap_or(false));
    assert!(!lp.remove_signal_handler(libc::SIGUSR2).unwrap_or(false));
}
