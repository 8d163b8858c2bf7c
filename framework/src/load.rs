//! How busy a loop is right now ([`LoopLoad`]), for protocols that shed
//! load before the loop falls behind (the plaintext example answers `503`
//! with `Retry-After` above a threshold), and the counter of what they shed.

use crate::EventLoop;

/// Work waiting on a loop at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LoopLoad {
    /// Items ready to run: what is left of the batch being run (other
    /// connections with input, timers due, tasks woken) plus what is
    /// queued for the next one.
    pub ready: usize,
    /// Messages from other threads not yet drained from the mailbox.
    pub mailbox: usize,
}

impl LoopLoad {
    /// Everything waiting: `ready + mailbox`.
    pub fn pending(&self) -> usize {
        self.ready + self.mailbox
    }
}

impl EventLoop {
    /// How much work is waiting on this loop right now; cheap enough to
    /// ask on every request.
    ///
    /// ```
    /// let lp = loopcore::EventLoop::new()?;
    /// lp.call_soon(|_| {});
    /// assert_eq!(lp.load().ready, 1);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn load(&self) -> LoopLoad {
        let core = &self.core;
        LoopLoad {
            ready: core.batch_left.get() + core.ready.borrow().len(),
            mailbox: core.mailbox_len(),
        }
    }

    /// Counts one request or connection refused because the loop was
    /// overloaded, in [`LoopStats::shed`](crate::LoopStats::shed).
    pub fn note_shed(&self) {
        self.core.shared.counters.shed.add(1);
    }

    /// Counts one HTTP request that missed its deadline, in
    /// [`LoopStats::header_timeouts`](crate::LoopStats::header_timeouts).
    pub(crate) fn note_header_timeout(&self) {
        self.core.shared.counters.header_timeouts.add(1);
    }
}
