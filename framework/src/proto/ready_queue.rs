//! The loop's FIFO of ready work, with O(1) cancellation by sequence number.
//!
//! Items are either callbacks (`C`, a boxed closure: the hot case) or other
//! work (`I`: task polls, due timers, fd callbacks). Both go through one
//! FIFO of 16-byte [`Slot`]s: a callback is stored inline, other work is
//! stored in a side vector and the slot holds its index. Keeping the slot a
//! two-word enum with no separate tag matters: a tagged 24-byte slot is
//! built in a stack temporary and copied with wider loads than its stores,
//! a store-forwarding stall that cost more than the rest of `call_soon`.
//!
//! Items wait in `pending`. When the loop starts a batch it swaps the
//! pending vectors out whole and runs them from its own [`Batch`], without
//! touching this structure per item; what the batch schedules lands in the
//! fresh `pending` and runs in the next iteration, as asyncio requires.
//!
//! Invariants:
//! 1. Every pushed item gets the next sequence number; `pending[0]` has
//!    number `pending_seq`, and the running batch holds
//!    `batch_start..pending_seq`.
//! 2. Cancelling a pending item leaves a hole (`Slot::Other(HOLE)`) in
//!    place, which keeps the numbering intact; holes are skipped when run.
//! 3. Cancelling an item of the running batch records its number in
//!    `batch_cancelled`; the batch runner skips recorded numbers. (Numbers
//!    of items that already ran may be recorded too: they never match a
//!    later item, since numbers are never reused.)
//! 4. A number below `batch_start` (or below `pending_seq` with no batch
//!    running) belongs to an item that ran or was dropped: cancelling it
//!    does nothing.

/// `Slot::Other` index meaning "nothing here" (a cancelled or taken item).
const HOLE: u64 = u64::MAX;

/// One queue position: a callback inline, or an index into `others`.
#[derive(Debug)]
pub(crate) enum Slot<C> {
    Call(C),
    Other(u64),
}

/// An item taken out of the queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item<C, I> {
    Call(C),
    Other(I),
}

/// What [`ReadyQueue::cancel`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancelled<C, I> {
    /// The item was pending and is returned, to be dropped by the caller.
    Removed(Item<C, I>),
    /// The item is in the running batch; the runner will skip it.
    InBatch,
    /// Nothing to cancel: the item already ran or never existed.
    Gone,
}

/// The items of one batch, run by the loop outside the queue.
#[derive(Debug)]
pub(crate) struct Batch<C, I> {
    slots: Vec<Slot<C>>,
    others: Vec<Option<I>>,
}

/// Empty, with no capacity: a `Batch` taken out of a `Cell` leaves a
/// default behind on every loop iteration, which must not allocate.
impl<C, I> Default for Batch<C, I> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            others: Vec::new(),
        }
    }
}

impl<C, I> Batch<C, I> {
    /// Room for `capacity` items before the first growth.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: Vec::with_capacity(capacity),
            others: Vec::new(),
        }
    }
}

impl<C, I> Batch<C, I> {
    /// Items in the batch, holes included.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Takes item `index` out, leaving a hole; `None` for a hole or past the end.
    #[inline]
    pub(crate) fn take(&mut self, index: usize) -> Option<Item<C, I>> {
        let slot = self.slots.get_mut(index)?;
        match std::mem::replace(slot, Slot::Other(HOLE)) {
            Slot::Call(c) => Some(Item::Call(c)),
            Slot::Other(HOLE) => None,
            Slot::Other(other) => self.others.get_mut(other as usize)?.take().map(Item::Other),
        }
    }

    /// Empties the batch (every item must have been taken), keeping capacity.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.others.clear();
    }
}

/// A FIFO of callbacks `C` and other work `I`, cancellable by the number a
/// push returned.
#[derive(Debug)]
pub(crate) struct ReadyQueue<C, I> {
    pending: Batch<C, I>,
    pending_seq: u64,
    batch_start: u64,
    batch_cancelled: Vec<u64>,
}

impl<C, I> Default for ReadyQueue<C, I> {
    fn default() -> Self {
        Self {
            pending: Batch::with_capacity(64),
            pending_seq: 0,
            batch_start: 0,
            batch_cancelled: Vec::new(),
        }
    }
}

impl<C, I> ReadyQueue<C, I> {
    /// Appends a callback and returns its sequence number.
    #[inline]
    pub(crate) fn push_call(&mut self, call: C) -> u64 {
        self.pending.slots.push(Slot::Call(call));
        self.pending_seq + self.pending.slots.len() as u64 - 1
    }

    /// Appends other work and returns its sequence number.
    #[inline]
    pub(crate) fn push(&mut self, other: I) -> u64 {
        let index = self.pending.others.len() as u64;
        self.pending.others.push(Some(other));
        self.pending.slots.push(Slot::Other(index));
        self.pending_seq + self.pending.slots.len() as u64 - 1
    }

    /// Starts a batch: moves every pending item into `batch` (which must be
    /// empty; its capacity is reused for the next `pending`) and returns the
    /// first item's sequence number.
    pub(crate) fn start_batch(&mut self, batch: &mut Batch<C, I>) -> u64 {
        debug_assert!(batch.slots.is_empty() && batch.others.is_empty());
        std::mem::swap(&mut self.pending, batch);
        self.batch_start = self.pending_seq;
        self.pending_seq += batch.slots.len() as u64;
        self.batch_cancelled.clear();
        self.batch_start
    }

