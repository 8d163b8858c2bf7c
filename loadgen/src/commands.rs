//! What the binary's commands do, as functions the demo and the tests can
//! call too: [`load`] (one run and its report) and [`sweep()`] (the highest
//! rate within a latency objective); `merge` lives in [`crate::merge`].

use std::time::Duration;

use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Parser;
use serde::Serialize;

use crate::cli::Args;
use crate::duration::parse_duration;
use crate::report::{Report, Setup};
use crate::sweep::{self, Bisect, Slo, Verdict};

/// Runs the load `args` describe and returns its report; writes the
/// `--plot` chart and the `--hdr-log` interval log when asked.
pub fn load(args: &Args) -> Result<Report> {
    load_with_progress(args, false)
}

/// [`load`], with a progress bar on standard error when it is a terminal
/// and `progress` is set.
pub fn load_with_progress(args: &Args, progress: bool) -> Result<Report> {
    if let Some(at) = args.start_at {
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            std::thread::sleep(wait);
        }
    }
    let started = SystemTime::now();
    let (plan, spread, _target) = args.plan()?;
    let setup = Setup {
        url: args.url.clone(),
        connections: plan.connections,
        loops: spread.loops,
        pipeline: plan.pipeline,
        rate: plan.rate,
    };
    let total = (plan.stop_at - plan.start).min(Duration::from_secs(365 * 24 * 3600));
    let bar = (progress && plan.stop_at - plan.start < Duration::from_secs(30 * 24 * 3600))
        .then(|| progress_bar(total));
    let outcome = crate::run::run_with_progress(plan, &spread, |elapsed| {
        if let Some(bar) = &bar {
            bar.set_position(elapsed.min(total).as_millis() as u64);
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = Report::new(setup, &outcome);
    if let Some(path) = &args.plot {
        let title = format!("{} — {:.0} req/s", args.url, report.rps);
        let uncorrected = report.rate.is_some().then_some(&outcome.total.uncorrected);
        crate::plot::latency_chart(path, &title, &outcome.total.latency, uncorrected)?;
    }
    if let Some(path) = &args.hdr_log {
        write_interval_log(path, started, &outcome.intervals)?;
    }
    Ok(report)
}

fn progress_bar(total: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total.as_millis() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {percent}%",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Writes HdrHistogram's interval log: one histogram per second of the
/// measured window, timestamps from the start of the run.
fn write_interval_log(
    path: &std::path::Path,
    started: SystemTime,
    intervals: &std::collections::BTreeMap<u64, hdrhistogram::Histogram<u64>>,
) -> Result<()> {
    use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
    use hdrhistogram::serialization::V2Serializer;

    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path)
            .with_context(|| format!("creating the interval log {}", path.display()))?,
    );
    let mut serializer = V2Serializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .with_start_time(started)
        .with_base_time(started)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut file, &mut serializer)
        .map_err(|e| anyhow::anyhow!("writing the interval log: {e:?}"))?;
    for (&second, histogram) in intervals.iter().filter(|(_, h)| !h.is_empty()) {
        log.write_histogram(
            histogram,
            Duration::from_secs(second),
            Duration::from_secs(1),
            None,
        )
        .map_err(|e| anyhow::anyhow!("writing the interval log: {e:?}"))?;
    }
    drop(log);
    std::io::Write::flush(&mut file)?;
    Ok(())
}

/// `loadgen sweep`: steps the open-loop rate (bisecting between a rate
/// that met the objective and one that missed it) and reports the highest
/// rate that met it, with every step. The other options are those of a
/// plain run; each step lasts `--duration` (default 3s).
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen sweep", version, long_about = None)]
pub struct SweepArgs {
    /// The latency objective, e.g. p99=5ms.
    #[arg(long, value_parser = sweep::parse_slo)]
    pub slo: Slo,
    /// Stop when the passing and failing rates are within this share.
    #[arg(long, default_value_t = 0.05)]
    pub tolerance: f64,
    /// The most open-loop steps.
    #[arg(long, default_value_t = 10)]
    pub max_steps: usize,
    #[command(flatten)]
    pub load: Args,
}

/// `loadgen merge`: combines the JSON reports of runs made at the same
/// time (several client machines) into one, exactly: the latency
/// percentiles come from the summed histograms.
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen merge", version, long_about = None)]
pub struct MergeArgs {
    /// JSON reports written by `loadgen --json`.
    #[arg(required = true)]
    pub reports: Vec<String>,
    /// Print the latency percentile table.
    #[arg(long)]
    pub latency: bool,
    /// Write the merged report as JSON (`-`: standard output only).
    #[arg(long)]
    pub json: Option<String>,
}

/// A sweep's result.
#[derive(Debug, Clone, Serialize)]
pub struct SweepOutcome {
    /// The objective, as given.
    pub slo: String,
    /// Requests per second of the closed-loop probe.
    pub capacity: f64,
    /// The highest rate that met the objective (0: none did).
    pub best_rate: f64,
    /// Every open-loop step, in order.
    pub steps: Vec<SweepStep>,
}

/// One step of a sweep, for JSON.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SweepStep {
    pub rate: f64,
    pub achieved: f64,
    pub latency_us: u64,
    pub errors: u64,
    pub met: bool,
}

impl From<Verdict> for SweepStep {
    fn from(v: Verdict) -> Self {
        Self {
            rate: v.rate,
            achieved: v.achieved,
            latency_us: v.latency.as_micros() as u64,
            errors: v.errors,
            met: v.met,
        }
    }
}

/// Runs a sweep; `progress` hears about each step as it ends.
pub fn sweep(args: &SweepArgs, mut progress: impl FnMut(&str)) -> Result<SweepOutcome> {
    sweep::check(args.tolerance, args.max_steps)?;
    let mut load = args.load.clone();
    if load.duration.is_none() && load.requests.is_none() {
        load.duration = Some(parse_duration("3s").map_err(anyhow::Error::msg)?);
    }
    load.rate = None;
    let probe = self::load(&load)?;
    let capacity = sweep::capacity(&probe)?;
    progress(&format!("closed loop: {capacity:.0} req/s"));
    // Above the closed-loop capacity the objective cannot hold.
    let mut bisect = Bisect::new((capacity * 1.2).ceil(), args.tolerance);
    let mut steps = Vec::new();
    while let Some(rate) = bisect.next_rate() {
        if steps.len() == args.max_steps {
            break;
        }
        load.rate = Some(rate);
        let report = self::load(&load)?;
        let verdict = args.slo.verdict(&report);
        progress(&format!(
            "{rate:.0} req/s: p{} {:.2?}, {} errors: {}",
            args.slo.percentile,
            verdict.latency,
            verdict.errors,
            if verdict.met { "meets" } else { "misses" }
        ));
        bisect.record(rate, verdict.met);
        steps.push(verdict);
        // Let the server drain before the next step.
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(SweepOutcome {
        slo: args.slo.to_string(),
        capacity,
        best_rate: bisect.good,
        steps: steps.into_iter().map(SweepStep::from).collect(),
    })
}

impl SweepOutcome {
    /// The table of steps and the answer.
    pub fn text(&self, slo: &Slo) -> String {
        let steps: Vec<Verdict> = self
            .steps
            .iter()
            .map(|s| Verdict {
                rate: s.rate,
                achieved: s.achieved,
                latency: Duration::from_micros(s.latency_us),
                errors: s.errors,
                met: s.met,
            })
            .collect();
        sweep::table(slo, self.capacity, &steps, self.best_rate)
    }
}
