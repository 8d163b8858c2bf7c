//! TLS helpers the integration tests share: a CA and a server identity
//! made on the fly (rcgen), TLS echo servers, and clients that trust them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use loopcore::rustls;
use loopcore::{ConnectOptions, EventLoop, ServerOptions, Transport};

use super::{Probe, Seen};

/// A CA, a server certificate for `localhost` and 127.0.0.1 signed by it,
/// and the CA's PEM in a temporary file.
pub(crate) struct Pki {
    pub(crate) ca: rcgen::Certificate,
    pub(crate) ca_key: rcgen::KeyPair,
    /// The server certificate and key as PEM files.
    pub(crate) cert_pem: PathBuf,
    pub(crate) key_pem: PathBuf,
    pub(crate) server: Arc<rustls::ServerConfig>,
    /// The same identity without ALPN (curl offers h2 and http/1.1).
    pub(crate) server_no_alpn: Arc<rustls::ServerConfig>,
    pub(crate) ca_pem: PathBuf,
}

pub(crate) fn make_pki(tag: &str) -> Pki {
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
    let cert_pem = ca_pem.with_extension("cert.pem");
    let key_pem = ca_pem.with_extension("key.pem");
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    Pki {
        ca,
        ca_key,
        cert_pem,
        key_pem,
        server,
        server_no_alpn,
        ca_pem,
    }
}

/// A client certificate signed by `pki`'s CA, as PEM files.
pub(crate) fn client_identity(pki: &Pki, tag: &str) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![format!("client-{tag}")]).unwrap();
    let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
    let cert_path = pki.ca_pem.with_extension(format!("client-{tag}.pem"));
    let key_path = pki.ca_pem.with_extension(format!("client-{tag}.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

pub(crate) fn echo_server(lp: &EventLoop, pki: &Pki, seen: &Rc<Seen>) -> SocketAddr {
    serve_with(lp, pki.server.clone(), seen)
}

pub(crate) fn serve_with(
    lp: &EventLoop,
    config: Arc<rustls::ServerConfig>,
    seen: &Rc<Seen>,
) -> SocketAddr {
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

pub(crate) fn connect_tls(
    lp: &EventLoop,
    addr: SocketAddr,
    options: ConnectOptions,
) -> loopcore::Result<Transport> {
    let seen = Rc::new(Seen::default());
    lp.run_until_complete(lp.create_connection_with(addr.to_string(), options, Probe::new(&seen)))
        .unwrap()
}

pub(crate) fn good_client(pki: &Pki) -> ConnectOptions {
    let config = loopcore::tls::client_config_from_ca_pem(&pki.ca_pem, &[b"echo"]).unwrap();
    ConnectOptions::default().tls(config)
}

/// A verified TLS client to `addr` whose protocol records into `seen`.
pub(crate) fn good_probe_client(
    lp: &EventLoop,
    addr: SocketAddr,
    pki: &Pki,
    seen: &Rc<Seen>,
) -> Transport {
    lp.run_until_complete(lp.create_connection_with(
        addr.to_string(),
        good_client(pki),
        Probe::new(seen),
    ))
    .unwrap()
    .unwrap()
}

/// A good connection after whatever went before: the server still serves.
pub(crate) fn assert_serves(lp: &EventLoop, addr: SocketAddr, pki: &Pki) {
    let transport = connect_tls(lp, addr, good_client(pki).server_hostname("localhost")).unwrap();
    let info = transport.tls_info().expect("negotiated");
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"echo"[..]));
    assert!(!info.peer_certificates.is_empty());
    transport.close();
}
