//! Process-wide signal plumbing: an async-signal-safe handler that counts
//! each delivery and wakes the loops through their wake pipes, and
//! `sigaction` install/restore.
//!
//! The handler only bumps an atomic counter and `write(2)`s one byte to
//! each wake pipe (both async-signal-safe) and keeps `errno` intact; each
//! loop that handles signals watches one pipe's read end and, when woken,
//! compares the counters with what it has seen (see `crate::signal`). No
//! thread is needed, so a process that handles signals stays as
//! single-threaded as its loops make it.
//!
//! A pipe's write end is never closed once made: the handler may be
//! loading it on another thread at any moment, and a closed fd number can
//! be reused by an unrelated file. Read ends go back to a pool, never
//! closed either (a pipe with no reader would answer the handler's write
//! with `SIGPIPE`).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use super::cvt;

/// One more than the highest signal number any platform here has (Linux's
/// `SIGRTMAX` is 64 on most targets, 127 on MIPS).
const COUNTED_SIGNALS: usize = 128;

/// Deliveries of each signal since the process started.
static DELIVERED: [AtomicUsize; COUNTED_SIGNALS] = [const { AtomicUsize::new(0) }; COUNTED_SIGNALS];

/// How many loops may handle signals at once (a wake pipe each).
pub(crate) const WAKE_PIPES: usize = 256;

/// Write ends of the wake pipes; -1 for one not made yet.
static WAKE_FDS: [AtomicI32; WAKE_PIPES] = [const { AtomicI32::new(-1) }; WAKE_PIPES];

/// Whether a wake pipe is lent to a loop (one in the pool is not written).
static WAKE_LENT: [AtomicBool; WAKE_PIPES] = [const { AtomicBool::new(false) }; WAKE_PIPES];

/// Wake pipes made so far (slots `0..made`): the handler looks no further.
static WAKE_MADE: AtomicUsize = AtomicUsize::new(0);

/// A saved signal disposition, to put back when nobody listens any more.
#[derive(Clone, Copy)]
pub(crate) struct SavedAction(libc::sigaction);

impl std::fmt::Debug for SavedAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SavedAction")
    }
}

extern "C" fn on_signal(signum: libc::c_int) {
    let errno = super::errno_location();
    // SAFETY: `errno` is this thread's errno slot, valid for the thread's
    // life; saving and restoring it keeps the interrupted code's errno
    // intact.
    let saved_errno = unsafe { *errno };
    if let Some(count) = usize::try_from(signum).ok().and_then(|i| DELIVERED.get(i)) {
        // Counted before the wake-up, so a woken loop sees the count.
        count.fetch_add(1, Ordering::SeqCst);
    }
    let byte = signum as u8;
    let made = WAKE_MADE.load(Ordering::SeqCst).min(WAKE_PIPES);
    for (fd, lent) in WAKE_FDS.iter().zip(&WAKE_LENT).take(made) {
        let fd = fd.load(Ordering::SeqCst);
        if fd >= 0 && lent.load(Ordering::SeqCst) {
            // SAFETY: write(2) is async-signal-safe; `byte` lives on this
            // stack frame for the call, and `fd` is a wake pipe's write end,
            // never closed. A full pipe (EAGAIN) drops this byte, which is
            // fine: its reader has a wake-up pending and reads the counters.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved_errno };
}

/// How many times `signum` was delivered since the process started.
pub(crate) fn delivered(signum: libc::c_int) -> usize {
    usize::try_from(signum)
        .ok()
        .and_then(|i| DELIVERED.get(i))
        .map_or(0, |count| count.load(Ordering::SeqCst))
}

/// Makes wake pipe number `slot` (below [`WAKE_PIPES`], not made before)
/// and returns its read end, non-blocking.
pub(crate) fn open_wake_pipe(slot: usize) -> io::Result<OwnedFd> {
    let (read, write) = super::pipe()?;
    for fd in [read.as_raw_fd(), write.as_raw_fd()] {
        // SAFETY: `fd` is a valid fd we own; F_SETFL with O_NONBLOCK only
        // changes its status flags, so neither the handler nor a loop blocks.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) })?;
    }
    // Never closed: see the module docs.
    let write_fd = std::os::fd::IntoRawFd::into_raw_fd(write);
    WAKE_FDS[slot].store(write_fd, Ordering::SeqCst);
    WAKE_MADE.fetch_max(slot + 1, Ordering::SeqCst);
    Ok(read)
}

/// Marks wake pipe `slot` lent to a loop (the handler writes to it) or back
/// in the pool (it does not). A write that races the return is harmless:
/// the next borrower drains the pipe first.
pub(crate) fn set_wake_lent(slot: usize, lent: bool) {
    WAKE_LENT[slot].store(lent, Ordering::SeqCst);
}

/// Reads everything waiting in a wake pipe's (non-blocking) read end.
pub(crate) fn drain(read_fd: RawFd) {
    let mut bytes = [0u8; 64];
    loop {
        // SAFETY: reads into a live buffer of the length given.
        let n = unsafe { libc::read(read_fd, bytes.as_mut_ptr().cast(), bytes.len()) };
        if n > 0 {
            continue;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}

/// Routes `signum` to the counting handler and returns the old disposition.
pub(crate) fn install(signum: libc::c_int) -> io::Result<SavedAction> {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `sa_mask` is a valid sigset_t inside `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: as above, zeroed is a valid value to be overwritten.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `on_signal` is an
    // async-signal-safe `extern "C" fn(c_int)`.
    cvt(unsafe { libc::sigaction(signum, &action, &mut old) })?;
    Ok(SavedAction(old))
}

/// Puts back a disposition saved by [`install`].
pub(crate) fn restore(signum: libc::c_int, saved: &SavedAction) -> io::Result<()> {
    // SAFETY: `saved.0` is a disposition the kernel returned for this signal.
    cvt(unsafe { libc::sigaction(signum, &saved.0, std::ptr::null_mut()) })?;
    Ok(())
}

/// Sends `signum` to process `pid` (kill(2)). The caller makes sure `pid`
/// is still the process it means (a child not reaped yet).
pub(crate) fn send_signal_to_pid(pid: libc::pid_t, signum: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    cvt(unsafe { libc::kill(pid, signum) }).map(drop)
}

/// Sends `signum` to this process (used by tests and examples).
pub fn raise_in_process(signum: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    cvt(unsafe { libc::kill(libc::getpid(), signum) })?;
    Ok(())
}
