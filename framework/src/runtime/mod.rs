//! The thread-per-core runtime: N event loops, each on its own (optionally
//! pinned) thread, started together, serving shared addresses
//! ([`Runtime::serve`]), talking only through their mailboxes, and shut
//! down together ([`RuntimeHandle::shutdown`]).
//!
//! Life of a runtime: [`Builder::build`] starts the threads; each creates
//! its loop and reports its [`LoopHandle`]; once all have, each runs the
//! start closure and then its loop. [`Runtime::run`] runs a small control
//! loop on the calling thread (it owns SIGINT/SIGTERM) until every loop
//! thread has ended (after a shutdown), then joins them.

mod context;
mod cpus;
mod serve;
mod serve_listeners;
mod serve_streams;
mod sharded;
mod shutdown;
mod upgrade;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

pub use context::current_loop_index;
pub use cpus::{allowed_cpus, available_cpus, Pinning};
pub use serve::{Balance, ServeOptions};
pub use sharded::Sharded;
pub use shutdown::{ShutdownToken, ShutdownWait};
pub use upgrade::Upgrade;

use crate::exception::payload_message;
use crate::{
    BlockingExecutor, Error, ErrorKind, EventLoop, LoopHandle, LoopStats, Protocol, Result,
};

type LoopHook = Arc<dyn Fn(&EventLoop) + Send + Sync>;

/// Configures and starts a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// use loopcore::Runtime;
///
/// let runtime = Runtime::builder()
///     .loops(2)
///     .thread_name("worker")
///     .handle_signals(false)
///     .on_loop_start(|lp| {
///         let index = loopcore::current_loop_index().unwrap();
///         lp.call_soon(move |_| println!("loop {index} is up"));
///     })
///     .build()?;
/// assert_eq!(runtime.handles().len(), 2);
/// runtime.shutdown(Duration::ZERO);
/// runtime.run()?;
/// # Ok::<(), loopcore::Error>(())
/// ```
#[must_use = "a Builder does nothing until build() is called"]
pub struct Builder {
    loops: Option<usize>,
    pinning: Pinning,
    thread_name: String,
    on_loop_start: Option<LoopHook>,
    on_loop_stop: Option<LoopHook>,
    handle_signals: bool,
    shutdown_grace: Duration,
    executor: Option<Arc<dyn BlockingExecutor>>,
    upgrade_on_sigusr2: Option<Upgrade>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("loops", &self.loops)
            .field("pinning", &self.pinning)
            .field("thread_name", &self.thread_name)
            .field("handle_signals", &self.handle_signals)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("upgrade_on_sigusr2", &self.upgrade_on_sigusr2)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            loops: None,
            pinning: Pinning::Off,
            thread_name: "loopcore".to_owned(),
            on_loop_start: None,
            on_loop_stop: None,
            handle_signals: true,
            shutdown_grace: Duration::from_secs(10),
            executor: None,
            upgrade_on_sigusr2: None,
        }
    }
}

impl Builder {
    /// The number of loops (default: the CPUs this process may use, after
    /// its affinity mask and cgroup CPU quota; see [`available_cpus`]).
    /// More loops than CPUs is allowed.
    pub fn loops(mut self, loops: usize) -> Self {
        self.loops = Some(loops);
        self
    }

    /// Whether and where to pin each loop's thread (default
    /// [`Pinning::Off`]).
    pub fn pinning(mut self, pinning: Pinning) -> Self {
        self.pinning = pinning;
        self
    }

    /// The loop threads' name prefix; thread `i` is `"{name}-{i}"` (default
    /// `loopcore`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Runs on every loop, on its thread, before it starts running: set up
    /// per-loop servers and state there.
    /// [`current_loop_index`] says which loop it is.
    pub fn on_loop_start(mut self, hook: impl Fn(&EventLoop) + Send + Sync + 'static) -> Self {
        self.on_loop_start = Some(Arc::new(hook));
        self
    }

    /// Runs on every loop, on its thread, after it stops and before it
    /// closes: report per-loop figures there.
    pub fn on_loop_stop(mut self, hook: impl Fn(&EventLoop) + Send + Sync + 'static) -> Self {
        self.on_loop_stop = Some(Arc::new(hook));
        self
    }

