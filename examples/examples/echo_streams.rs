//! Run: `cargo run --release -p loopcore-examples --example echo_streams -- [--host H] [--port P]`
//! (default 127.0.0.1:8008), then `nc 127.0.0.1 8008`.
//!
//! The echo server in async style: `start_server` runs a task per client
//! that reads lines and writes them back, awaiting `drain` for flow control.
//! It runs a single event loop: `--loops` is refused.
#![forbid(unsafe_code)]

use loopcore::{EventLoop, ServerOptions, StreamReader, StreamWriter};
use loopcore_examples::cli::{run_main, Cli};

async fn echo_lines(mut reader: StreamReader, writer: StreamWriter) {
    loop {
        match reader.read_line().await {
            Ok(line) if line.is_empty() => break,
            Ok(line) => {
                if writer.write(&line).is_err() || writer.drain().await.is_err() {
                    break;
                }
            }
            Err(e) => {
                eprintln!("echo_streams: {e}");
                break;
            }
        }
    }
    writer.close();
}

fn main() -> std::process::ExitCode {
    run_main("echo_streams", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = Cli::new("echo_streams")
        .port(8008)
        .single_loop()
        .parse(|_| Ok(false))?
    else {
        return Ok(());
    };
    let lp = EventLoop::new()?;
    let server = lp.start_server(args.addr(), ServerOptions::default(), echo_lines)?;
    println!("echo_streams on {:?}; Ctrl+C to stop", server.sockets());
    for signum in [libc::SIGINT, libc::SIGTERM] {
        lp.add_signal_handler(signum, |lp| lp.stop())?;
    }
    lp.run_forever()?;
    server.close();
    lp.close()?;
    Ok(())
}
