//! Outgoing connections: a local address, and Happy Eyeballs racing past an
//! address that never answers.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::{ConnectOptions, ErrorKind, EventLoop, ServerOptions};

use crate::support::{probe_server, Probe, Seen};

/// A listener whose accept queue is full: a SYN to it is dropped, so a
/// connect hangs (SYN retransmits) instead of failing.
fn unanswering_listener() -> (socket2::Socket, SocketAddr, Vec<TcpStream>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    // Fill the queue; a filler that itself times out is fine.
    let fillers = (0..3)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    (socket, addr, fillers)
}

#[test]
fn happy_eyeballs_moves_on_from_an_address_that_does_not_answer() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let good = probe_server(&lp, &seen);
    let (_listener, silent, _fillers) = unanswering_listener();
    let started = Instant::now();
    let options = ConnectOptions::default().happy_eyeballs(Duration::from_millis(100));
    let transport = lp
        .run_until_complete(lp.create_connection_to(&[silent, good], options, Probe::new(&seen)))
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(transport.peername().unwrap(), good);
    assert!(
        took >= Duration::from_millis(90),
        "the first attempt had its delay ({took:?})"
    );
    assert!(
        took < Duration::from_secs(5),
        "did not wait for the silent address ({took:?})"
    );
}

#[test]
fn a_refused_address_is_skipped_at_once_and_all_failing_reports_the_last_error() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let good = probe_server(&lp, &seen);
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for options in [
        ConnectOptions::default(),
        ConnectOptions::default().happy_eyeballs(Duration::from_secs(10)),
    ] {
        let started = Instant::now();
        let transport = lp
            .run_until_complete(lp.create_connection_to(
                &[refused, good],
                options.clone(),
                Probe::new(&seen),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(transport.peername().unwrap(), good);
        assert!(started.elapsed() < Duration::from_secs(5), "{options:?}");
        let error = lp
            .run_until_complete(lp.create_connection_to(&[refused], options, Probe::new(&seen)))
            .unwrap()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Io);
        assert!(error.to_string().contains(&refused.to_string()), "{error}");
    }
}

#[test]
fn the_local_address_is_bound_and_must_match_the_family() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = probe_server(&lp, &seen).to_string();
    let options = ConnectOptions::default().local_addr("127.0.0.1:0".parse().unwrap());
    let transport = lp
        .run_until_complete(lp.create_connection_with(addr.clone(), options, Probe::new(&seen)))
        .unwrap()
        .unwrap();
    let local = transport.sockname().unwrap();
    assert!(local.ip().is_loopback() && local.is_ipv4());
    let v6 = ConnectOptions::default().local_addr("[::1]:0".parse().unwrap());
    let error = lp
        .run_until_complete(lp.create_connection_with(addr, v6, Probe::new(&seen)))
        .unwrap()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[test]
fn an_existing_unix_listener_is_served_and_its_file_left_alone() {
    use std::io::{Read, Write};
    let lp = EventLoop::new().unwrap();
    let dir = std::env::temp_dir().join(format!("loopcore-unix-sock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("given.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_unix_server_from_listener(listener, ServerOptions::default(), move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    let p = path.clone();
    let client = std::thread::spawn(move || {
        let mut stream = std::os::unix::net::UnixStream::connect(p).unwrap();
        stream.write_all(b"given").unwrap();
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).unwrap();
        buf
    });
    crate::support::run_until(&lp, || client.is_finished());
    assert_eq!(&client.join().unwrap(), b"given");
    server.close();
    assert!(path.exists(), "not ours to remove");
    std::fs::remove_dir_all(&dir).unwrap();
}
