//! CPython 3.12 `Lib/test/test_asyncio/test_events.py`, the SSL tests of
//! `EventLoopTestsMixin`: asyncio's `ssl=` is `ConnectOptions::tls`,
//! `ServerOptions::tls` and `TlsSetup`; `get_extra_info('ssl_object' |
//! 'cipher' | 'peercert')` is `Transport::tls_info`.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use loopcore::{rustls, ConnectOptions, EventLoop, ServerOptions, TlsSetup, Transport};

use crate::certs::{
    answer_test_request_tls, certs, client_without_the_ca, dummy_client, run_test_server_tls,
    verifying_client,
};
use crate::events::{run_test_unix_server_with, run_until, MyProto, ProtoState};
use crate::{bounded, capture_exceptions};

/// CPython's `check_ssl_extra_info`: the addresses, and a TLS session with
/// a version, a cipher suite and the server's certificate.
fn check_ssl_extra_info(client: &Transport, peername: Option<SocketAddr>) {
    if let Some(peername) = peername {
        client.sockname().unwrap();
        assert_eq!(client.peername().unwrap(), peername);
    }
    let info = client.tls_info().expect("a TLS transport has TLS info");
    assert!(info.protocol_version.is_some(), "{info:?}");
    assert!(info.cipher_suite.is_some(), "{info:?}");
    assert_eq!(
        info.peer_certificates.first(),
        Some(&certs().server_cert_der),
        "the peer certificate is the server's"
    );
}

/// `create_connection(MyProto, ..., ssl=config)` to `addr`.
fn connect(
    lp: &EventLoop,
    addr: SocketAddr,
    options: ConnectOptions,
    request: bool,
) -> (loopcore::Result<Transport>, Rc<RefCell<ProtoState>>) {
    let (proto, pr) = MyProto::new(request);
    let result = lp
        .run_until_complete(bounded(
            "create_connection",
            lp.create_connection_with(addr.to_string(), options, proto),
        ))
        .unwrap();
    (result, pr)
}

/// `create_unix_connection(MyProto, path, ssl=..., server_hostname=...)`.
fn connect_unix(
    lp: &EventLoop,
    path: &str,
    setup: TlsSetup,
    request: bool,
) -> (loopcore::Result<Transport>, Rc<RefCell<ProtoState>>) {
    let (proto, pr) = MyProto::new(request);
    let result = lp
        .run_until_complete(bounded(
            "create_unix_connection",
            lp.create_unix_connection_tls(path, proto, setup),
        ))
        .unwrap();
    (result, pr)
}

/// CPython's `_basetest_create_ssl_connection`: a TLS transport whose
/// request the test server answers.
fn basetest_create_ssl_connection(
    lp: &EventLoop,
    connection: (loopcore::Result<Transport>, Rc<RefCell<ProtoState>>),
    peername: Option<SocketAddr>,
) {
    let (tr, pr) = connection;
    let tr = tr.expect("the TLS connection");
    check_ssl_extra_info(&tr, peername);
    run_until(lp, "the answer", || pr.borrow().done);
    assert!(pr.borrow().nbytes > 0);
    tr.close();
}

/// The certificate-verification failure CPython checks as
/// `CERTIFICATE_VERIFY_FAILED`.
fn assert_verify_failed(error: &loopcore::Error) {
    let text = error.to_string();
    assert!(
        text.contains("UnknownIssuer") || text.contains("unknown issuer"),
        "not a verification failure: {text}"
    );
}

#[test]
fn test_create_ssl_connection() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_ssl_connection
    // (`ssl=True` with `create_default_context` mocked to the dummy context
    // is the dummy context again; the real default context, which cannot
    // verify the test certificate, is a client that trusts another CA).
    let (addr, httpd) = run_test_server_tls(3);
    let lp = EventLoop::new().unwrap();
    let dummy = || ConnectOptions::default().tls(dummy_client());
    basetest_create_ssl_connection(&lp, connect(&lp, addr, dummy(), true), Some(addr));
    basetest_create_ssl_connection(&lp, connect(&lp, addr, dummy(), true), Some(addr));
    let options = ConnectOptions::default().tls(client_without_the_ca());
    let (result, pr) = connect(&lp, addr, options, true);
    assert_verify_failed(&result.expect_err("an unverifiable server was accepted"));
    assert!(pr.borrow().transport.is_none());
    httpd.join().unwrap();
}

