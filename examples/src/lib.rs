//! Code the examples share, kept in a library so tests can drive it too.
#![forbid(unsafe_code)]

pub mod admin;
pub mod blocking;
pub mod chat;
pub mod cli;
pub mod echo;
pub mod hyper_hello;
pub mod lines;
pub mod plaintext;
pub mod plaintext_server;
pub mod static_files;
pub mod tls;
pub mod tokio_bridge;
