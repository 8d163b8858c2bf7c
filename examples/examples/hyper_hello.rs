//! Run: `cargo run --release -p loopcore-examples --example hyper_hello -- [--host H] [--port 8080] [--loops N] [--tls] [--cert PEM --key PEM]`,
//! then `curl http://127.0.0.1:8080/`, `curl --http2-prior-knowledge
//! http://127.0.0.1:8080/`, or `h2load -n 100000 -c 100 http://127.0.0.1:8080/`.
//!
//! hyper's HTTP/1.1 and HTTP/2 servers on every loop of a loopcore
//! runtime: connections accepted by each loop are served there by
//! `loopcore::hyper_rt::serve_connection` with the `hello` service
//! (`loopcore_examples::hyper_hello`), with the driver's defaults: a 30 s
//! header deadline (the HTTP/2 preface sniff included), a 60 s idle
//! timeout, ambiguous HTTP/1 framing refused. With `--tls`, ALPN picks
//! `h2` or `http/1.1` (a self-signed certificate is made unless
//! `--cert`/`--key` are given).
#![forbid(unsafe_code)]

use hyper::service::service_fn;
use loopcore::hyper_rt::serve_connection;
use loopcore::ServeOptions;
use loopcore_examples::cli::{run_main, Cli, Tls};
use loopcore_examples::hyper_hello::hello;

fn main() -> std::process::ExitCode {
    run_main("hyper_hello", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::new("hyper_hello").tls(Tls::Optional);
    let Some(args) = cli.parse(|_| Ok(false))? else {
        return Ok(());
    };
    let runtime = args.runtime_builder("hyper-hello").build()?;
    let (options, generated_cert) =
        args.with_tls(ServeOptions::default(), &[b"h2", b"http/1.1"])?;
    let addrs = runtime.serve_streams(args.addr(), options, |r, w| {
        serve_connection(r, w, service_fn(hello), Default::default())
    })?;
    println!(
        "hyper_hello listening on {} ({} loops)",
        addrs[0],
        runtime.handles().len()
    );
    if let Some(path) = generated_cert {
        println!(
            "self-signed certificate (for curl --cacert): {}",
            path.display()
        );
    }
    runtime.run()?;
    Ok(())
}
