//! The `tokio_bridge` example as a client sees it: every answer carries
//! what the upstream said (reqwest, on the bridge's tokio thread, asked
//! it), many requests at once on every loop, keep-alive included; an
//! upstream that is down gives `502` and the server goes on serving; it
//! exits cleanly on SIGTERM. And `TokioBridge` itself: tokio's APIs panic
//! on a loop but run through the bridge; cancellation in both directions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::common::{signal, start_example, wait_with_timeout, KillOnDrop};
use loopcore::EventLoop;
use loopcore_examples::tokio_bridge::{BridgeError, TokioBridge};

const UPSTREAM_BODY: &str = "Hello, World!";

/// Connects with a read timeout, so a hung server fails the test.
fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream)
}

/// Sends `GET path` on `conn` and reads one response: (status, body).
fn get(conn: &mut BufReader<TcpStream>, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    conn.get_mut().write_all(request.as_bytes()).unwrap();
    let mut status_line = String::new();
    conn.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    let mut length = None;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        assert!(!line.is_empty(), "the connection ended inside the head");
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().unwrap());
            }
        }
    }
    let mut body = vec![0; length.expect("a content-length")];
    conn.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn answers_carry_the_upstream_body_and_a_down_upstream_gives_502() {
    let (child, addr, _stdout) = start_example("tokio_bridge", &["--port", "0", "--loops", "2"]);
    let mut child = KillOnDrop(child);

    // One connection, kept alive over several bridged calls.
    let mut conn = connect(addr);
    for _ in 0..3 {
        assert_eq!(get(&mut conn, "/"), (200, UPSTREAM_BODY.to_owned()));
    }

    // Many connections at once, each with a few requests in turn: the
    // calls overlap on the loops and on the tokio thread.
    let clients: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut conn = connect(addr);
                (0..5).map(|_| get(&mut conn, "/")).collect::<Vec<_>>()
            })
        })
        .collect();
    for client in clients {
        for answer in client.join().unwrap() {
            assert_eq!(answer, (200, UPSTREAM_BODY.to_owned()));
        }
    }

    // The upstream is down: 502, with the reason, and no crash or hang.
    let (status, body) = get(&mut conn, "/down");
    assert_eq!(status, 502, "{body}");
    assert!(body.starts_with("upstream failed: "), "{body}");
    assert!(body.contains("Connection refused"), "{body}");
    // Failures and successes at once, then the same connection goes on.
    let mixed: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let path = if i % 2 == 0 { "/down" } else { "/" };
                (path, get(&mut connect(addr), path).0)
            })
        })
        .collect();
    for client in mixed {
        let (path, status) = client.join().unwrap();
        assert_eq!(status, if path == "/down" { 502 } else { 200 }, "{path}");
    }
    assert_eq!(get(&mut conn, "/"), (200, UPSTREAM_BODY.to_owned()));
    drop(conn);

    signal(&child.0, libc::SIGTERM);
    let status = wait_with_timeout(&mut child.0, Duration::from_secs(20));
    assert!(status.success(), "{status}");
}

/// What `docs/ecosystem.md` says does not work: tokio's APIs called
/// straight on a loop find no tokio runtime there, and panic.
#[test]
fn tokio_apis_called_on_a_loop_panic_and_the_bridge_runs_them() {
    let bridge = TokioBridge::new(1).unwrap();
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let direct = loopcore::spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
        })
        .await;
        let panic = direct.unwrap_err().try_into_panic().unwrap();
        let message = loopcore::payload_message(panic.as_ref());
        assert!(message.contains("Tokio 1.x runtime"), "{message}");

        // Built inside the async block, so on the tokio thread: calling
        // `tokio::time::sleep` here, on the loop, would panic already.
        let bridged = bridge.spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
        });
        assert_eq!(bridged.await, Ok(()));
    })
    .unwrap();
    lp.close().unwrap();
}

/// Dropping the bridge on a loop thread does not wait for tokio, and what
/// was in flight resolves to `Cancelled`; dropping a `TokioTask` aborts
/// its tokio task.
#[test]
fn cancellation_goes_both_ways() {
    let bridge = TokioBridge::new(1).unwrap();
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        // A dropped TokioTask aborts its task: the guard inside is dropped
        // (on the tokio thread) and says so.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let task = bridge.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(task);
        let aborted = lp.run_in_executor(move || rx.recv_timeout(Duration::from_secs(5)));
        assert_eq!(aborted.await.unwrap(), Err(RecvTimeoutError::Disconnected));

        // The bridge dropped on the loop: in-flight work is cancelled, at once.
        let forever = bridge.spawn(std::future::pending::<()>());
        let started = Instant::now();
        drop(bridge);
        let outcome = loopcore::timeout(Duration::from_secs(5), forever).await;
        assert_eq!(outcome.unwrap(), Err(BridgeError::Cancelled));
        assert!(started.elapsed() < Duration::from_secs(1));
    })
    .unwrap();
    lp.close().unwrap();
}
