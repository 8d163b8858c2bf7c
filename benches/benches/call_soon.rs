//! `call_soon` dispatch rate vs a bare `VecDeque<Box<dyn FnOnce()>>` loop.
//! Both sides box one closure per call and run it; loopcore adds its handle,
//! the ready-queue bookkeeping, panic catching and one zero-timeout poll per
//! batch. Target: at least half the bare queue's rate.
//!
//! Two workloads: `captures` boxes a closure holding a `u64` (one heap
//! allocation per call on both sides, as almost every real callback does),
//! and `zero_sized` a closure that captures nothing (no allocation at all,
//! so the bare side is only a ring-buffer push, pop and indirect call).

use std::cell::Cell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loopcore::EventLoop;

const BATCH: u64 = 10_000;

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    COUNTER.with(|c| c.set(black_box(c.get() + 1)));
}

fn bump_by(n: u64) {
    COUNTER.with(|c| c.set(black_box(c.get() + n)));
}

fn call_soon(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_soon");
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("captures/bare_vecdeque", |b| {
        let mut queue: VecDeque<Box<dyn FnOnce()>> = VecDeque::with_capacity(BATCH as usize);
        b.iter(|| {
            for i in 0..BATCH {
                queue.push_back(Box::new(move || bump_by(i)));
            }
            while let Some(f) = queue.pop_front() {
                f();
            }
        });
    });

    let lp = EventLoop::new().expect("event loop");
    group.bench_function("captures/loopcore", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                lp.call_soon(move |_| bump_by(i));
            }
            lp.stop();
            lp.run_forever().expect("run");
        });
    });

    group.bench_function("zero_sized/bare_vecdeque", |b| {
        let mut queue: VecDeque<Box<dyn FnOnce()>> = VecDeque::with_capacity(BATCH as usize);
        b.iter(|| {
            for _ in 0..BATCH {
                queue.push_back(Box::new(bump));
            }
            while let Some(f) = queue.pop_front() {
                f();
            }
        });
    });

    group.bench_function("zero_sized/loopcore", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                lp.call_soon(|_| bump());
            }
            lp.stop();
            lp.run_forever().expect("run");
        });
    });
    group.finish();
}

criterion_group!(benches, call_soon);
criterion_main!(benches);
