//! Scheduling on a loop: `call_soon`, `call_later` and `call_at` (asyncio's
//! handles and timer handles), what happens to a callback scheduled on a
//! closed loop, and the timers behind [`Sleep`](crate::Sleep).

use std::time::{Duration, Instant};

use crate::event_loop::{far_future, TimerAction};
use crate::handle::{Handle, TimerHandle};
use crate::EventLoop;

impl EventLoop {
    /// Schedules `f` to run on the next iteration, after every callback
    /// already scheduled (strict FIFO). Each callback runs exactly once.
    ///
    /// On a closed loop the callback is dropped at once and never runs; the
    /// returned handle reports [`cancelled`](Handle::cancelled), the loop
    /// counts it in [`LoopStats::callbacks_dropped`](crate::LoopStats::callbacks_dropped)
    /// and logs a warning (asyncio raises `RuntimeError`; a `Handle` is
    /// returned here so that scheduling never needs a `?`). Check
    /// [`is_closed`](Self::is_closed) first where that matters.
    pub fn call_soon<F>(&self, f: F) -> Handle
    where
        F: FnOnce(&EventLoop) + 'static,
    {
        if self.is_closed() {
            self.dropped_on_closed("call_soon");
            return Handle::dead();
        }
        let seq = self.core.ready.borrow_mut().push_call(Box::new(f));
        Handle::new(seq, self.core.shared.id)
    }

    /// Schedules `f` to run once `delay` has passed (never earlier).
    ///
    /// A zero delay runs it on the next iteration that checks timers.
    /// Dropping the returned [`TimerHandle`] does **not** cancel the timer
    /// (as asyncio, where an unreferenced `TimerHandle` still fires): call
    /// [`TimerHandle::cancel`]. On a closed loop the callback is dropped
    /// and counted, as with [`call_soon`](Self::call_soon).
    pub fn call_later<F>(&self, delay: Duration, f: F) -> TimerHandle
    where
        F: FnOnce(&EventLoop) + 'static,
    {
        let when = self
            .core
            .clock
            .now(&self.core.shared.counters)
            .checked_add(delay)
            .unwrap_or_else(far_future);
        self.call_at(when, f)
    }

    /// Schedules `f` at the loop-clock instant `when` (a past instant is
    /// fine: asyncio's "negative delay"). Equal deadlines run in the order
    /// they were scheduled.
    ///
    /// On a closed loop the callback is dropped at once and never runs; the
    /// returned handle reports [`cancelled`](TimerHandle::cancelled), and
    /// the drop is counted and logged as with [`call_soon`](Self::call_soon).
    /// Dropping the returned handle does not cancel the timer.
    pub fn call_at<F>(&self, when: Instant, f: F) -> TimerHandle
    where
        F: FnOnce(&EventLoop) + 'static,
    {
        self.arm_timer(when, || TimerAction::Call(Box::new(f)))
    }

    /// Schedules `action` at `when`; on a closed loop, nothing (a dead
    /// handle), and `action` is never made.
    fn arm_timer(&self, when: Instant, action: impl FnOnce() -> TimerAction) -> TimerHandle {
        if self.is_closed() {
            self.dropped_on_closed("a timer");
            return TimerHandle::dead(when);
        }
        let id = self.core.timers.borrow_mut().insert(when, action());
        TimerHandle::new(id, when, self.core.shared.id)
    }

    /// Counts and logs a callback scheduled on the closed loop: dropped,
    /// never run, and not silently.
    #[cold]
    fn dropped_on_closed(&self, what: &'static str) {
        self.core.shared.counters.callbacks_dropped.add(1);
        tracing::warn!(
            loop_id = self.core.shared.id,
            "loopcore: {what} scheduled on a closed event loop was dropped and will never run"
        );
    }

    /// The loop's id (as `TimerHandle`s and the mailbox name it).
    pub(crate) fn core_id(&self) -> u64 {
        self.core.shared.id
    }

    /// Arms a timer that wakes `waker` at `when` (for `Sleep`).
    pub(crate) fn wake_at(&self, when: Instant, waker: &std::task::Waker) -> TimerHandle {
        self.arm_timer(when, || TimerAction::Wake(waker.clone()))
    }

    /// For an armed `Sleep`: false once its timer ran (or was cancelled);
    /// while pending, makes sure the timer wakes `waker`.
    pub(crate) fn timer_still_pending(
        &self,
        timer: &TimerHandle,
        waker: &std::task::Waker,
    ) -> bool {
        if timer.loop_id() != self.core.shared.id {
            return false;
        }
        let mut timers = self.core.timers.borrow_mut();
        match timers.get_mut(timer.id()) {
            Some(TimerAction::Wake(current)) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            Some(TimerAction::Call(_)) | None => false,
        }
    }

    /// The loop's monotonic clock: `Instant::now()`, unless the clock was
    /// paused for a test ([`pause_clock`](Self::pause_clock)).
    pub fn time(&self) -> Instant {
        self.core.clock.now(&self.core.shared.counters)
    }
}
