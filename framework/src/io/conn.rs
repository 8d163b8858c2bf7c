//! Stream connections: the loop-owned table of connections and
//! [`Transport`], the handle protocols write through.
//!
//! Invariants (the write path, DESIGN.md "What makes it fast"):
//! 1. A connection is registered once for READABLE|WRITABLE (edge
//!    triggered) and never re-registered; `readable`/`writable` remember an
//!    edge until a read or write returns `WouldBlock`.
//! 2. `write` only appends to the connection's buffer and puts it on the
//!    loop's dirty list; after the current ready item returns, every dirty
//!    connection is flushed with one `write(2)`, so the writes of one
//!    callback cost one system call. What the kernel refuses stays buffered
//!    until the next writable edge.
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
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

use mio::event::Event;
use mio::{Interest, Registry};
use slab::Slab;

use super::protocol::Protocol;
use super::stream::Stream;
use super::tcp::ServerShared;
use super::{token, SourceKind};
use crate::event_loop::{Callback, Core, Ready};
use crate::exception::{CaughtPanic, ExceptionContext};
use crate::proto::ready_queue::ReadyQueue;
use crate::proto::write_buffer::{FlowControl, FlowEvent, WriteBuffer};
use crate::{Error, ErrorKind, EventLoop, Result};

/// Size of each loop's read buffer.
const READ_BUFFER: usize = 64 * 1024;
/// Reads per ready item before the connection yields to others.
const READ_BUDGET: usize = 16;

/// A queued connection event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnReady {
    key: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy)]
enum ProtoEvent {
    PauseWriting,
    ResumeWriting,
}

pub(crate) struct Conn {
    generation: u32,
    stream: Stream,
    /// `None` while one of its methods runs (invariant 5).
    protocol: Option<Box<dyn Protocol>>,
    /// The protocol lends its own buffer for reads (`BufferedProtocol`).
    buffered: bool,
    write: WriteBuffer,
    flow: FlowControl,
    /// An edge said readable and no read has hit `WouldBlock` since.
    readable: bool,
    /// Likewise for writing.
    writable: bool,
    /// Not paused by `pause_reading`.
    reading: bool,
    /// A `Ready::Conn` for this connection is queued.
    queued: bool,
    /// `close()` was called: flush, then `connection_lost(None)`.
    closing: bool,
    /// `write_eof()` was called.
    eof_requested: bool,
    /// The write side was shut down.
    eof_sent: bool,
    /// On the loop's dirty list.
    dirty: bool,
    /// `connection_lost` is queued (or delivered).
    lost: bool,
    /// The error `connection_lost` will carry.
    lost_error: Option<io::Error>,
    /// Events that arrived while the protocol was busy.
    pending: Vec<ProtoEvent>,
    /// The server that accepted this connection, for its client count.
    server: Option<Rc<ServerShared>>,
}

/// The connections of one loop.
#[derive(Default)]
pub(crate) struct Conns {
    slab: Slab<Conn>,
    next_generation: u32,
}

impl Conns {
    fn get_mut(&mut self, key: u32, generation: u32) -> Option<&mut Conn> {
        self.slab
            .get_mut(key as usize)
            .filter(|c| c.generation == generation)
    }

    /// Notes an epoll event and queues the connection if it has work.
    pub(crate) fn on_event(
        &mut self,
        key: usize,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
    ) {
        let Some(conn) = self.slab.get_mut(key) else {
            return;
        };
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            conn.readable = true;
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            conn.writable = true;
        }
        let has_work = (conn.readable && conn.reading && !conn.closing)
            || (conn.writable && !conn.write.is_empty());
        if has_work && !conn.queued && !conn.lost {
            conn.queued = true;
            ready.push(Ready::Conn(ConnReady {
                key: key as u32,
                generation: conn.generation,
            }));
        }
    }

    /// Deregisters and drops every connection without callbacks (loop close).
    pub(crate) fn deregister_all(&mut self, registry: &Registry) {
        for (_, conn) in self.slab.iter_mut() {
            let _ = registry.deregister(&mut conn.stream);
        }
    }
}

