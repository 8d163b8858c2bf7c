//! Run: `cargo run --release -p loopcore-examples --example udp_echo -- [ADDR]`
//! (default 127.0.0.1:8007), then `nc -u 127.0.0.1 8007`.
//!
//! A UDP echo server: every datagram goes back to its sender.
#![forbid(unsafe_code)]

use loopcore::{DatagramOptions, EventLoop};
use loopcore_examples::echo::DatagramEcho;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8007".to_owned());
    let lp = EventLoop::new()?;
    let options = DatagramOptions::default().local_addr(addr.parse()?);
    let endpoint = lp.create_datagram_endpoint(options, DatagramEcho::default())?;
    println!("udp echo on {}; Ctrl+C to stop", endpoint.sockname()?);
    for signum in [libc::SIGINT, libc::SIGTERM] {
        lp.add_signal_handler(signum, |lp| lp.stop())?;
    }
    lp.run_forever()?;
    endpoint.close();
    lp.close()?;
    Ok(())
}
