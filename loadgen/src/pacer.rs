//! The open-loop send schedule of one connection, sans-IO: request `k`
//! falls due at `start + offset + k * interval`, whatever happened to the
//! earlier ones, so a stalled server cannot slow the schedule down
//! (coordinated omission). Each connection gets the same interval
//! (`connections / rate`) and an offset that spreads the connections
//! evenly over one interval, so the total rate is smooth.

use std::time::{Duration, Instant};

/// One connection's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    /// Seconds from `start` to request 0.
    offset: f64,
    /// Seconds between two requests.
    interval: f64,
    next: u64,
}

impl Schedule {
    /// The schedule of connection `index` of `connections` sharing `rate`
    /// requests per second in total.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopcore_loadgen::pacer::Schedule;
    /// let start = Instant::now();
    /// // 4 connections sharing 1,000 req/s: each sends every 4 ms, offset by 1 ms.
    /// let mut second = Schedule::new(start, 1, 4, 1000.0);
    /// assert_eq!(second.take(), start + Duration::from_millis(1));
    /// assert_eq!(second.take(), start + Duration::from_millis(5));
    /// ```
    pub fn new(start: Instant, index: usize, connections: usize, rate: f64) -> Self {
        let interval = connections as f64 / rate;
        Self {
            start,
            offset: interval * index as f64 / connections as f64,
            interval,
            next: 0,
        }
    }

    /// When the next request falls due.
    pub fn next_due(&self) -> Instant {
        // A rate so low that the offset does not fit a `Duration` (or an
        // `Instant`) means "not within this run": a century away.
        let far = Duration::from_secs(100 * 365 * 86_400);
        let offset = Duration::try_from_secs_f64(self.offset + self.next as f64 * self.interval)
            .unwrap_or(far)
            .min(far);
        self.start + offset
    }

    /// The next due time, moving past it.
    pub fn take(&mut self) -> Instant {
        let due = self.next_due();
        self.next += 1;
        due
    }

    /// Moves every request due at or before `now` out, oldest first.
    pub fn take_due(&mut self, now: Instant, mut each: impl FnMut(Instant)) {
        while self.next_due() <= now {
            let due = self.take();
            each(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vanishingly_small_rate_is_due_far_away_not_a_panic() {
        let start = Instant::now();
        let mut schedule = Schedule::new(start, 0, 4, 1e-30);
        let first = schedule.take();
        assert_eq!(first, start);
        assert!(schedule.next_due() > start + Duration::from_secs(86_400 * 365));
    }

    #[test]
    fn the_connections_together_keep_the_total_rate_evenly_spaced() {
        let start = Instant::now();
        let mut all: Vec<Instant> = Vec::new();
        for index in 0..8 {
            let mut schedule = Schedule::new(start, index, 8, 2000.0);
            schedule.take_due(start + Duration::from_millis(100), |due| all.push(due));
        }
        all.sort();
        // 2,000 req/s for 100 ms, both ends included: 201 requests, 0.5 ms apart.
        assert_eq!(all.len(), 201);
        for pair in all.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap.abs_diff(Duration::from_micros(500)) < Duration::from_micros(2),
                "{gap:?}"
            );
        }
    }
}
