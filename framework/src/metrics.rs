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

    /// Raises the counter to `n` if it is lower; owning loop only.
    #[inline]
    pub(crate) fn raise_to(&self, n: u64) {
        if n > self.get() {
            self.0.store(n, Ordering::Relaxed);
        }
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
    pub(crate) bytes_sent: Counter,
    pub(crate) accepts: Counter,
    pub(crate) idle_timeouts: Counter,
    pub(crate) header_timeouts: Counter,
    pub(crate) callbacks_dropped: Counter,
    pub(crate) admission_pauses: Counter,
    pub(crate) shed: Counter,
    pub(crate) busy_ns: Counter,
    pub(crate) poll_wait_ns: Counter,
    pub(crate) slowest_callback_ns: Counter,
    pub(crate) clock_reads: Counter,
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
    /// Bytes written to stream connections.
    pub bytes_sent: u64,
    /// Connections accepted by this loop's listeners (in `Balance::Acceptor`
    /// mode the accepting loop counts them; the loop serving each one
    /// counts it in `connections_opened`).
    pub accepts: u64,
    /// Connections closed because no byte moved within their idle
    /// timeout (`Transport::set_idle_timeout`, `ServerOptions::idle_timeout`).
    pub idle_timeouts: u64,
    /// HTTP requests that missed their deadline (`HttpTimeouts::header`),
    /// answered `408` by the HTTP/1 driver.
    pub header_timeouts: u64,
    /// Callbacks scheduled (`call_soon`, `call_later`, `call_at`) on the
    /// loop after it was closed: dropped, never run, and logged at warn
    /// level (asyncio raises `RuntimeError` there).
    pub callbacks_dropped: u64,
    /// Times a listener stopped accepting because the loop reached its
    /// `ServerOptions::max_connections` (admission control).
    pub admission_pauses: u64,
    /// Requests or connections a protocol refused because the loop was
    /// overloaded ([`EventLoop::note_shed`](crate::EventLoop::note_shed)).
    pub shed: u64,
    /// Nanoseconds of CPU time (user and system) the loop's thread used
    /// while the loop ran: callbacks, I/O, and the kernel's side of its
    /// system calls. Sampled from the thread's CPU clock at most once a
    /// millisecond and when a run ends, not timed per poll (which would
    /// cost a second clock read per iteration).
    pub busy_ns: u64,
    /// Nanoseconds the loop ran without using a CPU: blocked in
    /// `epoll_wait`, or ready and waiting for a CPU. `busy_ns +
    /// poll_wait_ns` is the wall time the loop ran, up to the last sample.
    pub poll_wait_ns: u64,
    /// The slowest single callback so far, in nanoseconds. Timing every
    /// callback costs two clock reads each, so this is measured in debug
    /// mode only (`EventLoop::set_debug`); it stays 0 otherwise.
    pub slowest_callback_ns: u64,
    /// Times the loop read the monotonic clock: once per iteration (when
    /// its poll returns), plus [`EventLoop::time`](crate::EventLoop::time)
    /// calls and the few places where that reading cannot serve. Serving
    /// requests adds none: timers, idle timeouts and the HTTP `Date` use
    /// the iteration's reading.
    pub clock_reads: u64,
}

impl LoopStats {
    /// Stream connections open now (`connections_opened - connections_closed`).
    pub fn live_connections(&self) -> u64 {
        self.connections_opened
            .saturating_sub(self.connections_closed)
    }

