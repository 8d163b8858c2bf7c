//! The loop's timer structure: a binary min-heap ordered by (deadline,
//! sequence number) over a slab of timer values, with lazy deletion.
//!
//! Invariants:
//! 1. Timers with equal deadlines come out in insertion order: the heap key
//!    carries a sequence number, because `BinaryHeap` alone is not stable.
//! 2. `cancel` is O(1): it frees the slab slot and bumps its generation; the
//!    heap entry turns stale and is skipped when it reaches the top.
//! 3. Stale entries never outnumber live ones by much: once more than half of
//!    the heap is stale (and at least `REBUILD_MIN` entries), it is rebuilt in
//!    O(n), so a million cancelled timers cost memory and time only once.
//! 4. A timer that is due (`pop_due`) keeps its value in the slab until
//!    `take`, so it can still be cancelled between becoming due and running.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Below this many stale entries a rebuild is not worth it.
const REBUILD_MIN: usize = 64;

/// Names one timer in a [`TimerHeap`]; stale once the timer ran or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerId {
    slot: u32,
    generation: u32,
}

impl TimerId {
    /// An id that names no timer.
    pub(crate) const DEAD: TimerId = TimerId {
        slot: u32::MAX,
        generation: u32::MAX,
    };
}

#[derive(Debug)]
struct Entry {
    deadline: Instant,
    seq: u64,
    id: TimerId,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
    /// The slot's entry is still in the heap (not yet popped as due).
    in_heap: bool,
}

/// Pending timers carrying values of type `T` (the loop stores callbacks).
#[derive(Debug)]
pub(crate) struct TimerHeap<T> {
    heap: BinaryHeap<Entry>,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    next_seq: u64,
    stale_in_heap: usize,
    live: usize,
}

impl<T> Default for TimerHeap<T> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
            stale_in_heap: 0,
            live: 0,
        }
    }
}

impl<T> TimerHeap<T> {
    /// Schedules `value` for `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                    in_heap: false,
                });
                u32::try_from(self.slots.len() - 1).expect("more than 4 billion pending timers")
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.value = Some(value);
        entry.in_heap = true;
        let id = TimerId {
            slot,
            generation: entry.generation,
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { deadline, seq, id });
        self.live += 1;
        id
    }

    /// Removes the timer and returns its value, whether or not it was due yet;
    /// `None` if it already ran or was cancelled.
    pub(crate) fn take(&mut self, id: TimerId) -> Option<T> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        if slot.in_heap {
            slot.in_heap = false;
            self.stale_in_heap += 1;
        }
        self.free.push(id.slot);
        self.live -= 1;
        self.maybe_rebuild();
        Some(value)
    }

    /// The value of a timer that has neither run nor been cancelled.
    pub(crate) fn get_mut(&mut self, id: TimerId) -> Option<&mut T> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// The earliest live deadline still in the heap.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.drop_stale_top();
        self.heap.peek().map(|e| e.deadline)
    }

    /// Pops the earliest timer whose deadline is at or before `now`. Its value
    /// stays in the slab until [`take`](Self::take).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerId> {
        self.drop_stale_top();
        if self.heap.peek()?.deadline > now {
            return None;
        }
        let entry = self.heap.pop()?;
        self.slots[entry.id.slot as usize].in_heap = false;
        Some(entry.id)
    }

    /// Timers scheduled and neither run nor cancelled.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    fn is_stale(&self, entry: &Entry) -> bool {
        let slot = &self.slots[entry.id.slot as usize];
        slot.generation != entry.id.generation || !slot.in_heap
    }

    fn drop_stale_top(&mut self) {
        while let Some(top) = self.heap.peek() {
            if !self.is_stale(top) {
                break;
            }
            self.heap.pop();
            self.stale_in_heap -= 1;
        }
    }

    fn maybe_rebuild(&mut self) {
        if self.stale_in_heap >= REBUILD_MIN && self.stale_in_heap * 2 > self.heap.len() {
            let slots = &self.slots;
            self.heap.retain(|e| {
                let slot = &slots[e.id.slot as usize];
                slot.generation == e.id.generation && slot.in_heap
            });
            self.stale_in_heap = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn drain(heap: &mut TimerHeap<u32>, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(id) = heap.pop_due(now) {
            out.extend(heap.take(id));
        }
        out
    }

    #[test]
    fn fires_in_deadline_order_and_fifo_among_equals() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        heap.insert(t0 + Duration::from_millis(5), 1);
        for v in 10..20 {
            heap.insert(t0 + Duration::from_millis(2), v);
        }
        heap.insert(t0, 0);
        assert_eq!(heap.next_deadline(), Some(t0));
        let order = drain(&mut heap, t0 + Duration::from_millis(10));
        assert_eq!(order, vec![0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1]);
        assert_eq!(heap.len(), 0);
    }

    #[test]
    fn nothing_fires_before_its_deadline() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        heap.insert(t0 + Duration::from_millis(3), 3);
        assert!(heap.pop_due(t0 + Duration::from_micros(2999)).is_none());
        assert_eq!(drain(&mut heap, t0 + Duration::from_millis(3)), vec![3]);
    }

    #[test]
    fn cancel_is_exact_and_idempotent() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        let a = heap.insert(t0, 1);
        let b = heap.insert(t0, 2);
        assert_eq!(heap.take(a), Some(1));
        assert_eq!(heap.take(a), None);
        // The freed slot is reused; the old id must not reach the new timer.
        let c = heap.insert(t0, 3);
        assert_eq!(heap.take(a), None);
        assert_eq!(drain(&mut heap, t0), vec![2, 3]);
        assert_eq!(heap.take(b), None);
        assert_eq!(heap.take(c), None);
    }

    #[test]
    fn due_timers_can_still_be_cancelled_before_they_run() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        let a = heap.insert(t0, 1);
        let due = heap.pop_due(t0).unwrap();
        assert_eq!(due, a);
        assert_eq!(heap.take(a), Some(1));
        assert_eq!(heap.take(due), None);
    }

    #[test]
    fn mass_cancellation_rebuilds_the_heap() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        let ids: Vec<_> = (0..10_000u32)
            .map(|i| heap.insert(t0 + Duration::from_micros(u64::from(i)), i))
            .collect();
        for id in &ids[..9_990] {
            heap.take(*id);
        }
        assert_eq!(heap.len(), 10);
        assert!(
            heap.heap.len() < 200,
            "heap kept {} stale entries",
            heap.heap.len()
        );
        assert_eq!(
            drain(&mut heap, t0 + Duration::from_secs(1)),
            (9_990..10_000).collect::<Vec<_>>()
        );
    }
}
