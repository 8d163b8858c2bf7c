//! The plaintext server against real clients: curl and wrk (installed by
//! `.ci/run`; skipped with a message where missing outside CI), and raw
//! sockets for pipelining and malformed requests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::{have, wrk_requests};
use loopcore::{EventLoop, LoopHandle, ServerOptions};
use loopcore_examples::plaintext::Plaintext;

/// A plaintext server on its own thread; stopped when dropped.
struct ServerThread {
    addr: SocketAddr,
    handle: LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    fn start() -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let lp = EventLoop::new().unwrap();
            let server = lp
                .create_server("127.0.0.1:0", ServerOptions::default(), Plaintext::default)
                .unwrap();
            tx.send((server.sockets()[0], lp.handle())).unwrap();
            lp.run_forever().unwrap();
        });
        let (addr, handle) = rx.recv().unwrap();
        Self {
            addr,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn curl_gets_hello_world() {
    if !have("curl") {
        return;
    }
    let server = ServerThread::start();
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10"])
        .arg(format!("http://{}/plaintext", server.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Type: text/plain\r\n"));
    assert!(text.contains("Content-Length: 13\r\n"));
    assert!(text.contains("Date: "));
    assert!(text.ends_with("\r\n\r\nHello, World!"), "{text}");
}

#[test]
fn wrk_runs_without_errors() {
    if !have("wrk") {
        return;
    }
    let server = ServerThread::start();
    let out = Command::new("wrk")
        .args(["-t1", "-c16", "-d1s"])
        .arg(format!("http://{}/plaintext", server.addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    let requests = wrk_requests(&text);
    assert!(requests > 100, "only {requests} requests: {text}");
    assert!(!text.contains("Non-2xx"), "{text}");
    assert!(!text.contains("Socket errors"), "{text}");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = ServerThread::start();
    let mut batch = Vec::new();
    for i in 0..16 {
        batch.extend_from_slice(
            format!("GET /plaintext?{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
    }
    batch.extend_from_slice(b"GET /last HTTP/1.1\r\nConnection: close\r\n\r\n");
    let text = raw_exchange(server.addr, &batch);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 17, "{text}");
    assert_eq!(text.matches("Hello, World!").count(), 17);
    assert!(text.ends_with("Connection: close\r\n\r\nHello, World!"));
}

#[test]
fn a_request_split_byte_by_byte_is_answered() {
    let server = ServerThread::start();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for byte in b"GET /plaintext HTTP/1.1\r\nConnection: close\r\n\r\n" {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("Hello, World!"));
}

#[test]
fn malformed_and_oversized_requests_get_errors_and_others_are_still_served() {
    let server = ServerThread::start();
    let garbage = raw_exchange(server.addr, b"\x16\x03\x01 not http at all\r\n\r\n");
    assert!(
        garbage.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{garbage}"
    );
    assert!(garbage.contains("Connection: close"));
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    let too_many = raw_exchange(
        server.addr,
        format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(),
    );
    assert!(too_many.starts_with("HTTP/1.1 431 "), "{too_many}");
    let huge_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64 * 1024));
    let huge = raw_exchange(server.addr, huge_line.as_bytes());
    assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
    let fine = raw_exchange(server.addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(fine.starts_with("HTTP/1.1 200 OK\r\n"), "{fine}");
}
