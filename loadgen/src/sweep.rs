//! `loadgen sweep`: the highest open-loop rate a server sustains within a
//! latency objective. A closed-loop probe estimates the capacity; then the
//! rate is bisected between a rate known to pass and one known to fail,
//! each step a full open-loop run, until the two are close. The
//! bisection ([`Bisect`]) and the objective ([`Slo`]) are sans-IO; the
//! runs come from [`crate::run`].

use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::duration::parse_duration;
use crate::report::Report;

/// A latency objective: `p99=5ms` (percentile = duration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// The percentile, 0-100.
    pub percentile: f64,
    /// The latency it must not exceed.
    pub limit: Duration,
}

impl FromStr for Slo {
    type Err = String;

    /// ```
    /// use std::time::Duration;
    /// use loopcore_loadgen::sweep::Slo;
    /// let slo: Slo = "p99.9=20ms".parse().unwrap();
    /// assert_eq!((slo.percentile, slo.limit), (99.9, Duration::from_millis(20)));
    /// assert!("median<5ms".parse::<Slo>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not an objective: write it as p99=5ms");
        let (percentile, limit) = text.split_once('=').ok_or_else(bad)?;
        let percentile: f64 = percentile
            .trim()
            .strip_prefix('p')
            .and_then(|p| p.parse().ok())
            .filter(|p: &f64| *p > 0.0 && *p <= 100.0)
            .ok_or_else(bad)?;
        let limit = parse_duration(limit)?;
        if limit.is_zero() {
            return Err(bad());
        }
        Ok(Self { percentile, limit })
    }
}

impl std::fmt::Display for Slo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}={:?}", self.percentile, self.limit)
    }
}

impl Slo {
    /// Whether a run met the objective: its percentile within the limit,
    /// no errors, and the generator kept at least 95 % of the rate (a run
    /// the generator could not drive proves nothing).
    pub fn verdict(&self, report: &Report) -> Verdict {
        let rate = report.rate.map_or(0.0, |r| r.requested);
        let achieved = report.rate.map_or(0.0, |r| r.achieved);
        let latency = Duration::from_micros(report_percentile(report, self.percentile));
        let errors = report.errors.total() + report.unfinished;
        Verdict {
            rate,
            achieved,
            latency,
            errors,
            met: latency <= self.limit && errors == 0 && achieved >= rate * 0.95,
        }
    }
}

/// The percentile of the report's (corrected) latency, in microseconds.
fn report_percentile(report: &Report, percentile: f64) -> u64 {
    crate::stats::decode_histogram(&report.latency_hdr)
        .map(|h| h.value_at_quantile(percentile / 100.0))
        .unwrap_or(u64::MAX)
}

/// One step of a sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The rate asked for.
    pub rate: f64,
    /// The rate sent.
    pub achieved: f64,
    /// The objective's percentile.
    pub latency: Duration,
    /// Errors and unanswered requests.
    pub errors: u64,
    /// The objective was met.
    pub met: bool,
}

/// Bisection of the rate between one that passed and one that failed.
#[derive(Debug, Clone)]
pub struct Bisect {
    /// The highest rate known to pass (0: none yet).
    pub good: f64,
    /// The lowest rate known to fail.
    pub bad: f64,
    /// Stop when `bad - good` is at most this share of `bad`.
    pub tolerance: f64,
}

impl Bisect {
    /// Searches (0, `ceiling`]; `ceiling` is assumed to fail (a rate
    /// above the closed-loop capacity).
    pub fn new(ceiling: f64, tolerance: f64) -> Self {
        Self {
            good: 0.0,
            bad: ceiling,
            tolerance,
        }
    }

    /// The next rate to try, or `None` when the answer is close enough.
    ///
    /// ```
    /// use loopcore_loadgen::sweep::Bisect;
    /// // A server that keeps its objective up to 730 req/s.
    /// let mut bisect = Bisect::new(2000.0, 0.05);
    /// while let Some(rate) = bisect.next_rate() {
    ///     bisect.record(rate, rate <= 730.0);
    /// }
    /// assert!(bisect.good <= 730.0 && bisect.good >= 730.0 * 0.95);
    /// ```
    pub fn next_rate(&self) -> Option<f64> {
        if self.bad - self.good <= self.bad * self.tolerance || self.bad < 1.0 {
            return None;
        }
        Some(((self.good + self.bad) / 2.0).round().max(1.0))
    }

    /// Records a step's outcome.
    pub fn record(&mut self, rate: f64, met: bool) {
        if met {
            self.good = self.good.max(rate);
        } else {
            self.bad = self.bad.min(rate);
        }
    }
}

/// The sweep's table and answer as text.
pub fn table(slo: &Slo, capacity: f64, steps: &[Verdict], best: f64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Sweep for {slo}: closed-loop capacity {capacity:.0} req/s"
    );
    let _ = writeln!(
        out,
        "  {:>10} {:>10} {:>12} {:>7}  verdict",
        "rate",
        "sent",
        format!("p{}", slo.percentile),
        "errors"
    );
    for step in steps {
        let _ = writeln!(
            out,
            "  {:>10.0} {:>10.0} {:>12} {:>7}  {}",
            step.rate,
            step.achieved,
            format!("{:.2?}", step.latency),
            step.errors,
            if step.met { "meets" } else { "misses" }
        );
    }
    if best > 0.0 {
        let _ = writeln!(out, "Highest rate meeting {slo}: {best:.0} req/s");
    } else {
        let _ = writeln!(out, "No rate tried met {slo}");
    }
    out
}

/// Checks the sweep's own options.
pub fn check(tolerance: f64, max_steps: usize) -> Result<()> {
    if !(tolerance > 0.0 && tolerance < 1.0) {
        bail!("--tolerance must be between 0 and 1, e.g. 0.05");
    }
    if max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    Ok(())
}

/// Parses `--slo` for clap.
pub fn parse_slo(text: &str) -> Result<Slo, String> {
    text.parse()
}

/// A capacity from a closed-loop report, refusing one that measured
/// nothing.
pub fn capacity(report: &Report) -> Result<f64> {
    Some(report.rps)
        .filter(|&rps| rps >= 1.0 && report.any_success())
        .context("the closed-loop probe got no successful answer: is the server up?")
}
