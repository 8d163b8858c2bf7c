//! TLS set up after the fact: `start_tls` on a live plaintext connection
//! (both sides of a STARTTLS exchange), the stream API over TLS,
//! `connect_accepted_socket_tls`, Unix sockets over TLS, the dangerous
//! no-verification client, and the shutdown timeout.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use loopcore::{ConnectOptions, ErrorKind, EventLoop, ServerOptions, TlsSetup, Transport};

use crate::support::tls::{good_client, good_probe_client, make_pki, Pki};
use crate::support::{run_until, Probe, Seen};

type Upgraded = Rc<RefCell<Option<loopcore::Result<Transport>>>>;

/// A plaintext server that answers `STARTTLS\n` with `GO\n` and upgrades
/// to TLS, handing the connection to an echoing protocol that records into
/// `secure`.
fn starttls_server(
    lp: &EventLoop,
    pki: &Pki,
    plain: &Rc<Seen>,
    secure: &Rc<Seen>,
    upgraded: &Upgraded,
) -> loopcore::Server {
    let (plain, secure, upgraded) = (plain.clone(), secure.clone(), upgraded.clone());
    let config = pki.server.clone();
    lp.create_server("127.0.0.1:0", ServerOptions::default(), move || {
        let (secure, upgraded, config) = (secure.clone(), upgraded.clone(), config.clone());
        let mut probe = Probe::new(&plain);
        probe.on_data = Some(Box::new(move |t: &Transport, data: &[u8]| {
            if data != b"STARTTLS\n" {
                return;
            }
            t.write(b"GO\n").unwrap();
            // The peer's hello must not reach the plaintext protocol.
            t.pause_reading();
            let lp = EventLoop::current();
            let (t, secure, upgraded, config) =
                (t.clone(), secure.clone(), upgraded.clone(), config.clone());
            lp.clone()
                .spawn(async move {
                    let echo = Probe {
                        echo: true,
                        ..Probe::new(&secure)
                    };
                    let result = lp.start_tls(&t, echo, TlsSetup::server(config)).await;
                    *upgraded.borrow_mut() = Some(result);
                })
                .detach();
        }));
        probe
    })
    .unwrap()
}

#[test]
fn start_tls_upgrades_both_sides_of_a_plaintext_connection() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("starttls");
    let (server_plain, server_secure) = (Rc::new(Seen::default()), Rc::new(Seen::default()));
    let upgraded: Upgraded = Rc::default();
    let server = starttls_server(&lp, &pki, &server_plain, &server_secure, &upgraded);
    let addr = server.sockets()[0];

    let client_plain = Rc::new(Seen::default());
    let plain = lp
        .run_until_complete(lp.create_connection(addr.to_string(), Probe::new(&client_plain)))
        .unwrap()
        .unwrap();
    plain.write(b"STARTTLS\n").unwrap();
    run_until(&lp, || client_plain.data.borrow().as_slice() == b"GO\n");

    let client_secure = Rc::new(Seen::default());
    let client_config = loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[b"echo"]).unwrap();
    let secure = lp
        .run_until_complete(lp.start_tls(
            &plain,
            Probe::new(&client_secure),
            TlsSetup::client(client_config, "localhost"),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(
        plain.write(b"stale").unwrap_err().kind(),
        ErrorKind::Closed,
        "the plaintext transport is unusable after the upgrade"
    );
    assert_eq!(
        client_secure.made.get(),
        1,
        "the new protocol got its transport"
    );
    let info = secure.tls_info().expect("the new transport speaks TLS");
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"echo"[..]));
    assert!(!info.peer_certificates.is_empty());

    secure.write(b"now encrypted").unwrap();
    run_until(&lp, || client_secure.data.borrow().len() == 13);
    assert_eq!(&*client_secure.data.borrow(), b"now encrypted");
    let server_side = upgraded.borrow_mut().take().unwrap().unwrap();
    assert_eq!(
        server_side.tls_info().unwrap().server_name.as_deref(),
        Some("localhost")
    );
    assert_eq!(&*server_secure.data.borrow(), b"now encrypted");
    assert_eq!(
        server.client_count(),
        1,
        "the server still counts the upgraded connection"
    );

    secure.close();
    run_until(&lp, || {
        client_secure.lost.get() == 1 && server.client_count() == 0
    });
    run_until(&lp, || server_secure.lost.get() == 1);
    assert!(!client_secure.lost_with_error.get());
    assert_eq!(server_secure.eofs.get(), 1, "close_notify arrived as EOF");
    // The protocols that were replaced hear nothing more.
    assert_eq!(client_plain.lost.get(), 0);
    assert_eq!(server_plain.lost.get(), 0);
    assert_eq!(&*server_plain.data.borrow(), b"STARTTLS\n");
}

