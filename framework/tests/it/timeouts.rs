//! Idle timeouts: a silent connection is aborted with `TimedOut` and
//! counted; one that keeps sending is left alone however long it lives;
//! removing the timeout removes it.

use std::io::Write;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::{EventLoop, ServerOptions, Transport};

use crate::support::{run_until, Probe, Seen};

fn server_with_idle_timeout(
    lp: &EventLoop,
    seen: &Rc<Seen>,
    timeout: Duration,
) -> std::net::SocketAddr {
    let s = seen.clone();
    let options = ServerOptions::default().idle_timeout(timeout);
    let server = lp
        .create_server("127.0.0.1:0", options, move || Probe::new(&s))
        .unwrap();
    server.sockets()[0]
}

#[test]
fn a_silent_connection_is_aborted_and_a_talking_one_is_not() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = server_with_idle_timeout(&lp, &seen, Duration::from_millis(150));
    let _silent = TcpStream::connect(addr).unwrap();
    run_until(&lp, || seen.made.get() == 1);
    let silent_side = seen.transport.borrow().clone().unwrap();
    let mut talking = TcpStream::connect(addr).unwrap();
    run_until(&lp, || seen.made.get() == 2);
    let talking_side = seen.transport.borrow().clone().unwrap();
    // The talking client sends every 50 ms for 600 ms: four timeouts' worth.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        talking.write_all(b"x").unwrap();
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(50)))
            .unwrap();
    }
    assert!(
        silent_side.is_closing(),
        "the silent connection was aborted"
    );
    assert!(!talking_side.is_closing(), "the talking one is still open");
    assert_eq!(seen.lost.get(), 1);
    assert!(
        seen.lost_with_error.get(),
        "connection_lost got the TimedOut error"
    );
    assert_eq!(lp.stats().idle_timeouts, 1);
    // Silent now: it goes too.
    run_until(&lp, || seen.lost.get() == 2);
    assert_eq!(lp.stats().idle_timeouts, 2);
}

#[test]
fn an_idle_timeout_can_be_set_per_transport_and_removed() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = crate::support::probe_server(&lp, &seen);
    let _client = TcpStream::connect(addr).unwrap();
    run_until(&lp, || seen.made.get() == 1);
    let transport: Transport = seen.transport.borrow().clone().unwrap();
    transport
        .set_idle_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    transport.set_idle_timeout(None).unwrap();
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(300)))
        .unwrap();
    assert!(!transport.is_closing(), "removed: nothing happens");
    transport
        .set_idle_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    run_until(&lp, || seen.lost.get() == 1);
    assert_eq!(lp.stats().idle_timeouts, 1);
    assert!(
        transport.set_idle_timeout(None).is_err(),
        "a lost transport refuses"
    );
}

/// Sets its own idle timeout in `connection_made`.
struct OwnTimeout(Option<Transport>);

impl loopcore::Protocol for OwnTimeout {
    fn connection_made(&mut self, transport: Transport) {
        transport
            .set_idle_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        self.0 = Some(transport);
    }
    fn data_received(&mut self, _: &[u8]) {}
}

#[test]
fn a_protocols_own_idle_timeout_wins_over_the_servers_default() {
    let lp = EventLoop::new().unwrap();
    let transports = Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = transports.clone();
    let options = ServerOptions::default().idle_timeout(Duration::from_millis(50));
    let server = lp
        .create_server("127.0.0.1:0", options, move || {
            // Record each transport once it is made.
            struct Recorder(OwnTimeout, Rc<std::cell::RefCell<Vec<Transport>>>);
            impl loopcore::Protocol for Recorder {
                fn connection_made(&mut self, transport: Transport) {
                    self.1.borrow_mut().push(transport.clone());
                    self.0.connection_made(transport);
                }
                fn data_received(&mut self, data: &[u8]) {
                    self.0.data_received(data);
                }
            }
            Recorder(OwnTimeout(None), seen.clone())
        })
        .unwrap();
    let _client = TcpStream::connect(server.sockets()[0]).unwrap();
    run_until(&lp, || !transports.borrow().is_empty());
    let transport = transports.borrow()[0].clone();
    assert_eq!(transport.idle_timeout(), Some(Duration::from_secs(30)));
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(300)))
        .unwrap();
    assert!(!transport.is_closing(), "the server's 50 ms did not apply");
    assert_eq!(lp.stats().idle_timeouts, 0);
}

/// Bytes leaving count as activity: a download the peer keeps reading
/// lives past the idle timeout although the peer never sends a byte; once
/// the peer stops reading and the kernel's buffers fill, nothing moves and
/// the connection is aborted.
#[test]
fn a_download_in_progress_is_not_idle_and_a_stalled_one_is() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = server_with_idle_timeout(&lp, &seen, Duration::from_millis(150));
    let mut reader = TcpStream::connect(addr).unwrap();
    reader.set_nonblocking(true).unwrap();
    run_until(&lp, || seen.made.get() == 1);
    let server_side = seen.transport.borrow().clone().unwrap();
    // The server sends 1 KiB every 50 ms for 600 ms (four timeouts), the
    // client reads it all and sends nothing.
    let started = Instant::now();
    let mut scratch = [0u8; 4096];
    while started.elapsed() < Duration::from_millis(600) {
        server_side.write(&[b'd'; 1024]).unwrap();
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(50)))
            .unwrap();
        while let Ok(n) = std::io::Read::read(&mut reader, &mut scratch) {
            if n == 0 {
                break;
            }
        }
    }
    assert!(
        !server_side.is_closing(),
        "a download in progress is not idle"
    );
    assert_eq!(lp.stats().idle_timeouts, 0);
    // The client stops reading: 8 MiB fill its buffers and nothing moves.
    server_side.write(&vec![b'd'; 8 << 20]).unwrap();
    run_until(&lp, || seen.lost.get() == 1);
    assert!(seen.lost_with_error.get(), "aborted with TimedOut");
    assert_eq!(lp.stats().idle_timeouts, 1);
}
