//! The cross-thread half of a loop: its mailbox (an unbounded
//! `crossbeam-channel` queue plus a `mio::Waker`), the wake-coalescing flag,
//! and [`LoopHandle`], the `Send + Sync` face other threads use.
//!
//! Invariants (the wake protocol):
//! 1. A sender pushes its message *before* it sets `woken`; only the sender
//!    that flips `woken` from false to true writes the waker, so a burst of
//!    posts costs one `eventfd` write until the loop drains.
//! 2. The loop clears `woken` (AcqRel) *before* it drains, and drains only
//!    the messages queued when draining began. A message posted after the
//!    clear sets `woken` again and writes the waker, so no wake-up is lost.
//! 3. The mailbox is unbounded, so two loops posting to each other can never
//!    deadlock; its depth is visible as a metric instead.
//! 4. Order is FIFO per sender. A post made on the loop's own thread skips
//!    the mailbox and joins the ready queue directly.
//! 5. A task's `Runnable` is only ever dropped on its loop's thread: one that
//!    cannot be delivered from another thread is leaked, not dropped.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

use async_task::Runnable;
use crossbeam_channel::{Receiver, Sender};

use crate::event_loop::Core;
use crate::metrics::{Counters, LoopStats};
use crate::sync::WakeFlag;
use crate::{Error, EventLoop, Result};

/// A callback posted from another thread.
pub(crate) type SendCallback = Box<dyn FnOnce(&EventLoop) + Send>;

/// What travels through a mailbox.
pub(crate) enum Message {
    /// `call_soon_threadsafe`.
    Call(SendCallback),
    /// A task woken from another thread.
    Wake(LocalRunnable),
}

/// A task's `Runnable` that may only be dropped on the thread that owns it
/// (invariant 5): a `spawn_local` future must not be dropped elsewhere.
pub(crate) struct LocalRunnable {
    /// Always `Some` until `into_inner` or `drop` takes it.
    runnable: Option<Runnable>,
    owner: ThreadId,
}

impl LocalRunnable {
    pub(crate) fn new(runnable: Runnable, owner: ThreadId) -> Self {
        Self {
            runnable: Some(runnable),
            owner,
        }
    }

    pub(crate) fn into_inner(mut self) -> Runnable {
        self.runnable
            .take()
            .expect("a LocalRunnable holds its runnable until taken")
    }
}

impl Drop for LocalRunnable {
    fn drop(&mut self) {
        if std::thread::current().id() != self.owner {
            // Elsewhere the task is leaked: its loop is gone, and dropping
            // its future on this thread would be unsound (async-task
            // panics).
            std::mem::forget(self.runnable.take());
        }
    }
}

static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

/// The part of a loop that other threads touch.
pub(crate) struct Shared {
    /// Process-unique loop id.
    pub(crate) id: u64,
    /// The thread the loop lives on.
    pub(crate) thread: ThreadId,
    /// Sending half of the mailbox.
    sender: Sender<Message>,
    /// Set by the sender that must write the waker; cleared by the loop
    /// before it drains (module invariants 1-2; model-checked in
    /// `sync::wake_flag`).
    woken: WakeFlag,
    /// Wakes the loop's poll.
    waker: mio::Waker,
    /// Set once at `close`; later posts fail.
    closed: AtomicBool,
    /// Times a sender wrote the waker (multi-writer, but only once per
    /// drain by invariant 1, so it is off the per-message path).
    waker_writes: AtomicU64,
    /// The loop's counters.
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> (Arc<Self>, Receiver<Message>) {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Self {
            id: NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed),
            thread: std::thread::current().id(),
            sender,
            woken: WakeFlag::new(),
            waker,
            closed: AtomicBool::new(false),
            waker_writes: AtomicU64::new(0),
            counters: Counters::default(),
        });
        (shared, receiver)
    }

    /// Queues `message` and wakes the loop if nobody has since it last drained.
    pub(crate) fn post(&self, message: Message) -> std::result::Result<(), Message> {
        if self.closed.load(Ordering::Acquire) {
            return Err(message);
        }
        self.sender.send(message).map_err(|e| e.into_inner())?;
        self.nudge();
        Ok(())
    }

    /// Clears the woken flag if it was set; true means "drain now".
    #[inline]
    pub(crate) fn take_woken(&self) -> bool {
        self.woken.take()
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Wakes the poll unless a wake-up is already pending (invariant 1).
    pub(crate) fn nudge(&self) {
        if self.woken.raise() {
            self.waker_writes.fetch_add(1, Ordering::Relaxed);
            // A failed eventfd write means the counter is saturated, i.e.
            // the loop is already due to wake: nothing is lost.
            let _ = self.waker.wake();
        }
    }

    /// A snapshot of the loop's counters.
    pub(crate) fn stats(&self) -> LoopStats {
        let mut stats = self.counters.snapshot();
        stats.waker_writes = self.waker_writes.load(Ordering::Relaxed);
        stats
    }

    /// Schedules a woken task: straight onto the ready queue on the loop's
    /// own thread, through the mailbox from anywhere else.
    pub(crate) fn schedule(&self, runnable: Runnable) {
        let runnable = match local_core(self.id) {
            Some(core) => match core.try_push_task(runnable) {
                Ok(()) => return,
                Err(runnable) => runnable,
            },
            None => runnable,
        };
        // Dropped on this thread if it cannot be posted: fine on the loop's
        // thread, leaked elsewhere (invariant 5).
        let _ = self.post(Message::Wake(LocalRunnable::new(runnable, self.thread)));
    }
}

