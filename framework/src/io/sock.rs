//! asyncio's low-level socket calls (`sock_recv`, `sock_sendall`,
//! `sock_connect`, `sock_accept`, `sock_recvfrom`, `sock_sendto`,
//! `sock_sendfile`) as async methods on non-blocking std sockets (a
//! blocking one is refused with `InvalidInput`), plus `getaddrinfo`/`getnameinfo` on
//! the blocking executor.
//!
//! Each call tries the operation first and only waits for readiness when
//! the kernel says `WouldBlock`. A wait is an `add_reader`/`add_writer` on
//! the fd that removes itself; dropping a pending call removes it too, so a
//! cancelled call leaves no registration behind. Do not mix these calls with
//! your own `add_reader`/`add_writer` on the same fd and direction.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};

use crate::sys::Readiness;
use crate::{Error, EventLoop, Result};

/// Removes a readiness wait if its future is dropped first.
struct WaitGuard<'a> {
    lp: &'a EventLoop,
    fd: RawFd,
    readiness: Readiness,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        match self.readiness {
            Readiness::Readable => self.lp.remove_reader(self.fd),
            Readiness::Writable => self.lp.remove_writer(self.fd),
        };
    }
}

impl EventLoop {
    /// Waits until `fd` is readable or writable once.
    pub(crate) async fn wait_fd(&self, fd: RawFd, readiness: Readiness) -> Result<()> {
        let (ready, resolver) = self.create_future::<()>();
        let resolver = RefCell::new(Some(resolver));
        let callback = move |lp: &EventLoop| {
            match readiness {
                Readiness::Readable => lp.remove_reader(fd),
                Readiness::Writable => lp.remove_writer(fd),
            };
            if let Some(resolver) = resolver.borrow_mut().take() {
                let _ = resolver.resolve(());
            }
        };
        match readiness {
            Readiness::Readable => self.add_reader(fd, callback)?,
            Readiness::Writable => self.add_writer(fd, callback)?,
        }
        let _guard = WaitGuard {
            lp: self,
            fd,
            readiness,
        };
        ready.await
    }

