//! The loop's FIFO of ready work, with O(1) cancellation by sequence number.
//!
//! Items wait in `pending` (a plain `Vec`, so a push is a `Vec::push`).
//! When the loop starts a batch it swaps the whole `pending` vector out and
//! runs it from a local vector, without touching this structure per item;
//! what the batch schedules lands in the fresh `pending` and runs in the next
//! iteration, as asyncio requires.
//!
//! Invariants:
//! 1. Every pushed item gets the next sequence number; `pending[0]` has
//!    number `pending_seq`, and the running batch holds
//!    `batch_start..pending_seq`.
//! 2. Cancelling a pending item leaves a hole (`None`) in place, which keeps
//!    the numbering intact; holes are skipped when run.
//! 3. Cancelling an item of the running batch records its number in
//!    `batch_cancelled`; the batch runner skips recorded numbers. (Numbers
//!    of items that already ran may be recorded too: they never match a
//!    later item, since numbers are never reused.)
//! 4. A number below `batch_start` (or below `pending_seq` with no batch
//!    running) belongs to an item that ran or was dropped: cancelling it
//!    does nothing.

/// What [`ReadyQueue::cancel`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancelled<T> {
    /// The item was pending and is returned, to be dropped by the caller.
    Removed(T),
    /// The item is in the running batch; the runner will skip it.
    InBatch,
    /// Nothing to cancel: the item already ran or never existed.
    Gone,
}

/// A FIFO of `T` whose items can be cancelled by the number `push` returned.
#[derive(Debug)]
pub(crate) struct ReadyQueue<T> {
    pending: Vec<Option<T>>,
    pending_seq: u64,
    batch_start: u64,
    batch_cancelled: Vec<u64>,
}

impl<T> Default for ReadyQueue<T> {
    fn default() -> Self {
        Self {
            pending: Vec::with_capacity(64),
            pending_seq: 0,
            batch_start: 0,
            batch_cancelled: Vec::new(),
        }
    }
}

impl<T> ReadyQueue<T> {
    /// Appends `item` and returns its sequence number.
    #[inline]
    pub(crate) fn push(&mut self, item: T) -> u64 {
        self.pending.push(Some(item));
        self.pending_seq + self.pending.len() as u64 - 1
    }

    /// Starts a batch: moves every pending item into `batch` (which must be
    /// empty; its capacity is reused for the next `pending`) and returns the
    /// first item's sequence number.
    pub(crate) fn start_batch(&mut self, batch: &mut Vec<Option<T>>) -> u64 {
        debug_assert!(batch.is_empty());
        std::mem::swap(&mut self.pending, batch);
        self.batch_start = self.pending_seq;
        self.pending_seq += batch.len() as u64;
        self.batch_cancelled.clear();
        self.batch_start
    }

    /// True if the running batch's item `seq` was cancelled.
    #[inline]
    pub(crate) fn batch_item_cancelled(&self, seq: u64) -> bool {
        self.batch_cancelled.contains(&seq)
    }

    /// Cancels the item numbered `seq` if it has not run.
    pub(crate) fn cancel(&mut self, seq: u64) -> Cancelled<T> {
        if seq >= self.pending_seq {
            let taken = usize::try_from(seq - self.pending_seq)
                .ok()
                .and_then(|index| self.pending.get_mut(index))
                .and_then(Option::take);
            return match taken {
                Some(item) => Cancelled::Removed(item),
                None => Cancelled::Gone,
            };
        }
        if seq >= self.batch_start {
            self.batch_cancelled.push(seq);
            return Cancelled::InBatch;
        }
        Cancelled::Gone
    }

    /// True when nothing is pending.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Removes every pending item, keeping the numbering going, so handles
    /// to the removed items cannot reach items pushed later.
    pub(crate) fn take_all(&mut self) -> Vec<Option<T>> {
        self.pending_seq += self.pending.len() as u64;
        self.batch_start = self.pending_seq;
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_batch(q: &mut ReadyQueue<char>) -> Vec<char> {
        let mut batch = Vec::new();
        let start = q.start_batch(&mut batch);
        let mut ran = Vec::new();
        for (i, item) in batch.into_iter().enumerate() {
            if let Some(c) = item {
                if !q.batch_item_cancelled(start + i as u64) {
                    ran.push(c);
                }
            }
        }
        ran
    }

    #[test]
    fn fifo_with_holes() {
        let mut q = ReadyQueue::default();
        let a = q.push('a');
        let b = q.push('b');
        let c = q.push('c');
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(q.cancel(b), Cancelled::Removed('b'));
        assert_eq!(q.cancel(b), Cancelled::Gone);
        assert_eq!(q.pending.len(), 3);
        assert_eq!(run_batch(&mut q), ['a', 'c']);
        assert_eq!(q.push('d'), 3);
        assert_eq!(q.cancel(99), Cancelled::Gone, "not yet pushed");
    }

    #[test]
    fn items_of_the_running_batch_are_cancelled_by_record() {
        let mut q = ReadyQueue::default();
        let a = q.push('a');
        let b = q.push('b');
        let mut batch = Vec::new();
        let start = q.start_batch(&mut batch);
        assert_eq!(start, a);
        // Pushed while the batch runs: goes to the next batch.
        let c = q.push('c');
        assert_eq!(c, 2);
        assert_eq!(q.cancel(b), Cancelled::InBatch);
        assert!(q.batch_item_cancelled(b));
        assert!(!q.batch_item_cancelled(a));
        assert_eq!(q.cancel(c), Cancelled::Removed('c'));
        // A new batch forgets the old records.
        let mut next = Vec::new();
        q.start_batch(&mut next);
        assert!(!q.batch_item_cancelled(b));
        assert_eq!(q.cancel(a), Cancelled::Gone);
    }

    #[test]
    fn take_all_keeps_numbering() {
        let mut q = ReadyQueue::default();
        let a = q.push('x');
        assert_eq!(q.take_all().len(), 1);
        assert!(q.is_empty());
        assert_eq!(q.cancel(a), Cancelled::Gone);
        assert_eq!(q.push('y'), 1);
    }
}
