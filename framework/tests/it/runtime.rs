//! The many-loop runtime: more loops than this machine's 2 cores, real
//! sockets on 127.0.0.1, std clients on other threads.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopcore::{
    Balance, ErrorKind, EventLoop, Protocol, Runtime, ServeOptions, Sharded, Transport,
};

/// Writes the index of the loop serving the connection, then echoes.
#[derive(Default)]
struct WhichLoop {
    transport: Option<Transport>,
}

impl Protocol for WhichLoop {
    fn connection_made(&mut self, transport: Transport) {
        let index = loopcore::current_loop_index().expect("runs on a runtime loop");
        transport.write(&[index as u8]).unwrap();
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        let _ = self.transport.as_ref().unwrap().write(data);
    }
}

fn runtime(loops: usize) -> Runtime {
    Runtime::builder()
        .loops(loops)
        .handle_signals(false)
        .build()
        .unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn read_index(stream: &mut TcpStream) -> usize {
    let mut index = [0u8];
    stream.read_exact(&mut index).unwrap();
    index[0] as usize
}

/// Waits until `done()` or 10 s (then fails).
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn four_loops_share_a_port_under_reuse_port_and_stats_add_up() {
    let runtime = runtime(4);
    let addr = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), WhichLoop::default)
        .unwrap()[0];
    assert_ne!(addr.port(), 0, "port 0 resolves to one shared port");
    const CONNECTIONS: usize = 200;
    let mut per_loop = [0usize; 4];
    for _ in 0..CONNECTIONS {
        let mut stream = connect(addr);
        per_loop[read_index(&mut stream)] += 1;
    }
    assert!(
        per_loop.iter().all(|&n| n > 0),
        "every loop accepts some connections: {per_loop:?}"
    );
    let handle = runtime.handle();
    wait_for("the accepts to be counted", || {
        handle.stats().total().accepts == CONNECTIONS as u64
    });
    let stats = handle.stats();
    for (index, loop_stats) in stats.per_loop.iter().enumerate() {
        assert_eq!(loop_stats.accepts, per_loop[index] as u64, "loop {index}");
    }
    assert_eq!(stats.total().connections_opened, CONNECTIONS as u64);
    let text = stats.to_prometheus();
    assert!(text.contains(&format!(
        "loopcore_accepts_total{{loop=\"3\"}} {}",
        per_loop[3]
    )));
    runtime.shutdown(Duration::from_secs(5));
    runtime.run().unwrap();
}

#[test]
fn the_acceptor_spreads_connections_evenly_over_four_loops() {
    let runtime = runtime(4);
    let options = ServeOptions::default().balance(Balance::Acceptor { accept_on: 1 });
    let addr = runtime
        .serve("127.0.0.1:0", options, WhichLoop::default)
        .unwrap()[0];
    const CONNECTIONS: usize = 100;
    // Held open, so each pick sees the live counts of the earlier ones.
    let mut open = Vec::new();
    let mut per_loop = [0usize; 4];
    for _ in 0..CONNECTIONS {
        let mut stream = connect(addr);
        per_loop[read_index(&mut stream)] += 1;
        open.push(stream);
    }
    assert!(per_loop.iter().all(|&n| n > 0), "{per_loop:?}");
    let spread = per_loop.iter().max().unwrap() - per_loop.iter().min().unwrap();
    assert!(spread <= 1, "least-loaded placement: {per_loop:?}");
    let stats = runtime.stats();
    assert_eq!(
        stats.per_loop[1].accepts, CONNECTIONS as u64,
        "loop 1 accepts all"
    );
    assert_eq!(stats.total().accepts, CONNECTIONS as u64);
    assert_eq!(stats.total().connections_opened, CONNECTIONS as u64);
    // The echo works on every loop.
    for stream in &mut open {
        stream.write_all(b"x").unwrap();
        let mut back = [0u8];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"x");
    }
    drop(open);
    runtime.shutdown(Duration::from_secs(5));
    runtime.run().unwrap();
}

#[test]
fn messages_between_loops_arrive_once_in_per_sender_order() {
    let runtime = runtime(4);
    const PER_SENDER: u32 = 2000;
    let received: Arc<Mutex<Vec<(usize, u32)>>> = Arc::default();
    let target = runtime.handles()[0].clone();
    for sender in 0..4 {
        let target = target.clone();
        let received = received.clone();
        runtime.handles()[sender]
            .call_soon_threadsafe(move |_| {
                for seq in 0..PER_SENDER {
                    let received = received.clone();
                    target
                        .call_soon_threadsafe(move |_| received.lock().unwrap().push((sender, seq)))
                        .unwrap();
                }
            })
            .unwrap();
    }
    wait_for("every message", || {
        received.lock().unwrap().len() == 4 * PER_SENDER as usize
    });
    let received = received.lock().unwrap().clone();
    let mut by_sender: HashMap<usize, Vec<u32>> = HashMap::new();
    for (sender, seq) in received {
        by_sender.entry(sender).or_default().push(seq);
    }
    for sender in 0..4 {
        let expected: Vec<u32> = (0..PER_SENDER).collect();
        assert_eq!(by_sender[&sender], expected, "sender {sender}");
    }
    runtime.shutdown(Duration::ZERO);
    runtime.run().unwrap();
}

