//! The command line (`clap` derive), wrk's habits: `loadgen [OPTIONS]
//! <URL>`, and turning it into a [`Plan`] and a
//! [`Spread`], with a clear error for every bad
//! argument.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use loopcore::ConnectOptions;

use crate::client::Plan;
use crate::duration::parse_duration;
use crate::run::Spread;
use crate::target::{http_request, Scheme, Target};

/// loopcore's load generator: HTTP/1.1 (or raw TCP echo) load, closed loop
/// or open loop at a fixed rate with coordinated omission corrected, with
/// latency percentiles from HdrHistograms and an account of its own
/// limits.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "loadgen",
    version,
    about,
    long_about = None,
    after_help = "More: loadgen sweep --help (the highest rate within a latency objective), \
                  loadgen merge --help (combine reports of concurrent runs), \
                  loadgen tune --help (compare loop counts, pinning and balance modes)"
)]
pub struct Args {
    /// The target: http://host:port/path (port optional), https://..., or
    /// tcp://host:port (raw echo mode).
    pub url: String,
    /// Connections to keep open, over all loops.
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,
    /// Client loops (threads); default: the CPUs this process may use.
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// How long to measure (10s, 1m, 500ms); default 10s unless -n is given.
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Total requests per second: open loop, latency measured from when
    /// each request was due (coordinated omission corrected).
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// Stop after this many requests in total.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// An extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// The request method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// The request body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the request body from a file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// A request unanswered this long is an error (its latency is recorded
    /// as at least this).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Run this long before measuring (not recorded).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Print the latency percentile table.
    #[arg(long)]
    pub latency: bool,
    /// Write the result as JSON to this file (`-` for standard output,
    /// which then carries only the JSON).
    #[arg(long)]
    pub json: Option<String>,
    /// Open a new connection every N responses (connection churn).
    #[arg(long)]
    pub reconnect_every: Option<u64>,
    /// One request per connection, sent with `Connection: close`.
    #[arg(long, conflicts_with = "reconnect_every")]
    pub no_keepalive: bool,
    /// tcp:// mode: bytes per request (each expects as many back).
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// https://: trust the CA certificates in this PEM file (default: the
    /// system's store).
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// https://: accept any server certificate (DANGEROUS: no
    /// authentication; for self-signed test servers).
    #[arg(long, conflicts_with = "cacert")]
    pub insecure: bool,
    /// Pin client loop i to CPU LIST[i % len] (e.g. 2,3).
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<usize>,
    /// Wait until this wall-clock time before starting (Unix seconds, or
    /// HH:MM or HH:MM:SS UTC), so several instances begin together.
    #[arg(long, value_parser = crate::duration::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Write the latency-by-percentile chart to this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write an HdrHistogram interval log (one interval per second) here.
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
}

impl Args {
    /// Checks the arguments and builds the run.
    pub fn plan(&self) -> Result<(Plan, Spread, Target)> {
        let target = Target::parse(&self.url)?;
        if self.connections == 0 {
            bail!("--connections must be at least 1");
        }
        if self.pipeline == 0 {
            bail!("--pipeline must be at least 1");
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rate must be a positive number of requests per second, not {rate}");
            }
        }
        if self.requests == Some(0) {
            bail!("--requests must be at least 1");
        }
        if self.reconnect_every == Some(0) {
            bail!("--reconnect-every must be at least 1");
        }
        if self.timeout.is_zero() {
            bail!("--timeout must be positive");
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            bail!("--duration must be positive");
        }
        let loops = self
            .threads
            .unwrap_or_else(loopcore::available_cpus)
            .min(self.connections);
        if loops == 0 {
            bail!("--threads must be at least 1");
        }
        crate::limits::ensure_fds(self.connections)?;
        let body = match (&self.body, &self.body_file) {
            (Some(body), _) => body.clone().into_bytes(),
            (None, Some(path)) => std::fs::read(path)
                .with_context(|| format!("reading the body from {}", path.display()))?,
            (None, None) => Vec::new(),
        };
        let (request, echo) = match target.scheme {
            Scheme::Tcp => {
                if self.payload == 0 {
                    bail!("--payload must be at least 1 byte");
                }
                let payload = if body.is_empty() {
                    vec![b'x'; self.payload]
                } else {
                    body
                };
                (payload, true)
            }
            Scheme::Http | Scheme::Https => (
                http_request(
                    &target,
                    &self.method,
                    &self.headers,
                    &body,
                    self.no_keepalive,
                )?,
                false,
            ),
        };
        let mut connect = ConnectOptions::default();
        if target.scheme == Scheme::Https {
            let config = if self.insecure {
                loopcore::tls::dangerous::client_config_accepting_any_certificate(&[b"http/1.1"])?
            } else if let Some(ca) = &self.cacert {
                loopcore::tls::client_config_from_ca_pem(ca, &[b"http/1.1"])?
            } else {
                loopcore::tls::client_config_native_roots(&[b"http/1.1"])?
            };
            connect = connect.tls(config).server_hostname(target.host.clone());
        }
        let addrs = target.resolve()?;
        let duration = match (self.duration, self.requests) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        };
        let start = Instant::now();
        let measure_from = start + self.warmup;
        let stop_at = match duration {
            Some(d) => measure_from + d,
            // Until -n is done; a year stands in for "no limit".
            None => measure_from + Duration::from_secs(365 * 24 * 3600),
        };
        let plan = Plan {
            addrs,
            connect,
            request,
            head_request: self.method.eq_ignore_ascii_case("HEAD"),
            echo,
            pipeline: self.pipeline,
            rate: self.rate,
            connections: self.connections,
            reconnect_every: if self.no_keepalive {
                Some(1)
            } else {
                self.reconnect_every
            },
            timeout: self.timeout,
            measure_from,
            stop_at,
            start,
            interval_log: self.hdr_log.is_some(),
        };
        let spread = Spread {
            loops,
            cpus: self.cpus.clone(),
            requests: self.requests,
        };
        Ok((plan, spread, target))
    }
}
