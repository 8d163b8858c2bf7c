//! A transport's outgoing bytes and its flow-control state, with no socket:
//! the transport appends, the loop flushes what the kernel takes, and
//! [`FlowControl`] says when to tell the protocol to pause or resume.
//!
//! Invariants:
//! 1. Bytes leave in the order they were appended, handed over
//!    (`push_owned`) or queued from a file (`push_file`); `consume(n)` drops
//!    the first `n` pending bytes only.
//! 2. Once empty the buffer rewinds to its start, so a connection that keeps
//!    up never grows it; its capacity is released above `SHRINK_ABOVE`.
//! 3. `pause_writing` is signalled once when the size goes above `high`,
//!    `resume_writing` once when it then drops to `low` or below.

use std::collections::VecDeque;

/// Capacity kept after draining; beyond this an empty buffer is freed.
const SHRINK_ABOVE: usize = 256 * 1024;

/// Pending outgoing bytes: bytes copied in (`bytes`, the common case, sent
/// first) and then, once a buffer was handed over whole or a file range
/// queued, segments in order (`queued`).
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    bytes: Vec<u8>,
    start: usize,
    /// After `bytes`, in order; what is appended while any is queued goes
    /// into a trailing `Copied` segment, to keep the order.
    queued: VecDeque<Segment>,
    /// Bytes pending in `queued` (a file range counts what is left of it).
    queued_len: usize,
}

/// A buffer the transport took whole (`write_owned`): sent from where it
/// is, never copied.
pub(crate) type OwnedBytes = Box<dyn AsRef<[u8]>>;

/// Part of a file to send (`sendfile`).
#[derive(Debug)]
pub(crate) struct FileRange {
    pub(crate) file: std::fs::File,
    pub(crate) offset: u64,
    pub(crate) remaining: u64,
    /// `sendfile(2)` refused this file (or the destination): read and
    /// write it instead.
    pub(crate) read_fallback: bool,
}

enum Segment {
    Owned { data: OwnedBytes, start: usize },
    Copied { data: Vec<u8>, start: usize },
    File(FileRange),
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Owned { data, start } => f
                .debug_struct("Owned")
                .field("len", &(**data).as_ref().len())
                .field("start", start)
                .finish(),
            Segment::Copied { data, start } => f
                .debug_struct("Copied")
                .field("len", &data.len())
                .field("start", start)
                .finish(),
            Segment::File(range) => range.fmt(f),
        }
    }
}

impl Segment {
    fn pending(&self) -> usize {
        match self {
            Segment::Owned { data, start } => (**data).as_ref().len() - start,
            Segment::Copied { data, start } => data.len() - start,
            Segment::File(range) => usize::try_from(range.remaining).unwrap_or(usize::MAX),
        }
    }
}

/// What goes out next: bytes (as slices, for one `writev`), or a file
/// range, which takes a call of its own.
pub(crate) enum Head<'a> {
    /// This many slices were filled; `file_next` says a file range comes
    /// right after them (so a TCP sender can ask for them to share packets
    /// with it: `MSG_MORE`).
    Slices {
        count: usize,
        file_next: bool,
    },
    File(&'a mut FileRange),
}

impl WriteBuffer {
    /// Appends `data` after what is pending.
    #[inline]
    pub(crate) fn append(&mut self, data: &[u8]) {
        if !self.queued.is_empty() {
            self.tail_vec().extend_from_slice(data);
            self.queued_len += data.len();
            return;
        }
        self.rewind_if_drained();
        self.bytes.extend_from_slice(data);
    }

