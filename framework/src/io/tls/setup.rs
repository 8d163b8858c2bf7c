//! [`TlsSetup`]: which side of a handshake to take, with which
//! configuration and timeouts, for the calls that turn a stream into TLS
//! after the fact (`start_tls`, `connect_accepted_socket_tls`,
//! `create_unix_connection_tls`).

use std::sync::Arc;
use std::time::Duration;

use super::{server_name, TlsLayer, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT};
use crate::future::Resolver;
use crate::{Error, ErrorKind, Result};

/// The TLS side of a connection (asyncio's `sslcontext`, `server_side`,
/// `server_hostname`, `ssl_handshake_timeout` and `ssl_shutdown_timeout`).
///
/// ```no_run
/// use std::time::Duration;
/// let client = loopcore::tls::client_config_from_ca_pem("ca.pem", &[])?;
/// let setup = loopcore::TlsSetup::client(client, "example.test")
///     .handshake_timeout(Duration::from_secs(5));
/// # let _ = setup;
/// # Ok::<(), loopcore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TlsSetup {
    role: Role,
    handshake_timeout: Duration,
    shutdown_timeout: Duration,
}

#[derive(Clone, Debug)]
enum Role {
    Client {
        config: Arc<rustls::ClientConfig>,
        server_hostname: String,
    },
    Server(Arc<rustls::ServerConfig>),
}

impl TlsSetup {
    /// The client side: the server's certificate is verified against
    /// `server_hostname` (a DNS name or an IP address; `host:port` is taken
    /// as `host`), which is also sent as SNI.
    pub fn client(config: Arc<rustls::ClientConfig>, server_hostname: impl Into<String>) -> Self {
        Self::with_role(Role::Client {
            config,
            server_hostname: server_hostname.into(),
        })
    }

    /// The server side.
    pub fn server(config: Arc<rustls::ServerConfig>) -> Self {
        Self::with_role(Role::Server(config))
    }

    fn with_role(role: Role) -> Self {
        Self {
            role,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// How long the handshake may take (default 60 s); past it the
    /// connection is closed and the caller gets [`ErrorKind::TimedOut`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long `close` may take to flush (default 30 s) before the
    /// connection is aborted.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// True for the server side.
    pub fn is_server(&self) -> bool {
        matches!(self.role, Role::Server(_))
    }

    /// A fresh session for one connection, and the handshake's time limit.
    pub(crate) fn into_layer(
        self,
        waiter: Option<Resolver<Result<()>>>,
    ) -> Result<(TlsLayer, Duration)> {
        let session = match self.role {
            Role::Client {
                config,
                server_hostname,
            } => {
                let name = server_name(&server_hostname)?;
                rustls::ClientConnection::new(config, name).map(rustls::Connection::Client)
            }
            Role::Server(config) => {
                rustls::ServerConnection::new(config).map(rustls::Connection::Server)
            }
        }
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("starting a TLS session: {e}"),
            )
        })?;
        Ok((
            TlsLayer::new(session, waiter, self.shutdown_timeout),
            self.handshake_timeout,
        ))
    }
}
