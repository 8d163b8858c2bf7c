//! The HTTP/1 server-connection driver: [`Http1Connection`] is a
//! [`Protocol`] that frames requests with the `http1` codec and hands each
//! complete one to an [`Http1Handler`], with what every HTTP server needs
//! and no handler should have to remember, on by default:
//!
//! 1. an idle timeout counted from the last byte in either direction
//!    ([`HttpTimeouts::idle`], 60 s), so silent and vanished peers give
//!    their fd back;
//! 2. a deadline for each request, counted from its first byte and reset
//!    by nothing ([`HttpTimeouts::header`], 30 s), answered `408`: a peer
//!    trickling a byte every few seconds is closed too (slowloris);
//! 3. bounded memory: the codec's [`Limits`] on heads and bodies, reading
//!    paused while the answers wait above the transport's high-water mark,
//!    and answers held back (each may hold an open file) until the client
//!    reads;
//! 4. error answers that reach the client: `400`, `413`, `431`, `501` for
//!    `CONNECT` (nothing here tunnels) are sent, then the write side is
//!    closed and what still arrives is read and discarded for a bounded
//!    time before the close (nginx's lingering close), instead of a reset
//!    that can destroy the answer in flight;
//! 5. graceful shutdown: on `Runtime::shutdown` the request being read is
//!    answered with `Connection: close`, and an idle keep-alive connection
//!    waits [`IDLE_LINGER`] for a request already on the wire, then closes;
//! 6. `Expect: 100-continue` answered; optional load shedding (`503` with
//!    `Retry-After`).
//!
//! ```no_run
//! use loopcore::http1::{write_response, Http1Connection, Http1Options, Reply, Request};
//! use loopcore::{Runtime, ServeOptions};
//!
//! let runtime = Runtime::builder().build()?;
//! runtime.serve("127.0.0.1:8080", ServeOptions::default(), || {
//!     Http1Connection::new(
//!         |request: &Request<'_>, reply: &mut Reply<'_>| {
//!             let persistence = reply.persistence();
//!             write_response(reply.out(), 200, &[], request.path.as_bytes(), persistence);
//!         },
//!         Http1Options::default(),
//!     )
//! })?;
//! runtime.run()?;
//! # Ok::<(), loopcore::Error>(())
//! ```

use std::cell::RefCell;
use std::fs::File;
use std::rc::Rc;
use std::time::Duration;

use super::http_date::write_response;
use crate::handle::TimerHandle;
use crate::io::{HttpTimeouts, Protocol, Transport};
use crate::proto::http1::{parse, Limits, Parsed, Persistence, Request, RequestError};
use crate::EventLoop;

/// How long an idle keep-alive connection stays open after a graceful
/// shutdown began, for a request the client sent before it could see the
/// close.
pub const IDLE_LINGER: Duration = Duration::from_millis(50);

/// How long a closing connection reads and discards what still arrives
/// after its last answer and FIN, waiting for the client's FIN (nginx's
/// `lingering_time` bounds the same wait).
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// What an [`Http1Connection`] does with each complete request.
///
/// Any `FnMut(&Request, &mut Reply) + 'static` closure is one.
pub trait Http1Handler: 'static {
    /// Answers `request` into `reply`; see [`Reply`].
    fn respond(&mut self, request: &Request<'_>, reply: &mut Reply<'_>);
}

impl<F> Http1Handler for F
where
    F: FnMut(&Request<'_>, &mut Reply<'_>) + 'static,
{
    fn respond(&mut self, request: &Request<'_>, reply: &mut Reply<'_>) {
        self(request, reply)
    }
}

/// Where a handler writes one answer: the response bytes into
/// [`out`](Self::out) (with [`write_response`](crate::http1::write_response) or
/// [`write_head`](crate::http1::write_head)), then, if the body is a file,
/// [`send_file`](Self::send_file).
#[derive(Debug)]
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    persistence: Persistence,
    file: Option<FileBody>,
}

