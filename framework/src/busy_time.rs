//! A running loop's busy and waiting time (`LoopStats::busy_ns`,
//! `poll_wait_ns`), from its thread's CPU clock rather than from clock
//! reads around every poll.
//!
//! Timing each poll would take a second clock read per iteration, which
//! on a loop answering one request per iteration is a clock read per
//! request. Instead the loop samples its thread's CPU time at most once a
//! millisecond of its own iteration time (and when a run starts and ends):
//! the CPU time used since the last sample was busy; the rest of the wall
//! time in between was spent blocked in `epoll_wait`, or ready and waiting
//! for a CPU.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::event_loop::nanos;
use crate::metrics::Counters;

/// How often a busy loop brings its busy and wait counters up to date.
const SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// The last sample of a running loop.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Instant,
    cpu: Duration,
}

/// Per-loop sampler; touched only from the loop's thread.
#[derive(Debug, Default)]
pub(crate) struct BusyClock {
    /// The last sample, while a run is going on.
    last: Cell<Option<Sample>>,
    /// The iteration time at or after which the next sample is taken.
    next_due: Cell<Option<Instant>>,
}

impl BusyClock {
    /// A run starts at `now`: the time from here on counts.
    pub(crate) fn start(&self, now: Instant) {
        self.last
            .set(cpu_time().map(|cpu| Sample { wall: now, cpu }));
        self.next_due.set(Some(now + SAMPLE_EVERY));
    }

    /// A poll returned at `now` (the iteration's one clock read): samples
    /// if a millisecond went by since the last sample.
    #[inline]
    pub(crate) fn on_poll(&self, now: Instant, counters: &Counters) {
        if self.next_due.get().is_some_and(|due| now >= due) {
            self.sample(now, counters);
        }
    }

    /// The run ends at `now`: counts its last stretch.
    pub(crate) fn stop(&self, now: Instant, counters: &Counters) {
        self.sample(now, counters);
        self.last.set(None);
        self.next_due.set(None);
    }

    #[cold]
    fn sample(&self, now: Instant, counters: &Counters) {
        let Some(last) = self.last.get() else {
            return;
        };
        let Some(cpu) = cpu_time() else {
            return;
        };
        let wall = now.saturating_duration_since(last.wall);
        // A thread cannot use more CPU than wall time; the two clocks'
        // granularities may say otherwise by a tick.
        let busy = cpu.saturating_sub(last.cpu).min(wall);
        counters.busy_ns.add(nanos(busy));
        counters.poll_wait_ns.add(nanos(wall - busy));
        self.last.set(Some(Sample { wall: now, cpu }));
        self.next_due.set(Some(now + SAMPLE_EVERY));
    }
}

fn cpu_time() -> Option<Duration> {
    crate::sys::thread_cpu_time().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_run_is_busy_and_a_sleeping_run_is_waiting() {
        let counters = Counters::default();
        let clock = BusyClock::default();
        clock.start(Instant::now());
        let spin_until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        clock.on_poll(Instant::now(), &counters);
        let busy_after_spin = counters.busy_ns.get();
        std::thread::sleep(Duration::from_millis(30));
        clock.stop(Instant::now(), &counters);
        // Spinning used CPU (all of it, on an idle machine; some of it on
        // a busy one); sleeping used almost none, and all the time is
        // accounted for one way or the other.
        assert!(busy_after_spin > 0, "a spin counts as busy");
        let busy = counters.busy_ns.get();
        let waiting = counters.poll_wait_ns.get();
        assert!(
            waiting >= 25_000_000,
            "a 30 ms sleep counts as waiting: {waiting} ns"
        );
        assert!(
            busy - busy_after_spin < 25_000_000,
            "sleeping is not busy: {busy} ns"
        );
        assert!(busy + waiting >= 60_000_000);
    }

    #[test]
    fn nothing_counts_outside_a_run() {
        let counters = Counters::default();
        let clock = BusyClock::default();
        clock.on_poll(Instant::now() + Duration::from_secs(1), &counters);
        clock.stop(Instant::now(), &counters);
        assert_eq!(
            (counters.busy_ns.get(), counters.poll_wait_ns.get()),
            (0, 0)
        );
    }
}
