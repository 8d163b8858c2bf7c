//! What TLS reaches of a connection: its session, the write buffer the
//! ciphertext goes to, and the switch of a plaintext connection to TLS
//! (`start_tls`). The TLS logic itself is in `io::tls::conn`; it changes a
//! connection only through these methods and the state transitions.

use std::time::Duration;

use super::state::Reading;
use super::{Conn, ConnReady, IoReady};
use crate::event_loop::{Core, Ready};
use crate::io::protocol::Protocol;
use crate::io::stream::Stream;
use crate::io::tls::TlsLayer;
use crate::proto::write_buffer::WriteBuffer;
use crate::source_table::SourceKey;
use crate::{Error, ErrorKind, Result};

/// What a switch to TLS took from the connection.
pub(in crate::io) struct SwitchedToTls {
    /// The plaintext protocol, dropped by the caller once the table is
    /// free (`None` if one of its methods is running: it is dropped when
    /// that returns).
    pub(in crate::io) replaced: Option<Box<dyn Protocol>>,
    /// The idle timeout to set again under the new key.
    pub(in crate::io) idle_timeout: Option<Duration>,
}

impl Conn {
    /// The connection's stream.
    #[inline]
    pub(in crate::io) fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The TLS session, for a TLS connection.
    #[inline]
    pub(in crate::io) fn tls(&self) -> Option<&TlsLayer> {
        self.tls.as_deref()
    }

    /// The TLS session, for a TLS connection.
    #[inline]
    pub(in crate::io) fn tls_mut(&mut self) -> Option<&mut TlsLayer> {
        self.tls.as_deref_mut()
    }

    /// The TLS session and the write buffer its ciphertext goes to.
    #[inline]
    pub(in crate::io) fn tls_and_write_buffer(
        &mut self,
    ) -> Option<(&mut TlsLayer, &mut WriteBuffer)> {
        let tls = self.tls.as_deref_mut()?;
        Some((tls, &mut self.write))
    }

    /// The handshake failed before `connection_made`: the protocol was
    /// never announced and hears nothing.
    pub(in crate::io) fn forget_protocol(&mut self) {
        self.protocol = None;
    }

    /// Fails unless `start_tls` can switch this connection: open, a
    /// socket, not TLS already, the write side not shut.
    pub(in crate::io) fn check_start_tls(&self) -> Result<()> {
        if !self.is_open() {
            return Err(Error::new(ErrorKind::Closed, "the transport is closed"));
        }
        if self.tls.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the transport already speaks TLS",
            ));
        }
        if !matches!(self.stream, Stream::Tcp(_) | Stream::Unix(_)) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "start_tls needs a socket transport, not a pipe",
            ));
        }
        if self.write_end_shut() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "start_tls after write_eof: the write side is shut",
            ));
        }
        Ok(())
    }

    /// Switches the connection, just renumbered from `old` to `key`, to
    /// TLS with `protocol` (checked by [`check_start_tls`](Self::check_start_tls)).
    pub(in crate::io) fn switch_to_tls(
        &mut self,
        core: &Core,
        old: SourceKey,
        key: SourceKey,
        layer: TlsLayer,
        protocol: Box<dyn Protocol>,
    ) -> SwitchedToTls {
        // Plaintext written before the switch goes out first, from the
        // buffer (a range of a lent read is keyed by the old number).
        self.unborrow(core);
        let replaced = self.protocol.replace(protocol);
        // TLS decrypts into the loop's buffer (see `attach_stream_with`).
        self.buffered = false;
        // The idle timer is keyed by the old generation: set it again.
        let idle_timeout = self.idle.take().map(|mut idle| {
            idle.cancel();
            idle.timeout
        });
        self.pending.clear();
        // The new protocol starts unpaused; the next flush tells it where
        // the buffer stands once it is announced.
        self.flow.forget_pause();
        self.tls = Some(Box::new(layer));
        self.reading = Reading::On;
        // Entries queued under the old generation are skipped: queue them
        // again under the new one.
        if self.dirty {
            core.io.conns_dirty_push(key);
        }
        if self.queued || self.readiness.readable() {
            self.queued = true;
            core.ready
                .borrow_mut()
                .push(Ready::Io(IoReady::Conn(ConnReady { key })));
        }
        if let Some(server) = &self.server {
            server.renumbered(old, key);
        }
        SwitchedToTls {
            replaced,
            idle_timeout,
        }
    }
}
