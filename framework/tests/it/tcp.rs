//! TCP transports and protocols against real sockets on 127.0.0.1 and ::1,
//! with std clients on other threads.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use loopcore::{ErrorKind, EventLoop, ServerOptions};

use crate::support::{client, run_until, Collector, Probe, Seen};

fn echo_round_trip(bind: &str) {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server(bind, ServerOptions::default(), move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    let addr = server.sockets()[0];
    let c = client(addr, |mut stream| {
        let mut got = Vec::new();
        for i in 0..100u32 {
            let msg = format!("message {i}\n");
            stream.write_all(msg.as_bytes()).unwrap();
            let mut buf = vec![0u8; msg.len()];
            stream.read_exact(&mut buf).unwrap();
            got.push(String::from_utf8(buf).unwrap());
        }
        got
    });
    run_until(&lp, || c.is_finished());
    let got = c.join().unwrap();
    assert_eq!(got.len(), 100);
    assert_eq!(got[99], "message 99\n");
    run_until(&lp, || seen.lost.get() == 1);
    assert_eq!(seen.made.get(), 1);
    assert_eq!(seen.eofs.get(), 1);
    assert!(!seen.lost_with_error.get());
    let stats = lp.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.connections_closed, 1);
}

#[test]
fn echo_over_ipv4() {
    echo_round_trip("127.0.0.1:0");
}

#[test]
fn echo_over_ipv6() {
    echo_round_trip("[::1]:0");
}

#[test]
fn writes_of_one_callback_arrive_in_order_and_write_eof_half_closes() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let mut p = Probe::new(&s);
            p.on_data = Some(Box::new(|t, _| {
                for i in 0..16 {
                    t.write(format!("{i:02} ").as_bytes()).unwrap();
                }
                t.writelines(&[b"end", b"\n"]).unwrap();
                t.write_eof().unwrap();
                assert_eq!(
                    t.write(b"late").unwrap_err().kind(),
                    ErrorKind::InvalidInput,
                    "write after write_eof is an error"
                );
                assert!(t.can_write_eof());
            }));
            p
        })
        .unwrap();
    let c = client(server.sockets()[0], |mut stream| {
        stream.write_all(b"go").unwrap();
        let mut all = String::new();
        stream.read_to_string(&mut all).unwrap();
        all
    });
    run_until(&lp, || c.is_finished());
    let expected: String = (0..16).map(|i| format!("{i:02} ")).collect::<String>() + "end\n";
    assert_eq!(c.join().unwrap(), expected);
    run_until(&lp, || seen.lost.get() == 1);
}

#[test]
fn eof_received_true_keeps_the_connection_half_open() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || Probe {
            keep_open_on_eof: true,
            ..Probe::new(&s)
        })
        .unwrap();
    let c = client(server.sockets()[0], |mut stream| {
        stream.write_all(b"question").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    });
    run_until(&lp, || seen.eofs.get() == 1);
    // Half-open: the peer finished sending, we can still answer.
    let t = seen.transport.borrow().clone().unwrap();
    assert!(!t.is_closing());
    t.write(b"answer after eof").unwrap();
    t.close();
    run_until(&lp, || c.is_finished());
    assert_eq!(c.join().unwrap(), "answer after eof");
    assert_eq!(&*seen.data.borrow(), b"question");
    run_until(&lp, || seen.lost.get() == 1);
    assert_eq!(seen.lost.get(), 1);
}

