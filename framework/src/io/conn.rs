//! Stream connections: the loop-owned table of connections, their reads
//! and flushes. [`Transport`](super::Transport), the handle protocols write
//! through, is in `io::transport`.
//!
//! Invariants (the write path, DESIGN.md "What makes it fast"):
//! 1. A connection is registered once for READABLE|WRITABLE (edge
//!    triggered) and never re-registered; `readable`/`writable` remember an
//!    edge until a read or write returns `WouldBlock`.
//! 2. `write` only appends to the connection's buffer and puts it on the
//!    loop's dirty list; after the current ready item returns, every dirty
//!    connection is flushed with one `write(2)`, so the writes of one
//!    callback cost one system call. What the kernel refuses stays buffered
//!    until the next writable edge. The one exception saves a copy: a write
//!    of bytes of the read being lent, to an empty buffer, is kept as a
//!    range of the read (`Conn::borrowed`, `io::lent_read`) and sent when
//!    `data_received` returns, before the read buffer is used again.
//! 3. Flow control is checked after a flush, never inside `write`.
//! 4. Reads go into the loop's one read buffer, lent to `data_received`;
//!    a read budget per ready item keeps one busy peer from starving the
//!    others, and a connection still readable after it is queued again.
//! 5. A protocol is taken out of its slot while one of its methods runs;
//!    events for it meanwhile (pause/resume writing) wait in `pending` and
//!    are delivered when the method returns. `connection_lost` always runs
//!    as its own ready item, exactly once, after which the slot is freed.
//! 6. A panic in a protocol method aborts that connection only; it is
//!    reported to the exception handler and `connection_lost(Some(err))`
//!    follows once.

use std::io;
use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

use mio::event::Event;
use mio::{Interest, Registry};

use super::driver::IoReady;
use super::idle::IdleTimer;
use super::protocol::Protocol;
use super::queued_write::write_queued;
use super::server::ServerShared;
use super::stream::Stream;
use super::tls::TlsLayer;
use super::transport::Transport;
use crate::event_loop::{Callback, Core, Ready};
use crate::exception::{CaughtPanic, ExceptionContext};
use crate::proto::ready_queue::ReadyQueue;
use crate::proto::write_buffer::{FlowControl, FlowEvent, WriteBuffer};
use crate::source_table::{token, SourceKind};
use crate::source_table::{SourceKey, SourceTable};
use crate::{Error, ErrorKind, EventLoop, Result};

/// Size of each loop's read buffer.
pub(super) const READ_BUFFER: usize = 64 * 1024;
/// Reads per ready item before the connection yields to others.
pub(super) const READ_BUDGET: usize = 16;

/// The outcome of one write of a connection's bytes ([`Conn::wrote`]).
pub(super) enum WriteStep {
    /// This many bytes left (0 after an interrupted call: try again).
    Sent(usize),
    /// The kernel's buffer is full: wait for the next writable edge.
    Blocked,
    /// The connection is lost with the error.
    Failed,
}

/// A queued connection event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnReady {
    pub(super) key: SourceKey,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum ProtoEvent {
    PauseWriting,
    ResumeWriting,
    ShutdownRequested,
}

impl ProtoEvent {
    fn deliver_to(self, protocol: &mut dyn Protocol) {
        match self {
            ProtoEvent::PauseWriting => protocol.pause_writing(),
            ProtoEvent::ResumeWriting => protocol.resume_writing(),
            ProtoEvent::ShutdownRequested => protocol.shutdown_requested(),
        }
    }
}

