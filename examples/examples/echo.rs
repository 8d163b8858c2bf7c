//! Run: `cargo run --release -p loopcore-examples --example echo -- [--host H] [--port P]`
//! (default 127.0.0.1:8007), then `nc 127.0.0.1 8007`.
//!
//! A TCP echo server in protocol style: every byte received is written back.
//! It runs a single event loop: `--loops` is refused.
#![forbid(unsafe_code)]

use loopcore::{EventLoop, ServerOptions};
use loopcore_examples::cli::{run_main, Cli};
use loopcore_examples::echo::Echo;

fn main() -> std::process::ExitCode {
    run_main("echo", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = Cli::new("echo")
        .port(8007)
        .single_loop()
        .parse(|_| Ok(false))?
    else {
        return Ok(());
    };
    let lp = EventLoop::new()?;
    let server = lp.create_server(args.addr(), ServerOptions::default(), Echo::default)?;
    println!("echo server on {:?}; Ctrl+C to stop", server.sockets());
    for signum in [libc::SIGINT, libc::SIGTERM] {
        lp.add_signal_handler(signum, |lp| lp.stop())?;
    }
    lp.run_forever()?;
    server.close();
    lp.close()?;
    Ok(())
}
