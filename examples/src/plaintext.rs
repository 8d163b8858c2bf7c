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

thread_local! {
    /// Requests answered on this thread's loop.
    static ANSWERED: Cell<u64> = const { Cell::new(0) };
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
}

impl Plaintext {
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
                request.keep_alive,
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
    /// Ends the connection after the responses written so far.
    fn finish(&mut self) {
        self.finished = true;
        self.partial = Vec::new();
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