#[test]
fn flow_control_pauses_once_and_resumes_once_when_the_reader_catches_up() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            Probe::new(&s)
        })
        .unwrap();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let c = client(server.sockets()[0], move |mut stream| {
        // Do not read until told: the server's buffer must fill up.
        go_rx.recv().unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    run_until(&lp, || seen.made.get() == 1);
    let t = seen.transport.borrow().clone().unwrap();
    t.set_write_buffer_limits(Some(256 * 1024), Some(64 * 1024))
        .unwrap();
    // Named fields: asyncio's tuple is (low, high), ours was (high, low);
    // neither order can be mixed up any more (CPython's
    // test_selector_events ..._set_write_buffer_limits).
    assert_eq!(
        t.get_write_buffer_limits().unwrap(),
        loopcore::WriteBufferLimits {
            low: 64 * 1024,
            high: 256 * 1024
        }
    );
    // Only `high` given: `low` is a quarter of it, as asyncio does.
    t.set_write_buffer_limits(Some(128 * 1024), None).unwrap();
    let limits = t.get_write_buffer_limits().unwrap();
    assert_eq!((limits.low, limits.high), (32 * 1024, 128 * 1024));
    t.set_write_buffer_limits(Some(256 * 1024), Some(64 * 1024))
        .unwrap();
    assert_eq!(
        t.set_write_buffer_limits(Some(1), Some(2))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    // 8 MiB cannot fit in the kernel's buffers of a peer that reads nothing.
    let payload: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    for chunk in payload.chunks(64 * 1024) {
        t.write(chunk).unwrap();
    }
    run_until(&lp, || seen.pauses.get() == 1);
    assert!(t.get_write_buffer_size() > 256 * 1024);
    assert_eq!(seen.resumes.get(), 0);
    go_tx.send(()).unwrap();
    run_until(&lp, || seen.resumes.get() == 1);
    assert_eq!(seen.pauses.get(), 1, "paused exactly once");
    t.close();
    run_until(&lp, || c.is_finished());
    let got = c.join().unwrap();
    assert_eq!(got.len(), payload.len());
    assert!(got == payload, "bytes arrived out of order or corrupted");
    run_until(&lp, || seen.lost.get() == 1);
}

#[test]
fn close_flushes_but_abort_drops_the_buffer() {
    for abort in [false, true] {
        let lp = EventLoop::new().unwrap();
        let seen = Rc::new(Seen::default());
        let s = seen.clone();
        let server = lp
            .create_server("127.0.0.1:0", ServerOptions::default(), move || {
                Probe::new(&s)
            })
            .unwrap();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let c = client(server.sockets()[0], move |mut stream| {
            go_rx.recv().unwrap();
            let mut all = Vec::new();
            let _ = stream.read_to_end(&mut all);
            all.len()
        });
        run_until(&lp, || seen.made.get() == 1);
        let t = seen.transport.borrow().clone().unwrap();
        let payload = vec![7u8; 4 * 1024 * 1024];
        t.write(&payload).unwrap();
        run_until(&lp, || t.get_write_buffer_size() < payload.len());
        if abort {
            t.abort();
        } else {
            t.close();
        }
        assert!(t.is_closing());
        assert_eq!(
            t.write(b"x").unwrap_err().kind(),
            ErrorKind::Closed,
            "write after close"
        );
        go_tx.send(()).unwrap();
        run_until(&lp, || c.is_finished() && seen.lost.get() == 1);
        let received = c.join().unwrap();
        if abort {
            assert!(received < payload.len(), "abort still sent everything");
        } else {
            assert_eq!(received, payload.len(), "close lost buffered bytes");
        }
        // Stale handles are harmless.
        t.close();
        t.abort();
        assert_eq!(t.write(b"x").unwrap_err().kind(), ErrorKind::Closed);
        assert_eq!(seen.lost.get(), 1, "connection_lost exactly once");
    }
}

#[test]
fn pause_reading_holds_data_until_resume() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            Probe::new(&s)
        })
        .unwrap();
    let c = client(server.sockets()[0], |mut stream| {
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(b"held back").unwrap();
        stream
    });
    run_until(&lp, || seen.made.get() == 1);
    let t = seen.transport.borrow().clone().unwrap();
    t.pause_reading();
    t.pause_reading();
    assert!(!t.is_reading());
    let _stream = {
        run_until(&lp, || c.is_finished());
        c.join().unwrap()
    };
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(20)))
        .unwrap();
    assert!(seen.data.borrow().is_empty(), "read while paused");
    t.resume_reading();
    t.resume_reading();
    assert!(t.is_reading());
    run_until(&lp, || seen.data.borrow().len() == 9);
    assert_eq!(&*seen.data.borrow(), b"held back");
}