    /// Whether [`Runtime::run`] makes SIGINT and SIGTERM start a graceful
    /// shutdown with the default grace period (default on); a second
    /// signal aborts what is left at once. The handlers are installed for
    /// the duration of `run` (before it, the signals' dispositions are
    /// untouched).
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.handle_signals = on;
        self
    }

    /// How long a signal-started shutdown waits for connections to finish
    /// before aborting them (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// The blocking executor every loop uses (default: the process-wide
    /// shared pool).
    pub fn executor(mut self, executor: Arc<dyn BlockingExecutor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Makes [`Runtime::run`] answer `SIGUSR2` with a zero-downtime
    /// restart ([`RuntimeHandle::upgrade`] with these settings): the
    /// successor gets the listening sockets, and this process drains and
    /// exits once it serves. Off by default; independent of
    /// [`handle_signals`](Self::handle_signals).
    pub fn upgrade_on_sigusr2(mut self, upgrade: Upgrade) -> Self {
        self.upgrade_on_sigusr2 = Some(upgrade);
        self
    }

    /// Starts the loops and returns once every one is up.
    ///
    /// Fails if a thread or a loop cannot be created (none is left
    /// running then), or if `loops(0)` was asked for.
    pub fn build(self) -> Result<Runtime> {
        let loops = self.loops.unwrap_or_else(available_cpus);
        if loops == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a runtime needs at least one loop",
            ));
        }
        let cpus = self.pinning.cpus_for(loops)?;
        let shared = Arc::new(RuntimeShared {
            handles: OnceLock::new(),
            slots: (0..loops).map(|_| LoopSlot::default()).collect(),
            shutdown: shutdown::ShutdownState::default(),
            failure: Mutex::new(None),
            grace: self.shutdown_grace,
            handle_signals: self.handle_signals,
            upgrade_on_sigusr2: self.upgrade_on_sigusr2,
            listeners: upgrade::Listeners::default(),
            // Now, before the binary can be replaced: afterwards the
            // kernel's link reads "… (deleted)".
            program: std::env::current_exe().ok(),
            live_threads: AtomicUsize::new(loops),
            control: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        let config = Arc::new(LoopConfig {
            on_loop_start: self.on_loop_start,
            on_loop_stop: self.on_loop_stop,
            executor: self.executor,
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut threads = Vec::with_capacity(loops);
        let mut starters = Vec::with_capacity(loops);
        for index in 0..loops {
            let (start_tx, start_rx) = mpsc::channel::<bool>();
            let for_thread = shared.clone();
            let config = config.clone();
            let ready_tx = ready_tx.clone();
            let cpu = cpus.as_ref().map(|cpus| cpus[index % cpus.len()]);
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || loop_thread(index, cpu, for_thread, config, ready_tx, start_rx));
            match spawned {
                Ok(thread) => {
                    threads.push(thread);
                    starters.push(start_tx);
                }
                Err(e) => {
                    // The threads that were never spawned never end.
                    shared
                        .live_threads
                        .fetch_sub(loops - index, Ordering::AcqRel);
                    abort_start(starters, threads);
                    return Err(Error::io(format!("spawning loop thread {index}"), e));
                }
            }
        }
        drop(ready_tx);
        let mut handles: Vec<Option<LoopHandle>> = vec![None; loops];
        let mut failure = None;
        for _ in 0..loops {
            match ready_rx.recv() {
                Ok((index, Ok(handle))) => handles[index] = Some(handle),
                Ok((index, Err(e))) => {
                    failure
                        .get_or_insert(Error::new(e.kind(), format!("starting loop {index}: {e}")));
                }
                Err(_) => {
                    failure.get_or_insert(Error::new(
                        ErrorKind::Panicked,
                        "a loop thread died while starting",
                    ));
                    break;
                }
            }
        }
        if let Some(error) = failure {
            abort_start(starters, threads);
            return Err(error);
        }
        let handles = handles
            .into_iter()
            .map(|h| h.expect("every loop reported"))
            .collect();
        let _ = shared.handles.set(handles);
        for starter in starters {
            let _ = starter.send(true);
        }
        Ok(Runtime {
            handle: RuntimeHandle { shared },
            threads,
        })
    }
}

/// Tells started threads to give up, and waits for them.
fn abort_start(starters: Vec<mpsc::Sender<bool>>, threads: Vec<JoinHandle<()>>) {
    for starter in starters {
        let _ = starter.send(false);
    }
    for thread in threads {
        let _ = thread.join();
    }
}

/// What every loop thread needs from the builder.
struct LoopConfig {
    on_loop_start: Option<LoopHook>,
    on_loop_stop: Option<LoopHook>,
    executor: Option<Arc<dyn BlockingExecutor>>,
}

/// What other threads may read of one loop, kept apart per loop.
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct LoopSlot {
    /// Connections an accepting loop hands to this loop, and whether it
    /// is stopping.
    pub(crate) handoff: crate::sync::HandoffGate,
}

/// State shared by the runtime's threads and handles.
pub(crate) struct RuntimeShared {
    handles: OnceLock<Vec<LoopHandle>>,
    pub(crate) slots: Vec<LoopSlot>,
    pub(crate) shutdown: shutdown::ShutdownState,
    /// The first loop-thread failure, reported by `run`.
    failure: Mutex<Option<String>>,
    grace: Duration,
    handle_signals: bool,
    upgrade_on_sigusr2: Option<Upgrade>,
    /// Every listening socket served, for a restart to hand over.
    pub(crate) listeners: upgrade::Listeners,
    /// This process's program, for a restart to start again.
    program: Option<std::path::PathBuf>,
    /// Loop threads not yet ended.
    live_threads: AtomicUsize,
    /// `run`'s control loop, told when a loop thread ends.
    control: Mutex<Option<LoopHandle>>,
    /// Every loop thread has ended.
    stopped: AtomicBool,
}

impl RuntimeShared {
    pub(crate) fn handles(&self) -> &[LoopHandle] {
        self.handles.get().map_or(&[], Vec::as_slice)
    }

    /// A loop thread ended: wake `run`'s control loop.
    fn thread_ended(self: &Arc<Self>) {
        self.live_threads.fetch_sub(1, Ordering::AcqRel);
        let control = self
            .control
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(control) = control {
            let shared = self.clone();
            let _ = control.call_soon_threadsafe(move |lp| {
                if shared.live_threads.load(Ordering::Acquire) == 0 {
                    lp.stop();
                }
            });
        }
    }

    fn record_failure(&self, message: String) {
        tracing::error!("loopcore runtime: {message}; shutting down");
        eprintln!("loopcore runtime: {message}; shutting down");
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert(message);
    }
}

/// Loop thread `index`: its loop's life, then the notice that it ended.
fn loop_thread(
    index: usize,
    cpu: Option<usize>,
    shared: Arc<RuntimeShared>,
    config: Arc<LoopConfig>,
    ready: mpsc::Sender<(usize, Result<LoopHandle>)>,
    start: mpsc::Receiver<bool>,
) {
    // Everything logged on this thread (exception handler, slow callbacks,
    // shutdown, the user's own events) says which loop said it.
    let span = tracing::info_span!("loop", index, cpu = ?cpu);
    let _in_span = span.enter();
    let ended = shared.clone();
    let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_loop(index, cpu, shared, config, ready, start);
    }));
    if let Err(payload) = body {
        ended.record_failure(format!(
            "loop thread {index} died: {}",
            payload_message(&*payload)
        ));
        RuntimeHandle {
            shared: ended.clone(),
        }
        .shutdown(ended.grace);
    }
    ended.thread_ended();
}

