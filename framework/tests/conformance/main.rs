//! CPython 3.12's own asyncio tests, ported to loopcore's API (issue 19's
//! conformance suite). One `#[test]` per CPython test, named after it; the
//! index of every CPython test and its status is `INDEX.md` in this folder.
//! Each module follows one CPython file, test for test and in its order,
//! so a module is as long as that file needs (`events.rs` and `streams.rs`
//! run past 800 lines for that reason).
//!
//! asyncio's `StreamReader` can be fed by hand (`feed_data`, `feed_eof`,
//! `set_exception`); loopcore's cannot, so these tests feed it through a
//! real socket on 127.0.0.1: a blocking std `TcpStream` plays the peer
//! (`feed_data` is a write, `feed_eof` a half-close, `set_exception` a reset)
//! and `buffered` waits until the bytes are in the reader's buffer, as they
//! are in asyncio's before the loop runs.

mod base_events;
mod certs;
mod events;
mod events_pty;
mod events_ssl;
mod server;
mod signals;
mod streams;
mod subprocess;

use std::cell::RefCell;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use loopcore::{EventLoop, StreamReader, StreamWriter};

/// Awaits `future` for at most 10 s: a test that would hang fails instead.
pub async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
    loopcore::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung (no answer in 10 s)"))
}

/// A stream pair connected to a std socket that plays the peer.
pub async fn connected() -> (StreamReader, StreamWriter, Peer) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lp = EventLoop::current();
    let (reader, writer) = bounded("open_connection", lp.open_connection(addr.to_string()))
        .await
        .unwrap();
    // The connection is in the accept queue: this does not block.
    let (peer, _) = listener.accept().unwrap();
    peer.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (reader, writer, Peer(Rc::new(peer)))
}

/// The far end of a [`connected`] pair.
#[derive(Clone, Debug)]
pub struct Peer(pub Rc<TcpStream>);

impl Peer {
    /// asyncio's `feed_data`.
    pub fn feed(&self, data: &[u8]) {
        (&*self.0).write_all(data).unwrap();
    }
    /// asyncio's `feed_eof`.
    pub fn feed_eof(&self) {
        self.0.shutdown(std::net::Shutdown::Write).unwrap();
    }
    /// asyncio's `set_exception`: the connection is reset (linger 0, close).
    pub fn reset(self) {
        let socket = socket2::SockRef::from(&*self.0);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(self);
    }
}

/// Waits until at least `n` bytes are buffered in `reader` (what asyncio's
/// tests get by feeding before running the loop).
pub async fn buffered(reader: &mut StreamReader, n: usize) {
    let got = bounded(
        "waiting for the fed bytes",
        reader.peek_with(|bytes| (bytes.len() >= n).then_some(())),
    )
    .await
    .unwrap();
    assert_eq!(got, Some(()), "the stream ended before {n} bytes came");
}

/// Everything left in `reader` up to end of stream (asyncio's `read(-1)`);
/// what asyncio's tests check as `stream._buffer` once the peer is done.
pub async fn read_all(reader: &mut StreamReader) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = bounded("read", reader.read(&mut buf)).await.unwrap();
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
    }
}

/// Collects what reaches the loop's exception handler (asyncio's tests'
/// `messages` list).
pub fn capture_exceptions(lp: &EventLoop) -> Rc<RefCell<Vec<String>>> {
    let messages = Rc::new(RefCell::new(Vec::new()));
    let m = messages.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, context: &loopcore::ExceptionContext| {
            m.borrow_mut().push(context.message.clone());
        },
    ));
    messages
}

/// CPython's `test_utils.run_test_server`: answers each connection's
/// request with `HTTP/1.0 200 OK` and a body of `Test message`, then
/// closes. Serves `connections` connections, on a thread.
pub fn run_test_server(connections: usize) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        for _ in 0..connections {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            answer_test_request(&mut s);
        }
    });
    (addr, thread)
}

/// The test server's one exchange: reads a request head, answers it with
/// `Test message` (nothing if the client went away first).
pub fn answer_test_request(stream: &mut (impl std::io::Read + std::io::Write)) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.ends_with(b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    if request.ends_with(b"\r\n\r\n") {
        let _ =
            stream.write_all(b"HTTP/1.0 200 OK\r\nContent-type: text/plain\r\n\r\nTest message");
    }
}