#[test]
fn server_close_keeps_clients_and_wait_closed_waits_for_them() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    let addr = server.sockets()[0];
    assert!(server.is_serving());
    let (step_tx, step_rx) = std::sync::mpsc::channel::<()>();
    let c = client(addr, move |mut stream| {
        step_rx.recv().unwrap();
        // The server stopped listening but this connection still works.
        stream.write_all(b"still here").unwrap();
        let mut buf = [0u8; 10];
        stream.read_exact(&mut buf).unwrap();
        step_rx.recv().unwrap();
        buf
    });
    run_until(&lp, || seen.made.get() == 1);
    assert_eq!(server.client_count(), 1);
    server.close();
    server.close();
    assert!(!server.is_serving());
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after close"
    );
    step_tx.send(()).unwrap();
    let closed = Rc::new(Cell::new(false));
    let cl = closed.clone();
    let srv = server.clone();
    lp.spawn(async move {
        srv.wait_closed().await;
        cl.set(true);
    })
    .detach();
    run_until(&lp, || seen.data.borrow().len() == 10);
    assert!(
        !closed.get(),
        "wait_closed returned while a client was connected"
    );
    step_tx.send(()).unwrap();
    run_until(&lp, || c.is_finished());
    assert_eq!(&c.join().unwrap(), b"still here");
    run_until(&lp, || closed.get());
    assert_eq!(server.client_count(), 0);
}

#[test]
fn close_clients_and_abort_clients_end_every_connection() {
    for abort in [false, true] {
        let lp = EventLoop::new().unwrap();
        let seen = Rc::new(Seen::default());
        let s = seen.clone();
        let server = lp
            .create_server("127.0.0.1:0", ServerOptions::default(), move || {
                Probe::new(&s)
            })
            .unwrap();
        let addr = server.sockets()[0];
        let clients: Vec<_> = (0..3)
            .map(|_| {
                client(addr, |mut stream| {
                    let mut rest = Vec::new();
                    let _ = stream.read_to_end(&mut rest);
                })
            })
            .collect();
        run_until(&lp, || server.client_count() == 3);
        if abort {
            server.abort_clients();
        } else {
            server.close_clients();
        }
        run_until(&lp, || clients.iter().all(|c| c.is_finished()));
        run_until(&lp, || server.client_count() == 0);
        assert_eq!(seen.lost.get(), 3, "connection_lost once per connection");
    }
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let options = ServerOptions::default().reuse_port(true);
    let s = seen.clone();
    let first = lp
        .create_server("127.0.0.1:0", options.clone(), move || Probe::new(&s))
        .unwrap();
    let port = first.sockets()[0].port();
    let s = seen.clone();
    let second = lp
        .create_server(("127.0.0.1", port), options, move || Probe::new(&s))
        .unwrap();
    assert_eq!(second.sockets()[0].port(), port);
    let without = lp.create_server(("127.0.0.1", port), ServerOptions::default(), || {
        Probe::new(&Rc::new(Seen::default()))
    });
    assert!(
        without.is_err(),
        "a port in use must be refused without reuse_port"
    );
    let clients: Vec<_> = (0..20)
        .map(|_| client(first.sockets()[0], |_stream| ()))
        .collect();
    run_until(&lp, || seen.made.get() == 20);
    for c in clients {
        c.join().unwrap();
    }
    run_until(&lp, || seen.lost.get() == 20);
    assert_eq!(first.client_count() + second.client_count(), 0);
}

#[test]
fn create_connection_talks_to_a_server_on_the_same_loop() {
    let lp = EventLoop::new().unwrap();
    let server_seen = Rc::new(Seen::default());
    let s = server_seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    let client_seen = Rc::new(Seen::default());
    let transport = lp
        .run_until_complete(
            lp.create_connection(server.sockets()[0].to_string(), Probe::new(&client_seen)),
        )
        .unwrap()
        .unwrap();
    assert_eq!(transport.peername().unwrap(), server.sockets()[0]);
    assert_eq!(transport.sockname().unwrap().ip(), server.sockets()[0].ip());
    assert!(transport.as_raw_fd().unwrap() >= 0);
    transport.write(b"ping").unwrap();
    run_until(&lp, || client_seen.data.borrow().len() == 4);
    assert_eq!(&*client_seen.data.borrow(), b"ping");
    transport.close();
    run_until(&lp, || {
        client_seen.lost.get() == 1 && server_seen.lost.get() == 1
    });
    // Nobody listens on a freshly closed port: a clear error.
    let addr = server.sockets()[0];
    server.close();
    assert!(server.sockets().is_empty(), "a closed server lists nothing");
    let err = lp
        .run_until_complete(lp.create_connection(addr.to_string(), Probe::new(&client_seen)))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.io_error().unwrap().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

#[test]
fn a_panicking_protocol_loses_only_its_own_connection() {
    let lp = EventLoop::new().unwrap();
    lp.set_exception_handler(Some(|_: &EventLoop, _: &loopcore::ExceptionContext| {}));
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let mut p = Probe::new(&s);
            p.echo = true;
            p.on_data = Some(Box::new(|_, data| {
                if data.starts_with(b"boom") {
                    panic!("protocol bug");
                }
            }));
            p
        })
        .unwrap();
    let addr = server.sockets()[0];
    let bad = client(addr, |mut stream| {
        stream.write_all(b"boom").unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    let good = client(addr, |mut stream| {
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(b"fine").unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).unwrap();
        buf
    });
    run_until(&lp, || bad.is_finished() && good.is_finished());
    bad.join().unwrap();
    assert_eq!(&good.join().unwrap(), b"fine");
    run_until(&lp, || seen.lost.get() >= 1);
    assert_eq!(lp.stats().panics, 1);
}