/// A body sent from a file after the bytes of [`Reply::out`].
#[derive(Debug)]
struct FileBody {
    file: File,
    offset: u64,
    count: u64,
}

impl Reply<'_> {
    /// The connection's output: append the response here. Earlier
    /// answers of the same read may precede it; they all leave in one
    /// system call.
    pub fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// What the response must say about the connection (pass it to
    /// `write_response`/`write_head`): `Close` when the request asked for
    /// it, the server is shutting down, or [`close`](Self::close) was
    /// called; the connection then closes after this answer.
    pub fn persistence(&self) -> Persistence {
        self.persistence
    }

    /// Closes the connection after this answer; call it before writing,
    /// so [`persistence`](Self::persistence) says `Close`.
    pub fn close(&mut self) {
        self.persistence = Persistence::Close;
    }

    /// Sends `count` bytes of `file` from `offset` after what is in
    /// [`out`](Self::out) (`sendfile(2)` on plain TCP; see
    /// [`Transport::sendfile`]). The head written into `out` must announce
    /// them (`Content-Length`).
    pub fn send_file(&mut self, file: File, offset: u64, count: u64) {
        self.file = Some(FileBody {
            file,
            offset,
            count,
        });
    }
}

/// How an [`Http1Connection`] serves; the defaults are the safe ones.
///
/// ```
/// use std::time::Duration;
/// use loopcore::http1::{Http1Options, HttpTimeouts};
///
/// let options = Http1Options::default()
///     .timeouts(HttpTimeouts::default().header(Some(Duration::from_secs(10))))
///     .shed_above(10_000);
/// assert_eq!(options.timeouts.idle, Some(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Http1Options {
    /// Bounds on request heads and bodies (8 KiB, 64 headers, 1 MiB).
    pub limits: Limits,
    /// The request deadline and the idle timeout (30 s and 60 s).
    pub timeouts: HttpTimeouts,
    /// Answers queued for the client beyond this many bytes hold the
    /// requests behind them back (reading paused) until the client reads:
    /// a client that pipelines thousands of requests cannot make the
    /// server build thousands of answers, or open thousands of files, at
    /// once. Default 64 KiB (the transport's default high-water mark).
    pub hold_answers_above: usize,
    /// Answer `503` (with `Retry-After: 1`) and close when more than this
    /// many items of work wait on the loop ([`EventLoop::load`]); counted
    /// in the loop's `shed`. Default: never.
    pub shed_above: Option<usize>,
}

impl Default for Http1Options {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            timeouts: HttpTimeouts::default(),
            hold_answers_above: 64 * 1024,
            shed_above: None,
        }
    }
}

impl Http1Options {
    /// Sets the codec's limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the deadlines.
    pub fn timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sheds load above `pending` items of work; see the field.
    pub fn shed_above(mut self, pending: usize) -> Self {
        self.shed_above = Some(pending);
        self
    }
}

/// One HTTP/1 server connection: a [`Protocol`] to return from a
/// `create_server`/`Runtime::serve` factory. See the module docs for what
/// it does on its own.
pub struct Http1Connection<H: Http1Handler> {
    state: Rc<RefCell<State<H>>>,
}

impl<H: Http1Handler> std::fmt::Debug for Http1Connection<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Connection").finish_non_exhaustive()
    }
}

/// The connection's state, shared with its timers and the call that
/// resumes answers held back.
struct State<H> {
    handler: H,
    options: Http1Options,
    transport: Option<Transport>,
    /// Bytes received and not yet answered: an incomplete request, or
    /// complete ones held back.
    partial: Vec<u8>,
    /// Shutdown began: the last request read is answered with
    /// `Connection: close`.
    draining: bool,
    /// The last answer and the FIN are out: input is discarded.
    finished: bool,
    /// Answers wait for the client to read the ones before.
    held_back: bool,
    /// Flow control said the write buffer is above its high-water mark.
    writing_paused: bool,
    /// This driver paused the transport's reading (and must resume it).
    reading_paused: bool,
    /// `100 Continue` went out for the request at the front.
    sent_continue: bool,
    /// Running while a request is incomplete.
    request_timer: Option<TimerHandle>,
    /// Closes an idle connection after shutdown began.
    drain_timer: Option<TimerHandle>,
}