/// A handle to one stream connection, for the protocol and any callback on
/// the connection's loop. Cheap to clone; stale once the connection is lost
/// (its methods then fail with [`ErrorKind::Closed`] or do nothing).
#[derive(Clone)]
pub struct Transport {
    core: Weak<Core>,
    key: u32,
    generation: u32,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("key", &self.key)
            .field("generation", &self.generation)
            .finish()
    }
}

fn not_ip() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "a Unix socket transport has no IP address: use unix_peername/unix_sockname",
    )
}

fn not_unix() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "a TCP transport has no Unix address: use peername/sockname",
    )
}

fn closed_transport() -> Error {
    Error::new(ErrorKind::Closed, "the transport is closed")
}

impl Transport {
    fn with_conn<R>(&self, f: impl FnOnce(&Rc<Core>, &mut Conn) -> R) -> Result<R> {
        let core = self.core.upgrade().ok_or_else(closed_transport)?;
        let mut conns = core.conns.borrow_mut();
        let conn = conns
            .get_mut(self.key, self.generation)
            .ok_or_else(closed_transport)?;
        if conn.lost {
            return Err(closed_transport());
        }
        let result = f(&core, conn);
        drop(conns);
        Ok(result)
    }

    fn mark_dirty(core: &Core, conn: &mut Conn, key: u32) {
        if !conn.dirty {
            conn.dirty = true;
            core.conns_dirty_push(key, conn.generation);
        }
    }

