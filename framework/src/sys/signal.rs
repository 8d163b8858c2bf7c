//! Process-wide signal plumbing: an async-signal-safe handler that writes the
//! signal number into a self-pipe, and `sigaction` install/restore.
//!
//! The handler does nothing but `write(2)` one byte (async-signal-safe) and
//! keeps `errno` intact; everything else happens on an ordinary thread that
//! reads the pipe (see `crate::signal`).

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use super::cvt;

/// Write end of the self-pipe, or -1 before it exists. Read by the handler.
static PIPE_WRITE_FD: AtomicI32 = AtomicI32::new(-1);

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
    let fd = PIPE_WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signum as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` lives on this stack
        // frame for the call. A full pipe (EAGAIN) drops this delivery, which
        // is fine: signals coalesce anyway and the reader is already woken.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *errno = saved_errno };
}

/// Creates the self-pipe once and returns its (blocking) read end.
pub(crate) fn open_pipe() -> io::Result<OwnedFd> {
    let (read, write) = super::pipe()?;
    let write_fd = std::os::fd::IntoRawFd::into_raw_fd(write);
    // SAFETY: `write_fd` is a valid fd we own; F_SETFL with O_NONBLOCK only
    // changes its status flags so the handler never blocks.
    cvt(unsafe { libc::fcntl(write_fd, libc::F_SETFL, libc::O_NONBLOCK) })?;
    // The write end lives for the rest of the process: the handler may run at
    // any time on any thread, so it must never be closed.
    PIPE_WRITE_FD.store(write_fd, Ordering::Release);
    Ok(read)
}

/// Blocks until a signal number arrives on the pipe.
pub(crate) fn read_signal(read_fd: RawFd) -> io::Result<libc::c_int> {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into a live u8.
        let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
        match n {
            1 => return Ok(libc::c_int::from(byte)),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

/// Routes `signum` to the self-pipe handler and returns the old disposition.
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

/// Sends `signum` to this process (used by tests and examples).
pub fn raise_in_process(signum: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    cvt(unsafe { libc::kill(libc::getpid(), signum) })?;
    Ok(())
}