/// Why a batch of answers stopped.
enum Stop {
    /// The rest of the input is an incomplete request (or nothing).
    NeedMore,
    /// An answer's body is a file: queue it, then go on.
    File(FileBody, Persistence),
    /// The connection closes after what was written.
    Close,
    /// Enough is queued: hold the rest until the client reads.
    HoldBack,
}

impl<H: Http1Handler> Http1Connection<H> {
    /// A connection that answers with `handler`.
    pub fn new(handler: H, options: Http1Options) -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                handler,
                options,
                transport: None,
                partial: Vec::new(),
                draining: false,
                finished: false,
                held_back: false,
                writing_paused: false,
                reading_paused: false,
                sent_continue: false,
                request_timer: None,
                drain_timer: None,
            })),
        }
    }
}

impl<H: Http1Handler> Protocol for Http1Connection<H> {
    fn connection_made(&mut self, transport: Transport) {
        let mut state = self.state.borrow_mut();
        if let Some(idle) = state.options.timeouts.idle {
            let _ = transport.set_idle_timeout(Some(idle));
        }
        state.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut state = self.state.borrow_mut();
        if state.finished {
            // Lingering: what still arrives is read and dropped.
            return;
        }
        if let Some(timer) = state.drain_timer.take() {
            // Not idle after all: the answer to this request closes.
            timer.cancel();
        }
        if let Some(limit) = state.options.shed_above {
            let lp = EventLoop::current();
            if lp.load().pending() > limit {
                lp.note_shed();
                state.refuse(503, &[("Retry-After", "1")]);
                return;
            }
        }
        if state.held_back {
            state.partial.extend_from_slice(data);
            return;
        }
        state.serve(data, &self.state);
    }

    fn eof_received(&mut self) -> bool {
        let mut state = self.state.borrow_mut();
        if state.held_back && !state.finished {
            // Answers are still owed: they go out, then the close.
            state.draining = true;
            return true;
        }
        false
    }

