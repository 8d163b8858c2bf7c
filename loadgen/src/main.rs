//! `loadgen [OPTIONS] <URL>`, `loadgen sweep --slo p99=5ms [OPTIONS]
//! <URL>`, `loadgen merge a.json b.json` and `loadgen tune --server CMD
//! [OPTIONS] <URL>`: see `--help` and `docs/loadgen.md`. Exits 0 when some request
//! succeeded (a sweep: when some rate met the objective), 1 when none
//! did, 2 on a bad argument or a failure to run.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use loopcore_loadgen::cli::Args;
use loopcore_loadgen::commands::{self, MergeArgs, SweepArgs};
use loopcore_loadgen::tune::TuneArgs;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let result = match argv.get(1).map(String::as_str) {
        Some("sweep") => run_sweep(&SweepArgs::parse_from(&argv[1..])),
        Some("merge") => run_merge(&MergeArgs::parse_from(&argv[1..])),
        Some("tune") => run_tune(&TuneArgs::parse_from(&argv[1..])),
        _ => run_load(&Args::parse_from(&argv)),
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
    let report = commands::load_with_progress(args, !json_to_stdout)?;
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

/// Merges reports; true if some request succeeded.
fn run_merge(args: &MergeArgs) -> anyhow::Result<bool> {
    let reports = args
        .reports
        .iter()
        .map(|path| loopcore_loadgen::merge::read_report(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = loopcore_loadgen::merge::merge(&reports)?;
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if args.json.as_deref() != Some("-") {
        print!("{}", report.text(args.latency));
    }
    Ok(report.any_success())
}

/// Tunes a server command; true if every set-up answered something.
fn run_tune(args: &TuneArgs) -> anyhow::Result<bool> {
    let quiet = args.load.json.as_deref() == Some("-");
    let rows = loopcore_loadgen::tune::tune(args, |line| {
        if !quiet {
            eprintln!("tune: {line}");
        }
    })?;
    if let Some(path) = &args.load.json {
        write_json(path, &rows)?;
    }
    if !quiet {
        print!("{}", loopcore_loadgen::tune::table(&rows));
    }
    Ok(rows.iter().all(|r| r.rps > 0.0))
}
