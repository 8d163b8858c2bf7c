//! TLS on stream transports, with `rustls`: the per-connection session
//! ([`TlsLayer`], owned by the connection table), the configuration helpers
//! users call, and [`TlsInfo`].
//!
//! Invariants:
//! 1. Ciphertext only ever sits in the connection's write buffer, so flow
//!    control counts what the kernel has not taken, as for plain TCP.
//! 2. `connection_made` runs when the handshake completes; a handshake that
//!    fails or times out closes the connection without any protocol call
//!    (the protocol never saw it) and is logged at debug level (and sent to
//!    the exception handler in debug mode).
//! 3. `close` sends `close_notify` before the FIN.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::future::Resolver;
use crate::handle::TimerHandle;
use crate::proto::write_buffer::WriteBuffer;
use crate::{Error, ErrorKind, Result};

/// How long a handshake may take by default (asyncio's
/// `ssl_handshake_timeout`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The TLS state of one connection.
pub(crate) struct TlsLayer {
    pub(crate) session: rustls::Connection,
    /// `connection_made` has not run yet.
    pub(crate) handshaking: bool,
    pub(crate) timer: Option<TimerHandle>,
    /// A client's `create_connection` waits on this for the handshake.
    pub(crate) waiter: Option<Resolver<Result<()>>>,
}

/// What one batch of ciphertext produced.
#[derive(Default)]
pub(crate) struct TlsInput {
    pub(crate) handshake_done: bool,
    pub(crate) peer_closed: bool,
    pub(crate) error: Option<io::Error>,
}

impl TlsLayer {
    pub(crate) fn new(session: rustls::Connection, waiter: Option<Resolver<Result<()>>>) -> Self {
        let mut session = session;
        // Plaintext written during the handshake waits inside rustls; flow
        // control works on the ciphertext buffer instead (invariant 1).
        session.set_buffer_limit(None);
        Self {
            session,
            handshaking: true,
            timer: None,
            waiter,
        }
    }

    /// Feeds ciphertext in, appending the plaintext it yields to `plain`.
    pub(crate) fn receive(&mut self, mut cipher: &[u8], plain: &mut Vec<u8>) -> TlsInput {
        let mut input = TlsInput::default();
        while !cipher.is_empty() {
            match self.session.read_tls(&mut cipher) {
                // Nothing taken: never spin on it.
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    input.error = Some(e);
                    return input;
                }
            }
            match self.session.process_new_packets() {
                Ok(state) => {
                    if state.plaintext_bytes_to_read() > 0 {
                        // Stops at WouldBlock with what there was appended.
                        let _ = self.session.reader().read_to_end(plain);
                    }
                    if state.peer_has_closed() {
                        input.peer_closed = true;
                    }
                }
                Err(e) => {
                    input.error = Some(io::Error::new(io::ErrorKind::InvalidData, e));
                    return input;
                }
            }
        }
        if self.handshaking && !self.session.is_handshaking() {
            self.handshaking = false;
            input.handshake_done = true;
            if let Some(timer) = self.timer.take() {
                timer.cancel();
            }
        }
        input
    }

    /// Encrypts `data` (buffered inside rustls until the handshake is done).
    pub(crate) fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.session.writer().write_all(data)
    }

    /// Moves whatever rustls wants to send into `out`; true if anything
    /// was added.
    pub(crate) fn drain_into(&mut self, out: &mut WriteBuffer) -> bool {
        let mut added = false;
        while self.session.wants_write() {
            let (_, written) = out.append_with(|bytes| self.session.write_tls(bytes));
            match written {
                Ok(0) | Err(_) => break,
                Ok(_) => added = true,
            }
        }
        added
    }

    pub(crate) fn info(&self) -> TlsInfo {
        let session = &self.session;
        TlsInfo {
            alpn_protocol: session.alpn_protocol().map(<[u8]>::to_vec),
            protocol_version: session.protocol_version().map(|v| format!("{v:?}")),
            cipher_suite: session
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite())),
            server_name: match session {
                rustls::Connection::Server(s) => s.server_name().map(str::to_owned),
                rustls::Connection::Client(_) => None,
            },
            peer_certificates: session
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default(),
        }
    }
}

/// What a TLS connection negotiated (asyncio's `get_extra_info` keys
/// `ssl_object`, `peercert`, `cipher`, `compression`), from
/// [`Transport::tls_info`](crate::Transport::tls_info).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The ALPN protocol agreed on, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The TLS version, e.g. `TLSv1_3`.
    pub protocol_version: Option<String>,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
    /// The SNI name the client asked for (server side).
    pub server_name: Option<String>,
    /// The peer's certificate chain, DER, leaf first (empty when the peer
    /// sent none).
    pub peer_certificates: Vec<Vec<u8>>,
}

fn config_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{what}: {e}"))
}

