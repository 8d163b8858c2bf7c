//! Graceful shutdown: the runtime-wide request ([`ShutdownToken`]) and what
//! each loop does with it. On every loop, in order: its `serve` listeners
//! accept what is already queued and close, every connection's protocol
//! gets `shutdown_requested`, and the loop stops once its connections are
//! gone or aborts them at the deadline and stops.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::context;
use super::RuntimeShared;
use crate::EventLoop;

/// How often a shutting-down loop checks whether its connections are gone.
const CHECK_EVERY: Duration = Duration::from_millis(5);

/// The runtime-wide shutdown request.
#[derive(Default)]
pub(crate) struct ShutdownState {
    requested: AtomicBool,
    deadline: Mutex<Option<Instant>>,
    waiters: Mutex<Vec<Waker>>,
}

impl ShutdownState {
    /// Records a request with `deadline`; returns the deadline in force
    /// (an earlier one wins) and whether this was the first request.
    pub(crate) fn request(&self, deadline: Instant) -> (Instant, bool) {
        let mut current = self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
        let first = current.is_none();
        let effective = current.map_or(deadline, |d| d.min(deadline));
        *current = Some(effective);
        self.requested.store(true, Ordering::Release);
        drop(current);
        let waiters =
            std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in waiters {
            waker.wake();
        }
        (effective, first)
    }

    pub(crate) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }
}

/// Tells code that is not a [`Protocol`](crate::Protocol) — tasks,
/// stream-based servers — that the runtime is shutting down. Cheap to
/// clone, `Send + Sync`; await [`wait`](Self::wait) or poll
/// [`is_requested`](Self::is_requested).
///
/// ```no_run
/// # async fn serve_until_shutdown(token: loopcore::ShutdownToken) {
/// token.wait().await;
/// // stop taking work, finish what is in flight, close
/// # }
/// ```
#[derive(Clone)]
pub struct ShutdownToken {
    pub(crate) runtime: Arc<RuntimeShared>,
}

impl std::fmt::Debug for ShutdownToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownToken")
            .field("requested", &self.is_requested())
            .finish()
    }
}

impl ShutdownToken {
    /// True once shutdown has been requested.
    pub fn is_requested(&self) -> bool {
        self.runtime.shutdown.is_requested()
    }

    /// Resolves once shutdown has been requested (at once if it was).
    pub fn wait(&self) -> ShutdownWait {
        ShutdownWait {
            runtime: self.runtime.clone(),
        }
    }
}

/// The future of [`ShutdownToken::wait`].
#[derive(Clone)]
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownWait {
    runtime: Arc<RuntimeShared>,
}

impl std::fmt::Debug for ShutdownWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownWait").finish_non_exhaustive()
    }
}

impl Future for ShutdownWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = &self.runtime.shutdown;
        if state.is_requested() {
            return Poll::Ready(());
        }
        let mut waiters = state.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        drop(waiters);
        // A request between the first check and the push woke nobody.
        if state.is_requested() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Starts (or hurries) shutdown on the calling loop; runs on every runtime
/// loop through its mailbox.
pub(crate) fn begin_on_loop(lp: &EventLoop, deadline: Instant) {
    let Some(context) = context::current() else {
        return;
    };
    let first = match context.deadline.get() {
        None => true,
        Some(current) if deadline < current => false,
        Some(_) => return,
    };
    context.deadline.set(Some(deadline));
    if !first {
        // The watch below reads the new deadline on its next check; make
        // that check now.
        lp.call_soon(check);
        return;
    }
    let servers = std::mem::take(&mut *context.servers.borrow_mut());
    for server in &servers {
        server.drain_and_close(lp);
    }
    lp.notify_conns_of_shutdown();
    check(lp);
}

/// Stops the loop once its connections are gone; aborts them at the
/// deadline.
fn check(lp: &EventLoop) {
    let Some(deadline) = context::current().and_then(|c| c.deadline.get()) else {
        return;
    };
    if lp.conn_count() == 0 {
        lp.stop();
        return;
    }
    let now = Instant::now();
    if now >= deadline {
        lp.abort_all_conns();
        // After the `connection_lost` calls the aborts queued.
        lp.call_soon(|lp| lp.stop());
        return;
    }
    lp.call_later((deadline - now).min(CHECK_EVERY), check);
}

/// Whether the calling runtime loop is shutting down.
pub(crate) fn loop_is_shutting_down() -> bool {
    context::current().is_some_and(|c| c.deadline.get().is_some())
}
