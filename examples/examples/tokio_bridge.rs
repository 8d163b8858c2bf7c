//! Run: `cargo run --release -p loopcore-examples --example tokio_bridge -- [--host H] [--port 8080] [--loops N] [--tokio-threads N]`,
//! then `curl http://127.0.0.1:8080/` (what the upstream said) or
//! `curl -i http://127.0.0.1:8080/down` (`502`: the upstream is down).
//!
//! A tokio-based crate called from loopcore's loops
//! (`loopcore_examples::tokio_bridge`). The example serves two things on
//! one loopcore runtime: an upstream (the plaintext server, `Hello,
//! World!`, on a port of its own) and a front server (hyper on the
//! loops). For every request the front server asks the upstream with
//! reqwest, which needs tokio: the request runs on a `TokioBridge`'s
//! helper thread, the loop awaits the answer without blocking, and the
//! front server answers with the upstream's body. `/down` asks a port
//! nothing listens on and answers `502 Bad Gateway`; an upstream that
//! does not answer in time gives `504 Gateway Timeout`.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use loopcore::hyper_rt::LoopTimer;
use loopcore::{IoStream, ServeOptions, StreamReader, StreamWriter};
use loopcore_examples::cli::{run_main, Cli};
use loopcore_examples::plaintext::Plaintext;
use loopcore_examples::tokio_bridge::TokioBridge;

/// What the front server needs for every request; shared by all loops.
struct Gateway {
    bridge: TokioBridge,
    /// Cheap to clone (an `Arc` inside); its connection pool lives on the
    /// bridge's threads.
    client: reqwest::Client,
    /// The upstream's URL.
    upstream: String,
    /// A URL where nothing listens, for `/down`.
    down: String,
}

impl Gateway {
    /// Asks the upstream (or, for `/down`, the closed port) through the
    /// bridge and answers with what it said.
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let url = match request.uri().path() {
            "/down" => self.down.clone(),
            _ => self.upstream.clone(),
        };
        let client = self.client.clone();
        // Everything tokio-flavoured happens inside this future, on the
        // bridge's thread; only the `String` comes back to the loop.
        let fetched = self
            .bridge
            .spawn(async move {
                let response = client.get(url).send().await?.error_for_status()?;
                response.text().await
            })
            .await;
        match fetched {
            Ok(Ok(body)) => respond(StatusCode::OK, body),
            Ok(Err(e)) if e.is_timeout() => respond(
                StatusCode::GATEWAY_TIMEOUT,
                format!("upstream timed out: {}\n", chain(&e)),
            ),
            Ok(Err(e)) => respond(
                StatusCode::BAD_GATEWAY,
                format!("upstream failed: {}\n", chain(&e)),
            ),
            Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        }
    }
}

fn respond(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

/// An error and its causes, `: `-separated (reqwest's own message leaves
/// out the cause, such as "Connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Serves one front connection with hyper's HTTP/1.1, on its loop.
async fn serve_connection(gateway: Arc<Gateway>, reader: StreamReader, writer: StreamWriter) {
    let service = service_fn(move |request| {
        let gateway = gateway.clone();
        async move { Ok::<_, Infallible>(gateway.answer(request).await) }
    });
    let served = http1::Builder::new()
        .timer(LoopTimer)
        .serve_connection(IoStream::new(reader, writer), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "tokio_bridge: connection ended with an error");
    }
}

/// An address on 127.0.0.1 that nothing listens on: a port the kernel
/// just handed out and that was closed again.
fn closed_port() -> std::io::Result<std::net::SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn main() -> std::process::ExitCode {
    run_main("tokio_bridge", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let mut tokio_threads = 1usize;
    let cli = Cli::new("tokio_bridge").flag(
        "[--tokio-threads N]",
        "threads of the tokio runtime the bridge runs reqwest on (default 1)",
    );
    let parsed = cli.parse(|flag| {
        if flag.name() != "--tokio-threads" {
            return Ok(false);
        }
        tokio_threads = flag.parse()?;
        Ok(true)
    })?;
    let Some(args) = parsed else {
        return Ok(());
    };
    let runtime = args.runtime_builder("tokio-bridge-loop").build()?;

    // The upstream: loopcore's plaintext server, on the same loops. Were a
    // loop ever blocked waiting for tokio, it could not answer its own
    // upstream requests either.
    let upstream = runtime.serve("127.0.0.1:0", ServeOptions::default(), Plaintext::default)?[0];
    let client = reqwest::Client::builder()
        // Both upstreams are local: ignore any HTTP_PROXY in the environment.
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()?;
    let gateway = Arc::new(Gateway {
        bridge: TokioBridge::new(tokio_threads)?,
        client,
        upstream: format!("http://{upstream}/plaintext"),
        down: format!("http://{}/", closed_port()?),
    });

    let front = runtime.serve_streams(
        args.addr(),
        ServeOptions::default(),
        move |reader, writer| serve_connection(gateway.clone(), reader, writer),
    )?;
    println!(
        "tokio_bridge listening on {} (upstream {upstream}; {} loops, {tokio_threads} tokio threads)",
        front[0],
        runtime.handles().len()
    );
    runtime.run()?;
    Ok(())
}
