//! Client configurations that skip certificate verification. For tests
//! against throwaway self-signed servers and for benchmarks only: a client
//! built this way talks to whoever answers, attacker included. Named so
//! that nobody turns verification off by accident (asyncio turns it off
//! with an `ssl.SSLContext` whose `verify_mode` is `CERT_NONE`; an empty
//! `server_hostname` does **not** turn it off here).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::config::{client_config_verified_by, provider};
use crate::Result;

/// A client configuration that accepts **any** server certificate: expired,
/// self-signed, issued for another name. The handshake's signatures are
/// still checked (the server must hold the key of the certificate it
/// sent), so the connection is encrypted, but not authenticated.
///
/// ```
/// let config = loopcore::tls::dangerous::client_config_accepting_any_certificate(&[b"http/1.1"])?;
/// let options = loopcore::ConnectOptions::default().tls(config);
/// # let _ = options;
/// # Ok::<(), loopcore::Error>(())
/// ```
pub fn client_config_accepting_any_certificate(
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>> {
    let provider = provider();
    let verifier = Arc::new(AnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    client_config_verified_by(provider, verifier, alpn)
}

#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
