//! Run: `cargo run --release -p loopcore-examples --example http_plaintext -- --port 8080`
//! (options: `--host ADDR`, default 127.0.0.1), then
//! `curl http://127.0.0.1:8080/plaintext` or `wrk -t1 -c64 http://127.0.0.1:8080/plaintext`.
//!
//! The TechEmpower plaintext server on one loop (see
//! `loopcore_examples::plaintext`); the many-loop version comes with the
//! runtime.
#![forbid(unsafe_code)]

use loopcore::{EventLoop, ServerOptions};
use loopcore_examples::plaintext::Plaintext;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut host = "127.0.0.1".to_owned();
    let mut port: u16 = 8080;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--host" => host = args.next().ok_or("--host needs a value")?,
            "-h" | "--help" => {
                println!("usage: http_plaintext [--host ADDR] [--port PORT]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let lp = EventLoop::new()?;
    let options = ServerOptions::default().backlog(4096);
    let server = lp.create_server((host.as_str(), port), options, Plaintext::default)?;
    println!("http_plaintext listening on {:?}", server.sockets());
    for signum in [libc::SIGINT, libc::SIGTERM] {
        lp.add_signal_handler(signum, |lp| lp.stop())?;
    }
    lp.run_forever()?;
    server.close();
    let stats = lp.stats();
    println!(
        "served {} connections, {} bytes in",
        stats.connections_opened, stats.bytes_received
    );
    lp.close()?;
    Ok(())
}
