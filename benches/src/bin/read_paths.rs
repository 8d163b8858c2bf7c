//! What each read path costs on a bulk transfer: a thread sends 256 MiB
//! over loopback to a loop, which reads it (a) in a protocol's
//! `data_received` (the floor: no stream buffer), (b) with
//! `StreamReader::read`, (c) through `futures_io::AsyncRead` and (d)
//! through `tokio::io::AsyncRead` (the `tokio-io` feature). (b) copies once
//! more than (a), from the stream's buffer into the caller's; (c) and (d)
//! must cost what (b) does: the adapters add no copy.
//! Usage: `read_paths [ROUNDS] [MIB] [PATH]` (defaults 5, 256, all four);
//! prints MiB/s per path and round, then the median, min and max. Naming
//! one path is for profiling it alone (`strace -c`, `perf record`).
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::future::poll_fn;
use std::io::Write;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use loopcore::{EventLoop, Protocol, ServerOptions, StreamReader, StreamWriter, Transport};

const CHUNK: usize = 64 * 1024;
const PATHS: [&str; 4] = ["protocol", "StreamReader::read", "futures_io", "tokio_io"];

/// Counts what arrives; stops the loop at EOF.
struct Counter(Rc<Cell<usize>>);

impl Protocol for Counter {
    fn connection_made(&mut self, _: Transport) {}
    fn data_received(&mut self, data: &[u8]) {
        self.0.set(self.0.get() + data.len());
    }
    fn eof_received(&mut self) -> bool {
        EventLoop::current().stop();
        false
    }
}

/// Reads to EOF with `path`, counting bytes; stops the loop. The writer
/// is held to the end: dropping it would close the connection.
async fn read_all(
    path: &'static str,
    mut reader: StreamReader,
    _writer: StreamWriter,
    total: Rc<Cell<usize>>,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match path {
            "StreamReader::read" => reader.read(&mut buf).await.unwrap(),
            "futures_io" => {
                poll_fn(|cx| futures_io::AsyncRead::poll_read(Pin::new(&mut reader), cx, &mut buf))
                    .await
                    .unwrap()
            }
            _ => poll_fn(|cx| {
                let mut read_buf = tokio::io::ReadBuf::new(&mut buf);
                tokio::io::AsyncRead::poll_read(Pin::new(&mut reader), cx, &mut read_buf)
                    .map_ok(|()| read_buf.filled().len())
            })
            .await
            .unwrap(),
        };
        if n == 0 {
            break;
        }
        total.set(total.get() + n);
    }
    EventLoop::current().stop();
}

/// One transfer of `bytes` read with `path`; MiB/s.
fn run(path: &'static str, bytes: usize) -> f64 {
    let lp = EventLoop::new().unwrap();
    let total = Rc::new(Cell::new(0));
    let counted = total.clone();
    let server = if path == "protocol" {
        lp.create_server("127.0.0.1:0", ServerOptions::default(), move || {
            Counter(counted.clone())
        })
    } else {
        lp.start_server(
            "127.0.0.1:0",
            ServerOptions::default(),
            move |reader, writer| read_all(path, reader, writer, counted.clone()),
        )
    }
    .unwrap();
    let addr = server.sockets()[0];
    let sender = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let chunk = vec![7u8; CHUNK];
        for _ in 0..bytes / CHUNK {
            stream.write_all(&chunk).unwrap();
        }
    });
    let started = Instant::now();
    lp.run_forever().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    sender.join().unwrap();
    assert_eq!(total.get(), bytes, "{path} lost bytes");
    bytes as f64 / (1 << 20) as f64 / seconds
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let only = args.next();
    if let Some(path) = only.as_deref().filter(|p| !PATHS.contains(p)) {
        eprintln!("unknown path {path:?}: one of {PATHS:?}");
        std::process::exit(2);
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); PATHS.len()];
    for round in 1..=rounds {
        for (i, path) in PATHS.iter().enumerate() {
            if only.as_deref().is_some_and(|only| only != *path) {
                continue;
            }
            let rate = run(path, mib << 20);
            println!("round {round} {path}: {rate:.0} MiB/s");
            results[i].push(rate);
        }
    }
    println!("| path | MiB/s median | min | max |");
    println!("| --- | --- | --- | --- |");
    for (path, rates) in PATHS.iter().zip(&mut results) {
        if rates.is_empty() {
            continue;
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "| {path} | {:.0} | {:.0} | {:.0} |",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1]
        );
    }
}
