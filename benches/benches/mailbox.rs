//! `call_soon_threadsafe` from another thread: throughput and one-way
//! latency, vs two raw baselines in the same run — `crossbeam-channel` plus
//! a `mio::Waker` written on every message, and the same with hand-written
//! wake coalescing. Target: throughput at least 0.8x the better baseline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loopcore_benches::{wait_for, LoopThread, RawMailbox, WakePolicy};

const BURST: u64 = 10_000;

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("mailbox_throughput");
    group.throughput(Throughput::Elements(BURST));
    group.measurement_time(Duration::from_secs(4));

    for (name, policy) in [
        ("raw_wake_every_message", WakePolicy::EveryMessage),
        ("raw_coalesced", WakePolicy::Coalesced),
    ] {
        let mailbox = RawMailbox::start(policy);
        let done = Arc::new(AtomicU64::new(0));
        let mut target = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BURST {
                    let d = done.clone();
                    mailbox.post(Box::new(move || {
                        d.fetch_add(1, Ordering::Release);
                    }));
                }
                target += BURST;
                wait_for(&done, target);
            });
        });
    }

    let lp = LoopThread::start();
    let done = Arc::new(AtomicU64::new(0));
    let mut target = 0;
    group.bench_function("loopcore", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                let d = done.clone();
                lp.handle()
                    .call_soon_threadsafe(move |_| {
                        d.fetch_add(1, Ordering::Release);
                    })
                    .expect("loop alive");
            }
            target += BURST;
            wait_for(&done, target);
        });
    });
    group.finish();
}

/// One message at a time to an idle (blocked) consumer; the time from post
/// to the callback starting, summed over the iterations.
fn latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("mailbox_one_way_latency");
    group.measurement_time(Duration::from_secs(4));

    let measure = |post: &dyn Fn(Arc<AtomicU64>, Instant), iters: u64| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            // Let the consumer block in epoll before each message.
            std::thread::sleep(Duration::from_micros(50));
            let arrived = Arc::new(AtomicU64::new(0));
            let sent = Instant::now();
            post(arrived.clone(), sent);
            wait_for(&arrived, 1);
            total += Duration::from_nanos(arrived.load(Ordering::Acquire) - 1);
        }
        total
    };

    for (name, policy) in [
        ("raw_wake_every_message", WakePolicy::EveryMessage),
        ("raw_coalesced", WakePolicy::Coalesced),
    ] {
        let mailbox = RawMailbox::start(policy);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                measure(
                    &|arrived, sent| {
                        mailbox.post(Box::new(move || {
                            arrived.store(sent.elapsed().as_nanos() as u64 + 1, Ordering::Release);
                        }))
                    },
                    iters,
                )
            });
        });
    }

    let lp = LoopThread::start();
    group.bench_function("loopcore", |b| {
        b.iter_custom(|iters| {
            measure(
                &|arrived, sent| {
                    lp.handle()
                        .call_soon_threadsafe(move |_| {
                            arrived.store(sent.elapsed().as_nanos() as u64 + 1, Ordering::Release);
                        })
                        .expect("loop alive")
                },
                iters,
            )
        });
    });
    group.finish();
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
