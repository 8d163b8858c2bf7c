//! The minimal mio plaintext server of issue 21: one thread, mio, httparse,
//! a prebuilt answer (loopcore's bytes, `Server: mio-minimal`) whose `Date`
//! is rewritten when a new second has begun, the clock read once per poll
//! wake-up; per connection a fixed read buffer; pipelining (every complete
//! request in the buffer answered in one write); keep-alive; close on EOF
//! or error. Nothing else: no timeouts, no request bodies, no limit on
//! queued output. Usage: `mio_minimal_plaintext PORT` (127.0.0.1:PORT).
#![forbid(unsafe_code)]

use std::io::{ErrorKind, Read, Write};

use loopcore_peers::{answer_all, Answer};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
/// A connection's read buffer: a request larger than this closes it.
const READ_BUFFER: usize = 8 * 1024;

struct Conn {
    stream: TcpStream,
    input: Box<[u8]>,
    filled: usize,
    out: Vec<u8>,
    sent: usize,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            input: vec![0; READ_BUFFER].into_boxed_slice(),
            filled: 0,
            out: Vec::with_capacity(READ_BUFFER),
            sent: 0,
        }
    }

    /// Reads until `WouldBlock`, queueing an answer for every complete
    /// request, then writes them all at once. False when the connection is
    /// done (EOF, error, bad or oversized request).
    fn on_readable(&mut self, answer: &[u8]) -> bool {
        let mut open = true;
        loop {
            if self.filled == self.input.len() {
                return false;
            }
            match self.stream.read(&mut self.input[self.filled..]) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => {
                    self.filled += n;
                    let Ok(used) = answer_all(&self.input[..self.filled], answer, &mut self.out)
                    else {
                        return false;
                    };
                    self.input.copy_within(used..self.filled, 0);
                    self.filled -= used;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        self.flush() && open
    }

    /// Writes what is queued until done or `WouldBlock`; false on error.
    fn flush(&mut self) -> bool {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return false,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        self.out.clear();
        self.sent = 0;
        true
    }
}

fn main() -> std::io::Result<()> {
    let port = loopcore_peers::port_arg();
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("mio-minimal listening on 127.0.0.1:{port}");
    let mut answer = Answer::new("mio-minimal");
    // Connections by token; free slots are reused.
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        answer.refresh();
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let slot = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            let interest = Interest::READABLE | Interest::WRITABLE;
                            if poll
                                .registry()
                                .register(&mut stream, Token(slot), interest)
                                .is_ok()
                            {
                                conns[slot] = Some(Conn::new(stream));
                            } else {
                                free.push(slot);
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            eprintln!("mio_minimal_plaintext: accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let slot = event.token().0;
            let Some(conn) = conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            let mut alive = true;
            if event.is_writable() && conn.sent < conn.out.len() {
                alive = conn.flush();
            }
            if alive && (event.is_readable() || event.is_read_closed()) {
                alive = conn.on_readable(answer.bytes());
            }
            if !alive {
                if let Some(mut conn) = conns[slot].take() {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
                free.push(slot);
            }
        }
    }
}
