//! SIGTERM to `http_plaintext --loops 2` in the middle of a load of 64
//! connections with requests in flight: no response is truncated, every
//! request the server read is answered, and the process exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: test\r\n\r\n";
const CONNECTIONS: usize = 64;
/// Requests each client keeps in flight.
const DEPTH: usize = 2;

/// The example binary `cargo test` built next to this test.
fn example(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join(name)
}

/// Starts the server and reads the address it printed.
fn start_server(args: &[&str]) -> (Child, SocketAddr, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(example("http_plaintext"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the http_plaintext example is built by `cargo test`");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|word| word.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr, stdout)
}

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

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_under_load_loses_no_response_and_exits_zero() {
    let (mut child, addr, mut stdout) = start_server(&["--loops", "2", "--port", "0"]);
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
    // SAFETY: kill(2) with a valid signal on our own child's pid.
    let killed = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(killed, 0);
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    let outcomes: Vec<Outcome> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(status.success(), "exit status {status}");
    let mut report = String::new();
    stdout.read_to_string(&mut report).unwrap();
    let served: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("total: "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|r| r.strip_suffix(" requests"))
        .unwrap_or_else(|| panic!("no total in {report:?}"))
        .parse()
        .unwrap();
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