#[test]
fn test_create_ssl_unix_connection() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_ssl_unix_connection
    let exchange: fn(std::os::unix::net::UnixStream) = answer_test_request_tls;
    let (path, httpd) = run_test_unix_server_with("ssl-unix-connection", 3, exchange);
    let lp = EventLoop::new().unwrap();
    let dummy = || TlsSetup::client(dummy_client(), "127.0.0.1");
    basetest_create_ssl_connection(&lp, connect_unix(&lp, &path, dummy(), true), None);
    basetest_create_ssl_connection(&lp, connect_unix(&lp, &path, dummy(), true), None);
    let setup = TlsSetup::client(client_without_the_ca(), "127.0.0.1");
    let (result, _) = connect_unix(&lp, &path, setup, true);
    assert_verify_failed(&result.expect_err("an unverifiable server was accepted"));
    httpd.join().unwrap();
}

#[test]
fn test_ssl_connect_accepted_socket() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_ssl_connect_accepted_socket
    // (test_connect_accepted_socket with a server and a client context).
    let lsock = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = lsock.local_addr().unwrap();
    let message = b"test data";
    let expected_response: &'static [u8] = b"roger";
    let client = std::thread::spawn(move || {
        let csock = TcpStream::connect(addr).unwrap();
        csock
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(verifying_client(), name).unwrap();
        let mut csock = rustls::StreamOwned::new(connection, csock);
        csock.write_all(message).unwrap();
        let mut response = [0u8; 99];
        let n = csock.read(&mut response).unwrap();
        csock.conn.send_close_notify();
        csock.flush().unwrap();
        response[..n].to_vec()
    });
    let (conn, _) = lsock.accept().unwrap();
    let lp = EventLoop::new().unwrap();
    let (mut proto, pr) = MyProto::new(false);
    proto.reply = Some(expected_response);
    let setup = TlsSetup::server(certs().server.clone());
    let transport = lp
        .run_until_complete(bounded(
            "connect_accepted_socket",
            lp.connect_accepted_socket_tls(conn, proto, setup),
        ))
        .unwrap()
        .unwrap();
    run_until(&lp, "the client to close", || pr.borrow().done);
    transport.close();
    let response = client.join().unwrap();
    assert_eq!(pr.borrow().state, "CLOSED");
    assert_eq!(pr.borrow().nbytes, message.len());
    assert_eq!(response, expected_response);
}

/// CPython's `_make_ssl_server`: a TLS server on 127.0.0.1 whose one
/// connection gets `proto`.
fn make_ssl_server(lp: &EventLoop, proto: MyProto) -> (loopcore::Server, SocketAddr) {
    let proto = RefCell::new(Some(proto));
    let server = lp
        .create_server(
            "127.0.0.1:0",
            ServerOptions::default().tls(certs().server.clone()),
            move || proto.borrow_mut().take().expect("one connection only"),
        )
        .unwrap();
    let addr = server.sockets()[0];
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    (server, addr)
}

/// CPython's `_make_ssl_unix_server`.
fn make_ssl_unix_server(lp: &EventLoop, proto: MyProto, tag: &str) -> (loopcore::Server, String) {
    let path = std::env::temp_dir().join(format!(
        "loopcore-conformance-{}-{tag}.sock",
        std::process::id()
    ));
    let name = path.to_str().unwrap().to_string();
    let proto = RefCell::new(Some(proto));
    let server = lp
        .create_unix_server(
            &name,
            ServerOptions::default().tls(certs().server.clone()),
            move || proto.borrow_mut().take().expect("one connection only"),
        )
        .unwrap();
    (server, name)
}

/// The server side of `test_create_server_ssl` and its Unix twin: the
/// client's three bytes arrive, the server closes, and the protocol saw
/// it all in order.
fn serve_three_bytes(lp: &EventLoop, client: &Transport, pr: &Rc<RefCell<ProtoState>>) {
    client.write(b"xxx").unwrap();
    run_until(lp, "connected", || pr.borrow().connected);
    assert_eq!(pr.borrow().state, "CONNECTED");
    run_until(lp, "the bytes", || pr.borrow().nbytes > 0);
    assert_eq!(pr.borrow().nbytes, 3);
}

/// Closes the server's side and waits for its `connection_lost`.
fn close_server_side(lp: &EventLoop, pr: &Rc<RefCell<ProtoState>>) {
    let transport = pr.borrow().transport.clone().unwrap();
    transport.close();
    run_until(lp, "done", || pr.borrow().done);
    assert_eq!(pr.borrow().state, "CLOSED");
}

#[test]
fn test_create_server_ssl() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_server_ssl
    let lp = EventLoop::new().unwrap();
    let (proto, pr) = MyProto::new(false);
    let (server, addr) = make_ssl_server(&lp, proto);
    let options = ConnectOptions::default().tls(dummy_client());
    let (client, _) = connect(&lp, addr, options, false);
    let client = client.unwrap();
    serve_three_bytes(&lp, &client, &pr);
    check_ssl_extra_info(&client, Some(addr));
    close_server_side(&lp, &pr);
    client.close();
    server.close();
}

