//! [`Transport`]: the handle a protocol writes through, and every call a
//! user makes on a connection. It holds no socket: each method looks the
//! connection up in its loop's table (`io::conn`), which owns the socket,
//! the buffers and the invariants listed there.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

use super::conn::Conn;
use super::stream::Stream;
use crate::event_loop::Core;
use crate::proto::write_buffer::FileRange;
use crate::source_table::SourceKey;
use crate::{Error, ErrorKind, EventLoop, Result};

/// A handle to one stream connection, for the protocol and any callback on
/// the connection's loop. Cheap to clone; stale once the connection is lost
/// (its methods then fail with [`ErrorKind::Closed`] or do nothing).
#[derive(Clone)]
pub struct Transport {
    core: Weak<Core>,
    key: SourceKey,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("key", &self.key).finish()
    }
}

fn not_ip() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "a Unix socket transport has no IP address: use unix_peername/unix_sockname",
    )
}

fn not_unix() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "a TCP transport has no Unix address: use peername/sockname",
    )
}

fn not_socket() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "a pipe transport has no socket address",
    )
}

/// `write_owned` copies buffers shorter than this.
const SMALL_OWNED: usize = 4096;

fn closed_transport() -> Error {
    Error::new(ErrorKind::Closed, "the transport is closed")
}

