//! [`EventLoop`]: one single-threaded loop, asyncio's semantics on mio.
//!
//! One iteration (`run_once`) works as asyncio's:
//! 1. poll, with a zero timeout when work is ready or the loop is stopping,
//!    else until the next timer (armed on a timerfd, so sub-millisecond
//!    deadlines hold), else without a timeout;
//! 2. drain the mailbox and queue the callbacks of ready file descriptors;
//! 3. queue the timers that are due against the clock read when the poll
//!    returned (the iteration's one read), so a timer never fires before
//!    its deadline;
//! 4. run the items that were ready when this batch began; items they
//!    schedule run in the next iteration. One shortcut, invisible in the
//!    order things run: when nothing was queued as the poll returned, the
//!    connections its events made ready run first, straight from the
//!    events, and what they schedule joins this batch behind the due
//!    timers, where asyncio's next iteration would have run it first
//!    (its poll only adds I/O behind it); `batch.rs` has the details.
//!
//! Invariants:
//! 1. No `RefCell` borrow of loop state is held while user code runs, and
//!    nothing user-owned is dropped under a borrow (its `Drop` may call back).
//! 2. A panic in user code is caught and handed to the exception handler;
//!    the loop keeps running.
//! 3. `EventLoop` is `!Send`; `LoopHandle` is the only cross-thread door.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;
use crossbeam_channel::Receiver;
use mio::{Events, Interest, Token};

use crate::exception::{self, CatchScope, ExceptionContext, ExceptionHandler};
use crate::executor::ExecutorState;
use crate::io::{IoDriver, IoReady};
use crate::mailbox::{self, LoopHandle, Message, SendCallback, Shared};
use crate::metrics::LoopStats;
use crate::proto::ready_queue::{Batch, ReadyQueue};
use crate::proto::timer_heap::{TimerHeap, TimerId};
use crate::signal::SignalHandlers;
use crate::sys::timerfd::TimerFd;

mod batch;
use crate::watch::{WatchReady, Watches};
use crate::{Error, ErrorKind, Result};

/// A callback on the loop's own thread.
pub(crate) type Callback = Box<dyn FnOnce(&EventLoop)>;

/// What a timer does when it is due: run a callback (`call_at`), or wake a
/// future (`Sleep`: no allocation, the waker is the whole timer).
pub(crate) enum TimerAction {
    Call(Callback),
    Wake(std::task::Waker),
}

const WAKER_TOKEN: Token = Token(usize::MAX);
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Environment variable that turns debug mode on for new loops.
pub const DEBUG_ENV: &str = "LOOPCORE_DEBUG";

/// Ready work other than a plain callback (callbacks are stored inline in
/// the ready queue; see `proto::ready_queue`).
pub(crate) enum Ready {
    /// A task to poll.
    Task(Runnable),
    /// A due timer; its callback stays in the timer heap until it runs, so
    /// it can still be cancelled.
    Timer(TimerId),
    /// A ready fd watched with `add_reader`/`add_writer`.
    Watch(WatchReady),
    /// Work of the I/O layer (a connection, a listener, an endpoint).
    Io(IoReady),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Running,
    Closed,
}

/// Wakes the future given to `run_until_complete`, from any thread.
struct MainWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if std::thread::current().id() != self.shared.thread {
            self.shared.nudge();
        }
    }
}

