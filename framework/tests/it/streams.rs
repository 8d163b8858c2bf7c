//! open_connection / start_server streams.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use loopcore::{EventLoop, ServerOptions};

#[test]
fn read_line_read_exact_and_eof() {
    let lp = EventLoop::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"first line\nsecond").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(b" line\n0123456789tail").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    });
    let (lines, exact, tail, eof, short) = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
            let first = reader.read_line().await.unwrap();
            let second = reader.read_line().await.unwrap();
            let mut ten = [0u8; 10];
            reader.read_exact(&mut ten).await.unwrap();
            let tail = reader.read_line().await.unwrap();
            let eof = reader.read_line().await.unwrap();
            let mut buf = [0u8; 4];
            let zero = reader.read(&mut buf).await.unwrap();
            let short = reader.read_exact(&mut buf).await.unwrap_err();
            assert!(reader.at_eof());
            // Half-open: we can still answer after the peer's EOF.
            writer.write(b"thanks").unwrap();
            writer.drain().await.unwrap();
            writer.close();
            writer.wait_closed().await;
            assert_eq!(zero, 0);
            ((first, second), ten, tail, eof, short)
        })
        .unwrap();
    assert_eq!(lines.0, b"first line\n");
    assert_eq!(lines.1, b"second line\n");
    assert_eq!(&exact, b"0123456789");
    assert_eq!(tail, b"tail", "the last line without a newline");
    assert!(eof.is_empty());
    assert_eq!(
        short.io_error().unwrap().kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    assert_eq!(peer.join().unwrap(), "thanks");
}

#[test]
fn start_server_runs_a_task_per_client_and_drain_honours_flow_control() {
    let lp = EventLoop::new().unwrap();
    let server = lp
        .start_server(
            "127.0.0.1:0",
            ServerOptions::default(),
            |mut reader, writer| async move {
                // Echo lines, then send a large reply when asked.
                loop {
                    let line = reader.read_line().await.unwrap();
                    if line.is_empty() {
                        break;
                    }
                    if line == b"big\n" {
                        for _ in 0..64 {
                            writer.write(&[b'x'; 64 * 1024]).unwrap();
                            writer.drain().await.unwrap();
                            assert!(
                                writer.transport().get_write_buffer_size() <= 128 * 1024,
                                "drain returned above the high-water mark"
                            );
                        }
                    } else {
                        writer.write(&line).unwrap();
                    }
                }
                writer.close();
            },
        )
        .unwrap();
    let addr = server.sockets()[0];
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"hello\n").unwrap();
        let mut echo = [0u8; 6];
        s.read_exact(&mut echo).unwrap();
        s.write_all(b"big\n").unwrap();
        // Read slowly at first so the server's buffer fills.
        std::thread::sleep(Duration::from_millis(100));
        let mut big = vec![0u8; 64 * 64 * 1024];
        s.read_exact(&mut big).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        (echo, big.iter().all(|&b| b == b'x'), rest.len())
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !client.is_finished() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(1)))
            .unwrap();
    }
    let (echo, all_x, rest) = client.join().unwrap();
    assert_eq!(&echo, b"hello\n");
    assert!(all_x);
    assert_eq!(rest, 0);
}

#[test]
fn streams_implement_the_futures_io_traits() {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::future::poll_fn;
    use std::pin::Pin;

    let lp = EventLoop::new().unwrap();
    let server = lp
        .start_server(
            "127.0.0.1:0",
            ServerOptions::default(),
            |mut reader, mut writer| async move {
                let mut buf = [0u8; 5];
                loop {
                    let n = poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut buf))
                        .await
                        .unwrap();
                    if n == 0 {
                        break;
                    }
                    let written = poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, &buf[..n]))
                        .await
                        .unwrap();
                    assert_eq!(written, n);
                    poll_fn(|cx| Pin::new(&mut writer).poll_flush(cx))
                        .await
                        .unwrap();
                }
                poll_fn(|cx| Pin::new(&mut writer).poll_close(cx))
                    .await
                    .unwrap();
            },
        )
        .unwrap();
    let addr = server.sockets()[0];
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"through the futures-io traits").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        all
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client.is_finished() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(1)))
            .unwrap();
    }
    assert_eq!(client.join().unwrap(), "through the futures-io traits");
}

