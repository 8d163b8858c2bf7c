//! The only `unsafe` in the crate: thin wrappers over the Linux system calls
//! that neither `std` nor `mio` expose. Each wrapper returns `io::Result` and
//! keeps its invariants inside.

pub(crate) mod signal;
pub(crate) mod timerfd;

use std::io;
use std::os::fd::RawFd;

/// Converts a `-1` return into the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Which readiness a level check asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    Readable,
    Writable,
}

/// Asks the kernel, without blocking, whether `fd` is ready now. This is how
/// level-triggered `add_reader`/`add_writer` run on edge-triggered epoll: after
/// a callback, a still-ready fd is queued again instead of waiting for an edge.
pub(crate) fn is_ready(fd: RawFd, readiness: Readiness) -> bool {
    let events = match readiness {
        Readiness::Readable => libc::POLLIN | libc::POLLRDHUP,
        Readiness::Writable => libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid, exclusively borrowed pollfd array of length 1
    // for the duration of the call; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    // POLLERR/POLLHUP/POLLNVAL count as ready: the callback's next read or
    // write reports the condition, as with level-triggered epoll.
    n > 0 && pfd.revents != 0
}

/// Number of signals the kernel knows (`SIGRTMAX + 1`).
pub(crate) fn signal_count() -> libc::c_int {
    libc::SIGRTMAX() + 1
}