fn run_loop(
    index: usize,
    cpu: Option<usize>,
    shared: Arc<RuntimeShared>,
    config: Arc<LoopConfig>,
    ready: mpsc::Sender<(usize, Result<LoopHandle>)>,
    start: mpsc::Receiver<bool>,
) {
    if let Some(cpu) = cpu {
        cpus::pin_current_thread(cpu);
    }
    let lp = match EventLoop::new() {
        Ok(lp) => lp,
        Err(e) => {
            let _ = ready.send((index, Err(e)));
            return;
        }
    };
    if let Some(executor) = &config.executor {
        let _ = lp.set_default_executor(executor.clone());
    }
    let _ = ready.send((index, Ok(lp.handle())));
    drop(ready);
    if start.recv() != Ok(true) {
        let _ = lp.close();
        return;
    }
    context::enter(context::LoopContext {
        index,
        runtime: shared.clone(),
        deadline: Default::default(),
        shards: Default::default(),
    });
    // A shutdown requested before this loop got its mailbox message
    // (`build` returned and `shutdown` ran at once) is handled by that
    // message; nothing to check here.
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(hook) = &config.on_loop_start {
            hook(&lp);
        }
    }));
    let outcome = match started {
        Err(payload) => Err(format!(
            "loop {index}'s start closure panicked: {}",
            payload_message(&*payload)
        )),
        Ok(()) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.run_forever()))
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("loop {index} failed: {e}")),
            Err(payload) => Err(format!(
                "loop {index} panicked: {}",
                payload_message(&*payload)
            )),
        },
    };
    if let Err(message) = outcome {
        shared.record_failure(message);
        RuntimeHandle {
            shared: shared.clone(),
        }
        .shutdown(shared.grace);
    }
    if let Some(hook) = &config.on_loop_stop {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&lp))) {
            shared.record_failure(format!(
                "loop {index}'s stop closure panicked: {}",
                payload_message(&*payload)
            ));
        }
    }
    context::leave();
    let _ = lp.close();
}

