//! What a stream transport or a server can sit on: TCP and Unix domain
//! stream sockets, and the two ends of a pipe, behind one small enum so the
//! transport code is written once.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::unix::pipe;
use mio::{Interest, Registry, Token};

use crate::sys::socket_io;

/// A connected stream socket or one end of a pipe.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// The read end of a pipe (a read pipe transport).
    PipeReader(pipe::Receiver),
    /// The write end of a pipe (a write pipe transport).
    PipeWriter(pipe::Sender),
}

fn wrong_direction(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("a pipe transport cannot {what}"),
    )
}

impl Stream {
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            // Sockets by direct system call (see `sys::socket_io`).
            Stream::Tcp(s) => socket_io::recv(s.as_fd(), buf),
            Stream::Unix(s) => socket_io::recv(s.as_fd(), buf),
            Stream::PipeReader(p) => (&*p).read(buf),
            Stream::PipeWriter(_) => Err(wrong_direction("read from a write pipe")),
        }
    }

    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => socket_io::send(s.as_fd(), buf),
            Stream::Unix(s) => socket_io::send(s.as_fd(), buf),
            Stream::PipeWriter(p) => (&*p).write(buf),
            Stream::PipeReader(_) => Err(wrong_direction("write to a read pipe")),
        }
    }

    pub(crate) fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
            Stream::PipeWriter(p) => (&*p).write_vectored(bufs),
            Stream::PipeReader(_) => Err(wrong_direction("write to a read pipe")),
        }
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            // A pipe has no half-close: its transport closes instead.
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Ok(()),
        }
    }

    /// A pipe's write end: its transport never reads, and learns that the
    /// reader is gone from an error event.
    pub(crate) fn is_pipe_writer(&self) -> bool {
        matches!(self, Stream::PipeWriter(_))
    }

    /// A TCP stream (plain; TLS lives above this).
    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self, Stream::Tcp(_))
    }

    /// A pipe's read end: writing to its transport is an error.
    pub(crate) fn is_pipe_reader(&self) -> bool {
        matches!(self, Stream::PipeReader(_))
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            Stream::PipeReader(p) => p.as_fd(),
            Stream::PipeWriter(p) => p.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::PipeReader(p) => p.as_raw_fd(),
            Stream::PipeWriter(p) => p.as_raw_fd(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Unix(s) => s.register(registry, token, interests),
            Stream::PipeReader(p) => p.register(registry, token, interests),
            Stream::PipeWriter(p) => p.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Unix(s) => s.reregister(registry, token, interests),
            Stream::PipeReader(p) => p.reregister(registry, token, interests),
            Stream::PipeWriter(p) => p.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
            Stream::PipeReader(p) => p.deregister(registry),
            Stream::PipeWriter(p) => p.deregister(registry),
        }
    }
}

/// A listening stream socket.
#[derive(Debug)]
pub(crate) enum ListenSocket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl ListenSocket {
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            ListenSocket::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            ListenSocket::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

impl Source for ListenSocket {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(l) => l.register(registry, token, interests),
            ListenSocket::Unix(l) => l.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(l) => l.reregister(registry, token, interests),
            ListenSocket::Unix(l) => l.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(l) => l.deregister(registry),
            ListenSocket::Unix(l) => l.deregister(registry),
        }
    }
}
