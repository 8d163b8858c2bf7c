//! Pipe transports: asyncio's `connect_read_pipe` and `connect_write_pipe`.
//! A pipe end becomes a stream transport with the usual flow control; the
//! read end delivers `data_received` and `eof_received`, the write end
//! learns from an error event that its reader has gone
//! (`connection_lost(Some(BrokenPipe))`).

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use mio::unix::pipe;

use super::protocol::Protocol;
use super::stream::Stream;
use super::transport::Transport;
use crate::{Error, ErrorKind, EventLoop, Result};

impl EventLoop {
    /// Serves the read end of a pipe (or a FIFO, a terminal, a socket) with
    /// `protocol` (asyncio's `connect_read_pipe`). The transport owns the
    /// fd. Standard input works: fds 0-2 are reopened through
    /// `/proc/self/fd` first, so making them non-blocking does not change
    /// the file description the shell shares.
    ///
    /// Fails with [`ErrorKind::InvalidFd`] for a regular file, which epoll
    /// cannot watch (read it with `run_in_executor`).
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
    /// `write_eof`) after a flush. The transport owns the fd; fds 0-2 are
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
        self.attach_stream(stream, protocol, None)
    }
}

/// Checks that epoll can watch `fd`, gives fds 0-2 a file description of
/// their own, and makes it non-blocking.
fn prepare(fd: OwnedFd, write: bool) -> Result<OwnedFd> {
    let raw = fd.as_raw_fd();
    let file = std::fs::File::from(fd);
    let kind = file
        .metadata()
        .map_err(|e| Error::io(format!("inspecting fd {raw}"), e))?
        .file_type();
    if kind.is_file() || kind.is_dir() || kind.is_block_device() {
        return Err(Error::new(
            ErrorKind::InvalidFd,
            format!(
                "fd {raw} is a regular file or directory: epoll cannot watch it; \
                 read or write it with run_in_executor instead"
            ),
        ));
    }
    let file = if raw <= 2 {
        // O_NONBLOCK on the shared description would reach the shell and
        // every other process holding it.
        OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(format!("/proc/self/fd/{raw}"))
            .map_err(|e| Error::io(format!("reopening fd {raw} through /proc/self/fd"), e))?
    } else {
        file
    };
    let fd = OwnedFd::from(file);
    crate::sys::set_nonblocking(fd.as_fd())
        .map_err(|e| Error::io(format!("making fd {raw} non-blocking"), e))?;
    Ok(fd)
}
