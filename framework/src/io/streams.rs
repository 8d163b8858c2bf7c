//! Async streams over transports (asyncio's `open_connection` and
//! `start_server`): a [`StreamReader`] and [`StreamWriter`] pair on top of a
//! protocol that buffers what arrives.
//!
//! Invariants:
//! 1. The reader's buffer holds at most about `2 * limit` bytes (the
//!    reader's [`limit`](StreamReader::limit), 64 KiB unless set): above it
//!    the transport stops reading; once the reader consumes down to
//!    `limit`, reading resumes (backpressure to the peer instead of
//!    unbounded memory). A read that waits for a delimiter (or a
//!    `peek_with` that waits for more) fails with `LimitOverrun` once more
//!    than `limit` bytes are buffered without it, so no reader ever waits
//!    on a transport paused by its own full buffer.
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
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::delimiter::{find, Delimiter};
use super::protocol::{BufferedProtocol, Protocol};
use super::stream_writer::StreamWriter;
use super::transport::Transport;
use crate::{Error, ErrorKind, Result};

/// The reader's default limit (asyncio's `_DEFAULT_LIMIT`): the longest
/// line `read_until` accepts before its delimiter. Reading pauses above
/// twice the limit, and resumes at or below it (asyncio's high and low
/// marks), so a steady stream does not flip the transport on and off at
/// every read.
const DEFAULT_LIMIT: usize = 64 * 1024;

/// A reader's limit (see [`StreamReader::set_limit`]).
#[derive(Clone, Copy, Debug)]
struct Limit(usize);

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

/// The smallest and largest read the stream's buffer offers the kernel:
/// it grows while reads fill it (bulk transfers read 64 KiB at a time) and
/// shrinks while they do not (an idle connection of small messages keeps a
/// small buffer).
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 64 * 1024;

