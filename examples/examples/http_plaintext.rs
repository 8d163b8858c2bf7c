//! Run: `cargo run --release -p loopcore-examples --example http_plaintext -- --port 8080`
//! (options: the shared `--host H` (default 127.0.0.1), `--port P`,
//! `--loops N` (default: every CPU this process may use), `--tls` with
//! `--cert`/`--key`; its own `--balance reuseport|acceptor|incoming-cpu`,
//! `--pin`, `--admin-port P` for Prometheus metrics at `/metrics`, and
//! more: see `--help`), then `curl http://127.0.0.1:8080/plaintext` or
//! `wrk -t1 -c64 http://127.0.0.1:8080/plaintext`.
//!
//! The TechEmpower plaintext server (`loopcore_examples::plaintext`) on a
//! thread-per-core runtime (`loopcore_examples::plaintext_server`).
//! SIGINT/SIGTERM shut it down gracefully; it then prints each loop's
//! connections and requests, so imbalance is visible.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    loopcore_examples::cli::run_main("http_plaintext", || {
        loopcore_examples::plaintext_server::main(false)
    })
}
