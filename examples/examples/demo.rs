//! Run: `cargo run --release -p loopcore-examples --example demo [-- LOOPS SECONDS CONNECTIONS]`
//! (defaults: every CPU this process may use, 3 s, 64 connections).
//!
//! The main job until the bundled load generator lands: the plaintext HTTP
//! server (`loopcore_examples::plaintext`) on a runtime with one loop per
//! CPU, driven by a closed-loop HTTP client on a second runtime with as many
//! loops (each connection sends a request as soon as the previous answer
//! is in), then a latency report per client loop and the requests each
//! server loop answered. Client and server share the machine, so the
//! figures are a demonstration, not a benchmark (see `docs/benchmarks.md`).
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopcore::http1::parse_response;
use loopcore::{EventLoop, Protocol, Runtime, ServeOptions, Transport};
use loopcore_examples::plaintext::{self, Plaintext};

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: demo\r\n\r\n";

/// Each client loop's latencies, by loop index.
type LatencyReports = Arc<Mutex<Vec<(usize, Vec<Duration>)>>>;

thread_local! {
    /// Response latencies measured on this client loop.
    static LATENCIES: RefCell<Vec<Duration>> = const { RefCell::new(Vec::new()) };
}

/// One client connection: a request, its response, the next request.
struct Client {
    transport: Option<Transport>,
    sent_at: Instant,
    until: Instant,
    received: Vec<u8>,
}

impl Client {
    fn send(&mut self) {
        if let Some(transport) = &self.transport {
            self.sent_at = Instant::now();
            let _ = transport.write(REQUEST);
        }
    }
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
        self.send();
    }

    fn data_received(&mut self, data: &[u8]) {
        self.received.extend_from_slice(data);
        loop {
            match parse_response(&self.received) {
                Ok(Some((response, used))) => {
                    self.received.drain(..used);
                    let latency = self.sent_at.elapsed();
                    if response.status == 200 {
                        LATENCIES.with(|l| l.borrow_mut().push(latency));
                    }
                    if Instant::now() < self.until && response.keep_alive {
                        self.send();
                    } else if let Some(transport) = &self.transport {
                        transport.close();
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    eprintln!("demo client: {e}");
                    if let Some(transport) = &self.transport {
                        transport.abort();
                    }
                    return;
                }
            }
        }
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn describe(label: &str, mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    format!(
        "{label:>8} {:>9} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}",
        samples.len(),
        percentile(&samples, 0.0),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        percentile(&samples, 1.0),
    )
}

fn arg<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    default: T,
) -> Result<T, Box<dyn std::error::Error>>
where
    T::Err: std::error::Error + 'static,
{
    Ok(match args.next() {
        Some(value) => value.parse()?,
        None => default,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let loops: usize = arg(&mut args, loopcore::available_cpus())?;
    let seconds: f64 = arg(&mut args, 3.0)?;
    let connections: usize = arg(&mut args, 64)?;
    if loops == 0 || connections == 0 || seconds <= 0.0 {
        return Err("LOOPS, SECONDS and CONNECTIONS must be positive".into());
    }
    let duration = Duration::from_secs_f64(seconds);
    println!(
        "loopcore demo: HTTP plaintext on {loops} loops, {connections} client connections \
         from {loops} more loops, {duration:?}"
    );

    let answered: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let reports = answered.clone();
    let server = Runtime::builder()
        .loops(loops)
        .thread_name("server")
        .handle_signals(false)
        .on_loop_stop(move |_| {
            let index = loopcore::current_loop_index().unwrap_or(0);
            let requests = plaintext::requests_answered_here();
            reports.lock().unwrap().push((index, requests));
        })
        .build()?;
    let addr = server.serve("127.0.0.1:0", ServeOptions::default(), Plaintext::default)?[0];

    let latencies: LatencyReports = Arc::default();
    let collected = latencies.clone();
    let until = Instant::now() + duration;
    let client = Runtime::builder()
        .loops(loops)
        .thread_name("client")
        .handle_signals(false)
        .on_loop_start(move |lp| {
            let index = loopcore::current_loop_index().unwrap_or(0);
            // Spread the connections: loop i opens every loops-th one.
            for _ in (index..connections).step_by(loops) {
                let lp2 = lp.clone();
                lp.spawn(async move {
                    let probe = Client {
                        transport: None,
                        sent_at: Instant::now(),
                        until,
                        received: Vec::new(),
                    };
                    if let Err(e) = lp2.create_connection(addr.to_string(), probe).await {
                        eprintln!("demo client: {e}");
                    }
                })
                .detach();
            }
        })
        .on_loop_stop(move |_: &EventLoop| {
            let index = loopcore::current_loop_index().unwrap_or(0);
            let samples = LATENCIES.with(|l| std::mem::take(&mut *l.borrow_mut()));
            collected.lock().unwrap().push((index, samples));
        })
        .build()?;
    let started = Instant::now();
    std::thread::sleep(duration);
    // Connections close after their last answer; give stragglers a second.
    client.shutdown(Duration::from_secs(1));
    client.run()?;
    let elapsed = started.elapsed().min(duration + Duration::from_millis(100));
    let server_stats = server.stats();
    server.shutdown(Duration::from_secs(1));
    server.run()?;

    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort_by_key(|(index, _)| *index);
    println!(
        "{:>8} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "client", "requests", "min", "p50", "p99", "p99.9", "max"
    );
    let mut all = Vec::new();
    for (index, samples) in &latencies {
        println!("{}", describe(&format!("loop {index}"), samples.clone()));
        all.extend_from_slice(samples);
    }
    let total = all.len();
    println!("{}", describe("all", all));
    println!(
        "{total} requests in {elapsed:.2?}: {:.0} requests/s",
        total as f64 / elapsed.as_secs_f64()
    );
    let mut answered = answered.lock().unwrap().clone();
    answered.sort_unstable();
    for (index, requests) in answered {
        let stats = &server_stats.per_loop[index];
        println!(
            "server loop {index}: {} connections, {requests} requests, {:.0}% busy",
            stats.connections_opened,
            100.0 * stats.busy_ns as f64 / (stats.busy_ns + stats.poll_wait_ns).max(1) as f64
        );
    }
    if total == 0 {
        return Err("no request was answered".into());
    }
    Ok(())
}