#[test]
fn a_start_tls_the_peer_never_answers_times_out_and_closes() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("starttls-timeout");
    let server_seen = Rc::new(Seen::default());
    let addr = crate::support::probe_server(&lp, &server_seen);
    let client_plain = Rc::new(Seen::default());
    let plain = lp
        .run_until_complete(lp.create_connection(addr.to_string(), Probe::new(&client_plain)))
        .unwrap()
        .unwrap();
    let client_secure = Rc::new(Seen::default());
    let setup = TlsSetup::client(
        loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[]).unwrap(),
        "localhost",
    )
    .handshake_timeout(Duration::from_millis(200));
    let error = lp
        .run_until_complete(lp.start_tls(&plain, Probe::new(&client_secure), setup))
        .unwrap()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
    assert_eq!(client_secure.made.get(), 0);
    // The hello reached the (plaintext) server, then the connection closed.
    run_until(&lp, || server_seen.lost.get() == 1);
    assert!(
        server_seen.data.borrow().len() > 5,
        "a ClientHello was sent"
    );
    assert_eq!(server_seen.data.borrow()[0], 0x16, "a TLS handshake record");
    // A second upgrade of the stale transport is refused.
    let again = lp
        .run_until_complete(lp.start_tls(
            &plain,
            Probe::new(&client_secure),
            TlsSetup::server(pki.server.clone()),
        ))
        .unwrap()
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Closed);
}

#[test]
fn the_stream_api_speaks_tls_both_ways() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("streams");
    let options = ServerOptions::default().tls(pki.server.clone());
    let server = lp
        .start_server("127.0.0.1:0", options, |mut reader, writer| async move {
            while let Ok(line) = reader.read_line().await {
                if line.is_empty() || writer.write(&line).is_err() {
                    break;
                }
            }
            writer.close();
        })
        .unwrap();
    let addr = server.sockets()[0].to_string();
    let options = good_client(&pki).server_hostname("localhost");
    let echoed = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let (mut reader, writer) = lp.open_connection_with(addr, options).await?;
            writer.write(b"line over tls\n")?;
            let line = reader.read_line().await?;
            writer.close();
            Ok::<_, loopcore::Error>(line)
        })
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"line over tls\n");
}

#[test]
fn an_accepted_socket_serves_tls_and_the_dangerous_client_skips_verification() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("accepted");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A verifying client refuses this name (tls::wrong_hostname_...); this
    // one does not.
    let dangerous =
        loopcore::tls::dangerous::client_config_accepting_any_certificate(&[b"echo"]).unwrap();
    let client_seen = Rc::new(Seen::default());
    let server_seen = Rc::new(Seen::default());
    let config = pki.server.clone();
    let ss = server_seen.clone();
    let client = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let connecting = lp.spawn({
                let lp = lp.clone();
                let client_seen = client_seen.clone();
                async move {
                    let options = ConnectOptions::default()
                        .tls(dangerous)
                        .server_hostname("elsewhere.example");
                    lp.create_connection_with(addr.to_string(), options, Probe::new(&client_seen))
                        .await
                }
            });
            // The kernel completed the connect; the std accept does not block.
            loopcore::sleep(Duration::from_millis(20)).await;
            let (accepted, _) = listener.accept().unwrap();
            let echo = Probe {
                echo: true,
                ..Probe::new(&ss)
            };
            let server_side = lp
                .connect_accepted_socket_tls(accepted, echo, TlsSetup::server(config))
                .await?;
            let client = connecting.await.expect("the connect task ran")?;
            Ok::<_, loopcore::Error>((client, server_side, client_seen))
        })
        .unwrap();
    let (client, server_side, client_seen) = client.unwrap();
    assert!(server_side.tls_info().is_some());
    client.write(b"unverified").unwrap();
    run_until(&lp, || client_seen.data.borrow().len() == 10);
    assert_eq!(
        server_side.tls_info().unwrap().server_name.as_deref(),
        Some("elsewhere.example")
    );
}

#[test]
fn unix_sockets_speak_tls() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("unix");
    let path = std::env::temp_dir().join(format!("loopcore-tls-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let name = path.to_str().unwrap().to_owned();
    let server_seen = Rc::new(Seen::default());
    let ss = server_seen.clone();
    let options = ServerOptions::default().tls(pki.server.clone());
    let _server = lp
        .create_unix_server(&name, options, move || Probe {
            echo: true,
            ..Probe::new(&ss)
        })
        .unwrap();
    let client_seen = Rc::new(Seen::default());
    let config = loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[b"echo"]).unwrap();
    let client = lp
        .run_until_complete(lp.create_unix_connection_tls(
            &name,
            Probe::new(&client_seen),
            TlsSetup::client(config, "localhost"),
        ))
        .unwrap()
        .unwrap();
    client.write(b"over a unix socket").unwrap();
    run_until(&lp, || client_seen.data.borrow().len() == 18);
    assert_eq!(&*client_seen.data.borrow(), b"over a unix socket");
    assert_eq!(server_seen.made.get(), 1);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_close_the_peer_never_reads_is_aborted_after_the_shutdown_timeout() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("shutdown");
    let server_seen = Rc::new(Seen::default());
    let ss = server_seen.clone();
    let options = ServerOptions::default()
        .tls(pki.server.clone())
        .tls_shutdown_timeout(Duration::from_millis(200));
    let server = lp
        .create_server("127.0.0.1:0", options, move || {
            let mut probe = Probe::new(&ss);
            probe.on_data = Some(Box::new(|t: &Transport, _: &[u8]| {
                // Far more than the socket buffers hold, then close.
                let chunk = vec![b'x'; 64 * 1024];
                for _ in 0..256 {
                    t.write(&chunk).unwrap();
                }
                t.close();
            }));
            probe
        })
        .unwrap();
    let addr: SocketAddr = server.sockets()[0];
    let client_seen = Rc::new(Seen::default());
    let client = good_probe_client(&lp, addr, &pki, &client_seen);
    client.pause_reading();
    client.write(b"send me everything").unwrap();
    // Without the timeout the server's close would wait on this reader
    // forever.
    run_until(&lp, || server_seen.lost.get() == 1);
    assert_eq!(server.client_count(), 0);
    assert!(
        client_seen.data.borrow().is_empty(),
        "the client never read"
    );
}