    /// Lets `fill` append to the pending bytes in place; returns the pending
    /// length before it ran (the caller checks `fill` did not shorten it)
    /// and what `fill` returned.
    #[inline]
    pub(crate) fn append_with<R>(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> R) -> (usize, R) {
        let before = self.len();
        if !self.queued.is_empty() {
            let tail = self.tail_vec();
            let tail_before = tail.len();
            let result = fill(tail);
            let tail_after = tail.len();
            self.queued_len = (self.queued_len + tail_after).saturating_sub(tail_before);
            if let Some(Segment::Copied { data, start }) = self.queued.back_mut() {
                *start = (*start).min(data.len());
            }
            return (before, result);
        }
        self.rewind_if_drained();
        let result = fill(&mut self.bytes);
        if self.bytes.len() < self.start {
            // Shortened into bytes already sent: nothing valid is pending.
            self.start = self.bytes.len();
        }
        (before, result)
    }

    /// Queues `data` to be sent from where it is.
    pub(crate) fn push_owned(&mut self, data: OwnedBytes) {
        let len = (*data).as_ref().len();
        if len > 0 {
            self.queued_len += len;
            self.queued.push_back(Segment::Owned { data, start: 0 });
        }
    }

    /// Queues a file range.
    pub(crate) fn push_file(&mut self, range: FileRange) {
        if range.remaining > 0 {
            self.queued_len = self
                .queued_len
                .saturating_add(usize::try_from(range.remaining).unwrap_or(usize::MAX));
            self.queued.push_back(Segment::File(range));
        }
    }

    /// The trailing `Copied` segment, made if the last one is not.
    fn tail_vec(&mut self) -> &mut Vec<u8> {
        if !matches!(self.queued.back(), Some(Segment::Copied { .. })) {
            self.queued.push_back(Segment::Copied {
                data: Vec::new(),
                start: 0,
            });
        }
        match self.queued.back_mut() {
            Some(Segment::Copied { data, .. }) => data,
            _ => unreachable!("a Copied segment was just pushed"),
        }
    }

    fn rewind_if_drained(&mut self) {
        if self.start > 0 && self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    /// True when everything pending is in one slice, [`pending`](Self::pending).
    #[inline]
    pub(crate) fn is_contiguous(&self) -> bool {
        self.queued.is_empty()
    }

    /// The pending bytes copied in, oldest first: all that is pending when
    /// [`is_contiguous`](Self::is_contiguous).
    #[inline]
    pub(crate) fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// What goes out next: with [`Head::Slices`], that many slices were put
    /// in `slices` (the bytes up to the next file range or the end); with
    /// [`Head::File`], the file range at the front.
    pub(crate) fn head<'a>(&'a mut self, slices: &mut [std::io::IoSlice<'a>]) -> Head<'a> {
        if self.start == self.bytes.len() && matches!(self.queued.front(), Some(Segment::File(_))) {
            match self.queued.front_mut() {
                Some(Segment::File(range)) => return Head::File(range),
                _ => unreachable!("the front is a file range"),
            }
        }
        let this: &'a Self = self;
        let head_bytes = &this.bytes[this.start..];
        let mut count = 0;
        let mut file_next = false;
        if !head_bytes.is_empty() && count < slices.len() {
            slices[count] = std::io::IoSlice::new(head_bytes);
            count += 1;
        }
        for segment in &this.queued {
            if count == slices.len() {
                break;
            }
            let slice = match segment {
                Segment::Owned { data, start } => &(**data).as_ref()[*start..],
                Segment::Copied { data, start } => &data[*start..],
                Segment::File(_) => {
                    file_next = true;
                    break;
                }
            };
            if !slice.is_empty() {
                slices[count] = std::io::IoSlice::new(slice);
                count += 1;
            }
        }
        Head::Slices { count, file_next }
    }

    /// Bytes pending (a queued file range counts what is left to send).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        (self.bytes.len() - self.start).saturating_add(self.queued_len)
    }

    /// True when nothing is pending.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the first `n` pending bytes (the kernel took them).
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        if self.queued.is_empty() {
            self.start = (self.start + n).min(self.bytes.len());
            if self.start == self.bytes.len() {
                // All sent, nothing queued: rewind (what `clear` does,
                // without walking an empty queue).
                self.bytes.clear();
                self.start = 0;
                if self.bytes.capacity() > SHRINK_ABOVE {
                    self.bytes = Vec::new();
                }
            }
            return;
        }
        self.consume_queued(n);
    }

