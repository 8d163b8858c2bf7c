//! `http_plaintext --loops 2`, the example binary, against real clients:
//! curl and wrk, with per-loop counts at shutdown; and SIGTERM in the
//! middle of a load of 64 connections with requests in flight: no response
//! is truncated, every request the server read is answered, and the
//! process exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{
    self, have, report_totals, signal, start_example, wait_with_timeout, wrk_requests,
};

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: test\r\n\r\n";
const CONNECTIONS: usize = 64;
/// Requests each client keeps in flight.
const DEPTH: usize = 2;

/// What one client saw.
#[derive(Default, Debug)]
struct Outcome {
    complete: u64,
    truncated: bool,
    saw_connection_close: bool,
}

/// Reads one response; `None` at a clean EOF before its first byte.
fn read_response(reader: &mut BufReader<TcpStream>, outcome: &mut Outcome) -> Option<()> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                if !head.is_empty() || !line.is_empty() {
                    outcome.truncated = true;
                }
                return None;
            }
            Ok(_) => {}
        }
        let end = line == b"\r\n";
        head.extend_from_slice(&line);
        if end {
            break;
        }
    }
    let head = String::from_utf8(head).expect("an ASCII head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        outcome.truncated = true;
        return None;
    }
    assert_eq!(body, b"Hello, World!");
    outcome.complete += 1;
    if head.contains("Connection: close") {
        outcome.saw_connection_close = true;
    }
    Some(())
}

/// Keeps `DEPTH` requests in flight until the server closes.
fn client(addr: SocketAddr, started: Arc<AtomicBool>) -> Outcome {
    let mut outcome = Outcome::default();
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return outcome;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..DEPTH {
        if stream.write_all(REQUEST).is_err() {
            return outcome;
        }
    }
    started.store(true, Ordering::Relaxed);
    loop {
        if read_response(&mut reader, &mut outcome).is_none() || outcome.saw_connection_close {
            // After `Connection: close` the server sends nothing more.
            if outcome.saw_connection_close {
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
                if !rest.is_empty() {
                    outcome.truncated = true;
                }
            }
            return outcome;
        }
        // Replace the answered request; the server may have closed already.
        if stream.write_all(REQUEST).is_err() {
            // Drain what is still on its way.
            while read_response(&mut reader, &mut outcome).is_some() {}
            return outcome;
        }
    }
}

#[test]
fn sigterm_under_load_loses_no_response_and_exits_zero() {
    let _heavy = common::heavy();
    let (mut child, addr, mut stdout) =
        start_example("http_plaintext", &["--loops", "2", "--port", "0"]);
    let started = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let started = started.clone();
            std::thread::spawn(move || client(addr, started))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "no client connected");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    let outcomes: Vec<Outcome> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(status.success(), "exit status {status}");
    let mut report = String::new();
    stdout.read_to_string(&mut report).unwrap();
    let (_, served) = report_totals(&report);
    let loops_reported = report.lines().filter(|l| l.starts_with("loop ")).count();
    assert_eq!(loops_reported, 2, "per-loop counts printed: {report}");
    assert!(
        outcomes.iter().all(|o| !o.truncated),
        "no truncated response: {outcomes:?}"
    );
    let received: u64 = outcomes.iter().map(|o| o.complete).sum();
    assert!(
        received > CONNECTIONS as u64,
        "the load ran ({received} responses)"
    );
    assert_eq!(
        received, served,
        "every request the server answered reached its client"
    );
    assert!(
        outcomes.iter().any(|o| o.saw_connection_close),
        "requests in flight at shutdown are answered with Connection: close"
    );
}