    fn pause_writing(&mut self) {
        let mut state = self.state.borrow_mut();
        state.writing_paused = true;
        if !state.finished {
            // A client that asks faster than it reads is not read until
            // it catches up: TCP's flow control holds it back.
            state.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        let mut state = self.state.borrow_mut();
        state.writing_paused = false;
        if state.finished {
            return;
        }
        if state.held_back {
            state.held_back = false;
            state.serve(&[], &self.state);
            return;
        }
        state.resume_reading();
    }

    fn connection_lost(&mut self, _error: Option<std::io::Error>) {
        let mut state = self.state.borrow_mut();
        state.finished = true;
        state.partial = Vec::new();
        for timer in [state.request_timer.take(), state.drain_timer.take()]
            .into_iter()
            .flatten()
        {
            timer.cancel();
        }
    }

    fn shutdown_requested(&mut self) {
        let mut state = self.state.borrow_mut();
        state.draining = true;
        if state.partial.is_empty() && !state.finished && !state.held_back {
            // Idle: a request already on the wire is answered (and closes
            // the connection); if none comes, close.
            if let Some(transport) = state.transport.clone() {
                state.drain_timer = Some(EventLoop::current().call_later(IDLE_LINGER, move |_| {
                    linger_close(&transport);
                }));
            }
        }
    }
}

impl<H: Http1Handler> State<H> {
    /// Answers the complete requests in the bytes kept and `fresh` (one of
    /// the two is empty, or `fresh` follows the kept bytes), keeps the
    /// rest, and arms or stops the request deadline.
    fn serve(&mut self, fresh: &[u8], shared: &Rc<RefCell<State<H>>>) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        // Straight from the read buffer when nothing is kept (the common
        // case: no copy); else appended to what is.
        let from_fresh = self.partial.is_empty();
        if !from_fresh {
            self.partial.extend_from_slice(fresh);
        }
        let mut used = 0;
        let hold_above = self.options.hold_answers_above;
        let stop = loop {
            let input = if from_fresh { fresh } else { &self.partial[..] };
            let (handler, options) = (&mut self.handler, &self.options);
            let (draining, sent_continue) = (self.draining, &mut self.sent_continue);
            let batch = transport.write_with(|out| {
                answer_batch(
                    out,
                    &input[used..],
                    handler,
                    options,
                    draining,
                    sent_continue,
                    hold_above,
                )
            });
            let Ok((consumed, stop)) = batch else {
                // The transport is closing: nothing left to answer.
                self.finished = true;
                break Stop::Close;
            };
            used += consumed;
            match stop {
                Stop::File(body, persistence) => {
                    if transport
                        .sendfile(body.file, body.offset, Some(body.count))
                        .is_err()
                    {
                        break Stop::Close;
                    }
                    if !persistence.keeps_alive() {
                        break Stop::Close;
                    }
                    if transport.get_write_buffer_size() > hold_above {
                        break Stop::HoldBack;
                    }
                }
                stop => break stop,
            }
        };
        if from_fresh {
            if used < fresh.len() {
                self.partial.extend_from_slice(&fresh[used..]);
            }
        } else {
            self.partial.drain(..used);
        }
        match stop {
            Stop::Close => self.finish(),
            Stop::HoldBack => {
                self.held_back = true;
                self.stop_request_timer();
                self.pause_reading();
                // Flow control wakes the answers up with resume_writing
                // when it paused writing; when the flush after this
                // callback takes everything, this looks again.
                let shared = shared.clone();
                EventLoop::current().call_soon(move |_| {
                    let Ok(mut state) = shared.try_borrow_mut() else {
                        return;
                    };
                    if state.held_back && !state.writing_paused && !state.finished {
                        state.held_back = false;
                        state.serve(&[], &shared);
                    }
                });
            }
            Stop::NeedMore | Stop::File(..) => {
                if self.partial.is_empty() {
                    self.stop_request_timer();
                    if self.draining && self.held_back_done() {
                        // Everything owed is answered and the peer is done
                        // or the server is: close.
                        self.finish();
                    }
                    if !self.writing_paused && !self.finished {
                        self.resume_reading();
                    }
                } else {
                    self.start_request_timer(&transport, shared);
                    if !self.writing_paused {
                        self.resume_reading();
                    }
                }
            }
        }
    }

    /// Stops reading the client (answers wait, or flow control paused).
    fn pause_reading(&mut self) {
        if let Some(transport) = &self.transport {
            transport.pause_reading();
            self.reading_paused = true;
        }
    }

    /// Reads the client again if this driver had stopped it; a transport
    /// lookup only then, not after every batch.
    fn resume_reading(&mut self) {
        if !self.reading_paused {
            return;
        }
        if let Some(transport) = &self.transport {
            transport.resume_reading();
            self.reading_paused = false;
        }
    }

    /// After a held-back batch: whether the draining connection has
    /// nothing left to answer.
    fn held_back_done(&self) -> bool {
        !self.held_back && self.partial.is_empty()
    }

    /// Starts the request deadline at the first byte of a request; a
    /// running one is left alone (no byte resets it).
    fn start_request_timer(&mut self, transport: &Transport, shared: &Rc<RefCell<State<H>>>) {
        let Some(deadline) = self.options.timeouts.header else {
            return;
        };
        if self.request_timer.is_some() {
            return;
        }
        let transport = transport.clone();
        let state = Rc::downgrade(shared);
        self.request_timer = Some(EventLoop::current().call_later(deadline, move |lp| {
            lp.note_header_timeout();
            if let Some(state) = state.upgrade() {
                if let Ok(mut state) = state.try_borrow_mut() {
                    state.request_timer = None;
                    state.finished = true;
                    state.partial = Vec::new();
                }
            }
            let _ =
                transport.write_with(|out| write_response(out, 408, &[], b"", Persistence::Close));
            linger_close(&transport);
        }));
    }

