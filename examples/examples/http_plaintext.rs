//! Run: `cargo run --release -p loopcore-examples --example http_plaintext -- --port 8080`
//! (options: `--loops N` (default: every CPU this process may use),
//! `--host ADDR` (default 127.0.0.1), `--balance reuseport|acceptor|incoming-cpu`,
//! `--pin`, `--admin-port P` for Prometheus metrics at `/metrics`), then
//! `curl http://127.0.0.1:8080/plaintext` or `wrk -t1 -c64 http://127.0.0.1:8080/plaintext`.
//!
//! The TechEmpower plaintext server (`loopcore_examples::plaintext`) on a
//! thread-per-core runtime. SIGINT/SIGTERM shut it down gracefully; it then
//! prints each loop's connections and requests, so imbalance is visible.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use loopcore::{Balance, Pinning, Runtime, RuntimeHandle, ServeOptions, ServerOptions};
use loopcore_examples::admin::Admin;
use loopcore_examples::plaintext::{self, Plaintext};

const USAGE: &str = "usage: http_plaintext [--host ADDR] [--port PORT] [--loops N] \
                     [--balance reuseport|acceptor|incoming-cpu] [--pin] [--admin-port PORT]";

struct Args {
    host: String,
    port: u16,
    loops: Option<usize>,
    balance: Balance,
    pin: bool,
    admin_port: Option<u16>,
}

fn parse_args() -> Result<Option<Args>, Box<dyn std::error::Error>> {
    let mut parsed = Args {
        host: "127.0.0.1".to_owned(),
        port: 8080,
        loops: None,
        balance: Balance::ReusePort,
        pin: false,
        admin_port: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => parsed.port = value("--port")?.parse()?,
            "--host" => parsed.host = value("--host")?,
            "--loops" => parsed.loops = Some(value("--loops")?.parse()?),
            "--admin-port" => parsed.admin_port = Some(value("--admin-port")?.parse()?),
            "--pin" => parsed.pin = true,
            "--balance" => {
                parsed.balance = match value("--balance")?.as_str() {
                    "reuseport" => Balance::ReusePort,
                    "acceptor" => Balance::Acceptor { accept_on: 0 },
                    "incoming-cpu" => Balance::IncomingCpu,
                    other => {
                        return Err(format!(
                            "unknown balance {other:?}: reuseport, acceptor or incoming-cpu"
                        )
                        .into())
                    }
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    Ok(Some(parsed))
}

/// What each loop reports when it stops: index, connections, requests.
type LoopReport = (usize, u64, u64);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let reports: Arc<Mutex<Vec<LoopReport>>> = Arc::default();
    let mut builder = Runtime::builder().thread_name("http");
    if let Some(loops) = args.loops {
        builder = builder.loops(loops);
    }
    if args.pin {
        builder = builder.pinning(Pinning::Cores);
    }
    let admin_port = args.admin_port;
    let host = args.host.clone();
    let stopped = reports.clone();
    let runtime = builder
        .on_loop_start(move |lp| {
            let (Some(port), Some(0)) = (admin_port, loopcore::current_loop_index()) else {
                return;
            };
            let runtime = RuntimeHandle::current().expect("a runtime loop");
            match lp.create_server((host.as_str(), port), ServerOptions::default(), move || {
                Admin::new(runtime.clone())
            }) {
                Ok(server) => println!("metrics at http://{}/metrics", server.sockets()[0]),
                Err(e) => eprintln!("http_plaintext: no admin server: {e}"),
            }
        })
        .on_loop_stop(move |lp| {
            let index = loopcore::current_loop_index().unwrap_or(0);
            let connections = lp.stats().connections_opened;
            let requests = plaintext::requests_answered_here();
            stopped.lock().unwrap().push((index, connections, requests));
        })
        .build()?;
    let options = ServeOptions::default().backlog(4096).balance(args.balance);
    let addrs = runtime.serve((args.host.as_str(), args.port), options, Plaintext::default)?;
    let loops = runtime.handles().len();
    for addr in &addrs {
        println!(
            "http_plaintext listening on {addr} ({loops} loops, {:?})",
            args.balance
        );
    }
    let result = runtime.run();
    print_reports(&mut reports.lock().unwrap());
    result?;
    Ok(())
}

fn print_reports(reports: &mut [LoopReport]) {
    reports.sort_unstable();
    let (mut connections, mut requests) = (0, 0);
    for &(index, c, r) in reports.iter() {
        println!("loop {index}: {c} connections, {r} requests");
        connections += c;
        requests += r;
    }
    println!("total: {connections} connections, {requests} requests");
    let counts: Vec<u64> = reports.iter().map(|r| r.2).collect();
    if let (Some(max), Some(min)) = (counts.iter().max(), counts.iter().min()) {
        if *min > 0 {
            println!(
                "requests max/min across loops: {:.2}",
                *max as f64 / *min as f64
            );
        }
    }
}
