//! Run: `cargo run --release -p loopcore-examples --example https_plaintext -- --port 8443 [--cert cert.pem --key key.pem]`,
//! then `curl --cacert <the printed path> https://localhost:8443/plaintext`.
//!
//! The plaintext HTTP server over TLS (rustls): with no `--cert`/`--key` it
//! makes a self-signed certificate for `localhost` and `127.0.0.1` and
//! prints where its PEM is, for `curl --cacert`. Same options as
//! `http_plaintext`, less `--tls` (always on).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    loopcore_examples::cli::run_main("https_plaintext", || {
        loopcore_examples::plaintext_server::main(true)
    })
}
