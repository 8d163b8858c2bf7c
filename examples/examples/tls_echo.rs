//! Run: `cargo run --release -p loopcore-examples --example tls_echo -- --port 7443 [--cert cert.pem --key key.pem]`,
//! then `openssl s_client -connect 127.0.0.1:7443 -CAfile <the printed path>` and type.
//!
//! The echo protocol (`loopcore_examples::echo`) over TLS on every core:
//! with no `--cert`/`--key` it makes a self-signed certificate for
//! `localhost` and `127.0.0.1` and prints where its PEM is.
#![forbid(unsafe_code)]

use loopcore::{Runtime, ServeOptions};
use loopcore_examples::echo::Echo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port: u16 = 7443;
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--cert" => cert = Some(args.next().ok_or("--cert needs a value")?),
            "--key" => key = Some(args.next().ok_or("--key needs a value")?),
            "-h" | "--help" => {
                println!("usage: tls_echo [--port PORT] [--cert PEM --key PEM]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let identity = loopcore_examples::tls::identity(cert.as_deref(), key.as_deref(), &[])?;
    let runtime = Runtime::builder().thread_name("tls-echo").build()?;
    let options = ServeOptions::default().tls(identity.config);
    let addrs = runtime.serve(("127.0.0.1", port), options, Echo::default)?;
    println!("tls_echo listening on {}", addrs[0]);
    if let Some(path) = identity.generated_cert {
        println!(
            "self-signed certificate (for -CAfile / --cacert): {}",
            path.display()
        );
    }
    runtime.run()?;
    Ok(())
}
