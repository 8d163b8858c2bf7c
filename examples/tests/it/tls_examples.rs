//! The TLS examples against outside clients: `curl --cacert` and `openssl
//! s_client` complete handshakes and get the right bytes; curl without the
//! CA refuses the server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{have, signal, start_example_with_lines, wait_with_timeout};

/// The PEM path the example printed for its self-signed certificate.
fn printed_cert(lines: &[String], after: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.split(after).nth(1))
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("no certificate path in {lines:?}"))
}

#[test]
fn https_plaintext_serves_curl_with_the_ca_and_curl_without_it_refuses() {
    if !have("curl") {
        return;
    }
    let (mut child, addr, lines, _stdout) =
        start_example_with_lines("https_plaintext", &["--loops", "2", "--port", "0"]);
    let ca = printed_cert(&lines, "curl --cacert ");
    let url = format!("https://localhost:{}/plaintext", addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let good = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert_eq!(good.stdout, b"Hello, World!");
    let refused = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--resolve", &resolve, &url])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "no CA: the certificate must not verify"
    );
    signal(&child, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child, Duration::from_secs(20)).success());
}

/// A client reading to EOF after `Connection: close` must see the server
/// close the TLS session (close_notify, then FIN), not wait on a
/// half-closed connection.
#[test]
fn https_plaintext_closes_the_tls_session_after_connection_close() {
    use std::io::Read;
    use std::sync::Arc;

    use loopcore::rustls;

    let (mut child, addr, lines, _stdout) =
        start_example_with_lines("https_plaintext", &["--loops", "1", "--port", "0"]);
    let ca = printed_cert(&lines, "curl --cacert ");
    let config = loopcore::tls::client_config_from_ca_pem(&ca, &[]).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
    let socket = std::net::TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(session, socket);
    tls.write_all(
        b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n\
          GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    // Ok (not a timeout, not UnexpectedEof): the server sent close_notify.
    tls.read_to_end(&mut answer)
        .expect("the server closes the TLS session cleanly");
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert_eq!(text.matches("Hello, World!").count(), 2, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    signal(&child, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child, Duration::from_secs(20)).success());
}

#[test]
fn tls_echo_answers_openssl_s_client() {
    if !have("openssl") {
        return;
    }
    let (mut child, addr, _, mut stdout) = start_example_with_lines("tls_echo", &["--port", "0"]);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let ca = line
        .split(": ")
        .nth(1)
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| panic!("no certificate path in {line:?}"));
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile", &ca])
        .args(["-connect", &addr.to_string(), "-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"echo through openssl\n").unwrap();
    let out = client.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut echoed = String::new();
        let _ = BufReader::new(out).read_line(&mut echoed);
        echoed
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !reader.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "no echo from the TLS server"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(reader.join().unwrap(), "echo through openssl\n");
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
    signal(&child, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child, Duration::from_secs(20)).success());
}
