//! Tasks spawned on another loop: [`LoopHandle::spawn`] sends a `Send`
//! factory through the target loop's mailbox, the future it makes runs
//! there (it need not be `Send`), and its `Send` output comes back through
//! a one-shot channel to whoever awaits the [`RemoteJoinHandle`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::oneshot;
use crate::task::JoinError;
use crate::LoopHandle;

/// Awaits the output of a task spawned on another loop with
/// [`LoopHandle::spawn`]. `Send`: await it on any loop or thread.
/// Dropping it detaches the task, which runs on.
#[must_use = "a RemoteJoinHandle does nothing unless awaited (dropping it detaches the task)"]
pub struct RemoteJoinHandle<T> {
    receiver: oneshot::Receiver<Result<T, JoinError>>,
}

impl<T> std::fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJoinHandle").finish_non_exhaustive()
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|result| result.unwrap_or_else(|| Err(JoinError::loop_closed(0))))
    }
}

impl LoopHandle {
    /// Spawns a task on this handle's loop, from any thread: `make` runs on
    /// that loop and builds the future (which need not be `Send`); its
    /// output comes back through the returned handle.
    ///
    /// A panic in the task resolves the handle to a [`JoinError`] that
    /// [`is_panic`](JoinError::is_panic); a loop that is or becomes closed
    /// first resolves it to one that
    /// [`is_loop_closed`](JoinError::is_loop_closed).
    ///
    /// ```
    /// use loopcore::EventLoop;
    /// let lp = EventLoop::new()?;
    /// // Any thread or loop holding the handle can do this; here it is the
    /// // loop's own.
    /// let handle = lp.handle();
    /// let answer = lp.run_until_complete(async move {
    ///     handle.spawn(|| async { 6 * 7 }).await
    /// })?;
    /// assert_eq!(answer.unwrap(), 42);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn spawn<F, Fut>(&self, make: F) -> RemoteJoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        // If the post fails the closure, and with it the sender, is dropped:
        // the handle then resolves to "loop closed".
        let _ = self.call_soon_threadsafe(move |lp| {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(make)) {
                Ok(future) => {
                    let task = lp.spawn(future);
                    lp.spawn(async move { sender.send(task.await) }).detach();
                }
                Err(payload) => {
                    let error = JoinError::panicked(payload);
                    lp.call_exception_handler(
                        &crate::ExceptionContext::new(format!(
                            "the factory of LoopHandle::spawn panicked: {error}"
                        ))
                        .with_source("task"),
                    );
                    sender.send(Err(error));
                }
            }
        });
        RemoteJoinHandle { receiver }
    }
}
