//! Hostile clients against the echo server, over plain TCP and over TLS:
//! each misbehaves in its own way, then a normal client must get its echo,
//! and the loop's metrics must account for every connection it accepted
//! (opened = closed once the dust settles). An echo server answers
//! everything, so "nothing lost" here means every byte comes back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::peer::{server_tls_config, Peer, Security};
use crate::common::{
    self, assert_opened_at_least, open_and_drop_connections, wait_until_all_closed, ServerThread,
};
use loopcore::ServerOptions;
use loopcore_examples::echo::Echo;

fn echo_server(security: Security) -> ServerThread {
    let options = match security {
        Security::Plain => ServerOptions::default(),
        Security::Tls => ServerOptions::default().tls(server_tls_config()),
    };
    ServerThread::serve(options, Echo::default)
}

/// A normal client gets its echo, and every accepted connection closes.
fn still_serves_and_accounts(server: &ServerThread, security: Security) {
    let mut peer = Peer::connect(server.addr, security);
    peer.write_all(b"still there?\n").unwrap();
    peer.shutdown_write();
    assert_eq!(peer.read_to_close(), b"still there?\n");
    drop(peer);
    wait_until_all_closed(&server.handle);
}

/// Every byte value, many times over: not text, not a protocol.
fn garbage() -> Vec<u8> {
    (0..=255u8).cycle().take(64 * 1024 + 7).collect()
}