/// SIGINT/SIGTERM start a graceful shutdown; a second one hurries it to now.
fn install_signal_handlers(control: &EventLoop, shared: &Arc<RuntimeShared>) {
    for signum in [libc::SIGINT, libc::SIGTERM] {
        let runtime = RuntimeHandle {
            shared: shared.clone(),
        };
        let installed = control.add_signal_handler(signum, move |_| {
            if runtime.shutdown_token().is_requested() {
                runtime.shutdown(Duration::ZERO);
            } else {
                runtime.shutdown(runtime.shared.grace);
            }
        });
        if let Err(e) = installed {
            tracing::warn!("loopcore runtime: cannot handle signal {signum}: {e}");
        }
    }
}

/// SIGUSR2 starts a zero-downtime restart.
fn install_upgrade_handler(control: &EventLoop, shared: &Arc<RuntimeShared>, upgrade: Upgrade) {
    let runtime = RuntimeHandle {
        shared: shared.clone(),
    };
    let installed = control.add_signal_handler(libc::SIGUSR2, move |_| {
        if let Err(e) = runtime.upgrade(upgrade.clone()) {
            tracing::error!(target: "loopcore::runtime", "upgrade on SIGUSR2 refused: {e}");
        }
    });
    if let Err(e) = installed {
        tracing::warn!("loopcore runtime: cannot handle SIGUSR2 for upgrades: {e}");
    }
}

/// A running set of loops, each on its own (optionally pinned) thread,
/// serving shared addresses ([`serve`](Self::serve)), talking only through
/// their mailboxes, and shut down together ([`shutdown`](Self::shutdown)).
/// Made by [`Builder::build`], which starts the threads; [`run`](Self::run)
/// blocks until every loop has stopped.
///
/// Dropping it without [`run`](Self::run) shuts it down at once and joins
/// its threads.
#[derive(Debug)]
pub struct Runtime {
    handle: RuntimeHandle,
    threads: Vec<JoinHandle<()>>,
}

impl Runtime {
    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A `Send + Sync` handle for other threads and for the loops
    /// themselves.
    pub fn handle(&self) -> RuntimeHandle {
        self.handle.clone()
    }

    /// Every loop's handle, in index order.
    pub fn handles(&self) -> &[LoopHandle] {
        self.handle.shared.handles()
    }

    /// Serves `addr` on every loop with protocols from `factory` (called
    /// on the loop that serves each connection); returns the bound
    /// addresses (with port 0, the port every loop shares).
    ///
    /// Binding happens here, so an address in use fails now, with an
    /// error whose [`io_error`](crate::Error::io_error) is `AddrInUse`:
    /// whether another process listens on it with `SO_REUSEPORT` or not
    /// (the balance mode's own `SO_REUSEPORT` would otherwise join that
    /// process's group and the kernel would split connections between
    /// the two), unless [`ServeOptions::share_port`] asks for exactly that.
    /// Linux has no exclusive reuseport group: a process of the same user
    /// that sets `SO_REUSEPORT` itself can still join later, and two
    /// processes starting in the same microseconds can both pass the check.
    /// Each loop starts accepting as soon as it reads its mailbox.
    pub fn serve<A, F, P>(
        &self,
        addr: A,
        options: ServeOptions,
        factory: F,
    ) -> Result<Vec<SocketAddr>>
    where
        A: ToSocketAddrs,
        F: Fn() -> P + Send + Sync + 'static,
        P: Protocol,
    {
        self.handle.serve(addr, options, factory)
    }

    /// Starts a graceful shutdown; see [`RuntimeHandle::shutdown`].
    pub fn shutdown(&self, grace: Duration) {
        self.handle.shutdown(grace);
    }

    /// Per-loop and summed counters.
    pub fn stats(&self) -> RuntimeStats {
        self.handle.stats()
    }

    /// Blocks until every loop has stopped, then joins the threads. While
    /// it blocks, SIGINT and SIGTERM start a graceful shutdown (unless
    /// [`Builder::handle_signals`] turned that off).
    ///
    /// Returns an error of kind [`ErrorKind::Panicked`] if a loop thread
    /// died (a panic outside the callbacks the loop catches, or in a start
    /// closure): the other loops were shut down gracefully first.
    pub fn run(mut self) -> Result<()> {
        let supervised = self.supervise();
        let joined = self.join();
        joined.and(supervised)
    }

