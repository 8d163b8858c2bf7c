//! The report of a run: wrk-like text for people, JSON with stable keys
//! for scripts (and for `merge`, since it carries the histograms), and the
//! verdict on the generator itself: how late it sent, how busy its loops
//! were, and a warning when it, not the server, was the limit.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::run::Outcome;
use crate::stats::{encode_histogram, Errors, Percentiles, StatusClasses};

/// A loop busier than this was probably the bottleneck.
pub const BUSY_WARNING: f64 = 0.9;

/// What the report says about the run's set-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// The URL loaded.
    pub url: String,
    /// Connections over all loops.
    pub connections: usize,
    /// Client loops.
    pub loops: usize,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// The open-loop rate asked for; `None`: closed loop.
    pub rate: Option<f64>,
}

/// The requested and achieved open-loop rates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Rate {
    /// Requests per second asked for (`-R`).
    pub requested: f64,
    /// Requests per second sent during the measured window.
    pub achieved: f64,
}

/// One loop in the JSON report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopReport {
    /// Responses.
    pub requests: u64,
    /// Errors of every kind.
    pub errors: u64,
    /// Share of wall time spent running (not waiting for events).
    pub busy: f64,
    /// CPU time of the loop's thread, s.
    pub cpu_s: f64,
    /// p99 of the lag between a request's due time and its sending, µs
    /// (open loop).
    pub send_lag_p99_us: u64,
    /// The worst such lag, µs.
    pub send_lag_max_us: u64,
}

/// The whole report; its JSON keys are stable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub setup: Setup,
    pub requests: u64,
    pub errors: Errors,
    /// Why errors happened, with counts (at most 16 distinct reasons).
    #[serde(default)]
    pub error_reasons: std::collections::BTreeMap<String, u64>,
    pub status: StatusClasses,
    pub duration_s: f64,
    pub rps: f64,
    pub bytes: u64,
    pub latency_us: Percentiles,
    /// From actual send times; differs from `latency_us` in open loop.
    pub uncorrected_latency_us: Option<Percentiles>,
    pub rate: Option<Rate>,
    /// Requests sent but unanswered when the run ended.
    pub unfinished: u64,
    /// The client loops' CPU time, s.
    pub cpu_s: f64,
    pub per_loop: Vec<LoopReport>,
    /// The latency histogram, HdrHistogram V2, base64 (for `merge`).
    pub latency_hdr: String,
    /// The uncorrected one.
    pub uncorrected_latency_hdr: String,
}

impl Report {
    /// The report of `outcome`.
    pub fn new(setup: Setup, outcome: &Outcome) -> Self {
        let total = &outcome.total;
        let seconds = outcome.duration.as_secs_f64();
        let per_second = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        let open_loop = setup.rate.is_some();
        Report {
            requests: total.requests,
            errors: total.errors,
            error_reasons: total.reasons.clone(),
            status: total.status,
            duration_s: seconds,
            rps: per_second(total.requests),
            bytes: total.bytes,
            latency_us: Percentiles::of(&total.latency),
            uncorrected_latency_us: open_loop.then(|| Percentiles::of(&total.uncorrected)),
            rate: setup.rate.map(|requested| Rate {
                requested,
                achieved: per_second(total.sent),
            }),
            unfinished: total.unfinished,
            cpu_s: outcome.cpu_seconds,
            per_loop: outcome
                .per_loop
                .iter()
                .map(|l| {
                    let lag = Percentiles::of(&l.recorder.send_lag);
                    LoopReport {
                        requests: l.recorder.requests,
                        errors: l.recorder.errors.total(),
                        busy: l.busy,
                        cpu_s: l.cpu_seconds,
                        send_lag_p99_us: lag.p99,
                        send_lag_max_us: lag.max,
                    }
                })
                .collect(),
            latency_hdr: encode_histogram(&total.latency),
            uncorrected_latency_hdr: encode_histogram(&total.uncorrected),
            setup,
        }
    }

    /// True when some request succeeded (the exit status: failure only
    /// when nothing did).
    pub fn any_success(&self) -> bool {
        self.requests > self.errors.status
    }

