//! A transport's outgoing bytes and its flow-control state, with no socket:
//! the transport appends, the loop flushes what the kernel takes, and
//! [`FlowControl`] says when to tell the protocol to pause or resume.
//!
//! Invariants:
//! 1. Bytes leave in the order they were appended; `consume(n)` drops the
//!    first `n` pending bytes only.
//! 2. Once empty the buffer rewinds to its start, so a connection that keeps
//!    up never grows it; its capacity is released above `SHRINK_ABOVE`.
//! 3. `pause_writing` is signalled once when the size goes above `high`,
//!    `resume_writing` once when it then drops to `low` or below.

/// Capacity kept after draining; beyond this an empty buffer is freed.
const SHRINK_ABOVE: usize = 256 * 1024;

/// Pending outgoing bytes.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl WriteBuffer {
    /// Appends `data` after what is pending.
    #[inline]
    pub(crate) fn append(&mut self, data: &[u8]) {
        self.rewind_if_drained();
        self.bytes.extend_from_slice(data);
    }

    /// Lets `fill` append to the pending bytes in place; returns the pending
    /// length before it ran (the caller checks `fill` did not shorten it)
    /// and what `fill` returned.
    #[inline]
    pub(crate) fn append_with<R>(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> R) -> (usize, R) {
        self.rewind_if_drained();
        let before = self.len();
        let result = fill(&mut self.bytes);
        if self.bytes.len() < self.start {
            // Shortened into bytes already sent: nothing valid is pending.
            self.start = self.bytes.len();
        }
        (before, result)
    }

    fn rewind_if_drained(&mut self) {
        if self.start > 0 && self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    /// The pending bytes, oldest first.
    #[inline]
    pub(crate) fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// Bytes pending.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// True when nothing is pending.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the first `n` pending bytes (the kernel took them).
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.bytes.len());
        if self.start == self.bytes.len() {
            self.clear();
        }
    }

    /// Drops everything pending.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.start = 0;
        if self.bytes.capacity() > SHRINK_ABOVE {
            self.bytes = Vec::new();
        }
    }
}

/// What the protocol must be told after a change in buffer size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowEvent {
    Pause,
    Resume,
}

/// High/low water marks and whether the protocol was told to pause.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowControl {
    high: usize,
    low: usize,
    paused: bool,
}

/// asyncio's default high-water mark (64 KiB).
pub(crate) const DEFAULT_HIGH: usize = 64 * 1024;

impl Default for FlowControl {
    fn default() -> Self {
        Self {
            high: DEFAULT_HIGH,
            low: DEFAULT_HIGH / 4,
            paused: false,
        }
    }
}

/// Why water marks were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadLimits {
    pub(crate) high: usize,
    pub(crate) low: usize,
}

impl FlowControl {
    /// Sets the marks as asyncio does: with only one given the other is
    /// derived (low = high / 4, high = low * 4); none keeps the defaults.
    pub(crate) fn set_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), BadLimits> {
        let (high, low) = match (high, low) {
            (None, None) => (DEFAULT_HIGH, DEFAULT_HIGH / 4),
            (Some(high), None) => (high, high / 4),
            (None, Some(low)) => (low.saturating_mul(4), low),
            (Some(high), Some(low)) => (high, low),
        };
        if high < low {
            return Err(BadLimits { high, low });
        }
        self.high = high;
        self.low = low;
        Ok(())
    }

    /// Forgets that the protocol was paused (a new protocol took over the
    /// connection: `start_tls`).
    pub(crate) fn forget_pause(&mut self) {
        self.paused = false;
    }

    /// The marks (high, low).
    pub(crate) fn limits(&self) -> (usize, usize) {
        (self.high, self.low)
    }

    /// What to tell the protocol now that `size` bytes are pending.
    pub(crate) fn check(&mut self, size: usize) -> Option<FlowEvent> {
        if !self.paused && size > self.high {
            self.paused = true;
            Some(FlowEvent::Pause)
        } else if self.paused && size <= self.low {
            self.paused = false;
            Some(FlowEvent::Resume)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_leave_in_order_and_the_buffer_rewinds() {
        let mut buf = WriteBuffer::default();
        buf.append(b"hello ");
        buf.append(b"world");
        assert_eq!(buf.pending(), b"hello world");
        buf.consume(6);
        assert_eq!(buf.pending(), b"world");
        buf.append(b"!");
        assert_eq!(buf.pending(), b"world!");
        buf.consume(6);
        assert!(buf.is_empty());
        assert_eq!(buf.start, 0, "rewound when drained");
        buf.consume(10);
        assert!(buf.is_empty());
    }

    #[test]
    fn large_buffers_are_released_when_drained() {
        let mut buf = WriteBuffer::default();
        buf.append(&vec![0u8; 1 << 20]);
        buf.consume(1 << 20);
        assert_eq!(buf.bytes.capacity(), 0);
    }

    #[test]
    fn pause_once_above_high_resume_once_at_low() {
        let mut flow = FlowControl::default();
        flow.set_limits(Some(100), Some(10)).unwrap();
        assert_eq!(flow.check(100), None);
        assert_eq!(flow.check(101), Some(FlowEvent::Pause));
        assert_eq!(flow.check(500), None, "only once");
        assert_eq!(flow.check(11), None);
        assert_eq!(flow.check(10), Some(FlowEvent::Resume));
        assert_eq!(flow.check(0), None, "only once");
    }

    #[test]
    fn limits_are_derived_and_checked_like_asyncio() {
        let mut flow = FlowControl::default();
        assert_eq!(flow.limits(), (65536, 16384));
        flow.set_limits(Some(400), None).unwrap();
        assert_eq!(flow.limits(), (400, 100));
        flow.set_limits(None, Some(50)).unwrap();
        assert_eq!(flow.limits(), (200, 50));
        assert_eq!(
            flow.set_limits(Some(10), Some(20)),
            Err(BadLimits { high: 10, low: 20 })
        );
        assert_eq!(flow.limits(), (200, 50), "unchanged after an error");
    }
}
