//! Run: `cargo run --release -p loopcore-examples --example static_files -- --root DIR [--host H] [--port 8080] [--loops N] [--tls] [--cert PEM --key PEM]`,
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

use loopcore::ServeOptions;
use loopcore_examples::cli::{Cli, Tls};
use loopcore_examples::static_files;

fn main() -> std::process::ExitCode {
    loopcore_examples::cli::run_main("static_files", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let mut root = None;
    let cli = Cli::new("static_files")
        .tls(Tls::Optional)
        .flag("--root DIR", "serve the files under DIR (required)");
    let parsed = cli.parse(|flag| {
        if flag.name() != "--root" {
            return Ok(false);
        }
        root = Some(PathBuf::from(flag.value()?));
        Ok(true)
    })?;
    let Some(args) = parsed else {
        return Ok(());
    };
    let root = root.ok_or("--root is required (try --help)")?;
    let root = Arc::new(
        root.canonicalize()
            .map_err(|e| format!("--root {}: {e}", root.display()))?,
    );
    if !root.is_dir() {
        return Err(format!("--root {}: not a directory", root.display()).into());
    }
    let runtime = args.runtime_builder("static").build()?;
    let (options, generated_cert) =
        args.with_tls(ServeOptions::default().backlog(4096), &[b"http/1.1"])?;
    let served = root.clone();
    let addrs = runtime.serve(args.addr(), options, move || {
        static_files::connection(served.clone())
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
