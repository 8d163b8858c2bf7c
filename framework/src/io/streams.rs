//! Async streams over transports (asyncio's `open_connection` and
//! `start_server`): a [`StreamReader`] and [`StreamWriter`] pair on top of a
//! protocol that buffers what arrives.
//!
//! Invariants:
//! 1. The reader's buffer holds at most about `2 * LIMIT` bytes: above it the
//!    transport stops reading; once the reader consumes down to `LIMIT`,
//!    reading resumes (backpressure to the peer instead of unbounded
//!    memory).
//! 2. `drain` waits while the transport's write buffer is above its
//!    high-water mark (`pause_writing` until `resume_writing`).
//! 3. End of stream is `Ok(0)` from `read`, an error of kind `Io` with
//!    `UnexpectedEof` from `read_exact`; a lost connection's error is
//!    returned once, then reads see end of stream.
//! 4. Received bytes are copied once, into the caller's buffer: the kernel
//!    reads straight into the stream's buffer while it holds nothing
//!    unread (`BufferedProtocol`), which the reader sees as empty, as it
//!    is. `read_exact` copies as bytes arrive, so a message larger than
//!    the buffer limit (where reading pauses) is read whole too.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::connect::ConnectOptions;
use super::protocol::{BufferedProtocol, Protocol};
use super::tcp::{Server, ServerOptions};
use super::transport::Transport;
use crate::{Error, ErrorKind, EventLoop, Result};

/// Buffered bytes above which reading pauses (asyncio's default limit).
/// Reading pauses above twice this, and resumes at or below it (asyncio's
/// high and low marks), so a steady stream does not flip the transport
/// on and off at every read.
const LIMIT: usize = 64 * 1024;

/// The smallest and largest read the stream's buffer offers the kernel:
/// it grows while reads fill it (bulk transfers read 64 KiB at a time) and
/// shrinks while they do not (an idle connection of small messages keeps a
/// small buffer).
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 64 * 1024;

#[derive(Default)]
struct StreamState {
    transport: Option<Transport>,
    /// Received bytes are `buffer[start..end]`; `buffer[end..]` is
    /// initialized room the kernel reads into (`BufferedProtocol`), so
    /// bytes arrive with no copy of ours and leave with one.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// How much room the next read is offered.
    next_read: usize,
    eof: bool,
    lost: bool,
    error: Option<io::Error>,
    read_paused: bool,
    write_paused: bool,
    reader: Option<Waker>,
    writers: Vec<Waker>,
}

impl StreamState {
    fn available(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buffer.len() > 4 * MAX_READ {
                // A burst grew it; the next one grows it again.
                self.buffer = Vec::new();
            }
        }
        if self.read_paused && self.available().len() <= LIMIT {
            self.read_paused = false;
            if let Some(t) = &self.transport {
                t.resume_reading();
            }
        }
    }

    /// At least `want` bytes of room after the received ones: reuses the
    /// front (moving the unread bytes down) before growing.
    fn room(&mut self, want: usize) -> &mut [u8] {
        if self.buffer.len() - self.end < want && self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buffer.len() - self.end < want {
            self.buffer.resize(self.end + want, 0);
        }
        &mut self.buffer[self.end..]
    }

    /// `n` bytes were written into the room; pauses reading above the
    /// limit and wakes the reader.
    fn received(&mut self, n: usize) {
        self.end += n;
        if !self.read_paused && self.available().len() > 2 * LIMIT {
            self.read_paused = true;
            if let Some(t) = &self.transport {
                t.pause_reading();
            }
        }
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    fn wake_all(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        for w in self.writers.drain(..) {
            w.wake();
        }
    }
}

type Shared = Rc<RefCell<StreamState>>;

