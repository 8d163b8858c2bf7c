//! Code the examples share, kept in a library so tests can drive it too.
#![forbid(unsafe_code)]

pub mod echo;
pub mod plaintext;
