//! CPython's test certificates (`test_utils.SIGNING_CA`, `SIGNED_CERTFILE`,
//! `ONLYCERT`) made once per run with rcgen, the TLS flavour of
//! `run_test_server`, and the client contexts the SSL tests use.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use loopcore::rustls;

/// A signing CA and a server certificate it signed for `localhost` only
/// (no IP address: a client that checks `127.0.0.1` against it fails, as
/// CPython's `SIGNED_CERTFILE` does), as a server configuration.
pub struct TestCerts {
    /// The server's configuration (CPython's `simple_server_sslcontext`).
    pub server: Arc<rustls::ServerConfig>,
    /// The signing CA's certificate, PEM (CPython's `SIGNING_CA`).
    pub signing_ca: PathBuf,
    /// Another CA's certificate, PEM: a client trusting only it trusts
    /// nothing the server can show ("no CA loaded").
    pub unrelated_ca: PathBuf,
    /// The server certificate, DER (what `getpeercert` returns, in
    /// CPython's `PEERCERT`).
    pub server_cert_der: Vec<u8>,
}

fn make_ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

/// The run's certificates, made on first use.
pub fn certs() -> &'static TestCerts {
    static CERTS: OnceLock<TestCerts> = OnceLock::new();
    CERTS.get_or_init(|| {
        let (ca, ca_key) = make_ca("loopcore conformance signing CA");
        let (unrelated, _) = make_ca("loopcore conformance unrelated CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let server = loopcore::tls::server_config(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            &[],
        )
        .unwrap();
        let dir = std::env::temp_dir();
        let pid = std::process::id();
        let signing_ca = dir.join(format!("loopcore-conformance-{pid}-ca.pem"));
        let unrelated_ca = dir.join(format!("loopcore-conformance-{pid}-other-ca.pem"));
        std::fs::write(&signing_ca, ca.pem()).unwrap();
        std::fs::write(&unrelated_ca, unrelated.pem()).unwrap();
        TestCerts {
            server,
            signing_ca,
            unrelated_ca,
            server_cert_der: cert.der().to_vec(),
        }
    })
}

/// CPython's `test_utils.dummy_ssl_context()`: no verification at all.
pub fn dummy_client() -> Arc<rustls::ClientConfig> {
    loopcore::tls::dangerous::client_config_accepting_any_certificate(&[]).unwrap()
}

/// A verifying client that trusts the signing CA (`load_verify_locations(
/// cafile=SIGNING_CA)`).
pub fn verifying_client() -> Arc<rustls::ClientConfig> {
    loopcore::tls::client_config_from_ca_pem(&certs().signing_ca, &[]).unwrap()
}

/// A verifying client that trusts none of the server's chain (CPython's
/// `CERT_REQUIRED` context with no CA loaded, and `ssl=True` against a
/// test certificate).
pub fn client_without_the_ca() -> Arc<rustls::ClientConfig> {
    loopcore::tls::client_config_from_ca_pem(&certs().unrelated_ca, &[]).unwrap()
}

/// The TLS side of the test server's exchange on one accepted stream:
/// handshake, [`answer_test_request`](crate::answer_test_request), then
/// `close_notify`. Handshake failures (a client that refused the
/// certificate) end the exchange quietly, as CPython's server thread does.
pub fn answer_test_request_tls<S: std::io::Read + std::io::Write>(socket: S) {
    let connection = rustls::ServerConnection::new(certs().server.clone()).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    crate::answer_test_request(&mut tls);
    // A flush while still handshaking would wait for the rest of it.
    if !tls.conn.is_handshaking() {
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
}

/// CPython's `run_test_server(use_ssl=True)`: [`crate::run_test_server`]
/// behind TLS with the signed certificate.
pub fn run_test_server_tls(
    connections: usize,
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        for _ in 0..connections {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            answer_test_request_tls(s);
        }
    });
    (addr, thread)
}