/// The protocol under a stream pair. Plain connections read straight into
/// the stream's buffer when nothing is waiting in it (`BufferedProtocol`:
/// no copy of ours on the way in), else into a scratch buffer copied in
/// behind what waits; TLS hands it plaintext.
struct StreamProtocol {
    state: Shared,
    /// Called once the connection is up (servers spawn the client task here).
    on_connected: Option<Box<dyn FnOnce(StreamReader, StreamWriter)>>,
    /// Where the kernel is reading into, between `get_buffer` and
    /// `buffer_updated` (nothing else runs in between).
    lent: Lent,
    /// The room offered while unread bytes are in the stream's buffer.
    scratch: Vec<u8>,
}

enum Lent {
    Nothing,
    /// The stream's (empty) buffer, out of the shared cell: the reader sees
    /// it empty meanwhile, which it is.
    Buffer(Vec<u8>),
    /// The scratch buffer, this much of it.
    Scratch(usize),
}

impl StreamProtocol {
    fn new(
        state: Shared,
        on_connected: Option<Box<dyn FnOnce(StreamReader, StreamWriter)>>,
    ) -> Self {
        Self {
            state,
            on_connected,
            lent: Lent::Nothing,
            scratch: Vec::new(),
        }
    }

    /// Puts a lent buffer back (a read that failed or found nothing).
    fn put_back(&mut self) {
        if let Lent::Buffer(buffer) = std::mem::replace(&mut self.lent, Lent::Nothing) {
            let mut state = self.state.borrow_mut();
            if state.buffer.is_empty() {
                state.buffer = buffer;
            }
        }
    }
}

impl BufferedProtocol for StreamProtocol {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        self.put_back();
        let mut state = self.state.borrow_mut();
        let want = state
            .next_read
            .clamp(MIN_READ, MAX_READ)
            .min(size_hint.max(1));
        if state.start == state.end {
            state.start = 0;
            state.end = 0;
            let mut buffer = std::mem::take(&mut state.buffer);
            if buffer.len() < want {
                buffer.resize(want, 0);
            }
            drop(state);
            self.lent = Lent::Buffer(buffer);
            match &mut self.lent {
                Lent::Buffer(buffer) => &mut buffer[..],
                _ => unreachable!("lent just above"),
            }
        } else {
            drop(state);
            if self.scratch.len() < want {
                self.scratch.resize(want, 0);
            }
            self.lent = Lent::Scratch(want);
            &mut self.scratch[..want]
        }
    }

    fn buffer_updated(&mut self, nbytes: usize) {
        let lent = std::mem::replace(&mut self.lent, Lent::Nothing);
        let mut state = self.state.borrow_mut();
        let offered = match lent {
            Lent::Nothing => return,
            Lent::Buffer(buffer) => {
                let offered = buffer.len();
                state.buffer = buffer;
                (state.start, state.end) = (0, 0);
                offered
            }
            Lent::Scratch(offered) => {
                state.room(nbytes)[..nbytes].copy_from_slice(&self.scratch[..nbytes]);
                offered
            }
        };
        let current = state.next_read.clamp(MIN_READ, MAX_READ);
        state.next_read = if nbytes >= offered {
            (current * 2).min(MAX_READ)
        } else if nbytes < offered / 4 {
            (current / 2).max(MIN_READ)
        } else {
            current
        };
        state.received(nbytes);
    }
}

impl Protocol for StreamProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.state.borrow_mut().transport = Some(transport.clone());
        if let Some(on_connected) = self.on_connected.take() {
            let (reader, writer) = pair(&self.state, transport);
            on_connected(reader, writer);
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        self.put_back();
        let mut state = self.state.borrow_mut();
        state.room(data.len())[..data.len()].copy_from_slice(data);
        state.received(data.len());
    }

    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        Some(self)
    }

    fn eof_received(&mut self) -> bool {
        self.put_back();
        let mut state = self.state.borrow_mut();
        state.eof = true;
        state.wake_all();
        // Stay half-open: the writer may still answer.
        true
    }

    fn connection_lost(&mut self, error: Option<io::Error>) {
        self.put_back();
        let mut state = self.state.borrow_mut();
        state.eof = true;
        state.lost = true;
        state.error = error;
        state.wake_all();
    }

    fn pause_writing(&mut self) {
        self.state.borrow_mut().write_paused = true;
    }

    fn resume_writing(&mut self) {
        let mut state = self.state.borrow_mut();
        state.write_paused = false;
        for w in state.writers.drain(..) {
            w.wake();
        }
    }
}

