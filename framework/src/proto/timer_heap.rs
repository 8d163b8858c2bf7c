//! The loop's timer structure: a binary min-heap ordered by (deadline,
//! sequence number) over a slab of timer values, with lazy deletion, and
//! beside it a few in-order lanes: queues for timers that arrive with
//! deadlines no earlier than the last one of the lane.
//!
//! The lanes are for the common case of servers: a timeout per request or
//! connection (a header-read or idle timeout), always the same length, so
//! each deadline is the latest yet of its length, and most are cancelled
//! before they fire. Queued and unqueued at the front in O(1), such a
//! timer costs none of the heap's sift-ups and sift-downs (about 250
//! instructions per hyper request, where the oldest timer, cancelled
//! first, kept surfacing at the heap's top as a stale entry to pop).
//! Several lanes, because a server mixes lengths (hyper's 30 s header
//! timeout beside a 60 s idle timeout): each length keeps a lane in order
//! of its own, where one lane would send every shorter timer to the heap.
//!
//! Invariants:
//! 1. Timers with equal deadlines come out in insertion order: entries
//!    carry a sequence number, because `BinaryHeap` alone is not stable,
//!    and the lanes and the heap are merged by (deadline, sequence).
//! 2. Each lane is sorted by (deadline, sequence): an entry joins the first
//!    lane whose back's deadline is at or before its own (sequence numbers
//!    grow), or an empty one; only when none fits does it go to the heap.
//! 3. `cancel` is O(1): it frees the slab slot and bumps its generation; the
//!    entry turns stale and is skipped when it reaches the front.
//! 4. Stale entries never outnumber live ones by much: once more than half
//!    of the entries are stale (and at least `REBUILD_MIN`), both are
//!    rebuilt in O(n), so a million cancelled timers cost memory and time
//!    only once.
//! 5. A timer that is due (`pop_due`) keeps its value in the slab until
//!    `take`, so it can still be cancelled between becoming due and running.
//! 6. `due_not_before`, when set, is at or before every live entry's
//!    deadline: `pop_due` answers "nothing due" from it with one comparison,
//!    where a loop iteration would otherwise look at the fronts.
//! 7. `next`, when known, is the earliest live deadline: an insert keeps it
//!    (the minimum of the two), a cancel or a pop forgets it. A server
//!    whose timers do not move per request (idle timeouts as stamps) asks
//!    for it every iteration and finds it without looking.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

/// Below this many stale entries a rebuild is not worth it.
const REBUILD_MIN: usize = 64;

/// In-order lanes: one per timeout length a server keeps in use at once.
const LANES: usize = 4;

/// Where the earliest entry is.
#[derive(Debug, Clone, Copy)]
enum Source {
    Heap,
    Lane(usize),
}

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
    /// The slot's entry is still in the heap or the lane (not yet popped
    /// as due).
    in_heap: bool,
}

/// Pending timers carrying values of type `T` (the loop stores callbacks).
#[derive(Debug)]
pub(crate) struct TimerHeap<T> {
    heap: BinaryHeap<Entry>,
    /// The in-order lanes (invariant 2).
    lanes: [VecDeque<Entry>; LANES],
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    next_seq: u64,
    stale: usize,
    live: usize,
    /// A lower bound of the live deadlines (invariant 6).
    due_not_before: Option<Instant>,
    /// The earliest live deadline, when known (invariant 7).
    next: Option<Option<Instant>>,
}

