//! What one loop measured ([`Recorder`]: latency histograms, counts,
//! errors by kind, status classes, its own send lag) and how loops' (and
//! machines') recordings merge into one. Histograms are HdrHistograms in
//! microseconds with 3 significant digits; they serialize losslessly (V2,
//! base64) so runs can be merged, not their percentiles averaged.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency recorded, in microseconds (one hour); longer ones
/// are recorded as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// Distinct error reasons kept; later new ones are counted under one key.
const MAX_REASONS: usize = 16;

/// The key under which reasons past [`MAX_REASONS`] are counted.
const OTHER_REASONS: &str = "(other reasons)";

/// Counts `count` errors of `reason` in `reasons`, keeping at most
/// 16 distinct ones (`MAX_REASONS`).
pub fn count_reason(reasons: &mut BTreeMap<String, u64>, reason: &str, count: u64) {
    if let Some(n) = reasons.get_mut(reason) {
        *n += count;
    } else if reasons.len() < MAX_REASONS {
        reasons.insert(reason.to_string(), count);
    } else {
        *reasons.entry(OTHER_REASONS.to_string()).or_default() += count;
    }
}

/// Errors by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    /// Connections that could not be opened (refused, unreachable, TLS
    /// handshake failed).
    pub connect: u64,
    /// Connections that failed or closed while a response was expected
    /// (reset, closed mid-response).
    pub read: u64,
    /// Requests that could not be written.
    pub write: u64,
    /// Requests not answered within `--timeout`.
    pub timeout: u64,
    /// Responses with a status of 400 or more (as wrk counts them).
    pub status: u64,
    /// Responses that did not parse as HTTP/1.1.
    pub parse: u64,
}

impl Errors {
    /// Every error.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status + self.parse
    }

    fn add(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.read += other.read;
        self.write += other.write;
        self.timeout += other.timeout;
        self.status += other.status;
        self.parse += other.parse;
    }
}

/// Responses by status class.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusClasses {
    /// 1xx (only 101 reaches here).
    pub informational: u64,
    /// 2xx.
    pub success: u64,
    /// 3xx.
    pub redirect: u64,
    /// 4xx.
    pub client_error: u64,
    /// 5xx.
    pub server_error: u64,
    /// Anything else.
    pub other: u64,
}

impl StatusClasses {
    fn count(&mut self, status: u16) {
        match status {
            100..=199 => self.informational += 1,
            200..=299 => self.success += 1,
            300..=399 => self.redirect += 1,
            400..=499 => self.client_error += 1,
            500..=599 => self.server_error += 1,
            _ => self.other += 1,
        }
    }

    /// Responses whose status was not 2xx.
    pub fn non_2xx(&self) -> u64 {
        self.informational + self.redirect + self.client_error + self.server_error + self.other
    }

    fn add(&mut self, other: &StatusClasses) {
        self.informational += other.informational;
        self.success += other.success;
        self.redirect += other.redirect;
        self.client_error += other.client_error;
        self.server_error += other.server_error;
        self.other += other.other;
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

fn micros(duration: Duration) -> u64 {
    (duration.as_micros() as u64).clamp(1, MAX_MICROS)
}

/// One loop's measurements.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latency from each request's intended send time (open loop) or its
    /// actual send time (closed loop).
    pub latency: Histogram<u64>,
    /// Latency from the actual send time (differs in open loop only).
    pub uncorrected: Histogram<u64>,
    /// How late the generator sent what fell due (open loop).
    pub send_lag: Histogram<u64>,
    /// Requests sent (after the warm-up).
    pub sent: u64,
    /// Responses received (errors of kind `status` included).
    pub requests: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Errors by kind.
    pub errors: Errors,
    /// Why connections failed ("connect: ...", "read: ..."), with counts:
    /// what a user needs to act on a column of errors.
    pub reasons: BTreeMap<String, u64>,
    /// Responses by status class.
    pub status: StatusClasses,
    /// Requests still unanswered when the run ended (not counted as
    /// errors or latencies).
    pub unfinished: u64,
    /// The latencies of the current second (`--hdr-log` only).
    pub interval: Option<Histogram<u64>>,
    /// Which second of the measured window `interval` is.
    pub interval_index: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            latency: histogram(),
            uncorrected: histogram(),
            send_lag: histogram(),
            sent: 0,
            requests: 0,
            bytes: 0,
            errors: Errors::default(),
            reasons: BTreeMap::new(),
            status: StatusClasses::default(),
            unfinished: 0,
            interval: None,
            interval_index: 0,
        }
    }
}