    fn consume_queued(&mut self, mut n: usize) {
        let head = (self.bytes.len() - self.start).min(n);
        self.start += head;
        n -= head;
        while n > 0 {
            let Some(front) = self.queued.front_mut() else {
                break;
            };
            let pending = front.pending();
            let taken = pending.min(n);
            match front {
                Segment::Owned { start, .. } | Segment::Copied { start, .. } => *start += taken,
                Segment::File(range) => {
                    range.offset += taken as u64;
                    range.remaining -= taken as u64;
                }
            }
            self.queued_len -= taken;
            n -= taken;
            if taken == pending {
                self.queued.pop_front();
            }
        }
        if self.start == self.bytes.len() {
            if self.queued.is_empty() {
                self.clear();
            } else if self.start > 0 {
                self.bytes.clear();
                self.start = 0;
            }
        }
    }

    /// Drops everything pending.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.start = 0;
        self.queued.clear();
        self.queued_len = 0;
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

    /// Whether `size` pending bytes are above the high-water mark.
    pub(crate) fn is_above_high(&self, size: usize) -> bool {
        size > self.high
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

    fn slices(buf: &mut WriteBuffer) -> Vec<Vec<u8>> {
        let mut slices = [std::io::IoSlice::new(&[]); 8];
        match buf.head(&mut slices) {
            Head::Slices { count, .. } => slices[..count].iter().map(|s| s.to_vec()).collect(),
            Head::File(_) => panic!("no file queued"),
        }
    }

    #[test]
    fn owned_buffers_keep_their_place_between_copied_bytes() {
        let mut buf = WriteBuffer::default();
        buf.append(b"ab");
        buf.push_owned(Box::new(b"cdef".to_vec()));
        assert!(!buf.is_contiguous());
        buf.append(b"gh");
        let (before, ()) = buf.append_with(|out| out.extend_from_slice(b"ij"));
        assert_eq!(before, 8);
        assert_eq!(buf.len(), 10);
        assert_eq!(slices(&mut buf), [&b"ab"[..], b"cdef", b"ghij"]);
        buf.consume(3);
        assert_eq!(slices(&mut buf), [&b"def"[..], b"ghij"]);
        assert_eq!(buf.len(), 7);
        buf.consume(7);
        assert!(buf.is_empty() && buf.is_contiguous());
        buf.append(b"k");
        assert_eq!(buf.pending(), b"k");
    }

    #[test]
    fn a_file_range_stops_the_slices_and_counts_what_is_left() {
        let path = std::env::temp_dir().join(format!("loopcore-wb-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let mut buf = WriteBuffer::default();
        buf.append(b"head");
        buf.push_file(FileRange {
            file: std::fs::File::open(&path).unwrap(),
            offset: 2,
            remaining: 6,
            read_fallback: false,
        });
        buf.append(b"tail");
        assert_eq!(buf.len(), 14);
        assert_eq!(slices(&mut buf), [&b"head"[..]]);
        buf.consume(4);
        match buf.head(&mut [std::io::IoSlice::new(&[]); 8]) {
            Head::File(range) => assert_eq!((range.offset, range.remaining), (2, 6)),
            Head::Slices { .. } => panic!("the file range is next"),
        }
        buf.consume(5);
        match buf.head(&mut [std::io::IoSlice::new(&[]); 8]) {
            Head::File(range) => assert_eq!((range.offset, range.remaining), (7, 1)),
            Head::Slices { .. } => panic!("the file range is not done"),
        }
        buf.consume(2);
        assert_eq!(slices(&mut buf), [&b"ail"[..]]);
        std::fs::remove_file(path).unwrap();
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
