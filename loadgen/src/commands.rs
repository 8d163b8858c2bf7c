//! What the binary's commands do, as functions the demo and the tests can
//! call too: [`load`] (one run and its report) and [`sweep`] (the highest
//! rate within a latency objective).

use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use serde::Serialize;

use crate::cli::Args;
use crate::duration::parse_duration;
use crate::report::{Report, Setup};
use crate::sweep::{self, Bisect, Slo, Verdict};

/// Runs the load `args` describe and returns its report.
pub fn load(args: &Args) -> Result<Report> {
    let (plan, spread, _target) = args.plan()?;
    let setup = Setup {
        url: args.url.clone(),
        connections: plan.connections,
        loops: spread.loops,
        pipeline: plan.pipeline,
        rate: plan.rate,
    };
    let outcome = crate::run::run(plan, &spread)?;
    Ok(Report::new(setup, &outcome))
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
