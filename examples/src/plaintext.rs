//! The TechEmpower "plaintext" HTTP/1.1 server as a [`Protocol`]: every
//! request gets `200 OK` with `Hello, World!`, keep-alive and pipelining
//! included; a malformed request gets `400` (too many or too large headers
//! `431`) and the connection is closed after the answer.
//!
//! Graceful shutdown (`shutdown_requested`): a connection in the middle of
//! a request answers it with `Connection: close` and closes; an idle one
//! waits [`IDLE_LINGER`] for a request that may already be on the wire,
//! answers it the same way, and otherwise closes.
//!
//! Timeouts ([`Timeouts`], defaults as nginx's): a request head must
//! arrive whole within `header` of its first byte (slowloris), else the
//! answer is `408` and the connection closes; a keep-alive connection
//! that receives nothing for `idle` is closed by the transport's idle
//! timeout (`Transport::set_idle_timeout`).
//!
//! A client that pipelines requests without reading the answers is no
//! longer read once the answers fill the write buffer past its high-water
//! mark (`pause_writing`), and read again when it has caught up: memory per
//! connection stays bounded and TCP flow control holds the client back.
//!
//! Under overload ([`Plaintext::shed_above`]) a request is answered `503`
//! with `Retry-After: 1` and the connection closes, so the loop catches up
//! rather than answering everyone late.
//!
//! Closing is lingering, as nginx does it: the server sends its FIN after
//! the last response and discards what still arrives until the client
//! closes too (or [`CLOSE_LINGER`] passes). Closing with unread input
//! would send a reset, and a reset can destroy the last response before
//! the client has read it.

use std::cell::Cell;
use std::time::Duration;

use loopcore::http1::{self, Limits};
use loopcore::{EventLoop, Protocol, TimerHandle, Transport};

/// The response body.
pub const BODY: &[u8] = b"Hello, World!";

/// How long an idle keep-alive connection stays open after shutdown began,
/// for a request the client sent before it could see the close.
pub const IDLE_LINGER: Duration = Duration::from_millis(50);

/// How long a finished connection waits for the client's FIN.
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// How long a connection may take: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From a request's first byte to the end of its head (default 60 s,
    /// nginx's `client_header_timeout`).
    pub header: Duration,
    /// A keep-alive connection with nothing arriving (default 75 s,
    /// nginx's `keepalive_timeout`).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(60),
            idle: Duration::from_secs(75),
        }
    }
}

thread_local! {
    /// Requests answered on this thread's loop.
    static ANSWERED: Cell<u64> = const { Cell::new(0) };
    /// Requests whose head did not arrive in time on this thread's loop.
    static HEADER_TIMEOUTS: Cell<u64> = const { Cell::new(0) };
}

/// Requests the plaintext protocol answered `408` on the calling thread's
/// loop (a runtime's per-loop count, read from `on_loop_stop`).
pub fn header_timeouts_here() -> u64 {
    HEADER_TIMEOUTS.with(Cell::get)
}

/// Requests the plaintext protocol answered on the calling thread's loop
/// (a runtime's per-loop count, read from `on_loop_stop`).
pub fn requests_answered_here() -> u64 {
    ANSWERED.with(Cell::get)
}

/// One connection of the plaintext server.
#[derive(Debug, Default)]
pub struct Plaintext {
    transport: Option<Transport>,
    /// Bytes of a request that arrived incomplete.
    partial: Vec<u8>,
    limits: Limits,
    /// Shutdown began: the next answer closes the connection.
    draining: bool,
    /// Closes the connection if it stays idle during the shutdown.
    idle_timer: Option<TimerHandle>,
    /// The last response is out and the FIN sent: input is discarded.
    finished: bool,
    timeouts: Timeouts,
    /// Running while a request head is incomplete.
    header_timer: Option<TimerHandle>,
    /// Answer `503` when more than this much work waits on the loop.
    shed_above: Option<usize>,
}

impl Plaintext {
    /// A connection with these timeouts (the default has
    /// `Timeouts::default()`).
    pub fn with_timeouts(timeouts: Timeouts) -> Self {
        Self {
            timeouts,
            ..Self::default()
        }
    }

    /// Sheds load: when more than `pending` items of work wait on the
    /// loop (`EventLoop::load`), a request is answered `503 Service
    /// Unavailable` with `Retry-After: 1` and the connection closes, so the
    /// loop catches up instead of answering everyone late; counted in the
    /// loop's `shed`.
    pub fn shed_above(mut self, pending: usize) -> Self {
        self.shed_above = Some(pending);
        self
    }