impl Recorder {
    /// A recorder that also keeps per-second histograms (`--hdr-log`).
    pub fn with_intervals() -> Self {
        Self {
            interval: Some(histogram()),
            ..Self::default()
        }
    }

    /// The current second's histogram, replaced by an empty one; `None`
    /// without interval logging.
    pub fn take_interval(&mut self) -> Option<Histogram<u64>> {
        let current = self.interval.as_mut()?;
        Some(std::mem::replace(current, histogram()))
    }

    fn record_latency(&mut self, corrected: Duration) {
        let us = micros(corrected);
        self.latency.saturating_record(us);
        if let Some(interval) = self.interval.as_mut() {
            interval.saturating_record(us);
        }
    }

    /// Records an answered request.
    pub fn response(&mut self, status: u16, corrected: Duration, uncorrected: Duration) {
        self.requests += 1;
        self.record_latency(corrected);
        self.uncorrected.saturating_record(micros(uncorrected));
        if status != 0 {
            self.status.count(status);
            if status >= 400 {
                self.errors.status += 1;
            }
        }
    }

    /// Records a request that timed out: an error whose latency is at
    /// least the timeout.
    pub fn timed_out(&mut self, corrected: Duration, uncorrected: Duration) {
        self.errors.timeout += 1;
        self.record_latency(corrected);
        self.uncorrected.saturating_record(micros(uncorrected));
    }

    /// Records why `count` errors of `kind` (connect, read, write, parse)
    /// happened.
    pub fn reason(&mut self, kind: &str, why: impl std::fmt::Display, count: u64) {
        count_reason(&mut self.reasons, &format!("{kind}: {why}"), count);
    }

    /// Records how late a due request left.
    pub fn lag(&mut self, lag: Duration) {
        self.send_lag.saturating_record(micros(lag));
    }

    /// Adds another recording to this one.
    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.uncorrected.add(&other.uncorrected);
        let _ = self.send_lag.add(&other.send_lag);
        self.sent += other.sent;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.errors.add(&other.errors);
        for (reason, &count) in &other.reasons {
            count_reason(&mut self.reasons, reason, count);
        }
        self.status.add(&other.status);
        self.unfinished += other.unfinished;
    }
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl Percentiles {
    /// The summary of `histogram` (all zero when it is empty).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self {
                min: 0,
                mean: 0.0,
                stdev: 0.0,
                p50: 0,
                p75: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                p9999: 0,
                max: 0,
            };
        }
        let at = |q: f64| histogram.value_at_quantile(q);
        Self {
            min: histogram.min(),
            mean: histogram.mean(),
            stdev: histogram.stdev(),
            p50: at(0.5),
            p75: at(0.75),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            p9999: at(0.9999),
            max: histogram.max(),
        }
    }
}

/// A histogram as HdrHistogram's V2 encoding in base64.
pub fn encode_histogram(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`encode_histogram`].
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("a histogram that is not base64")?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("a histogram that does not decode: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_two_recordings_equals_recording_everything_in_one() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        let mut both = Recorder::default();
        for i in 1..=1000u64 {
            let d = Duration::from_micros(i * 7);
            let r = if i % 3 == 0 { &mut a } else { &mut b };
            r.response(200, d, d / 2);
            both.response(200, d, d / 2);
        }
        b.response(503, Duration::from_millis(1), Duration::from_millis(1));
        both.response(503, Duration::from_millis(1), Duration::from_millis(1));
        a.merge(&b);
        assert_eq!(a.requests, 1001);
        assert_eq!(a.errors.status, 1);
        assert_eq!(a.status.server_error, 1);
        assert_eq!(Percentiles::of(&a.latency), Percentiles::of(&both.latency));
        let round_trip = decode_histogram(&encode_histogram(&a.latency)).unwrap();
        assert_eq!(round_trip, a.latency);
    }
}
