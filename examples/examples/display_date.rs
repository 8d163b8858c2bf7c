//! Run: `cargo run -p loopcore-examples --example display_date`
//!
//! asyncio's "Display the current date with call_later()": a callback that
//! reschedules itself every second for five seconds, then stops the loop.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loopcore::EventLoop;

fn display_date(lp: &EventLoop, end: Instant) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    println!(
        "{}.{:06} s since the Unix epoch",
        now.as_secs(),
        now.subsec_micros()
    );
    if lp.time() + Duration::from_secs(1) < end {
        lp.call_later(Duration::from_secs(1), move |lp| display_date(lp, end));
    } else {
        lp.stop();
    }
}

fn main() -> Result<(), loopcore::Error> {
    let lp = EventLoop::new()?;
    let end = lp.time() + Duration::from_secs(5);
    lp.call_soon(move |lp| display_date(lp, end));
    lp.run_forever()?;
    lp.close()
}
