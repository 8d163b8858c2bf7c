//! [`HttpTimeouts`]: the deadlines every HTTP server the framework drives
//! gets without asking (the HTTP/1 driver and the hyper driver), so a
//! silent or trickling peer cannot hold a connection, and its fd, forever.

use std::time::Duration;

/// How long an HTTP connection may take, on by default (turn one off with
/// `None`). Generic TCP servers have no such defaults: there a byte every
/// few seconds is a real client (see `docs/security.md`).
///
/// ```
/// use std::time::Duration;
/// use loopcore::HttpTimeouts;
///
/// let timeouts = HttpTimeouts::default().idle(Some(Duration::from_secs(5)));
/// assert_eq!(timeouts.header, Some(Duration::from_secs(30)));
/// assert_eq!(timeouts.idle, Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpTimeouts {
    /// The whole request head must arrive within this long of its first
    /// byte, and the protocol sniff (HTTP/1 or HTTP/2) within this long of
    /// the accept; no byte resets it, so a peer trickling a byte at a time
    /// is closed too (slowloris). Default 30 s (hyper's
    /// `header_read_timeout`; nginx's `client_header_timeout` is 60 s).
    /// An HTTP/1 head that misses it is answered `408`.
    pub header: Option<Duration>,
    /// A connection on which no byte moved, in either direction, for this
    /// long is closed (a keep-alive connection nobody uses, a peer that
    /// went silent, one that stopped reading a download). Default 60 s
    /// (nginx's `keepalive_timeout` is 75 s).
    pub idle: Option<Duration>,
}

/// [`HttpTimeouts::header`]'s default.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// [`HttpTimeouts::idle`]'s default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            header: Some(DEFAULT_HEADER_TIMEOUT),
            idle: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

impl HttpTimeouts {
    /// No deadlines at all (a trusted network, or a test).
    pub fn none() -> Self {
        Self {
            header: None,
            idle: None,
        }
    }

    /// Sets the header deadline (`None`: none).
    pub fn header(mut self, timeout: Option<Duration>) -> Self {
        self.header = timeout;
        self
    }

    /// Sets the idle timeout (`None`: none).
    pub fn idle(mut self, timeout: Option<Duration>) -> Self {
        self.idle = timeout;
        self
    }
}