    /// Queues `data` to be sent. Writes made while one callback runs go out
    /// together, in one system call, when it returns.
    ///
    /// Fails after [`write_eof`](Self::write_eof) or [`close`](Self::close),
    /// and on a lost connection.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        let key = self.key;
        self.with_conn(|core, conn| {
            if conn.eof_requested {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "cannot write after write_eof()",
                ));
            }
            if conn.closing {
                return Err(Error::new(
                    ErrorKind::Closed,
                    "cannot write to a closing transport",
                ));
            }
            if data.is_empty() {
                return Ok(());
            }
            conn.write.append(data);
            Self::mark_dirty(core, conn, key);
            Ok(())
        })?
    }

    /// Queues several buffers, as one write.
    pub fn writelines(&self, chunks: &[&[u8]]) -> Result<()> {
        for chunk in chunks {
            self.write(chunk)?;
        }
        Ok(())
    }

    /// Shuts the sending side down once the buffer is flushed; reading goes
    /// on. Idempotent.
    pub fn write_eof(&self) -> Result<()> {
        let key = self.key;
        self.with_conn(|core, conn| {
            if !conn.eof_requested {
                conn.eof_requested = true;
                Self::mark_dirty(core, conn, key);
            }
        })
    }

    /// TCP transports can always half-close.
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Stops reading, flushes what is buffered, then closes; the protocol's
    /// `connection_lost(None)` follows on a later iteration. Idempotent.
    pub fn close(&self) {
        let key = self.key;
        let _ = self.with_conn(|core, conn| {
            if conn.closing {
                return;
            }
            conn.closing = true;
            conn.reading = false;
            // The flush (now empty or not) finishes the close.
            Self::mark_dirty(core, conn, key);
        });
    }

    /// Closes at once, dropping whatever is buffered; `connection_lost(None)`
    /// follows on a later iteration.
    pub fn abort(&self) {
        let _ = self.with_conn(|core, conn| {
            conn.write.clear();
            conn.closing = true;
            conn.reading = false;
            schedule_lost(core, conn, self.key, None);
        });
    }

    /// True once `close` or `abort` was called or the connection was lost.
    pub fn is_closing(&self) -> bool {
        self.with_conn(|_, conn| conn.closing).unwrap_or(true)
    }

    /// Stops calling `data_received` until [`resume_reading`](Self::resume_reading).
    /// Idempotent.
    pub fn pause_reading(&self) {
        let _ = self.with_conn(|_, conn| conn.reading = false);
    }

    /// Resumes reading, including data that arrived while paused. Idempotent.
    pub fn resume_reading(&self) {
        let key = self.key;
        let _ = self.with_conn(|core, conn| {
            if conn.reading || conn.closing {
                return;
            }
            conn.reading = true;
            if conn.readable && !conn.queued {
                conn.queued = true;
                core.ready.borrow_mut().push(Ready::Conn(ConnReady {
                    key,
                    generation: conn.generation,
                }));
            }
        });
    }

    /// True while reading is not paused (and the transport not closing).
    pub fn is_reading(&self) -> bool {
        self.with_conn(|_, conn| conn.reading).unwrap_or(false)
    }

    /// Sets the write buffer's water marks (defaults 64 KiB and 16 KiB). With
    /// only one given the other is derived (low = high / 4); `high < low` is
    /// an error. The buffer is re-checked at once.
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        let key = self.key;
        self.with_conn(|core, conn| {
            conn.flow.set_limits(high, low).map_err(|bad| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "high-water mark ({}) must be >= low-water mark ({})",
                        bad.high, bad.low
                    ),
                )
            })?;
            // Re-checked by the flush that follows the current callback.
            Self::mark_dirty(core, conn, key);
            Ok(())
        })?
    }

    /// The write buffer's (high, low) water marks.
    pub fn get_write_buffer_limits(&self) -> Result<(usize, usize)> {
        self.with_conn(|_, conn| conn.flow.limits())
    }

    /// Bytes buffered and not yet taken by the kernel.
    pub fn get_write_buffer_size(&self) -> usize {
        self.with_conn(|_, conn| conn.write.len()).unwrap_or(0)
    }

    /// Flushes this connection's buffer now instead of after the current
    /// callback (for `StreamWriter::drain`).
    pub(crate) fn flush_now(&self) {
        if let Some(core) = self.core.upgrade() {
            EventLoop::from_core(core).flush_conn(self.key, self.generation);
        }
    }

    /// The peer's address (asyncio's `get_extra_info('peername')`).
    pub fn peername(&self) -> Result<SocketAddr> {
        self.with_conn(|_, conn| match &conn.stream {
            Stream::Tcp(s) => s
                .peer_addr()
                .map_err(|e| Error::io("getting the peer address", e)),
            Stream::Unix(_) => Err(not_ip()),
        })?
    }

    /// The local address (`get_extra_info('sockname')`).
    pub fn sockname(&self) -> Result<SocketAddr> {
        self.with_conn(|_, conn| match &conn.stream {
            Stream::Tcp(s) => s
                .local_addr()
                .map_err(|e| Error::io("getting the local address", e)),
            Stream::Unix(_) => Err(not_ip()),
        })?
    }

    /// The peer's address on a Unix socket transport.
    pub fn unix_peername(&self) -> Result<std::os::unix::net::SocketAddr> {
        self.with_conn(|_, conn| match &conn.stream {
            Stream::Unix(s) => s
                .peer_addr()
                .map_err(|e| Error::io("getting the peer address", e)),
            Stream::Tcp(_) => Err(not_unix()),
        })?
    }

    /// The local address on a Unix socket transport.
    pub fn unix_sockname(&self) -> Result<std::os::unix::net::SocketAddr> {
        self.with_conn(|_, conn| match &conn.stream {
            Stream::Unix(s) => s
                .local_addr()
                .map_err(|e| Error::io("getting the local address", e)),
            Stream::Tcp(_) => Err(not_unix()),
        })?
    }

    /// The socket's fd (`get_extra_info('socket')`), for socket options.
    /// The transport still owns it: do not close it.
    pub fn as_raw_fd(&self) -> Result<RawFd> {
        self.with_conn(|_, conn| conn.stream.as_raw_fd())
    }
}

