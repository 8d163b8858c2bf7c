//! A tokio runtime beside loopcore's loops, for the crates that need one
//! (reqwest, sqlx, tonic): [`TokioBridge`] owns a multi-thread tokio
//! runtime on a few helper threads, runs futures there and hands each
//! result back to the loop that asked, as a future the loop awaits.
//!
//! A loop thread has no tokio reactor, timer or task context, so tokio's
//! own APIs (`tokio::spawn`, `tokio::net`, `tokio::time::sleep`, and every
//! crate built on them) must not run there: they panic ("there is no
//! reactor running") or never wake. [`TokioBridge::spawn`] moves the whole
//! tokio-flavoured future onto the helper threads instead. When it
//! finishes, tokio wakes the awaiting loopcore task; the wake-up comes
//! from another thread, so it travels through the loop's mailbox, and the
//! loop polls the task on its own thread again. The loop is never blocked
//! while the tokio side works.
//!
//! Each call costs a cross-thread hop each way: the task is queued on the
//! tokio runtime (one wake-up of a tokio worker) and its result comes back
//! through the mailbox (one wake-up of the loop). That is cheap next to a
//! network round trip, and far too dear for a per-byte or per-message
//! path: bridge whole operations ("send this request, give me the body"),
//! not individual reads. `docs/ecosystem.md` ("Living next to tokio") has
//! the whole pattern and what does not work.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use loopcore::EventLoop;

/// How long dropping a [`TokioBridge`] off a loop thread waits, by
/// default, for tokio's blocking tasks to finish.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// A tokio multi-thread runtime on its own helper threads, whose futures
/// a loopcore loop can await.
///
/// Share one bridge between all the loops of a [`loopcore::Runtime`]
/// (it is `Send + Sync`; put it in an `Arc`): a few tokio threads serve
/// every loop's calls. Dropping the bridge shuts the tokio runtime down:
/// its tasks are cancelled, and their [`TokioTask`]s resolve to
/// [`BridgeError::Cancelled`].
///
/// ```
/// use std::time::Duration;
/// use loopcore::EventLoop;
/// use loopcore_examples::tokio_bridge::TokioBridge;
///
/// let bridge = TokioBridge::new(1)?;
/// let lp = EventLoop::new()?;
/// let answer = lp.run_until_complete(async {
///     // This future runs on the bridge's thread, where tokio's timers
///     // (and its IO, and the crates built on them) work.
///     let on_tokio = bridge.spawn(async {
///         tokio::time::sleep(Duration::from_millis(5)).await;
///         6 * 7
///     });
///     // The loop stays free meanwhile: its timers and tasks keep running.
///     loopcore::sleep(Duration::from_millis(1)).await;
///     on_tokio.await
/// })?;
/// assert_eq!(answer?, 42);
/// lp.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TokioBridge {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    shutdown_timeout: Duration,
}