/// The server side of `emfile_pauses_accepting_without_spinning`, run in a
/// child process whose fd limit is lowered (never in the test process).
#[test]
#[ignore = "run as a child process by emfile_pauses_accepting_without_spinning"]
fn emfile_child() {
    let limit: u64 = std::env::var("EMFILE_LIMIT").unwrap().parse().unwrap();
    let lowered = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit reads a valid rlimit; it only affects this process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
    let lp = EventLoop::new().unwrap();
    let accept_errors = Rc::new(Cell::new(0u32));
    let errors = accept_errors.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, ctx: &loopcore::ExceptionContext| {
            if ctx.source == Some("accept") {
                errors.set(errors.get() + 1);
            }
        },
    ));
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server(
            "127.0.0.1:0",
            ServerOptions::default().backlog(512),
            move || Probe::new(&s),
        )
        .unwrap();
    println!("port={}", server.sockets()[0].port());
    lp.call_later(Duration::from_secs(7), |lp| lp.stop());
    lp.run_forever().unwrap();
    println!(
        "opened={} accept_errors={}",
        lp.stats().connections_opened,
        accept_errors.get()
    );
}

fn child_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15; after "pid (comm)" they are 11, 12.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

#[test]
fn emfile_pauses_accepting_without_spinning() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tcp::emfile_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("EMFILE_LIMIT", "40")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("child exited early").unwrap();
        // libtest may print "test name ... " on the same line first.
        if let Some((_, port)) = line.split_once("port=") {
            break port.trim().parse().unwrap();
        }
    };
    // Far more connections than the child has fds for.
    let mut clients: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = child_cpu_seconds(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let spent = child_cpu_seconds(child.id()) - before;
    assert!(
        spent < 0.2,
        "the server spun at EMFILE: {spent:.2} s of CPU in 2 s"
    );
    // Free the server's fds: the connections it holds see EOF and close.
    clients.drain(..60);
    // Read to the end: a closed pipe would fail the child's own output.
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let summary = rest
        .iter()
        .find_map(|l| {
            l.split_once("opened=")
                .map(|(_, rest)| format!("opened={rest}"))
        })
        .expect("child printed no summary");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed ({status}): {stderr}");
    let mut fields = summary
        .split_whitespace()
        .map(|kv| kv.split('=').nth(1).unwrap().parse::<u64>().unwrap());
    let (opened, accept_errors) = (fields.next().unwrap(), fields.next().unwrap());
    assert!(
        accept_errors >= 1,
        "EMFILE never reached the exception handler"
    );
    assert_eq!(opened, 80, "accepting did not resume once fds were free");
    drop(clients);
}

