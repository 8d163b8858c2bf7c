//! `loadgen tune`: for each combination of loops, pinning and balance
//! mode, start the user's server command, wait for its port, measure it
//! (closed loop; with `--slo`, a sweep too), read its CPU time and, with
//! `--metrics`, how evenly its loops shared the work, stop it, and print
//! one table. How a user finds the right per-core set-up for their own
//! hardware.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Serialize;

use crate::cli::Args;
use crate::commands::{self, SweepArgs};
use crate::sweep::{self, Slo};

/// How long a server may take to open its port.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// `loadgen tune`: measures a server command over loop counts, pinning
/// and balance modes. Placeholders in `--server`: `{loops}` (the count),
/// `{pin}` (`--pin` or nothing), `{balance}` (the mode's name).
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen tune", version, long_about = None)]
pub struct TuneArgs {
    /// The server command, run with `sh -c`, e.g.
    /// 'target/release/examples/http_plaintext --port 8080 --loops {loops} {pin} --balance {balance}'.
    #[arg(long)]
    pub server: String,
    /// Loop counts to try.
    #[arg(long = "loops", value_delimiter = ',', default_value = "1,2,4")]
    pub loop_counts: Vec<usize>,
    /// Pinning to try: on, off.
    #[arg(long, value_delimiter = ',', default_value = "off")]
    pub pin: Vec<String>,
    /// Balance modes to try (the server's names, e.g. reuseport,acceptor).
    #[arg(long, value_delimiter = ',')]
    pub balance: Vec<String>,
    /// Also sweep each set-up for the highest rate meeting this objective.
    #[arg(long, value_parser = sweep::parse_slo)]
    pub slo: Option<Slo>,
    /// The server's Prometheus metrics URL (http://host:port/metrics), for
    /// the per-loop spread.
    #[arg(long)]
    pub metrics: Option<String>,
    /// The per-loop counter whose max/min is the spread.
    #[arg(long, default_value = "loopcore_bytes_received_total")]
    pub spread_metric: String,
    /// Write the scaling chart (req/s by loops) to this SVG file.
    #[arg(long = "scaling-plot")]
    pub scaling_plot: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub load: Args,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct TuneRow {
    pub loops: usize,
    pub pin: bool,
    pub balance: Option<String>,
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The server's CPU time per request, µs.
    pub server_cpu_us_per_req: f64,
    /// max / min of the spread metric over the server's loops.
    pub spread: Option<f64>,
    /// With `--slo`: the highest rate meeting it.
    pub best_rate: Option<f64>,
    pub errors: u64,
}

/// Runs every combination; `progress` hears about each as it ends.
pub fn tune(args: &TuneArgs, mut progress: impl FnMut(&str)) -> Result<Vec<TuneRow>> {
    let pins: Vec<bool> = args
        .pin
        .iter()
        .map(|p| match p.as_str() {
            "on" => Ok(true),
            "off" => Ok(false),
            other => bail!("--pin takes on and off, not {other:?}"),
        })
        .collect::<Result<_>>()?;
    if args.loop_counts.contains(&0) {
        bail!("--loops: every count must be at least 1");
    }
    if args.server.contains("{balance}") && args.balance.is_empty() {
        bail!("--server has {{balance}}: give the modes with --balance");
    }
    let target = crate::target::Target::parse(&args.load.url)?;
    let port_addr = target
        .resolve()?
        .first()
        .copied()
        .context("the URL resolves to no address")?;
    let balances: Vec<Option<String>> = if args.balance.is_empty() {
        vec![None]
    } else {
        args.balance.iter().cloned().map(Some).collect()
    };
    let mut rows = Vec::new();
    for &loops in &args.loop_counts {
        for &pin in &pins {
            for balance in &balances {
                let command = args
                    .server
                    .replace("{loops}", &loops.to_string())
                    .replace("{pin}", if pin { "--pin" } else { "" })
                    .replace("{balance}", balance.as_deref().unwrap_or(""));
                let row = measure(args, &command, port_addr, loops, pin, balance.clone())?;
                progress(&format!(
                    "{loops} loops, pin {}, {}: {:.0} req/s",
                    if pin { "on" } else { "off" },
                    balance.as_deref().unwrap_or("-"),
                    row.rps
                ));
                rows.push(row);
            }
        }
    }
    if let Some(path) = &args.scaling_plot {
        crate::plot::scaling_chart(path, &rows)?;
    }
    Ok(rows)
}

/// Starts `command`, measures it, stops it.
fn measure(
    args: &TuneArgs,
    command: &str,
    addr: SocketAddr,
    loops: usize,
    pin: bool,
    balance: Option<String>,
) -> Result<TuneRow> {
    let server = Server::start(command, addr)?;
    let cpu_before = server.cpu_seconds();
    let report = commands::load(&args.load)?;
    let cpu = server.cpu_seconds() - cpu_before;
    let spread = match &args.metrics {
        Some(url) => Some(loop_spread(url, &args.spread_metric)?),
        None => None,
    };
    let best_rate = match args.slo {
        Some(slo) => {
            let sweep_args = SweepArgs {
                slo,
                tolerance: 0.05,
                max_steps: 8,
                load: args.load.clone(),
            };
            Some(commands::sweep(&sweep_args, |_| {})?.best_rate)
        }
        None => None,
    };
    server.stop()?;
    Ok(TuneRow {
        loops,
        pin,
        balance,
        rps: report.rps,
        p50_us: report.latency_us.p50,
        p99_us: report.latency_us.p99,
        server_cpu_us_per_req: cpu * 1e6 / report.requests.max(1) as f64,
        spread,
        best_rate,
        errors: report.errors.total(),
    })
}

/// The server under test.
struct Server {
    child: Child,
}

impl Server {
    fn start(command: &str, addr: SocketAddr) -> Result<Self> {
        // `exec` makes the server the child itself, so its pid is the one
        // whose CPU time is read and which gets SIGTERM.
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let mut server = Self { child };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server {command:?} exited ({status}) before listening on {addr}");
            }
            if Instant::now() > deadline {
                server.kill();
                bail!("the server {command:?} did not listen on {addr} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn cpu_seconds(&self) -> f64 {
        crate::run::cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    /// SIGTERM, then SIGKILL if it lingers.
    fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        Ok(())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// max / min over the loops of `metric` in the Prometheus text at `url`.
fn loop_spread(url: &str, metric: &str) -> Result<f64> {
    let text = http_get(url)?;
    let values: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with(metric) && line[metric.len()..].starts_with('{'))
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    let (min, max) = values
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if values.is_empty() {
        bail!("{url} has no {metric}{{loop=...}} series");
    }
    Ok(if min > 0.0 { max / min } else { f64::INFINITY })
}

/// A plain HTTP/1.1 GET of a small document.
fn http_get(url: &str) -> Result<String> {
    let target = crate::target::Target::parse(url)?;
    let addr = target.resolve()?[0];
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {url}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    )?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .with_context(|| format!("reading {url}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("{url} answered no HTTP"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("{url} answered {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_owned())
}

/// The table of rows.
pub fn table(rows: &[TuneRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5} {:>4} {:>10} {:>11} {:>9} {:>9} {:>13} {:>7} {:>11} {:>7}",
        "loops",
        "pin",
        "balance",
        "req/s",
        "p50",
        "p99",
        "server CPU/req",
        "spread",
        "best rate",
        "errors"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>5} {:>4} {:>10} {:>11.0} {:>9} {:>9} {:>13} {:>7} {:>11} {:>7}",
            r.loops,
            if r.pin { "on" } else { "off" },
            r.balance.as_deref().unwrap_or("-"),
            r.rps,
            format!("{}us", r.p50_us),
            format!("{}us", r.p99_us),
            format!("{:.2}us", r.server_cpu_us_per_req),
            r.spread.map_or("-".to_owned(), |s| format!("{s:.2}x")),
            r.best_rate.map_or("-".to_owned(), |b| format!("{b:.0}")),
            r.errors
        );
    }
    out
}