/// The stream's buffer is read into directly while it is empty and through
/// a scratch buffer while bytes wait in it; reads that exactly fill the
/// room offered (4 KiB growing to 64 KiB), messages across several reads,
/// and messages sent in one go with the next one all come out whole and
/// in order, and a request answered before the next arrives never hangs.
#[test]
fn messages_of_every_size_around_the_read_sizes_arrive_whole() {
    let sizes = [
        1, 4095, 4096, 4097, 8192, 16384, 65535, 65536, 65537, 200_000, 3,
    ];
    let lp = EventLoop::new().unwrap();
    let server = lp
        .start_server(
            "127.0.0.1:0",
            ServerOptions::default(),
            |mut reader, writer| async move {
                // Each message: a 4-byte length, then the bytes; answered
                // with the sum of the bytes.
                loop {
                    let mut header = [0u8; 4];
                    if reader.read_exact(&mut header).await.is_err() {
                        break;
                    }
                    let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
                    reader.read_exact(&mut body).await.unwrap();
                    let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
                    writer.write(&sum.to_be_bytes()).unwrap();
                }
                writer.close();
            },
        )
        .unwrap();
    let addr = server.sockets()[0];
    let message = |size: usize| {
        let body: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
        let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
        let mut framed = (size as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&body);
        (framed, sum)
    };
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = [0u8; 8];
        // One at a time: each waits for its answer.
        for &size in &sizes {
            let (framed, sum) = message(size);
            s.write_all(&framed).unwrap();
            s.read_exact(&mut answer).unwrap();
            assert_eq!(u64::from_be_bytes(answer), sum, "message of {size} bytes");
        }
        // All at once: later messages wait in the buffer behind earlier ones.
        let mut all = Vec::new();
        let mut sums = Vec::new();
        for &size in &sizes {
            let (framed, sum) = message(size);
            all.extend_from_slice(&framed);
            sums.push(sum);
        }
        s.write_all(&all).unwrap();
        for (sum, size) in sums.into_iter().zip(sizes) {
            s.read_exact(&mut answer).unwrap();
            assert_eq!(
                u64::from_be_bytes(answer),
                sum,
                "pipelined message of {size} bytes"
            );
        }
    });
    crate::support::run_until(&lp, || client.is_finished());
    client.join().unwrap();
}

/// A peer that accepts one connection, writes `chunks` (each a separate
/// write), half-closes, then reads until the client closes; returns what
/// the client sent.
fn one_shot_peer(chunks: Vec<Vec<u8>>) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        for chunk in chunks {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = s.read_to_end(&mut Vec::new());
    });
    (addr, peer)
}

/// Awaits `future` for at most 5 s: a read that hangs fails the test
/// instead of hanging it.
async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
    loopcore::timeout(Duration::from_secs(5), future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung (no answer in 5 s)"))
}

/// Reads to end of stream with `read`.
async fn read_to_end(reader: &mut loopcore::StreamReader) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = bounded("read", reader.read(&mut buf)).await.unwrap();
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
    }
}

const LONG: usize = 200 * 1024;

/// asyncio's `readuntil` and its `LimitOverrunError`: a line of 200 KiB
/// (over the default 64 KiB limit, and over the 128 KiB where reading
/// pauses) fails promptly with a typed error that names the limit, and
/// its bytes stay in the buffer for whoever reads next.
#[test]
fn read_until_fails_on_a_line_over_the_limit_and_keeps_the_bytes() {
    let mut sent = vec![b'a'; LONG];
    sent.extend_from_slice(b"\nafter\n");
    let (addr, peer) = one_shot_peer(vec![sent.clone()]);
    let lp = EventLoop::new().unwrap();
    let got = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
            assert_eq!(reader.limit(), 64 * 1024, "asyncio's default limit");
            let err = bounded("read_until", reader.read_until(b'\n'))
                .await
                .unwrap_err();
            assert!(err.is_limit_overrun(), "{err:?}");
            assert_eq!(err.kind(), loopcore::ErrorKind::LimitOverrun);
            let message = err.to_string();
            assert!(
                message.contains("65536") && message.contains("set_limit"),
                "the message says the limit and how to raise it: {message}"
            );
            // Again: the bytes are still there, so it fails again.
            let again = bounded("read_until", reader.read_until(b'\n'))
                .await
                .unwrap_err();
            assert!(again.is_limit_overrun(), "{again:?}");
            let all = read_to_end(&mut reader).await;
            writer.close();
            bounded("wait_closed", writer.wait_closed()).await;
            all
        })
        .unwrap();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "every byte, in order, after the error");
    peer.join().unwrap();
}

