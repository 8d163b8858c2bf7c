//! Timers: one million insert+fire and one million insert+cancel, loopcore
//! vs a bare `BinaryHeap` of (deadline, sequence, boxed callback). The bare
//! cancel baseline is lazy deletion with a tombstone per timer.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loopcore::EventLoop;

const TIMERS: u64 = 1_000_000;

thread_local! {
    static FIRED: Cell<u64> = const { Cell::new(0) };
}

fn fire() {
    FIRED.with(|c| c.set(black_box(c.get() + 1)));
}

struct BareTimer {
    deadline: Instant,
    seq: u64,
    callback: Box<dyn FnOnce()>,
}
impl PartialEq for BareTimer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for BareTimer {}
impl PartialOrd for BareTimer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for BareTimer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// Deadlines spread over 1 ms in a scrambled order, all in the past by the
/// time they are drained.
fn deadline(base: Instant, i: u64) -> Instant {
    base + Duration::from_nanos((i * 7919) % 1_000_000)
}

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers");
    group.throughput(Throughput::Elements(TIMERS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));

    group.bench_function("insert_fire/bare_binaryheap", |b| {
        b.iter(|| {
            let base = Instant::now() - Duration::from_millis(2);
            let mut heap = BinaryHeap::with_capacity(TIMERS as usize);
            for i in 0..TIMERS {
                heap.push(Reverse(BareTimer {
                    deadline: deadline(base, i),
                    seq: i,
                    callback: Box::new(fire),
                }));
            }
            let now = Instant::now();
            while let Some(Reverse(t)) = heap.peek() {
                if t.deadline > now {
                    break;
                }
                let Reverse(t) = heap.pop().expect("peeked");
                (t.callback)();
            }
        });
    });

    let lp = EventLoop::new().expect("event loop");
    group.bench_function("insert_fire/loopcore", |b| {
        b.iter(|| {
            let base = Instant::now() - Duration::from_millis(2);
            for i in 0..TIMERS {
                lp.call_at(deadline(base, i), |_| fire());
            }
            lp.stop();
            lp.run_forever().expect("run");
        });
    });

    group.bench_function("insert_cancel/bare_binaryheap", |b| {
        b.iter(|| {
            let base = Instant::now() + Duration::from_secs(60);
            let mut heap = BinaryHeap::with_capacity(TIMERS as usize);
            let mut cancelled = vec![false; TIMERS as usize];
            for i in 0..TIMERS {
                heap.push(Reverse(BareTimer {
                    deadline: deadline(base, i),
                    seq: i,
                    callback: Box::new(fire),
                }));
            }
            for flag in cancelled.iter_mut() {
                *flag = true;
            }
            // Lazy deletion: the tombstoned entries are dropped on drain.
            while let Some(Reverse(t)) = heap.pop() {
                if !cancelled[t.seq as usize] {
                    (t.callback)();
                }
            }
        });
    });

    group.bench_function("insert_cancel/loopcore", |b| {
        let mut handles = Vec::with_capacity(TIMERS as usize);
        b.iter(|| {
            let base = Instant::now() + Duration::from_secs(60);
            for i in 0..TIMERS {
                handles.push(lp.call_at(deadline(base, i), |_| fire()));
            }
            for h in handles.drain(..) {
                h.cancel();
            }
        });
    });
    group.finish();
}

criterion_group!(benches, timers);
criterion_main!(benches);
