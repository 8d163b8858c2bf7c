//! TLS identities for the examples: PEM files given on the command line,
//! or a self-signed certificate for `localhost` and `127.0.0.1` made on the
//! spot (`rcgen`), its PEM written out for `curl --cacert`.

use std::path::PathBuf;
use std::sync::Arc;

use loopcore::rustls;

/// A server identity and, when it was generated, where its certificate is.
#[derive(Debug)]
pub struct Identity {
    /// The server configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// The generated certificate's PEM file (`None` for given files).
    pub generated_cert: Option<PathBuf>,
}

/// Loads `cert`/`key`, or makes a self-signed pair when both are `None`;
/// offers the `alpn` protocols, in order of preference.
pub fn identity(
    cert: Option<&str>,
    key: Option<&str>,
    alpn: &[&[u8]],
) -> Result<Identity, Box<dyn std::error::Error>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Identity {
            config: loopcore::tls::server_config_from_pem(cert, key, alpn)?,
            generated_cert: None,
        }),
        (None, None) => {
            let certified = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])?;
            let path =
                std::env::temp_dir().join(format!("loopcore-example-{}.pem", std::process::id()));
            std::fs::write(&path, certified.cert.pem())?;
            let config = loopcore::tls::server_config(
                vec![certified.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into()),
                alpn,
            )?;
            Ok(Identity {
                config,
                generated_cert: Some(path),
            })
        }
        _ => Err("--cert and --key go together".into()),
    }
}
