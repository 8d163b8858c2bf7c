//! The tokio baseline for the end-to-end benchmark: one current-thread
//! runtime, a task per connection, the shared `loopcore::http1` codec.
//! Usage: `tokio_plaintext PORT`.
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
                request.keep_alive,
            )
        });
        partial.drain(..used);
        if stream.write_all(&out).await.is_err() || close {
            return;
        }
        out.clear();
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("tokio_plaintext listening on 127.0.0.1:{port}");
        loop {
            let (stream, _) = listener.accept().await?;
            // A peer may reset before we get here: serve (or drop) it anyway.
            let _ = stream.set_nodelay(true);
            tokio::task::spawn(serve(stream));
        }
    })
}
