//! The blocking executor: one thread pool per process, shared by every loop,
//! for work that would block a loop (files, DNS, CPU-heavy calls).
//!
//! Invariants:
//! 1. Threads start lazily, one at a time, only when a job finds no idle
//!    thread; at most `max_threads` (default `min(32, cores + 4)`, as
//!    Python's `ThreadPoolExecutor`); idle threads exit after `keep_alive`.
//! 2. The shared pool is reference-counted by the loops using it: a loop
//!    that shuts its executor down detaches itself, and the pool stops only
//!    when the last loop leaves, so one loop cannot stop it for the others.
//! 3. A job's result reaches the submitting loop through that loop's
//!    mailbox (the awaiting task's waker), never by touching loop state.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::exception::{self, payload_message};
use crate::future::{pair, LoopFuture};
use crate::{Error, ErrorKind, EventLoop, Result};

/// A unit of blocking work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Something that runs blocking jobs off the loop: the built-in
/// [`ThreadPool`], or your own (`set_default_executor`).
pub trait BlockingExecutor: Send + Sync + 'static {
    /// Queues `job`; errors if the executor no longer accepts work.
    fn execute(&self, job: Job) -> Result<()>;
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
}

struct PoolInner {
    state: Mutex<PoolState>,
    work_ready: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    name: String,
    spawned: AtomicUsize,
}

/// A bounded, lazily started pool of named threads.
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<PoolInner>,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("ThreadPool")
            .field("name", &self.inner.name)
            .field("max_threads", &self.inner.max_threads)
            .field("threads", &state.threads)
            .field("queued", &state.jobs.len())
            .finish()
    }
}