    /// Answers every complete request at the front of `input`; returns how
    /// many bytes were used and whether the connection must close.
    fn answer(out: &mut Vec<u8>, input: &[u8], limits: &Limits, draining: bool) -> (usize, bool) {
        let mut answered = 0;
        let respond = |request: &http1::Request<'_>, out: &mut Vec<u8>| {
            answered += 1;
            http1::write_response(
                out,
                200,
                &[("Server", "loopcore"), ("Content-Type", "text/plain")],
                BODY,
                request.persistence(),
            )
        };
        let result = if draining {
            http1::serve_requests_closing(out, input, limits, respond)
        } else {
            http1::serve_requests(out, input, limits, respond)
        };
        ANSWERED.with(|count| count.set(count.get() + answered));
        result
    }
}

impl Protocol for Plaintext {
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport.set_idle_timeout(Some(self.timeouts.idle));
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if self.finished {
            return;
        }
        if let Some(timer) = self.idle_timer.take() {
            // No longer idle: the answer to this request closes.
            timer.cancel();
        }
        let Some(transport) = &self.transport else {
            return;
        };
        if let Some(limit) = self.shed_above {
            let lp = EventLoop::current();
            if lp.load().pending() > limit {
                lp.note_shed();
                let _ = transport.write_with(|out| {
                    http1::write_response(out, 503, &[("Retry-After", "1")], b"", false)
                });
                self.finish();
                return;
            }
        }
        // Responses are serialized straight into the transport's buffer and
        // leave together when this callback returns. A closing transport
        // refuses them: nothing is left to answer then.
        let limits = &self.limits;
        let draining = self.draining;
        let partial = &mut self.partial;
        let answered = transport.write_with(|out| {
            if partial.is_empty() {
                let (used, close) = Self::answer(out, data, limits, draining);
                partial.extend_from_slice(&data[used..]);
                close
            } else {
                partial.extend_from_slice(data);
                let (used, close) = Self::answer(out, partial, limits, draining);
                partial.drain(..used);
                close
            }
        });
        let Ok(close) = answered else {
            return;
        };
        if close {
            self.finish();
        } else {
            self.watch_header();
        }
    }

    /// A client that sends requests without reading the answers: stop
    /// reading its requests until it catches up, so what the connection
    /// holds stays near the write buffer's high-water mark (TCP flow
    /// control then stops the client).
    fn pause_writing(&mut self) {
        if let Some(transport) = &self.transport {
            transport.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(transport) = &self.transport {
            transport.resume_reading();
        }
    }

    fn connection_lost(&mut self, _error: Option<std::io::Error>) {
        for timer in [self.header_timer.take(), self.idle_timer.take()]
            .into_iter()
            .flatten()
        {
            timer.cancel();
        }
    }

    fn shutdown_requested(&mut self) {
        self.draining = true;
        if self.partial.is_empty() && !self.finished {
            // Idle: a request already on the wire is answered (and closes
            // the connection); if none comes, close.
            if let Some(transport) = self.transport.clone() {
                self.idle_timer = Some(EventLoop::current().call_later(IDLE_LINGER, move |_| {
                    linger_close(&transport);
                }));
            }
        }
        // Mid-request: its answer closes the connection.
    }
}

impl Plaintext {
    /// Starts the header timer when a request head is left incomplete,
    /// stops it when none is.
    fn watch_header(&mut self) {
        if self.partial.is_empty() {
            if let Some(timer) = self.header_timer.take() {
                timer.cancel();
            }
            return;
        }
        if self.header_timer.is_some() {
            // Timed from the head's first byte, not its latest.
            return;
        }
        let Some(transport) = self.transport.clone() else {
            return;
        };
        self.header_timer = Some(EventLoop::current().call_later(
            self.timeouts.header,
            move |_| {
                HEADER_TIMEOUTS.with(|count| count.set(count.get() + 1));
                let _ =
                    transport.write_with(|out| http1::write_response(out, 408, &[], b"", false));
                linger_close(&transport);
            },
        ));
    }

    /// Ends the connection after the responses written so far.
    fn finish(&mut self) {
        self.finished = true;
        self.partial = Vec::new();
        if let Some(timer) = self.header_timer.take() {
            timer.cancel();
        }
        if let Some(transport) = &self.transport {
            linger_close(transport);
        }
    }
}

/// Sends the FIN once the buffer is flushed and keeps reading (the protocol
/// discards input once finished) until the client closes, or closes after
/// [`CLOSE_LINGER`]. A TLS transport cannot half-close: it closes (after
/// `close_notify`).
fn linger_close(transport: &Transport) {
    if !transport.can_write_eof() {
        // TLS: close sends close_notify, which the client reads as the end.
        transport.close();
        return;
    }
    if transport.write_eof().is_err() {
        // Already closing or gone.
        return;
    }
    let transport = transport.clone();
    EventLoop::current().call_later(CLOSE_LINGER, move |_| transport.close());
}
