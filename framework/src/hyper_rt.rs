//! hyper on loopcore's loops (feature `hyper`): [`LoopExecutor`] spawns
//! hyper's background futures (HTTP/2 streams, upgrades) as tasks on the
//! current loop, `!Send` ones included; [`LoopTimer`] gives hyper its
//! timeouts on the loop's timers; and [`IoStream`](crate::IoStream) is the
//! IO (`hyper::rt::Read`/`Write`). Serve with
//! [`Runtime::serve_streams`](crate::Runtime::serve_streams) and hyper's
//! `server::conn::http1`/`http2` builders:
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use loopcore::hyper_rt::LoopTimer;
//! use loopcore::{IoStream, Runtime, ServeOptions};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
//! }
//!
//! let runtime = Runtime::builder().build()?;
//! runtime.serve_streams("127.0.0.1:8080", ServeOptions::default(), |reader, writer| async move {
//!     let io = IoStream::new(reader, writer);
//!     let _ = hyper::server::conn::http1::Builder::new()
//!         .timer(LoopTimer)
//!         .serve_connection(io, hyper::service::service_fn(hello))
//!         .await;
//! })?;
//! runtime.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (`examples/examples/hyper_hello.rs` is the whole program, HTTP/2 and
//! TLS with ALPN included.)

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::EventLoop;

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
        Box::pin(LoopSleep::new(crate::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(LoopSleep::new(crate::sleep_until(deadline)))
    }
}

/// A loop [`Sleep`](crate::Sleep) made `Send + Sync`, as hyper requires,
/// by staying on the thread that first polls it: polling it elsewhere
/// afterwards panics, and dropping it elsewhere leaks the timer's small
/// state instead of touching it (it fires later on its loop and wakes
/// nobody). hyper never moves it: a connection's futures stay on its loop.
struct LoopSleep {
    inner: ManuallyDrop<crate::Sleep>,
    /// The thread that armed the timer, once polled.
    owner: Option<ThreadId>,
}

impl LoopSleep {
    fn new(inner: crate::Sleep) -> Self {
        Self {
            inner: ManuallyDrop::new(inner),
            owner: None,
        }
    }
}

// SAFETY: the `!Send` parts of the inner `Sleep` (an `Rc` and a timer
// handle) exist only once it is polled, which records the owner thread;
// from then on it is polled and dropped only on that thread (checked in
// `poll`, and `drop` leaks it elsewhere). Before the first poll it is a
// plain deadline.
unsafe impl Send for LoopSleep {}
// SAFETY: `&LoopSleep` gives no access to the inner `Sleep` at all.
unsafe impl Sync for LoopSleep {}

impl Future for LoopSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let here = std::thread::current().id();
        match self.owner {
            None => self.owner = Some(here),
            Some(owner) => assert!(
                owner == here,
                "loopcore: a hyper sleep moved off the loop thread that armed it"
            ),
        }
        Pin::new(&mut *self.inner).poll(cx)
    }
}

impl hyper::rt::Sleep for LoopSleep {}

impl Drop for LoopSleep {
    fn drop(&mut self) {
        if self
            .owner
            .is_none_or(|owner| owner == std::thread::current().id())
        {
            // SAFETY: dropped once, here, on the thread that owns it.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
    }
}
