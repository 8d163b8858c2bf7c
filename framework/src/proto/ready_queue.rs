//! The loop's FIFO of ready work, with O(1) cancellation by sequence number.
//!
//! Invariants:
//! 1. Every pushed item gets the next sequence number; the item at the front
//!    has number `head_seq`, so an item's position is `seq - head_seq`.
//! 2. Cancelling leaves a hole (`None`) in place, which keeps the numbering
//!    intact; holes are skipped when popped. No allocation per item beyond
//!    the deque's own growth, and no shared counter per handle.
//! 3. A sequence number outside `head_seq..head_seq + len` belongs to an
//!    item that already ran or was dropped: cancelling it does nothing.

use std::collections::VecDeque;

/// A FIFO of `T` whose items can be cancelled by the number `push` returned.
#[derive(Debug)]
pub(crate) struct ReadyQueue<T> {
    items: VecDeque<Option<T>>,
    head_seq: u64,
}

impl<T> Default for ReadyQueue<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::with_capacity(64),
            head_seq: 0,
        }
    }
}

impl<T> ReadyQueue<T> {
    /// Appends `item` and returns its sequence number.
    #[inline]
    pub(crate) fn push(&mut self, item: T) -> u64 {
        self.items.push_back(Some(item));
        self.head_seq + self.items.len() as u64 - 1
    }

    /// Removes the front slot: `Some(None)` is a cancelled hole.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Option<T>> {
        let item = self.items.pop_front()?;
        self.head_seq += 1;
        Some(item)
    }

    /// Cancels the item numbered `seq` if it is still queued.
    pub(crate) fn cancel(&mut self, seq: u64) -> Option<T> {
        let index = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        self.items.get_mut(index)?.take()
    }

    /// Slots queued, holes included (what one batch will pop).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Removes every queued item, keeping the numbering going, so handles
    /// to the removed items cannot reach items pushed later.
    pub(crate) fn take_all(&mut self) -> VecDeque<Option<T>> {
        self.head_seq += self.items.len() as u64;
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_holes() {
        let mut q = ReadyQueue::default();
        let a = q.push('a');
        let b = q.push('b');
        let c = q.push('c');
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(q.cancel(b), Some('b'));
        assert_eq!(q.cancel(b), None);
        assert_eq!(q.pop(), Some(Some('a')));
        assert_eq!(q.pop(), Some(None));
        assert_eq!(q.cancel(a), None, "already ran");
        assert_eq!(q.pop(), Some(Some('c')));
        assert_eq!(q.pop(), None);
        assert_eq!(q.push('d'), 3);
        assert_eq!(q.cancel(99), None, "not yet pushed");
    }

    #[test]
    fn take_all_keeps_numbering() {
        let mut q = ReadyQueue::default();
        let a = q.push(1);
        assert_eq!(q.take_all().len(), 1);
        assert!(q.is_empty());
        assert_eq!(q.cancel(a), None);
        assert_eq!(q.push(2), 1);
    }
}
