//! Run: `cargo run --release -p loopcore-examples --example udp_echo -- [--host H] [--port P]`
//! (default 127.0.0.1:8007), then `nc -u 127.0.0.1 8007`.
//!
//! A UDP echo server: every datagram goes back to its sender. It runs a
//! single event loop: `--loops` is refused.
#![forbid(unsafe_code)]

use loopcore::{DatagramOptions, EventLoop};
use loopcore_examples::cli::{run_main, Cli};
use loopcore_examples::echo::DatagramEcho;

fn main() -> std::process::ExitCode {
    run_main("udp_echo", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = Cli::new("udp_echo")
        .port(8007)
        .single_loop()
        .parse(|_| Ok(false))?
    else {
        return Ok(());
    };
    let lp = EventLoop::new()?;
    let options = DatagramOptions::default().local_addr(args.socket_addr()?);
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
