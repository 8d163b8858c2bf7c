//! CPython 3.12 `Lib/test/test_asyncio/test_server.py`.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use loopcore::{EventLoop, Server, ServerOptions, StreamReader, StreamWriter};

use crate::{bounded, read_all};

/// Yields to the loop a few times (asyncio's `await asyncio.sleep(0)`,
/// with room for the loop to handle what the kernel has for it).
async fn run_briefly() {
    for _ in 0..3 {
        loopcore::sleep(Duration::ZERO).await;
    }
}

/// Waits until `server` counts `n` connections.
async fn clients(server: &Server, n: usize) {
    bounded("the server's clients", async {
        while server.client_count() != n {
            loopcore::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

/// A handler that keeps its connection until the client closes it (what
/// holds a server "attached" in asyncio's `_attach`/`_detach`).
async fn hold(mut reader: StreamReader, writer: StreamWriter) {
    read_all(&mut reader).await;
    drop(writer);
}

#[test]
fn test_start_server_1() {
    // CPython 3.12 test_server.SelectorStartServerTests.test_start_server_1
    // (inherited from BaseStartServer; `serve_forever` has no counterpart:
    // the test serves until the handler closes the server, which asyncio's
    // test does by cancelling `serve_forever`).
    start_server_1(None);
}

#[test]
fn test_start_unix_server_1() {
    // CPython 3.12 test_server.SelectorStartServerTests.test_start_unix_server_1
    // (as test_start_server_1, on a Unix socket).
    let path = std::env::temp_dir().join(format!(
        "loopcore-conformance-{}-start-unix-server-1.sock",
        std::process::id()
    ));
    start_server_1(Some(path.to_str().unwrap().to_owned()));
}

/// A client's stream, TCP or Unix.
trait ClientStream: Read + Write + Send {}
impl<S: Read + Write + Send> ClientStream for S {}

/// `test_start_server_1` on TCP (`unix_path` `None`) or a Unix socket: a
/// server made not serving starts serving; its handler closes it while
/// answering the one client.
fn start_server_1(unix_path: Option<String>) {
    const HELLO_LEN: usize = 5 * 1024 + 1;
    let lp = EventLoop::new().unwrap();
    let closed_by_handler = Rc::new(Cell::new(None::<Rc<Server>>));
    let slot = closed_by_handler.clone();
    let serve = move |mut reader: StreamReader, writer: StreamWriter| {
        let server = slot.take();
        async move {
            bounded("readline", reader.read_line()).await.unwrap();
            if let Some(server) = server {
                server.close();
            }
            writer.write(b"1").unwrap();
            writer.close();
            bounded("wait_closed", writer.wait_closed()).await;
        }
    };
    let options = ServerOptions::default().start_serving(false);
    let server = Rc::new(
        match &unix_path {
            None => lp.start_server("127.0.0.1:0", options, serve),
            Some(path) => lp.start_unix_server(path, options, serve),
        }
        .unwrap(),
    );
    closed_by_handler.set(Some(server.clone()));
    assert!(!server.is_serving());
    let connect: Box<dyn FnOnce() -> Box<dyn ClientStream> + Send> = match &unix_path {
        None => {
            let addr = server.sockets()[0];
            Box::new(move || {
                let sock = TcpStream::connect(addr).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                Box::new(sock)
            })
        }
        Some(path) => {
            let path = path.clone();
            Box::new(move || {
                let sock = std::os::unix::net::UnixStream::connect(path).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                Box::new(sock)
            })
        }
    };
    server.start_serving();
    assert!(server.is_serving());
    let client = std::thread::spawn(move || {
        let mut sock = connect();
        let mut hello = vec![b'1'; HELLO_LEN - 1];
        hello.push(b'\n');
        sock.write_all(&hello).unwrap();
        let mut one = [0u8; 1];
        sock.read_exact(&mut one).unwrap();
        one
    });
    let s = server.clone();
    lp.run_until_complete(async move { bounded("wait_closed", s.wait_closed()).await })
        .unwrap();
    assert_eq!(&client.join().unwrap(), b"1");
    assert!(!server.is_serving());
    assert!(server.sockets().is_empty(), "{:?}", server.sockets());
}

#[test]
fn test_wait_closed_basic() {
    // CPython 3.12 test_server.TestServer2.test_wait_closed_basic
    // (asyncio's `_attach`/`_detach` are a client connecting and leaving).
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        let lp = EventLoop::current();
        let srv = Rc::new(
            lp.start_server("127.0.0.1:0", ServerOptions::default(), hold)
                .unwrap(),
        );
        let waiter = |srv: &Rc<Server>| {
            let srv = srv.clone();
            lp.spawn(async move { srv.wait_closed().await })
        };
        // No client, not closed: blocks.
        let task1 = waiter(&srv);
        run_briefly().await;
        assert!(!task1.is_finished());
        // A client, not closed: blocks.
        let client = TcpStream::connect(srv.sockets()[0]).unwrap();
        clients(&srv, 1).await;
        let task2 = waiter(&srv);
        run_briefly().await;
        assert!(!task1.is_finished());
        assert!(!task2.is_finished());
        srv.close();
        run_briefly().await;
        // A client, closed: blocks.
        let task3 = waiter(&srv);
        run_briefly().await;
        assert!(!task1.is_finished());
        assert!(!task2.is_finished());
        assert!(!task3.is_finished());
        // No client, closed: every waiter completes.
        drop(client);
        bounded("task1", task1).await.unwrap();
        bounded("task2", task2).await.unwrap();
        bounded("task3", task3).await.unwrap();
        // And a new one returns at once.
        bounded("wait_closed", srv.wait_closed()).await;
    })
    .unwrap();
}

#[test]
fn test_wait_closed_race() {
    // CPython 3.12 test_server.TestServer2.test_wait_closed_race
    // (asyncio's `_detach` is `abort_clients` here).
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        let lp = EventLoop::current();
        let srv = Rc::new(
            lp.start_server("127.0.0.1:0", ServerOptions::default(), hold)
                .unwrap(),
        );
        let s = srv.clone();
        let task = lp.spawn(async move { s.wait_closed().await });
        run_briefly().await;
        assert!(!task.is_finished());
        let _client = TcpStream::connect(srv.sockets()[0]).unwrap();
        clients(&srv, 1).await;
        let s = srv.clone();
        lp.call_soon(move |_| s.close());
        let s = srv.clone();
        lp.call_soon(move |_| s.abort_clients());
        bounded("wait_closed", srv.wait_closed()).await;
        bounded("task", task).await.unwrap();
    })
    .unwrap();
}
