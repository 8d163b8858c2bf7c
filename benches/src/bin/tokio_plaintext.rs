//! The tokio baselines for the end-to-end benchmarks: a task per
//! connection, the shared `loopcore::http1` codec, and one of the runtime
//! shapes of `loopcore_benches::tokio_shapes`.
//! Usage: `tokio_plaintext PORT [current | per-core N | multi N]`.
#![forbid(unsafe_code)]

use loopcore::http1::{self, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve(mut stream: TcpStream) {
    let limits = Limits::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut out = Vec::with_capacity(4096);
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        partial.extend_from_slice(&buf[..n]);
        let (used, close) = http1::serve_requests(&mut out, &partial, &limits, |request, out| {
            http1::write_response(
                out,
                200,
                &[("Server", "tokio"), ("Content-Type", "text/plain")],
                b"Hello, World!",
                request.persistence(),
            )
        });
        partial.drain(..used);
        if stream.write_all(&out).await.is_err() || close {
            return;
        }
        out.clear();
    }
}

async fn accept_forever(listener: TcpListener) -> std::io::Result<()> {
    loopcore_benches::tokio_shapes::accept_forever(listener, serve).await
}

fn main() -> std::io::Result<()> {
    loopcore_benches::tokio_shapes::main("tokio_plaintext", accept_forever)
}
