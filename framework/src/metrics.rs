//! Per-loop counters. Each counter has exactly one writer (its loop's
//! thread), so an update is a relaxed load and store, never a locked
//! read-modify-write; other threads read a [`LoopStats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// One single-writer counter on its own cache line, so loops on different
/// cores never share a line.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`; only the owning loop's thread may call this.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The live counters of one loop, written by that loop only.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) iterations: Counter,
    pub(crate) callbacks: Counter,
    pub(crate) io_events: Counter,
    pub(crate) mailbox_messages: Counter,
    pub(crate) panics: Counter,
    pub(crate) slow_callbacks: Counter,
    pub(crate) tasks_spawned: Counter,
    pub(crate) connections_opened: Counter,
    pub(crate) connections_closed: Counter,
    pub(crate) bytes_received: Counter,
}

/// A snapshot of one loop's counters, readable from any thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopStats {
    /// Loop iterations (one poll each).
    pub iterations: u64,
    /// Ready-queue items run: callbacks, timer callbacks, task polls, fd callbacks.
    pub callbacks: u64,
    /// I/O readiness events returned by the poll.
    pub io_events: u64,
    /// Messages taken from the cross-thread mailbox.
    pub mailbox_messages: u64,
    /// Panics caught in callbacks and tasks.
    pub panics: u64,
    /// Callbacks slower than `slow_callback_duration` (counted in debug mode only).
    pub slow_callbacks: u64,
    /// Tasks spawned on this loop.
    pub tasks_spawned: u64,
    /// Times another thread wrote the loop's waker (wake-ups are coalesced:
    /// a burst of posts between two drains writes it once).
    pub waker_writes: u64,
    /// Stream connections set up (accepted or connected).
    pub connections_opened: u64,
    /// Stream connections whose `connection_lost` ran.
    pub connections_closed: u64,
    /// Bytes read from stream connections.
    pub bytes_received: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> LoopStats {
        LoopStats {
            iterations: self.iterations.get(),
            callbacks: self.callbacks.get(),
            io_events: self.io_events.get(),
            mailbox_messages: self.mailbox_messages.get(),
            panics: self.panics.get(),
            slow_callbacks: self.slow_callbacks.get(),
            tasks_spawned: self.tasks_spawned.get(),
            waker_writes: 0,
            connections_opened: self.connections_opened.get(),
            connections_closed: self.connections_closed.get(),
            bytes_received: self.bytes_received.get(),
        }
    }
}
