//! `Transport::sendfile`, `Transport::write_owned` and `sock_sendfile`:
//! files and handed-over buffers reach the peer byte for byte, in order
//! with ordinary writes, through plain TCP and through TLS (where the file
//! is read and encrypted as the ciphertext drains); bad ranges are refused;
//! a file that shrinks under a pending send loses the connection with an
//! error instead of sending a short body.

use std::io::{Read, Write};
use std::rc::Rc;

use loopcore::{ErrorKind, EventLoop, ServerOptions, Transport};

use crate::support::test_file;
use crate::support::tls::{good_probe_client, make_pki};
use crate::support::{client, run_until, Probe, Seen};

/// On the first data: a header, the file range, owned buffers, a trailer,
/// then close: all must arrive in this order.
fn send_everything(t: &Transport, path: &std::path::Path, offset: u64, count: Option<u64>) {
    t.write(b"HEAD").unwrap();
    let file = std::fs::File::open(path).unwrap();
    t.sendfile(file, offset, count).unwrap();
    t.write_owned(vec![b'o'; 100_000]).unwrap();
    t.write(b"mid").unwrap();
    t.write_owned(b"small owned").unwrap();
    t.write_with(|out| out.extend_from_slice(b"TAIL")).unwrap();
    t.close();
}

fn expected(content: &[u8]) -> Vec<u8> {
    let mut all = b"HEAD".to_vec();
    all.extend_from_slice(content);
    all.extend(std::iter::repeat_n(b'o', 100_000));
    all.extend_from_slice(b"mid");
    all.extend_from_slice(b"small owned");
    all.extend_from_slice(b"TAIL");
    all
}

/// A server whose connections run `on_data(transport, file path)` on each
/// arrival; returns its address.
fn file_server(
    lp: &EventLoop,
    options: ServerOptions,
    seen: &Rc<Seen>,
    path: &std::path::Path,
    on_data: impl Fn(&Transport, &std::path::Path) + Clone + 'static,
) -> std::net::SocketAddr {
    let (s, path) = (seen.clone(), path.to_path_buf());
    let server = lp
        .create_server("127.0.0.1:0", options, move || {
            let mut p = Probe::new(&s);
            let (path, on_data) = (path.clone(), on_data.clone());
            p.on_data = Some(Box::new(move |t, _| on_data(t, &path)));
            p
        })
        .unwrap();
    server.sockets()[0]
}

#[test]
fn a_10_mib_file_and_owned_buffers_arrive_byte_exact_in_order_over_tcp() {
    let (path, content) = test_file("tcp", 10 * 1024 * 1024 + 17);
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = file_server(&lp, ServerOptions::default(), &seen, &path, |t, path| {
        send_everything(t, path, 0, None)
    });
    let c = client(addr, |mut stream| {
        stream.write_all(b"go").unwrap();
        // Read slowly at first, so the socket fills and the send resumes
        // on writability more than once.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    run_until(&lp, || c.is_finished());
    let received = c.join().unwrap();
    assert_eq!(received.len(), expected(&content).len());
    assert!(received == expected(&content), "bytes differ");
    run_until(&lp, || seen.lost.get() == 1);
    assert!(!seen.lost_with_error.get());
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_10_mib_file_arrives_byte_exact_through_tls() {
    let (path, content) = test_file("tls", 10 * 1024 * 1024 + 5);
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("sendfile");
    let seen = Rc::new(Seen::default());
    let options = ServerOptions::default().tls(pki.server.clone());
    let addr = file_server(&lp, options, &seen, &path, |t, path| {
        // A range from the middle, this time.
        send_everything(t, path, 1000, Some(10 * 1024 * 1024 - 1000));
    });
    let client_seen = Rc::new(Seen::default());
    let client = good_probe_client(&lp, addr, &pki, &client_seen);
    client.write(b"go").unwrap();
    let want = expected(&content[1000..10 * 1024 * 1024]);
    run_until(&lp, || client_seen.lost.get() == 1);
    let received = client_seen.data.borrow();
    assert_eq!(received.len(), want.len());
    assert!(*received == want, "bytes differ");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn ranges_beyond_the_file_are_refused_and_the_transport_goes_on() {
    let (path, _) = test_file("range", 1000);
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = file_server(&lp, ServerOptions::default(), &seen, &path, |t, path| {
        let open = || std::fs::File::open(path).unwrap();
        let e = t.sendfile(open(), 1001, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = t.sendfile(open(), 500, Some(501)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert_eq!(t.sendfile(open(), 1000, None).unwrap(), 0);
        assert_eq!(t.sendfile(open(), 990, None).unwrap(), 10);
        t.close();
    });
    let c = client(addr, |mut stream| {
        stream.write_all(b"go").unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    run_until(&lp, || c.is_finished());
    let content = std::fs::read(&path).unwrap();
    assert_eq!(c.join().unwrap(), &content[990..]);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_file_that_shrinks_under_a_pending_send_loses_the_connection_with_an_error() {
    let (path, _) = test_file("shrink", 8 * 1024 * 1024);
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = file_server(&lp, ServerOptions::default(), &seen, &path, |t, path| {
        t.sendfile(std::fs::File::open(path).unwrap(), 0, None)
            .unwrap();
    });
    let (truncated_tx, truncated_rx) = std::sync::mpsc::channel::<()>();
    let c = client(addr, move |mut stream| {
        stream.write_all(b"go").unwrap();
        // Not reading: the kernel buffers fill long before 8 MiB.
        truncated_rx.recv().unwrap();
        let mut all = Vec::new();
        let _ = stream.read_to_end(&mut all);
        all.len()
    });
    run_until(&lp, || seen.transport.borrow().is_some());
    run_until(&lp, || {
        seen.transport
            .borrow()
            .as_ref()
            .is_some_and(|t| t.get_write_buffer_size() < 8 * 1024 * 1024)
    });
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1024)
        .unwrap();
    truncated_tx.send(()).unwrap();
    run_until(&lp, || seen.lost.get() == 1);
    assert!(seen.lost_with_error.get(), "lost without an error");
    run_until(&lp, || c.is_finished());
    assert!(c.join().unwrap() < 8 * 1024 * 1024);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn sock_sendfile_sends_a_file_range_on_a_plain_socket() {
    let (path, content) = test_file("sock", 3 * 1024 * 1024 + 3);
    let lp = EventLoop::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nonblocking(true).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let sent = lp
        .run_until_complete(async { lp.sock_sendfile(&stream, &file, 7, None).await })
        .unwrap()
        .unwrap();
    assert_eq!(sent, content.len() as u64 - 7);
    let e = lp
        .run_until_complete(async { lp.sock_sendfile(&stream, &file, 0, Some(u64::MAX)).await })
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    drop(stream);
    assert!(reader.join().unwrap() == content[7..], "bytes differ");
    std::fs::remove_file(path).unwrap();
}
