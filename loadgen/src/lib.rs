//! `loadgen`, loopcore's load generator, as a library: the command line
//! ([`cli`]), the target URL ([`target`]), the open-loop schedule
//! ([`pacer`]), what is measured ([`stats`]), the connections
//! (`client`), running them on loopcore loops ([`run`]) and the report
//! ([`report`]), the rate sweep ([`sweep`]) and the commands built from
//! them ([`commands`]). The `loadgen` binary is a thin shell over these.
#![forbid(unsafe_code)]

pub mod cli;
mod client;
pub mod commands;
pub mod duration;
pub mod limits;
pub mod merge;
pub mod pacer;
pub mod plot;
pub mod report;
pub mod run;
pub mod stats;
pub mod sweep;
pub mod target;
pub mod tune;

pub use client::Plan;