    /// The wrk-like text report; with `percentiles`, the latency table.
    pub fn text(&self, percentiles: bool) -> String {
        let mut out = String::new();
        let s = &self.setup;
        let mode = match s.rate {
            Some(rate) => format!("open loop at {rate:.0} req/s"),
            None => "closed loop".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:.2}s test @ {}\n  {} loops, {} connections, {mode}, pipeline {}",
            self.duration_s, s.url, s.loops, s.connections, s.pipeline
        );
        let l = &self.latency_us;
        let _ = writeln!(
            out,
            "  Latency{}   mean {}   stdev {}   max {}",
            if s.rate.is_some() {
                " (from intended send)"
            } else {
                ""
            },
            micros(l.mean),
            micros(l.stdev),
            micros(l.max as f64)
        );
        if percentiles {
            let _ = writeln!(out, "  Latency distribution");
            let rows = [
                ("50%", l.p50),
                ("75%", l.p75),
                ("90%", l.p90),
                ("99%", l.p99),
                ("99.9%", l.p999),
                ("99.99%", l.p9999),
                ("100%", l.max),
            ];
            let uncorrected = self.uncorrected_latency_us;
            for (i, (label, value)) in rows.iter().enumerate() {
                let _ = write!(out, "  {label:>8}  {:>10}", micros(*value as f64));
                if let Some(u) = uncorrected {
                    let u = [u.p50, u.p75, u.p90, u.p99, u.p999, u.p9999, u.max][i];
                    let _ = write!(out, "   (uncorrected {:>10})", micros(u as f64));
                }
                out.push('\n');
            }
        }
        let _ = writeln!(
            out,
            "  {} requests in {:.2}s, {} read",
            self.requests,
            self.duration_s,
            bytes(self.bytes as f64)
        );
        let non_2xx = self.status.non_2xx();
        if non_2xx > 0 {
            let _ = writeln!(out, "  Non-2xx responses: {non_2xx}");
        }
        let e = &self.errors;
        if e.total() > 0 {
            let _ = writeln!(
                out,
                "  Errors: connect {}, read {}, write {}, timeout {}, status {}, parse {}",
                e.connect, e.read, e.write, e.timeout, e.status, e.parse
            );
            let mut reasons: Vec<_> = self.error_reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, count) in reasons {
                let _ = writeln!(out, "    {count:>8} x {reason}");
            }
        }
        if self.unfinished > 0 {
            let _ = writeln!(out, "  Unfinished at the end: {}", self.unfinished);
        }
        let _ = writeln!(out, "Requests/sec: {:>12.2}", self.rps);
        let _ = writeln!(
            out,
            "Transfer/sec: {:>12}",
            bytes(self.bytes as f64 / self.duration_s.max(1e-9))
        );
        if let Some(rate) = self.rate {
            let _ = writeln!(
                out,
                "Rate: {:.0} req/s requested, {:.0} sent",
                rate.requested, rate.achieved
            );
        }
        out.push_str(&self.generator_verdict());
        out
    }

    /// The generator's account of itself.
    fn generator_verdict(&self) -> String {
        let mut out = String::new();
        let busy: Vec<String> = self
            .per_loop
            .iter()
            .map(|l| format!("{:.0}%", l.busy * 100.0))
            .collect();
        let _ = writeln!(
            out,
            "Generator: {:.2}s CPU, loops busy {}",
            self.cpu_s,
            busy.join(" ")
        );
        if self.setup.rate.is_some() {
            let worst = self.per_loop.iter().map(|l| l.send_lag_max_us).max();
            let p99 = self.per_loop.iter().map(|l| l.send_lag_p99_us).max();
            let _ = writeln!(
                out,
                "  send lag behind schedule: p99 {} , max {} (worst loop)",
                micros(p99.unwrap_or(0) as f64),
                micros(worst.unwrap_or(0) as f64)
            );
        }
        let mut reasons = Vec::new();
        if let Some((index, l)) = self
            .per_loop
            .iter()
            .enumerate()
            .find(|(_, l)| l.busy >= BUSY_WARNING)
        {
            reasons.push(format!("loop {index} was {:.0}% busy", l.busy * 100.0));
        }
        if let Some(rate) = self.rate {
            if rate.achieved < rate.requested * 0.95 {
                reasons.push(format!(
                    "it sent {:.0} req/s of the {:.0} asked for",
                    rate.achieved, rate.requested
                ));
            }
        }
        if !reasons.is_empty() {
            let _ = writeln!(
                out,
                "WARNING: the generator may have been the bottleneck, not the server: {}",
                reasons.join("; ")
            );
        }
        out
    }
}

/// Microseconds as wrk prints durations.
fn micros(us: f64) -> String {
    let d = Duration::from_secs_f64(us.max(0.0) / 1e6);
    if us < 1_000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}
