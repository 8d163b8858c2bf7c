//! [`Handle`] and [`TimerHandle`]: what `call_soon`, `call_later` and
//! `call_at` return. A handle is the item's sequence number or timer id plus
//! a weak reference to its loop: no allocation per call.

use std::cell::Cell;
use std::fmt;
use std::rc::Weak;
use std::time::Instant;

use crate::event_loop::Core;
use crate::proto::timer_heap::TimerId;

/// Cancels a callback scheduled with [`EventLoop::call_soon`](crate::EventLoop::call_soon).
pub struct Handle {
    seq: u64,
    core: Weak<Core>,
    cancelled: Cell<bool>,
}

impl Handle {
    pub(crate) fn new(seq: u64, core: Weak<Core>) -> Self {
        Self {
            seq,
            core,
            cancelled: Cell::new(false),
        }
    }

    /// A handle for a callback that was never scheduled (closed loop).
    pub(crate) fn dead() -> Self {
        Self {
            seq: 0,
            core: Weak::new(),
            cancelled: Cell::new(true),
        }
    }

    /// Cancels the callback if it has not run yet. Calling it again, or after
    /// the callback ran, does nothing.
    pub fn cancel(&self) {
        if self.cancelled.replace(true) {
            return;
        }
        if let Some(core) = self.core.upgrade() {
            let removed = core.ready.borrow_mut().cancel(self.seq);
            // Dropped outside the borrow: the closure's Drop may schedule.
            drop(removed);
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
pub struct TimerHandle {
    id: TimerId,
    when: Instant,
    core: Weak<Core>,
    cancelled: Cell<bool>,
}

impl TimerHandle {
    pub(crate) fn new(id: TimerId, when: Instant, core: Weak<Core>) -> Self {
        Self {
            id,
            when,
            core,
            cancelled: Cell::new(false),
        }
    }

    /// A handle for a timer that was never scheduled (closed loop).
    pub(crate) fn dead(when: Instant) -> Self {
        Self {
            id: TimerId::DEAD,
            when,
            core: Weak::new(),
            cancelled: Cell::new(true),
        }
    }

    /// Cancels the timer if it has not run yet; idempotent. A timer that is
    /// due but whose batch has not reached it yet is still cancelled.
    pub fn cancel(&self) {
        if self.cancelled.replace(true) {
            return;
        }
        if let Some(core) = self.core.upgrade() {
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
