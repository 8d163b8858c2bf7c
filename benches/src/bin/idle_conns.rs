//! Holds many keep-alive connections to one server, for the memory per
//! connection measurement (`benches/scripts/conn-memory.sh`): opens CONNS
//! connections, prints `open`, waits for a line on stdin; then sends one
//! `GET / HTTP/1.1` on each and reads each answer, prints `answered`, and
//! waits for another line before closing them all.
//! Usage: `idle_conns ADDR CONNS`.
#![forbid(unsafe_code)]

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn wait_for_line() -> std::io::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map(drop)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, conns] = args.as_slice() else {
        return Err("usage: idle_conns ADDR CONNS".into());
    };
    let conns: usize = conns.parse()?;
    let mut all = Vec::with_capacity(conns);
    for _ in 0..conns {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        all.push(stream);
    }
    println!("open");
    std::io::stdout().flush()?;
    wait_for_line()?;
    for stream in &mut all {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    }
    let mut buf = [0u8; 4096];
    for stream in &mut all {
        // One small answer each: its head and body come in one segment.
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err("the server closed a connection".into());
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    println!("answered");
    std::io::stdout().flush()?;
    wait_for_line()?;
    Ok(())
}
