//! `loadgen merge`: reports of runs made at the same time (from several
//! client machines, or several processes) combined into one. Counts add
//! up; latencies are combined from the serialized histograms each report
//! carries, never by averaging percentiles, so the merge is exact.

use anyhow::{bail, Context, Result};

use crate::report::{Rate, Report, Setup};
use crate::stats::{decode_histogram, encode_histogram, Percentiles};

/// Reads a JSON report written by `loadgen --json`.
pub fn read_report(path: &str) -> Result<Report> {
    let text = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    serde_json::from_slice(&text).with_context(|| format!("{path} is not a loadgen JSON report"))
}

/// Combines reports of concurrent runs: requests, errors, bytes, CPU and
/// rates add up; requests per second are the sum of each run's; the
/// duration is the longest; latency percentiles come from the summed
/// histograms.
pub fn merge(reports: &[Report]) -> Result<Report> {
    let Some(first) = reports.first() else {
        bail!("nothing to merge: give at least one report");
    };
    let mut latency = decode_histogram(&first.latency_hdr)?;
    let mut uncorrected = decode_histogram(&first.uncorrected_latency_hdr)?;
    for report in &reports[1..] {
        latency
            .add(decode_histogram(&report.latency_hdr)?)
            .map_err(|e| anyhow::anyhow!("histograms that do not add up: {e:?}"))?;
        uncorrected
            .add(decode_histogram(&report.uncorrected_latency_hdr)?)
            .map_err(|e| anyhow::anyhow!("histograms that do not add up: {e:?}"))?;
    }
    let open_loop = reports.iter().all(|r| r.setup.rate.is_some());
    let same_url = reports.iter().all(|r| r.setup.url == first.setup.url);
    let sum = |f: &dyn Fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    let sum_f = |f: &dyn Fn(&Report) -> f64| reports.iter().map(f).sum::<f64>();
    let mut errors = first.errors;
    let mut error_reasons = first.error_reasons.clone();
    let mut status = first.status;
    for report in &reports[1..] {
        for (reason, &count) in &report.error_reasons {
            crate::stats::count_reason(&mut error_reasons, reason, count);
        }
        errors.connect += report.errors.connect;
        errors.read += report.errors.read;
        errors.write += report.errors.write;
        errors.timeout += report.errors.timeout;
        errors.status += report.errors.status;
        errors.parse += report.errors.parse;
        status.informational += report.status.informational;
        status.success += report.status.success;
        status.redirect += report.status.redirect;
        status.client_error += report.status.client_error;
        status.server_error += report.status.server_error;
        status.other += report.status.other;
    }
    Ok(Report {
        setup: Setup {
            url: if same_url {
                first.setup.url.clone()
            } else {
                format!("{} URLs", reports.len())
            },
            connections: reports.iter().map(|r| r.setup.connections).sum(),
            loops: reports.iter().map(|r| r.setup.loops).sum(),
            pipeline: first.setup.pipeline,
            rate: open_loop.then(|| sum_f(&|r| r.setup.rate.unwrap_or(0.0))),
        },
        requests: sum(&|r| r.requests),
        errors,
        error_reasons,
        status,
        duration_s: reports.iter().map(|r| r.duration_s).fold(0.0, f64::max),
        rps: sum_f(&|r| r.rps),
        bytes: sum(&|r| r.bytes),
        latency_us: Percentiles::of(&latency),
        uncorrected_latency_us: open_loop.then(|| Percentiles::of(&uncorrected)),
        rate: open_loop.then(|| Rate {
            requested: sum_f(&|r| r.rate.map_or(0.0, |x| x.requested)),
            achieved: sum_f(&|r| r.rate.map_or(0.0, |x| x.achieved)),
        }),
        unfinished: sum(&|r| r.unfinished),
        cpu_s: sum_f(&|r| r.cpu_s),
        per_loop: reports.iter().flat_map(|r| r.per_loop.clone()).collect(),
        latency_hdr: encode_histogram(&latency),
        uncorrected_latency_hdr: encode_histogram(&uncorrected),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::run::{LoopOutcome, Outcome};
    use crate::stats::Recorder;

    fn report(recorder: &Recorder) -> Report {
        let outcome = Outcome {
            total: recorder.clone(),
            per_loop: vec![LoopOutcome {
                recorder: recorder.clone(),
                busy: 0.5,
                cpu_seconds: 1.0,
            }],
            duration: Duration::from_secs(2),
            cpu_seconds: 1.0,
            intervals: Default::default(),
        };
        let setup = Setup {
            url: "http://127.0.0.1:1/".to_owned(),
            connections: 8,
            loops: 1,
            pipeline: 1,
            rate: None,
        };
        Report::new(setup, &outcome)
    }

    #[test]
    fn merging_reports_is_exact() {
        let (mut a, mut b, mut all) = (
            Recorder::default(),
            Recorder::default(),
            Recorder::default(),
        );
        for i in 1..=2000u64 {
            let latency = Duration::from_micros(i * i % 9973 + 1);
            let target = if i % 4 == 0 { &mut a } else { &mut b };
            target.response(200, latency, latency);
            all.response(200, latency, latency);
        }
        // Through JSON, as files between machines would carry them.
        let through_json = |r: Report| -> Report {
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap()
        };
        let merged = merge(&[through_json(report(&a)), through_json(report(&b))]).unwrap();
        assert_eq!(merged.requests, 2000);
        assert_eq!(merged.latency_us, report(&all).latency_us);
        assert_eq!(merged.setup.connections, 16);
        assert_eq!(merged.per_loop.len(), 2);
        assert!((merged.rps - 1000.0).abs() < 1e-6, "{}", merged.rps);
    }
}