#[test]
fn unix_sockets_echo_and_clean_up_their_file_only_if_still_theirs() {
    let lp = EventLoop::new().unwrap();
    let dir = std::env::temp_dir().join(format!("loopcore-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let path_str = path.to_str().unwrap().to_owned();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_unix_server(&path_str, ServerOptions::default(), move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    assert_eq!(server.unix_path().as_deref(), Some(path.as_path()));
    assert!(server.sockets().is_empty());
    // A std client on a thread.
    let p = path.clone();
    let c = std::thread::spawn(move || {
        let mut stream = std::os::unix::net::UnixStream::connect(p).unwrap();
        stream.write_all(b"over unix").unwrap();
        let mut buf = [0u8; 9];
        stream.read_exact(&mut buf).unwrap();
        buf
    });
    run_until(&lp, || c.is_finished());
    assert_eq!(&c.join().unwrap(), b"over unix");
    // loopcore's own client.
    let client_seen = Rc::new(Seen::default());
    let t = lp
        .run_until_complete(lp.create_unix_connection(&path_str, Probe::new(&client_seen)))
        .unwrap()
        .unwrap();
    assert!(t.peername().is_err(), "no IP address on a Unix socket");
    assert!(t.unix_peername().unwrap().as_pathname().is_some());
    t.write(b"ping").unwrap();
    run_until(&lp, || client_seen.data.borrow().len() == 4);
    t.close();
    server.close();
    assert!(!path.exists(), "the socket file was left behind");

    // A file that replaced ours is not removed.
    let server = lp
        .create_unix_server(&path_str, ServerOptions::default(), || {
            Probe::new(&Rc::new(Seen::default()))
        })
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    server.close();
    assert!(path.exists(), "removed a file that was not ours");
    std::fs::remove_dir_all(&dir).unwrap();

    // Abstract names leave no file at all.
    let name = format!("@loopcore-test-{}", std::process::id());
    let server = lp
        .create_unix_server(&name, ServerOptions::default(), || {
            Probe::new(&Rc::new(Seen::default()))
        })
        .unwrap();
    assert!(server.unix_path().is_none());
    let t = lp
        .run_until_complete(lp.create_unix_connection(&name, Probe::new(&Rc::new(Seen::default()))))
        .unwrap()
        .unwrap();
    t.abort();
    server.close();
}

#[test]
fn a_buffered_protocol_reads_straight_into_its_own_buffer() {
    for buffer_size in [7usize, 0] {
        let lp = EventLoop::new().unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let lost = Rc::new(Cell::new(None));
        let (g, l) = (got.clone(), lost.clone());
        let server = lp
            .create_server("127.0.0.1:0", ServerOptions::default(), move || {
                loopcore::Buffered(Collector {
                    buf: vec![0; buffer_size],
                    got: g.clone(),
                    lost: l.clone(),
                })
            })
            .unwrap();
        let payload: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 241) as u8).collect();
        let sent = payload.clone();
        let c = client(server.sockets()[0], move |mut stream| {
            // The server may abort (empty buffer): ignore write errors then.
            let _ = stream.write_all(&sent);
        });
        run_until(&lp, || c.is_finished() && lost.get().is_some());
        c.join().unwrap();
        if buffer_size == 0 {
            assert_eq!(
                lost.get(),
                Some(true),
                "an empty buffer must abort with an error"
            );
        } else {
            assert_eq!(lost.get(), Some(false));
            assert!(*got.borrow() == payload, "bytes lost or reordered");
        }
    }
}

/// A socket file left behind by a server that died no longer blocks a new
/// server (asyncio removes it: CPython's
/// test_unix_events.test_create_unix_server_existing_path_sock), but only
/// when nothing listens on it: a live server's path fails with
/// `AddrInUse` and stays, and a regular file is never removed.
#[test]
fn a_stale_unix_socket_file_is_replaced_and_a_live_one_is_not() {
    let lp = EventLoop::new().unwrap();
    let dir = std::env::temp_dir().join(format!("loopcore-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stale.sock");
    let name = path.to_str().unwrap().to_owned();
    let probe = || Probe::new(&Rc::new(Seen::default()));

    // A crashed server: bound, then gone without removing its file.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = lp
        .create_unix_server(&name, ServerOptions::default(), probe)
        .expect("a stale socket file is replaced");
    std::os::unix::net::UnixStream::connect(&path).expect("the new server answers");
    server.close();

    // A live server keeps its path.
    let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let error = lp
        .create_unix_server(&name, ServerOptions::default(), probe)
        .expect_err("a live server's path is not taken");
    assert_eq!(
        error.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::AddrInUse),
        "{error}"
    );
    std::os::unix::net::UnixStream::connect(&path).expect("the live server still answers");
    live.accept().unwrap();
    drop(live);
    std::fs::remove_file(&path).unwrap();

    // A regular file is never removed.
    std::fs::write(&path, b"not a socket").unwrap();
    assert!(lp
        .create_unix_server(&name, ServerOptions::default(), probe)
        .is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    std::fs::remove_dir_all(&dir).unwrap();
}
