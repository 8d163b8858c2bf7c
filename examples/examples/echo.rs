//! Run: `cargo run --release -p loopcore-examples --example echo -- [ADDR]`
//! (default 127.0.0.1:8007), then `nc 127.0.0.1 8007`.
//!
//! A TCP echo server in protocol style: every byte received is written back.
#![forbid(unsafe_code)]

use loopcore::{EventLoop, ServerOptions};
use loopcore_examples::echo::Echo;

fn main() -> Result<(), loopcore::Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8007".to_owned());
    let lp = EventLoop::new()?;
    let server = lp.create_server(addr.as_str(), ServerOptions::default(), Echo::default)?;
    println!("echo server on {:?}; Ctrl+C to stop", server.sockets());
    for signum in [libc::SIGINT, libc::SIGTERM] {
        lp.add_signal_handler(signum, |lp| lp.stop())?;
    }
    lp.run_forever()?;
    server.close();
    lp.close()
}