#[test]
fn a_task_spawned_on_another_loop_returns_its_result_to_the_caller() {
    let runtime = runtime(3);
    let handles = runtime.handles().to_vec();
    let result = runtime.handles()[0].spawn(move || async move {
        let here = loopcore::current_loop_index();
        let there = handles[2]
            .spawn(|| async {
                loopcore::sleep(Duration::from_millis(1)).await;
                loopcore::current_loop_index()
            })
            .await
            .unwrap();
        let panicked = handles[1]
            .spawn(|| async { panic!("boom on loop 1") })
            .await
            .unwrap_err();
        (here, there, panicked.is_panic())
    });
    let lp = EventLoop::new().unwrap();
    let (here, there, panicked) = lp.run_until_complete(result).unwrap().unwrap();
    assert_eq!((here, there, panicked), (Some(0), Some(2), true));
    runtime.shutdown(Duration::ZERO);
    runtime.run().unwrap();
}

#[test]
fn sharded_counters_sum_exactly_with_map_reduce_from_another_loop() {
    let runtime = runtime(4);
    let counters: Sharded<Cell<u64>> = Sharded::new(&runtime.handle(), |_| Cell::new(0));
    // Loop i increments its own counter (i + 1) * 1000 times, locally.
    for (index, handle) in runtime.handles().iter().enumerate() {
        let counters = counters.clone();
        handle
            .call_soon_threadsafe(move |lp| {
                for _ in 0..(index + 1) * 1000 {
                    let counters = counters.clone();
                    lp.call_soon(move |_| {
                        counters.with_local(|c| c.set(c.get() + 1)).unwrap();
                    });
                }
            })
            .unwrap();
    }
    // Summed from loop 3 once every loop has run its increments.
    let c = counters.clone();
    let expected: u64 = (1..=4).map(|i| i * 1000).sum();
    let total = runtime.handles()[3].spawn(move || async move {
        loop {
            let total = c
                .map_reduce(|c| c.get(), 0u64, |sum, n| sum + n)
                .await
                .unwrap();
            if total == expected {
                let per_loop = c.map_reduce(
                    |c| c.get(),
                    Vec::new(),
                    |mut v, n| {
                        v.push(n);
                        v
                    },
                );
                return (total, per_loop.await.unwrap());
            }
            loopcore::sleep(Duration::from_millis(1)).await;
        }
    });
    let lp = EventLoop::new().unwrap();
    let (total, per_loop) = lp
        .run_until_complete(loopcore::timeout(Duration::from_secs(10), total))
        .unwrap()
        .expect("the counters reach their total")
        .unwrap();
    assert_eq!(total, expected);
    assert_eq!(per_loop, vec![1000, 2000, 3000, 4000]);
    assert_eq!(
        counters.with_local(|c| c.get()).unwrap_err().kind(),
        ErrorKind::NoRunningLoop,
        "not reachable from outside the runtime's loops"
    );
    let out_of_range = lp
        .run_until_complete(counters.invoke_on(9, |c| c.get()))
        .unwrap();
    assert_eq!(out_of_range.unwrap_err().kind(), ErrorKind::InvalidInput);
    runtime.shutdown(Duration::ZERO);
    runtime.run().unwrap();
}

#[test]
fn connections_queued_at_shutdown_are_served_under_the_acceptor() {
    let runtime = runtime(3);
    let options = ServeOptions::default().balance(Balance::Acceptor { accept_on: 0 });
    let addr = runtime
        .serve("127.0.0.1:0", options, WhichLoop::default)
        .unwrap()[0];
    // Hold the accepting loop so the connections wait in its backlog while
    // the other loops, with nothing to do, stop.
    let (blocked, is_blocked) = std::sync::mpsc::channel();
    runtime.handles()[0]
        .call_soon_threadsafe(move |_| {
            blocked.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        })
        .unwrap();
    is_blocked.recv().unwrap();
    let mut clients: Vec<TcpStream> = (0..6).map(|_| connect(addr)).collect();
    runtime.shutdown(Duration::from_secs(2));
    for client in &mut clients {
        let index = read_index(client);
        assert!(index < 3, "served by a loop, not dropped");
    }
    drop(clients);
    runtime.run().unwrap();
}

#[test]
fn an_endless_grace_period_can_still_be_cut_short() {
    let runtime = runtime(2);
    let addr = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), || Closer {
            transport: None,
            stubborn: true,
        })
        .unwrap()[0];
    let _client = connect(addr);
    let handle = runtime.handle();
    wait_for("the connection", || {
        handle.stats().total().connections_opened == 1
    });
    runtime.shutdown(Duration::MAX);
    runtime.shutdown(Duration::ZERO);
    runtime.run().unwrap();
}