/// The loop thread's state (`!Send`). Every field is touched only from the
/// loop's thread.
pub(crate) struct Core {
    /// What other threads may touch.
    pub(crate) shared: Arc<Shared>,
    /// Real time, or paused time in tests (`pause_clock`).
    pub(crate) clock: crate::clock::Clock,
    /// Items of the running batch not yet run (`EventLoop::load`).
    pub(crate) batch_left: Cell<usize>,
    /// The mailbox's receiving half.
    receiver: Receiver<Message>,
    /// The mio poll (epoll).
    pub(crate) poll: RefCell<mio::Poll>,
    /// Reused event buffer.
    events: RefCell<Events>,
    /// FIFO of ready work.
    pub(crate) ready: RefCell<ReadyQueue<Callback, Ready>>,
    /// Pending timers.
    pub(crate) timers: RefCell<TimerHeap<TimerAction>>,
    /// Wakes the poll at the earliest timer deadline.
    timerfd: TimerFd,
    /// The deadline the timerfd is armed for, if any.
    armed_deadline: Cell<Option<Instant>>,
    /// Whether a timer may be due after this iteration's poll: false when
    /// the poll waits on a timerfd armed for the earliest deadline, until
    /// that timerfd fires.
    timers_may_be_due: Cell<bool>,
    /// When the last poll returned, during the current run: the loop's
    /// one clock read per iteration, which timers, idle stamps and the
    /// HTTP `Date` share.
    pub(crate) polled_at: Cell<Option<Instant>>,
    /// Busy and waiting time, sampled from the thread's CPU clock.
    busy_clock: crate::busy_time::BusyClock,
    /// Fds watched with `add_reader`/`add_writer`.
    pub(crate) watches: RefCell<Watches>,
    /// Connections, listeners and UDP endpoints: the I/O layer's state.
    pub(crate) io: IoDriver,
    /// Idle, running or closed.
    state: Cell<State>,
    /// `stop()` was called; the current iteration is the last.
    stopping: Cell<bool>,
    /// Debug mode.
    pub(crate) debug: Cell<bool>,
    /// Debug mode warns about callbacks slower than this.
    pub(crate) slow_callback_duration: Cell<Duration>,
    /// What kind of item runs now, for panic reports and slow warnings.
    running_source: Cell<&'static str>,
    /// The batch the next iteration swaps in (kept for its capacity).
    running_batch: RefCell<Batch<Callback, Ready>>,
    /// An item of the running batch was cancelled: the runner must check.
    pub(crate) batch_has_cancels: Cell<bool>,
    /// The user's exception handler, if any.
    pub(crate) exception_handler: RefCell<Option<ExceptionHandler>>,
    /// Signal handlers of this loop.
    pub(crate) signals: RefCell<SignalHandlers>,
    /// This loop's view of the blocking executor.
    pub(crate) executor: RefCell<ExecutorState>,
    /// Waker of the `run_until_complete` future.
    main_waker: Arc<MainWaker>,
}

impl Core {
    /// Messages waiting in the mailbox.
    pub(crate) fn mailbox_len(&self) -> usize {
        self.receiver.len()
    }

    /// The ready queue, unless the loop is closed or the queue is busy.
    fn open_ready_queue(&self) -> Option<std::cell::RefMut<'_, ReadyQueue<Callback, Ready>>> {
        if self.state.get() == State::Closed {
            return None;
        }
        self.ready.try_borrow_mut().ok()
    }

    /// Queues a callback posted on the loop's own thread; gives it back if
    /// the loop is closed or its queue busy.
    pub(crate) fn try_push_call(&self, f: SendCallback) -> std::result::Result<(), SendCallback> {
        match self.open_ready_queue() {
            Some(mut ready) => {
                ready.push_call(f);
                Ok(())
            }
            None => Err(f),
        }
    }

    /// Queues a task woken on the loop's own thread; gives it back if the
    /// loop is closed or its queue busy.
    pub(crate) fn try_push_task(&self, runnable: Runnable) -> std::result::Result<(), Runnable> {
        match self.open_ready_queue() {
            Some(mut ready) => {
                ready.push(Ready::Task(runnable));
                Ok(())
            }
            None => Err(runnable),
        }
    }
}

thread_local! {
    /// The loop running on this thread, if any.
    static RUNNING: RefCell<Option<EventLoop>> = const { RefCell::new(None) };
}

/// A single-threaded event loop with asyncio's semantics.
///
/// `EventLoop` is `!Send`: it lives on the thread that created it. Clones are
/// cheap references to the same loop (what [`EventLoop::current`] returns);
/// dropping the value returned by [`EventLoop::new`] closes the loop.
///
/// ```
/// use std::time::Duration;
/// let lp = loopcore::EventLoop::new()?;
/// lp.call_soon(|_| println!("first"));
/// lp.call_later(Duration::from_millis(1), |lp| {
///     println!("one millisecond later");
///     lp.stop();
/// });
/// lp.run_forever()?;
/// lp.close()?;
/// # Ok::<(), loopcore::Error>(())
/// ```
///
/// It cannot be sent to another thread (use [`EventLoop::handle`]):
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<loopcore::EventLoop>();
/// ```
pub struct EventLoop {
    pub(crate) core: Rc<Core>,
    /// The value `new` returned: closes the loop when dropped.
    owner: bool,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.core.shared.id)
            .field("state", &self.core.state.get())
            .finish_non_exhaustive()
    }
}

impl Clone for EventLoop {
    fn clone(&self) -> Self {
        Self {
            core: Rc::clone(&self.core),
            owner: false,
        }
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        if self.owner && self.core.state.get() == State::Idle {
            let _ = self.close();
        }
    }
}

