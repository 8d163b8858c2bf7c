//! Run: `cargo run -p loopcore-examples --example signals`
//! (then press Ctrl+C, or `kill -TERM <pid>`; `-- --self-test` sends itself
//! SIGTERM after half a second).
//!
//! asyncio's "Set signal handlers for SIGINT and SIGTERM".
#![forbid(unsafe_code)]

use std::time::Duration;

use loopcore::EventLoop;

fn main() -> Result<(), loopcore::Error> {
    let lp = EventLoop::new()?;
    for (signum, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        lp.add_signal_handler(signum, move |lp| {
            println!("got signal {name}: exit");
            lp.stop();
        })?;
    }
    println!("Event loop running forever, press Ctrl+C to interrupt.");
    println!(
        "pid {}: send SIGINT or SIGTERM to exit.",
        std::process::id()
    );
    if std::env::args().any(|a| a == "--self-test") {
        lp.call_later(Duration::from_millis(500), |_| {
            if let Err(e) = loopcore::raise_in_process(libc::SIGTERM) {
                eprintln!("could not signal myself: {e}");
            }
        });
    }
    lp.run_forever()?;
    lp.close()
}
