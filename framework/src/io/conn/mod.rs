//! The connection core: one owner for every stream connection of a loop
//! (TCP, Unix, pipes, with or without TLS). `Conn` holds a connection's
//! state behind private fields; its transitions are methods (`state`), so
//! the rest of `io` — [`Transport`](super::Transport), the handle
//! protocols write through, `start_tls`, `io::tls` — asks, never pokes.
//! The files here, one job each: `table` (the loop's table, attaching,
//! epoll events, removal), `read` and `lent_read` (the read side),
//! `write` (queueing, half-close, close), `flush` (the one write loop),
//! `calls` (calling the protocol), `idle` (idle timeouts), `tls_seam`
//! (what TLS reaches of a connection).
//!
//! Invariants (the write path, DESIGN.md "What makes it fast"):
//! 1. A connection is registered once for READABLE|WRITABLE (edge
//!    triggered) and never re-registered; `Readiness` remembers an edge
//!    until a read or write returns `WouldBlock`.
//! 2. `write` only appends to the connection's buffer and puts it on the
//!    loop's dirty list; after the current ready item returns, every dirty
//!    connection is flushed with one `write(2)`, so the writes of one
//!    callback cost one system call. What the kernel refuses stays buffered
//!    until the next writable edge. The one exception saves a copy: a write
//!    of bytes of the read being lent, to an empty buffer, is kept as a
//!    range of the read (`Conn::borrowed`, `io::conn::lent_read`) and sent when
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
use std::rc::Rc;

mod calls;
mod clients;
mod flush;
mod idle;
mod lent_read;
mod read;
mod state;
mod table;
mod tls_seam;
mod write;

pub(crate) use self::clients::ClientSet;
use self::lent_read::LentRange;
pub(crate) use self::lent_read::LentRead;
pub(crate) use self::table::{run_conn, run_conn_lost, Conns};

use self::idle::IdleTimer;
use self::state::{Life, Readiness, Reading, WriteEnd};
use super::protocol::Protocol;
use super::ready::{ConnReady, IoReady};
use super::stream::Stream;
use super::tls::TlsLayer;
use crate::event_loop::Core;
use crate::proto::write_buffer::{FlowControl, WriteBuffer};
use crate::source_table::SourceKey;

/// Size of each loop's read buffer.
pub(in crate::io) const READ_BUFFER: usize = 64 * 1024;
/// Reads per ready item before the connection yields to others.
pub(in crate::io) const READ_BUDGET: usize = 16;

/// The outcome of one write of a connection's bytes ([`Conn::wrote`]).
pub(in crate::io) enum WriteStep {
    /// This many bytes left (0 after an interrupted call: try again).
    Sent(usize),
    /// The kernel's buffer is full: wait for the next writable edge.
    Blocked,
    /// The connection is lost with the error.
    Failed,
}

#[derive(Debug, Clone, Copy)]
pub(in crate::io) enum ProtoEvent {
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

/// One stream connection. Its fields are private to `io::conn`: the rest
/// of `io` (the transport, TLS, `start_tls`) changes a connection only
/// through its methods, so its invariants hold in one module.
pub(crate) struct Conn {
    stream: Stream,
    /// `None` while one of its methods runs (invariant 5).
    protocol: Option<Box<dyn Protocol>>,
    /// The protocol lends its own buffer for reads (`BufferedProtocol`).
    buffered: bool,
    write: WriteBuffer,
    /// A range of the read being lent to `data_received`, written while the
    /// buffer above was empty: it goes out (or into the buffer) when the
    /// callback returns (`io::conn::lent_read`). `None` outside a lend.
    borrowed: Option<LentRange>,
    flow: FlowControl,
    readiness: Readiness,
    life: Life,
    reading: Reading,
    write_end: WriteEnd,
    /// A `Ready::Conn` for this connection is queued.
    queued: bool,
    /// On the loop's dirty list.
    dirty: bool,
    /// The error `connection_lost` will carry.
    lost_error: Option<io::Error>,
    /// Events that arrived while the protocol was busy.
    pending: Vec<ProtoEvent>,
    /// The server that accepted this connection, for its client count.
    server: Option<Rc<ClientSet>>,
    /// TLS session, for a TLS transport (`io::tls`).
    tls: Option<Box<TlsLayer>>,
    /// The idle timeout, if one is set (`io::conn::idle`).
    idle: Option<Box<IdleTimer>>,
}

impl Conn {
    /// Copies a range borrowed from the lent read into the write buffer,
    /// before anything is added after it (`io::conn::lent_read`).
    #[inline]
    pub(in crate::io) fn unborrow(&mut self, core: &Core) {
        if let Some(range) = self.borrowed.take() {
            core.io.lent_read.copy_into(range, &mut self.write);
        }
    }

    /// What one `write(2)` of this connection's bytes comes to, wherever
    /// the bytes are (the write buffer in `flush_conn`, a lent read in
    /// `io::conn::lent_read`): sent bytes are counted and keep the idle timer
    /// from firing (a slow download is not idle), `WouldBlock` ends the
    /// writable edge, an error loses the connection. The one place a
    /// connection's write result is handled.
    #[inline]
    pub(in crate::io) fn wrote(
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
                self.readiness.write_blocked();
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
    fn write_failed(&mut self, core: &Core, key: SourceKey, error: io::Error) {
        self.fail(core, key, error);
    }

    /// Drops everything not yet sent (files included: they close).
    pub(in crate::io) fn drop_pending(&mut self) {
        self.borrowed = None;
        self.write.clear();
        if let Some(tls) = self.tls.as_mut() {
            tls.plain.clear();
        }
    }

    /// Bytes not yet handed to the kernel: the write buffer, and for TLS
    /// the plaintext queued behind a file range.
    #[inline]
    pub(in crate::io) fn pending_len(&self) -> usize {
        let queued_plain = self.tls.as_ref().map_or(0, |tls| tls.plain.len());
        let borrowed = self.borrowed.map_or(0, LentRange::len);
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
    #[inline]
    pub(in crate::io) fn note_read(&mut self, result: &io::Result<usize>, capacity: usize) {
        let tcp = matches!(self.stream, Stream::Tcp(_));
        match result {
            Ok(n) if tcp && *n > 0 && *n < capacity && !self.readiness.hung_up() => {
                self.readiness.read_drained()
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readiness.read_drained(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    /// Memory per connection is a feature (an idle keep-alive connection
    /// costs the server ~0.67 KiB of RSS, `conn-memory.sh`): a field added
    /// to `Conn`, or one that grows, shows here before it shows there.
    #[test]
    fn a_connection_stays_small() {
        let size = std::mem::size_of::<super::Conn>();
        assert!(
            size <= 224,
            "Conn grew to {size} bytes (224 before): every connection pays it"
        );
    }
}
