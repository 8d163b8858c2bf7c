//! Run: `cargo run -p loopcore-examples --example hello_world`
//!
//! asyncio's "Hello World with call_soon()": schedule a callback that prints
//! and stops the loop.
#![forbid(unsafe_code)]

use loopcore::EventLoop;

fn main() -> Result<(), loopcore::Error> {
    let lp = EventLoop::new()?;
    lp.call_soon(|lp| {
        println!("Hello World");
        lp.stop();
    });
    // Blocks until stop() is called.
    lp.run_forever()?;
    lp.close()
}
