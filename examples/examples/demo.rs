//! Run: `cargo run --release -p loopcore-examples --example demo [-- LOOPS ROUNDS]`
//!
//! One event loop per CPU, each on its own thread, talking only through
//! mailboxes: every loop sends ROUNDS pings to the next loop in a ring and
//! times each round trip (ping posted with `call_soon_threadsafe`, pong posted
//! back the same way). Prints a latency report per loop and in total. Until
//! the load generator lands this is the bundled "main job".
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loopcore::{EventLoop, LoopHandle};

/// What one loop reports when its rounds are done.
struct LoopReport {
    index: usize,
    round_trips: Vec<Duration>,
    blocking_check: u64,
}

/// Per-thread state of the loop that owns this thread.
struct Pinger {
    index: usize,
    rounds: usize,
    peers: Vec<LoopHandle>,
    round_trips: Vec<Duration>,
    report: mpsc::Sender<LoopReport>,
}

thread_local! {
    static PINGER: RefCell<Option<Pinger>> = const { RefCell::new(None) };
}

fn send_ping(lp: &EventLoop) {
    let (me, next) = PINGER.with(|p| {
        let p = p.borrow();
        let p = p.as_ref().expect("pinger set up before the first ping");
        let me = p.peers[p.index].clone();
        let next = p.peers[(p.index + 1) % p.peers.len()].clone();
        (me, next)
    });
    let sent = Instant::now();
    let posted = next.call_soon_threadsafe(move |_peer| {
        // On the next loop: answer straight back to the sender.
        let _ = me.call_soon_threadsafe(move |lp| on_pong(lp, sent.elapsed()));
    });
    if let Err(e) = posted {
        eprintln!("loop {}: ping failed: {e}", lp.handle().id());
    }
}

fn on_pong(lp: &EventLoop, round_trip: Duration) {
    let finished = PINGER.with(|p| {
        let mut p = p.borrow_mut();
        let p = p.as_mut().expect("pinger set up");
        p.round_trips.push(round_trip);
        p.round_trips.len() == p.rounds
    });
    if !finished {
        send_ping(lp);
        return;
    }
    // Done: hand the numbers to the blocking executor for a checksum (a
    // stand-in for blocking work), then report from the loop.
    let numbers: Vec<u64> = PINGER.with(|p| {
        let p = p.borrow();
        let p = p.as_ref().expect("pinger set up");
        p.round_trips.iter().map(|d| d.as_nanos() as u64).collect()
    });
    let checksum = lp.run_in_executor(move || numbers.iter().fold(0u64, |a, n| a ^ n));
    lp.spawn(async move {
        let blocking_check = checksum.await.unwrap_or(0);
        PINGER.with(|p| {
            let p = p.borrow_mut().take().expect("pinger set up");
            let _ = p.report.send(LoopReport {
                index: p.index,
                round_trips: p.round_trips,
                blocking_check,
            });
        });
    });
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn describe(label: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "{label:>8} {:>8} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}",
        samples.len(),
        percentile(&samples, 0.0),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let loops: usize = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let rounds: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 20_000,
    };
    if loops == 0 || rounds == 0 {
        return Err("LOOPS and ROUNDS must be at least 1".into());
    }
    println!("loopcore demo: {loops} loops in a ring, {rounds} round trips each");

    let (handle_tx, handle_rx) = mpsc::channel();
    let (report_tx, report_rx) = mpsc::channel();
    let mut peer_senders = Vec::new();
    let mut threads = Vec::new();
    for index in 0..loops {
        let handle_tx = handle_tx.clone();
        let report = report_tx.clone();
        let (peers_tx, peers_rx) = mpsc::channel::<Vec<LoopHandle>>();
        peer_senders.push(peers_tx);
        threads.push(
            std::thread::Builder::new()
                .name(format!("demo-loop-{index}"))
                .spawn(move || -> Result<(), loopcore::Error> {
                    let lp = EventLoop::new()?;
                    let _ = handle_tx.send((index, lp.handle()));
                    let Ok(peers) = peers_rx.recv() else {
                        return Ok(());
                    };
                    PINGER.with(|p| {
                        *p.borrow_mut() = Some(Pinger {
                            index,
                            rounds,
                            peers,
                            round_trips: Vec::with_capacity(rounds),
                            report,
                        })
                    });
                    lp.call_soon(send_ping);
                    lp.run_forever()?;
                    lp.close()
                })?,
        );
    }
    drop(handle_tx);
    drop(report_tx);
    let mut handles: Vec<Option<LoopHandle>> = vec![None; loops];
    for (index, handle) in handle_rx.iter().take(loops) {
        handles[index] = Some(handle);
    }
    let handles: Vec<LoopHandle> = handles.into_iter().flatten().collect();
    if handles.len() != loops {
        return Err("a loop thread failed to start".into());
    }
    let started = Instant::now();
    for tx in &peer_senders {
        tx.send(handles.clone())?;
    }
    let mut reports: Vec<LoopReport> = report_rx.iter().take(loops).collect();
    let elapsed = started.elapsed();
    for handle in &handles {
        let _ = handle.stop();
    }
    for thread in threads {
        match thread.join() {
            Ok(result) => result?,
            Err(_) => return Err("a loop thread panicked".into()),
        }
    }
    reports.sort_by_key(|r| r.index);
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "loop", "trips", "min", "p50", "p99", "max"
    );
    let mut all = Vec::new();
    for report in &reports {
        println!(
            "{}",
            describe(&report.index.to_string(), report.round_trips.clone())
        );
        all.extend_from_slice(&report.round_trips);
        debug_assert!(report.blocking_check > 0 || report.round_trips.is_empty());
    }
    let total = all.len();
    println!("{}", describe("all", all));
    println!(
        "{total} round trips ({} mailbox posts) in {elapsed:.2?}: {:.0} round trips/s",
        total * 2,
        total as f64 / elapsed.as_secs_f64()
    );
    for (i, handle) in handles.iter().enumerate() {
        let stats = handle.stats();
        println!(
            "loop {i}: {} iterations, {} callbacks, {} mailbox messages",
            stats.iterations, stats.callbacks, stats.mailbox_messages
        );
    }
    Ok(())
}
