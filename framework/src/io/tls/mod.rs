//! TLS on stream transports, with `rustls`: the per-connection session
//! (`TlsLayer`, owned by the connection table), [`TlsSetup`] (which side,
//! which configuration, which timeouts), [`TlsInfo`], and the configuration
//! helpers users call (`config`, `dangerous`).
//!
//! Invariants:
//! 1. Ciphertext only ever sits in the connection's write buffer, so flow
//!    control counts what the kernel has not taken, as for plain TCP.
//! 2. `connection_made` runs when the handshake completes; a handshake that
//!    fails or times out closes the connection without any protocol call
//!    (the protocol never saw it) and is logged at debug level (and sent to
//!    the exception handler in debug mode).
//! 3. `close` sends `close_notify` before the FIN; a close that cannot
//!    finish flushing within the shutdown timeout (30 s by default) turns
//!    into an abort.

mod config;
mod conn;
pub mod dangerous;
mod pinned;
mod setup;

use std::io::{self, Read, Write};
use std::time::Duration;

use super::queued_write::{read_file_chunk, FILE_CHUNK};
use crate::future::Resolver;
use crate::handle::TimerHandle;
use crate::proto::write_buffer::{Head, WriteBuffer};
use crate::Result;

pub(crate) use config::server_name;
pub use config::{
    client_config_from_ca_pem, client_config_native_roots, client_config_with_identity,
    server_config, server_config_from_pem, server_config_reloadable, ReloadableCert,
};
pub use setup::TlsSetup;

/// How long a handshake may take by default (asyncio's
/// `ssl_handshake_timeout`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a closing TLS connection may take to flush its last records
/// and `close_notify` before it is aborted (asyncio's
/// `ssl_shutdown_timeout`).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The TLS state of one connection.
pub(crate) struct TlsLayer {
    pub(crate) session: rustls::Connection,
    /// `connection_made` has not run yet.
    pub(crate) handshaking: bool,
    /// The handshake timeout while handshaking, then the shutdown timeout
    /// once closing.
    pub(crate) timer: Option<TimerHandle>,
    pub(crate) shutdown_timeout: Duration,
    /// A client's `create_connection` waits on this for the handshake.
    pub(crate) waiter: Option<Resolver<Result<()>>>,
    /// Plaintext waiting its turn behind a file range (`sendfile` over
    /// TLS reads the file as the ciphertext drains): empty otherwise, and
    /// then writes go straight into the session.
    pub(crate) plain: WriteBuffer,
    /// `close` came while `plain` was not empty: `close_notify` follows it.
    pub(crate) close_notify_after_plain: bool,
}

/// Plaintext encrypted per pump while the ciphertext buffer is below it.
pub(crate) const PUMP_BELOW: usize = 64 * 1024;

/// What one batch of ciphertext produced.
#[derive(Default)]
pub(crate) struct TlsInput {
    pub(crate) handshake_done: bool,
    pub(crate) peer_closed: bool,
    pub(crate) error: Option<io::Error>,
}

impl TlsLayer {
    pub(crate) fn new(
        session: rustls::Connection,
        waiter: Option<Resolver<Result<()>>>,
        shutdown_timeout: Duration,
    ) -> Self {
        let mut session = session;
        // Plaintext written during the handshake waits inside rustls; flow
        // control works on the ciphertext buffer instead (invariant 1).
        session.set_buffer_limit(None);
        Self {
            session,
            handshaking: true,
            timer: None,
            shutdown_timeout,
            waiter,
            plain: WriteBuffer::default(),
            close_notify_after_plain: false,
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

    /// Encrypts `data` now, or queues it behind the file range being sent.
    pub(crate) fn send_or_queue(&mut self, data: &[u8]) -> io::Result<()> {
        if self.plain.is_empty() {
            self.send(data)
        } else {
            self.plain.append(data);
            Ok(())
        }
    }

    /// Encrypts up to `budget` bytes of the queued plaintext (reading file
    /// ranges as it goes).
    pub(crate) fn pump(&mut self, budget: usize) -> io::Result<()> {
        let mut left = budget;
        let mut chunk = Vec::new();
        while left > 0 && !self.plain.is_empty() {
            let mut slices = [io::IoSlice::new(&[]); 1];
            let taken = match self.plain.head(&mut slices) {
                Head::Slices { count: 0, .. } => break,
                Head::Slices { .. } => {
                    let slice = &slices[0][..slices[0].len().min(left)];
                    self.session.writer().write_all(slice)?;
                    slice.len()
                }
                Head::File(range) => {
                    chunk.resize(left.min(FILE_CHUNK), 0);
                    let read = read_file_chunk(range, &mut chunk)?;
                    self.session.writer().write_all(&chunk[..read])?;
                    read
                }
            };
            self.plain.consume(taken);
            left = left.saturating_sub(taken);
        }
        Ok(())
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
