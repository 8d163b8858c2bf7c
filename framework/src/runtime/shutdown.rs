//! Graceful shutdown: the runtime-wide request ([`ShutdownToken`]) and what
//! each loop does with it. On every loop, in order: its listeners accept
//! what is already queued and close, every connection's protocol gets
//! `shutdown_requested`, and the loop stops once its connections are gone
//! (and no connection handed over by an accepting loop is on its way) or
//! aborts them at the deadline and stops.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::context;
use super::RuntimeShared;
use crate::sync::OnceNotify;
use crate::EventLoop;

/// How often a shutting-down loop checks whether its connections are gone.
const CHECK_EVERY: Duration = Duration::from_millis(5);

/// The runtime-wide shutdown request.
#[derive(Default)]
pub(crate) struct ShutdownState {
    deadline: Mutex<Option<Instant>>,
    /// The notice `ShutdownWait`s wait for; a dropped waiter forgets its
    /// waker.
    notice: OnceNotify,
}

/// `now + grace`, or a deadline far enough to mean "never" when that
/// overflows (`Duration::MAX` as a grace period).
pub(crate) fn deadline_after(grace: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(grace)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

impl ShutdownState {
    /// Records a request with `deadline`; returns the deadline in force
    /// (an earlier one wins) and whether this was the first request.
    pub(crate) fn request(&self, deadline: Instant) -> (Instant, bool) {
        let mut current = self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
        let first = current.is_none();
        let effective = current.map_or(deadline, |d| d.min(deadline));
        *current = Some(effective);
        drop(current);
        self.notice.notify();
        (effective, first)
    }

    pub(crate) fn is_requested(&self) -> bool {
        self.notice.is_notified()
    }
}

/// Tells code that is not a [`Protocol`](crate::Protocol) — tasks,
/// stream-based servers — that the runtime is shutting down. Cheap to
/// clone, `Send + Sync`; await [`wait`](Self::wait) or poll
/// [`is_requested`](Self::is_requested).
///
/// A loop stops as soon as it has no connection left, so the time a task
/// gets after the notice is the time its loop's connections (its own
/// streams included) take to close, up to the grace period. A task with no
/// connection should finish its work without awaiting anything else.
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
            id: self.runtime.shutdown.notice.new_waiter(),
        }
    }
}

/// The future of [`ShutdownToken::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownWait {
    runtime: Arc<RuntimeShared>,
    id: u64,
}

impl Drop for ShutdownWait {
    fn drop(&mut self) {
        self.runtime.shutdown.notice.forget(self.id);
    }
}

impl std::fmt::Debug for ShutdownWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownWait").finish_non_exhaustive()
    }
}

impl Future for ShutdownWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.runtime.shutdown.notice.poll_wait(self.id, cx)
    }
}

/// Starts (or hurries) shutdown on the calling loop; runs on every runtime
/// loop through its mailbox.
pub(crate) fn begin_on_loop(lp: &EventLoop, deadline: Instant) {
    let Some(context) = context::current() else {
        return;
    };
    match context.deadline.get() {
        Some(current) if deadline >= current => return,
        Some(_) => {
            // Hurried: the running check (every 5 ms at most) reads it.
            context.deadline.set(Some(deadline));
            return;
        }
        None => {}
    }
    // Drained connections are set up before the notice goes out, so every
    // connection is told exactly once; the deadline is set after it, and
    // from then on a connection set up here is told as it is made.
    for server in lp.servers() {
        server.drain_and_close(lp);
    }
    lp.notify_conns_of_shutdown();
    context.deadline.set(Some(deadline));
    tracing::info!(
        connections = lp.conn_count(),
        grace_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64,
        "loopcore: shutdown began; serving the open connections until they close"
    );
    check(lp);
}

/// Stops the loop once its connections are gone and nothing is on its way
/// to it; aborts them at the deadline.
fn check(lp: &EventLoop) {
    let Some(context) = context::current() else {
        return;
    };
    let Some(deadline) = context.deadline.get() else {
        return;
    };
    if lp.conn_count() == 0 {
        // From here an accepting loop hands nothing more to this one; a
        // connection already on its way is waited for (`sync::handoff`).
        if context.runtime.slots[context.index].handoff.close_if_idle() {
            tracing::info!("loopcore: every connection closed; the loop stops");
            lp.stop();
            return;
        }
    }
    let now = Instant::now();
    if now >= deadline {
        tracing::warn!(
            aborted = lp.conn_count(),
            "loopcore: grace period over; aborting the connections left"
        );
        lp.abort_all_conns();
        // After the `connection_lost` calls the aborts queued.
        lp.call_soon(|lp| lp.stop());
        return;
    }
    lp.call_later((deadline - now).min(CHECK_EVERY), check);
}
