//! TLS transports with certificates made on the fly (rcgen): loopcore's
//! client against loopcore's server, bad handshakes of every kind each
//! followed by a good one, close_notify, and curl as an outside client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::rustls;
use loopcore::{ConnectOptions, EventLoop, ServerOptions, Transport};

use crate::support::tls::{
    assert_serves, client_identity, connect_tls, echo_server, good_client, good_probe_client,
    make_pki, serve_with,
};
use crate::support::{run_until, Probe, Seen};

#[test]
fn loopcore_client_and_server_echo_over_tls_and_close_with_close_notify() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("echo");
    let seen = Rc::new(Seen::default());
    let addr = echo_server(&lp, &pki, &seen);
    let client_seen = Rc::new(Seen::default());
    let transport = good_probe_client(&lp, addr, &pki, &client_seen);
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

#[test]
fn a_self_signed_server_trusted_by_its_own_certificate_is_accepted_by_name() {
    // `openssl req -x509` style: the server's certificate is its own CA
    // (basicConstraints CA:TRUE), which webpki alone refuses as an end
    // entity; listed in the client's CA file, it is trusted as itself.
    let lp = EventLoop::new().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let server = loopcore::tls::server_config(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        &[b"echo"],
    )
    .unwrap();
    let seen = Rc::new(Seen::default());
    let addr = serve_with(&lp, server, &seen);
    let pem = std::env::temp_dir().join(format!("loopcore-self-{}.pem", std::process::id()));
    std::fs::write(&pem, cert.pem()).unwrap();
    let trusting = || {
        ConnectOptions::default()
            .tls(loopcore::tls::client_config_from_ca_pem(&pem, &[b"echo"]).unwrap())
    };
    let transport = connect_tls(&lp, addr, trusting()).expect("trusted as itself");
    assert!(transport.tls_info().is_some());
    transport.close();
    // Its name is still checked.
    let error =
        connect_tls(&lp, addr, trusting().server_hostname("elsewhere.example")).unwrap_err();
    assert!(error.to_string().contains("handshake"), "{error}");
    // And a client that trusts another CA still refuses it.
    let other = make_pki("not-self");
    let error = connect_tls(&lp, addr, good_client(&other)).unwrap_err();
    assert!(error.to_string().contains("handshake"), "{error}");
    std::fs::remove_file(pem).unwrap();
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

/// 64 KiB chunks the flow-control test asks for: 48 MiB.
const FLOW_CHUNKS: usize = 768;

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
                for _ in 0..FLOW_CHUNKS {
                    t.write(&chunk).unwrap();
                }
            }));
            probe
        })
        .unwrap();
    let client_seen = Rc::new(Seen::default());
    let client = good_probe_client(&lp, server.sockets()[0], &pki, &client_seen);
    // A slow reader: the client stops reading, then asks for more than
    // the kernel's loopback buffers can take (tcp_rmem's maximum is 32 MiB
    // on some machines), so the server's own buffer must fill.
    client.pause_reading();
    client.write(b"go").unwrap();
    run_until(&lp, || seen.pauses.get() == 1);
    assert_eq!(seen.resumes.get(), 0);
    client.resume_reading();
    run_until(&lp, || {
        client_seen.data.borrow().len() == FLOW_CHUNKS * 64 * 1024
    });
    run_until(&lp, || seen.resumes.get() == 1);
    assert_eq!(seen.pauses.get(), 1, "paused once, resumed once");
}

