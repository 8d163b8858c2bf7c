//! The hyper serving driver (`hyper_rt::serve_connection`, feature
//! `hyper`) keeps its deadlines: with a 300 ms header deadline and a
//! 600 ms idle timeout, a silent connection, an HTTP/2 client that stops
//! after its preface, one that trickles the preface and an HTTP/1 client
//! that trickles its head are all closed, while a normal request is
//! answered. Bounds are generous (a busy 2-core machine): "closed, and
//! not before roughly the deadline".
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use loopcore::hyper_rt::{serve_connection, HyperServeOptions, H2_PREFACE};
use loopcore::{EventLoop, HttpTimeouts, LoopHandle, ServerOptions};

const HEADER: Duration = Duration::from_millis(300);
const IDLE: Duration = Duration::from_millis(600);
/// "Not before roughly the deadline": timers never fire early, and the
/// client starts its clock before the server starts the deadline's.
const SLACK: Duration = Duration::from_millis(50);
/// Far past every deadline, even on a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);

async fn ok(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// A loop on its own thread serving the driver with the tests' deadlines;
/// stopped when dropped.
struct Server {
    addr: SocketAddr,
    handle: LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let lp = EventLoop::new().unwrap();
            let server = lp
                .start_server("127.0.0.1:0", ServerOptions::default(), |reader, writer| {
                    let timeouts = HttpTimeouts::default()
                        .header(Some(HEADER))
                        .idle(Some(IDLE));
                    let options = HyperServeOptions::default().timeouts(timeouts);
                    serve_connection(reader, writer, service_fn(ok), options)
                })
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

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(CLOSED_WITHIN)).unwrap();
        stream
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

/// Reads until the server closes (EOF or a reset); what came, and whether
/// it closed (`false`: the read timed out).
fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, false)
            }
            Err(_) => return (got, true),
        }
    }
}

/// Sends `bytes` one at a time, `interval` apart, until the server closes
/// the connection; how long after the first byte it closed.
fn trickle_until_closed(stream: TcpStream, bytes: &[u8], interval: Duration) -> Duration {
    let mut reading = stream.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let (_, closed) = read_until_closed(&mut reading);
        let _ = tx.send((closed, Instant::now()));
    });
    let mut writing = stream;
    let started = Instant::now();
    for byte in bytes {
        if writing.write_all(&[*byte]).is_err() {
            break;
        }
        match rx.recv_timeout(interval) {
            Ok((closed, at)) => {
                assert!(closed, "the read failed");
                reader.join().unwrap();
                return at - started;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let (closed, at) = rx
        .recv_timeout(CLOSED_WITHIN)
        .expect("the server closed the connection");
    assert!(closed, "the server closed the connection");
    reader.join().unwrap();
    at - started
}

#[test]
fn a_normal_request_is_answered() {
    let server = Server::start();
    let mut client = server.connect();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, closed) = read_until_closed(&mut client);
    let answer = String::from_utf8_lossy(&answer);
    assert!(closed, "{answer}");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
}

#[test]
fn a_silent_connection_is_closed_at_the_sniff_deadline() {
    let server = Server::start();
    let started = Instant::now();
    let mut client = server.connect();
    let (got, closed) = read_until_closed(&mut client);
    let elapsed = started.elapsed();
    assert!(closed && got.is_empty(), "{got:?}");
    assert!(elapsed >= HEADER - SLACK, "closed after {elapsed:?}");
    assert!(elapsed < CLOSED_WITHIN, "closed after {elapsed:?}");
}

#[test]
fn an_http2_connection_gone_silent_is_closed_by_the_idle_timeout() {
    let server = Server::start();
    let mut client = server.connect();
    // The preface and an empty SETTINGS frame, then nothing.
    let mut hello = H2_PREFACE.to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    client.write_all(&hello).unwrap();
    let started = Instant::now();
    let (got, closed) = read_until_closed(&mut client);
    let elapsed = started.elapsed();
    assert!(closed, "still open after {elapsed:?}");
    // The server spoke HTTP/2 (its SETTINGS frame, type 4, came first).
    assert!(got.len() >= 9 && got[3] == 4, "{got:?}");
    // Not the header deadline: the idle timeout, well after it.
    assert!(elapsed >= IDLE - SLACK * 2, "closed after {elapsed:?}");
    assert!(elapsed < CLOSED_WITHIN, "closed after {elapsed:?}");
}

#[test]
fn a_preface_trickler_is_closed_at_the_header_deadline_though_it_keeps_sending() {
    let server = Server::start();
    let client = server.connect();
    // 24 bytes, one per 100 ms: 2.4 s, eight deadlines' worth.
    let elapsed = trickle_until_closed(client, H2_PREFACE, Duration::from_millis(100));
    assert!(elapsed >= HEADER - SLACK, "closed after {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(2_000),
        "closed after {elapsed:?}"
    );
}

#[test]
fn an_http1_client_trickling_its_head_is_closed() {
    let server = Server::start();
    let client = server.connect();
    // Never ends its head; one byte per 100 ms for 4 s.
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: {}", "a".repeat(40));
    let elapsed = trickle_until_closed(client, head.as_bytes(), Duration::from_millis(100));
    assert!(elapsed >= HEADER - SLACK, "closed after {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(3_000),
        "closed after {elapsed:?}"
    );
}
