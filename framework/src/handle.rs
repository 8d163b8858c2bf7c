//! [`Handle`] and [`TimerHandle`]: what `call_soon`, `call_later` and
//! `call_at` return. A handle is the item's sequence number or timer id plus
//! its loop's id: no allocation or reference count per call. `cancel` finds
//! the loop through the thread's table of loops, so handles are `!Send`.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::time::Instant;

use crate::mailbox::local_core;
use crate::proto::ready_queue::Cancelled;
use crate::proto::timer_heap::TimerId;

/// Loop id that names no loop (ids start at 1).
const NO_LOOP: u64 = 0;

/// Cancels a callback scheduled with [`EventLoop::call_soon`](crate::EventLoop::call_soon).
pub struct Handle {
    seq: u64,
    loop_id: u64,
    cancelled: Cell<bool>,
    /// Cancelling touches loop state: only on the loop's thread.
    _not_send: PhantomData<*const ()>,
}

impl Handle {
    #[inline]
    pub(crate) fn new(seq: u64, loop_id: u64) -> Self {
        Self {
            seq,
            loop_id,
            cancelled: Cell::new(false),
            _not_send: PhantomData,
        }
    }

    /// A handle for a callback that was never scheduled (closed loop).
    pub(crate) fn dead() -> Self {
        Self {
            seq: 0,
            loop_id: NO_LOOP,
            cancelled: Cell::new(true),
            _not_send: PhantomData,
        }
    }

    /// Cancels the callback if it has not run yet. Calling it again, or after
    /// the callback ran, does nothing.
    pub fn cancel(&self) {
        if self.cancelled.replace(true) {
            return;
        }
        if let Some(core) = local_core(self.loop_id) {
            let outcome = core.ready.borrow_mut().cancel(self.seq);
            match outcome {
                // Dropped outside the borrow: the closure's Drop may schedule.
                Cancelled::Removed(item) => drop(item),
                Cancelled::InBatch => core.batch_has_cancels.set(true),
                Cancelled::Gone => {}
            }
        }
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("seq", &self.seq)
            .field("cancelled", &self.cancelled.get())
            .finish()
    }
}

/// Cancels a timer scheduled with [`EventLoop::call_later`](crate::EventLoop::call_later)
/// or [`EventLoop::call_at`](crate::EventLoop::call_at).
///
/// Dropping it does **not** cancel the timer, as in asyncio (where a
/// `TimerHandle` nobody keeps still fires): keep it and call
/// [`cancel`](Self::cancel) to stop the callback.
pub struct TimerHandle {
    id: TimerId,
    when: Instant,
    loop_id: u64,
    cancelled: Cell<bool>,
    _not_send: PhantomData<*const ()>,
}

impl TimerHandle {
    #[inline]
    pub(crate) fn new(id: TimerId, when: Instant, loop_id: u64) -> Self {
        Self {
            id,
            when,
            loop_id,
            cancelled: Cell::new(false),
            _not_send: PhantomData,
        }
    }

    pub(crate) fn id(&self) -> TimerId {
        self.id
    }

    pub(crate) fn loop_id(&self) -> u64 {
        self.loop_id
    }

    /// A handle for a timer that was never scheduled (closed loop).
    pub(crate) fn dead(when: Instant) -> Self {
        Self {
            id: TimerId::DEAD,
            when,
            loop_id: NO_LOOP,
            cancelled: Cell::new(true),
            _not_send: PhantomData,
        }
    }

    /// Cancels the timer if it has not run yet; idempotent. A timer that is
    /// due but whose batch has not reached it yet is still cancelled.
    pub fn cancel(&self) {
        if self.cancelled.replace(true) {
            return;
        }
        if let Some(core) = local_core(self.loop_id) {
            let removed = core.timers.borrow_mut().take(self.id);
            drop(removed);
        }
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// When the timer is scheduled to fire, on the loop's clock.
    pub fn when(&self) -> Instant {
        self.when
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when)
            .field("cancelled", &self.cancelled.get())
            .finish()
    }
}
