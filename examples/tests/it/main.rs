//! Integration tests of the examples: one binary, a module per example or
//! area, and the helpers they share in `common`.

mod common;

mod bounded_memory;
mod cli;
mod ecosystem;
mod hostile;
mod hostile_echo;
mod http_plaintext;
mod http_plaintext_runtime;
mod runtime_examples;
mod safe_defaults;
mod socket_activation;
mod static_files;
mod tls_examples;
mod tokio_bridge;
mod zero_downtime;