#[test]
fn two_loops_serve_curl_and_wrk_and_report_per_loop_counts() {
    let _heavy = common::heavy();
    if !have("curl") || !have("wrk") {
        return;
    }
    let (mut child, addr, mut stdout) =
        start_example("http_plaintext", &["--loops", "2", "--port", "0"]);
    let curl = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://{addr}/plaintext"))
        .output()
        .unwrap();
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert_eq!(curl.stdout, b"Hello, World!");
    let wrk = Command::new("wrk")
        .args(["-t2", "-c32", "-d1s"])
        .arg(format!("http://{addr}/plaintext"))
        .output()
        .unwrap();
    let wrk_report = String::from_utf8_lossy(&wrk.stdout).into_owned();
    assert!(wrk.status.success(), "{wrk_report}");
    assert!(!wrk_report.contains("Socket errors"), "{wrk_report}");
    let wrk_count = wrk_requests(&wrk_report);
    signal(&child, libc::SIGTERM);
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
    let mut report = String::new();
    stdout.read_to_string(&mut report).unwrap();
    let per_loop: Vec<&str> = report.lines().filter(|l| l.starts_with("loop ")).collect();
    assert_eq!(per_loop.len(), 2, "{report}");
    let (connections, requests) = report_totals(&report);
    assert!(connections >= 33, "curl's and wrk's connections: {report}");
    // wrk counts the responses that arrived within its window; the server
    // answered those and the ones still in flight when wrk stopped.
    assert!(
        requests > wrk_count,
        "{requests} served, wrk saw {wrk_count}"
    );
}

/// A second `http_plaintext` on the port the first one serves does not
/// join its SO_REUSEPORT group (the kernel would split the connections
/// between the two): it exits non-zero with one line saying the port is in
/// use, and the first keeps serving. `--share-port` joins on purpose.
#[test]
fn a_second_server_on_a_port_in_use_exits_with_one_line() {
    let (first, addr, _stdout) = start_example("http_plaintext", &["--loops", "2", "--port", "0"]);
    // Killed if an assertion fails first.
    let mut first = common::KillOnDrop(first);
    let port = addr.port().to_string();
    let second = Command::new(common::example("http_plaintext"))
        .args(["--loops", "2", "--port", &port])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "the second server must not start: {second:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(
        stderr.starts_with("http_plaintext: ") && stderr.contains("in use"),
        "says the port is in use: {stderr:?}"
    );
    let mut shared = Command::new(common::example("http_plaintext"))
        .args(["--loops", "1", "--port", &port, "--share-port"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kept open until it exits: its shutdown report goes there.
    let mut shared_stdout = BufReader::new(shared.stdout.take().unwrap());
    let mut line = String::new();
    shared_stdout.read_line(&mut line).unwrap();
    assert!(
        line.contains("listening on"),
        "--share-port joins: {line:?}"
    );
    // Killed: its signal handlers may not be installed yet this early.
    shared.kill().unwrap();
    wait_with_timeout(&mut shared, Duration::from_secs(10));
    drop(shared_stdout);
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(REQUEST).unwrap();
    let mut answer = [0u8; 12];
    client.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    signal(&first.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut first.0, Duration::from_secs(10)).success());
}

/// The admin port serves the metrics through the same HTTP/1 driver as
/// the public one: `/metrics` in the Prometheus format, `404` elsewhere,
/// `400` without `Host`.
#[test]
fn the_admin_port_serves_metrics_through_the_http1_driver() {
    let (mut child, _addr, lines, mut stdout) = common::start_example_with_lines(
        "http_plaintext",
        &["--loops", "1", "--port", "0", "--admin-port", "0"],
    );
    let mut seen = lines.join("");
    while !seen.contains("metrics at") {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no admin line: {seen}"
        );
        seen.push_str(&line);
    }
    let admin: SocketAddr = seen
        .split("metrics at http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no admin address in {seen:?}"));
    let exchange = |request: &[u8]| {
        let mut stream = TcpStream::connect(admin).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    let metrics = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("loopcore_header_timeouts_total"),
        "{metrics}"
    );
    let other = exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    let no_host = exchange(b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    signal(&child, libc::SIGTERM);
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    drop(stdout);
    assert!(status.success());
}
