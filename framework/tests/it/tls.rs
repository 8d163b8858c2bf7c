//! TLS transports with certificates made on the fly (rcgen): loopcore's
//! client against loopcore's server, bad handshakes of every kind each
//! followed by a good one, close_notify, and curl as an outside client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopcore::rustls;
use loopcore::{ConnectOptions, EventLoop, ServerOptions, Transport};

use crate::tcp::{run_until, Probe, Seen};

/// A CA, a server certificate for `localhost` and 127.0.0.1 signed by it,
/// and the CA's PEM in a temporary file.
struct Pki {
    server: Arc<rustls::ServerConfig>,
    /// The same identity without ALPN (curl offers h2 and http/1.1).
    server_no_alpn: Arc<rustls::ServerConfig>,
    ca_pem: PathBuf,
}

fn make_pki(tag: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("loopcore test CA {tag}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let identity = |alpn: &[&[u8]]| {
        loopcore::tls::server_config(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            alpn,
        )
        .unwrap()
    };
    let server = identity(&[b"echo"]);
    let server_no_alpn = identity(&[]);
    let ca_pem = std::env::temp_dir().join(format!("loopcore-ca-{tag}-{}.pem", std::process::id()));
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    Pki {
        server,
        server_no_alpn,
        ca_pem,
    }
}

fn echo_server(lp: &EventLoop, pki: &Pki, seen: &Rc<Seen>) -> SocketAddr {
    serve_with(lp, pki.server.clone(), seen)
}

fn serve_with(lp: &EventLoop, config: Arc<rustls::ServerConfig>, seen: &Rc<Seen>) -> SocketAddr {
    let s = seen.clone();
    let options = ServerOptions::default()
        .tls(config)
        .tls_handshake_timeout(Duration::from_millis(300));
    let server = lp
        .create_server("127.0.0.1:0", options, move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    server.sockets()[0]
}

fn connect_tls(
    lp: &EventLoop,
    addr: SocketAddr,
    options: ConnectOptions,
) -> loopcore::Result<Transport> {
    let seen = Rc::new(Seen::default());
    lp.run_until_complete(lp.create_connection_with(addr.to_string(), options, Probe::new(&seen)))
        .unwrap()
}

fn good_client(pki: &Pki) -> ConnectOptions {
    let config = loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[b"echo"]).unwrap();
    ConnectOptions::default().tls(config)
}

/// A good connection after whatever went before: the server still serves.
fn assert_serves(lp: &EventLoop, addr: SocketAddr, pki: &Pki) {
    let transport = connect_tls(lp, addr, good_client(pki).server_hostname("localhost")).unwrap();
    let info = transport.tls_info().expect("negotiated");
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"echo"[..]));
    assert!(!info.peer_certificates.is_empty());
    transport.close();
}

#[test]
fn loopcore_client_and_server_echo_over_tls_and_close_with_close_notify() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("echo");
    let seen = Rc::new(Seen::default());
    let addr = echo_server(&lp, &pki, &seen);
    let client_seen = Rc::new(Seen::default());
    let transport = lp
        .run_until_complete(lp.create_connection_with(
            addr.to_string(),
            good_client(&pki),
            Probe::new(&client_seen),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(
        client_seen.made.get(),
        1,
        "connection_made after the handshake"
    );
    assert!(!transport.can_write_eof());
    let info = transport.tls_info().unwrap();
    assert_eq!(info.protocol_version.as_deref(), Some("TLSv1_3"));
    assert!(info.cipher_suite.is_some());
    transport.write(b"over tls").unwrap();
    run_until(&lp, || client_seen.data.borrow().len() == 8);
    assert_eq!(&*client_seen.data.borrow(), b"over tls");
    let server_side = seen.transport.borrow().clone().unwrap();
    assert_eq!(
        server_side.tls_info().unwrap().server_name,
        None,
        "SNI is not sent for an IP address"
    );
    // The server closes: close_notify reaches the client as a clean EOF.
    server_side.close();
    run_until(&lp, || client_seen.lost.get() == 1);
    assert_eq!(client_seen.eofs.get(), 1);
    assert!(!client_seen.lost_with_error.get());
    assert_serves(&lp, addr, &pki);
}

#[test]
fn wrong_hostname_and_wrong_ca_are_refused_and_the_server_goes_on() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("names");
    let other = make_pki("other");
    let seen = Rc::new(Seen::default());
    let addr = echo_server(&lp, &pki, &seen);
    let error = connect_tls(
        &lp,
        addr,
        good_client(&pki).server_hostname("not-localhost.example"),
    )
    .unwrap_err();
    assert!(error.to_string().contains("handshake"), "{error}");
    assert_serves(&lp, addr, &pki);
    let error = connect_tls(&lp, addr, good_client(&other)).unwrap_err();
    assert!(error.to_string().contains("handshake"), "{error}");
    assert_serves(&lp, addr, &pki);
    run_until(&lp, || seen.made.get() == 2);
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(20)))
        .unwrap();
    assert_eq!(
        seen.made.get(),
        2,
        "failed handshakes never reach the protocol"
    );
}

/// Runs `client` on a thread against the server and returns what it read
/// before the server closed (or reset) the connection.
fn raw_client(lp: &EventLoop, addr: SocketAddr, send: &'static [u8]) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(send).unwrap();
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        got
    });
    run_until(lp, || client.is_finished());
    (client.join().unwrap(), started.elapsed())
}