fn garbage_is_echoed_exactly(security: Security) {
    let server = echo_server(security);
    let mut peer = Peer::connect(server.addr, security);
    peer.echo_in_lockstep(&garbage(), 16 * 1024);
    drop(peer);
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_garbage_is_echoed_exactly() {
    garbage_is_echoed_exactly(Security::Plain);
}

#[test]
fn tls_garbage_inside_the_session_is_echoed_exactly() {
    garbage_is_echoed_exactly(Security::Tls);
}

#[test]
fn tls_garbage_instead_of_a_handshake_is_refused_and_closed() {
    let server = echo_server(Security::Tls);
    let mut raw = TcpStream::connect(server.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(&garbage()[..4096]).unwrap();
    let mut answer = Vec::new();
    // The server may reset (it closed with our bytes unread): any end but
    // a timeout will do.
    if let Err(e) = raw.read_to_end(&mut answer) {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the server kept a connection that is not TLS: {e}"
        );
    }
    // Whatever came back is at most an alert record, never our bytes.
    assert!(answer.len() < 64, "{} bytes came back", answer.len());
    drop(raw);
    still_serves_and_accounts(&server, Security::Tls);
}

fn a_one_mebibyte_line_comes_back_whole(security: Security) {
    let server = echo_server(security);
    let mut peer = Peer::connect(server.addr, security);
    let mut line = vec![b'a'; 1 << 20];
    *line.last_mut().unwrap() = b'\n';
    peer.echo_in_lockstep(&line, 64 * 1024);
    drop(peer);
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_a_one_mebibyte_line_comes_back_whole() {
    a_one_mebibyte_line_comes_back_whole(Security::Plain);
}

#[test]
fn tls_a_one_mebibyte_line_comes_back_whole() {
    a_one_mebibyte_line_comes_back_whole(Security::Tls);
}

fn ten_thousand_headers_come_back(security: Security) {
    let server = echo_server(security);
    let mut peer = Peer::connect(server.addr, security);
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..10_000 {
        request.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    peer.echo_in_lockstep(&request, 16 * 1024);
    drop(peer);
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_ten_thousand_headers_come_back() {
    ten_thousand_headers_come_back(Security::Plain);
}

#[test]
fn tls_ten_thousand_headers_come_back() {
    ten_thousand_headers_come_back(Security::Tls);
}

fn one_byte_per_write_comes_back(security: Security) {
    let server = echo_server(security);
    let mut peer = Peer::connect(server.addr, security);
    let request = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
    for byte in request {
        peer.write_all(&[*byte]).unwrap();
        peer.flush().unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(peer.receive_exactly(request.len()), request);
    drop(peer);
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_one_byte_per_write_comes_back() {
    one_byte_per_write_comes_back(Security::Plain);
}

#[test]
fn tls_one_byte_per_write_comes_back() {
    one_byte_per_write_comes_back(Security::Tls);
}

fn a_half_close_still_gets_everything_back(security: Security) {
    let server = echo_server(security);
    let mut peer = Peer::connect(server.addr, security);
    let sent = garbage();
    peer.write_all(&sent).unwrap();
    peer.shutdown_write();
    // For TLS, `read_to_close` also checks the server's close_notify.
    assert_eq!(peer.read_to_close(), sent);
    drop(peer);
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_a_half_close_still_gets_everything_back() {
    a_half_close_still_gets_everything_back(Security::Plain);
}

#[test]
fn tls_a_half_close_still_gets_everything_back() {
    a_half_close_still_gets_everything_back(Security::Tls);
}

fn a_reset_in_the_middle_of_the_echo_harms_no_one(security: Security) {
    let server = echo_server(security);
    let mut peer = Peer::connect(server.addr, security);
    let sent = peer.send_until_held_back(&garbage(), Duration::from_millis(300), 64 << 20);
    assert!(sent > 0);
    let _ = peer.receive_exactly(1024);
    peer.reset();
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_a_reset_in_the_middle_of_the_echo_harms_no_one() {
    a_reset_in_the_middle_of_the_echo_harms_no_one(Security::Plain);
}

#[test]
fn tls_a_reset_in_the_middle_of_the_echo_harms_no_one() {
    a_reset_in_the_middle_of_the_echo_harms_no_one(Security::Tls);
}

fn five_thousand_connections_opened_and_dropped_at_once(security: Security) {
    let _heavy = common::heavy();
    let server = echo_server(security);
    // Bare TCP: for the TLS server, handshakes that never start.
    open_and_drop_connections(server.addr, 5000);
    still_serves_and_accounts(&server, security);
    assert_opened_at_least(&server.handle, 5001);
}

#[test]
fn tcp_five_thousand_connections_opened_and_dropped_at_once() {
    five_thousand_connections_opened_and_dropped_at_once(Security::Plain);
}

#[test]
fn tls_five_thousand_connections_opened_and_dropped_at_once() {
    five_thousand_connections_opened_and_dropped_at_once(Security::Tls);
}

/// The server stops reading a client that never reads once its echo
/// passes the high-water mark; TCP then holds the client back. Others are
/// served meanwhile, and when the client reads, every byte comes back.
fn a_client_that_never_reads_is_held_back_and_loses_nothing(security: Security) {
    let server = echo_server(security);
    let mut hog = Peer::connect(server.addr, security);
    let pattern = garbage();
    let cap = 256 << 20;
    let sent = hog.send_until_held_back(&pattern, Duration::from_secs(2), cap);
    assert!(
        sent < cap,
        "the server kept reading a client that never reads"
    );
    // Loopback's socket buffers (both ways, both ends) take a few MiB.
    assert!(sent < 64 << 20, "{sent} bytes sent before being held back");
    let mut other = Peer::connect(server.addr, security);
    other.echo_in_lockstep(b"served meanwhile\n", 1024);
    drop(other);
    let echoed = hog.receive_exactly(sent);
    let expected: Vec<u8> = pattern.iter().copied().cycle().take(sent).collect();
    assert!(echoed == expected, "the echo of {sent} bytes differs");
    drop(hog);
    still_serves_and_accounts(&server, security);
}

#[test]
fn tcp_a_client_that_never_reads_is_held_back_and_loses_nothing() {
    a_client_that_never_reads_is_held_back_and_loses_nothing(Security::Plain);
}

#[test]
fn tls_a_client_that_never_reads_is_held_back_and_loses_nothing() {
    a_client_that_never_reads_is_held_back_and_loses_nothing(Security::Tls);
}
