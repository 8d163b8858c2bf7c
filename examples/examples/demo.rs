//! Run: `cargo run --release -p loopcore-examples --example demo [-- SERVER_LOOPS SECONDS CONNECTIONS]`
//! (defaults: half the CPUs, 10 s, 64 connections).
//!
//! The main job: the plaintext HTTP server (`loopcore_examples::plaintext`)
//! on a runtime with a loop per CPU of one half of the machine, and the
//! bundled load generator (`loopcore-loadgen`, closed loop) on the other
//! half, each pinned to its own CPUs; then loadgen's report with the
//! latency percentiles, and what each server loop answered. On a machine
//! with one CPU both share it. Both sides share the machine, so the
//! figures are a demonstration, not a benchmark (see
//! `docs/benchmarks.md` and `docs/loadgen.md`).
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use loopcore::{Pinning, Runtime, ServeOptions};
use loopcore_examples::plaintext::{self, Plaintext};
use loopcore_loadgen::cli::Args;

fn arg<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    default: T,
) -> Result<T, Box<dyn std::error::Error>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    Ok(match args.next() {
        Some(value) => value.parse()?,
        None => default,
    })
}

/// Splits the CPUs: the first half serves, the second half loads.
fn split_cpus(server_loops: Option<usize>) -> (Vec<usize>, Vec<usize>) {
    let cpus = loopcore::allowed_cpus();
    if cpus.len() < 2 {
        return (cpus.clone(), cpus);
    }
    let half = server_loops
        .unwrap_or(cpus.len() / 2)
        .clamp(1, cpus.len() - 1);
    (cpus[..half].to_vec(), cpus[half..].to_vec())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server_loops: Option<usize> = args.next().map(|v| v.parse()).transpose()?;
    let seconds: f64 = arg(&mut args, 10.0)?;
    let connections: usize = arg(&mut args, 64)?;
    if server_loops == Some(0) || connections == 0 || seconds <= 0.0 {
        return Err("SERVER_LOOPS, SECONDS and CONNECTIONS must be positive".into());
    }
    let (server_cpus, client_cpus) = split_cpus(server_loops);
    let loops = server_loops.unwrap_or(server_cpus.len());

    let answered: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let reports = answered.clone();
    let server = Runtime::builder()
        .loops(loops)
        .pinning(Pinning::List(server_cpus.clone()))
        .thread_name("server")
        .handle_signals(false)
        .on_loop_stop(move |_| {
            let index = loopcore::current_loop_index().unwrap_or(0);
            let requests = plaintext::requests_answered_here();
            reports.lock().unwrap().push((index, requests));
        })
        .build()?;
    let addr = server.serve("127.0.0.1:0", ServeOptions::default(), Plaintext::default)?[0];
    println!(
        "loopcore demo: http_plaintext on {loops} loops (CPUs {server_cpus:?}), loadgen on {} \
         loops (CPUs {client_cpus:?})",
        client_cpus.len()
    );

    let cpu_list = client_cpus
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let load = Args::try_parse_from([
        "loadgen".to_owned(),
        format!("--connections={connections}"),
        format!("--threads={}", client_cpus.len()),
        format!("--duration={seconds}s"),
        format!("--cpus={cpu_list}"),
        "--latency".to_owned(),
        format!("http://{addr}/plaintext"),
    ])?;
    let report = loopcore_loadgen::commands::load(&load)?;
    print!("{}", report.text(true));

    let server_stats = server.stats();
    server.shutdown(Duration::from_secs(1));
    server.run()?;
    let mut answered = answered.lock().unwrap().clone();
    answered.sort_unstable();
    for (index, requests) in answered {
        let stats = &server_stats.per_loop[index];
        println!(
            "server loop {index}: {} connections, {requests} requests, {:.0}% busy",
            stats.connections_opened,
            100.0 * stats.busy_ns as f64 / (stats.busy_ns + stats.poll_wait_ns).max(1) as f64
        );
    }
    if !report.any_success() {
        return Err("no request was answered".into());
    }
    Ok(())
}
