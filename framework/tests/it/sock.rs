//! The low-level socket calls and name resolution.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use loopcore::{ErrorKind, EventLoop};

#[test]
fn connect_accept_sendall_and_recv_move_more_than_a_mebibyte() {
    let lp = EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let payload: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let expected = payload.clone();
    let received = lp
        .run_until_complete(async {
            let lp = EventLoop::current();
            let client =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            client.set_nonblocking(true).unwrap();
            let connect = lp.sock_connect(&client, addr);
            let accept = lp.sock_accept(&listener);
            let (connected, accepted) = futures_join(connect, accept).await;
            connected.unwrap();
            let (server_side, peer) = accepted.unwrap();
            assert_eq!(peer, client.local_addr().unwrap().as_socket().unwrap());
            let client: TcpStream = client.into();
            // Send 3 MiB while reading it on the same loop.
            let sender = loopcore::spawn(async move {
                let lp = EventLoop::current();
                lp.sock_sendall(&client, &payload).await.unwrap();
                drop(client);
            });
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = lp.sock_recv(&server_side, &mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            sender.await.unwrap();
            got
        })
        .unwrap();
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "bytes corrupted or reordered");
}

/// Polls two futures to completion on the current task.
async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let mut out_a = None;
    let mut out_b = None;
    std::future::poll_fn(|cx| {
        if out_a.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (out_a.unwrap(), out_b.unwrap())
}

#[test]
fn a_cancelled_sock_recv_releases_its_registration() {
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let fd = a.as_raw_fd();
    let timed_out = lp
        .run_until_complete(async {
            let mut buf = [0u8; 8];
            loopcore::timeout(
                Duration::from_millis(10),
                EventLoop::current().sock_recv(&a, &mut buf),
            )
            .await
        })
        .unwrap();
    assert!(timed_out.unwrap_err().is_timeout());
    // Dropped with the timeout: no reader is left on the fd.
    assert!(
        !lp.remove_reader(fd),
        "the cancelled sock_recv left its reader"
    );
    // And the socket still works with a new call.
    b.write_all(b"late").unwrap();
    let n = lp
        .run_until_complete(async {
            let mut buf = [0u8; 8];
            EventLoop::current().sock_recv(&a, &mut buf).await
        })
        .unwrap()
        .unwrap();
    assert_eq!(n, 4);
    let mut rest = [0u8; 1];
    drop(a);
    assert_eq!(b.read(&mut rest).unwrap(), 0);
}

#[test]
fn datagrams_with_sock_sendto_and_sock_recvfrom() {
    let lp = EventLoop::new().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let b_addr = b.local_addr().unwrap();
    let (n, from) = lp
        .run_until_complete(async {
            let lp = EventLoop::current();
            let mut buf = [0u8; 16];
            let receive = lp.sock_recvfrom(&b, &mut buf);
            let send = async {
                loopcore::sleep(Duration::from_millis(2)).await;
                lp.sock_sendto(&a, b"datagram", b_addr).await.unwrap()
            };
            let (received, sent) = futures_join(receive, send).await;
            assert_eq!(sent, 8);
            received.unwrap()
        })
        .unwrap();
    assert_eq!(n, 8);
    assert_eq!(from, a.local_addr().unwrap());
}

#[test]
fn getaddrinfo_and_getnameinfo_run_off_the_loop() {
    let lp = EventLoop::new().unwrap();
    let addrs = lp
        .run_until_complete(async { EventLoop::current().getaddrinfo("127.0.0.1", 80).await })
        .unwrap()
        .unwrap();
    assert_eq!(addrs, ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
    let localhost = lp
        .run_until_complete(async { EventLoop::current().getaddrinfo("localhost", 8080).await })
        .unwrap()
        .unwrap();
    assert!(localhost
        .iter()
        .all(|a| a.ip().is_loopback() && a.port() == 8080));
    let err = lp
        .run_until_complete(async {
            EventLoop::current()
                .getaddrinfo("no-such-host.invalid", 80)
                .await
        })
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let (host, service) = lp
        .run_until_complete(async {
            EventLoop::current()
                .getnameinfo("127.0.0.1:22".parse().unwrap())
                .await
        })
        .unwrap()
        .unwrap();
    assert!(!host.is_empty());
    assert!(service == "ssh" || service == "22", "{service}");
}

#[test]
fn every_sock_call_refuses_a_blocking_socket_instead_of_stalling_the_loop() {
    let lp = EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Blocking, connected, and nothing to read: a blocking recv would hang.
    let stream = TcpStream::connect(addr).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let errors = lp
        .run_until_complete(async {
            let lp = EventLoop::current();
            let mut buf = [0u8; 16];
            vec![
                lp.sock_recv(&stream, &mut buf).await.map(drop),
                lp.sock_sendall(&stream, b"x").await,
                lp.sock_accept(&listener).await.map(drop),
                lp.sock_recvfrom(&udp, &mut buf).await.map(drop),
                lp.sock_sendto(&udp, b"x", addr).await.map(drop),
                lp.sock_connect(&client, addr).await,
            ]
        })
        .unwrap();
    for (call, result) in ["recv", "sendall", "accept", "recvfrom", "sendto", "connect"]
        .iter()
        .zip(errors)
    {
        let error = result.expect_err(call);
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{call}: {error}");
        assert!(error.to_string().contains("set_nonblocking"), "{error}");
    }
}
