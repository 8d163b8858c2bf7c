//! hyper on loopcore's loops (feature `hyper`): [`serve_connection`]
//! serves a connection with a hyper service, safe by default (HTTP/1.1 and
//! HTTP/2, header and idle deadlines from [`HttpTimeouts`](crate::HttpTimeouts),
//! ambiguous HTTP/1 framing refused: see [`HyperServeOptions`]). Under it,
//! the runtime glue: [`LoopExecutor`] spawns hyper's background futures
//! (HTTP/2 streams, upgrades) as tasks on the current loop, `!Send` ones
//! included; [`LoopTimer`] gives hyper its timeouts on the loop's timers;
//! and [`IoStream`](crate::IoStream) is the IO (`hyper::rt::Read`/`Write`).
//! Serve with [`Runtime::serve_streams`](crate::Runtime::serve_streams):
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use loopcore::hyper_rt::{serve_connection, HyperServeOptions};
//! use loopcore::{Runtime, ServeOptions};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
//! }
//!
//! let runtime = Runtime::builder().build()?;
//! runtime.serve_streams("127.0.0.1:8080", ServeOptions::default(), |reader, writer| {
//!     serve_connection(reader, writer, service_fn(hello), HyperServeOptions::default())
//! })?;
//! runtime.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! hyper's own `server::conn::http1`/`http2` builders work on an
//! [`IoStream`](crate::IoStream) with [`LoopTimer`] and [`LoopExecutor`]
//! too, for what the driver does not do; a connection served that way has
//! none of its deadlines or checks unless you add them.
//! (`examples/examples/hyper_hello.rs` is a whole program, TLS with ALPN
//! included.)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::EventLoop;

pub use crate::hyper_serve::{serve_connection, HyperServeOptions, H2_PREFACE};

/// Spawns onto the loop running on the calling thread.
///
/// # Panics
///
/// `execute` panics when no loop runs on the calling thread: hyper calls
/// it from the connection's future, which runs on its loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopExecutor;

impl<F> hyper::rt::Executor<F> for LoopExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        EventLoop::current().spawn(future).detach();
    }
}

/// hyper's timer on the loop's timers ([`crate::sleep_until`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopTimer;

impl hyper::rt::Timer for LoopTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(LoopSleep(crate::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(LoopSleep(crate::sleep_until(deadline)))
    }
}

/// A loop [`Sleep`](crate::Sleep) made `Send + Sync`, as hyper requires.
/// hyper never moves it off its loop (a connection's futures stay there),
/// and if it did nothing would break: a `Sleep` finds its loop by id on the
/// calling thread, so polled on another loop it re-arms there, and dropped
/// elsewhere it leaves its timer to fire and wake nobody.
struct LoopSleep(crate::Sleep);

// An exception to "unsafe only in sys/": hyper's timer trait asks for a
// `Send + Sync` sleep, which a loop's timer is not.
#[allow(unsafe_code)]
// SAFETY: `Sleep` is `!Send` only through its `TimerHandle`'s marker; what
// it holds is plain data (a deadline, a timer id, a loop id, a
// `Cell<bool>`), and every operation on it looks the loop up by id among
// the loops of the calling thread, so it never reaches another thread's
// loop.
unsafe impl Send for LoopSleep {}
#[allow(unsafe_code)]
// SAFETY: `&LoopSleep` gives no access to the `Sleep` (polling needs
// `Pin<&mut>`), so sharing references cannot race on its `Cell`.
unsafe impl Sync for LoopSleep {}

impl Future for LoopSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for LoopSleep {}