    /// The sum of several loops' stats; `slowest_callback_ns` is the
    /// maximum.
    pub fn sum<'a>(stats: impl IntoIterator<Item = &'a LoopStats>) -> LoopStats {
        let mut total = LoopStats::default();
        for s in stats {
            total.iterations += s.iterations;
            total.callbacks += s.callbacks;
            total.io_events += s.io_events;
            total.mailbox_messages += s.mailbox_messages;
            total.panics += s.panics;
            total.slow_callbacks += s.slow_callbacks;
            total.tasks_spawned += s.tasks_spawned;
            total.waker_writes += s.waker_writes;
            total.connections_opened += s.connections_opened;
            total.connections_closed += s.connections_closed;
            total.bytes_received += s.bytes_received;
            total.bytes_sent += s.bytes_sent;
            total.accepts += s.accepts;
            total.idle_timeouts += s.idle_timeouts;
            total.header_timeouts += s.header_timeouts;
            total.callbacks_dropped += s.callbacks_dropped;
            total.admission_pauses += s.admission_pauses;
            total.shed += s.shed;
            total.busy_ns += s.busy_ns;
            total.poll_wait_ns += s.poll_wait_ns;
            total.slowest_callback_ns = total.slowest_callback_ns.max(s.slowest_callback_ns);
            total.clock_reads += s.clock_reads;
        }
        total
    }

    /// Every metric as `(name, help, kind, value)`, in the order the
    /// Prometheus rendering uses; `kind` is `"counter"` or `"gauge"`.
    pub fn metrics(&self) -> [(&'static str, &'static str, &'static str, u64); 22] {
        [
            (
                "iterations_total",
                "Loop iterations (one poll each).",
                "counter",
                self.iterations,
            ),
            (
                "callbacks_total",
                "Ready items run: callbacks, timers, task polls, I/O.",
                "counter",
                self.callbacks,
            ),
            (
                "io_events_total",
                "I/O readiness events returned by epoll.",
                "counter",
                self.io_events,
            ),
            (
                "mailbox_messages_total",
                "Messages taken from the cross-thread mailbox.",
                "counter",
                self.mailbox_messages,
            ),
            (
                "waker_writes_total",
                "Times another thread woke the loop.",
                "counter",
                self.waker_writes,
            ),
            (
                "panics_total",
                "Panics caught in callbacks and tasks.",
                "counter",
                self.panics,
            ),
            (
                "slow_callbacks_total",
                "Callbacks slower than slow_callback_duration (debug mode).",
                "counter",
                self.slow_callbacks,
            ),
            (
                "tasks_spawned_total",
                "Tasks spawned.",
                "counter",
                self.tasks_spawned,
            ),
            (
                "accepts_total",
                "Connections accepted by this loop's listeners.",
                "counter",
                self.accepts,
            ),
            (
                "idle_timeouts_total",
                "Connections closed by their idle timeout.",
                "counter",
                self.idle_timeouts,
            ),
            (
                "header_timeouts_total",
                "HTTP requests that missed their deadline (408).",
                "counter",
                self.header_timeouts,
            ),
            (
                "callbacks_dropped_total",
                "Callbacks scheduled on the loop after it closed (never run).",
                "counter",
                self.callbacks_dropped,
            ),
            (
                "admission_pauses_total",
                "Times a listener stopped accepting at max_connections.",
                "counter",
                self.admission_pauses,
            ),
            (
                "shed_total",
                "Requests or connections refused because the loop was overloaded.",
                "counter",
                self.shed,
            ),
            (
                "connections_opened_total",
                "Stream connections set up.",
                "counter",
                self.connections_opened,
            ),
            (
                "connections_closed_total",
                "Stream connections whose connection_lost ran.",
                "counter",
                self.connections_closed,
            ),
            (
                "connections_live",
                "Stream connections open now.",
                "gauge",
                self.live_connections(),
            ),
            (
                "bytes_received_total",
                "Bytes read from stream connections.",
                "counter",
                self.bytes_received,
            ),
            (
                "bytes_sent_total",
                "Bytes written to stream connections.",
                "counter",
                self.bytes_sent,
            ),
            (
                "busy_nanoseconds_total",
                "CPU time the loop's thread used while the loop ran.",
                "counter",
                self.busy_ns,
            ),
            (
                "poll_wait_nanoseconds_total",
                "Time the loop ran without using a CPU (blocked in epoll_wait, or waiting for a CPU).",
                "counter",
                self.poll_wait_ns,
            ),
            (
                "slowest_callback_nanoseconds",
                "The slowest callback so far (debug mode only).",
                "gauge",
                self.slowest_callback_ns,
            ),
        ]
    }
}

/// Renders per-loop stats in the Prometheus text exposition format: one
/// series per loop with a `loop="N"` label, every name prefixed `loopcore_`.
///
/// ```
/// let text = loopcore::render_prometheus(&[loopcore::LoopStats::default()]);
/// assert!(text.contains("loopcore_connections_live{loop=\"0\"} 0"));
/// ```
pub fn render_prometheus(per_loop: &[LoopStats]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let Some(first) = per_loop.first() else {
        return out;
    };
    for (i, (name, help, kind, _)) in first.metrics().iter().enumerate() {
        let _ = writeln!(out, "# HELP loopcore_{name} {help}");
        let _ = writeln!(out, "# TYPE loopcore_{name} {kind}");
        for (index, stats) in per_loop.iter().enumerate() {
            let value = stats.metrics()[i].3;
            let _ = writeln!(out, "loopcore_{name}{{loop=\"{index}\"}} {value}");
        }
    }
    out
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
            bytes_sent: self.bytes_sent.get(),
            accepts: self.accepts.get(),
            idle_timeouts: self.idle_timeouts.get(),
            header_timeouts: self.header_timeouts.get(),
            callbacks_dropped: self.callbacks_dropped.get(),
            admission_pauses: self.admission_pauses.get(),
            shed: self.shed.get(),
            busy_ns: self.busy_ns.get(),
            poll_wait_ns: self.poll_wait_ns.get(),
            slowest_callback_ns: self.slowest_callback_ns.get(),
            clock_reads: self.clock_reads.get(),
        }
    }
}
