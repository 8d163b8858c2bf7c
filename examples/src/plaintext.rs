//! The TechEmpower "plaintext" HTTP/1.1 server: every request gets `200 OK`
//! with `Hello, World!`. Everything else an HTTP server needs (keep-alive
//! and pipelining, `400`/`431`/`413` for bad requests, the request
//! deadline and its `408`, the idle timeout, lingering close, reading
//! paused while answers pile up, graceful shutdown, load shedding) is the
//! framework's HTTP/1 driver, [`loopcore::http1::Http1Connection`], with
//! its safe defaults ([`Timeouts::default`]: 30 s per request, 60 s idle).

use std::cell::Cell;
use std::io;
use std::rc::Rc;

use loopcore::http1::{
    Http1Connection, Http1Handler, Http1Options, PreparedResponse, Reply, Request,
};
use loopcore::{HttpTimeouts, Protocol, Transport};

/// The response body.
pub const BODY: &[u8] = b"Hello, World!";

/// How long a connection may take: the framework's HTTP deadlines.
pub type Timeouts = HttpTimeouts;

thread_local! {
    /// Requests answered on this thread's loop.
    static ANSWERED: Cell<u64> = const { Cell::new(0) };
    /// The answer, prepared once per loop thread: each request copies it
    /// with the current `Date` (TechEmpower's plaintext rules allow a
    /// prebuilt answer; the date must be current). Each connection's
    /// handler holds it, so answering looks up no thread-local.
    static HELLO: Rc<PreparedResponse> = Rc::new(PreparedResponse::new(
        200,
        &[("Server", "loopcore"), ("Content-Type", "text/plain")],
        BODY,
    ));
}

/// Requests the plaintext protocol answered on the calling thread's loop
/// (a runtime's per-loop count, read from `on_loop_stop`).
pub fn requests_answered_here() -> u64 {
    ANSWERED.with(Cell::get)
}

/// The handler: `Hello, World!` whatever was asked.
#[derive(Debug, Clone)]
pub struct Hello(Rc<PreparedResponse>);

impl Default for Hello {
    /// The calling thread's prepared answer.
    fn default() -> Self {
        Self(HELLO.with(Rc::clone))
    }
}

impl Http1Handler for Hello {
    fn respond(&mut self, _request: &Request<'_>, reply: &mut Reply<'_>) {
        ANSWERED.with(|count| count.set(count.get() + 1));
        let persistence = reply.persistence();
        self.0.write(reply.out(), persistence);
    }
}

/// One connection of the plaintext server.
#[derive(Debug)]
pub struct Plaintext(Http1Connection<Hello>);

impl Default for Plaintext {
    fn default() -> Self {
        Self::with_options(Http1Options::default())
    }
}

impl Plaintext {
    /// A connection with these timeouts.
    pub fn with_timeouts(timeouts: Timeouts) -> Self {
        Self::with_options(Http1Options::default().timeouts(timeouts))
    }

    /// A connection with these driver options.
    pub fn with_options(options: Http1Options) -> Self {
        Self(Http1Connection::new(Hello::default(), options))
    }

    /// A connection that sheds load above `pending` items of work on the
    /// loop (`503` with `Retry-After: 1`, counted in the loop's `shed`),
    /// with the default timeouts.
    pub fn shedding_above(pending: usize) -> Self {
        Self::with_options(Http1Options::default().shed_above(pending))
    }
}

impl Protocol for Plaintext {
    fn connection_made(&mut self, transport: Transport) {
        self.0.connection_made(transport)
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.data_received(data)
    }
    fn eof_received(&mut self) -> bool {
        self.0.eof_received()
    }
    fn connection_lost(&mut self, error: Option<io::Error>) {
        self.0.connection_lost(error)
    }
    fn pause_writing(&mut self) {
        self.0.pause_writing()
    }
    fn resume_writing(&mut self) {
        self.0.resume_writing()
    }
    fn shutdown_requested(&mut self) {
        self.0.shutdown_requested()
    }
}