#[test]
fn plaintext_garbage_and_silent_clients_are_dropped_without_harm() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("bad");
    let seen = Rc::new(Seen::default());
    let addr = echo_server(&lp, &pki, &seen);
    // Plain HTTP to the TLS port: an alert at most, then the close.
    let (got, _) = raw_client(&lp, addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(got.len() < 64, "no echo of plaintext: {got:?}");
    assert_serves(&lp, addr, &pki);
    // A truncated, garbage ClientHello.
    let (got, _) = raw_client(&lp, addr, &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    assert!(got.len() < 64);
    assert_serves(&lp, addr, &pki);
    // A client that never finishes: closed at the handshake timeout.
    let (got, took) = raw_client(&lp, addr, b"");
    assert!(got.is_empty());
    assert!(
        took >= Duration::from_millis(250),
        "waited for the timeout ({took:?})"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_serves(&lp, addr, &pki);
    run_until(&lp, || seen.made.get() == 3);
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(20)))
        .unwrap();
    assert_eq!(
        seen.made.get(),
        3,
        "only the good connections were announced"
    );
}

#[test]
fn curl_verifies_the_server_with_the_ca_and_fails_without_it() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var_os("CI").is_none(), "curl is missing in CI");
        eprintln!("skipping: curl is not installed");
        return;
    }
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("curl");
    let seen = Rc::new(Seen::default());
    let addr = serve_with(&lp, pki.server_no_alpn.clone(), &seen);
    let url = format!("https://localhost:{}/", addr.port());
    let ca = pki.ca_pem.clone();
    let with_ca = std::thread::spawn({
        let url = url.clone();
        move || {
            std::process::Command::new("curl")
                .args(["-sS", "--max-time", "5", "--http1.1", "--cacert"])
                .arg(&ca)
                .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
                .arg(&url)
                .output()
                .unwrap()
        }
    });
    run_until(&lp, || with_ca.is_finished());
    let out = with_ca.join().unwrap();
    // The echo server sends the request back: curl reads it as a (bad)
    // HTTP response, but only after a verified handshake.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("certificate"), "{stderr}");
    assert!(seen.made.get() >= 1, "the handshake completed: {stderr}");
    assert!(
        String::from_utf8_lossy(&seen.data.borrow()).starts_with("GET / HTTP/1.1"),
        "curl's request arrived decrypted"
    );
    let without_ca = std::thread::spawn(move || {
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
            .arg(&url)
            .output()
            .unwrap()
    });
    run_until(&lp, || without_ca.is_finished());
    let out = without_ca.join().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("certificate") || stderr.contains("SSL"),
        "{stderr}"
    );
}

#[test]
fn a_runtime_serves_tls_on_every_loop_in_both_balance_modes() {
    let pki = make_pki("runtime");
    for balance in [
        loopcore::Balance::ReusePort,
        loopcore::Balance::Acceptor { accept_on: 0 },
    ] {
        let runtime = loopcore::Runtime::builder()
            .loops(2)
            .handle_signals(false)
            .build()
            .unwrap();
        let options = loopcore::ServeOptions::default()
            .balance(balance)
            .tls(pki.server.clone());
        let addr = runtime
            .serve("127.0.0.1:0", options, loopcore_echo)
            .unwrap()[0];
        let lp = EventLoop::new().unwrap();
        for _ in 0..4 {
            let seen = Rc::new(Seen::default());
            let transport = lp
                .run_until_complete(lp.create_connection_with(
                    addr.to_string(),
                    good_client(&pki),
                    Probe::new(&seen),
                ))
                .unwrap()
                .unwrap();
            transport.write(b"ping").unwrap();
            run_until(&lp, || seen.data.borrow().len() == 4);
            assert_eq!(&*seen.data.borrow(), b"ping", "{balance:?}");
            transport.close();
            run_until(&lp, || seen.lost.get() == 1);
        }
        runtime.shutdown(Duration::from_secs(2));
        runtime.run().unwrap();
    }
}

/// An echo protocol that is `Send`-constructible for the runtime.
fn loopcore_echo() -> Echo {
    Echo(None)
}

struct Echo(Option<Transport>);

impl loopcore::Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.0 = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

#[test]
fn flow_control_works_through_tls() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("flow");
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let options = ServerOptions::default().tls(pki.server.clone());
    let server = lp
        .create_server("127.0.0.1:0", options, move || {
            let mut probe = Probe::new(&s);
            probe.on_data = Some(Box::new(|t: &Transport, _: &[u8]| {
                t.set_write_buffer_limits(Some(256 * 1024), Some(64 * 1024))
                    .unwrap();
                let chunk = vec![b'z'; 64 * 1024];
                for _ in 0..64 {
                    t.write(&chunk).unwrap();
                }
            }));
            probe
        })
        .unwrap();
    let client_seen = Rc::new(Seen::default());
    let client = lp
        .run_until_complete(lp.create_connection_with(
            server.sockets()[0].to_string(),
            good_client(&pki),
            Probe::new(&client_seen),
        ))
        .unwrap()
        .unwrap();
    // A slow reader: the client stops reading, then asks for 4 MiB.
    client.pause_reading();
    client.write(b"go").unwrap();
    run_until(&lp, || seen.pauses.get() == 1);
    assert_eq!(seen.resumes.get(), 0);
    client.resume_reading();
    run_until(&lp, || client_seen.data.borrow().len() == 64 * 64 * 1024);
    run_until(&lp, || seen.resumes.get() == 1);
    assert_eq!(seen.pauses.get(), 1, "paused once, resumed once");
}