impl<T> Default for TimerHeap<T> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            lanes: Default::default(),
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
            stale: 0,
            live: 0,
            due_not_before: None,
            next: Some(None),
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
        let entry = Entry { deadline, seq, id };
        if let Some(bound) = self.due_not_before {
            self.due_not_before = Some(bound.min(deadline));
        }
        if let Some(next) = self.next {
            self.next = Some(Some(next.map_or(deadline, |next| next.min(deadline))));
        }
        let lane = self
            .lanes
            .iter()
            .position(|lane| lane.back().is_none_or(|last| deadline >= last.deadline));
        match lane {
            Some(lane) => self.lanes[lane].push_back(entry),
            None => self.heap.push(entry),
        }
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
            self.stale += 1;
        }
        self.free.push(id.slot);
        self.live -= 1;
        self.next = None;
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

    /// The earliest live deadline not yet popped.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if let Some(next) = self.next {
            return next;
        }
        self.drop_stale_fronts();
        let next = self.front().map(|(entry, _)| entry.deadline);
        self.due_not_before = next;
        self.next = Some(next);
        next
    }

    /// Pops the earliest timer whose deadline is at or before `now`. Its value
    /// stays in the slab until [`take`](Self::take).
    #[inline]
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerId> {
        if self.due_not_before.is_some_and(|bound| now < bound) {
            return None;
        }
        self.pop_front_if_due(now)
    }

    fn pop_front_if_due(&mut self, now: Instant) -> Option<TimerId> {
        self.drop_stale_fronts();
        let Some((earliest, source)) = self.front() else {
            self.due_not_before = None;
            return None;
        };
        if earliest.deadline > now {
            self.due_not_before = Some(earliest.deadline);
            return None;
        }
        let entry = match source {
            Source::Lane(lane) => self.lanes[lane].pop_front(),
            Source::Heap => self.heap.pop(),
        }?;
        self.slots[entry.id.slot as usize].in_heap = false;
        self.next = None;
        Some(entry.id)
    }

    /// Timers scheduled and neither run nor cancelled.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The earliest entry of the heap and the lanes, and where it is.
    fn front(&self) -> Option<(&Entry, Source)> {
        let mut earliest = self.heap.peek().map(|top| (top, Source::Heap));
        for (index, lane) in self.lanes.iter().enumerate() {
            if let Some(first) = lane.front() {
                // `Entry`'s order is reversed: the greater is the earlier.
                if earliest.is_none_or(|(best, _)| first > best) {
                    earliest = Some((first, Source::Lane(index)));
                }
            }
        }
        earliest
    }

    fn is_stale(slots: &[Slot<T>], entry: &Entry) -> bool {
        let slot = &slots[entry.id.slot as usize];
        slot.generation != entry.id.generation || !slot.in_heap
    }

    #[inline]
    fn drop_stale_fronts(&mut self) {
        // Twice per loop iteration (the next deadline, then the due
        // timers): with nothing cancelled, nothing to look at.
        if self.stale == 0 {
            return;
        }
        while let Some(top) = self.heap.peek() {
            if !Self::is_stale(&self.slots, top) {
                break;
            }
            self.heap.pop();
            self.stale -= 1;
        }
        for lane in &mut self.lanes {
            while let Some(first) = lane.front() {
                if !Self::is_stale(&self.slots, first) {
                    break;
                }
                lane.pop_front();
                self.stale -= 1;
            }
        }
    }

    fn maybe_rebuild(&mut self) {
        let entries = self.heap.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>();
        if self.stale >= REBUILD_MIN && self.stale * 2 > entries {
            let slots = &self.slots;
            self.heap.retain(|e| !Self::is_stale(slots, e));
            for lane in &mut self.lanes {
                lane.retain(|e| !Self::is_stale(slots, e));
            }
            self.stale = 0;
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
    fn the_next_deadline_follows_inserts_cancels_and_pops() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut heap = TimerHeap::default();
        assert_eq!(heap.next_deadline(), None);
        let ten = heap.insert(s(10), 10);
        assert_eq!(heap.next_deadline(), Some(s(10)));
        let two = heap.insert(s(2), 2);
        assert_eq!(heap.next_deadline(), Some(s(2)));
        heap.insert(s(5), 5);
        assert_eq!(heap.next_deadline(), Some(s(2)));
        heap.take(two);
        assert_eq!(heap.next_deadline(), Some(s(5)));
        assert_eq!(drain(&mut heap, s(5)), vec![5]);
        assert_eq!(heap.next_deadline(), Some(s(10)));
        heap.take(ten);
        assert_eq!(heap.next_deadline(), None);
    }

    #[test]
    fn a_timer_earlier_than_every_pending_one_is_due_on_time() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        heap.insert(t0 + Duration::from_secs(10), 1);
        // Nothing due: the heap remembers that nothing is before 10 s.
        assert_eq!(
            drain(&mut heap, t0 + Duration::from_secs(1)),
            Vec::<u32>::new()
        );
        assert_eq!(heap.next_deadline(), Some(t0 + Duration::from_secs(10)));
        heap.insert(t0 + Duration::from_secs(2), 2);
        assert_eq!(
            drain(&mut heap, t0 + Duration::from_secs(1)),
            Vec::<u32>::new()
        );
        assert_eq!(drain(&mut heap, t0 + Duration::from_secs(2)), vec![2]);
        // With the earliest cancelled, the next one is still found.
        let id = heap.insert(t0 + Duration::from_secs(3), 3);
        heap.insert(t0 + Duration::from_secs(4), 4);
        heap.take(id);
        assert_eq!(drain(&mut heap, t0 + Duration::from_secs(5)), vec![4]);
        assert_eq!(drain(&mut heap, t0 + Duration::from_secs(10)), vec![1]);
        assert_eq!(heap.len(), 0);
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
    fn lane_and_heap_merge_in_deadline_then_insertion_order() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut heap = TimerHeap::default();
        // In order (the first lane), earlier ones (further lanes, then
        // the heap once every lane's back is later), interleaved with
        // equal deadlines on several sides.
        let inserted = [
            (10, 0),
            (20, 1),
            (20, 2),
            (5, 3),
            (20, 4),
            (15, 5),
            (10, 6),
            (30, 7),
            (3, 8),
            (2, 9),
        ];
        for (deadline, value) in inserted {
            heap.insert(ms(deadline), value);
        }
        assert!(heap.lanes.iter().all(|lane| !lane.is_empty()));
        assert_eq!(heap.heap.len(), 1);
        assert_eq!(heap.next_deadline(), Some(ms(2)));
        assert!(heap.pop_due(ms(1)).is_none());
        assert_eq!(drain(&mut heap, ms(20)), vec![9, 8, 3, 0, 6, 5, 1, 2, 4]);
        assert_eq!(drain(&mut heap, ms(30)), vec![7]);
    }

    #[test]
    fn same_length_timeouts_cancelled_oldest_first_never_reach_the_heap() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        let mut pending = std::collections::VecDeque::new();
        for i in 0..1_000u32 {
            let deadline = t0 + Duration::from_millis(30_000 + u64::from(i));
            pending.push_back(heap.insert(deadline, i));
            if pending.len() > 16 {
                let oldest = pending.pop_front().unwrap();
                assert!(heap.take(oldest).is_some());
                assert!(heap.next_deadline().is_some());
            }
        }
        assert!(heap.heap.is_empty());
        assert!(
            heap.lanes[0].len() <= 2 * REBUILD_MIN,
            "{}",
            heap.lanes[0].len()
        );
        assert!(heap.lanes[1..].iter().all(VecDeque::is_empty));
        assert_eq!(heap.len(), 16);
        assert_eq!(
            drain(&mut heap, t0 + Duration::from_secs(60)),
            (984..1000).collect::<Vec<_>>()
        );
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
            heap.heap.len() + heap.lanes[0].len() < 200,
            "kept {} + {} stale entries",
            heap.heap.len(),
            heap.lanes[0].len()
        );
        assert_eq!(
            drain(&mut heap, t0 + Duration::from_secs(1)),
            (9_990..10_000).collect::<Vec<_>>()
        );
    }
}