/// asyncio's `readline` on an over-long line: an error of the same kind,
/// the line's bytes discarded; the lines after it read fine.
#[test]
fn read_line_skips_a_line_over_the_limit_and_reads_the_next() {
    let mut long = vec![b'x'; LONG];
    long.push(b'\n');
    let (addr, peer) = one_shot_peer(vec![
        b"first\n".to_vec(),
        long,
        b"next line\n".to_vec(),
        b"last".to_vec(),
    ]);
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async move {
        let lp = EventLoop::current();
        let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
        let first = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(first, b"first\n");
        let err = bounded("read_line", reader.read_line()).await.unwrap_err();
        assert!(err.is_limit_overrun(), "{err:?}");
        let next = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(next, b"next line\n", "the line after the long one");
        let last = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(last, b"last");
        let eof = bounded("read_line", reader.read_line()).await.unwrap();
        assert!(eof.is_empty());
        assert!(reader.at_eof());
        writer.close();
        bounded("wait_closed", writer.wait_closed()).await;
    })
    .unwrap();
    peer.join().unwrap();
}

/// The limit counts the bytes before the delimiter (asyncio's): a line of
/// `limit` bytes and its delimiter is read; one byte more is an overrun,
/// also when the delimiter is already buffered. `read_until` then keeps
/// the bytes; `read_line` discards through the delimiter (only), as
/// asyncio's `readline` does.
#[test]
fn the_limit_counts_the_bytes_before_the_delimiter() {
    let sent = b"0123456789abcdef\n0123456789abcdefg\nok\n".to_vec();
    let total = sent.len();
    let (addr, peer) = one_shot_peer(vec![sent]);
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async move {
        let lp = EventLoop::current();
        let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
        reader.set_limit(16);
        assert_eq!(reader.limit(), 16);
        // Everything buffered first (the peer wrote it at once).
        let whole = bounded(
            "peek_with",
            reader.peek_with(|bytes| (bytes.len() == total).then_some(())),
        )
        .await
        .unwrap();
        assert_eq!(whole, Some(()));
        let at_limit = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(at_limit, b"0123456789abcdef\n");
        let err = bounded("read_until", reader.read_until(b'\n'))
            .await
            .unwrap_err();
        assert!(err.is_limit_overrun(), "{err:?}");
        let err = bounded("read_line", reader.read_line()).await.unwrap_err();
        assert!(err.is_limit_overrun(), "{err:?}");
        let mut rest = [0u8; 16];
        let n = bounded("read", reader.read(&mut rest)).await.unwrap();
        assert_eq!(&rest[..n], b"ok\n", "discarded through the delimiter only");
        writer.close();
        bounded("wait_closed", writer.wait_closed()).await;
    })
    .unwrap();
    peer.join().unwrap();
}

/// `set_limit` raises the limit (asyncio's `limit=`): a 200 KiB line is
/// read whole, also when it was set after reading had paused on the
/// full buffer; the last line, cut by the peer's FIN, too.
#[test]
fn a_raised_limit_reads_a_long_line_whole() {
    let mut long = vec![b'y'; LONG];
    long.push(b'\n');
    let (addr, peer) = one_shot_peer(vec![long, b"short\n".to_vec(), vec![b'z'; LONG]]);
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async move {
        let lp = EventLoop::current();
        let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
        // Let the buffer fill past 128 KiB, where reading pauses.
        loopcore::sleep(Duration::from_millis(200)).await;
        reader.set_limit(1024 * 1024);
        let line = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(line.len(), LONG + 1);
        assert!(line[..LONG].iter().all(|&b| b == b'y'));
        let short = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(short, b"short\n");
        let tail = bounded("read_line", reader.read_line()).await.unwrap();
        assert_eq!(tail.len(), LONG, "the unterminated last line, at EOF");
        assert!(reader.at_eof());
        writer.close();
        bounded("wait_closed", writer.wait_closed()).await;
    })
    .unwrap();
    peer.join().unwrap();
}

