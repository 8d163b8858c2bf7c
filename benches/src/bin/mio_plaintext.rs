//! The "close to the limit" baseline for the end-to-end benchmark: a
//! hand-written single-threaded `mio` HTTP/1.1 plaintext server with no
//! framework (the shared raw skeleton in `loopcore_benches::raw_server`),
//! the shared `loopcore::http1` codec, one `write` per read.
//! Usage: `mio_plaintext PORT`.
#![forbid(unsafe_code)]

use std::io::{ErrorKind, Read};

use loopcore::http1::{self, Limits};
use loopcore_benches::raw_server::{self, RawConn};

fn answer(out: &mut Vec<u8>, input: &[u8], limits: &Limits) -> (usize, bool) {
    http1::serve_requests(out, input, limits, |request, out| {
        http1::write_response(
            out,
            200,
            &[("Server", "mio"), ("Content-Type", "text/plain")],
            b"Hello, World!",
            request.persistence(),
        )
    })
}

/// Reads and answers until `WouldBlock`; false when the connection is done.
/// The state is the bytes of a request that arrived incomplete.
fn on_readable(conn: &mut RawConn<Vec<u8>>, buf: &mut [u8], limits: &Limits) -> bool {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                let close = if conn.state.is_empty() {
                    let (used, close) = answer(&mut conn.out, &buf[..n], limits);
                    conn.state.extend_from_slice(&buf[used..n]);
                    close
                } else {
                    conn.state.extend_from_slice(&buf[..n]);
                    let (used, close) = answer(&mut conn.out, &conn.state, limits);
                    conn.state.drain(..used);
                    close
                };
                if !conn.flush() || close {
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
        .unwrap_or(8080);
    let limits = Limits::default();
    raw_server::serve(port, |conn, buf| on_readable(conn, buf, &limits))
}
