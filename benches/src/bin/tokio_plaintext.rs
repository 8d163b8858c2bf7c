//! The tokio baselines for the end-to-end benchmarks: a task per
//! connection, the shared `loopcore::http1` codec, and one of three
//! runtime shapes.
//! Usage: `tokio_plaintext PORT [current | per-core N | multi N]`:
//! - `current` (default): one current-thread runtime;
//! - `per-core N`: N threads, each a current-thread runtime with its own
//!   `SO_REUSEPORT` listener (tokio's answer to thread-per-core);
//! - `multi N`: the multi-thread (work-stealing) runtime with N workers.
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

async fn accept_forever(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        // A peer may reset before we get here: serve (or drop) it anyway.
        let _ = stream.set_nodelay(true);
        tokio::task::spawn(serve(stream));
    }
}

fn reuseport_listener(port: u16) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    socket.listen(4096)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let mode = args.next().unwrap_or_else(|| "current".to_owned());
    let threads: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    match mode.as_str() {
        "current" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()?;
            runtime.block_on(async move {
                let listener = TcpListener::bind(("127.0.0.1", port)).await?;
                println!("tokio_plaintext listening on 127.0.0.1:{port}");
                accept_forever(listener).await
            })
        }
        "per-core" => {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::spawn(move || -> std::io::Result<()> {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_io()
                            .build()?;
                        runtime.block_on(
                            async move { accept_forever(reuseport_listener(port)?).await },
                        )
                    })
                })
                .collect();
            println!("tokio_plaintext listening on 127.0.0.1:{port} ({threads} per-core runtimes)");
            for worker in workers {
                worker.join().expect("a worker panicked")?;
            }
            Ok(())
        }
        "multi" => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_io()
                .build()?;
            runtime.block_on(async move {
                let listener = TcpListener::bind(("127.0.0.1", port)).await?;
                println!("tokio_plaintext listening on 127.0.0.1:{port} (multi-thread, {threads} workers)");
                accept_forever(listener).await
            })
        }
        other => Err(std::io::Error::other(format!(
            "unknown mode {other:?}: current, per-core N or multi N"
        ))),
    }
}