thread_local! {
    /// The loops created on this thread, by id, for same-thread fast paths.
    static LOCAL_CORES: RefCell<Vec<(u64, Weak<Core>)>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn register_local_core(id: u64, core: &Rc<Core>) {
    LOCAL_CORES.with(|cores| cores.borrow_mut().push((id, Rc::downgrade(core))));
}

pub(crate) fn unregister_local_core(id: u64) {
    let _ = LOCAL_CORES.try_with(|cores| cores.borrow_mut().retain(|(i, _)| *i != id));
}

/// The core of loop `id` if that loop lives on this thread.
pub(crate) fn local_core(id: u64) -> Option<Rc<Core>> {
    LOCAL_CORES
        .try_with(|cores| {
            let cores = cores.try_borrow().ok()?;
            cores
                .iter()
                .find(|(i, _)| *i == id)
                .and_then(|(_, w)| w.upgrade())
        })
        .ok()
        .flatten()
}

/// A `Send + Sync + Clone` handle to a loop, for other threads.
///
/// It can post callbacks (`call_soon_threadsafe`), stop the loop and read its
/// counters; it never touches the loop's state directly.
///
/// ```
/// let lp = loopcore::EventLoop::new()?;
/// let handle = lp.handle();
/// std::thread::spawn(move || {
///     handle.call_soon_threadsafe(|lp| lp.stop()).unwrap();
/// });
/// lp.run_forever()?;
/// # Ok::<(), loopcore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LoopHandle {
    pub(crate) shared: Arc<Shared>,
}

impl LoopHandle {
    /// Schedules `f` on the loop, from any thread.
    ///
    /// Order, exactly: callbacks posted by one thread run in the order they
    /// were posted. The loop takes its mailbox's messages once per
    /// iteration, right after the poll, and queues them **behind** every
    /// callback already in its ready queue; so `f` runs in the first
    /// iteration that starts after the post, after the callbacks the loop
    /// itself scheduled ([`EventLoop::call_soon`]) before that iteration,
    /// even those scheduled after `f` was posted. asyncio keeps one FIFO
    /// for both (its `call_soon_threadsafe` appends to the same deque under
    /// a lock); here that would put a synchronized queue, or an atomic
    /// sequence number, on every local `call_soon`, the loop's hottest
    /// path, for an order no thread can observe without a message round
    /// trip of its own.
    ///
    /// Fails with [`ErrorKind::Closed`](crate::ErrorKind::Closed) once the
    /// loop is closed. Unlike asyncio no `Handle` is returned: cancelling
    /// across threads would cost an allocation per post.
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&EventLoop) + Send + 'static,
    {
        let mut boxed: SendCallback = Box::new(f);
        if let Some(core) = local_core(self.shared.id) {
            match core.try_push_call(boxed) {
                Ok(()) => return Ok(()),
                Err(f) => boxed = f,
            }
        }
        self.shared
            .post(Message::Call(boxed))
            .map_err(|_| Error::closed())
    }

    /// Asks the loop to stop after its current iteration, from any thread.
    pub fn stop(&self) -> Result<()> {
        self.call_soon_threadsafe(|lp| lp.stop())
    }

    /// True once the loop is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The loop's process-unique id.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// A snapshot of the loop's counters.
    pub fn stats(&self) -> LoopStats {
        self.shared.stats()
    }

    /// The loop's open stream connections (two counter reads, cheaper than
    /// a whole [`stats`](Self::stats) snapshot).
    pub fn live_connections(&self) -> u64 {
        let counters = &self.shared.counters;
        counters
            .connections_opened
            .get()
            .saturating_sub(counters.connections_closed.get())
    }
}