/// A server configuration from a PEM certificate chain (leaf first) and a
/// PEM private key, with the given ALPN protocols (empty: none). Session
/// resumption by tickets is on.
///
/// ```no_run
/// let config = loopcore::tls::server_config_from_pem("cert.pem", "key.pem", &[b"http/1.1"])?;
/// let options = loopcore::ServerOptions::default().tls(config);
/// # let _ = options;
/// # Ok::<(), loopcore::Error>(())
/// ```
pub fn server_config_from_pem(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>> {
    let (certs, key) = load_identity(cert_chain.as_ref(), key.as_ref())?;
    server_config(certs, key, alpn)
}

/// A server configuration from DER certificates and key already in memory.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| config_error("choosing TLS versions", e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| config_error("the certificate and key do not make a server identity", e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| config_error("setting up session tickets", e))?;
    Ok(Arc::new(config))
}

/// A certificate chain and key that can be replaced while a server runs:
/// handshakes after [`replace_from_pem`](Self::replace_from_pem) use the
/// new pair, connections already up keep theirs. Cheap to clone.
///
/// ```no_run
/// use loopcore::tls::{server_config_reloadable, ReloadableCert};
/// let cert = ReloadableCert::from_pem("cert.pem", "key.pem")?;
/// let config = server_config_reloadable(&cert, &[b"http/1.1"], None)?;
/// // ... serve with `config`; later, after renewal:
/// cert.replace_from_pem("cert.pem", "key.pem")?;
/// # Ok::<(), loopcore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReloadableCert {
    current: Arc<std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>>,
}

impl ReloadableCert {
    /// From PEM files: the chain (leaf first) and the private key.
    pub fn from_pem(cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self> {
        let (certs, key) = load_identity(cert_chain.as_ref(), key.as_ref())?;
        Self::from_der(certs, key)
    }

    /// From DER values.
    pub fn from_der(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self> {
        Ok(Self {
            current: Arc::new(std::sync::RwLock::new(certified_key(certs, key)?)),
        })
    }

    /// Replaces the pair from PEM files; on error the old pair stays.
    pub fn replace_from_pem(
        &self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<()> {
        let (certs, key) = load_identity(cert_chain.as_ref(), key.as_ref())?;
        self.replace(certs, key)
    }

    /// Replaces the pair; on error the old pair stays.
    pub fn replace(
        &self,
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<()> {
        let new = certified_key(certs, key)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new;
        Ok(())
    }
}

impl rustls::server::ResolvesServerCert for ReloadableCert {
    fn resolve(
        &self,
        _client_hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

fn certified_key(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::sign::CertifiedKey>> {
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "an empty certificate chain",
        ));
    }
    rustls::sign::CertifiedKey::from_der(certs, key, &rustls::crypto::ring::default_provider())
        .map(Arc::new)
        .map_err(|e| config_error("the certificate and key do not make a server identity", e))
}

fn load_identity(
    cert_chain: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_chain)
        .and_then(|certs| certs.collect())
        .map_err(|e| {
            config_error(
                &format!("reading certificates from {}", cert_chain.display()),
                e,
            )
        })?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("no certificate in {}", cert_chain.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        config_error(
            &format!("reading the private key from {}", key_path.display()),
            e,
        )
    })?;
    Ok((certs, key))
}

fn load_roots(ca: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| config_error(&format!("reading CA certificates from {}", ca.display()), e))?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| config_error(&format!("a CA certificate in {}", ca.display()), e))?;
    }
    if roots.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("no CA certificate in {}", ca.display()),
        ));
    }
    Ok(roots)
}

/// A server configuration whose certificate can be replaced while it
/// serves ([`ReloadableCert`]); with `client_ca`, every client must present
/// a certificate issued by a CA of that PEM file (mutual TLS). Session
/// tickets are on.
pub fn server_config_reloadable(
    cert: &ReloadableCert,
    alpn: &[&[u8]],
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("choosing TLS versions", e))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(load_roots(ca)?),
                provider,
            )
            .build()
            .map_err(|e| config_error("setting up client-certificate verification", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(cert.clone()));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.ticketer = rustls::crypto::ring::Ticketer::new()
        .map_err(|e| config_error("setting up session tickets", e))?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the CAs of `ca` and presenting the
/// certificate `cert` with its `key` (for servers that require mutual
/// TLS).
pub fn client_config_with_identity(
    ca: impl AsRef<Path>,
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>> {
    let roots = load_roots(ca.as_ref())?;
    let (certs, key) = load_identity(cert.as_ref(), key.as_ref())?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| config_error("choosing TLS versions", e))?
    .with_root_certificates(roots)
    .with_client_auth_cert(certs, key)
    .map_err(|e| config_error("the client certificate and key", e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificates of a PEM file.
pub fn client_config_from_ca_pem(
    ca: impl AsRef<Path>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>> {
    client_config(load_roots(ca.as_ref())?, alpn)
}

/// A client configuration trusting the system's CA store
/// (`rustls-native-certs`).
pub fn client_config_native_roots(alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "no usable CA certificate in the system store ({:?})",
                found.errors
            ),
        ));
    }
    client_config(roots, alpn)
}

fn client_config(
    roots: rustls::RootCertStore,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| config_error("choosing TLS versions", e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name a client verifies: `host` as given, or the host part of
/// `host:port` / `[v6]:port`.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    let host = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((name, port))
                if port.chars().all(|c| c.is_ascii_digit()) && !name.contains(':') =>
            {
                name
            }
            _ => host,
        }
    };
    ServerName::try_from(host.to_owned()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{host:?} is not a valid TLS server name: {e}"),
        )
    })
}
