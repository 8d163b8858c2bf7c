//! The HTTP/1 server-connection driver (`http1::Http1Connection`): the
//! request deadline runs from a request's first byte and no byte resets
//! it; a silent connection is closed by the idle timeout; answers past
//! `hold_answers_above` wait until the client reads, so a pipelining
//! client cannot grow the server's buffer; `CONNECT` gets `501`.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopcore::http1::{
    write_response, Http1Connection, Http1Options, HttpTimeouts, Reply, Request,
};
use loopcore::{EventLoop, ServerOptions};

/// A 1 KiB answer to every request; notes the largest output buffer seen.
fn server(lp: &EventLoop, options: Http1Options, largest: Rc<Cell<usize>>) -> SocketAddr {
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let largest = largest.clone();
            Http1Connection::new(
                move |_request: &Request<'_>, reply: &mut Reply<'_>| {
                    let persistence = reply.persistence();
                    write_response(reply.out(), 200, &[], &[b'a'; 1024], persistence);
                    largest.set(largest.get().max(reply.out().len()));
                },
                options,
            )
        })
        .unwrap();
    server.sockets()[0]
}

/// Runs the loop until `client` returns.
fn run_client<T: Send + 'static>(lp: &EventLoop, client: impl FnOnce() -> T + Send + 'static) -> T {
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let client = std::thread::spawn(move || {
        let result = client();
        finished.store(true, Ordering::Release);
        result
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the client did not finish");
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(5)))
            .unwrap();
    }
    client.join().unwrap()
}

/// Reads until the server closes; returns what came and when it closed.
fn read_to_close(stream: &mut TcpStream, started: Instant) -> (String, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn the_request_deadline_runs_from_the_first_byte_and_no_byte_resets_it() {
    let lp = EventLoop::new().unwrap();
    let options = Http1Options::default().timeouts(
        HttpTimeouts::default()
            .header(Some(Duration::from_millis(300)))
            .idle(Some(Duration::from_secs(10))),
    );
    let addr = server(&lp, options, Rc::default());
    let (answer, took) = run_client(&lp, move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        let mut trickle = stream.try_clone().unwrap();
        let trickler = std::thread::spawn(move || {
            // A byte every 50 ms for up to 3 s: each would reset a
            // deadline that bytes could reset.
            for _ in 0..60 {
                if trickle.write_all(b"a").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let result = read_to_close(&mut stream, started);
        trickler.join().unwrap();
        result
    });
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "closed at the deadline, bytes or not: {took:?}"
    );
    assert_eq!(lp.stats().header_timeouts, 1);
}

#[test]
fn a_silent_connection_and_an_idle_keep_alive_one_are_closed_by_the_idle_timeout() {
    let lp = EventLoop::new().unwrap();
    let options = Http1Options::default().timeouts(
        HttpTimeouts::default()
            .header(Some(Duration::from_secs(10)))
            .idle(Some(Duration::from_millis(300))),
    );
    let addr = server(&lp, options, Rc::default());
    let (silent, kept) = run_client(&lp, move || {
        let mut silent = TcpStream::connect(addr).unwrap();
        let mut kept = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let kept = read_to_close(&mut kept, started);
        (read_to_close(&mut silent, started), kept)
    });
    assert!(silent.0.is_empty(), "{:?}", silent.0);
    assert!(
        silent.1 >= Duration::from_millis(250) && silent.1 < Duration::from_secs(3),
        "{:?}",
        silent.1
    );
    assert_eq!(kept.0.matches("HTTP/1.1 200").count(), 1, "{:?}", kept.0);
    assert!(kept.1 >= Duration::from_millis(250), "{:?}", kept.1);
    assert_eq!(lp.stats().idle_timeouts, 2);
}

#[test]
fn answers_past_the_hold_mark_wait_until_the_client_reads() {
    const REQUESTS: usize = 3_000;
    let lp = EventLoop::new().unwrap();
    let largest = Rc::new(Cell::new(0));
    let addr = server(&lp, Http1Options::default(), largest.clone());
    let answers = run_client(&lp, move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let requests = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(REQUESTS);
        let mut writer = stream.try_clone().unwrap();
        let writing = std::thread::spawn(move || writer.write_all(&requests).unwrap());
        // Not reading for a while: 3 MiB of answers are asked for.
        std::thread::sleep(Duration::from_millis(500));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut seen = 0;
        let mut buf = vec![0u8; 1 << 16];
        let mut carry = Vec::new();
        while seen < REQUESTS {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {seen} answers");
            carry.extend_from_slice(&buf[..n]);
            while let Some(at) = carry.windows(12).position(|w| w == b"HTTP/1.1 200") {
                seen += 1;
                carry.drain(..at + 12);
            }
        }
        writing.join().unwrap();
        seen
    });
    assert_eq!(answers, REQUESTS);
    // The buffer held what was queued when answering stopped (at most the
    // high-water mark, 64 KiB, once flow control had its say) plus up to
    // the hold mark (64 KiB) and one answer.
    assert!(
        largest.get() <= 128 * 1024 + 2048,
        "the output buffer reached {} KiB",
        largest.get() >> 10
    );
}

#[test]
fn connect_is_refused_with_501_and_nothing_behind_it_is_answered() {
    let lp = EventLoop::new().unwrap();
    let addr = server(&lp, Http1Options::default(), Rc::default());
    let (answer, _) = run_client(&lp, move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            .unwrap();
        read_to_close(&mut stream, Instant::now())
    });
    assert!(answer.starts_with("HTTP/1.1 501"), "{answer:?}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer:?}");
}
