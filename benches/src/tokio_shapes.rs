//! The runtime shapes the tokio baselines run in, shared by every tokio
//! peer server: `current` (one current-thread runtime), `per-core N` (N
//! threads, each a current-thread runtime with its own `SO_REUSEPORT`
//! listener: tokio's answer to thread-per-core) and `multi N` (the
//! work-stealing runtime with N workers).

use std::future::Future;
use std::io;

use tokio::net::{TcpListener, TcpStream};

/// Accepts forever, serving each connection (`TCP_NODELAY` on) as a task.
pub async fn accept_forever<F, Fut>(listener: TcpListener, serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        // A peer may reset before we get here: serve (or drop) it anyway.
        let _ = stream.set_nodelay(true);
        tokio::task::spawn(serve(stream));
    }
}

fn reuseport_listener(port: u16) -> io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    socket.listen(4096)
}

fn current_thread() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Parses `PORT [current | per-core N | multi N]` from the command line
/// and runs `accept_forever` on 127.0.0.1:PORT in that shape; `name` is
/// the program's, for its "listening" line.
pub fn main<F, Fut>(name: &str, accept_forever: F) -> io::Result<()>
where
    F: Fn(TcpListener) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = io::Result<()>>,
{
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let mode = args.next().unwrap_or_else(|| "current".to_owned());
    let threads: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    match mode.as_str() {
        "current" => current_thread()?.block_on(async move {
            let listener = TcpListener::bind(("127.0.0.1", port)).await?;
            println!("{name} listening on 127.0.0.1:{port}");
            accept_forever(listener).await
        }),
        "per-core" => {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::spawn(move || -> io::Result<()> {
                        current_thread()?.block_on(async move {
                            accept_forever(reuseport_listener(port)?).await
                        })
                    })
                })
                .collect();
            println!("{name} listening on 127.0.0.1:{port} ({threads} per-core runtimes)");
            for worker in workers {
                worker.join().expect("a worker panicked")?;
            }
            Ok(())
        }
        "multi" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
            .block_on(async move {
                let listener = TcpListener::bind(("127.0.0.1", port)).await?;
                println!("{name} listening on 127.0.0.1:{port} (multi-thread, {threads} workers)");
                accept_forever(listener).await
            }),
        other => Err(io::Error::other(format!(
            "unknown mode {other:?}: current, per-core N or multi N"
        ))),
    }
}