    async fn retry<T>(
        &self,
        fd: RawFd,
        readiness: Readiness,
        what: &str,
        mut attempt: impl FnMut() -> io::Result<T>,
    ) -> Result<T> {
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait_fd(fd, readiness).await?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(what.to_owned(), e)),
            }
        }
    }

    /// Receives into `buf` from a non-blocking stream socket (asyncio's
    /// `sock_recv`/`sock_recv_into`); `Ok(0)` at end of stream.
    pub async fn sock_recv<S>(&self, sock: &S, buf: &mut [u8]) -> Result<usize>
    where
        S: AsRawFd,
        for<'a> &'a S: Read,
    {
        refuse_blocking(sock.as_raw_fd(), "sock_recv")?;
        self.retry(sock.as_raw_fd(), Readiness::Readable, "sock_recv", || {
            let mut reader = sock;
            reader.read(buf)
        })
        .await
    }

    /// Sends all of `data` on a non-blocking stream socket (asyncio's
    /// `sock_sendall`), waiting whenever the kernel's buffer is full.
    pub async fn sock_sendall<S>(&self, sock: &S, data: &[u8]) -> Result<()>
    where
        S: AsRawFd,
        for<'a> &'a S: Write,
    {
        refuse_blocking(sock.as_raw_fd(), "sock_sendall")?;
        let mut sent = 0;
        while sent < data.len() {
            sent += self
                .retry(
                    sock.as_raw_fd(),
                    Readiness::Writable,
                    "sock_sendall",
                    || {
                        let mut writer = sock;
                        writer.write(&data[sent..])
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Sends `count` bytes of `file` from `offset` (to its end with
    /// `None`) on a non-blocking stream socket, with `sendfile(2)`, waiting
    /// whenever the kernel's buffer is full; returns the bytes sent
    /// (asyncio's `sock_sendfile`). Where the kernel refuses the file it
    /// falls back to reading and [`sock_sendall`](Self::sock_sendall).
    ///
    /// # Errors
    ///
    /// A socket error, a range beyond the file's end, or the file ending
    /// early (it shrank while being sent).
    pub async fn sock_sendfile<S>(
        &self,
        sock: &S,
        file: &std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64>
    where
        S: AsFd + AsRawFd,
        for<'a> &'a S: Write,
    {
        refuse_blocking(sock.as_raw_fd(), "sock_sendfile")?;
        use std::os::unix::fs::FileExt;
        let length = file
            .metadata()
            .map_err(|e| Error::io("sock_sendfile: reading the file's length", e))?
            .len();
        let available = length.saturating_sub(offset);
        let count = count.unwrap_or(available);
        if offset > length || count > available {
            return Err(Error::new(
                crate::ErrorKind::InvalidInput,
                format!("sock_sendfile: {count} bytes from offset {offset} run past the file's end ({length} bytes)"),
            ));
        }
        let ended = || {
            Error::io(
                "sock_sendfile",
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ended before the range was sent",
                ),
            )
        };
        let mut sent = 0u64;
        while sent < count {
            let left = usize::try_from(count - sent).unwrap_or(usize::MAX);
            let attempt = self
                .retry(
                    sock.as_raw_fd(),
                    Readiness::Writable,
                    "sock_sendfile",
                    || match crate::sys::sendfile::sendfile(
                        sock.as_fd(),
                        file.as_fd(),
                        offset + sent,
                        left,
                    ) {
                        Err(e) if crate::sys::sendfile::unsupported(&e) => Ok(None),
                        other => other.map(Some),
                    },
                )
                .await?;
            match attempt {
                Some(0) => return Err(ended()),
                Some(n) => sent += n as u64,
                None => {
                    // Read and send instead, a chunk at a time.
                    let mut chunk = vec![0u8; left.min(64 * 1024)];
                    while sent < count {
                        let want = chunk
                            .len()
                            .min(usize::try_from(count - sent).unwrap_or(usize::MAX));
                        let read = file
                            .read_at(&mut chunk[..want], offset + sent)
                            .map_err(|e| Error::io("sock_sendfile: reading the file", e))?;
                        if read == 0 {
                            return Err(ended());
                        }
                        self.sock_sendall(sock, &chunk[..read]).await?;
                        sent += read as u64;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Connects a non-blocking socket (asyncio's `sock_connect`).
    pub async fn sock_connect(&self, sock: &socket2::Socket, addr: SocketAddr) -> Result<()> {
        let what = || format!("connecting to {addr}");
        refuse_blocking(sock.as_raw_fd(), "sock_connect")?;
        match sock.connect(&addr.into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(Error::io(what(), e)),
        }
        self.wait_fd(sock.as_raw_fd(), Readiness::Writable).await?;
        match sock.take_error() {
            Ok(None) => Ok(()),
            Ok(Some(e)) | Err(e) => Err(Error::io(what(), e)),
        }
    }

    /// Accepts a connection on a non-blocking listener (asyncio's
    /// `sock_accept`); the stream returned is non-blocking too.
    pub async fn sock_accept(&self, listener: &TcpListener) -> Result<(TcpStream, SocketAddr)> {
        refuse_blocking(listener.as_raw_fd(), "sock_accept")?;
        let (stream, addr) = self
            .retry(
                listener.as_raw_fd(),
                Readiness::Readable,
                "sock_accept",
                || listener.accept(),
            )
            .await?;
        stream
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the accepted stream non-blocking", e))?;
        Ok((stream, addr))
    }

    /// Receives one datagram (asyncio's `sock_recvfrom`).
    pub async fn sock_recvfrom(
        &self,
        sock: &UdpSocket,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr)> {
        refuse_blocking(sock.as_raw_fd(), "sock_recvfrom")?;
        self.retry(
            sock.as_raw_fd(),
            Readiness::Readable,
            "sock_recvfrom",
            || sock.recv_from(buf),
        )
        .await
    }

    /// Sends one datagram to `addr` (asyncio's `sock_sendto`).
    pub async fn sock_sendto(
        &self,
        sock: &UdpSocket,
        data: &[u8],
        addr: SocketAddr,
    ) -> Result<usize> {
        refuse_blocking(sock.as_raw_fd(), "sock_sendto")?;
        self.retry(sock.as_raw_fd(), Readiness::Writable, "sock_sendto", || {
            sock.send_to(data, addr)
        })
        .await
    }

    /// Resolves `host` and `port` on the blocking executor (asyncio's
    /// `getaddrinfo`).
    pub async fn getaddrinfo(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>> {
        let host = host.to_owned();
        self.run_in_executor(move || {
            (host.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.collect::<Vec<_>>())
        })
        .await?
        .map_err(|e| Error::io("resolving the host name", e))
    }

    /// The host name and service for `addr` (asyncio's `getnameinfo`), by
    /// reverse lookup on the blocking executor; numeric forms when a name is
    /// not known.
    pub async fn getnameinfo(&self, addr: SocketAddr) -> Result<(String, String)> {
        self.run_in_executor(move || crate::sys::getnameinfo(addr))
            .await?
            .map_err(|e| Error::io(format!("looking up the name of {addr}"), e))
    }
}

/// Fails on a blocking socket: its call would stall the loop, and every
/// connection on it, until the kernel answers (asyncio refuses one too).
/// One `fcntl` per call, against a call that makes at least one syscall.
fn refuse_blocking(fd: RawFd, what: &str) -> Result<()> {
    let nonblocking = crate::sys::is_nonblocking(fd)
        .map_err(|e| Error::io(format!("{what}: reading the socket's flags"), e))?;
    if nonblocking {
        Ok(())
    } else {
        Err(Error::new(
            crate::ErrorKind::InvalidInput,
            format!("{what}: the socket is blocking and would stall the loop; call set_nonblocking(true) on it first"),
        ))
    }
}
