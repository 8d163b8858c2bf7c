//! TLS in a connection's life on the loop: the handshake (started, fed
//! ciphertext, timed out, failed), the session's output moved into the
//! connection's write buffer, and the time limit of a TLS close
//! (invariants 2 and 3 of `io::tls`).

use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::event_loop::Core;
use crate::exception::ExceptionContext;
use crate::io::conn::Conn;
use crate::io::stream::Stream;
use crate::io::transport::Transport;
use crate::source_table::SourceKey;
use crate::{Error, ErrorKind, EventLoop};

impl Conn {
    /// What the handshake negotiated, once it is done.
    pub(in crate::io) fn tls_info(&self) -> Option<super::TlsInfo> {
        self.tls()
            .filter(|tls| !tls.handshaking)
            .map(|tls| tls.info())
    }

    /// `Conn::queue` over TLS: encrypted now, or queued behind a file
    /// being sent.
    pub(in crate::io) fn tls_queue(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        data: &[u8],
    ) -> crate::Result<()> {
        let tls = self.tls_mut().expect("a TLS connection");
        tls.send_or_queue(data)
            .map_err(|e| Error::io("encrypting for TLS", e))?;
        self.flush_tls(core, key);
        Ok(())
    }

    /// `Conn::queue_with` over TLS: the plaintext is built aside (in the
    /// loop's scratch buffer), then encrypted.
    pub(in crate::io) fn tls_queue_with<R>(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        fill: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> crate::Result<R> {
        let tls = self.tls_mut().expect("a TLS connection");
        let mut plain = core.io.tls_scratch.take();
        plain.clear();
        let result = fill(&mut plain);
        let sent = tls.send_or_queue(&plain);
        if plain.capacity() <= 64 * 1024 {
            core.io.tls_scratch.set(plain);
        }
        sent.map_err(|e| Error::io("encrypting for TLS", e))?;
        self.flush_tls(core, key);
        Ok(result)
    }

    /// `Conn::queue_owned` over TLS: encrypted now, or kept behind a file
    /// being sent.
    pub(in crate::io) fn tls_queue_owned(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        data: impl AsRef<[u8]> + 'static,
    ) -> crate::Result<()> {
        let tls = self.tls_mut().expect("a TLS connection");
        if tls.plain.is_empty() {
            tls.send(data.as_ref())
                .map_err(|e| Error::io("encrypting for TLS", e))?;
        } else {
            tls.plain.push_owned(Box::new(data));
        }
        self.flush_tls(core, key);
        Ok(())
    }

    /// `Conn::queue_file` over TLS: read and encrypted a chunk at a time
    /// as the ciphertext drains.
    pub(in crate::io) fn tls_queue_file(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        range: crate::proto::write_buffer::FileRange,
    ) {
        let tls = self.tls_mut().expect("a TLS connection");
        tls.plain.push_file(range);
        self.flush_tls(core, key);
    }

    /// `Conn::close` over TLS: `close_notify` now, or after the file being
    /// sent; a handshake in progress gives its timer up to the shutdown's.
    pub(in crate::io) fn tls_close(&mut self, core: &Rc<Core>, key: SourceKey) {
        let tls = self.tls_mut().expect("a TLS connection");
        if tls.handshaking {
            if let Some(timer) = tls.timer.take() {
                timer.cancel();
            }
            self.start_tls_shutdown_timer(core, key);
        } else if tls.plain.is_empty() {
            tls.session.send_close_notify();
            self.start_tls_shutdown_timer(core, key);
        } else {
            // After the file being sent (`flush_tls`), which the shutdown
            // timeout must not cut short.
            tls.close_notify_after_plain = true;
        }
        self.flush_tls(core, key);
    }

    /// Moves what the TLS session wants to send into the write buffer and
    /// puts the connection on the dirty list.
    pub(in crate::io) fn flush_tls(&mut self, core: &Rc<Core>, key: SourceKey) {
        let Some((tls, write)) = self.tls_and_write_buffer() else {
            return;
        };
        if !tls.plain.is_empty() && write.len() < super::PUMP_BELOW {
            if let Err(e) = tls.pump(super::PUMP_BELOW - write.len()) {
                self.fail(core, key, e);
                return;
            }
            if tls.plain.is_empty() && tls.close_notify_after_plain {
                tls.close_notify_after_plain = false;
                tls.session.send_close_notify();
                self.start_tls_shutdown_timer(core, key);
            }
        }
        let Some((tls, write)) = self.tls_and_write_buffer() else {
            return;
        };
        if tls.drain_into(write) {
            self.mark_dirty(core, key);
        }
    }

    /// Bounds a TLS close: a peer that stops reading must not hold the
    /// connection forever (invariant 3 of `io::tls`).
    pub(in crate::io) fn start_tls_shutdown_timer(&mut self, core: &Rc<Core>, key: SourceKey) {
        let Some(tls) = self.tls_mut() else {
            return;
        };
        if tls.timer.is_none() {
            tls.timer = Some(
                EventLoop::from_core(core.clone()).call_later(tls.shutdown_timeout, move |lp| {
                    Transport::from_parts(&lp.core, key).abort()
                }),
            );
        }
    }
}

impl EventLoop {
    /// Sends what the TLS session has to say first (a client's hello) and
    /// arms the handshake's time limit; `connection_made` waits for the
    /// handshake (`tls_received`).
    pub(in crate::io) fn start_handshake(&self, key: SourceKey, timeout: Duration) {
        let core = &self.core;
        if let Some(conn) = core.io.conns.borrow_mut().get_mut(key) {
            conn.flush_tls(core, key);
        }
        let timer = self.call_later(timeout, move |lp| {
            lp.tls_failed(
                key,
                io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out"),
            );
        });
        if let Some(conn) = core.io.conns.borrow_mut().get_mut(key) {
            if let Some(tls) = conn.tls_mut() {
                tls.timer = Some(timer);
            }
        }
    }

