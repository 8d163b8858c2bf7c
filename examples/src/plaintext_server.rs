//! The plaintext HTTP server's command line and main loop, shared by the
//! `http_plaintext` and `https_plaintext` examples: a runtime serving
//! [`Plaintext`] on every loop, an optional
//! admin port with Prometheus metrics, optional TLS, and per-loop counts
//! printed at shutdown.

use std::sync::{Arc, Mutex};

use loopcore::{Balance, Pinning, RuntimeHandle, ServeOptions, ServerOptions};

use crate::admin;
use crate::cli::{Cli, Flag, ServerArgs, Tls};
use crate::plaintext::{self, Plaintext, Timeouts};
use loopcore_loadgen::duration::parse_duration;

/// The plaintext server's own flags (the shared ones are [`ServerArgs`]).
struct Args {
    server: ServerArgs,
    balance: Balance,
    pin: bool,
    admin_port: Option<u16>,
    timeouts: Timeouts,
    max_connections: Option<usize>,
    shed_above: Option<usize>,
    listen_fds: bool,
    upgrade: bool,
    /// Join a port another process listens on (`ServeOptions::share_port`).
    share_port: bool,
}

/// The command line of `name`, TLS as `tls` says.
fn cli(name: &'static str, tls: Tls) -> Cli {
    Cli::new(name)
        .tls(tls)
        .flag(
            "[--balance reuseport|acceptor|incoming-cpu]",
            "how connections are spread over the loops (default reuseport)",
        )
        .flag("[--pin]", "pin loop i to the i-th CPU this process may use")
        .flag(
            "[--admin-port PORT]",
            "serve Prometheus metrics at http://HOST:PORT/metrics (0 picks a port)",
        )
        .flag(
            "[--header-timeout DURATION|off]",
            "how long a request head may take to arrive (default 30s)",
        )
        .flag(
            "[--idle-timeout DURATION|off]",
            "close a connection on which nothing moved for this long (default 60s)",
        )
        .flag(
            "[--max-connections N]",
            "stop accepting at N live connections per loop",
        )
        .flag(
            "[--shed-above N]",
            "answer 503 and close while more than N items of work wait on the loop",
        )
        .flag(
            "[--listen-fds]",
            "serve the sockets passed by systemd (LISTEN_PID/LISTEN_FDS); fail without them",
        )
        .flag(
            "[--upgrade-on-sigusr2]",
            "on SIGUSR2, start a successor with the listening sockets and drain",
        )
        .flag(
            "[--share-port]",
            "join a port another process listens on (SO_REUSEPORT)",
        )
}

fn parse_args(name: &'static str, tls: Tls) -> Result<Option<Args>, Box<dyn std::error::Error>> {
    let mut balance = Balance::ReusePort;
    let (mut pin, mut listen_fds, mut upgrade, mut share_port) = (false, false, false, false);
    let mut admin_port = None;
    let mut timeouts = Timeouts::default();
    let (mut max_connections, mut shed_above) = (None, None);
    let parsed = cli(name, tls).parse(|flag| {
        match flag.name() {
            "--admin-port" => admin_port = Some(flag.parse()?),
            "--pin" => pin = true,
            "--header-timeout" => timeouts.header = duration_or_off(flag)?,
            "--idle-timeout" => timeouts.idle = duration_or_off(flag)?,
            "--max-connections" => max_connections = Some(flag.parse()?),
            "--shed-above" => shed_above = Some(flag.parse()?),
            "--listen-fds" => listen_fds = true,
            "--upgrade-on-sigusr2" => upgrade = true,
            "--share-port" => share_port = true,
            "--balance" => {
                balance = match flag.value()?.as_str() {
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
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(parsed.map(|server| Args {
        server,
        balance,
        pin,
        admin_port,
        timeouts,
        max_connections,
        shed_above,
        listen_fds,
        upgrade,
        share_port,
    }))
}

/// The flag's value: a duration (`30s`, `500ms`), or `off` for none.
fn duration_or_off(flag: &mut Flag<'_>) -> Result<Option<std::time::Duration>, String> {
    let text = flag.value()?;
    if text == "off" {
        return Ok(None);
    }
    parse_duration(&text)
        .map(Some)
        .map_err(|e| format!("{} {text:?}: {e}", flag.name()))
}

/// What each loop reports when it stops: index, connections, requests.
type LoopReport = (usize, u64, u64);

/// Parses the command line and runs the server until SIGINT/SIGTERM:
/// `http_plaintext` (TLS with `--tls`) or, with `tls`, `https_plaintext`
/// (always TLS).
pub fn main(tls: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (name, tls) = if tls {
        ("https_plaintext", Tls::Always)
    } else {
        ("http_plaintext", Tls::Optional)
    };
    let Some(args) = parse_args(name, tls)? else {
        return Ok(());
    };
    let reports: Arc<Mutex<Vec<LoopReport>>> = Arc::default();
    // Header and idle timeouts over all loops.
    let timed_out: Arc<Mutex<(u64, u64)>> = Arc::default();
    let timeouts_seen = timed_out.clone();
    let mut builder = args.server.runtime_builder("http");
    if args.pin {
        builder = builder.pinning(Pinning::Cores);
    }
    if args.upgrade {
        builder = builder.upgrade_on_sigusr2(loopcore::Upgrade::new());
    }
    let admin_port = args.admin_port;
    let host = args.server.host.clone();
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
                Err(e) => eprintln!("{name}: no admin server: {e}"),
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
    let options = ServeOptions::default()
        .backlog(4096)
        .balance(args.balance)
        .share_port(args.share_port);
    let (mut options, generated_cert) = args.server.with_tls(options, &[b"http/1.1"])?;
    if let Some(ca) = generated_cert {
        println!(
            "serving a self-signed certificate for localhost and 127.0.0.1: curl --cacert {}",
            ca.display()
        );
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
        runtime.serve(args.server.addr(), options, factory)?
    };
    let loops = runtime.handles().len();
    let mut addrs = addrs;
    // Inherited SO_REUSEPORT sockets come one per loop, all on one address.
    addrs.dedup();
    for addr in &addrs {
        let name = if args.server.tls {
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