#[test]
fn a_reloaded_certificate_serves_new_handshakes_and_old_connections_stay() {
    let lp = EventLoop::new().unwrap();
    let first = make_pki("reload-a");
    let second = make_pki("reload-b");
    let cert = loopcore::tls::ReloadableCert::from_pem(&first.cert_pem, &first.key_pem).unwrap();
    let config = loopcore::tls::server_config_reloadable(&cert, &[b"echo"], None).unwrap();
    let seen = Rc::new(Seen::default());
    let addr = serve_with(&lp, config, &seen);
    let old_seen = Rc::new(Seen::default());
    let old = lp
        .run_until_complete(lp.create_connection_with(
            addr.to_string(),
            good_client(&first),
            Probe::new(&old_seen),
        ))
        .unwrap()
        .unwrap();
    cert.replace_from_pem(&second.cert_pem, &second.key_pem)
        .unwrap();
    assert!(
        connect_tls(&lp, addr, good_client(&first)).is_err(),
        "the old CA no longer verifies new handshakes"
    );
    assert_serves(&lp, addr, &second);
    old.write(b"still here").unwrap();
    run_until(&lp, || old_seen.data.borrow().len() == 10);
    assert_eq!(&*old_seen.data.borrow(), b"still here");
    assert!(
        cert.replace_from_pem(&second.ca_pem, &first.key_pem)
            .is_err(),
        "a mismatched pair is refused and the current one kept"
    );
    assert_serves(&lp, addr, &second);
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_given_ca() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("mtls");
    let stranger = make_pki("mtls-stranger");
    let cert = loopcore::tls::ReloadableCert::from_pem(&pki.cert_pem, &pki.key_pem).unwrap();
    let config = loopcore::tls::server_config_reloadable(&cert, &[], Some(&pki.ca_pem)).unwrap();
    let seen = Rc::new(Seen::default());
    let addr = serve_with(&lp, config, &seen);
    let (client_cert, client_key) = client_identity(&pki, "good");
    let with_identity =
        loopcore::tls::client_config_with_identity(&pki.ca_pem, &client_cert, &client_key, &[])
            .unwrap();
    let transport = connect_tls(&lp, addr, ConnectOptions::default().tls(with_identity)).unwrap();
    transport.write(b"mtls").unwrap();
    run_until(&lp, || seen.data.borrow().len() == 4);
    let server_side = seen.transport.borrow().clone().unwrap();
    assert_eq!(server_side.tls_info().unwrap().peer_certificates.len(), 1);
    // No client certificate: refused (TLS 1.3 reports it after the
    // client's Finished, so the echo never comes).
    let anonymous = loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[]).unwrap();
    let (foreign_cert, foreign_key) = client_identity(&stranger, "foreign");
    let foreign =
        loopcore::tls::client_config_with_identity(&pki.ca_pem, &foreign_cert, &foreign_key, &[])
            .unwrap();
    for config in [anonymous, foreign] {
        let client_seen = Rc::new(Seen::default());
        let result = lp
            .run_until_complete(lp.create_connection_with(
                addr.to_string(),
                ConnectOptions::default().tls(config),
                Probe::new(&client_seen),
            ))
            .unwrap();
        if let Ok(t) = result {
            let _ = t.write(b"let me in");
            run_until(&lp, || client_seen.lost.get() == 1);
            assert!(
                client_seen.data.borrow().is_empty(),
                "nothing echoed to an unverified client"
            );
        }
    }
    assert_eq!(seen.made.get(), 1, "only the verified client was announced");
}

/// `ServeOptions` holds a `ServerOptions`: the TLS handshake timeout (the
/// guard docs/security.md names against slow TLS clients) reaches every
/// loop of a runtime. A client that never sends a ClientHello is closed
/// at the 300 ms set here, not at the 60 s default.
#[test]
fn the_tls_handshake_timeout_set_on_serve_options_reaches_every_loop() {
    use std::io::Read;
    let pki = make_pki("serve-handshake");
    let runtime = loopcore::Runtime::builder()
        .loops(2)
        .handle_signals(false)
        .build()
        .unwrap();
    let options = loopcore::ServeOptions::default()
        .tls(pki.server.clone())
        .tls_handshake_timeout(Duration::from_millis(300));
    assert_eq!(
        options.server.tls_handshake_timeout,
        Duration::from_millis(300)
    );
    let addr = runtime
        .serve("127.0.0.1:0", options, loopcore_echo)
        .unwrap()[0];
    let handle = runtime.handle();
    let client = std::thread::spawn(move || {
        let mut took = Vec::new();
        // Several, so both loops of the group see one.
        for _ in 0..6 {
            let mut silent = std::net::TcpStream::connect(addr).unwrap();
            silent
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let started = std::time::Instant::now();
            let mut buf = [0u8; 64];
            let _ = silent.read(&mut buf);
            took.push(started.elapsed());
        }
        handle.shutdown(Duration::from_secs(1));
        took
    });
    runtime.run().unwrap();
    for took in client.join().unwrap() {
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(5),
            "closed at the handshake timeout set on ServeOptions: {took:?}"
        );
    }
}
