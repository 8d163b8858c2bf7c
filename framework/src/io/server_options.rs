//! [`ServerOptions`]: what `create_server` (and each loop of
//! `Runtime::serve`) takes, asyncio's keyword arguments plus TLS, idle
//! timeouts and admission control.

use std::sync::Arc;
use std::time::Duration;

/// Options of [`EventLoop::create_server`](crate::EventLoop::create_server)
/// (asyncio's keyword arguments).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Listen backlog (asyncio's default: 100).
    pub backlog: u32,
    /// `SO_REUSEADDR` (default on).
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: several sockets, in this process or others, share the
    /// port and the kernel spreads connections (default off).
    pub reuse_port: bool,
    /// `TCP_NODELAY` on accepted connections (default on).
    pub nodelay: bool,
    /// `SO_KEEPALIVE` on accepted connections (default off).
    pub keep_alive: bool,
    /// Start accepting at once (default on); else call [`Server::start_serving`](crate::Server::start_serving).
    pub start_serving: bool,
    /// Serve TLS with this configuration (asyncio's `ssl=`); see
    /// [`tls::server_config_from_pem`](crate::tls::server_config_from_pem).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long a TLS handshake may take (default 60 s).
    pub tls_handshake_timeout: Duration,
    /// How long a TLS `close` may take to flush before it aborts (default
    /// 30 s; asyncio's `ssl_shutdown_timeout`).
    pub tls_shutdown_timeout: Duration,
    /// Abort accepted connections on which no byte moved, either way, for
    /// this long (default: none, as asyncio: for a generic TCP server a
    /// byte every few seconds is a real client; the HTTP drivers set their
    /// own, see [`HttpTimeouts`](crate::HttpTimeouts)); see
    /// [`Transport::set_idle_timeout`](crate::Transport::set_idle_timeout).
    pub idle_timeout: Option<Duration>,
    /// Admission control (default: none): at this many live connections on
    /// the loop, the listener stops accepting, so new connections wait in
    /// the kernel's backlog instead of being accepted and closed; it
    /// accepts again once the loop is down to `max_connections * 9 / 10`
    /// (no accept/close churn at the edge). Counted in the loop's
    /// `admission_pauses`.
    pub max_connections: Option<usize>,
}

/// Where a listener paused at `max` connections accepts again: at or
/// below 90% of it (and below it for a small one), so it does not churn at
/// the limit. Shared by every admission cap (per loop, per runtime, the
/// acceptor's).
pub(crate) fn admission_low_mark(max: u64) -> u64 {
    (max - max / 10).min(max.saturating_sub(1))
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            backlog: 100,
            reuse_address: true,
            reuse_port: false,
            nodelay: true,
            keep_alive: false,
            start_serving: true,
            tls: None,
            tls_handshake_timeout: crate::tls::DEFAULT_HANDSHAKE_TIMEOUT,
            tls_shutdown_timeout: crate::tls::DEFAULT_SHUTDOWN_TIMEOUT,
            idle_timeout: None,
            max_connections: None,
        }
    }
}

impl ServerOptions {
    /// Sets the listen backlog.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }
    /// Sets `SO_REUSEADDR`.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }
    /// Sets `SO_REUSEPORT`.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    /// Sets `TCP_NODELAY` on accepted connections.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }
    /// Sets `SO_KEEPALIVE` on accepted connections.
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }
    /// Whether to start accepting at once.
    pub fn start_serving(mut self, on: bool) -> Self {
        self.start_serving = on;
        self
    }
    /// Serves TLS with `config`.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }
    /// Sets the TLS handshake timeout.
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }
    /// Sets the TLS shutdown timeout.
    pub fn tls_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.tls_shutdown_timeout = timeout;
        self
    }
    /// Aborts accepted connections idle for `timeout`.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Stops accepting at `max` live connections on the loop; see the
    /// field.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }
}
