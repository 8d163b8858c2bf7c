//! Process file descriptors (Linux ≥ 5.3): a child's exit makes its pidfd
//! readable, so each loop watches its own children with epoll and nobody
//! needs `SIGCHLD` or `waitpid(-1)`.

use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::fd::{BorrowedFd, OwnedFd};

/// Other systems have no pidfds: children are polled instead.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn open(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfds are Linux-only",
    ))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_signal(_pidfd: BorrowedFd<'_>, _signal: libc::c_int) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "pidfds are Linux-only",
    ))
}

/// `pidfd_open(pid, 0)`; `Unsupported` on kernels without it.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::ENOSYS) {
            return Err(io::Error::new(io::ErrorKind::Unsupported, error));
        }
        return Err(error);
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) })
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`: signals exactly the
/// process the pidfd names, never a later process that reused its pid.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid fd for the borrow, a signal number, no siginfo, no
    // flags; the kernel validates all of them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
