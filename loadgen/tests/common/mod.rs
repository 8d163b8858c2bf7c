//! Test servers made of std threads and blocking sockets, so their delays
//! never depend on loopcore's timers, and a runner for the `loadgen`
//! binary that returns its exit code and parsed JSON report.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Tests that measure run one at a time (the machine has 2 cores).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a test server answers the `n`-th request (over all connections)
/// arriving at `at`: it writes to the stream, or returns false to close.
pub type Answer = dyn Fn(u64, Instant, &mut TcpStream) -> bool + Send + Sync;

/// A thread-per-connection HTTP server on 127.0.0.1; stops accepting when
/// dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Starts a server that reads requests head by head (bodies are not
/// expected) and lets `answer` respond to each.
pub fn http_server(
    answer: impl Fn(u64, Instant, &mut TcpStream) -> bool + Send + Sync + 'static,
) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let answer: Arc<Answer> = Arc::new(answer);
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stopping = stop.clone();
    let accepts = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = stream else { continue };
            accepts.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            let counter = counter.clone();
            std::thread::spawn(move || serve(stream, &*answer, &counter));
        }
    });
    TestServer {
        addr,
        accepted,
        stop,
    }
}

fn serve(stream: TcpStream, answer: &Answer, counter: &std::sync::atomic::AtomicU64) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        // One request: lines up to the empty one.
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if !answer(n, Instant::now(), &mut writer) {
            return;
        }
    }
}

/// A minimal 200 response.
pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// Writes `OK`.
pub fn ok(stream: &mut TcpStream) -> bool {
    stream.write_all(OK).is_ok()
}

/// Runs the loadgen binary with `args`, `--json -` added; returns the exit
/// code and the report.
pub fn loadgen(args: &[&str]) -> (i32, serde_json::Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .args(["--json", "-"])
        .output()
        .expect("running loadgen");
    let code = output.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "loadgen {args:?} printed no JSON ({e}): exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, report)
}

/// A number from the report.
pub fn num(report: &serde_json::Value, path: &str) -> f64 {
    let mut value = report;
    for key in path.split('.') {
        value = &value[key];
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("no number at {path} in {report:#}"))
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