fn pair(state: &Shared, transport: Transport) -> (StreamReader, StreamWriter) {
    (
        StreamReader {
            state: state.clone(),
        },
        StreamWriter {
            state: state.clone(),
            transport,
        },
    )
}

/// The reading half of a stream connection.
pub struct StreamReader {
    state: Shared,
}

/// The writing half of a stream connection.
pub struct StreamWriter {
    state: Shared,
    transport: Transport,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("transport", &self.transport)
            .finish()
    }
}

impl StreamReader {
    /// Waits until `ready` says the buffer has what it needs (or EOF), then
    /// hands the buffer to `take`.
    async fn with_buffer<T>(
        &mut self,
        mut ready: impl FnMut(&[u8]) -> bool,
        take: impl FnOnce(&mut StreamState) -> T,
    ) -> Result<T> {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            if ready(state.available()) || state.eof {
                return Poll::Ready(());
            }
            state.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let mut state = self.state.borrow_mut();
        if state.available().is_empty() {
            if let Some(error) = state.error.take() {
                return Err(Error::io("the connection failed", error));
            }
        }
        Ok(take(&mut state))
    }

    /// Reads what is available into `buf` (waiting for at least one byte);
    /// `Ok(0)` at end of stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.with_buffer(
            |available| !available.is_empty(),
            |state| {
                let n = state.available().len().min(buf.len());
                buf[..n].copy_from_slice(&state.available()[..n]);
                state.consume(n);
                n
            },
        )
        .await
    }

    /// Fills `buf` exactly; an error of kind `Io` with `UnexpectedEof` if
    /// the stream ends first (the bytes read stay consumed).
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        // Copied as it arrives, so a message larger than the buffer limit
        // (where reading pauses) is read whole too.
        let want = buf.len();
        let mut got = 0;
        while got < want {
            let rest = &mut buf[got..];
            let n = self
                .with_buffer(
                    |available| !available.is_empty(),
                    |state| {
                        let n = state.available().len().min(rest.len());
                        rest[..n].copy_from_slice(&state.available()[..n]);
                        state.consume(n);
                        n
                    },
                )
                .await?;
            if n == 0 {
                return Err(Error::io(
                    format!("the stream ended after {got} of {want} bytes"),
                    io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            got += n;
        }
        Ok(())
    }

    /// Reads up to and including `delimiter`; at end of stream, what is left
    /// (possibly empty). Lines longer than the buffer limit are still read
    /// whole (reading stays paused only while the reader is not waiting).
    pub async fn read_until(&mut self, delimiter: u8) -> Result<Vec<u8>> {
        loop {
            let found = self
                .with_buffer(
                    |available| available.contains(&delimiter),
                    |state| {
                        let available = state.available();
                        match available.iter().position(|&b| b == delimiter) {
                            Some(i) => {
                                let line = available[..=i].to_vec();
                                state.consume(i + 1);
                                Some(line)
                            }
                            None if state.eof => {
                                let rest = available.to_vec();
                                let n = rest.len();
                                state.consume(n);
                                Some(rest)
                            }
                            None => {
                                // Full buffer without a delimiter: let more in.
                                if state.read_paused {
                                    state.read_paused = false;
                                    if let Some(t) = &state.transport {
                                        t.resume_reading();
                                    }
                                }
                                None
                            }
                        }
                    },
                )
                .await?;
            if let Some(line) = found {
                return Ok(line);
            }
        }
    }

    /// Looks at what has arrived without consuming it: waits until
    /// `decide` answers from the buffered bytes (called again as more
    /// arrive), or the stream ends (`None` then, unless `decide` answers
    /// from what is left). For protocol sniffs, such as HTTP/2's
    /// connection preface:
    ///
    /// ```
    /// # async fn sniff(reader: &mut loopcore::StreamReader) -> loopcore::Result<bool> {
    /// const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /// let h2 = reader
    ///     .peek_with(|bytes| {
    ///         // Undecided while what came so far could still be the preface.
    ///         let open = bytes.len() < PREFACE.len() && PREFACE.starts_with(bytes);
    ///         (!open).then(|| bytes.starts_with(PREFACE))
    ///     })
    ///     .await?;
    /// Ok(h2 == Some(true))
    /// # }
    /// ```
    pub async fn peek_with<T>(
        &mut self,
        mut decide: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<Option<T>> {
        let mut answer = None;
        self.with_buffer(
            |available| {
                answer = decide(available);
                answer.is_some()
            },
            |_| (),
        )
        .await?;
        if answer.is_none() {
            // The stream ended: one last look at what is left.
            answer = self
                .with_buffer(|_| true, |state| decide(state.available()))
                .await?;
        }
        Ok(answer)
    }

    /// Reads one line including its `\n` (empty at end of stream).
    pub async fn read_line(&mut self) -> Result<Vec<u8>> {
        self.read_until(b'\n').await
    }

    /// True once the peer ended the stream and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        let state = self.state.borrow();
        state.eof && state.available().is_empty()
    }

    /// The read path of the IO traits (`stream_io`): hands `copy` up to
    /// `capacity` buffered bytes (one copy, straight into the caller's
    /// buffer) and consumes them; `Ok(0)` at end of stream or for a zero
    /// `capacity`; pending (waker kept) while nothing is buffered.
    pub(super) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        capacity: usize,
        copy: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        let mut state = self.state.borrow_mut();
        let available = state.available().len();
        if available == 0 && capacity > 0 {
            if let Some(error) = state.error.take() {
                return Poll::Ready(Err(error));
            }
            if !state.eof {
                state.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let n = available.min(capacity);
        copy(&state.available()[..n]);
        state.consume(n);
        Poll::Ready(Ok(n))
    }
}

impl StreamWriter {
    /// Queues `data` (see [`Transport::write`]); await [`drain`](Self::drain)
    /// to respect flow control.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.transport.write(data)
    }

    /// Flushes what was written, then waits while the write buffer is above
    /// its high-water mark; fails if the connection was lost with an error.
    pub async fn drain(&self) -> Result<()> {
        // Writes are normally flushed when the current callback returns; a
        // task awaiting drain needs the flush (and its flow-control verdict)
        // now.
        self.transport.flush_now();
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            if state.lost || !state.write_paused {
                return Poll::Ready(());
            }
            state.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let state = self.state.borrow();
        if state.lost {
            if let Some(error) = &state.error {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("the connection was lost: {error}"),
                ));
            }
        }
        Ok(())
    }

    /// Half-closes after the buffer is flushed.
    pub fn write_eof(&self) -> Result<()> {
        self.transport.write_eof()
    }

    /// Closes the connection after flushing.
    pub fn close(&self) {
        self.transport.close();
    }

    /// Waits until the connection is gone.
    pub async fn wait_closed(&self) {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            if state.lost {
                return Poll::Ready(());
            }
            state.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The underlying transport (addresses, buffer limits).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The write path of the IO traits: queues `buf` unless the transport
    /// is above its high-water mark (then pending until it drains).
    pub(super) fn poll_write_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        {
            let mut state = self.state.borrow_mut();
            if state.write_paused && !state.lost {
                state.writers.push(cx.waker().clone());
                return Poll::Pending;
            }
        }
        Poll::Ready(
            self.transport
                .write(buf)
                .map(|()| buf.len())
                .map_err(io::Error::from),
        )
    }

    /// Flushes now, then waits while above the high-water mark; the
    /// connection's error once it is lost.
    pub(super) fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.flush_now();
        let mut state = self.state.borrow_mut();
        if state.lost {
            return Poll::Ready(match &state.error {
                Some(error) => Err(io::Error::new(error.kind(), error.to_string())),
                None => Ok(()),
            });
        }
        if state.write_paused {
            state.writers.push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// Closes (after flushing) and waits for the connection to go.
    pub(super) fn poll_close_connection(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.close();
        let mut state = self.state.borrow_mut();
        if state.lost {
            return Poll::Ready(Ok(()));
        }
        state.writers.push(cx.waker().clone());
        Poll::Pending
    }

    /// Ends the writing side: a half-close after what is queued where the
    /// transport can (`write_eof`), else a close (TLS sends `close_notify`).
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    pub(super) fn poll_shutdown_write(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.transport.can_write_eof() {
            return Poll::Ready(self.transport.write_eof().map_err(io::Error::from));
        }
        self.poll_close_connection(cx)
    }
}

