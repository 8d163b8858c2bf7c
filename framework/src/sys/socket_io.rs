//! `recv(2)` and `send(2)` on a connected stream socket, as direct system
//! calls on Linux.
//!
//! glibc's `recv` and `send` are pthread cancellation points: in a process
//! with more than one thread (every loopcore runtime) each call switches
//! asynchronous cancellation on and off around the system call, about 30
//! instructions each way, per read and per write. loopcore never cancels a
//! thread, so the loop's socket I/O enters the kernel through `syscall(2)`,
//! which is not a cancellation point. Elsewhere the libc functions serve.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Reads what the socket holds, up to `buf.len()` bytes; `Ok(0)` at the
/// end of the stream. A non-blocking socket with nothing to read says
/// `WouldBlock`.
#[inline]
pub(crate) fn recv(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let fd = socket.as_raw_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `fd` is valid for the borrow; the kernel writes at most
    // `buf.len()` bytes into `buf`, which is ours for the call. The null
    // address arguments ask for no peer address.
    let got = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: as above.
    let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) } as libc::c_long;
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got as usize)
}

/// Writes what the socket takes of `buf`; a non-blocking socket with a full
/// send buffer says `WouldBlock`. A peer that is gone gives `EPIPE`, never
/// `SIGPIPE` (`MSG_NOSIGNAL`, as `std` does).
#[inline]
pub(crate) fn send(socket: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let fd = socket.as_raw_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `fd` is valid for the borrow; the kernel reads at most
    // `buf.len()` bytes from `buf`. The null address is a connected
    // socket's "no destination".
    let sent = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        )
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: as above. (macOS has no MSG_NOSIGNAL: its sockets are set
    // up with SO_NOSIGPIPE by `std`/`mio`.)
    let sent = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), 0) } as libc::c_long;
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn bytes_sent_are_the_bytes_received_and_a_closed_peer_reads_as_end() {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(send(a.as_fd(), b"hello").unwrap(), 5);
        let mut buf = [0u8; 16];
        assert_eq!(recv(b.as_fd(), &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        b.set_nonblocking(true).unwrap();
        let empty = recv(b.as_fd(), &mut buf).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        drop(a);
        assert_eq!(recv(b.as_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn a_send_to_a_vanished_peer_is_an_error_not_a_signal() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let gone = send(a.as_fd(), b"anyone?").unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::BrokenPipe);
    }
}