    /// Runs the control loop until every loop thread has ended.
    fn supervise(&self) -> Result<()> {
        let shared = &self.handle.shared;
        let control = EventLoop::new()?;
        if shared.handle_signals {
            install_signal_handlers(&control, shared);
        }
        if let Some(upgrade) = shared.upgrade_on_sigusr2.clone() {
            install_upgrade_handler(&control, shared, upgrade);
        }
        *shared
            .control
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(control.handle());
        // A thread that ended before the handle was set found no one to
        // tell: count instead of waiting for its message.
        let result = if shared.live_threads.load(Ordering::Acquire) > 0 {
            control.run_forever()
        } else {
            Ok(())
        };
        *shared
            .control
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        control.close()?;
        result
    }

    fn join(&mut self) -> Result<()> {
        let mut died = Vec::new();
        for (index, thread) in self.threads.drain(..).enumerate() {
            if let Err(payload) = thread.join() {
                died.push(format!(
                    "loop thread {index} died: {}",
                    payload_message(&*payload)
                ));
            }
        }
        self.handle.shared.stopped.store(true, Ordering::Release);
        let failure = self
            .handle
            .shared
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match failure.or_else(|| died.into_iter().next()) {
            Some(message) => Err(Error::new(ErrorKind::Panicked, message)),
            None => Ok(()),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.handle.shutdown(Duration::ZERO);
            let _ = self.join();
        }
    }
}

/// A `Send + Sync + Clone` handle to a [`Runtime`], for any thread and for
/// the loops themselves ([`current`](Self::current)).
#[derive(Clone)]
pub struct RuntimeHandle {
    pub(crate) shared: Arc<RuntimeShared>,
}

impl std::fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeHandle")
            .field("loops", &self.shared.handles().len())
            .field("shutdown_requested", &self.shared.shutdown.is_requested())
            .finish()
    }
}

impl RuntimeHandle {
    /// The runtime whose loop runs on this thread, if any.
    pub fn current() -> Option<RuntimeHandle> {
        context::current().map(|c| RuntimeHandle {
            shared: c.runtime.clone(),
        })
    }

    /// Every loop's handle, in index order.
    pub fn handles(&self) -> &[LoopHandle] {
        self.shared.handles()
    }

    /// See [`Runtime::serve`].
    pub fn serve<A, F, P>(
        &self,
        addr: A,
        options: ServeOptions,
        factory: F,
    ) -> Result<Vec<SocketAddr>>
    where
        A: ToSocketAddrs,
        F: Fn() -> P + Send + Sync + 'static,
        P: Protocol,
    {
        let factory: serve::SendFactory =
            Arc::new(move || Box::new(factory()) as Box<dyn Protocol>);
        serve::serve(&self.shared, addr, &options, factory)
    }

    /// Runs `f` on every loop (through the mailboxes), from any thread.
    /// Loops already closed are skipped.
    pub fn broadcast(&self, f: impl Fn(&EventLoop) + Send + Sync + 'static) {
        let f = Arc::new(f);
        for handle in self.handles() {
            let f = f.clone();
            let _ = handle.call_soon_threadsafe(move |lp| f(lp));
        }
    }

    /// Starts a graceful shutdown, from any thread: every loop stops
    /// accepting at once (taking the connections already queued), tells
    /// every connection's protocol ([`Protocol::shutdown_requested`]) and
    /// every [`ShutdownToken`], and stops when its connections are gone;
    /// those still open after `grace` are aborted. [`Runtime::run`] then
    /// returns. Calling it again can only bring the deadline closer.
    pub fn shutdown(&self, grace: Duration) {
        let deadline = shutdown::deadline_after(grace);
        let (deadline, _) = self.shared.shutdown.request(deadline);
        self.shared.listeners.close();
        for handle in self.handles() {
            let _ = handle.call_soon_threadsafe(move |lp| shutdown::begin_on_loop(lp, deadline));
        }
    }

    /// The shutdown notice, for code that is not a protocol.
    pub fn shutdown_token(&self) -> ShutdownToken {
        ShutdownToken {
            runtime: self.shared.clone(),
        }
    }

    /// True once every loop thread has ended and `run` returned.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// Per-loop and summed counters.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            per_loop: self.handles().iter().map(LoopHandle::stats).collect(),
        }
    }
}

/// Counters of every loop of a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// One entry per loop, in index order.
    pub per_loop: Vec<LoopStats>,
}

impl RuntimeStats {
    /// The sum over the loops.
    pub fn total(&self) -> LoopStats {
        LoopStats::sum(&self.per_loop)
    }

    /// The Prometheus text format, one series per loop (`loop="N"`).
    pub fn to_prometheus(&self) -> String {
        crate::render_prometheus(&self.per_loop)
    }
}
