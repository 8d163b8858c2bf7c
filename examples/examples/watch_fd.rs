//! Run: `cargo run -p loopcore-examples --example watch_fd`
//!
//! asyncio's "Watch a file descriptor for read events": a socketpair, a
//! reader callback on one end, and a write to the other from a callback.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use loopcore::EventLoop;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (rsock, mut wsock) = UnixStream::pair()?;
    rsock.set_nonblocking(true)?;
    let fd = rsock.as_raw_fd();
    let lp = EventLoop::new()?;
    lp.add_reader(fd, move |lp| {
        let mut buf = [0u8; 100];
        match (&rsock).read(&mut buf) {
            Ok(n) => println!("Received: {}", String::from_utf8_lossy(&buf[..n])),
            Err(e) => eprintln!("read failed: {e}"),
        }
        // Done: unregister the fd and stop the loop.
        lp.remove_reader(fd);
        lp.stop();
    })?;
    // Simulate the reception of data from the network.
    lp.call_soon(move |_| {
        if let Err(e) = wsock.write_all(b"abc") {
            eprintln!("write failed: {e}");
        }
    });
    lp.run_forever()?;
    lp.close()?;
    Ok(())
}
