//! Run: `cargo run --release -p loopcore-examples --example tls_echo -- [--host H] [--port 7443] [--loops N] [--cert cert.pem --key key.pem]`,
//! then `openssl s_client -connect 127.0.0.1:7443 -CAfile <the printed path>` and type.
//!
//! The echo protocol (`loopcore_examples::echo`) over TLS on every loop:
//! with no `--cert`/`--key` it makes a self-signed certificate for
//! `localhost` and `127.0.0.1` and prints where its PEM is.
#![forbid(unsafe_code)]

use loopcore::ServeOptions;
use loopcore_examples::cli::{run_main, Cli, Tls};
use loopcore_examples::echo::Echo;

fn main() -> std::process::ExitCode {
    run_main("tls_echo", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::new("tls_echo").port(7443).tls(Tls::Always);
    let Some(args) = cli.parse(|_| Ok(false))? else {
        return Ok(());
    };
    let runtime = args.runtime_builder("tls-echo").build()?;
    let (options, generated_cert) = args.with_tls(ServeOptions::default(), &[])?;
    let addrs = runtime.serve(args.addr(), options, Echo::default)?;
    println!("tls_echo listening on {}", addrs[0]);
    if let Some(path) = generated_cert {
        println!(
            "self-signed certificate (for -CAfile / --cacert): {}",
            path.display()
        );
    }
    runtime.run()?;
    Ok(())
}
