//! Hostile clients against the plaintext server: each misbehaves in its
//! own way, then a normal client must be served correctly, and the loop's
//! metrics must account for every connection it accepted (opened = closed
//! once the dust settles).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::common::{
    self, assert_opened_at_least, open_and_drop_connections, raw_exchange, read_ok_answers,
    wait_until_all_closed, ServerThread,
};

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
const GET_CLOSE: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A normal client is answered, and every accepted connection is closed
/// within a few seconds (lingering closes included).
fn still_serves_and_accounts(server: &ServerThread) {
    let answer = raw_exchange(server.addr, GET_CLOSE);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("Hello, World!"), "{answer}");
    wait_until_all_closed(&server.handle);
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
    let _ = stream.write_all(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(read_all(&mut stream).starts_with("HTTP/1.1 431"));
    still_serves_and_accounts(&server);
}

#[test]
fn ten_thousand_headers_get_431() {
    let server = ServerThread::start();
    let mut stream = connect(&server);
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
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
    let _heavy = common::heavy();
    let server = ServerThread::start();
    open_and_drop_connections(server.addr, 5000);
    still_serves_and_accounts(&server);
    assert_opened_at_least(&server.handle, 5001);
}

#[test]
fn a_request_split_byte_by_byte_is_answered() {
    let server = ServerThread::start();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for byte in b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("Hello, World!"));
    still_serves_and_accounts(&server);
}

#[test]
fn a_client_that_never_reads_is_held_back_and_gets_every_answer_later() {
    let server = ServerThread::start();
    let request = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
    let chunk = request.repeat(1000);
    let mut hog = TcpStream::connect(server.addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    // Send without reading until the writes block: the server stopped
    // reading, the kernel buffers filled, TCP held the client back.
    let mut sent = 0usize;
    while hog.write_all(&chunk).is_ok() {
        sent += chunk.len();
        assert!(
            sent < 256 << 20,
            "the server kept reading a client that never reads"
        );
    }
    assert!(sent < 64 << 20, "{sent} bytes sent before being held back");
    // Others are served meanwhile.
    let answer = raw_exchange(
        server.addr,
        b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // The client catches up: every complete request it got out is answered.
    // (A write that timed out may have sent part of a chunk.)
    hog.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    read_ok_answers(&mut hog, sent / request.len());
    drop(hog);
    still_serves_and_accounts(&server);
}

#[test]
fn a_flood_past_the_shedding_threshold_gets_503s_and_the_rest_is_served() {
    let _heavy = common::heavy();
    let server = ServerThread::serve(loopcore::ServerOptions::default(), || {
        loopcore_examples::plaintext::Plaintext::shedding_above(50)
    });
    let mut clients: Vec<TcpStream> = (0..300).map(|_| connect(&server)).collect();
    // Hold the loop for a moment so that every request arrives before it
    // looks: one poll then sees all 300 connections ready at once.
    let (asleep_tx, asleep) = std::sync::mpsc::channel();
    server
        .handle
        .call_soon_threadsafe(move |_| {
            asleep_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        })
        .unwrap();
    asleep.recv().unwrap();
    for client in &mut clients {
        client.write_all(GET_CLOSE).unwrap();
    }
    let (mut ok, mut shed) = (0, 0);
    for client in &mut clients {
        let answer = read_all(client);
        if answer.starts_with("HTTP/1.1 200 OK") {
            ok += 1;
        } else {
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains("Retry-After: 1"), "{answer}");
            shed += 1;
        }
    }
    assert!(shed > 0, "no request was shed");
    // The last ones of the batch, with little left behind them, are served.
    assert!(ok >= 20, "only {ok} answered");
    assert_eq!(server.handle.stats().shed, shed);
    drop(clients);
    still_serves_and_accounts(&server);
}