impl Core {
    fn conns_dirty_push(&self, key: u32, generation: u32) {
        // The caller holds `conns`, so the dirty list is a RefCell of its own.
        self.conns_have_dirty.set(true);
        self.conn_dirty_queue.borrow_mut().push((key, generation));
    }
}

/// Queues `connection_lost` once (invariant 5).
fn schedule_lost(core: &Core, conn: &mut Conn, key: u32, error: Option<io::Error>) {
    if conn.lost {
        return;
    }
    conn.lost = true;
    conn.reading = false;
    conn.lost_error = error;
    core.ready.borrow_mut().push(Ready::ConnLost(ConnReady {
        key,
        generation: conn.generation,
    }));
}

impl EventLoop {
    /// Puts a connected stream under the loop's care and calls the
    /// protocol's `connection_made`.
    pub(crate) fn attach_stream(
        &self,
        mut stream: Stream,
        mut protocol: Box<dyn Protocol>,
        server: Option<Rc<ServerShared>>,
    ) -> Result<Transport> {
        let core = &self.core;
        let (key, generation) = {
            let mut conns = core.conns.borrow_mut();
            let conns = &mut *conns;
            conns.next_generation = conns.next_generation.wrapping_add(1);
            let generation = conns.next_generation;
            let entry = conns.slab.vacant_entry();
            let key = entry.key();
            self.registry_poll()
                .registry()
                .register(
                    &mut stream,
                    token(SourceKind::Conn, key),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| Error::io("registering a connection with epoll", e))?;
            entry.insert(Conn {
                generation,
                stream,
                buffered: protocol.as_buffered().is_some(),
                protocol: Some(protocol),
                write: WriteBuffer::default(),
                flow: FlowControl::default(),
                readable: false,
                writable: false,
                reading: true,
                queued: false,
                closing: false,
                eof_requested: false,
                eof_sent: false,
                dirty: false,
                lost: false,
                lost_error: None,
                pending: Vec::new(),
                server: server.clone(),
            });
            (key as u32, generation)
        };
        if let Some(server) = &server {
            server.client_added(key, generation);
        }
        core.shared.counters.connections_opened.add(1);
        let transport = Transport {
            core: Rc::downgrade(core),
            key,
            generation,
        };
        let for_protocol = transport.clone();
        self.call_protocol(key, generation, move |p| p.connection_made(for_protocol));
        Ok(transport)
    }