impl EventLoop {
    /// Creates a loop on this thread (epoll, an eventfd waker and a timerfd).
    pub fn new() -> Result<Self> {
        exception::install_panic_hook();
        let poll = mio::Poll::new().map_err(|e| Error::io("creating the epoll instance", e))?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)
            .map_err(|e| Error::io("creating the loop's waker", e))?;
        let timerfd = TimerFd::new().map_err(|e| Error::io("creating the loop's timerfd", e))?;
        poll.registry()
            .register(
                &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&timerfd)),
                TIMER_TOKEN,
                Interest::READABLE,
            )
            .map_err(|e| Error::io("registering the loop's timerfd", e))?;
        let (shared, receiver) = Shared::new(waker);
        let debug = std::env::var_os(DEBUG_ENV).is_some_and(|v| !v.is_empty());
        let core = Rc::new(Core {
            main_waker: Arc::new(MainWaker {
                woken: AtomicBool::new(false),
                shared: Arc::clone(&shared),
            }),
            shared,
            receiver,
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(1024)),
            ready: RefCell::new(ReadyQueue::default()),
            timers: RefCell::new(TimerHeap::default()),
            timerfd,
            armed_deadline: Cell::new(None),
            timers_may_be_due: Cell::new(true),
            clock: crate::clock::Clock::default(),
            batch_left: Cell::new(0),
            polled_at: Cell::new(None),
            busy_clock: Default::default(),
            watches: RefCell::new(Watches::default()),
            io: IoDriver::default(),
            state: Cell::new(State::Idle),
            stopping: Cell::new(false),
            debug: Cell::new(debug),
            slow_callback_duration: Cell::new(Duration::from_millis(100)),
            running_source: Cell::new("callback"),
            running_batch: RefCell::new(Batch::with_capacity(64)),
            batch_has_cancels: Cell::new(false),
            exception_handler: RefCell::new(None),
            signals: RefCell::new(SignalHandlers::default()),
            executor: RefCell::new(ExecutorState::default()),
        });
        mailbox::register_local_core(core.shared.id, &core);
        Ok(Self { core, owner: true })
    }

    /// The loop running on this thread.
    ///
    /// # Panics
    ///
    /// When no loop is running on this thread; see [`EventLoop::try_current`].
    pub fn current() -> EventLoop {
        Self::try_current().expect("loopcore: no event loop is running on this thread")
    }

    /// The loop running on this thread, if any (asyncio's `get_running_loop`).
    pub fn try_current() -> Option<EventLoop> {
        RUNNING.try_with(|r| r.borrow().clone()).ok().flatten()
    }

    /// A non-owning reference to the loop of `core`.
    pub(crate) fn from_core(core: Rc<Core>) -> Self {
        Self { core, owner: false }
    }

    /// A `Send + Sync` handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: Arc::clone(&self.core.shared),
        }
    }

    /// A snapshot of this loop's counters.
    pub fn stats(&self) -> LoopStats {
        self.core.shared.stats()
    }

    // ----- lifecycle -------------------------------------------------------

    /// Runs until [`stop`](Self::stop) is called.
    ///
    /// A `stop()` made before this call makes it poll once with a zero
    /// timeout, run that batch, and return. Fails if the loop is closed, or
    /// if a loop (this one or another) is already running on this thread.
    pub fn run_forever(&self) -> Result<()> {
        let _running = self.enter_run()?;
        loop {
            self.run_once()?;
            if self.core.stopping.get() {
                return Ok(());
            }
        }
    }

    /// Runs until `future` completes and returns its output.
    ///
    /// The future may borrow from the caller (it need not be `'static`) and
    /// is polled on this thread. Returns an error of kind
    /// [`StoppedBeforeComplete`](ErrorKind::StoppedBeforeComplete) if
    /// `stop()` ends the run first; a panic in the future propagates.
    pub fn run_until_complete<F: Future>(&self, future: F) -> Result<F::Output> {
        let _running = self.enter_run()?;
        let mut future = std::pin::pin!(future);
        let main = &self.core.main_waker;
        main.woken.store(true, Ordering::Release);
        let waker = Waker::from(Arc::clone(main));
        let mut cx = Context::from_waker(&waker);
        loop {
            self.run_once()?;
            if main.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(output) = CatchScope::suspended(|| future.as_mut().poll(&mut cx))
                {
                    return Ok(output);
                }
            }
            if self.core.stopping.get() {
                return Err(Error::new(
                    ErrorKind::StoppedBeforeComplete,
                    "the event loop stopped before the future completed",
                ));
            }
        }
    }

    /// Stops the loop after the current iteration; callbacks scheduled by
    /// that last batch run at the next `run_forever`.
    pub fn stop(&self) {
        self.core.stopping.set(true);
    }

    /// True while `run_forever` or `run_until_complete` runs.
    pub fn is_running(&self) -> bool {
        self.core.state.get() == State::Running
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.core.state.get() == State::Closed
    }

    /// Closes the loop: drops pending callbacks, timers and tasks, forgets
    /// watched fds (without closing them), removes signal handlers and
    /// detaches from the blocking executor without waiting for it.
    ///
    /// Closing twice is fine; closing a running loop is an error of kind
    /// [`Running`](ErrorKind::Running).
    pub fn close(&self) -> Result<()> {
        match self.core.state.get() {
            State::Closed => return Ok(()),
            State::Running => {
                return Err(Error::new(
                    ErrorKind::Running,
                    "cannot close a running event loop; call stop() and close it after run_forever returns",
                ))
            }
            State::Idle => {}
        }
        let core = &self.core;
        core.state.set(State::Closed);
        core.shared.mark_closed();
        crate::signal::close_loop(self);
        core.executor.borrow_mut().detach();
        let watched = std::mem::take(&mut *core.watches.borrow_mut());
        watched.deregister_all(core.poll.borrow().registry());
        core.io.close(core.poll.borrow().registry());
        // Dropping tasks and callbacks may wake other tasks or drop wakers
        // whose tasks reschedule: repeat until everything is gone, dropping
        // outside any borrow (invariant 1).
        loop {
            let ready = core.ready.borrow_mut().take_all();
            let timers = std::mem::take(&mut *core.timers.borrow_mut());
            let messages: Vec<Message> = core.receiver.try_iter().collect();
            let done = ready.len() == 0 && timers.len() == 0 && messages.is_empty();
            drop((ready, timers, messages));
            if done {
                break;
            }
        }
        drop(watched);
        *core.exception_handler.borrow_mut() = None;
        mailbox::unregister_local_core(core.shared.id);
        Ok(())
    }

    fn enter_run(&self) -> Result<RunGuard<'_>> {
        match self.core.state.get() {
            State::Closed => return Err(Error::closed()),
            State::Running => {
                return Err(Error::new(
                    ErrorKind::NestedRun,
                    "this event loop is already running",
                ))
            }
            State::Idle => {}
        }
        let nested = RUNNING.with(|r| {
            let mut r = r.borrow_mut();
            if r.is_some() {
                return true;
            }
            *r = Some(self.clone());
            false
        });
        if nested {
            return Err(Error::new(
                ErrorKind::NestedRun,
                "cannot run an event loop while another loop is running on this thread",
            ));
        }
        self.core.state.set(State::Running);
        let core = &self.core;
        core.busy_clock
            .start(crate::clock::read(&core.shared.counters));
        Ok(RunGuard {
            lp: self,
            _catch: CatchScope::enter(),
        })
    }

    // ----- one iteration ---------------------------------------------------

    fn poll_timeout(&self) -> Result<Option<Duration>> {
        let core = &self.core;
        core.timers_may_be_due.set(true);
        if !core.ready.borrow().is_empty()
            || core.stopping.get()
            || core.main_waker.woken.load(Ordering::Acquire)
        {
            return Ok(Some(Duration::ZERO));
        }
        let Some(deadline) = core.timers.borrow_mut().next_deadline() else {
            return Ok(None);
        };
        if core.clock.paused().is_some() {
            // Nothing else to do: a paused clock jumps to the next timer
            // rather than sleeping (I/O is still polled, without waiting).
            core.clock.jump_to(deadline);
            return Ok(Some(Duration::ZERO));
        }
        if crate::sys::timerfd::WAKES_POLL && core.armed_deadline.get() == Some(deadline) {
            // The timerfd is armed for this deadline and wakes the poll
            // (at once if it passed): no clock read. With timers that move
            // rarely (idle timeouts as last-activity stamps), this is the
            // common case, and a busy loop reads the clock only around its
            // poll.
            core.timers_may_be_due.set(false);
            return Ok(None);
        }
        let now = crate::clock::read(&core.shared.counters);
        if deadline <= now {
            return Ok(Some(Duration::ZERO));
        }
        if !crate::sys::timerfd::WAKES_POLL {
            return Ok(Some(deadline - now));
        }
        core.timerfd
            .arm(deadline - now)
            .map_err(|e| Error::io("arming the loop's timerfd", e))?;
        core.armed_deadline.set(Some(deadline));
        core.timers_may_be_due.set(false);
        Ok(None)
    }

    fn run_once(&self) -> Result<()> {
        let core = &self.core;
        let counters = &core.shared.counters;
        counters.iterations.add(1);
        // Writes made outside a ready item (by the future of
        // `run_until_complete`, or before the loop ran) leave now.
        if core.io.has_dirty() {
            self.flush_dirty();
        }
        let timeout = self.poll_timeout()?;
        {
            let mut events = core.events.borrow_mut();
            let polled = core.poll.borrow_mut().poll(&mut events, timeout);
            // The iteration's one clock read.
            let polled_at = crate::clock::read(counters);
            core.polled_at.set(Some(polled_at));
            crate::clock::set_iteration_time(Some(polled_at));
            core.busy_clock.on_poll(polled_at, counters);
            if let Err(e) = polled {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(Error::io("polling for events", e));
                }
                events.clear();
            }
        }
        if core.shared.take_woken() {
            self.drain_mailbox();
        }
        self.queue_io_events();
        self.queue_due_timers();
        self.run_ready_batch();
        Ok(())
    }

    fn drain_mailbox(&self) {
        let core = &self.core;
        let pending = core.receiver.len();
        let mut ready = core.ready.borrow_mut();
        let mut taken = 0;
        for message in core.receiver.try_iter().take(pending) {
            taken += 1;
            match message {
                Message::Call(f) => ready.push_call(f),
                Message::Wake(runnable) => ready.push(Ready::Task(runnable.into_inner())),
            };
        }
        core.shared.counters.mailbox_messages.add(taken);
    }

    fn queue_io_events(&self) {
        let core = &self.core;
        let events = core.events.borrow();
        if events.is_empty() {
            return;
        }
        let mut count = 0;
        let mut ready = core.ready.borrow_mut();
        // Nothing waits in the queue: connections run straight from the
        // events, ahead of the batch (`IoDriver::on_event`). Debug mode
        // times every item, so keeps them all in the queue.
        let direct = ready.is_empty() && !core.debug.get();
        for event in events.iter() {
            count += 1;
            match event.token() {
                WAKER_TOKEN => {}
                TIMER_TOKEN => {
                    core.timerfd.clear();
                    core.armed_deadline.set(None);
                    core.timers_may_be_due.set(true);
                }
                token => {
                    if let Some(slot) = core.io.on_event(token, event, &mut ready, direct) {
                        core.watches.borrow_mut().on_event(slot, event, &mut ready)
                    }
                }
            }
        }
        core.shared.counters.io_events.add(count);
    }

    fn queue_due_timers(&self) {
        let core = &self.core;
        if !core.timers_may_be_due.get() {
            return;
        }
        let mut timers = core.timers.borrow_mut();
        if timers.len() == 0 {
            return;
        }
        // The time the poll returned, read just now (`run_once`): timers due
        // by then run, none early. A paused clock gives its own.
        let now = core.iteration_now();
        let mut ready = core.ready.borrow_mut();
        while let Some(id) = timers.pop_due(now) {
            ready.push(Ready::Timer(id));
        }
    }

    /// Runs user code, reporting a panic to the exception handler.
    pub(crate) fn guarded(&self, source: &'static str, f: impl FnOnce()) {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let panic = exception::CaughtPanic::from_payload(payload);
            self.report_panic(ExceptionContext::from_panic(source, panic));
        }
    }

    pub(crate) fn report_panic(&self, context: ExceptionContext) {
        self.core.shared.counters.panics.add(1);
        self.call_exception_handler(&context);
    }

    // ----- scheduling ------------------------------------------------------

    pub(crate) fn registry_poll(&self) -> std::cell::Ref<'_, mio::Poll> {
        self.core.poll.borrow()
    }
}

/// Restores the idle state when a run ends, however it ends.
struct RunGuard<'a> {
    lp: &'a EventLoop,
    _catch: CatchScope,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        let core = &self.lp.core;
        core.stopping.set(false);
        crate::clock::set_iteration_time(None);
        core.polled_at.set(None);
        let counters = &core.shared.counters;
        core.busy_clock.stop(crate::clock::read(counters), counters);
        if core.state.get() == State::Running {
            core.state.set(State::Idle);
        }
        let previous = RUNNING.with(|r| r.borrow_mut().take());
        drop(previous);
    }
}

/// A duration in whole nanoseconds, saturating (for the loop's counters).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Far enough to never fire, close enough not to overflow `Instant`.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}
