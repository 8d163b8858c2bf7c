//! A port another socket listens on fails `Runtime::serve` with
//! `AddrInUse` in every balance mode, even when that socket set
//! `SO_REUSEPORT` (which the balance modes use inside the runtime and which
//! would otherwise let the kernel split connections between two servers);
//! `ServeOptions::share_port` shares it on purpose; one runtime's own loops
//! still share their port.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use loopcore::{Balance, Protocol, Runtime, ServeOptions, Transport};
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

/// Writes the index of the loop that serves the connection.
#[derive(Default)]
struct WhichLoop;

impl Protocol for WhichLoop {
    fn connection_made(&mut self, transport: Transport) {
        let index = loopcore::current_loop_index().expect("a runtime loop");
        transport.write(&[index as u8]).unwrap();
    }
}

fn runtime(loops: usize) -> Runtime {
    Runtime::builder()
        .loops(loops)
        .handle_signals(false)
        .build()
        .unwrap()
}

/// A listener as another server on the machine holds it: `SO_REUSEADDR`,
/// and `SO_REUSEPORT` when `reuse_port`.
fn held_listener(reuse_port: bool) -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(SockProtocol::TCP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_reuse_port(reuse_port).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(16).unwrap();
    socket
}

fn address_of(socket: &Socket) -> SocketAddr {
    socket.local_addr().unwrap().as_socket().unwrap()
}

#[test]
fn a_port_another_socket_listens_on_fails_with_addr_in_use_in_every_mode() {
    for reuse_port in [true, false] {
        let held = held_listener(reuse_port);
        let addr = address_of(&held);
        for balance in [
            Balance::ReusePort,
            Balance::IncomingCpu,
            Balance::Acceptor { accept_on: 0 },
        ] {
            let runtime = runtime(2);
            let error = runtime
                .serve(addr, ServeOptions::default().balance(balance), || WhichLoop)
                .expect_err("a port in use must not be joined");
            let io = error.io_error().expect("an operating-system error");
            assert_eq!(
                io.kind(),
                std::io::ErrorKind::AddrInUse,
                "{balance:?}, holder with SO_REUSEPORT {reuse_port}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&addr.to_string()) && !message.contains('\n'),
                "one line naming the address: {message}"
            );
            runtime.shutdown(Duration::from_secs(1));
            runtime.run().unwrap();
        }
    }
}

#[test]
fn share_port_joins_a_reuse_port_listener_on_purpose() {
    let held = held_listener(true);
    let addr = address_of(&held);
    let runtime = runtime(2);
    let bound = runtime
        .serve(addr, ServeOptions::default().share_port(true), || WhichLoop)
        .expect("share_port joins the group");
    assert_eq!(bound, vec![addr]);
    runtime.shutdown(Duration::from_secs(1));
    runtime.run().unwrap();
}

#[test]
fn four_loops_of_one_runtime_share_a_fixed_port() {
    // A port that was free a moment ago.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let runtime = runtime(4);
    let handle = runtime.handle();
    let served = runtime
        .serve(addr, ServeOptions::default(), || WhichLoop)
        .expect("the port is free");
    assert_eq!(served, vec![addr]);
    let client = std::thread::spawn(move || {
        let mut per_loop = [0usize; 4];
        for _ in 0..200 {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut index = [0u8];
            stream.read_exact(&mut index).unwrap();
            per_loop[index[0] as usize] += 1;
        }
        handle.shutdown(Duration::from_secs(1));
        per_loop
    });
    runtime.run().unwrap();
    let per_loop = client.join().unwrap();
    assert!(
        per_loop.iter().all(|&n| n > 0),
        "every loop of the group accepts: {per_loop:?}"
    );
}