#[test]
fn an_expired_certificate_is_refused_and_the_server_serves_once_renewed() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("expired");
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2001, 1, 1);
    params.not_after = rcgen::date_time_ymd(2002, 1, 1);
    let expired = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
    let cert = loopcore::tls::ReloadableCert::from_der(
        vec![expired.der().clone()],
        loopcore::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let config = loopcore::tls::server_config_reloadable(&cert, &[b"echo"], None).unwrap();
    let seen = Rc::new(Seen::default());
    let addr = crate::support::tls::serve_with(&lp, config, &seen);
    let error =
        crate::support::tls::connect_tls(&lp, addr, good_client(&pki).server_hostname("localhost"))
            .unwrap_err();
    assert!(
        format!("{error} {:?}", error.io_error()).contains("xpired"),
        "{error} {:?}",
        error.io_error()
    );
    // The same server, renewed, serves.
    cert.replace_from_pem(&pki.cert_pem, &pki.key_pem).unwrap();
    crate::support::tls::assert_serves(&lp, addr, &pki);
}

#[test]
fn a_buffered_protocol_gets_the_plaintext_over_tls() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("buffered");
    let got = Rc::new(RefCell::new(Vec::new()));
    let lost = Rc::new(std::cell::Cell::new(None));
    let (g, l) = (got.clone(), lost.clone());
    let options = ServerOptions::default().tls(pki.server.clone());
    let server = lp
        .create_server("127.0.0.1:0", options, move || {
            loopcore::Buffered(crate::support::Collector {
                buf: vec![0; 7],
                got: g.clone(),
                lost: l.clone(),
            })
        })
        .unwrap();
    let client = good_probe_client(&lp, server.sockets()[0], &pki, &Rc::new(Seen::default()));
    client
        .write(b"through a seven-byte buffer, decrypted")
        .unwrap();
    run_until(&lp, || got.borrow().len() == 38);
    assert_eq!(&*got.borrow(), b"through a seven-byte buffer, decrypted");
    client.close();
    run_until(&lp, || lost.get().is_some());
}

#[test]
fn a_peer_gone_during_the_handshake_is_never_announced_and_start_tls_says_why() {
    let lp = EventLoop::new().unwrap();
    let pki = make_pki("gone");
    let seen = Rc::new(Seen::default());
    let addr = crate::support::tls::serve_with(&lp, pki.server.clone(), &seen);
    // A health check: connect, close, no TLS at all.
    drop(std::net::TcpStream::connect(addr).unwrap());
    let server_stats = || lp.stats();
    run_until(&lp, || server_stats().connections_closed >= 1);
    assert_eq!(seen.made.get(), 0);
    assert_eq!(
        seen.eofs.get(),
        0,
        "no eof_received for a connection never announced"
    );
    assert_eq!(seen.lost.get(), 0, "no connection_lost either");
    crate::support::tls::assert_serves(&lp, addr, &pki);

    // start_tls on a connection whose peer closes instead of answering.
    let plain_seen = Rc::new(Seen::default());
    let s = plain_seen.clone();
    let closer = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let mut probe = Probe::new(&s);
            probe.on_data = Some(Box::new(|t: &Transport, _: &[u8]| t.close()));
            probe
        })
        .unwrap();
    let plain = lp
        .run_until_complete(lp.create_connection(
            closer.sockets()[0].to_string(),
            Probe::new(&Rc::new(Seen::default())),
        ))
        .unwrap()
        .unwrap();
    let config = loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[]).unwrap();
    let error = lp
        .run_until_complete(lp.start_tls(
            &plain,
            Probe::new(&Rc::new(Seen::default())),
            TlsSetup::client(config, "localhost"),
        ))
        .unwrap()
        .unwrap_err();
    assert_ne!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert!(error.to_string().contains("handshake"), "{error}");
}
