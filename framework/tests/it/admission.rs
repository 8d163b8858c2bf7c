//! Admission control: at `max_connections` a listener stops accepting,
//! new connections wait in the kernel's backlog (not accepted and closed),
//! and they are served once others leave.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loopcore::{EventLoop, Protocol, ServerOptions, Transport};

#[derive(Default)]
struct Echo(Option<Transport>);

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.0 = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

/// Sends `byte` and waits up to `wait` for its echo.
/// A runtime of `loops` loops serving `Echo` with `options`, running on a
/// thread: its address, a handle, and the thread.
fn run_echo_runtime(
    loops: usize,
    options: loopcore::ServeOptions,
) -> (
    std::net::SocketAddr,
    loopcore::RuntimeHandle,
    std::thread::JoinHandle<loopcore::Result<()>>,
) {
    let runtime = loopcore::Runtime::builder()
        .loops(loops)
        .handle_signals(false)
        .build()
        .unwrap();
    let addr = runtime
        .serve("127.0.0.1:0", options, Echo::default)
        .unwrap()[0];
    let handle = runtime.handle();
    (addr, handle, std::thread::spawn(move || runtime.run()))
}

fn echoed(stream: &mut TcpStream, byte: u8, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(&[byte]).unwrap();
    let mut got = [0u8; 1];
    match stream.read(&mut got) {
        Ok(1) => got[0] == byte,
        Ok(_) => false,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("reading the echo: {e}"),
    }
}

#[test]
fn connections_beyond_max_connections_wait_in_the_backlog_and_are_served_when_others_leave() {
    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let server = lp
            .create_server(
                "127.0.0.1:0",
                ServerOptions::default().max_connections(2),
                Echo::default,
            )
            .unwrap();
        tx.send((server.sockets()[0], lp.handle())).unwrap();
        lp.run_forever().unwrap();
    });
    let (addr, handle) = rx.recv().unwrap();
    let mut first = TcpStream::connect(addr).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    assert!(echoed(&mut first, b'1', Duration::from_secs(5)));
    assert!(echoed(&mut second, b'2', Duration::from_secs(5)));
    // The third connects (the backlog takes it) but is not accepted.
    let mut third = TcpStream::connect(addr).unwrap();
    assert!(!echoed(&mut third, b'3', Duration::from_millis(300)));
    let stats = handle.stats();
    assert_eq!(stats.connections_opened, 2);
    assert!(stats.admission_pauses >= 1, "{stats:?}");
    // One leaves: the loop is at its low mark and takes the third.
    drop(first);
    let started = Instant::now();
    let mut got = [0u8; 1];
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    third
        .read_exact(&mut got)
        .expect("the waiting connection is served");
    assert_eq!(got, *b"3");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(echoed(&mut second, b'4', Duration::from_secs(5)));
    assert_eq!(handle.stats().connections_opened, 3);
    assert_eq!(handle.stats().connections_closed, 1);
    handle.stop().unwrap();
    server.join().unwrap();
}

#[test]
fn with_an_acceptor_connections_beyond_every_loops_limit_wait_in_the_backlog() {
    use loopcore::{Balance, ServeOptions};
    let options = ServeOptions::default()
        .balance(Balance::Acceptor { accept_on: 0 })
        .max_connections(1);
    let (addr, handle, running) = run_echo_runtime(2, options);
    // Two loops with room for one each.
    let mut first = TcpStream::connect(addr).unwrap();
    assert!(echoed(&mut first, b'1', Duration::from_secs(5)));
    let mut second = TcpStream::connect(addr).unwrap();
    assert!(echoed(&mut second, b'2', Duration::from_secs(5)));
    // Every loop is full: the third waits in the backlog, unserved (the
    // acceptor does not take it on itself).
    let mut third = TcpStream::connect(addr).unwrap();
    assert!(!echoed(&mut third, b'3', Duration::from_millis(300)));
    let stats = handle.stats().total();
    assert_eq!(stats.connections_opened, 2, "{stats:?}");
    assert!(stats.admission_pauses >= 1, "{stats:?}");
    // One leaves: its loop has room again and the third is served there.
    drop(first);
    let mut got = [0u8; 1];
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    third
        .read_exact(&mut got)
        .expect("the waiting connection is served");
    assert_eq!(got, *b"3");
    assert!(echoed(&mut second, b'4', Duration::from_secs(5)));
    let per_loop: Vec<u64> = handle
        .stats()
        .per_loop
        .iter()
        .map(|s| s.connections_opened - s.connections_closed)
        .collect();
    assert!(per_loop.iter().all(|&live| live <= 1), "{per_loop:?}");
    handle.shutdown(Duration::ZERO);
    running.join().unwrap().unwrap();
}

#[test]
fn a_runtime_wide_cap_holds_connections_in_the_backlog_whichever_loop_they_reach() {
    let options = loopcore::ServeOptions::default().max_connections_total(2);
    let (addr, handle, running) = run_echo_runtime(3, options);
    let mut first = TcpStream::connect(addr).unwrap();
    assert!(echoed(&mut first, b'1', Duration::from_secs(5)));
    let mut second = TcpStream::connect(addr).unwrap();
    assert!(echoed(&mut second, b'2', Duration::from_secs(5)));
    // Whichever loop's socket the kernel picks, the total is at the cap.
    let mut waiting: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for (i, stream) in waiting.iter_mut().enumerate() {
        assert!(
            !echoed(stream, b'a' + i as u8, Duration::from_millis(200)),
            "connection {i} was served beyond the runtime's cap"
        );
    }
    let stats = handle.stats().total();
    assert_eq!(stats.connections_opened, 2, "{stats:?}");
    assert!(stats.admission_pauses >= 1, "{stats:?}");
    // Two leave: the total is at its low mark (1) and one more is served.
    drop(first);
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut served = vec![false; waiting.len()];
    while served.iter().filter(|&&s| s).count() < 2 && Instant::now() < deadline {
        for (i, stream) in waiting.iter_mut().enumerate() {
            if served[i] {
                continue;
            }
            stream
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut got = [0u8; 1];
            if stream.read_exact(&mut got).is_ok() {
                assert_eq!(got[0], b'a' + i as u8);
                served[i] = true;
            }
        }
    }
    let served = served.iter().filter(|&&s| s).count();
    assert_eq!(
        served, 2,
        "the waiting connections were served once others left"
    );
    let live: u64 = handle
        .stats()
        .per_loop
        .iter()
        .map(|s| s.connections_opened - s.connections_closed)
        .sum();
    assert!(live <= 2, "{live} live connections over a cap of 2");
    handle.shutdown(Duration::ZERO);
    running.join().unwrap().unwrap();
}