pub(crate) struct Conn {
    pub(super) stream: Stream,
    /// `None` while one of its methods runs (invariant 5).
    pub(super) protocol: Option<Box<dyn Protocol>>,
    /// The protocol lends its own buffer for reads (`BufferedProtocol`).
    pub(super) buffered: bool,
    pub(super) write: WriteBuffer,
    /// A range of the read being lent to `data_received`, written while the
    /// buffer above was empty: it goes out (or into the buffer) when the
    /// callback returns (`io::lent_read`). `None` outside a lend.
    pub(super) borrowed: Option<Range<usize>>,
    pub(super) flow: FlowControl,
    /// An edge said readable and no read has hit `WouldBlock` (or come back
    /// short) since.
    pub(super) readable: bool,
    /// An edge reported the peer's hang-up or an error: reads go on until
    /// they return 0 or fail, short or not.
    pub(super) hung_up: bool,
    /// An edge said writable and no write has hit `WouldBlock` since.
    pub(super) writable: bool,
    /// Not paused by `pause_reading`.
    pub(super) reading: bool,
    /// A `Ready::Conn` for this connection is queued.
    pub(super) queued: bool,
    /// `close()` was called: flush, then `connection_lost(None)`.
    pub(super) closing: bool,
    /// `write_eof()` was called.
    pub(super) eof_requested: bool,
    /// The write side was shut down.
    pub(super) eof_sent: bool,
    /// On the loop's dirty list.
    pub(super) dirty: bool,
    /// `connection_lost` is queued (or delivered).
    pub(super) lost: bool,
    /// The error `connection_lost` will carry.
    pub(super) lost_error: Option<io::Error>,
    /// Events that arrived while the protocol was busy.
    pub(super) pending: Vec<ProtoEvent>,
    /// The server that accepted this connection, for its client count.
    pub(super) server: Option<Rc<ServerShared>>,
    /// TLS session, for a TLS transport (`io::tls`).
    pub(super) tls: Option<Box<TlsLayer>>,
    /// The idle timeout, if one is set (`io::idle`).
    pub(super) idle: Option<Box<IdleTimer>>,
}

impl Conn {
    /// Copies a range borrowed from the lent read into the write buffer,
    /// before anything is added after it (`io::lent_read`).
    pub(super) fn unborrow(&mut self, core: &Core) {
        if let Some(range) = self.borrowed.take() {
            core.io.lent_read.copy_into(range, &mut self.write);
        }
    }

