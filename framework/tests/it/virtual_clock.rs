//! The paused clock users test with: timers fire in order without real
//! waiting, `advance_clock` moves time by hand, and idle timeouts follow
//! the loop's clock.

use std::io::Read;
use std::time::{Duration, Instant};

use loopcore::{ErrorKind, EventLoop, Protocol, ServerOptions, Transport};

use crate::Log;

#[test]
fn a_paused_clock_fires_a_30_second_timer_at_once_and_in_order() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    let log = Log::default();
    let started = Instant::now();
    let loop_started = lp.time();
    let l = log.clone();
    lp.call_later(Duration::from_secs(30), move |_| l.push("30 s"));
    let l = log.clone();
    lp.call_later(Duration::from_secs(10), move |_| l.push("10 s"));
    let l = log.clone();
    lp.call_later(Duration::from_secs(31), move |lp| {
        l.push("31 s");
        lp.stop();
    });
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["10 s", "30 s", "31 s"]);
    assert_eq!(lp.time() - loop_started, Duration::from_secs(31));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?} of real time",
        started.elapsed()
    );
}

#[test]
fn advance_clock_moves_time_by_hand() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    let log = Log::default();
    let l = log.clone();
    lp.call_later(Duration::from_secs(10), move |_| l.push("fired"));
    // One iteration with the clock 5 s on: not due yet.
    lp.advance_clock(Duration::from_secs(5)).unwrap();
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    assert!(log.entries().is_empty());
    lp.advance_clock(Duration::from_secs(5)).unwrap();
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["fired"]);
}

#[test]
fn advance_clock_needs_a_paused_clock() {
    let lp = EventLoop::new().unwrap();
    assert!(!lp.is_clock_paused());
    let error = lp.advance_clock(Duration::from_secs(1)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    lp.pause_clock();
    assert!(lp.is_clock_paused());
}

struct Silent;

impl Protocol for Silent {
    fn connection_made(&mut self, _: Transport) {}
    fn data_received(&mut self, _: &[u8]) {}
}

#[test]
fn a_30_second_idle_timeout_closes_a_silent_peer_without_waiting() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    let server = lp
        .create_server(
            "127.0.0.1:0",
            ServerOptions::default().idle_timeout(Duration::from_secs(30)),
            || Silent,
        )
        .unwrap();
    let addr = server.sockets()[0];
    let handle = lp.handle();
    let started = Instant::now();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 16];
        // The server aborts the connection: EOF or a reset, not a timeout.
        let ended = match stream.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        handle.stop().unwrap();
        ended
    });
    lp.run_forever().unwrap();
    assert!(client.join().unwrap(), "the silent peer was not closed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?} of real time",
        started.elapsed()
    );
    assert_eq!(lp.stats().idle_timeouts, 1);
}