impl Transport {
    fn with_conn<R>(&self, f: impl FnOnce(&Rc<Core>, &mut Conn) -> R) -> Result<R> {
        let core = self.core.upgrade().ok_or_else(closed_transport)?;
        let Ok(mut conns) = core.io.conns.try_borrow_mut() else {
            // Only a transport call made while the loop itself holds the
            // table: from a `write_with` closure or a protocol's `Drop`.
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a Transport method was called while its loop's connection table is in use \
                 (from inside a write_with closure or a Drop of a protocol); call it afterwards",
            ));
        };
        let conn = conns.get_mut(self.key).ok_or_else(closed_transport)?;
        if conn.is_lost() {
            return Err(closed_transport());
        }
        let result = f(&core, conn);
        drop(conns);
        Ok(result)
    }

    /// Queues `data` to be sent. Writes made while one callback runs go out
    /// together, in one system call, when it returns.
    ///
    /// Bytes of the read `data_received` was given (an echo, a proxy) are
    /// not copied when nothing else is pending: they are sent from the
    /// loop's read buffer when the callback returns, and only what the
    /// kernel does not take is copied.
    ///
    /// Fails after [`write_eof`](Self::write_eof) or [`close`](Self::close),
    /// and on a lost connection.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        let key = self.key;
        self.with_conn(|core, conn| conn.queue(core, key, data))?
    }

    /// Queues bytes that `fill` appends straight into the transport's
    /// buffer, saving the copy that building them elsewhere and calling
    /// [`write`](Self::write) would cost (an HTTP server can serialize its
    /// responses in place). `fill` must only append to the vector it is
    /// given: the bytes already in it belong to the transport (pending, or
    /// sent and not yet discarded). While `fill` runs the loop's connection
    /// table is in use: other transport methods fail with
    /// [`ErrorKind::InvalidInput`] (or, like `close`, do nothing), so call
    /// them after `write_with` returns.
    ///
    /// Fails like `write`; `fill` then does not run.
    ///
    /// ```no_run
    /// # fn answer(transport: &loopcore::Transport) -> loopcore::Result<()> {
    /// transport.write_with(|out| out.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n"))
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `fill` shortens the vector (that would drop pending bytes).
    pub fn write_with<R>(&self, fill: impl FnOnce(&mut Vec<u8>) -> R) -> Result<R> {
        let key = self.key;
        self.with_conn(|core, conn| conn.queue_with(core, key, fill))?
    }

    /// Queues `data` without copying it: the transport keeps the buffer
    /// (a `Vec<u8>`, `bytes::Bytes`, `Arc<[u8]>`, `&'static [u8]`, …) and
    /// sends from it, in order with every other write, dropping it once
    /// the kernel has taken all of it. Worth it for large buffers: one
    /// under 4 KiB is copied like [`write`](Self::write) (cheaper than
    /// keeping it), and over TLS encryption copies anyway.
    ///
    /// Fails like `write`.
    ///
    /// ```no_run
    /// # fn send(transport: &loopcore::Transport, body: Vec<u8>) -> loopcore::Result<()> {
    /// transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")?;
    /// transport.write_owned(body) // 1 MiB, sent from where it is
    /// # }
    /// ```
    pub fn write_owned(&self, data: impl AsRef<[u8]> + 'static) -> Result<()> {
        let bytes = data.as_ref();
        if bytes.len() < SMALL_OWNED {
            return self.write(bytes);
        }
        let key = self.key;
        self.with_conn(move |core, conn| conn.queue_owned(core, key, data))?
    }

    /// Queues `count` bytes of `file` from `offset` (to its end with
    /// `None`) and returns how many that is: asyncio's `loop.sendfile`. On
    /// TCP, Unix and pipe transports the loop sends them with
    /// `sendfile(2)`, inside the kernel, as the socket takes them (falling
    /// back to reading and writing for a file the kernel refuses, as
    /// asyncio does); over TLS the file is read and encrypted a chunk at a
    /// time as the ciphertext drains. Either way the range counts in the
    /// write buffer's size (flow control pauses the protocol while most of
    /// it is pending), writes made after it go out after it, and the file
    /// is closed once sent.
    ///
    /// Each range keeps its file open until it is sent: a protocol that
    /// answers pipelined requests should stop queueing files while
    /// [`get_write_buffer_size`](Self::get_write_buffer_size) is high, or a
    /// client that asks without reading makes it open a file per request
    /// (the `static_files` example holds answers back above 256 KiB).
    ///
    /// The file is read at the time it is sent: if it shrinks before then,
    /// the connection is lost with an [`std::io::ErrorKind::UnexpectedEof`]
    /// error (the peer must not take a short body for a whole one). Reads
    /// of a file not in the page cache block the loop while the disk
    /// answers, as with nginx's `sendfile on` without thread pools.
    ///
    /// ```no_run
    /// # fn serve(transport: &loopcore::Transport) -> loopcore::Result<()> {
    /// let file = std::fs::File::open("index.html").map_err(|e| loopcore::Error::io("index.html", e))?;
    /// let length = file.metadata().map_err(|e| loopcore::Error::io("index.html", e))?.len();
    /// transport.write(format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n").as_bytes())?;
    /// transport.sendfile(file, 0, None)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Fails like `write`, and when `offset` (or `offset + count`) lies
    /// beyond the file's end.
    pub fn sendfile(&self, file: std::fs::File, offset: u64, count: Option<u64>) -> Result<u64> {
        let length = file
            .metadata()
            .map_err(|e| Error::io("reading the length of the file to send", e))?
            .len();
        let available = length.checked_sub(offset).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("sendfile: offset {offset} is beyond the file's end ({length} bytes)"),
            )
        })?;
        let count = count.unwrap_or(available);
        if count > available {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "sendfile: {count} bytes from offset {offset} run past the file's end ({length} bytes)"
                ),
            ));
        }
        let key = self.key;
        let range = FileRange {
            file,
            offset,
            remaining: count,
            read_fallback: false,
        };
        self.with_conn(move |core, conn| conn.queue_file(core, key, range))??;
        Ok(count)
    }

    /// Queues several buffers, as one write.
    pub fn writelines(&self, chunks: &[&[u8]]) -> Result<()> {
        for chunk in chunks {
            self.write(chunk)?;
        }
        Ok(())
    }

    /// Shuts the sending side down once the buffer is flushed; reading goes
    /// on. Idempotent.
    ///
    /// On a write pipe this closes the transport after the flush (a pipe
    /// has no half-close; the reader then sees end of file).
    pub fn write_eof(&self) -> Result<()> {
        let key = self.key;
        let pipe = self.with_conn(|core, conn| conn.request_write_eof(core, key))??;
        if pipe {
            self.close();
        }
        Ok(())
    }

    /// Whether [`write_eof`](Self::write_eof) works: for sockets and write
    /// pipes, not for read pipes or TLS.
    pub fn can_write_eof(&self) -> bool {
        self.with_conn(|_, conn| conn.can_write_eof())
            .unwrap_or(false)
    }

    /// Stops reading, flushes what is buffered, then closes; the protocol's
    /// `connection_lost(None)` follows on a later iteration. Idempotent.
    pub fn close(&self) {
        let key = self.key;
        let _ = self.with_conn(|core, conn| conn.close(core, key));
    }

    /// Closes at once, dropping whatever is buffered; `connection_lost(None)`
    /// follows on a later iteration.
    pub fn abort(&self) {
        let key = self.key;
        let _ = self.with_conn(|core, conn| conn.abort(core, key));
    }

    /// Aborts the connection if no byte moves, in either direction, for
    /// `timeout` (a server's keep-alive limit, a peer that went silent, a
    /// peer that stopped reading what it asked for); the protocol's
    /// `connection_lost` then gets an error of kind `TimedOut` and the
    /// loop counts it in `idle_timeouts`. `None` removes it. Bytes the
    /// kernel accepts from this side count as activity as well as bytes
    /// received, so a slow download is not cut while it progresses (until
    /// 2026-12 only received bytes counted). asyncio has no such call.
    ///
    /// ```no_run
    /// # fn f(transport: &loopcore::Transport) -> loopcore::Result<()> {
    /// transport.set_idle_timeout(Some(std::time::Duration::from_secs(60)))?;
    /// # Ok(()) }
    /// ```
    pub fn set_idle_timeout(&self, timeout: Option<std::time::Duration>) -> Result<()> {
        self.with_conn(|_, _| ())?;
        if let Some(core) = self.core.upgrade() {
            EventLoop::from_core(core).set_idle_timeout(self.key, timeout);
        }
        Ok(())
    }

    /// The idle timeout in force, if any (see
    /// [`set_idle_timeout`](Self::set_idle_timeout)).
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        self.with_conn(|_, conn| conn.idle_timeout()).ok().flatten()
    }

    /// True once `close` or `abort` was called or the connection was lost.
    pub fn is_closing(&self) -> bool {
        self.with_conn(|_, conn| !conn.is_open()).unwrap_or(true)
    }

    /// Stops calling `data_received` until [`resume_reading`](Self::resume_reading).
    /// Idempotent.
    pub fn pause_reading(&self) {
        let _ = self.with_conn(|_, conn| conn.pause_reading());
    }

    /// Resumes reading, including data that arrived while paused. Idempotent.
    pub fn resume_reading(&self) {
        let key = self.key;
        let _ = self.with_conn(|core, conn| conn.resume_reading(core, key));
    }

    /// True while reading is not paused (and the transport not closing).
    pub fn is_reading(&self) -> bool {
        self.with_conn(|_, conn| conn.is_reading()).unwrap_or(false)
    }

    /// Sets the write buffer's water marks (defaults 64 KiB and 16 KiB). With
    /// only one given the other is derived (low = high / 4); `high < low` is
    /// an error. The buffer is re-checked at once.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        let key = self.key;
        self.with_conn(|core, conn| {
            conn.set_write_limits(core, key, high, low).map_err(|bad| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "high-water mark ({}) must be >= low-water mark ({})",
                        bad.high, bad.low
                    ),
                )
            })
        })?
    }

    /// The write buffer's water marks, named so that nobody mixes them
    /// up (asyncio returns the tuple `(low, high)`; ported code that
    /// indexed a tuple would silently swap them).
    ///
    /// ```no_run
    /// # fn f(transport: &loopcore::Transport) -> loopcore::Result<()> {
    /// transport.set_write_buffer_limits(Some(256 * 1024), None)?;
    /// let limits = transport.get_write_buffer_limits()?;
    /// assert_eq!((limits.low, limits.high), (64 * 1024, 256 * 1024));
    /// # Ok(()) }
    /// ```
    pub fn get_write_buffer_limits(&self) -> Result<WriteBufferLimits> {
        self.with_conn(|_, conn| {
            let (high, low) = conn.write_limits();
            WriteBufferLimits { low, high }
        })
    }

    /// Bytes buffered and not yet taken by the kernel.
    pub fn get_write_buffer_size(&self) -> usize {
        self.with_conn(|_, conn| conn.pending_len()).unwrap_or(0)
    }

    /// Flushes this connection's buffer now instead of after the current
    /// callback (for `StreamWriter::drain`).
    pub(crate) fn flush_now(&self) {
        if let Some(core) = self.core.upgrade() {
            EventLoop::from_core(core).flush_conn(self.key);
        }
    }

    /// The peer's address (asyncio's `get_extra_info('peername')`).
    pub fn peername(&self) -> Result<SocketAddr> {
        self.with_conn(|_, conn| match conn.stream() {
            Stream::Tcp(s) => s
                .peer_addr()
                .map_err(|e| Error::io("getting the peer address", e)),
            Stream::Unix(_) => Err(not_ip()),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(not_socket()),
        })?
    }

    /// The local address (`get_extra_info('sockname')`).
    pub fn sockname(&self) -> Result<SocketAddr> {
        self.with_conn(|_, conn| match conn.stream() {
            Stream::Tcp(s) => s
                .local_addr()
                .map_err(|e| Error::io("getting the local address", e)),
            Stream::Unix(_) => Err(not_ip()),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(not_socket()),
        })?
    }

    /// The peer's address on a Unix socket transport.
    pub fn unix_peername(&self) -> Result<std::os::unix::net::SocketAddr> {
        self.with_conn(|_, conn| match conn.stream() {
            Stream::Unix(s) => s
                .peer_addr()
                .map_err(|e| Error::io("getting the peer address", e)),
            Stream::Tcp(_) => Err(not_unix()),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(not_socket()),
        })?
    }

    /// The local address on a Unix socket transport.
    pub fn unix_sockname(&self) -> Result<std::os::unix::net::SocketAddr> {
        self.with_conn(|_, conn| match conn.stream() {
            Stream::Unix(s) => s
                .local_addr()
                .map_err(|e| Error::io("getting the local address", e)),
            Stream::Tcp(_) => Err(not_unix()),
            Stream::PipeReader(_) | Stream::PipeWriter(_) => Err(not_socket()),
        })?
    }

    /// What the TLS handshake negotiated (`None` for a plain transport, or
    /// before the handshake is done).
    pub fn tls_info(&self) -> Option<super::tls::TlsInfo> {
        self.with_conn(|_, conn| conn.tls_info()).ok().flatten()
    }

    /// The socket's fd (`get_extra_info('socket')`), for socket options.
    /// The transport still owns it: do not close it.
    pub fn as_raw_fd(&self) -> Result<RawFd> {
        self.with_conn(|_, conn| conn.stream().as_raw_fd())
    }
}

impl Transport {
    /// Calls the protocol's `shutdown_requested` (now, or after the method
    /// that is running).
    pub(crate) fn request_shutdown(&self) {
        if let Some(core) = self.core.upgrade() {
            EventLoop::from_core(core).notify_conn_of_shutdown(self.key);
        }
    }

    /// The loop and key of a transport whose loop is alive.
    pub(crate) fn parts(&self) -> Option<(Rc<Core>, SourceKey)> {
        Some((self.core.upgrade()?, self.key))
    }

    pub(crate) fn from_parts(core: &Rc<Core>, key: SourceKey) -> Self {
        Self {
            core: Rc::downgrade(core),
            key,
        }
    }
}

/// A transport's write-buffer water marks
/// ([`Transport::get_write_buffer_limits`]): `pause_writing` when the
/// buffer grows above `high`, `resume_writing` when it drains to `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBufferLimits {
    /// The low-water mark, in bytes.
    pub low: usize,
    /// The high-water mark, in bytes.
    pub high: usize,
}