#[test]
fn test_create_unix_server_ssl() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_unix_server_ssl
    // (CPython's `server_hostname=''` turns the name check off; an empty
    // name is an error here, and the dummy context checks nothing anyway).
    let lp = EventLoop::new().unwrap();
    let (proto, pr) = MyProto::new(false);
    let (server, path) = make_ssl_unix_server(&lp, proto, "ssl-unix-server");
    let setup = TlsSetup::client(dummy_client(), "localhost");
    let (client, _) = connect_unix(&lp, &path, setup, false);
    let client = client.unwrap();
    serve_three_bytes(&lp, &client, &pr);
    close_server_side(&lp, &pr);
    client.close();
    server.close();
}

/// The server's protocol never hears of a connection whose handshake the
/// client refused: waits (in debug mode) until the server has reported the
/// failed handshake, then checks `connection_made` was not called.
fn assert_server_never_connected(lp: &EventLoop, pr: &Rc<RefCell<ProtoState>>) {
    let messages = capture_exceptions(lp);
    run_until(lp, "the server's handshake error", || {
        !messages.borrow().is_empty()
    });
    assert!(
        messages.borrow()[0].contains("handshake"),
        "{:?}",
        messages.borrow()
    );
    assert!(pr.borrow().transport.is_none());
}

#[test]
fn test_create_server_ssl_verify_failed() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_server_ssl_verify_failed
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    let (proto, pr) = MyProto::new(false);
    let (server, addr) = make_ssl_server(&lp, proto);
    // No CA that signed the server's certificate loaded.
    let options = ConnectOptions::default()
        .tls(client_without_the_ca())
        .server_hostname("localhost");
    let (result, client_pr) = connect(&lp, addr, options, false);
    assert_verify_failed(&result.expect_err("an unverifiable server was accepted"));
    assert!(client_pr.borrow().transport.is_none());
    assert_server_never_connected(&lp, &pr);
    server.close();
}

#[test]
fn test_create_unix_server_ssl_verify_failed() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_unix_server_ssl_verify_failed
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    let (proto, pr) = MyProto::new(false);
    let (server, path) = make_ssl_unix_server(&lp, proto, "ssl-unix-verify-failed");
    let setup = TlsSetup::client(client_without_the_ca(), "invalid");
    let (result, _) = connect_unix(&lp, &path, setup, false);
    assert_verify_failed(&result.expect_err("an unverifiable server was accepted"));
    assert_server_never_connected(&lp, &pr);
    server.close();
}

#[test]
fn test_create_server_ssl_match_failed() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_server_ssl_match_failed
    // (the CA is trusted, but the certificate names `localhost` and the
    // client checks the address it connected to, 127.0.0.1).
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    let (proto, pr) = MyProto::new(false);
    let (server, addr) = make_ssl_server(&lp, proto);
    let options = ConnectOptions::default().tls(verifying_client());
    let (result, _) = connect(&lp, addr, options, false);
    let error = result.expect_err("a certificate for another name was accepted");
    let text = error.to_string();
    assert!(
        text.contains("NotValidForName") || text.contains("not valid for name"),
        "not a name mismatch: {text}"
    );
    assert!(text.contains("127.0.0.1"), "{text}");
    assert_server_never_connected(&lp, &pr);
    server.close();
}

/// A verified connection as `localhost`, its server side seen connected,
/// then everything closed (the tail of both `*_ssl_verified` tests).
fn verified_exchange(
    lp: &EventLoop,
    client: loopcore::Result<Transport>,
    pr: &Rc<RefCell<ProtoState>>,
    server: loopcore::Server,
    peername: Option<SocketAddr>,
) {
    let client = client.expect("a verified connection");
    run_until(lp, "connected", || pr.borrow().connected);
    check_ssl_extra_info(&client, peername);
    let transport = pr.borrow().transport.clone().unwrap();
    transport.close();
    client.close();
    server.close();
    run_until(lp, "done", || pr.borrow().done);
}

#[test]
fn test_create_unix_server_ssl_verified() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_unix_server_ssl_verified
    let lp = EventLoop::new().unwrap();
    let (proto, pr) = MyProto::new(false);
    let (server, path) = make_ssl_unix_server(&lp, proto, "ssl-unix-verified");
    let setup = TlsSetup::client(verifying_client(), "localhost");
    let (client, _) = connect_unix(&lp, &path, setup, false);
    verified_exchange(&lp, client, &pr, server, None);
}

#[test]
fn test_create_server_ssl_verified() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_create_server_ssl_verified
    let lp = EventLoop::new().unwrap();
    let (proto, pr) = MyProto::new(false);
    let (server, addr) = make_ssl_server(&lp, proto);
    let options = ConnectOptions::default()
        .tls(verifying_client())
        .server_hostname("localhost");
    let (client, _) = connect(&lp, addr, options, false);
    verified_exchange(&lp, client, &pr, server, Some(addr));
}