#[test]
fn a_panicking_callback_on_one_loop_leaves_every_loop_serving() {
    let runtime = runtime(2);
    runtime.handles()[0]
        .call_soon_threadsafe(|_| panic!("a callback panics on loop 0"))
        .unwrap();
    let handle = runtime.handle();
    wait_for("the panic to be counted", || {
        handle.stats().per_loop[0].panics == 1
    });
    let addr = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), WhichLoop::default)
        .unwrap()[0];
    let mut seen = [false; 2];
    for _ in 0..200 {
        seen[read_index(&mut connect(addr))] = true;
        if seen == [true, true] {
            break;
        }
    }
    assert_eq!(seen, [true, true], "both loops still accept");
    runtime.shutdown(Duration::ZERO);
    runtime.run().unwrap();
}

#[test]
fn a_panic_that_kills_a_loop_thread_shuts_the_runtime_down_with_an_error() {
    let started = Instant::now();
    let runtime = Runtime::builder()
        .loops(3)
        .handle_signals(false)
        .shutdown_grace(Duration::from_secs(1))
        .on_loop_start(|_| {
            if loopcore::current_loop_index() == Some(1) {
                panic!("loop 1 cannot start");
            }
        })
        .build()
        .unwrap();
    let error = runtime.run().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Panicked);
    assert!(error.to_string().contains("loop 1 cannot start"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
}

/// Closes at once when told to shut down, or never (`stubborn`).
struct Closer {
    transport: Option<Transport>,
    stubborn: bool,
}

impl Protocol for Closer {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }
    fn shutdown_requested(&mut self) {
        if !self.stubborn {
            let transport = self.transport.as_ref().unwrap();
            let _ = transport.write(b"bye");
            transport.close();
        }
    }
}

#[test]
fn shutdown_tells_protocols_and_tokens_then_aborts_stragglers_at_the_deadline() {
    let runtime = runtime(2);
    let polite = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), || Closer {
            transport: None,
            stubborn: false,
        })
        .unwrap()[0];
    let stubborn = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), || Closer {
            transport: None,
            stubborn: true,
        })
        .unwrap()[0];
    let token = runtime.handle().shutdown_token();
    let token_seen = Arc::new(Mutex::new(None));
    let seen = token_seen.clone();
    let waiter = token.clone();
    runtime.handles()[1]
        .call_soon_threadsafe(move |lp| {
            lp.spawn(async move {
                waiter.wait().await;
                *seen.lock().unwrap() = loopcore::current_loop_index();
            })
            .detach();
        })
        .unwrap();
    let mut polite_clients: Vec<TcpStream> = (0..8).map(|_| connect(polite)).collect();
    let mut stubborn_client = connect(stubborn);
    let handle = runtime.handle();
    wait_for("the connections to be set up", || {
        handle.stats().total().connections_opened == 9
    });
    assert!(!token.is_requested());
    let grace = Duration::from_secs(3);
    let started = Instant::now();
    runtime.shutdown(grace);
    for client in &mut polite_clients {
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"bye", "told, answered and closed");
    }
    let polite_done = started.elapsed();
    let mut rest = Vec::new();
    // Aborted: a reset or an EOF, after the grace period.
    let _ = stubborn_client.read_to_end(&mut rest);
    assert!(rest.is_empty());
    let stubborn_done = started.elapsed();
    assert!(
        polite_done < grace,
        "polite ones close at once ({polite_done:?})"
    );
    assert!(
        stubborn_done >= grace,
        "stragglers last until the deadline ({stubborn_done:?})"
    );
    runtime.run().unwrap();
    assert!(token.is_requested());
    assert_eq!(
        *token_seen.lock().unwrap(),
        Some(1),
        "the token woke the task on loop 1"
    );
    assert!(
        TcpStream::connect(polite).is_err(),
        "nothing listens after shutdown"
    );
    assert!(handle.is_stopped());
}

/// On loopback the CPU that processes a SYN is the connecting thread's, so
/// a client pinned to CPU c must be served by loop c % loops.
#[test]
fn incoming_cpu_serves_each_connection_on_the_loop_of_the_receiving_cpu() {
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    if cpus.len() < 2 {
        eprintln!("skipping: needs 2 CPUs in the affinity mask");
        return;
    }
    let runtime = runtime(2);
    let options = ServeOptions::default().balance(Balance::IncomingCpu);
    let addr = runtime
        .serve("127.0.0.1:0", options, WhichLoop::default)
        .unwrap()[0];
    for cpu in cpus.into_iter().take(4) {
        let served: Vec<usize> = std::thread::spawn(move || {
            assert!(core_affinity::set_for_current(cpu), "pinning the client");
            (0..10).map(|_| read_index(&mut connect(addr))).collect()
        })
        .join()
        .unwrap();
        assert_eq!(served, vec![cpu.id % 2; 10], "client on CPU {}", cpu.id);
    }
    runtime.shutdown(Duration::ZERO);
    runtime.run().unwrap();
}
