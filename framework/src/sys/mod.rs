//! The crate's `unsafe`, but for two named exceptions (`io::conn::lent_read`'s
//! lent slice, `hyper_rt`'s `Send` sleep): thin wrappers over the Linux
//! system calls that neither `std` nor `mio` expose. Each wrapper returns
//! `io::Result` and keeps its invariants inside.

#![allow(unsafe_code)]

pub(crate) mod activation;
pub(crate) mod limits;
pub(crate) mod pidfd;
pub(crate) mod reuseport;
pub(crate) mod sendfile;
pub(crate) mod signal;
pub(crate) mod socket_io;
pub(crate) mod spawn;
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

/// Whether `O_NONBLOCK` is set on `fd`.
pub(crate) fn is_nonblocking(fd: RawFd) -> io::Result<bool> {
    // SAFETY: F_GETFL only reads the description's status flags; an fd that
    // is not open gives EBADF, not undefined behaviour.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    Ok(flags & libc::O_NONBLOCK != 0)
}

/// Sets `O_NONBLOCK` on `fd`, keeping its other status flags.
pub(crate) fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` is valid for the borrow; F_GETFL/F_SETFL only read and
    // set the description's status flags.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) }).map(drop)
}

/// Makes `fd` (one of 0-2, given up by its owner) refer to `/dev/null`
/// instead of closing it, so its number stays taken.
pub(crate) fn point_at_dev_null(fd: RawFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: both fds are valid; dup2 atomically replaces `fd`'s
    // description, and `fd` was given up by its owner (`into_raw_fd`).
    cvt(unsafe { libc::dup2(null.as_raw_fd(), fd) }).map(drop)
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
        Readiness::Readable => libc::POLLIN | POLLRDHUP,
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

/// `POLLRDHUP` where the kernel has it: a peer's half-close counts as
/// readable.
#[cfg(any(target_os = "linux", target_os = "android"))]
const POLLRDHUP: libc::c_short = libc::POLLRDHUP;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const POLLRDHUP: libc::c_short = 0;

/// Number of signals the kernel knows (`SIGRTMAX + 1`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn signal_count() -> libc::c_int {
    libc::SIGRTMAX() + 1
}

/// Number of signals the kernel knows (`NSIG`; no real-time signals).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn signal_count() -> libc::c_int {
    32
}

/// This thread's `errno` slot.
pub(crate) fn errno_location() -> *mut libc::c_int {
    // SAFETY: both calls only return the calling thread's errno address.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    unsafe {
        libc::__errno_location()
    }
    // SAFETY: as above.
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    unsafe {
        libc::__error()
    }
}

/// A pipe, both ends close-on-exec: (read end, write end).
pub(crate) fn pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds the call writes.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: as above.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: the call succeeded: both fds are new and ours alone.
    let ends = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    for fd in fds {
        // SAFETY: F_SETFD on fds we own, setting only FD_CLOEXEC (no other
        // thread can exec between pipe and here in a way we care about:
        // this runtime does not fork from other threads).
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok(ends)
}

/// Reverse lookup of `addr` with getnameinfo(3): (host, service), falling
/// back to numeric forms where no name is known. Blocks: call it off the
/// loop.
pub(crate) fn getnameinfo(addr: std::net::SocketAddr) -> std::io::Result<(String, String)> {
    let sockaddr = socket2::SockAddr::from(addr);
    let mut host = [0 as libc::c_char; 1025];
    let mut service = [0 as libc::c_char; 32];
    // SAFETY: `sockaddr` is a valid socket address of the length passed;
    // `host` and `service` are writable buffers of the sizes passed, which
    // getnameinfo NUL-terminates on success.
    let ret = unsafe {
        libc::getnameinfo(
            sockaddr.as_ptr().cast(),
            sockaddr.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            service.as_mut_ptr(),
            service.len() as libc::socklen_t,
            0,
        )
    };
    if ret != 0 {
        // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string.
        let message = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(ret)) };
        return Err(std::io::Error::other(
            message.to_string_lossy().into_owned(),
        ));
    }
    // SAFETY: on success both buffers hold NUL-terminated strings.
    let (host, service) = unsafe {
        (
            std::ffi::CStr::from_ptr(host.as_ptr()),
            std::ffi::CStr::from_ptr(service.as_ptr()),
        )
    };
    Ok((
        host.to_string_lossy().into_owned(),
        service.to_string_lossy().into_owned(),
    ))
}

/// CPU time (user and system) the calling thread has used.
pub(crate) fn thread_cpu_time() -> io::Result<std::time::Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call; the
    // calling thread's CPU clock exists on every supported system.
    cvt(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) })?;
    Ok(std::time::Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    ))
}