    /// Runs `f` on the connection's protocol (invariant 5), then delivers
    /// what queued up meanwhile. A panic aborts the connection (invariant 6).
    fn call_protocol(&self, key: u32, generation: u32, f: impl FnOnce(&mut dyn Protocol)) {
        let core = &self.core;
        let taken = core
            .conns
            .borrow_mut()
            .get_mut(key, generation)
            .and_then(|c| c.protocol.take());
        let Some(mut protocol) = taken else {
            return;
        };
        let mut outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *protocol)));
        loop {
            if let Err(payload) = outcome {
                self.protocol_panicked(key, generation, CaughtPanic::from_payload(payload));
            }
            let next = {
                let mut conns = core.conns.borrow_mut();
                let Some(conn) = conns.get_mut(key, generation) else {
                    return;
                };
                if conn.pending.is_empty() {
                    conn.protocol = Some(protocol);
                    return;
                }
                conn.pending.remove(0)
            };
            outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match next {
                ProtoEvent::PauseWriting => protocol.pause_writing(),
                ProtoEvent::ResumeWriting => protocol.resume_writing(),
            }));
        }
    }

    fn protocol_panicked(&self, key: u32, generation: u32, panic: CaughtPanic) {
        let message = panic.message.clone();
        self.report_panic(ExceptionContext::from_panic("protocol", panic));
        let core = &self.core;
        let mut conns = core.conns.borrow_mut();
        if let Some(conn) = conns.get_mut(key, generation) {
            conn.write.clear();
            conn.closing = true;
            let error = io::Error::other(format!("the protocol panicked: {message}"));
            schedule_lost(core, conn, key, Some(error));
        }
    }

    /// Delivers a flow-control event now, or after the running method.
    fn deliver(&self, key: u32, generation: u32, event: ProtoEvent) {
        {
            let mut conns = self.core.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key, generation) else {
                return;
            };
            if conn.protocol.is_none() {
                conn.pending.push(event);
                return;
            }
        }
        self.call_protocol(key, generation, |p| match event {
            ProtoEvent::PauseWriting => p.pause_writing(),
            ProtoEvent::ResumeWriting => p.resume_writing(),
        });
    }

    /// Flushes every connection written to since the last flush (invariant 2).
    pub(crate) fn flush_dirty(&self) {
        let core = &self.core;
        core.conns_have_dirty.set(false);
        let dirty = std::mem::take(&mut *core.conn_dirty_queue.borrow_mut());
        for &(key, generation) in &dirty {
            if let Some(conn) = core.conns.borrow_mut().get_mut(key, generation) {
                conn.dirty = false;
            }
            self.flush_conn(key, generation);
        }
        let mut queue = core.conn_dirty_queue.borrow_mut();
        if queue.is_empty() {
            let mut dirty = dirty;
            dirty.clear();
            *queue = dirty;
        }
    }

    /// Writes what the kernel takes, finishes a requested EOF or close, and
    /// checks flow control (invariant 3).
    fn flush_conn(&self, key: u32, generation: u32) {
        let core = &self.core;
        let flow_event = {
            let mut conns = core.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key, generation) else {
                return;
            };
            if conn.lost {
                return;
            }
            while !conn.write.is_empty() {
                match conn.stream.write(conn.write.pending()) {
                    Ok(n) => conn.write.consume(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        conn.writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        conn.write.clear();
                        conn.closing = true;
                        schedule_lost(core, conn, key, Some(e));
                        return;
                    }
                }
            }
            if conn.write.is_empty() {
                if conn.eof_requested && !conn.eof_sent {
                    conn.eof_sent = true;
                    let _ = conn.stream.shutdown_write();
                }
                if conn.closing {
                    schedule_lost(core, conn, key, None);
                    return;
                }
            }
            conn.flow.check(conn.write.len())
        };
        match flow_event {
            Some(FlowEvent::Pause) => self.deliver(key, generation, ProtoEvent::PauseWriting),
            Some(FlowEvent::Resume) => self.deliver(key, generation, ProtoEvent::ResumeWriting),
            None => {}
        }
    }

    fn read_conn(&self, key: u32, generation: u32) {
        let core = &self.core;
        let mut buf = core
            .read_buffer
            .take()
            .unwrap_or_else(|| vec![0; READ_BUFFER].into_boxed_slice());
        let mut budget = READ_BUDGET;
        loop {
            let result = {
                let mut conns = core.conns.borrow_mut();
                let Some(conn) = conns.get_mut(key, generation) else {
                    break;
                };
                if !conn.reading || conn.closing || conn.lost || !conn.readable {
                    break;
                }
                if budget == 0 {
                    // Still readable: yield to the others, come back next
                    // iteration (invariant 4).
                    if !conn.queued {
                        conn.queued = true;
                        core.ready
                            .borrow_mut()
                            .push(Ready::Conn(ConnReady { key, generation }));
                    }
                    break;
                }
                budget -= 1;
                if conn.buffered {
                    None
                } else {
                    let result = conn.stream.read(&mut buf);
                    if let Err(e) = &result {
                        if e.kind() == io::ErrorKind::WouldBlock {
                            conn.readable = false;
                        }
                    }
                    Some(result)
                }
            };
            let (result, buffered) = match result {
                Some(result) => (result, false),
                None => (self.read_buffered(key, generation), true),
            };
            match result {
                Ok(0) => {
                    self.peer_eof(key, generation);
                    break;
                }
                Ok(n) => {
                    core.shared.counters.bytes_received.add(n as u64);
                    if !buffered {
                        self.call_protocol(key, generation, |p| p.data_received(&buf[..n]));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let mut conns = core.conns.borrow_mut();
                    if let Some(conn) = conns.get_mut(key, generation) {
                        conn.write.clear();
                        conn.closing = true;
                        schedule_lost(core, conn, key, Some(e));
                    }
                    break;
                }
            }
        }
        core.read_buffer.set(Some(buf));
    }

    /// One read straight into a `BufferedProtocol`'s own buffer.
    fn read_buffered(&self, key: u32, generation: u32) -> io::Result<usize> {
        let core = &self.core;
        let mut result = Err(io::Error::other("the connection went away during a read"));
        self.call_protocol(key, generation, |p| {
            let Some(protocol) = p.as_buffered() else {
                return;
            };
            let buf = protocol.get_buffer(READ_BUFFER);
            if buf.is_empty() {
                result = Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "BufferedProtocol::get_buffer returned an empty buffer",
                ));
                return;
            }
            let read = {
                let mut conns = core.conns.borrow_mut();
                match conns.get_mut(key, generation) {
                    Some(conn) => {
                        let read = conn.stream.read(buf);
                        if matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                            conn.readable = false;
                        }
                        read
                    }
                    None => return,
                }
            };
            if let Ok(n) = read {
                if n > 0 {
                    protocol.buffer_updated(n);
                }
            }
            result = read;
        });
        result
    }

    fn peer_eof(&self, key: u32, generation: u32) {
        let core = &self.core;
        if let Some(conn) = core.conns.borrow_mut().get_mut(key, generation) {
            conn.reading = false;
            conn.readable = false;
        }
        let mut keep_open = false;
        self.call_protocol(key, generation, |p| keep_open = p.eof_received());
        if !keep_open {
            let transport = Transport {
                core: Rc::downgrade(core),
                key,
                generation,
            };
            transport.close();
        }
    }
}

