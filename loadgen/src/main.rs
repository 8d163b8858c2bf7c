//! `loadgen [OPTIONS] <URL>` and `loadgen sweep --slo p99=5ms [OPTIONS]
//! <URL>`: see `--help` and `docs/loadgen.md`. Exits 0 when some request
//! succeeded (a sweep: when some rate met the objective), 1 when none
//! did, 2 on a bad argument or a failure to run.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use loopcore_loadgen::cli::Args;
use loopcore_loadgen::commands::{self, SweepArgs};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let result = if argv.get(1).map(String::as_str) == Some("sweep") {
        run_sweep(&SweepArgs::parse_from(&argv[1..]))
    } else {
        run_load(&Args::parse_from(&argv))
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("loadgen: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes `value` as JSON to `path` (`-`: standard output).
fn write_json(path: &str, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
    } else {
        std::fs::write(path, serde_json::to_vec_pretty(value)?)?;
    }
    Ok(())
}

/// One run; true if some request succeeded.
fn run_load(args: &Args) -> anyhow::Result<bool> {
    let json_to_stdout = args.json.as_deref() == Some("-");
    if !json_to_stdout {
        let mode = match args.rate {
            Some(rate) => format!("open loop at {rate} req/s"),
            None => "closed loop".to_owned(),
        };
        println!(
            "Running against {} with {} connections, {mode}",
            args.url, args.connections
        );
    }
    let report = commands::load(args)?;
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if !json_to_stdout {
        print!("{}", report.text(args.latency));
    }
    Ok(report.any_success())
}

/// A sweep; true if some rate met the objective.
fn run_sweep(args: &SweepArgs) -> anyhow::Result<bool> {
    let quiet = args.load.json.as_deref() == Some("-");
    let outcome = commands::sweep(args, |line| {
        if !quiet {
            eprintln!("sweep: {line}");
        }
    })?;
    if let Some(path) = &args.load.json {
        write_json(path, &outcome)?;
    }
    if !quiet {
        print!("{}", outcome.text(&args.slo));
    }
    Ok(outcome.best_rate > 0.0)
}
