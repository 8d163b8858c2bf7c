//! Pipe transports: asyncio's `connect_read_pipe` and `connect_write_pipe`.
//! A pipe end becomes a stream transport with the usual flow control; the
//! read end delivers `data_received` and `eof_received`, the write end
//! learns from an error event that its reader has gone
//! (`connection_lost(Some(BrokenPipe))`).

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use mio::unix::pipe;

use super::protocol::Protocol;
use super::stream::Stream;
use super::transport::Transport;
use crate::{Error, ErrorKind, EventLoop, Result};

impl EventLoop {
    /// Serves the read end of a pipe (or a FIFO, a terminal, a socket) with
    /// `protocol` (asyncio's `connect_read_pipe`). The transport owns the
    /// fd. Standard input works, dup'ed or not: pipes and terminals are
    /// reopened through `/proc/self/fd` first, so making them non-blocking
    /// does not change the file description the shell shares (a socket or
    /// a pty master is made non-blocking in place).
    ///
    /// Fails with [`ErrorKind::InvalidFd`] for a regular file, `/dev/null`
    /// and anything else epoll cannot watch (use `run_in_executor`).
    ///
    /// ```
    /// use loopcore::{EventLoop, Protocol};
    /// struct Quiet;
    /// impl Protocol for Quiet {}
    /// let lp = EventLoop::new()?;
    /// let (reader, writer) = std::io::pipe().unwrap();
    /// let transport = lp.connect_read_pipe(reader, Quiet)?;
    /// assert!(!transport.can_write_eof());
    /// # drop(writer);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn connect_read_pipe<P: Protocol>(
        &self,
        pipe: impl Into<OwnedFd>,
        protocol: P,
    ) -> Result<Transport> {
        let fd = prepare(pipe.into(), false)?;
        self.attach_pipe(
            Stream::PipeReader(pipe::Receiver::from(fd)),
            Box::new(protocol),
        )
    }

    /// Serves the write end of a pipe with `protocol` (asyncio's
    /// `connect_write_pipe`): `write` with flow control, `close` (or
    /// `write_eof`) after a flush. The transport owns the fd, which is
    /// reopened as for [`connect_read_pipe`](Self::connect_read_pipe).
    pub fn connect_write_pipe<P: Protocol>(
        &self,
        pipe: impl Into<OwnedFd>,
        protocol: P,
    ) -> Result<Transport> {
        let fd = prepare(pipe.into(), true)?;
        self.attach_pipe(
            Stream::PipeWriter(pipe::Sender::from(fd)),
            Box::new(protocol),
        )
    }

    pub(crate) fn attach_pipe(
        &self,
        stream: Stream,
        protocol: Box<dyn Protocol>,
    ) -> Result<Transport> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        self.attach_stream(stream, protocol)
    }
}

/// Checks that epoll can watch `fd`, gives it a file description of its
/// own, and makes that non-blocking.
///
/// `O_NONBLOCK` belongs to the file description, which a dup of stdin (or
/// fd 0 itself) shares with the shell and every other process holding it:
/// setting it there would make their reads fail with `EAGAIN`. So pipes,
/// FIFOs and terminals are reopened through `/proc/self/fd`, which makes a
/// new description of the same pipe or tty. (A socket cannot be reopened
/// that way, and a pty master would come back as a new pty: both are made
/// non-blocking in place.) An fd 0-2 handed over is
/// then pointed at `/dev/null` rather than closed, so the next `open` cannot
/// take its number and receive `println!` output.
fn prepare(fd: OwnedFd, write: bool) -> Result<OwnedFd> {
    let raw = fd.as_raw_fd();
    let file = std::fs::File::from(fd);
    let kind = file
        .metadata()
        .map_err(|e| Error::io(format!("inspecting fd {raw}"), e))?
        .file_type();
    if kind.is_file() || kind.is_dir() || kind.is_block_device() {
        return Err(not_pollable(raw));
    }
    let fd = if kind.is_socket() || (kind.is_char_device() && is_cloning_device(&file)) {
        OwnedFd::from(file)
    } else {
        let reopened = OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(format!("/proc/self/fd/{raw}"))
            .map_err(|e| Error::io(format!("reopening fd {raw} through /proc/self/fd"), e))?;
        if raw <= 2 {
            crate::sys::point_at_dev_null(OwnedFd::from(file).into_raw_fd())
                .map_err(|e| Error::io(format!("pointing fd {raw} at /dev/null"), e))?;
        }
        OwnedFd::from(reopened)
    };
    crate::sys::set_nonblocking(fd.as_fd())
        .map_err(|e| Error::io(format!("making fd {raw} non-blocking"), e))?;
    Ok(fd)
}

/// Whether opening the device `file` again makes a new instance of it rather
/// than a second description of the same one: the pty multiplexer
/// (`/dev/ptmx`, `/dev/pts/ptmx`), whose every open is a new pty. A pty
/// master handed over is made non-blocking in place, as a socket is;
/// reopening it would read a fresh pty nobody writes to. (No shell shares a
/// master's description, so the reason to reopen does not apply.)
#[cfg(target_os = "linux")]
fn is_cloning_device(file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    const PTMX: (u32, u32) = (5, 2);
    file.metadata().is_ok_and(|meta| {
        let rdev = meta.rdev();
        (libc::major(rdev), libc::minor(rdev)) == PTMX
    })
}

/// Elsewhere there is no `/proc/self/fd` to reopen through (see
/// [`prepare`]).
#[cfg(not(target_os = "linux"))]
fn is_cloning_device(_file: &std::fs::File) -> bool {
    false
}

fn not_pollable(raw: RawFd) -> Error {
    Error::new(
        ErrorKind::InvalidFd,
        format!(
            "fd {raw} cannot be watched by epoll (a regular file, a directory, /dev/null and \
             the like): read or write it with run_in_executor instead"
        ),
    )
}
