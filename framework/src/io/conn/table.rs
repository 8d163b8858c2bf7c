//! The loop's table of connections: attaching a connected stream, noting
//! epoll events, and freeing a connection once `connection_lost` ran.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use mio::event::Event;
use mio::{Interest, Registry};

use super::state::{Life, Readiness, Reading, WriteEnd};
use super::{ClientSet, Conn, ConnReady, IoReady, ProtoEvent};
use crate::event_loop::{Callback, Ready};
use crate::io::protocol::Protocol;
use crate::io::stream::Stream;
use crate::io::tls::TlsLayer;
use crate::io::transport::Transport;
use crate::proto::ready_queue::ReadyQueue;
use crate::proto::write_buffer::{FlowControl, WriteBuffer};
use crate::source_table::{token, SourceKey, SourceKind, SourceTable};
use crate::{Error, ErrorKind, EventLoop, Result};

/// The connections of one loop.
#[derive(Default)]
pub(crate) struct Conns {
    table: SourceTable<Conn>,
    /// The shutdown notice went out (`notify_conns_of_shutdown`): a
    /// connection set up later gets its own at once.
    pub(in crate::io) shutdown_notified: bool,
}

impl Conns {
    /// Gives the connection `key` names a new key (`start_tls`), so every
    /// handle to the old one goes stale; `None` if it is gone.
    pub(in crate::io) fn renumber(&mut self, key: SourceKey) -> Option<(SourceKey, &mut Conn)> {
        self.table.renumber(key)
    }

    #[inline]
    pub(in crate::io) fn get_mut(&mut self, key: SourceKey) -> Option<&mut Conn> {
        self.table.get_mut(key)
    }

    /// Notes an epoll event and queues the connection if it has work: on
    /// `direct` when given (run before the loop's batch, see
    /// `IoDriver::run_direct`), else on the ready queue.
    #[inline]
    pub(crate) fn on_event(
        &mut self,
        key: usize,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
        direct: Option<&mut Vec<ConnReady>>,
    ) {
        let Some((key, conn)) = self.table.get_by_slot_mut(key) else {
            return;
        };
        if conn.stream.is_pipe_writer() && (event.is_error() || event.is_write_closed()) {
            // The reader closed its end: nothing can be written any more.
            conn.drop_pending();
            if conn.mark_lost(Some(io::Error::from(io::ErrorKind::BrokenPipe))) {
                ready.push(Ready::Io(IoReady::ConnLost(ConnReady { key })));
            }
            return;
        }
        conn.readiness.note_event(event);
        // Not reading once closing or lost (see `state`).
        let has_work = (conn.readiness.readable() && conn.is_reading())
            || (conn.readiness.writable() && !conn.write.is_empty());
        if has_work && !conn.queued && !conn.is_lost() {
            conn.queued = true;
            match direct {
                Some(direct) => direct.push(ConnReady { key }),
                None => {
                    ready.push(Ready::Io(IoReady::Conn(ConnReady { key })));
                }
            }
        }
    }

    /// Deregisters and drops every connection without callbacks (loop close).
    pub(crate) fn deregister_all(&mut self, registry: &Registry) {
        for (_, conn) in self.table.iter_mut() {
            let _ = registry.deregister(&mut conn.stream);
        }
    }
}

impl EventLoop {
    /// Puts a connected stream under the loop's care and calls the
    /// protocol's `connection_made`.
    pub(crate) fn attach_stream(
        &self,
        stream: Stream,
        protocol: Box<dyn Protocol>,
    ) -> Result<Transport> {
        self.attach_stream_with(stream, protocol, None, None)
    }

    /// As `attach_stream`; with `tls`, `connection_made` waits for the
    /// handshake, which must finish within the given time.
    pub(crate) fn attach_stream_with(
        &self,
        mut stream: Stream,
        mut protocol: Box<dyn Protocol>,
        server: Option<Rc<ClientSet>>,
        tls: Option<(TlsLayer, Duration)>,
    ) -> Result<Transport> {
        let core = &self.core;
        let (tls, handshake_timeout) = match tls {
            Some((layer, timeout)) => (Some(Box::new(layer)), Some(timeout)),
            None => (None, None),
        };
        let stream_is_pipe_writer = stream.is_pipe_writer();
        let key = {
            let mut conns = core.io.conns.borrow_mut();
            let key = conns.table.next_key();
            self.registry_poll()
                .registry()
                .register(
                    &mut stream,
                    token(SourceKind::Conn, key.slot()),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| Error::io("registering a connection with epoll", e))?;
            conns.table.insert(Conn {
                stream,
                // TLS decrypts into the loop's buffer first: a
                // `BufferedProtocol` gets the plaintext copied in.
                buffered: tls.is_none() && protocol.as_buffered().is_some(),
                protocol: Some(protocol),
                write: WriteBuffer::default(),
                borrowed: None,
                flow: FlowControl::default(),
                readiness: Readiness::default(),
                life: Life::Open,
                // A write pipe's transport has nothing to read.
                reading: if stream_is_pipe_writer {
                    Reading::Done
                } else {
                    Reading::On
                },
                write_end: WriteEnd::Open,
                queued: false,
                dirty: false,
                lost_error: None,
                pending: Vec::new(),
                server: server.clone(),
                tls,
                idle: None,
            })
        };
        if let Some(server) = &server {
            server.added(key);
        }
        core.shared.counters.connections_opened.add(1);
        let transport = Transport::from_parts(core, key);
        if let Some(timeout) = handshake_timeout {
            self.start_handshake(key, timeout);
            return Ok(transport);
        }
        let for_protocol = transport.clone();
        self.call_protocol(key, move |p| p.connection_made(for_protocol));
        if core.io.conns.borrow().shutdown_notified {
            // Set up after the notice went out (a hand-off, a client
            // connection): it gets its own.
            transport.request_shutdown();
        }
        Ok(transport)
    }

