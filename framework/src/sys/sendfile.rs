//! `sendfile(2)`: file bytes to a socket (or pipe) inside the kernel,
//! without a copy through user space.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Other systems: `ENOSYS`, so callers read and write instead (macOS's
/// `sendfile` differs in shape and is not wired up).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn sendfile(
    _out: BorrowedFd<'_>,
    _file: BorrowedFd<'_>,
    _offset: u64,
    _count: usize,
) -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Sends up to `count` bytes of `file` from `offset` to `out`; returns how
/// many went. `out` is non-blocking: a full socket says `WouldBlock`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn sendfile(
    out: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: u64,
    count: usize,
) -> io::Result<usize> {
    let mut offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // The kernel sends at most 0x7ffff000 bytes per call anyway.
    let count = count.min(0x7fff_f000);
    // SAFETY: both fds are valid for the borrows; `offset` is a local the
    // kernel updates (the file's own position is left alone).
    let sent = unsafe { libc::sendfile(out.as_raw_fd(), file.as_raw_fd(), &mut offset, count) };
    if sent == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// True for the errors that mean "this pair cannot use sendfile(2)" (the
/// caller falls back to read and write), not "the connection failed".
pub(crate) fn unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const MSG_MORE: libc::c_int = libc::MSG_MORE;
/// Elsewhere the flag does not exist: the head leaves in its own packet.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const MSG_MORE: libc::c_int = 0;

/// `sendmsg(2)` of `slices` with `MSG_MORE`: TCP holds a partial packet
/// back for what the next call sends (a `sendfile` that follows).
pub(crate) fn send_more(out: BorrowedFd<'_>, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: a zeroed msghdr is a valid "no address, no control data"
    // header; the iovec pointer and count describe `slices`, which outlive
    // the call (IoSlice is ABI-compatible with iovec).
    let sent = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = slices.as_ptr() as *mut libc::iovec;
        message.msg_iovlen = slices.len() as _;
        libc::sendmsg(out.as_raw_fd(), &message, MSG_MORE | libc::MSG_NOSIGNAL)
    };
    if sent == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}