impl TokioBridge {
    /// Starts a tokio multi-thread runtime with `worker_threads` helper
    /// threads (named `tokio-bridge`), with IO and timers enabled. One or
    /// two threads are plenty for a client's calls; they take CPU time
    /// from the loops, so do not give tokio a thread per core as well.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `worker_threads` is 0; whatever tokio reports
    /// when it cannot start the runtime (threads, the IO driver).
    pub fn new(worker_threads: usize) -> std::io::Result<Self> {
        if worker_threads == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "TokioBridge::new: worker_threads must be at least 1",
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads)
            .thread_name("tokio-bridge")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        })
    }

    /// How long dropping the bridge off a loop thread waits for tokio's
    /// blocking tasks (`spawn_blocking`, such as a DNS lookup) before
    /// leaving them behind ([`DEFAULT_SHUTDOWN_TIMEOUT`] unless set).
    /// Dropping on a loop thread never waits.
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopcore_examples::tokio_bridge::TokioBridge;
    ///
    /// let bridge = TokioBridge::new(1)?.with_shutdown_timeout(Duration::from_millis(100));
    /// drop(bridge); // on this (non-loop) thread: waits up to 100 ms
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The tokio runtime's handle, for what needs one outside a task: to
    /// build a client that asks for a runtime context
    /// (`let _guard = bridge.handle().enter();`), or to spawn a task whose
    /// result nobody awaits. Never `block_on` it on a loop thread: that
    /// stalls every connection of the loop until tokio is done.
    ///
    /// ```
    /// use loopcore_examples::tokio_bridge::TokioBridge;
    ///
    /// let bridge = TokioBridge::new(1)?;
    /// // A timer made inside the runtime's context; it is polled there too.
    /// let sleep = {
    ///     let _guard = bridge.handle().enter();
    ///     tokio::time::sleep(std::time::Duration::from_millis(1))
    /// };
    /// bridge.handle().spawn(sleep);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime().handle()
    }

    /// Runs `future` on the tokio runtime and returns a future for its
    /// output, to await on a loop (or anywhere else).
    ///
    /// The future starts at once, whether or not the result is awaited.
    /// `future` must be `Send + 'static` because it moves to a tokio
    /// thread: clone what it needs (an `Arc`, a `reqwest::Client`) and
    /// move the clones in; loop-only values (`Rc`, a `StreamWriter`) stay
    /// on the loop. Build tokio's futures inside the `async` block, not
    /// before it: some constructors (`tokio::time::sleep`,
    /// `tokio::time::timeout`) already look for the runtime and would
    /// panic on the loop thread.
    ///
    /// Dropping the returned [`TokioTask`] aborts the tokio task, so a loop
    /// task that is cancelled (a client that went away) cancels its tokio
    /// work too.
    ///
    /// ```
    /// use loopcore::EventLoop;
    /// use loopcore_examples::tokio_bridge::{BridgeError, TokioBridge};
    ///
    /// let bridge = TokioBridge::new(1)?;
    /// let lp = EventLoop::new()?;
    /// let (sum, failed) = lp.run_until_complete(async {
    ///     let numbers = vec![1u64, 2, 3];
    ///     let sum = bridge.spawn(async move { numbers.iter().sum::<u64>() }).await;
    ///     let failed = bridge.spawn(async { panic!("boom") }).await;
    ///     (sum, failed)
    /// })?;
    /// assert_eq!(sum?, 6);
    /// assert!(matches!(failed, Err(BridgeError::Panicked(ref m)) if m == "boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> TokioTask<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TokioTask {
            join: self.handle().spawn(future),
        }
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime is taken only in drop")
    }
}

impl Drop for TokioBridge {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let on_loop = EventLoop::try_current().is_some();
        let in_tokio = tokio::runtime::Handle::try_current().is_ok();
        if on_loop || in_tokio {
            // A loop must not stall, and tokio forbids waiting inside its
            // own context: the helper threads end on their own.
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(self.shutdown_timeout);
        }
    }
}

impl fmt::Debug for TokioBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics = self.runtime.as_ref().map(|r| r.metrics());
        f.debug_struct("TokioBridge")
            .field("worker_threads", &metrics.as_ref().map(|m| m.num_workers()))
            .field(
                "alive_tasks",
                &metrics.as_ref().map(|m| m.num_alive_tasks()),
            )
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

/// The output of a future running on a [`TokioBridge`]
/// ([`TokioBridge::spawn`]), awaited from a loop.
///
/// Resolves to the future's output, or to a [`BridgeError`] if the tokio
/// task panicked or was cancelled. Dropping it aborts the tokio task.
#[must_use = "dropping a TokioTask aborts its tokio task"]
pub struct TokioTask<T> {
    join: tokio::task::JoinHandle<T>,
}

impl<T> TokioTask<T> {
    /// Whether the tokio task has finished (its output is ready, or it
    /// failed).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

impl<T> Future for TokioTask<T> {
    type Output = Result<T, BridgeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The join handle keeps `cx`'s waker; tokio's worker wakes it when
        // the task ends. For a loopcore task that wake-up comes from
        // another thread, so the loop receives it through its mailbox.
        Pin::new(&mut self.join).poll(cx).map(|joined| {
            joined.map_err(|e| match e.try_into_panic() {
                Ok(payload) => BridgeError::Panicked(loopcore::payload_message(payload.as_ref())),
                Err(_) => BridgeError::Cancelled,
            })
        })
    }
}

impl<T> Drop for TokioTask<T> {
    fn drop(&mut self) {
        // A no-op once the task has finished.
        self.join.abort();
    }
}

impl<T> fmt::Debug for TokioTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioTask")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a [`TokioTask`] has no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeError {
    /// The tokio task was cancelled before it finished: the
    /// [`TokioBridge`] was dropped (its runtime shut down), or the task was
    /// aborted through the runtime's handle.
    Cancelled,
    /// The future panicked on the tokio thread; the panic's message.
    Panicked(String),
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str(
                "the tokio task was cancelled: the TokioBridge was dropped, or the task aborted",
            ),
            Self::Panicked(message) => write!(f, "the tokio task panicked: {message}"),
        }
    }
}

impl std::error::Error for BridgeError {}
