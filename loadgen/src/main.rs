//! `loadgen [OPTIONS] <URL>`: see `loadgen --help` and `docs/loadgen.md`.
//! Exits 0 when some request succeeded, 1 when none did, 2 on a bad
//! argument.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use loopcore_loadgen::cli::Args;
use loopcore_loadgen::report::{Report, Setup};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("loadgen: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the load and prints the report; true if some request succeeded.
fn run(args: &Args) -> anyhow::Result<bool> {
    let (plan, spread, _target) = args.plan()?;
    let setup = Setup {
        url: args.url.clone(),
        connections: plan.connections,
        loops: spread.loops,
        pipeline: plan.pipeline,
        rate: plan.rate,
    };
    let json_to_stdout = args.json.as_deref() == Some("-");
    if !json_to_stdout {
        let mode = match plan.rate {
            Some(rate) => format!("open loop at {rate} req/s"),
            None => "closed loop".to_owned(),
        };
        println!(
            "Running against {} with {} connections on {} loops, {mode}",
            args.url, plan.connections, spread.loops
        );
    }
    let outcome = loopcore_loadgen::run::run(plan, &spread)?;
    let report = Report::new(setup, &outcome);
    match args.json.as_deref() {
        Some("-") => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Some(path) => {
            std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            print!("{}", report.text(args.latency));
        }
        None => print!("{}", report.text(args.latency)),
    }
    Ok(report.any_success())
}