impl Drop for StreamWriter {
    /// Dropping the writer closes the connection (after flushing), so a
    /// forgotten stream never leaks its socket.
    fn drop(&mut self) {
        self.transport.close();
    }
}

impl EventLoop {
    /// Connects to `addr` and returns a stream pair (asyncio's
    /// `open_connection`).
    pub async fn open_connection(&self, addr: String) -> Result<(StreamReader, StreamWriter)> {
        self.open_connection_with(addr, ConnectOptions::default())
            .await
    }

    /// [`open_connection`](Self::open_connection) with the options of
    /// [`create_connection_with`](Self::create_connection_with): TLS, a
    /// local address, Happy Eyeballs.
    pub async fn open_connection_with(
        &self,
        addr: String,
        options: ConnectOptions,
    ) -> Result<(StreamReader, StreamWriter)> {
        let state: Shared = Rc::default();
        let protocol = StreamProtocol::new(state.clone(), None);
        let transport = self.create_connection_with(addr, options, protocol).await?;
        Ok(pair(&state, transport))
    }

    /// Serves each connection with `client_connected(reader, writer)`, run as
    /// a task on this loop (asyncio's `start_server`).
    ///
    /// ```
    /// use loopcore::{EventLoop, ServerOptions};
    /// let lp = EventLoop::new()?;
    /// let server = lp.start_server("127.0.0.1:0", ServerOptions::default(), |mut reader, writer| async move {
    ///     while let Ok(line) = reader.read_line().await {
    ///         if line.is_empty() || writer.write(&line).is_err() {
    ///             break;
    ///         }
    ///     }
    ///     writer.close();
    /// })?;
    /// let addr = server.sockets()[0];
    /// let echoed = lp.run_until_complete(async move {
    ///     let lp = EventLoop::current();
    ///     let (mut reader, writer) = lp.open_connection(addr.to_string()).await?;
    ///     writer.write(b"hello\n")?;
    ///     reader.read_line().await
    /// })??;
    /// assert_eq!(echoed, b"hello\n");
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn start_server<A, F, Fut>(
        &self,
        addr: A,
        options: ServerOptions,
        client_connected: F,
    ) -> Result<Server>
    where
        A: std::net::ToSocketAddrs,
        F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let client_connected = Rc::new(client_connected);
        self.create_server(addr, options, move || {
            let client_connected = client_connected.clone();
            spawning_protocol(move |reader, writer| client_connected(reader, writer))
        })
    }
}

/// The protocol of a stream server: once the connection is up, runs
/// `client_connected(reader, writer)` as a task on the connection's loop.
pub(crate) fn spawning_protocol<Fut>(
    client_connected: impl FnOnce(StreamReader, StreamWriter) -> Fut + 'static,
) -> impl Protocol
where
    Fut: Future<Output = ()> + 'static,
{
    StreamProtocol::new(
        Rc::default(),
        Some(Box::new(move |reader, writer| {
            if let Some(lp) = EventLoop::try_current() {
                lp.spawn(client_connected(reader, writer)).detach();
            }
        })),
    )
}
