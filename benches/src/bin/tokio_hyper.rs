//! The tokio baseline for `hyper_hello`: the same hyper service
//! (`loopcore_examples::hyper_hello::hello`) and the same HTTP/2 sniff,
//! on tokio through hyper-util's glue, in one of the runtime shapes of
//! `loopcore_benches::tokio_shapes`.
//! Usage: `tokio_hyper PORT [current | per-core N | multi N]`.
#![forbid(unsafe_code)]

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use loopcore_examples::hyper_hello::{hello, H2_PREFACE};
use tokio::net::{TcpListener, TcpStream};

/// HTTP/2 if the connection opens with the preface, as `hyper_hello`
/// decides it.
async fn speaks_h2(stream: &TcpStream) -> bool {
    let mut start = [0u8; 24];
    loop {
        let Ok(n) = stream.peek(&mut start).await else {
            return false;
        };
        let seen = &start[..n];
        if n == 0 || n == start.len() || !H2_PREFACE.starts_with(seen) {
            return seen.starts_with(H2_PREFACE);
        }
        // Part of the preface so far: let the rest arrive.
        tokio::task::yield_now().await;
    }
}

async fn serve(stream: TcpStream) {
    let h2 = speaks_h2(&stream).await;
    let io = TokioIo::new(stream);
    let _ = if h2 {
        http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(io, service_fn(hello))
            .await
    } else {
        http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(io, service_fn(hello))
            .await
    };
}

async fn accept_forever(listener: TcpListener) -> std::io::Result<()> {
    loopcore_benches::tokio_shapes::accept_forever(listener, serve).await
}

fn main() -> std::io::Result<()> {
    loopcore_benches::tokio_shapes::main("tokio_hyper", accept_forever)
}
