//! Helpers the integration tests share: a protocol that records what it
//! sees ([`Probe`], [`Seen`]), a buffered protocol with a small buffer
//! ([`Collector`]), servers and clients on 127.0.0.1, running a loop until
//! a condition holds, and an ordered log ([`Log`]).

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Duration;

use loopcore::{EventLoop, Protocol, ServerOptions, Transport};

pub(crate) mod tls;

/// A shared log that callbacks append to, for checking order.
#[derive(Clone, Default, Debug)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// What a test protocol saw, shared with the test.
#[derive(Default, Debug)]
pub(crate) struct Seen {
    pub(crate) made: Cell<u32>,
    pub(crate) data: RefCell<Vec<u8>>,
    pub(crate) eofs: Cell<u32>,
    pub(crate) lost: Cell<u32>,
    pub(crate) lost_with_error: Cell<bool>,
    pub(crate) pauses: Cell<u32>,
    pub(crate) resumes: Cell<u32>,
    pub(crate) transport: RefCell<Option<Transport>>,
}

/// Extra behaviour for `data_received`.
pub(crate) type OnData = Box<dyn FnMut(&Transport, &[u8])>;

/// A protocol whose behaviour each test picks.
pub(crate) struct Probe {
    pub(crate) seen: Rc<Seen>,
    /// This connection's transport (`seen.transport` is the latest one).
    pub(crate) own: Option<Transport>,
    pub(crate) echo: bool,
    pub(crate) keep_open_on_eof: bool,
    pub(crate) on_data: Option<OnData>,
}

impl Probe {
    pub(crate) fn new(seen: &Rc<Seen>) -> Self {
        Self {
            seen: seen.clone(),
            own: None,
            echo: false,
            keep_open_on_eof: false,
            on_data: None,
        }
    }
    fn transport(&self) -> Transport {
        self.own.clone().expect("connection_made first")
    }
}

impl Protocol for Probe {
    fn connection_made(&mut self, transport: Transport) {
        self.seen.made.set(self.seen.made.get() + 1);
        self.own = Some(transport.clone());
        *self.seen.transport.borrow_mut() = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.seen.data.borrow_mut().extend_from_slice(data);
        let transport = self.transport();
        if self.echo {
            transport.write(data).unwrap();
        }
        if let Some(f) = &mut self.on_data {
            f(&transport, data);
        }
    }
    fn eof_received(&mut self) -> bool {
        self.seen.eofs.set(self.seen.eofs.get() + 1);
        self.keep_open_on_eof
    }
    fn connection_lost(&mut self, error: Option<std::io::Error>) {
        self.seen.lost.set(self.seen.lost.get() + 1);
        self.seen.lost_with_error.set(error.is_some());
    }
    fn pause_writing(&mut self) {
        self.seen.pauses.set(self.seen.pauses.get() + 1);
    }
    fn resume_writing(&mut self) {
        self.seen.resumes.set(self.seen.resumes.get() + 1);
    }
}

/// Runs the loop until `done()` or 10 s pass (then fails).
pub(crate) fn run_until(lp: &EventLoop, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(1)))
            .unwrap();
    }
}

/// A plain server on 127.0.0.1 whose connections record into `seen`.
pub(crate) fn probe_server(lp: &EventLoop, seen: &Rc<Seen>) -> SocketAddr {
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            Probe::new(&s)
        })
        .unwrap();
    server.sockets()[0]
}

pub(crate) fn client<T: Send + 'static>(
    addr: SocketAddr,
    f: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> JoinHandle<T> {
    std::thread::spawn(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        f(stream)
    })
}

/// Collects everything through a deliberately small lent buffer.
pub(crate) struct Collector {
    pub(crate) buf: Vec<u8>,
    pub(crate) got: Rc<RefCell<Vec<u8>>>,
    pub(crate) lost: Rc<Cell<Option<bool>>>,
}

impl loopcore::BufferedProtocol for Collector {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        assert!(size_hint > 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, nbytes: usize) {
        self.got.borrow_mut().extend_from_slice(&self.buf[..nbytes]);
    }
    fn connection_lost(&mut self, error: Option<std::io::Error>) {
        self.lost.set(Some(error.is_some()));
    }
}

/// A file of `len` bytes that are not all alike (so an offset mistake
/// shows), under the temporary directory.
pub(crate) fn test_file(tag: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let content: Vec<u8> = (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect();
    let path = std::env::temp_dir().join(format!(
        "loopcore-sendfile-{tag}-{}.bin",
        std::process::id()
    ));
    std::fs::write(&path, &content).unwrap();
    (path, content)
}
