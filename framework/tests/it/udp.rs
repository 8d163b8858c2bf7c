//! UDP endpoints on 127.0.0.1 and ::1.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::{DatagramOptions, DatagramProtocol, DatagramTransport, ErrorKind, EventLoop};

#[derive(Default)]
struct Seen {
    received: RefCell<Vec<(Vec<u8>, SocketAddr)>>,
    errors: RefCell<Vec<std::io::ErrorKind>>,
    lost: Cell<u32>,
}

struct Endpoint {
    seen: Rc<Seen>,
    echo: bool,
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for Endpoint {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.transport = Some(transport);
    }
    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        self.seen.received.borrow_mut().push((data.to_vec(), addr));
        if self.echo {
            self.transport
                .as_ref()
                .unwrap()
                .sendto(data, Some(addr))
                .unwrap();
        }
    }
    fn error_received(&mut self, error: std::io::Error) {
        self.seen.errors.borrow_mut().push(error.kind());
    }
    fn connection_lost(&mut self, _error: Option<std::io::Error>) {
        self.seen.lost.set(self.seen.lost.get() + 1);
    }
}

fn endpoint(seen: &Rc<Seen>, echo: bool) -> Endpoint {
    Endpoint {
        seen: seen.clone(),
        echo,
        transport: None,
    }
}

fn run_until(lp: &EventLoop, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(1)))
            .unwrap();
    }
}

fn echo_datagrams(local: &str) {
    let lp = EventLoop::new().unwrap();
    let server_seen = Rc::new(Seen::default());
    let server = lp
        .create_datagram_endpoint(
            DatagramOptions::default().local_addr(local.parse().unwrap()),
            endpoint(&server_seen, true),
        )
        .unwrap();
    let server_addr = server.sockname().unwrap();
    let client_seen = Rc::new(Seen::default());
    let client = lp
        .create_datagram_endpoint(
            DatagramOptions::default().remote_addr(server_addr),
            endpoint(&client_seen, false),
        )
        .unwrap();
    assert_eq!(client.peername().unwrap(), server_addr);
    for i in 0..100u32 {
        client.send(&i.to_be_bytes()).unwrap();
    }
    run_until(&lp, || client_seen.received.borrow().len() == 100);
    let got: Vec<u32> = client_seen
        .received
        .borrow()
        .iter()
        .map(|(d, from)| {
            assert_eq!(*from, server_addr);
            u32::from_be_bytes(d[..4].try_into().unwrap())
        })
        .collect();
    assert_eq!(
        got,
        (0..100).collect::<Vec<_>>(),
        "loopback reordered or lost datagrams"
    );
    client.close();
    server.close();
    run_until(&lp, || {
        client_seen.lost.get() == 1 && server_seen.lost.get() == 1
    });
    assert_eq!(client.send(b"x").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn datagrams_echo_over_ipv4() {
    echo_datagrams("127.0.0.1:0");
}

#[test]
fn datagrams_echo_over_ipv6() {
    echo_datagrams("[::1]:0");
}

#[test]
fn icmp_refusal_reaches_error_received_and_the_endpoint_stays_usable() {
    let lp = EventLoop::new().unwrap();
    // A port nobody listens on: bind one, note it, close it.
    let closed_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let seen = Rc::new(Seen::default());
    let client = lp
        .create_datagram_endpoint(
            DatagramOptions::default().remote_addr(closed_port),
            endpoint(&seen, false),
        )
        .unwrap();
    client.send(b"anyone?").unwrap();
    run_until(&lp, || !seen.errors.borrow().is_empty());
    assert_eq!(
        seen.errors.borrow()[0],
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(!client.is_closing());
    // Still usable: a listener appears on another port and we talk to it
    // through an unconnected endpoint.
    let listener_seen = Rc::new(Seen::default());
    let listener = lp
        .create_datagram_endpoint(
            DatagramOptions::default().local_addr("127.0.0.1:0".parse().unwrap()),
            endpoint(&listener_seen, false),
        )
        .unwrap();
    let free = lp
        .create_datagram_endpoint(
            DatagramOptions::default().local_addr("127.0.0.1:0".parse().unwrap()),
            endpoint(&Rc::new(Seen::default()), false),
        )
        .unwrap();
    assert_eq!(
        free.sendto(b"x", None).unwrap_err().kind(),
        ErrorKind::InvalidInput,
        "no address on an unconnected endpoint"
    );
    free.sendto(b"hello", Some(listener.sockname().unwrap()))
        .unwrap();
    run_until(&lp, || listener_seen.received.borrow().len() == 1);
    client.send(b"again").unwrap();
    run_until(&lp, || seen.errors.borrow().len() >= 2);
}

#[test]
fn an_existing_connected_socket_serves_as_an_endpoint() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(peer.local_addr().unwrap()).unwrap();
    let local = socket.local_addr().unwrap();
    let transport = lp
        .create_datagram_endpoint_from_socket(socket, endpoint(&seen, false))
        .unwrap();
    assert_eq!(transport.sockname().unwrap(), local);
    assert_eq!(transport.peername().unwrap(), peer.local_addr().unwrap());
    peer.send_to(b"over an existing socket", local).unwrap();
    run_until(&lp, || !seen.received.borrow().is_empty());
    assert_eq!(seen.received.borrow()[0].0, b"over an existing socket");
    transport.send(b"back").unwrap();
    let mut buf = [0u8; 16];
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"back"[..], local));
}
