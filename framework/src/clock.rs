//! The loop's clock: real time by default; paused for users' tests, where
//! it moves only when the test advances it or when the loop has nothing
//! else to do (it jumps to the next timer instead of sleeping), so a 30 s
//! timeout fires in microseconds and timers still fire in order.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::metrics::Counters;
use crate::{Error, ErrorKind, EventLoop, Result};

thread_local! {
    /// When the running loop's poll last returned (real time, paused clock
    /// or not): the one clock read of an iteration, for what only needs
    /// the time to the millisecond and would otherwise read the clock per
    /// request (the HTTP `Date`). `None` outside a running loop.
    static ITERATION_TIME: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Notes the time the running loop's poll returned (`None` when it stops).
#[inline]
pub(crate) fn set_iteration_time(time: Option<Instant>) {
    ITERATION_TIME.with(|cell| cell.set(time));
}

/// When the running loop on this thread last returned from its poll;
/// `None` outside a running loop.
#[inline]
pub(crate) fn iteration_time() -> Option<Instant> {
    ITERATION_TIME.with(Cell::get)
}

/// Reads the monotonic clock for a loop, counting the read
/// (`LoopStats::clock_reads`): the loop reads it once per iteration, when
/// its poll returns, and otherwise only where that reading cannot serve.
#[inline]
pub(crate) fn read(counters: &Counters) -> Instant {
    counters.clock_reads.add(1);
    Instant::now()
}

impl crate::event_loop::Core {
    /// The loop's time as of this iteration: the paused clock, else the
    /// iteration's one clock read (when its poll returned), else, outside
    /// an iteration, a fresh read. For what needs no better than the
    /// iteration's precision: idle stamps, due timers, hyper's timeouts.
    #[inline]
    pub(crate) fn iteration_now(&self) -> Instant {
        self.clock
            .paused()
            .or_else(|| self.polled_at.get())
            .unwrap_or_else(|| read(&self.shared.counters))
    }
}

/// Real or paused time, per loop.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    /// `Some(now)` while paused.
    paused_at: Cell<Option<Instant>>,
}

impl Clock {
    /// The loop's now (`counters` count a read of the real clock).
    #[inline]
    pub(crate) fn now(&self, counters: &Counters) -> Instant {
        self.paused_at.get().unwrap_or_else(|| read(counters))
    }

    /// The paused now, if paused.
    #[inline]
    pub(crate) fn paused(&self) -> Option<Instant> {
        self.paused_at.get()
    }

    /// Moves a paused clock forward to `to` (never backwards).
    pub(crate) fn jump_to(&self, to: Instant) {
        if let Some(now) = self.paused_at.get() {
            self.paused_at.set(Some(now.max(to)));
        }
    }
}

impl EventLoop {
    /// Pauses this loop's clock, for tests: from now on [`time`](Self::time)
    /// stands still, and timers ([`call_later`](Self::call_later),
    /// [`sleep`](crate::sleep), idle timeouts) fire only as the clock moves:
    /// when the test calls [`advance_clock`](Self::advance_clock), or when
    /// the loop has nothing else to do, where it jumps to the next timer's
    /// deadline instead of sleeping. Timers still fire in deadline order.
    /// I/O is real: a loop waiting for a peer with a timer pending jumps to
    /// that timer at once. The clock stays paused for the loop's life;
    /// pausing again does nothing.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lp = loopcore::EventLoop::new()?;
    /// lp.pause_clock();
    /// let started = Instant::now();
    /// let loop_started = lp.time();
    /// // A 30 s keep-alive timeout, tested in microseconds. (A `sleep`
    /// // made outside a running loop counts from real time: make it inside.)
    /// lp.run_until_complete(async { loopcore::sleep(Duration::from_secs(30)).await })?;
    /// assert_eq!(lp.time() - loop_started, Duration::from_secs(30));
    /// assert!(started.elapsed() < Duration::from_millis(100));
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn pause_clock(&self) {
        let clock = &self.core.clock;
        if clock.paused_at.get().is_none() {
            clock.paused_at.set(Some(Instant::now()));
        }
    }

    /// Moves a paused clock forward by `by`; timers now due run on the
    /// loop's next iteration.
    ///
    /// # Errors
    ///
    /// An error of kind [`InvalidInput`](ErrorKind::InvalidInput) if the
    /// clock is not paused ([`pause_clock`](Self::pause_clock)).
    pub fn advance_clock(&self, by: Duration) -> Result<()> {
        let clock = &self.core.clock;
        let Some(now) = clock.paused_at.get() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "advance_clock needs a paused clock: call pause_clock first",
            ));
        };
        clock.paused_at.set(Some(now + by));
        Ok(())
    }

    /// Whether [`pause_clock`](Self::pause_clock) was called.
    pub fn is_clock_paused(&self) -> bool {
        self.core.clock.paused_at.get().is_some()
    }
}