    /// What one `write(2)` of this connection's bytes comes to, wherever
    /// the bytes are (the write buffer in `flush_conn`, a lent read in
    /// `io::lent_read`): sent bytes are counted and keep the idle timer
    /// from firing (a slow download is not idle), `WouldBlock` ends the
    /// writable edge, an error loses the connection. The one place a
    /// connection's write result is handled.
    #[inline]
    pub(super) fn wrote(
        &mut self,
        core: &Core,
        key: SourceKey,
        result: io::Result<usize>,
    ) -> WriteStep {
        match result {
            Ok(n) => {
                core.shared.counters.bytes_sent.add(n as u64);
                if let Some(idle) = self.idle.as_mut() {
                    idle.touch(core);
                }
                WriteStep::Sent(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.writable = false;
                WriteStep::Blocked
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => WriteStep::Sent(0),
            Err(e) => {
                self.write_failed(core, key, e);
                WriteStep::Failed
            }
        }
    }

    /// A write failed: nothing more can be sent, the connection is lost
    /// with the error.
    pub(super) fn write_failed(&mut self, core: &Core, key: SourceKey, error: io::Error) {
        self.drop_pending();
        self.closing = true;
        schedule_lost(core, self, key, Some(error));
    }

    /// Drops everything not yet sent (files included: they close).
    pub(super) fn drop_pending(&mut self) {
        self.borrowed = None;
        self.write.clear();
        if let Some(tls) = self.tls.as_mut() {
            tls.plain.clear();
        }
    }

    /// Bytes not yet handed to the kernel: the write buffer, and for TLS
    /// the plaintext queued behind a file range.
    pub(super) fn pending_len(&self) -> usize {
        let queued_plain = self.tls.as_ref().map_or(0, |tls| tls.plain.len());
        let borrowed = self.borrowed.as_ref().map_or(0, |range| range.len());
        self.write.len() + borrowed + queued_plain
    }

    /// Clears `readable` once the socket is known to be drained: a read
    /// that would block, or one that came back shorter than the buffer.
    /// The short read saves the `read(2)` that would only say `EAGAIN`;
    /// it is safe under edge triggering because data arriving after it
    /// raises a new edge. After a hang-up edge reads go on to the EOF.
    /// TCP only: a Unix stream read also stops short at a message carrying
    /// credentials or fds. (A TCP read stops short at urgent data too;
    /// out-of-band data is not supported.)
    pub(super) fn note_read(&mut self, result: &io::Result<usize>, capacity: usize) {
        let tcp = matches!(self.stream, Stream::Tcp(_));
        match result {
            Ok(n) if tcp && *n > 0 && *n < capacity && !self.hung_up => self.readable = false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
            _ => {}
        }
    }
}

/// The connections of one loop.
#[derive(Default)]
pub(crate) struct Conns {
    table: SourceTable<Conn>,
    /// The shutdown notice went out (`notify_conns_of_shutdown`): a
    /// connection set up later gets its own at once.
    pub(super) shutdown_notified: bool,
}

impl Conns {
    /// Gives the connection `key` names a new key (`start_tls`), so every
    /// handle to the old one goes stale; `None` if it is gone.
    pub(super) fn renumber(&mut self, key: SourceKey) -> Option<(SourceKey, &mut Conn)> {
        self.table.renumber(key)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, key: SourceKey) -> Option<&mut Conn> {
        self.table.get_mut(key)
    }

    /// Notes an epoll event and queues the connection if it has work.
    pub(crate) fn on_event(
        &mut self,
        key: usize,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
    ) {
        let Some((key, conn)) = self.table.get_by_slot_mut(key) else {
            return;
        };
        if conn.stream.is_pipe_writer() && (event.is_error() || event.is_write_closed()) {
            // The reader closed its end: nothing can be written any more.
            if !conn.lost {
                conn.lost = true;
                conn.reading = false;
                conn.drop_pending();
                conn.lost_error = Some(io::Error::from(io::ErrorKind::BrokenPipe));
                ready.push(Ready::Io(IoReady::ConnLost(ConnReady { key })));
            }
            return;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            conn.readable = true;
        }
        if event.is_read_closed() || event.is_error() {
            conn.hung_up = true;
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            conn.writable = true;
        }
        let has_work = (conn.readable && conn.reading && !conn.closing)
            || (conn.writable && !conn.write.is_empty());
        if has_work && !conn.queued && !conn.lost {
            conn.queued = true;
            ready.push(Ready::Io(IoReady::Conn(ConnReady { key })));
        }
    }

    /// Deregisters and drops every connection without callbacks (loop close).
    pub(crate) fn deregister_all(&mut self, registry: &Registry) {
        for (_, conn) in self.table.iter_mut() {
            let _ = registry.deregister(&mut conn.stream);
        }
    }
}

/// Queues `connection_lost` once (invariant 5).
pub(super) fn schedule_lost(
    core: &Core,
    conn: &mut Conn,
    key: SourceKey,
    error: Option<io::Error>,
) {
    if conn.lost {
        return;
    }
    conn.lost = true;
    conn.reading = false;
    conn.lost_error = error;
    core.ready
        .borrow_mut()
        .push(Ready::Io(IoReady::ConnLost(ConnReady { key })));
}

impl EventLoop {
    /// Puts a connected stream under the loop's care and calls the
    /// protocol's `connection_made`.
    pub(crate) fn attach_stream(
        &self,
        stream: Stream,
        protocol: Box<dyn Protocol>,
        server: Option<Rc<ServerShared>>,
    ) -> Result<Transport> {
        self.attach_stream_with(stream, protocol, server, None)
    }

    /// As `attach_stream`; with `tls`, `connection_made` waits for the
    /// handshake, which must finish within the given time.
    pub(crate) fn attach_stream_with(
        &self,
        mut stream: Stream,
        mut protocol: Box<dyn Protocol>,
        server: Option<Rc<ServerShared>>,
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
                readable: false,
                hung_up: false,
                writable: false,
                // A write pipe's transport has nothing to read.
                reading: !stream_is_pipe_writer,
                queued: false,
                closing: false,
                eof_requested: false,
                eof_sent: false,
                dirty: false,
                lost: false,
                lost_error: None,
                pending: Vec::new(),
                server: server.clone(),
                tls,
                idle: None,
            })
        };
        if let Some(server) = &server {
            server.client_added(key);
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

    /// Runs `f` on the connection's protocol (invariant 5), then delivers
    /// what queued up meanwhile. A panic aborts the connection (invariant 6).
    pub(super) fn call_protocol(&self, key: SourceKey, f: impl FnOnce(&mut dyn Protocol)) {
        let core = &self.core;
        let taken = core
            .io
            .conns
            .borrow_mut()
            .get_mut(key)
            .and_then(|c| c.protocol.take());
        let Some(mut protocol) = taken else {
            return;
        };
        let mut outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *protocol)));
        loop {
            if let Err(payload) = outcome {
                self.protocol_panicked(key, CaughtPanic::from_payload(payload));
            }
            let next = {
                let mut conns = core.io.conns.borrow_mut();
                let Some(conn) = conns.get_mut(key) else {
                    return;
                };
                if conn.pending.is_empty() {
                    conn.protocol = Some(protocol);
                    return;
                }
                conn.pending.remove(0)
            };
            outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                next.deliver_to(&mut *protocol)
            }));
        }
    }

    fn protocol_panicked(&self, key: SourceKey, panic: CaughtPanic) {
        let message = panic.message.clone();
        self.report_panic(ExceptionContext::from_panic("protocol", panic));
        let core = &self.core;
        let mut conns = core.io.conns.borrow_mut();
        if let Some(conn) = conns.get_mut(key) {
            conn.drop_pending();
            conn.closing = true;
            let error = io::Error::other(format!("the protocol panicked: {message}"));
            schedule_lost(core, conn, key, Some(error));
        }
    }

    /// Delivers a flow-control event now, or after the running method.
    fn deliver(&self, key: SourceKey, event: ProtoEvent) {
        {
            let mut conns = self.core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            if conn.tls.as_ref().is_some_and(|tls| tls.handshaking) {
                // A protocol hears nothing before `connection_made`; a
                // shutdown notice is sent again after the handshake.
                return;
            }
            if conn.protocol.is_none() {
                conn.pending.push(event);
                return;
            }
        }
        self.call_protocol(key, |p| event.deliver_to(p));
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
            .filter(|(_, conn)| !conn.lost)
            .map(|(key, _)| key)
            .collect()
    }

    /// How many connections this loop has, `connection_lost` pending or not.
    pub(crate) fn conn_count(&self) -> usize {
        self.core.io.conns.borrow().table.len()
    }

    /// Flushes every connection written to since the last flush (invariant 2).
    pub(crate) fn flush_dirty(&self) {
        let core = &self.core;
        core.io.conns_have_dirty.set(false);
        let dirty = std::mem::take(&mut *core.io.conn_dirty_queue.borrow_mut());
        for &key in &dirty {
            // `flush_conn` clears the connection's `dirty` flag.
            self.flush_conn(key);
        }
        let mut queue = core.io.conn_dirty_queue.borrow_mut();
        if queue.is_empty() {
            let mut dirty = dirty;
            dirty.clear();
            *queue = dirty;
        }
    }

    /// Writes what the kernel takes, finishes a requested EOF or close, and
    /// checks flow control (invariant 3).
    pub(super) fn flush_conn(&self, key: SourceKey) {
        let core = &self.core;
        let flow_event = {
            let mut conns = core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            conn.dirty = false;
            if conn.lost {
                return;
            }
            // Only a flush asked for inside `data_received` finds one.
            conn.unborrow(core);
            loop {
                while !conn.write.is_empty() {
                    let written = if conn.write.is_contiguous() {
                        conn.stream.write(conn.write.pending())
                    } else {
                        write_queued(&conn.stream, &mut conn.write)
                    };
                    match conn.wrote(core, key, written) {
                        WriteStep::Sent(n) => conn.write.consume(n),
                        WriteStep::Blocked => break,
                        WriteStep::Failed => return,
                    }
                }
                // TLS sending a file: encrypt the next part once the
                // ciphertext is out.
                let more_plain = conn.tls.as_ref().is_some_and(|tls| !tls.plain.is_empty());
                if !(more_plain && conn.write.is_empty() && conn.writable) {
                    break;
                }
                conn.flush_tls(core, key);
                if conn.lost {
                    return;
                }
            }
            if conn.pending_len() == 0 {
                if conn.eof_requested && !conn.eof_sent {
                    conn.eof_sent = true;
                    let _ = conn.stream.shutdown_write();
                }
                if conn.closing {
                    // A TLS failure stored its error before closing.
                    let error = conn.lost_error.take();
                    schedule_lost(core, conn, key, error);
                    return;
                }
            }
            if conn.tls.as_ref().is_some_and(|tls| tls.handshaking) {
                // Not announced yet: flow control starts with
                // `connection_made`.
                None
            } else {
                conn.flow.check(conn.pending_len())
            }
        };
        match flow_event {
            Some(FlowEvent::Pause) => self.deliver(key, ProtoEvent::PauseWriting),
            Some(FlowEvent::Resume) => self.deliver(key, ProtoEvent::ResumeWriting),
            None => {}
        }
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
            conn.writable && !conn.write.is_empty(),
            conn.readable && conn.reading,
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
        super::tcp::resume_full_listeners(lp);
    }
    if let Some(mut protocol) = protocol {
        lp.guarded("protocol", || protocol.connection_lost(lost_error));
    }
    if let Some(server) = server {
        server.client_gone(ready.key);
    }
}