#[derive(Default)]
pub(super) struct StreamState {
    transport: Option<Transport>,
    /// Received bytes are `buffer[start..end]`; `buffer[end..]` is
    /// initialized room the kernel reads into (`BufferedProtocol`), so
    /// bytes arrive with no copy of ours and leave with one.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// How much room the next read is offered.
    next_read: usize,
    limit: Limit,
    eof: bool,
    pub(super) lost: bool,
    pub(super) error: Option<io::Error>,
    read_paused: bool,
    pub(super) write_paused: bool,
    reader: Option<Waker>,
    pub(super) writers: Vec<Waker>,
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
        self.flow_control();
    }

    /// Pauses reading above twice the limit, resumes it at or below the
    /// limit.
    fn flow_control(&mut self) {
        let buffered = self.available().len();
        let limit = self.limit.0;
        if self.read_paused && buffered <= limit {
            self.read_paused = false;
            if let Some(t) = &self.transport {
                t.resume_reading();
            }
        } else if !self.read_paused && buffered > limit.saturating_mul(2) {
            self.read_paused = true;
            if let Some(t) = &self.transport {
                t.pause_reading();
            }
        }
    }

    /// The error of a read that needs more than `limit` buffered bytes.
    fn overrun(&self, what: std::fmt::Arguments<'_>) -> Error {
        let limit = self.limit.0;
        Error::new(
            ErrorKind::LimitOverrun,
            format!(
                "{what} the stream reader's limit of {limit} bytes \
                 (raise it with StreamReader::set_limit)"
            ),
        )
    }

    /// At end of stream with nothing buffered, the connection's error
    /// (once).
    fn take_error(&mut self) -> Option<Error> {
        if self.available().is_empty() {
            let error = self.error.take()?;
            return Some(Error::io("the connection failed", error));
        }
        None
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

    /// `n` bytes were written into the room; pauses reading above twice
    /// the limit and wakes the reader.
    fn received(&mut self, n: usize) {
        self.end += n;
        self.flow_control();
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

pub(super) type Shared = Rc<RefCell<StreamState>>;

/// The protocol under a stream pair. Plain connections read straight into
/// the stream's buffer when nothing is waiting in it (`BufferedProtocol`:
/// no copy of ours on the way in), else into a scratch buffer copied in
/// behind what waits; TLS hands it plaintext.
pub(super) struct StreamProtocol {
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
    pub(super) fn new(
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

pub(super) fn pair(state: &Shared, transport: Transport) -> (StreamReader, StreamWriter) {
    (
        StreamReader {
            state: state.clone(),
            skip_line: false,
        },
        StreamWriter::new(state.clone(), transport),
    )
}

/// The reading half of a stream connection.
///
/// Its [`limit`](Self::limit) (asyncio's `limit=`, 64 KiB unless
/// [`set_limit`](Self::set_limit) says otherwise) bounds the lines
/// [`read_until`](Self::read_until) and [`read_line`](Self::read_line)
/// accept and the bytes it buffers (reading pauses above twice the
/// limit); `read` and `read_exact` take any size.
pub struct StreamReader {
    state: Shared,
    /// A `read_line` failed on a line whose end had not arrived: the next
    /// `read_line` skips the rest of it first (any other read clears it).
    skip_line: bool,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader").finish_non_exhaustive()
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
        if let Some(error) = state.take_error() {
            return Err(error);
        }
        Ok(take(&mut state))
    }

    /// The most bytes a line may hold before its delimiter (asyncio's
    /// `limit`): 64 KiB unless [`set_limit`](Self::set_limit) changed it.
    pub fn limit(&self) -> usize {
        self.state.borrow().limit.0
    }

    /// Sets the [`limit`](Self::limit) (asyncio's `limit=` argument of
    /// `open_connection` and `start_server`): the longest line
    /// [`read_until`](Self::read_until) and [`read_line`](Self::read_line)
    /// accept before the delimiter, and the buffer's size, as reading
    /// pauses above twice the limit and resumes at or below it. At least
    /// 1 (0 counts as 1). Call it after `open_connection`, or first thing
    /// in a `start_server` or `serve_streams` handler: what arrived before
    /// is kept, and reading paused on a buffer full for the old limit
    /// resumes under a higher one.
    ///
    /// ```
    /// # async fn long_lines(reader: &mut loopcore::StreamReader) -> loopcore::Result<Vec<u8>> {
    /// reader.set_limit(1024 * 1024); // lines of up to 1 MiB
    /// reader.read_line().await
    /// # }
    /// ```
    pub fn set_limit(&mut self, limit: usize) {
        let mut state = self.state.borrow_mut();
        state.limit = Limit(limit.max(1));
        state.flow_control();
    }

    /// Reads what is available into `buf` (waiting for at least one byte);
    /// `Ok(0)` at end of stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.skip_line = false;
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
        self.skip_line = false;
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

    /// Reads up to and including `delimiter`, one byte (`b'\n'`) or a
    /// sequence (`b"\r\n\r\n"`) (asyncio's `readuntil`).
    ///
    /// At end of stream before the delimiter it fails with an error of
    /// kind [`IncompleteRead`](ErrorKind::IncompleteRead) (asyncio's
    /// `IncompleteReadError`) whose [`partial`](crate::Error::partial) holds
    /// what was left, now taken from the buffer (empty at a clean end);
    /// [`read_line`](Self::read_line) returns that rest instead, as
    /// asyncio's `readline` does. An empty delimiter fails with
    /// [`InvalidInput`](ErrorKind::InvalidInput).
    ///
    /// The delimiter must start within the first `limit + 1` bytes (a line
    /// of at most [`limit`](Self::limit) bytes before it). Otherwise the
    /// read fails with an error of kind
    /// [`LimitOverrun`](ErrorKind::LimitOverrun) (asyncio's
    /// `LimitOverrunError`) as soon as more than `limit` bytes are buffered
    /// without it, at end of stream too, and leaves the bytes in the
    /// buffer: a later [`read`](Self::read) gets them (`read_until` fails
    /// again). [`set_limit`](Self::set_limit) allows longer lines.
    pub async fn read_until(&mut self, delimiter: impl Delimiter) -> Result<Vec<u8>> {
        let delimiter = delimiter.as_bytes();
        if delimiter.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "read_until: the delimiter is empty; give at least one byte",
            ));
        }
        self.skip_line = false;
        let line = self.until(delimiter).await?;
        if !line.ends_with(delimiter) {
            return Err(Error::incomplete_read(
                format!(
                    "the stream ended after {} bytes without b\"{}\" (Error::partial has them)",
                    line.len(),
                    delimiter.escape_ascii()
                ),
                line,
            ));
        }
        Ok(line)
    }

    /// Up to and including `delimiter` (not empty); at end of stream, what
    /// is left (possibly empty, without the delimiter).
    async fn until(&mut self, delimiter: &[u8]) -> Result<Vec<u8>> {
        // The buffered bytes known to hold no delimiter start: each wake
        // scans only what arrived since (and the delimiter's length less
        // one before it, where a split delimiter may start), so a long line
        // arriving in small pieces costs O(n), not O(n^2). They stay put
        // meanwhile: only the reader consumes, and this borrows it.
        let mut searched = 0;
        let overlap = delimiter.len() - 1;
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            let limit = state.limit.0;
            let available = state.available();
            let window = available.len().min(limit.saturating_add(delimiter.len()));
            let from = searched.min(window);
            if let Some(i) = find(&available[from..window], delimiter) {
                let end = from + i + delimiter.len();
                let line = available[..end].to_vec();
                state.consume(end);
                return Poll::Ready(Ok(line));
            }
            searched = window.saturating_sub(overlap);
            if available.len() > limit.saturating_add(overlap) {
                return Poll::Ready(Err(state.overrun(format_args!(
                    "no b\"{}\" in the first {window} bytes: a line longer than",
                    delimiter.escape_ascii()
                ))));
            }
            if state.eof {
                if let Some(error) = state.take_error() {
                    return Poll::Ready(Err(error));
                }
                let rest = state.available().to_vec();
                state.consume(rest.len());
                return Poll::Ready(Ok(rest));
            }
            state.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Discards bytes through the next `delimiter` (or to the end of the
    /// stream), as they arrive: the rest of a line `read_line` gave up on.
    async fn skip_through(&mut self, delimiter: u8) {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            let available = state.available();
            match available.iter().position(|&b| b == delimiter) {
                Some(i) => {
                    state.consume(i + 1);
                    return Poll::Ready(());
                }
                None => {
                    let n = available.len();
                    state.consume(n);
                }
            }
            if state.eof {
                return Poll::Ready(());
            }
            state.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        self.skip_line = false;
    }

    /// Looks at what has arrived without consuming it: waits until
    /// `decide` answers from the buffered bytes (called again as more
    /// arrive), or the stream ends (`None` then, unless `decide` answers
    /// from what is left). If `decide` is still undecided with more than
    /// the [`limit`](Self::limit) buffered, the peek fails with an error of
    /// kind [`LimitOverrun`](ErrorKind::LimitOverrun) (reading pauses on a
    /// buffer that full, so more might never come); the bytes stay. For
    /// protocol sniffs, such as HTTP/2's connection preface:
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
        self.skip_line = false;
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            let available = state.available();
            if let Some(answer) = decide(available) {
                return Poll::Ready(Ok(Some(answer)));
            }
            let buffered = available.len();
            if buffered > state.limit.0 {
                // Reading pauses on a buffer this full: waiting for more
                // could wait for good.
                return Poll::Ready(Err(state.overrun(format_args!(
                    "peek_with is still undecided with {buffered} bytes buffered, more than"
                ))));
            }
            if state.eof {
                return Poll::Ready(match state.take_error() {
                    Some(error) => Err(error),
                    None => Ok(None),
                });
            }
            state.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Reads one line including its `\n` (asyncio's `readline`); at end of
    /// stream, what is left (empty once nothing is).
    ///
    /// A line longer than the [`limit`](Self::limit) (see
    /// [`read_until`](Self::read_until)) fails with an error of kind
    /// [`LimitOverrun`](ErrorKind::LimitOverrun) (asyncio's `ValueError`)
    /// and is discarded: through its `\n` if that has arrived, else all
    /// that is buffered, and the next `read_line` (unless another read
    /// comes first) skips the rest of the line, through its `\n`, before it
    /// reads. So a caller that goes on gets the line after the long one
    /// (asyncio's `readline` would return the long line's tail instead).
    pub async fn read_line(&mut self) -> Result<Vec<u8>> {
        if self.skip_line {
            self.skip_through(b'\n').await;
        }
        let result = self.until(b"\n").await;
        if matches!(&result, Err(error) if error.is_limit_overrun()) {
            let mut state = self.state.borrow_mut();
            // `until` saw no `\n` in the first `limit + 1` bytes.
            let searched = state.limit.0.saturating_add(1);
            let available = state.available();
            let from = searched.min(available.len());
            match available[from..].iter().position(|&b| b == b'\n') {
                Some(i) => state.consume(from + i + 1),
                None => {
                    let n = available.len();
                    state.consume(n);
                    self.skip_line = true;
                }
            }
        }
        result
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
        self.skip_line = false;
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
