//! The configuration helpers users call: server configurations from PEM
//! files (fixed or reloadable, optionally demanding client certificates)
//! and client configurations trusting a PEM CA, the system store, or
//! presenting an identity.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{Error, ErrorKind, Result};

pub(super) fn config_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{what}: {e}"))
}

/// The crypto provider of every configuration loopcore builds: *ring*'s,
/// one place for the whole crate.
///
/// rustls 0.23.48 deprecates `crypto::ring::default_provider` ("no support
/// for post-quantum algorithms") without a *ring* replacement: the
/// post-quantum key exchange is aws-lc-rs's, a provider this workspace does
/// not build. Staying on *ring* is deliberate, so the one call allows the
/// lint here. `allow`, not `expect`: with rustls before 0.23.48 (the lock
/// may pin one) nothing is deprecated and an `expect` would warn instead.
pub(super) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
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
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
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
    rustls::sign::CertifiedKey::from_der(certs, key, &provider())
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

fn read_certs(ca: &Path) -> Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_file_iter(ca)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| config_error(&format!("reading CA certificates from {}", ca.display()), e))
}

fn load_roots(ca: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca)? {
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
    let provider = provider();
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
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("choosing TLS versions", e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| config_error("the client certificate and key", e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificates of a PEM file: a
/// server's chain must lead to one of them, or the server must present one
/// of them itself (a self-signed server, as OpenSSL's clients accept; its
/// name is still checked, its validity period is not).
pub fn client_config_from_ca_pem(
    ca: impl AsRef<Path>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>> {
    let ca = ca.as_ref();
    let trusted = read_certs(ca)?;
    let provider = provider();
    let chains = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(load_roots(ca)?),
        provider.clone(),
    )
    .build()
    .map_err(|e| config_error(&format!("the CA certificates in {}", ca.display()), e))?;
    let verifier = Arc::new(super::pinned::RootsOrTrustedSelf::new(chains, trusted));
    client_config_verified_by(provider, verifier, alpn)
}

/// A client configuration whose server verification is `verifier`'s.
pub(super) fn client_config_verified_by(
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("choosing TLS versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
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
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
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