    /// Calls `shutdown_requested` on every open connection's protocol.
    pub(crate) fn notify_conns_of_shutdown(&self) {
        self.core.io.conns.borrow_mut().shutdown_notified = true;
        for key in self.live_conns() {
            self.notify_conn_of_shutdown(key);
        }
    }

    pub(crate) fn notify_conn_of_shutdown(&self, key: SourceKey) {
        self.deliver(key, ProtoEvent::ShutdownRequested);
    }

    /// Aborts every open connection (the shutdown deadline passed).
    pub(crate) fn abort_all_conns(&self) {
        for key in self.live_conns() {
            Transport::from_parts(&self.core, key).abort();
        }
    }

    /// Open connections whose `connection_lost` is not yet queued.
    pub(crate) fn live_conns(&self) -> Vec<SourceKey> {
        self.core
            .io
            .conns
            .borrow()
            .table
            .iter()
            .filter(|(_, conn)| !conn.is_lost())
            .map(|(key, _)| key)
            .collect()
    }

    /// How many connections this loop has, `connection_lost` pending or not.
    pub(crate) fn conn_count(&self) -> usize {
        self.core.io.conns.borrow().table.len()
    }
}

/// Runs a queued connection event: flush on a writable edge, read on a
/// readable one.
pub(crate) fn run_conn(lp: &EventLoop, ready: ConnReady) {
    let (flush, read) = {
        let mut conns = lp.core.io.conns.borrow_mut();
        let Some(conn) = conns.get_mut(ready.key) else {
            return;
        };
        conn.queued = false;
        (
            conn.readiness.writable() && !conn.write.is_empty(),
            conn.readiness.readable() && conn.is_reading(),
        )
    };
    if flush {
        lp.flush_conn(ready.key);
    }
    if read {
        lp.read_conn(ready.key);
    }
}

/// Delivers `connection_lost` and frees the connection (invariant 5).
pub(crate) fn run_conn_lost(lp: &EventLoop, ready: ConnReady) {
    let core = &lp.core;
    let removed = {
        let mut conns = core.io.conns.borrow_mut();
        let Some(removed) = conns.table.remove(ready.key) else {
            return;
        };
        removed
    };
    let Conn {
        mut stream,
        protocol,
        lost_error,
        server,
        tls,
        idle,
        ..
    } = removed;
    let mut protocol = protocol;
    if let Some(mut tls) = tls {
        if let Some(timer) = tls.timer.take() {
            timer.cancel();
        }
        if tls.handshaking {
            // Lost before the handshake finished (reset, idle timeout,
            // abort): the protocol was never announced, so it hears
            // nothing (invariant 2 of `io::tls`); a waiting caller gets
            // the error.
            protocol = None;
            if let Some(waiter) = tls.waiter.take() {
                let error = match &lost_error {
                    Some(e) => Error::io(
                        "the TLS handshake failed",
                        io::Error::new(e.kind(), e.to_string()),
                    ),
                    None => Error::new(
                        ErrorKind::Closed,
                        "the connection closed during the TLS handshake",
                    ),
                };
                let _ = waiter.resolve(Err(error));
            }
        }
    }
    if let Some(mut idle) = idle {
        idle.cancel();
    }
    let _ = lp.registry_poll().registry().deregister(&mut stream);
    drop(stream);
    core.shared.counters.connections_closed.add(1);
    if core.io.full_listeners.get() > 0 {
        crate::io::tcp::resume_full_listeners(lp);
    }
    if let Some(mut protocol) = protocol {
        lp.guarded("protocol", || protocol.connection_lost(lost_error));
    }
    if let Some(server) = server {
        server.gone(ready.key);
    }
}
