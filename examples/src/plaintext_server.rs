//! The plaintext HTTP server's command line and main loop, shared by the
//! `http_plaintext` and `https_plaintext` examples: a runtime serving
//! [`Plaintext`] on every loop, an optional
//! admin port with Prometheus metrics, optional TLS, and per-loop counts
//! printed at shutdown.

use std::sync::{Arc, Mutex};

use loopcore::{Balance, Pinning, Runtime, RuntimeHandle, ServeOptions, ServerOptions};

use crate::admin;
use crate::plaintext::{self, Plaintext, Timeouts};
use loopcore_loadgen::duration::parse_duration;

const USAGE: &str = "usage: [--host ADDR] [--port PORT] [--loops N] \
                     [--balance reuseport|acceptor|incoming-cpu] [--pin] [--admin-port PORT] \
                     [--header-timeout DURATION|off] [--idle-timeout DURATION|off] \
                     [--max-connections N] [--shed-above N] [--listen-fds] [--upgrade-on-sigusr2] [--share-port] \
                     [--tls] [--cert PEM --key PEM]";

struct Args {
    host: String,
    port: u16,
    loops: Option<usize>,
    balance: Balance,
    pin: bool,
    admin_port: Option<u16>,
    tls: bool,
    cert: Option<String>,
    key: Option<String>,
    timeouts: Timeouts,
    max_connections: Option<usize>,
    shed_above: Option<usize>,
    listen_fds: bool,
    upgrade: bool,
    /// Join a port another process listens on (`ServeOptions::share_port`).
    share_port: bool,
}

fn parse_args(tls: bool) -> Result<Option<Args>, Box<dyn std::error::Error>> {
    let mut parsed = Args {
        host: "127.0.0.1".to_owned(),
        port: 8080,
        loops: None,
        balance: Balance::ReusePort,
        pin: false,
        admin_port: None,
        tls,
        cert: None,
        key: None,
        timeouts: Timeouts::default(),
        max_connections: None,
        shed_above: None,
        listen_fds: false,
        upgrade: false,
        share_port: false,
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
            "--header-timeout" => {
                parsed.timeouts.header = duration_or_off(&value("--header-timeout")?)?
            }
            "--idle-timeout" => parsed.timeouts.idle = duration_or_off(&value("--idle-timeout")?)?,
            "--max-connections" => {
                parsed.max_connections = Some(value("--max-connections")?.parse()?)
            }
            "--shed-above" => parsed.shed_above = Some(value("--shed-above")?.parse()?),
            "--listen-fds" => parsed.listen_fds = true,
            "--upgrade-on-sigusr2" => parsed.upgrade = true,
            "--share-port" => parsed.share_port = true,
            "--tls" => parsed.tls = true,
            "--cert" => parsed.cert = Some(value("--cert")?),
            "--key" => parsed.key = Some(value("--key")?),
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

/// A duration (`30s`, `500ms`), or `off` for none.
fn duration_or_off(text: &str) -> Result<Option<std::time::Duration>, Box<dyn std::error::Error>> {
    if text == "off" {
        return Ok(None);
    }
    Ok(Some(parse_duration(text)?))
}

/// What each loop reports when it stops: index, connections, requests.
type LoopReport = (usize, u64, u64);

/// Parses the command line and runs the server until SIGINT/SIGTERM;
/// `tls` is the default of `--tls` (`https_plaintext` turns it on).
pub fn main(tls: bool) -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = parse_args(tls)? else {
        return Ok(());
    };
    let identity = if args.tls {
        let identity =
            crate::tls::identity(args.cert.as_deref(), args.key.as_deref(), &[b"http/1.1"])?;
        if let Some(ca) = &identity.generated_cert {
            println!(
                "serving a self-signed certificate for localhost and 127.0.0.1: curl --cacert {}",
                ca.display()
            );
        }
        Some(identity.config)
    } else {
        None
    };
    let reports: Arc<Mutex<Vec<LoopReport>>> = Arc::default();
    // Header and idle timeouts over all loops.
    let timed_out: Arc<Mutex<(u64, u64)>> = Arc::default();
    let timeouts_seen = timed_out.clone();
    let mut builder = Runtime::builder().thread_name("http");
    if let Some(loops) = args.loops {
        builder = builder.loops(loops);
    }
    if args.pin {
        builder = builder.pinning(Pinning::Cores);
    }
    if args.upgrade {
        builder = builder.upgrade_on_sigusr2(loopcore::Upgrade::new());
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
                admin::connection(runtime.clone())
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
            let mut seen = timeouts_seen.lock().unwrap();
            seen.0 += lp.stats().header_timeouts;
            seen.1 += lp.stats().idle_timeouts;
        })
        .build()?;
    let mut options = ServeOptions::default()
        .backlog(4096)
        .balance(args.balance)
        .share_port(args.share_port);
    if let Some(config) = identity {
        options = options.tls(config);
    }
    if let Some(max) = args.max_connections {
        options = options.max_connections(max);
    }
    let (timeouts, shed_above) = (args.timeouts, args.shed_above);
    let factory = move || {
        let options = loopcore::http1::Http1Options::default().timeouts(timeouts);
        Plaintext::with_options(match shed_above {
            Some(pending) => options.shed_above(pending),
            None => options,
        })
    };
    // Sockets systemd or a restart's predecessor passed are served instead
    // of binding (a successor runs with the same arguments, so this is not
    // only under --listen-fds).
    let listeners: Vec<std::net::TcpListener> = loopcore::listen_fds()?
        .into_iter()
        .map(std::net::TcpListener::from)
        .collect();
    let addrs = if !listeners.is_empty() {
        runtime.serve_listeners(listeners, options, factory)?
    } else if args.listen_fds {
        return Err("--listen-fds: no sockets were passed (LISTEN_PID/LISTEN_FDS)".into());
    } else {
        runtime.serve((args.host.as_str(), args.port), options, factory)?
    };
    let loops = runtime.handles().len();
    let mut addrs = addrs;
    // Inherited SO_REUSEPORT sockets come one per loop, all on one address.
    addrs.dedup();
    for addr in &addrs {
        let name = if args.tls {
            "https_plaintext"
        } else {
            "http_plaintext"
        };
        println!(
            "{name} listening on {addr} ({loops} loops, {:?}) pid {}",
            args.balance,
            std::process::id()
        );
    }
    // A restart's predecessor drains once we say so; systemd's Type=notify
    // units start their dependents.
    loopcore::notify_ready()?;
    let result = runtime.run();
    print_reports(&mut reports.lock().unwrap());
    let (header, idle) = *timed_out.lock().unwrap();
    println!("timeouts: {header} header, {idle} idle");
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
