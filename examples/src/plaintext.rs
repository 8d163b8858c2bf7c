//! The TechEmpower "plaintext" HTTP/1.1 server as a [`Protocol`]: every
//! request gets `200 OK` with `Hello, World!`, keep-alive and pipelining
//! included; a malformed request gets `400` (too many or too large headers
//! `431`) and the connection is closed after the answer.
//!
//! Graceful shutdown (`shutdown_requested`): a connection in the middle of
//! a request answers it with `Connection: close` and closes; an idle one
//! waits [`IDLE_LINGER`] for a request that may already be on the wire,
//! answers it the same way, and otherwise closes.

use std::cell::Cell;
use std::time::Duration;

use loopcore::http1::{self, Limits};
use loopcore::{EventLoop, Protocol, Transport};

/// The response body.
pub const BODY: &[u8] = b"Hello, World!";

/// How long an idle keep-alive connection stays open after shutdown began,
/// for a request the client sent before it could see the close.
pub const IDLE_LINGER: Duration = Duration::from_millis(50);

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
            self.partial.clear();
            transport.close();
        }
    }

    fn shutdown_requested(&mut self) {
        self.draining = true;
        let Some(transport) = self.transport.clone() else {
            return;
        };
        if self.partial.is_empty() {
            // Idle: the answer to a request already sent would close it; if
            // none comes, close. (Closing an already closed transport is a
            // no-op.)
            EventLoop::current().call_later(IDLE_LINGER, move |_| transport.close());
        }
        // Mid-request: its answer closes the connection.
    }
}