    /// Starts a batch of the first `n` pending items only; the others stay
    /// pending, in order, keeping their numbers. (The loop stopped while
    /// they were being scheduled: they wait for the next run.) Rare, so
    /// it moves the rest back one by one.
    pub(crate) fn start_batch_prefix(&mut self, batch: &mut Batch<C, I>, n: usize) -> u64 {
        let start = self.start_batch(batch);
        let n = n.min(batch.slots.len());
        let rest: Vec<Slot<C>> = batch.slots.drain(n..).collect();
        self.pending_seq = self.batch_start + n as u64;
        for slot in rest {
            match slot {
                Slot::Call(call) => {
                    self.pending.slots.push(Slot::Call(call));
                }
                Slot::Other(index) => {
                    let item = usize::try_from(index)
                        .ok()
                        .and_then(|index| batch.others.get_mut(index)?.take());
                    match item {
                        Some(item) => {
                            self.push(item);
                        }
                        None => self.pending.slots.push(Slot::Other(HOLE)),
                    }
                }
            }
        }
        start
    }

    /// True if the running batch's item `seq` was cancelled.
    #[inline]
    pub(crate) fn batch_item_cancelled(&self, seq: u64) -> bool {
        self.batch_cancelled.contains(&seq)
    }

    /// Cancels the item numbered `seq` if it has not run.
    pub(crate) fn cancel(&mut self, seq: u64) -> Cancelled<C, I> {
        if seq >= self.pending_seq {
            let taken = usize::try_from(seq - self.pending_seq)
                .ok()
                .and_then(|index| self.pending.take(index));
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

    /// Items pending for the next batch (cancelled ones included).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.pending.slots.len()
    }

    /// True when nothing is pending.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.slots.is_empty()
    }

    /// Removes every pending item, keeping the numbering going, so handles
    /// to the removed items cannot reach items pushed later.
    pub(crate) fn take_all(&mut self) -> Batch<C, I> {
        self.pending_seq += self.pending.slots.len() as u64;
        self.batch_start = self.pending_seq;
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Queue = ReadyQueue<char, u32>;

    fn run_batch(q: &mut Queue) -> Vec<Item<char, u32>> {
        let mut batch = Batch::default();
        let start = q.start_batch(&mut batch);
        let mut ran = Vec::new();
        for i in 0..batch.len() {
            if let Some(item) = batch.take(i) {
                if !q.batch_item_cancelled(start + i as u64) {
                    ran.push(item);
                }
            }
        }
        batch.clear();
        ran
    }

    #[test]
    fn fifo_across_kinds_with_holes() {
        let mut q = Queue::default();
        let a = q.push_call('a');
        let b = q.push(1);
        let c = q.push_call('c');
        let d = q.push(2);
        assert_eq!((a, b, c, d), (0, 1, 2, 3));
        assert_eq!(q.cancel(c), Cancelled::Removed(Item::Call('c')));
        assert_eq!(q.cancel(c), Cancelled::Gone);
        assert_eq!(q.cancel(b), Cancelled::Removed(Item::Other(1)));
        assert_eq!(run_batch(&mut q), [Item::Call('a'), Item::Other(2)]);
        assert!(q.is_empty());
        assert_eq!(q.push_call('e'), 4);
        assert_eq!(q.cancel(99), Cancelled::Gone, "not yet pushed");
    }

    #[test]
    fn items_of_the_running_batch_are_cancelled_by_record() {
        let mut q = Queue::default();
        let a = q.push_call('a');
        let b = q.push_call('b');
        let mut batch = Batch::default();
        let start = q.start_batch(&mut batch);
        assert_eq!(start, a);
        // Pushed while the batch runs: goes to the next batch.
        let c = q.push_call('c');
        assert_eq!(c, 2);
        assert_eq!(q.cancel(b), Cancelled::InBatch);
        assert!(q.batch_item_cancelled(b));
        assert!(!q.batch_item_cancelled(a));
        assert_eq!(q.cancel(c), Cancelled::Removed(Item::Call('c')));
        // A new batch forgets the old records.
        let mut next = Batch::default();
        q.start_batch(&mut next);
        assert!(!q.batch_item_cancelled(b));
        assert_eq!(q.cancel(a), Cancelled::Gone);
    }

    #[test]
    fn a_prefix_batch_leaves_the_rest_pending_with_their_numbers() {
        let mut q = Queue::default();
        q.push_call('a');
        q.push(1);
        let c = q.push_call('c');
        let d = q.push(2);
        let e = q.push_call('e');
        assert_eq!(q.cancel(e), Cancelled::Removed(Item::Call('e')));
        let mut batch = Batch::default();
        assert_eq!(q.start_batch_prefix(&mut batch, 2), 0);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.take(0), Some(Item::Call('a')));
        assert_eq!(batch.take(1), Some(Item::Other(1)));
        batch.clear();
        // The rest kept its numbers: cancelling by them still works.
        assert_eq!(q.len(), 3);
        assert_eq!(q.cancel(d), Cancelled::Removed(Item::Other(2)));
        assert_eq!(run_batch(&mut q), [Item::Call('c')]);
        // 'a' ran in the first batch: gone; 'c' is in the running one.
        assert_eq!(q.cancel(0), Cancelled::Gone);
        assert_eq!(q.cancel(c), Cancelled::InBatch);
        assert_eq!(q.push_call('f'), 5);
    }

    #[test]
    fn take_all_keeps_numbering() {
        let mut q = Queue::default();
        let a = q.push_call('x');
        assert_eq!(q.take_all().len(), 1);
        assert!(q.is_empty());
        assert_eq!(q.cancel(a), Cancelled::Gone);
        assert_eq!(q.push_call('y'), 1);
    }

    #[test]
    fn a_callback_slot_is_two_words() {
        type Boxed = Box<dyn FnOnce()>;
        assert_eq!(std::mem::size_of::<Slot<Boxed>>(), 16);
    }
}
