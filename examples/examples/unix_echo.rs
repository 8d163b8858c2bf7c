//! Run: `cargo run --release -p loopcore-examples --example unix_echo -- [PATH]`
//! (default /tmp/loopcore-echo.sock; `@name` for an abstract socket), then
//! `nc -U /tmp/loopcore-echo.sock`.
//!
//! The echo server on a Unix domain socket; the socket file is removed when
//! the server closes.
#![forbid(unsafe_code)]

use loopcore::{EventLoop, ServerOptions};
use loopcore_examples::echo::Echo;

fn main() -> Result<(), loopcore::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/loopcore-echo.sock".to_owned());
    let lp = EventLoop::new()?;
    let server = lp.create_unix_server(&path, ServerOptions::default(), Echo::default)?;
    println!("unix echo server on {path}; Ctrl+C to stop");
    for signum in [libc::SIGINT, libc::SIGTERM] {
        lp.add_signal_handler(signum, |lp| lp.stop())?;
    }
    lp.run_forever()?;
    server.close();
    lp.close()
}
