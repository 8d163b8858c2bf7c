//! The skeleton the hand-written mio baselines share: one thread, one
//! listener on 127.0.0.1, edge-triggered connections registered for
//! READABLE|WRITABLE, one read buffer, and a write path that keeps what the
//! kernel refuses. Each baseline only supplies what it does with bytes.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

/// One connection of a raw baseline server.
#[derive(Debug)]
pub struct RawConn<S> {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes to send; `out[sent..]` is what the kernel has not taken yet.
    pub out: Vec<u8>,
    /// How much of `out` was sent.
    pub sent: usize,
    /// The baseline's own per-connection state.
    pub state: S,
}

impl<S> RawConn<S> {
    /// Writes what the kernel takes; false when the connection failed.
    pub fn flush(&mut self) -> bool {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
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

/// Serves 127.0.0.1:`port` forever. `on_readable` reads until `WouldBlock`
/// (using the shared buffer), queues replies in `out` and flushes them; it
/// returns false when the connection is done.
pub fn serve<S: Default>(
    port: u16,
    mut on_readable: impl FnMut(&mut RawConn<S>, &mut [u8]) -> bool,
) -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<usize, RawConn<S>> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    println!("raw mio server listening on 127.0.0.1:{port}");
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    // A peer may reset before we get here: skip it then.
                    let _ = stream.set_nodelay(true);
                    let token = Token(next);
                    next += 1;
                    let registered = poll.registry().register(
                        &mut stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    );
                    if registered.is_ok() {
                        let conn = RawConn {
                            stream,
                            out: Vec::new(),
                            sent: 0,
                            state: S::default(),
                        };
                        conns.insert(token.0, conn);
                    }
                }
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(&key) else {
                continue;
            };
            let mut alive = true;
            if event.is_writable() && conn.sent < conn.out.len() {
                alive = conn.flush();
            }
            if alive && (event.is_readable() || event.is_read_closed()) {
                alive = on_readable(conn, &mut buf);
            }
            if !alive {
                if let Some(mut conn) = conns.remove(&key) {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
            }
        }
    }
}
