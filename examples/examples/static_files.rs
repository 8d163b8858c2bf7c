//! Run: `cargo run --release -p loopcore-examples --example static_files -- --root DIR [--port 8080] [--loops N] [--tls [--cert PEM --key PEM]]`,
//! then `curl http://127.0.0.1:8080/some/file` or `curl -r 0-99 …`.
//!
//! Serves the files under a directory on every loop of a runtime
//! (`loopcore_examples::static_files`): bodies go out with
//! `Transport::sendfile` (`sendfile(2)` on plain TCP; read and encrypted a
//! chunk at a time over TLS), single `Range` requests are answered with
//! `206`, keep-alive and pipelining work, and a client that does not read
//! its answers stops being read.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use loopcore::{Runtime, ServeOptions};
use loopcore_examples::static_files::StaticFiles;

const USAGE: &str = "usage: static_files --root DIR [--host H] [--port P] [--loops N] [--tls] [--cert PEM --key PEM]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut host, mut port, mut loops) = ("127.0.0.1".to_owned(), 8080u16, None);
    let (mut root, mut tls, mut cert, mut key) = (None, false, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--root" => root = Some(PathBuf::from(value()?)),
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
    let root = root.ok_or(format!("--root is required\n{USAGE}"))?;
    let root = Arc::new(
        root.canonicalize()
            .map_err(|e| format!("--root {}: {e}", root.display()))?,
    );
    if !root.is_dir() {
        return Err(format!("--root {}: not a directory", root.display()).into());
    }
    let mut builder = Runtime::builder().thread_name("static");
    if let Some(loops) = loops {
        builder = builder.loops(loops);
    }
    let runtime = builder.build()?;
    let mut options = ServeOptions::default().backlog(4096);
    let mut generated_cert = None;
    if tls || cert.is_some() {
        let identity =
            loopcore_examples::tls::identity(cert.as_deref(), key.as_deref(), &[b"http/1.1"])?;
        options = options.tls(identity.config);
        generated_cert = identity.generated_cert;
    }
    let served = root.clone();
    let addrs = runtime.serve((host.as_str(), port), options, move || {
        StaticFiles::new(served.clone())
    })?;
    if let Some(path) = generated_cert {
        println!(
            "self-signed certificate for localhost and 127.0.0.1: curl --cacert {}",
            path.display()
        );
    }
    println!(
        "static_files listening on {} ({} loops), serving {}",
        addrs[0],
        runtime.handles().len(),
        root.display()
    );
    runtime.run()?;
    Ok(())
}