    fn stop_request_timer(&mut self) {
        if let Some(timer) = self.request_timer.take() {
            timer.cancel();
        }
    }

    /// Answers `status` with an empty body and closes.
    fn refuse(&mut self, status: u16, headers: &[(&str, &str)]) {
        if let Some(transport) = &self.transport {
            let _ = transport
                .write_with(|out| write_response(out, status, headers, b"", Persistence::Close));
        }
        self.finish();
    }

    /// Ends the connection after the answers written so far.
    fn finish(&mut self) {
        self.finished = true;
        self.partial = Vec::new();
        self.stop_request_timer();
        if let Some(transport) = &self.transport {
            linger_close(transport);
        }
    }
}

/// Answers the complete requests at the front of `input` into `out` until
/// one closes the connection, has a file body, the input runs out, or
/// more than `hold_above` bytes were written; returns the bytes used and
/// why it stopped.
fn answer_batch<H: Http1Handler>(
    out: &mut Vec<u8>,
    input: &[u8],
    handler: &mut H,
    options: &Http1Options,
    draining: bool,
    sent_continue: &mut bool,
    hold_above: usize,
) -> (usize, Stop) {
    let start = out.len();
    let mut used = 0;
    loop {
        if used == input.len() {
            // Nothing left to parse: no empty parse (a keep-alive read
            // holds one request, and parsing nothing costs as much as a
            // third of answering it).
            return (used, Stop::NeedMore);
        }
        match parse(&input[used..], &options.limits) {
            Ok(Parsed::Complete(request, n)) => {
                used += n;
                *sent_continue = false;
                if request.method == "CONNECT" {
                    // Nothing here tunnels.
                    let status = RequestError::Unsupported.status();
                    write_response(out, status, &[], b"", Persistence::Close);
                    return (used, Stop::Close);
                }
                let mut persistence = request.persistence();
                if draining
                    && !matches!(
                        parse(&input[used..], &options.limits),
                        Ok(Parsed::Complete(..))
                    )
                {
                    // The last complete request of a closing connection:
                    // its answer says so.
                    persistence = Persistence::Close;
                }
                let mut reply = Reply {
                    out,
                    persistence,
                    file: None,
                };
                handler.respond(&request, &mut reply);
                let Reply {
                    persistence, file, ..
                } = reply;
                if let Some(body) = file {
                    return (used, Stop::File(body, persistence));
                }
                if !persistence.keeps_alive() {
                    return (used, Stop::Close);
                }
                if out.len() - start > hold_above && used < input.len() {
                    return (used, Stop::HoldBack);
                }
            }
            Ok(Parsed::AwaitingBody {
                expects_continue,
                body_bytes,
            }) => {
                if expects_continue && body_bytes == 0 && !*sent_continue {
                    *sent_continue = true;
                    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                return (used, Stop::NeedMore);
            }
            Ok(Parsed::AwaitingHead) => return (used, Stop::NeedMore),
            Err(error) => {
                write_response(out, error.status(), &[], b"", Persistence::Close);
                return (input.len(), Stop::Close);
            }
        }
    }
}

/// Sends the FIN once the buffer is flushed and keeps reading (the driver
/// discards input once finished) until the client closes, or closes after
/// [`CLOSE_LINGER`]: closing with unread input would send a reset, and a
/// reset can destroy the last answer before the client read it. A TLS
/// transport cannot half-close: it closes (after `close_notify`).
pub fn linger_close(transport: &Transport) {
    if !transport.can_write_eof() {
        transport.close();
        return;
    }
    if transport.write_eof().is_err() {
        // Already closing or gone.
        return;
    }
    // Reading may have been paused by flow control: the drain needs it.
    transport.resume_reading();
    let transport = transport.clone();
    EventLoop::current().call_later(CLOSE_LINGER, move |_| transport.close());
}