/// Python's default pool size: `min(32, cores + 4)`.
pub fn default_max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores + 4).min(32)
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads named `{name}-{n}`.
    ///
    /// # Errors
    ///
    /// `max_threads` of zero is an error of kind
    /// [`InvalidInput`](ErrorKind::InvalidInput).
    pub fn new(name: impl Into<String>, max_threads: usize) -> Result<Self> {
        if max_threads == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a thread pool needs at least one thread",
            ));
        }
        Ok(Self {
            inner: Arc::new(PoolInner {
                state: Mutex::new(PoolState {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    shutdown: false,
                }),
                work_ready: Condvar::new(),
                max_threads,
                keep_alive: Duration::from_secs(10),
                name: name.into(),
                spawned: AtomicUsize::new(0),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Threads alive now.
    pub fn threads(&self) -> usize {
        self.lock().threads
    }

    /// Stops accepting jobs; queued jobs still run, then the threads exit.
    pub fn shutdown(&self) {
        self.lock().shutdown = true;
        self.inner.work_ready.notify_all();
    }

    fn spawn_worker(&self) -> std::io::Result<()> {
        let n = self.inner.spawned.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::clone(&self.inner);
        std::thread::Builder::new()
            .name(format!("{}-{n}", self.inner.name))
            .spawn(move || worker(&inner))
            .map(drop)
    }
}

impl BlockingExecutor for ThreadPool {
    fn execute(&self, job: Job) -> Result<()> {
        let mut state = self.lock();
        if state.shutdown {
            return Err(Error::new(
                ErrorKind::ExecutorShutdown,
                "the blocking executor was shut down",
            ));
        }
        state.jobs.push_back(job);
        if state.idle > 0 {
            self.inner.work_ready.notify_one();
        }
        if state.jobs.len() > state.idle && state.threads < self.inner.max_threads {
            state.threads += 1;
            if let Err(e) = self.spawn_worker() {
                state.threads -= 1;
                if state.threads == 0 {
                    state.jobs.pop_back();
                    return Err(Error::io("starting a blocking-executor thread", e));
                }
            }
        }
        Ok(())
    }
}

fn worker(inner: &PoolInner) {
    let _scope = exception::CatchScope::enter();
    let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            // Jobs catch their own panics; this guards the pool itself.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let (next, timeout) = inner
            .work_ready
            .wait_timeout(state, inner.keep_alive)
            .unwrap_or_else(|p| p.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.jobs.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}

/// The process-wide pool and how many loops use it (invariant 2).
struct SharedPool {
    pool: Option<ThreadPool>,
    users: usize,
}

static SHARED_POOL: Mutex<SharedPool> = Mutex::new(SharedPool {
    pool: None,
    users: 0,
});

fn shared_pool() -> MutexGuard<'static, SharedPool> {
    SHARED_POOL.lock().unwrap_or_else(|p| p.into_inner())
}

fn acquire_shared_pool() -> Result<ThreadPool> {
    let mut shared = shared_pool();
    let pool = match &shared.pool {
        Some(pool) => pool.clone(),
        None => {
            let pool = ThreadPool::new("loopcore-blocking", default_max_threads())?;
            shared.pool = Some(pool.clone());
            pool
        }
    };
    shared.users += 1;
    Ok(pool)
}

fn release_shared_pool() {
    let mut shared = shared_pool();
    shared.users -= 1;
    if shared.users == 0 {
        if let Some(pool) = shared.pool.take() {
            pool.shutdown();
        }
    }
}

/// Jobs a loop submitted that have not finished, and who waits for zero.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle_waker: Mutex<Option<Waker>>,
}

impl InFlight {
    fn finish_one(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waker = self
                .idle_waker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

enum Attachment {
    /// Nothing submitted yet; the shared pool is attached on first use.
    Lazy,
    /// Using the shared pool (counted in its users).
    Shared(Arc<dyn BlockingExecutor>),
    /// Using an executor the user set.
    Custom(Arc<dyn BlockingExecutor>),
    /// `shutdown_default_executor` or `close` ran: submitting is an error.
    Detached,
}

/// A loop's view of its executor.
pub(crate) struct ExecutorState {
    attachment: Attachment,
    in_flight: Arc<InFlight>,
}

impl Default for ExecutorState {
    fn default() -> Self {
        Self {
            attachment: Attachment::Lazy,
            in_flight: Arc::default(),
        }
    }
}

impl ExecutorState {
    fn executor(&mut self) -> Result<Arc<dyn BlockingExecutor>> {
        match &self.attachment {
            Attachment::Lazy => {
                let pool: Arc<dyn BlockingExecutor> = Arc::new(acquire_shared_pool()?);
                self.attachment = Attachment::Shared(Arc::clone(&pool));
                Ok(pool)
            }
            Attachment::Shared(pool) => Ok(Arc::clone(pool)),
            Attachment::Custom(executor) => Ok(Arc::clone(executor)),
            Attachment::Detached => Err(Error::new(
                ErrorKind::ExecutorShutdown,
                "this loop's default executor was shut down (shutdown_default_executor or close)",
            )),
        }
    }

    /// Leaves the shared pool, if attached; later submissions fail.
    pub(crate) fn detach(&mut self) {
        if let Attachment::Shared(_) = std::mem::replace(&mut self.attachment, Attachment::Detached)
        {
            release_shared_pool();
        }
    }
}

/// The result of [`EventLoop::run_in_executor`].
pub struct ExecutorFuture<T> {
    inner: std::result::Result<LoopFuture<std::thread::Result<T>>, Option<Error>>,
}

impl<T> fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorFuture").finish_non_exhaustive()
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let future = match &mut self.inner {
            Ok(future) => future,
            Err(error) => {
                return Poll::Ready(Err(error.take().unwrap_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        "ExecutorFuture polled after completion",
                    )
                })))
            }
        };
        match Pin::new(future).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ok(value))) => Poll::Ready(Ok(value)),
            Poll::Ready(Ok(Err(payload))) => Poll::Ready(Err(Error::new(
                ErrorKind::Panicked,
                format!(
                    "the blocking job panicked: {}",
                    payload_message(payload.as_ref())
                ),
            ))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl EventLoop {
    /// Runs `f` on the loop's blocking executor (by default the process's
    /// shared pool) and resolves, on this loop, to its result. The work is
    /// submitted at once, not when the future is first polled.
    ///
    /// A panic in `f` becomes an error of kind [`Panicked`](ErrorKind::Panicked);
    /// submitting after `shutdown_default_executor` is an error of kind
    /// [`ExecutorShutdown`](ErrorKind::ExecutorShutdown).
    ///
    /// ```
    /// let lp = loopcore::EventLoop::new()?;
    /// let sum = lp.run_until_complete(lp.run_in_executor(|| (1..=100u64).sum::<u64>()))??;
    /// assert_eq!(sum, 5050);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn run_in_executor<T, F>(&self, f: F) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (executor, in_flight) = {
            let mut state = self.core.executor.borrow_mut();
            let executor = if self.is_closed() {
                Err(Error::closed())
            } else {
                state.executor()
            };
            (executor, Arc::clone(&state.in_flight))
        };
        let executor = match executor {
            Ok(executor) => executor,
            Err(e) => {
                return ExecutorFuture {
                    inner: Err(Some(e)),
                }
            }
        };
        let (future, resolver) = pair();
        in_flight.count.fetch_add(1, Ordering::AcqRel);
        let done = Arc::clone(&in_flight);
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = resolver.resolve(result);
            done.finish_one();
        });
        match executor.execute(job) {
            Ok(()) => ExecutorFuture { inner: Ok(future) },
            Err(e) => {
                in_flight.finish_one();
                ExecutorFuture {
                    inner: Err(Some(e)),
                }
            }
        }
    }

    /// Makes `executor` this loop's default executor (asyncio's
    /// `set_default_executor`); the loop leaves the shared pool.
    pub fn set_default_executor(&self, executor: Arc<dyn BlockingExecutor>) -> Result<()> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        let mut state = self.core.executor.borrow_mut();
        state.detach();
        state.attachment = Attachment::Custom(executor);
        Ok(())
    }

    /// Waits (up to `timeout`) for the work this loop submitted, then
    /// detaches this loop from its executor: later `run_in_executor` calls
    /// fail. The shared pool itself stops only when no loop uses it.
    ///
    /// Errors of kind [`TimedOut`](ErrorKind::TimedOut) if the work is not
    /// done in time; the loop is detached either way.
    pub async fn shutdown_default_executor(&self, timeout: Duration) -> Result<()> {
        let in_flight = {
            let mut state = self.core.executor.borrow_mut();
            state.detach();
            Arc::clone(&state.in_flight)
        };
        let drained = std::future::poll_fn(|cx| {
            if in_flight.count.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            *in_flight
                .idle_waker
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
            // Re-check: the last job may have finished before the waker was stored.
            if in_flight.count.load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        crate::time::timeout(timeout, drained).await.map_err(|_| {
            Error::new(
                ErrorKind::TimedOut,
                format!("blocking work was still running after {timeout:?}"),
            )
        })
    }
}
