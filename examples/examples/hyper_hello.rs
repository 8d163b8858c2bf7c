//! Run: `cargo run --release -p loopcore-examples --example hyper_hello -- [--port 8080] [--loops N] [--tls [--cert PEM --key PEM]]`,
//! then `curl http://127.0.0.1:8080/`, `curl --http2-prior-knowledge
//! http://127.0.0.1:8080/`, or `h2load -n 100000 -c 100 http://127.0.0.1:8080/`.
//!
//! hyper's HTTP/1.1 and HTTP/2 servers on every loop of a loopcore
//! runtime (`loopcore_examples::hyper_hello`): connections accepted by
//! each loop are served there by hyper, with loopcore's executor, timer
//! and IO. With `--tls`, ALPN picks `h2` or `http/1.1` (a self-signed
//! certificate is made unless `--cert`/`--key` are given).
#![forbid(unsafe_code)]

use loopcore::{Runtime, ServeOptions};
use loopcore_examples::hyper_hello::serve_connection;

const USAGE: &str =
    "usage: hyper_hello [--host H] [--port P] [--loops N] [--tls] [--cert PEM --key PEM]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut host, mut port, mut loops) = ("127.0.0.1".to_owned(), 8080u16, None);
    let (mut tls, mut cert, mut key) = (false, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse()?,
            "--loops" => loops = Some(value()?.parse()?),
            "--tls" => tls = true,
            "--cert" => cert = Some(value()?),
            "--key" => key = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let mut builder = Runtime::builder().thread_name("hyper-hello");
    if let Some(loops) = loops {
        builder = builder.loops(loops);
    }
    let runtime = builder.build()?;
    let mut options = ServeOptions::default();
    let mut generated_cert = None;
    if tls || cert.is_some() {
        let identity = loopcore_examples::tls::identity(
            cert.as_deref(),
            key.as_deref(),
            &[b"h2", b"http/1.1"],
        )?;
        options = options.tls(identity.config);
        generated_cert = identity.generated_cert;
    }
    let addrs = runtime.serve_streams((host.as_str(), port), options, serve_connection)?;
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
