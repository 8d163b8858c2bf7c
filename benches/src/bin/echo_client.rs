//! Load for the echo benchmark: one thread, CONNS connections, each sending
//! a SIZE-byte message and waiting for all of it to come back before the
//! next (closed loop), for SECONDS. Prints `round_trips=N seconds=S`.
//! Usage: `echo_client ADDR CONNS SIZE SECONDS`.
#![forbid(unsafe_code)]

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Conn {
    stream: TcpStream,
    sent: usize,
    received: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, conns, size, seconds] = args.as_slice() else {
        return Err("usage: echo_client ADDR CONNS SIZE SECONDS".into());
    };
    let addr: std::net::SocketAddr = addr.parse()?;
    let (conns, size, seconds): (usize, usize, f64) =
        (conns.parse()?, size.parse()?, seconds.parse()?);
    let message = vec![b'e'; size];
    let mut poll = Poll::new()?;
    let mut all = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut stream = TcpStream::from_std(std::net::TcpStream::connect(addr)?);
        stream.set_nodelay(true)?;
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        all.push(Conn {
            stream,
            sent: 0,
            received: 0,
        });
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut round_trips = 0u64;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        for event in events.iter() {
            let conn = &mut all[event.token().0];
            loop {
                if conn.sent < size {
                    match conn.stream.write(&message[conn.sent..]) {
                        Ok(n) => conn.sent += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                match conn.stream.read(&mut buf) {
                    Ok(0) => return Err("the server closed a connection".into()),
                    Ok(n) => {
                        conn.received += n;
                        if conn.received >= size {
                            round_trips += 1;
                            conn.received -= size;
                            conn.sent = 0;
                            // Send the next message, then let the other
                            // connections run: its echo brings a new edge.
                            match conn.stream.write(&message) {
                                Ok(n) => conn.sent = n,
                                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                                Err(e) => return Err(e.into()),
                            }
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    println!(
        "round_trips={round_trips} seconds={:.3}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
