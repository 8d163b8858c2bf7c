//! The "close to the limit" baseline for the end-to-end benchmark: a
//! hand-written single-threaded `mio` HTTP/1.1 plaintext server with no
//! framework — edge-triggered reads into one buffer, the shared
//! `loopcore::http1` codec, one `write` per read. Usage: `mio_plaintext PORT`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use loopcore::http1::{self, Limits};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    partial: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
}

fn answer(out: &mut Vec<u8>, input: &[u8], limits: &Limits) -> (usize, bool) {
    http1::serve_requests(out, input, limits, |request, out| {
        http1::write_response(
            out,
            200,
            &[("Server", "mio"), ("Content-Type", "text/plain")],
            b"Hello, World!",
            request.keep_alive,
        )
    })
}

/// Returns false when the connection is done.
fn on_readable(conn: &mut Conn, buf: &mut [u8], limits: &Limits) -> bool {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                let close = if conn.partial.is_empty() {
                    let (used, close) = answer(&mut conn.out, &buf[..n], limits);
                    conn.partial.extend_from_slice(&buf[used..n]);
                    close
                } else {
                    conn.partial.extend_from_slice(&buf[..n]);
                    let (used, close) = answer(&mut conn.out, &conn.partial, limits);
                    conn.partial.drain(..used);
                    close
                };
                if !flush(conn) || close {
                    return false;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Writes what the kernel takes; false on error.
fn flush(conn: &mut Conn) -> bool {
    while conn.sent < conn.out.len() {
        match conn.stream.write(&conn.out[conn.sent..]) {
            Ok(n) => conn.sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    conn.out.clear();
    conn.sent = 0;
    true
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let limits = Limits::default();
    println!("mio_plaintext listening on 127.0.0.1:{port}");
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            // A peer may reset before we get here: skip it.
                            let _ = stream.set_nodelay(true);
                            let token = Token(next);
                            next += 1;
                            if poll
                                .registry()
                                .register(
                                    &mut stream,
                                    token,
                                    Interest::READABLE | Interest::WRITABLE,
                                )
                                .is_err()
                            {
                                continue;
                            }
                            conns.insert(
                                token.0,
                                Conn {
                                    stream,
                                    partial: Vec::new(),
                                    out: Vec::new(),
                                    sent: 0,
                                },
                            );
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let key = event.token().0;
            let alive = match conns.get_mut(&key) {
                Some(conn) => {
                    let mut alive = true;
                    if event.is_writable() && !conn.out.is_empty() {
                        alive = flush(conn);
                    }
                    if alive && (event.is_readable() || event.is_read_closed()) {
                        alive = on_readable(conn, &mut buf, &limits);
                    }
                    alive
                }
                None => continue,
            };
            if !alive {
                if let Some(mut conn) = conns.remove(&key) {
                    let _ = poll.registry().deregister(&mut conn.stream);
                }
            }
        }
    }
}
