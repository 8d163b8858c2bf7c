//! The deterministic HTTP/1.1 load of `callgrind-e2e.sh`'s `plain` and
//! `pipe-16` workloads: CONNS keep-alive connections opened up front and
//! used in turn, one batch of DEPTH requests (`GET / HTTP/1.1`, `Host: x`,
//! written at once) outstanding at a time, so every batch is its own loop
//! iteration on the server. WARMUP requests first, then the line `warm` on
//! stdout and a wait for one line on stdin (the script zeroes callgrind's
//! counters meanwhile), then COUNTED requests, then `requests=N`.
//! Counts are exact: the same run gives the same server work every time.
//! Usage: `turn_client ADDR CONNS DEPTH WARMUP COUNTED`.
#![forbid(unsafe_code)]

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// One keep-alive connection and what it has read past the last answer.
struct Conn {
    stream: TcpStream,
    buffered: Vec<u8>,
}

impl Conn {
    fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            stream,
            buffered: Vec::new(),
        })
    }

    /// Writes `batch` (DEPTH requests at once) and reads DEPTH answers.
    fn exchange(&mut self, batch: &[u8], depth: usize) -> Result<(), Box<dyn std::error::Error>> {
        self.stream.write_all(batch)?;
        for _ in 0..depth {
            self.read_answer()?;
        }
        Ok(())
    }

    /// Reads one answer framed by `Content-Length` (every server measured
    /// answers so); what follows it stays buffered.
    fn read_answer(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(length) = answer_length(&self.buffered)? {
                self.buffered.drain(..length);
                return Ok(());
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.buffered.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The length of the whole answer at the start of `bytes`, once it is all
/// there.
fn answer_length(bytes: &[u8]) -> Result<Option<usize>, Box<dyn std::error::Error>> {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..head_end])?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected answer: {head}").into());
    }
    let body = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .ok_or("an answer without Content-Length")?;
    let total = head_end + 4 + body;
    Ok((bytes.len() >= total).then_some(total))
}

/// `requests` requests over `conns` in turn, `depth` per batch.
fn run(conns: &mut [Conn], depth: usize, requests: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let batch = REQUEST.repeat(depth);
    let mut done = 0u64;
    let mut next = 0;
    while done < requests {
        conns[next].exchange(&batch, depth)?;
        done += depth as u64;
        next = (next + 1) % conns.len();
    }
    Ok(done)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, conns, depth, warmup, counted] = args.as_slice() else {
        return Err("usage: turn_client ADDR CONNS DEPTH WARMUP COUNTED".into());
    };
    let (conns, depth): (usize, usize) = (conns.parse()?, depth.parse()?);
    let (warmup, counted): (u64, u64) = (warmup.parse()?, counted.parse()?);
    if conns == 0 || depth == 0 {
        return Err("CONNS and DEPTH must be at least 1".into());
    }
    let mut all = (0..conns)
        .map(|_| Conn::open(addr))
        .collect::<std::io::Result<Vec<_>>>()?;
    run(&mut all, depth, warmup)?;
    println!("warm");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let done = run(&mut all, depth, counted)?;
    println!("requests={done}");
    Ok(())
}
