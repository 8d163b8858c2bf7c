//! A fixed workload for `valgrind --tool=callgrind`, whose instruction
//! counts are deterministic where times are not: `dispatch_probe MODE N`
//! schedules and runs N callbacks in batches of 10,000, with MODE one of
//! `loopcore`, `bare` (a `VecDeque<Box<dyn FnOnce()>>`) or `setup` (neither,
//! to subtract start-up). See `benches/scripts/callgrind-dispatch.sh`.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::collections::VecDeque;
use std::hint::black_box;

const BATCH: u64 = 10_000;

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    COUNTER.with(|c| c.set(black_box(c.get() + 1)));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args
        .next()
        .ok_or("usage: dispatch_probe loopcore|bare|setup N")?;
    let n: u64 = args.next().ok_or("missing N")?.parse()?;
    let lp = loopcore::EventLoop::new()?;
    let mut queue: VecDeque<Box<dyn FnOnce()>> = VecDeque::with_capacity(BATCH as usize);
    for _ in 0..n / BATCH {
        match mode.as_str() {
            "loopcore" => {
                for _ in 0..BATCH {
                    lp.call_soon(|_| bump());
                }
                lp.stop();
                lp.run_forever()?;
            }
            "bare" => {
                for _ in 0..BATCH {
                    queue.push_back(Box::new(bump));
                }
                while let Some(f) = queue.pop_front() {
                    f();
                }
            }
            "setup" => {}
            other => return Err(format!("unknown mode {other}").into()),
        }
    }
    println!("{}", COUNTER.with(Cell::get));
    Ok(())
}
