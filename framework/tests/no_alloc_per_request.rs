//! The HTTP/1 request path allocates nothing: after warm-up, a loop
//! serving keep-alive requests with the framework's driver
//! (`Http1Connection`) makes no heap allocation on its thread, however
//! many requests it answers (issue 21). A counting global allocator counts
//! per thread, so the client's own allocations do not count; the handler
//! reads its thread's count when asked for `/mark`.
//!
//! It also pins "no timer armed per request": a timer's callback is a
//! boxed closure, and the framework's (the request deadline, the idle
//! timeout) capture state, so arming one allocates. And "the clock is read
//! at most once per loop iteration": the loop counts its clock reads
//! (`LoopStats::clock_reads`), and serving a request adds none beyond the
//! one read when the poll returns (and the `Date`'s once a second).
//!
//! Its own test binary: the global allocator is for this file only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use loopcore::http1::{self, Http1Connection, Http1Options, Reply, Request};
use loopcore::{EventLoop, ServerOptions};

/// Counts allocations (and growths) per thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: an allocation while this thread's locals are torn down
    // is not counted rather than a panic.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every method hands the call to `System` unchanged; counting
// touches only a thread-local `Cell` (a const initializer, no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The loop thread's allocation count when `/mark` was last answered.
static MARKED: AtomicU64 = AtomicU64::new(u64::MAX);
/// The loop's clock reads and iterations then.
static CLOCK_READS: AtomicU64 = AtomicU64::new(0);
static ITERATIONS: AtomicU64 = AtomicU64::new(0);

fn respond(request: &Request<'_>, reply: &mut Reply<'_>) {
    if request.path == "/mark" {
        MARKED.store(ALLOCATIONS.with(Cell::get), Ordering::SeqCst);
        let stats = EventLoop::current().stats();
        CLOCK_READS.store(stats.clock_reads, Ordering::SeqCst);
        ITERATIONS.store(stats.iterations, Ordering::SeqCst);
    }
    let persistence = reply.persistence();
    http1::write_response(
        reply.out(),
        200,
        &[("Server", "loopcore"), ("Content-Type", "text/plain")],
        b"Hello, World!",
        persistence,
    );
}

/// Sends `GET target` on `stream` and reads the whole answer (its length
/// is known: the body is 13 bytes after the head).
fn request(stream: &mut TcpStream, target: &str, scratch: &mut Vec<u8>) {
    // One write: a request split over two reads is held until it is
    // whole, which may allocate (and should not happen here).
    scratch.clear();
    write!(scratch, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream.write_all(scratch).unwrap();
    scratch.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed the connection");
        scratch.extend_from_slice(&chunk[..n]);
        if let Some(head_end) = scratch.windows(4).position(|w| w == b"\r\n\r\n") {
            if scratch.len() >= head_end + 4 + 13 {
                break;
            }
        }
    }
    assert!(scratch.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(scratch.ends_with(b"Hello, World!"));
}

#[test]
fn serving_keep_alive_requests_allocates_nothing_on_the_loop_thread() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<loopcore::LoopHandle>();
    let server = std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let server = lp
            .create_server("127.0.0.1:0", ServerOptions::default(), || {
                Http1Connection::new(respond, Http1Options::default())
            })
            .unwrap();
        addr_tx.send(server.sockets()[0]).unwrap();
        stop_tx.send(lp.handle()).unwrap();
        lp.run_forever().unwrap();
        server.close();
        lp.close().unwrap();
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let handle = stop_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Several connections used in turn, as a load generator does.
    let mut streams: Vec<TcpStream> = (0..4)
        .map(|_| {
            let stream = TcpStream::connect(addr).unwrap();
            stream.set_nodelay(true).unwrap();
            stream
        })
        .collect();
    let mut scratch = Vec::with_capacity(4096);
    for i in 0..400 {
        request(&mut streams[i % 4], "/", &mut scratch);
    }
    request(&mut streams[0], "/mark", &mut scratch);
    let before = MARKED.load(Ordering::SeqCst);
    let (reads_before, iterations_before) = (
        CLOCK_READS.load(Ordering::SeqCst),
        ITERATIONS.load(Ordering::SeqCst),
    );
    let started = std::time::Instant::now();
    for i in 0..1_000 {
        request(&mut streams[i % 4], "/", &mut scratch);
    }
    request(&mut streams[1], "/mark", &mut scratch);
    let seconds = started.elapsed().as_secs();
    let after = MARKED.load(Ordering::SeqCst);
    let reads = CLOCK_READS.load(Ordering::SeqCst) - reads_before;
    let iterations = ITERATIONS.load(Ordering::SeqCst) - iterations_before;
    // One request outstanding at a time: at least one iteration each.
    assert!(
        iterations >= 1_000,
        "{iterations} iterations for 1,000 requests"
    );
    // One read per iteration, plus the `Date` once a second (the seconds
    // boundaries crossed: at most the whole seconds elapsed, plus one).
    assert!(
        reads <= iterations + seconds + 1,
        "{reads} clock reads in {iterations} iterations ({seconds} s): more than one per iteration"
    );
    assert_ne!(before, u64::MAX, "the handler never saw /mark");
    assert_eq!(
        after - before,
        0,
        "the loop thread allocated {} times while answering 1,000 keep-alive requests",
        after - before
    );
    handle.call_soon_threadsafe(|lp| lp.stop()).unwrap();
    drop(streams);
    server.join().unwrap();
}