/// Runs a queued connection event: flush on a writable edge, read on a
/// readable one.
pub(crate) fn run_conn(lp: &EventLoop, ready: ConnReady) {
    let (flush, read) = {
        let mut conns = lp.core.conns.borrow_mut();
        let Some(conn) = conns.get_mut(ready.key, ready.generation) else {
            return;
        };
        conn.queued = false;
        (
            conn.writable && !conn.write.is_empty(),
            conn.readable && conn.reading,
        )
    };
    if flush {
        lp.flush_conn(ready.key, ready.generation);
    }
    if read {
        lp.read_conn(ready.key, ready.generation);
    }
}

/// Delivers `connection_lost` and frees the connection (invariant 5).
pub(crate) fn run_conn_lost(lp: &EventLoop, ready: ConnReady) {
    let core = &lp.core;
    let removed = {
        let mut conns = core.conns.borrow_mut();
        if conns.get_mut(ready.key, ready.generation).is_none() {
            return;
        }
        conns.slab.remove(ready.key as usize)
    };
    let Conn {
        mut stream,
        protocol,
        lost_error,
        server,
        ..
    } = removed;
    let _ = lp.registry_poll().registry().deregister(&mut stream);
    drop(stream);
    core.shared.counters.connections_closed.add(1);
    if let Some(mut protocol) = protocol {
        lp.guarded("protocol", || protocol.connection_lost(lost_error));
    }
    if let Some(server) = server {
        server.client_gone(ready.key, ready.generation);
    }
}

impl Transport {
    pub(crate) fn from_parts(core: &Rc<Core>, key: u32, generation: u32) -> Self {
        Self {
            core: Rc::downgrade(core),
            key,
            generation,
        }
    }
}
