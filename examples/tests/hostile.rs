//! Hostile clients against the plaintext server: each misbehaves in its
//! own way, then a normal client must be served correctly, and the loop's
//! metrics must account for every connection it accepted (opened = closed
//! once the dust settles).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::{raw_exchange, ServerThread};

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
const GET_CLOSE: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A normal client is answered, and every accepted connection is closed
/// within a few seconds (lingering closes included).
fn still_serves_and_accounts(server: &ServerThread) {
    let answer = raw_exchange(server.addr, GET_CLOSE);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("Hello, World!"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = server.handle.stats();
        if stats.connections_opened == stats.connections_closed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} connections opened, {} closed",
            stats.connections_opened,
            stats.connections_closed
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect(server: &ServerThread) -> TcpStream {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Everything until the server closes.
fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn garbage_bytes_get_400() {
    let server = ServerThread::start();
    let mut stream = connect(&server);
    stream
        .write_all(b"\x16\x03\x01\x00\xff\x00garbage\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut stream).starts_with("HTTP/1.1 400"));
    still_serves_and_accounts(&server);
}

#[test]
fn a_one_mebibyte_request_line_gets_431() {
    let server = ServerThread::start();
    let mut stream = connect(&server);
    let mut request = b"GET /".to_vec();
    request.resize(1 << 20, b'a');
    // The server answers after 8 KiB and discards the rest while it lingers.
    let _ = stream.write_all(&request);
    let _ = stream.write_all(b" HTTP/1.1\r\n\r\n");
    assert!(read_all(&mut stream).starts_with("HTTP/1.1 431"));
    still_serves_and_accounts(&server);
}

#[test]
fn ten_thousand_headers_get_431() {
    let server = ServerThread::start();
    let mut stream = connect(&server);
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..10_000 {
        request.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let _ = stream.write_all(&request);
    assert!(read_all(&mut stream).starts_with("HTTP/1.1 431"));
    still_serves_and_accounts(&server);
}

#[test]
fn a_half_close_after_the_request_still_gets_the_answer() {
    let server = ServerThread::start();
    let mut stream = connect(&server);
    stream.write_all(GET).unwrap();
    stream.write_all(GET).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let answer = read_all(&mut stream);
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    still_serves_and_accounts(&server);
}

#[test]
fn a_reset_in_the_middle_of_the_answers_harms_no_one() {
    let server = ServerThread::start();
    let stream = connect(&server);
    // Plenty of pipelined requests, a little reading, then RST (linger 0).
    let mut writer = stream.try_clone().unwrap();
    writer.write_all(&GET.repeat(2000)).unwrap();
    let mut buf = [0u8; 1024];
    let mut reader = stream;
    let _ = reader.read(&mut buf).unwrap();
    let socket = socket2::SockRef::from(&reader);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(writer);
    drop(reader);
    still_serves_and_accounts(&server);
}

#[test]
fn five_thousand_connections_opened_and_dropped_at_once() {
    loopcore::raise_fd_limit(12_000).unwrap();
    let server = ServerThread::start();
    let streams: Vec<TcpStream> = (0..5000)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    drop(streams);
    still_serves_and_accounts(&server);
    let stats = server.handle.stats();
    assert!(
        stats.connections_opened >= 5001,
        "{}",
        stats.connections_opened
    );
}
