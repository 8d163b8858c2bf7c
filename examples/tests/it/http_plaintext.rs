//! The plaintext server against real clients: curl and wrk (installed by
//! `.ci/run`; skipped with a message where missing outside CI), and raw
//! sockets for pipelining and malformed requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::common::{self, have, raw_exchange, wrk_requests, ServerThread};
use loopcore_examples::plaintext::Timeouts;

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
    let _heavy = common::heavy();
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
    batch.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let text = raw_exchange(server.addr, &batch);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 17, "{text}");
    assert_eq!(text.matches("Hello, World!").count(), 17);
    assert!(text.ends_with("Connection: close\r\n\r\nHello, World!"));
}

#[test]
fn http_1_0_clients_get_keep_alive_only_when_they_ask_and_are_told_so() {
    let server = ServerThread::start();
    // ApacheBench `-k` style: HTTP/1.0 asking for keep-alive must hear
    // `Connection: keep-alive`, or it waits for a close that never comes.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET /plaintext HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap();
        let mut response = Vec::new();
        let mut buf = [0u8; 1024];
        while !response.ends_with(b"Hello, World!") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {response:?}");
            response.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(response).unwrap();
        assert!(text.contains("\r\nConnection: keep-alive\r\n"), "{text}");
    }
    // Plain HTTP/1.0, and a close among other options: answered, closed.
    for request in [
        &b"GET /plaintext HTTP/1.0\r\n\r\n"[..],
        b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: TE, close\r\n\r\n",
    ] {
        let text = raw_exchange(server.addr, request);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    }
}

#[test]
fn request_bodies_chunked_or_behind_expect_continue_are_read_and_answered() {
    let server = ServerThread::start();
    // Expect: 100-continue: the server says go on before the body.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    // The body, chunked, and a request pipelined after each.
    stream
        .write_all(
            b"bodyPOST /plaintext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              3\r\nabc\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let (text, closed) = read_until_closed(&mut stream);
    assert!(closed, "{text}");
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{text}");
    // curl's own chunked upload.
    if have("curl") {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-H",
                "Transfer-Encoding: chunked",
            ])
            .args(["--data-binary", &"x".repeat(5000)])
            .arg(format!("http://{}/plaintext", server.addr))
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"Hello, World!", "{out:?}");
    }
    // Both framings at once is request smuggling: 400, and closed.
    let smuggled = raw_exchange(
        server.addr,
        b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert!(smuggled.starts_with("HTTP/1.1 400 "), "{smuggled}");
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
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    );
    assert!(too_many.starts_with("HTTP/1.1 431 "), "{too_many}");
    let huge_line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 * 1024));
    let huge = raw_exchange(server.addr, huge_line.as_bytes());
    assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
    let fine = raw_exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(fine.starts_with("HTTP/1.1 200 OK\r\n"), "{fine}");
}

/// Reads until the peer closes (or 10 s pass); what arrived, and whether
/// the end was a close rather than the time limit.
fn read_until_closed(stream: &mut TcpStream) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&response).into_owned(), closed)
}

fn short_timeouts() -> Timeouts {
    Timeouts::default()
        .header(Some(Duration::from_millis(300)))
        .idle(Some(Duration::from_millis(600)))
}

#[test]
fn a_slowloris_head_gets_408_and_others_are_served_meanwhile() {
    let server = ServerThread::start_with(short_timeouts());
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let trickle = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            // A byte every 50 ms keeps the connection from being idle.
            for _ in 0..40 {
                if slow.write_all(b"a").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Meanwhile a normal client is answered.
    let answer = raw_exchange(
        server.addr,
        b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let started = std::time::Instant::now();
    let (text, closed) = read_until_closed(&mut slow);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(closed, "the connection is closed after the 408");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    trickle.join().unwrap();
}

#[test]
fn a_request_in_pieces_within_the_header_timeout_is_served_and_idle_keep_alive_closes() {
    let server = ServerThread::start_with(short_timeouts());
    let mut client = TcpStream::connect(server.addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answers = 0;
    for _ in 0..2 {
        for piece in [&b"GET /plaintext HT"[..], b"TP/1.1\r\nHost: x", b"\r\n\r\n"] {
            client.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut buf = [0u8; 4096];
        let n = client.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
        answers += 1;
        // Longer than the header timeout, shorter than the idle one: the
        // header timer was stopped with the head complete.
        std::thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(answers, 2);
    // Now silent: the idle timeout closes the keep-alive connection.
    let started = std::time::Instant::now();
    let (text, closed) = read_until_closed(&mut client);
    assert!(closed && text.is_empty(), "{text:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
