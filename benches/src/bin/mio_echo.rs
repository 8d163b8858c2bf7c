//! Raw mio echo server, the baseline of the echo benchmark: one thread,
//! edge-triggered, one read buffer, write back what was read (the shared
//! raw skeleton in `loopcore_benches::raw_server`). Usage: `mio_echo PORT`.
#![forbid(unsafe_code)]

use std::io::{ErrorKind, Read};

use loopcore_benches::raw_server::{self, RawConn};

/// Echoes until `WouldBlock`; false when the connection is done.
fn on_readable(conn: &mut RawConn<()>, buf: &mut [u8]) -> bool {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                conn.out.extend_from_slice(&buf[..n]);
                if !conn.flush() {
                    return false;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8007);
    raw_server::serve(port, on_readable)
}