/// A long line cut by the peer's FIN: no hang (reading paused on a full
/// buffer never read the FIN before). `read_line` fails, then skips the
/// rest of the line to the end of stream; `read_until` fails and leaves
/// every byte to `read`.
#[test]
fn a_long_line_then_the_peers_fin_does_not_hang() {
    for skip in [true, false] {
        let (addr, peer) = one_shot_peer(vec![vec![b'w'; LONG]]);
        let lp = EventLoop::new().unwrap();
        lp.run_until_complete(async move {
            let lp = EventLoop::current();
            let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
            if skip {
                let err = bounded("read_line", reader.read_line()).await.unwrap_err();
                assert!(err.is_limit_overrun(), "{err:?}");
                let eof = bounded("read_line", reader.read_line()).await.unwrap();
                assert!(eof.is_empty(), "the rest of the line skipped, then EOF");
                assert!(reader.at_eof());
            } else {
                let err = bounded("read_until", reader.read_until(b'\n'))
                    .await
                    .unwrap_err();
                assert!(err.is_limit_overrun(), "{err:?}");
                assert_eq!(read_to_end(&mut reader).await.len(), LONG);
            }
            writer.close();
            bounded("wait_closed", writer.wait_closed()).await;
        })
        .unwrap();
        peer.join().unwrap();
    }
}

/// `peek_with` whose `decide` is still undecided with more than the limit
/// buffered fails the same way (reading would pause on it for good), and
/// leaves the bytes.
#[test]
fn peek_with_undecided_past_the_limit_fails_instead_of_hanging() {
    let (addr, peer) = one_shot_peer(vec![vec![b'v'; LONG]]);
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async move {
        let lp = EventLoop::current();
        let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
        let err = bounded("peek_with", reader.peek_with(|_| None::<()>))
            .await
            .unwrap_err();
        assert!(err.is_limit_overrun(), "{err:?}");
        assert_eq!(read_to_end(&mut reader).await.len(), LONG);
        writer.close();
        bounded("wait_closed", writer.wait_closed()).await;
    })
    .unwrap();
    peer.join().unwrap();
}

/// asyncio's `readuntil` at end of stream raises `IncompleteReadError`
/// with the bytes that came (CPython's
/// test_streams.test_readuntil_eof); `readline` returns them instead
/// (test_readline_eof). Here: `ErrorKind::IncompleteRead` with
/// `Error::partial`, and `read_line` unchanged.
#[test]
fn read_until_at_end_of_stream_fails_with_the_partial_bytes() {
    let (addr, peer) = one_shot_peer(vec![b"whole\nhalf a li".to_vec()]);
    let lp = EventLoop::new().unwrap();
    let (whole, incomplete, clean_end) = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
            let whole = bounded("read_until", reader.read_until(b'\n'))
                .await
                .unwrap();
            let incomplete = bounded("read_until", reader.read_until(b'\n'))
                .await
                .unwrap_err();
            // The partial bytes left the buffer with the error.
            let clean_end = bounded("read_until", reader.read_until(b'\n'))
                .await
                .unwrap_err();
            writer.close();
            writer.wait_closed().await;
            (whole, incomplete, clean_end)
        })
        .unwrap();
    peer.join().unwrap();
    assert_eq!(whole, b"whole\n");
    assert!(incomplete.is_incomplete_read(), "{incomplete}");
    assert_eq!(incomplete.partial(), Some(&b"half a li"[..]));
    assert_eq!(
        std::io::Error::from(incomplete).kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    assert!(clean_end.is_incomplete_read());
    assert_eq!(clean_end.into_partial(), Some(Vec::new()));

    // read_line keeps asyncio's readline: the rest, then empty.
    let (addr, peer) = one_shot_peer(vec![b"half a li".to_vec()]);
    let (rest, end) = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let (mut reader, writer) = lp.open_connection(addr.to_string()).await.unwrap();
            let rest = bounded("read_line", reader.read_line()).await.unwrap();
            let end = bounded("read_line", reader.read_line()).await.unwrap();
            writer.close();
            writer.wait_closed().await;
            (rest, end)
        })
        .unwrap();
    peer.join().unwrap();
    assert_eq!(rest, b"half a li");
    assert!(end.is_empty());
}