    /// Ciphertext arrived on a TLS connection: decrypt it, finish the
    /// handshake (`connection_made`), deliver the plaintext. False when the
    /// connection is done reading.
    pub(in crate::io) fn tls_received(&self, key: SourceKey, cipher: &[u8]) -> bool {
        let core = &self.core;
        let mut plain = core.io.tls_plaintext.take();
        plain.clear();
        let (input, waiter) = {
            let mut conns = core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return false;
            };
            let Some(tls) = conn.tls_mut() else {
                return false;
            };
            let input = tls.receive(cipher, &mut plain);
            let waiter = if input.handshake_done {
                tls.waiter.take()
            } else {
                None
            };
            conn.flush_tls(core, key);
            (input, waiter)
        };
        if let Some(error) = input.error {
            core.io.tls_plaintext.set(plain);
            self.tls_failed(key, error);
            return false;
        }
        if input.handshake_done {
            if let Some(waiter) = waiter {
                let _ = waiter.resolve(Ok(()));
            }
            let transport = Transport::from_parts(core, key);
            let for_protocol = transport.clone();
            self.call_protocol(key, move |p| p.connection_made(for_protocol));
            if core.io.conns.borrow().shutdown_notified {
                transport.request_shutdown();
            }
        }
        if !plain.is_empty() {
            self.call_protocol(key, |p| p.data_received(&plain));
        }
        core.io.tls_plaintext.set(plain);
        if input.peer_closed {
            self.peer_eof(key);
            return false;
        }
        true
    }

    /// The connection speaks TLS and its handshake is not done.
    pub(in crate::io) fn tls_handshaking(&self, key: SourceKey) -> bool {
        self.core
            .io
            .conns
            .borrow_mut()
            .get_mut(key)
            .and_then(|c| c.tls())
            .is_some_and(|tls| tls.handshaking)
    }

    /// A TLS error, or the handshake ran out of time: the alert (if any)
    /// leaves and the connection closes. Before `connection_made` the
    /// protocol is dropped unheard and the failure only logged (invariant 2
    /// of `io::tls`); after it, `connection_lost` gets the error.
    pub(in crate::io) fn tls_failed(&self, key: SourceKey, error: io::Error) {
        let core = &self.core;
        let (handshaking, waiter, peer, shutdown_timeout) = {
            let mut conns = core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            if conn.is_lost() {
                return;
            }
            let Some(tls) = conn.tls_mut() else {
                return;
            };
            let handshaking = tls.handshaking;
            let shutdown_timeout = tls.shutdown_timeout;
            let waiter = tls.waiter.take();
            if let Some(timer) = tls.timer.take() {
                timer.cancel();
            }
            conn.flush_tls(core, key);
            if handshaking {
                // Never announced: nobody to tell.
                conn.forget_protocol();
            }
            let peer = match conn.stream() {
                Stream::Tcp(s) => s.peer_addr().ok().map(|a| a.to_string()),
                _ => None,
            };
            conn.close_with_error(core, key, io::Error::new(error.kind(), error.to_string()));
            (handshaking, waiter, peer, shutdown_timeout)
        };
        // The alert and what was buffered get the shutdown timeout to
        // leave; a peer that reads nothing does not keep the connection.
        let timer = self.call_later(shutdown_timeout, move |lp| {
            Transport::from_parts(&lp.core, key).abort();
        });
        match core
            .io
            .conns
            .borrow_mut()
            .get_mut(key)
            .and_then(|c| c.tls_mut())
        {
            Some(tls) => tls.timer = Some(timer),
            None => timer.cancel(),
        }
        let peer = peer.unwrap_or_else(|| "a peer".to_owned());
        tracing::debug!(loop_id = core.shared.id, %peer, "loopcore: TLS failed: {error}");
        if core.debug.get() {
            self.call_exception_handler(
                &ExceptionContext::new(if handshaking {
                    format!("the TLS handshake with {peer} failed: {error}")
                } else {
                    format!("TLS with {peer} failed: {error}")
                })
                .with_error(Error::io(
                    "TLS",
                    io::Error::new(error.kind(), error.to_string()),
                ))
                .with_source("tls"),
            );
        }
        if let Some(waiter) = waiter {
            let error = if error.kind() == io::ErrorKind::TimedOut {
                Error::new(ErrorKind::TimedOut, error.to_string())
            } else if handshaking {
                Error::io("the TLS handshake failed", error)
            } else {
                Error::io("TLS failed", error)
            };
            let _ = waiter.resolve(Err(error));
        }
    }
}
