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
    crate::tcp::run_until(&lp, || client.is_finished());
    client.join().unwrap();
}
