//! The states a connection moves through, each a small type whose
//! transitions are methods: where it is in its life ([`Life`]), whether
//! it reads ([`Reading`]), whether its write side is shut ([`WriteEnd`]),
//! and the epoll edges not yet used up ([`Readiness`]). Every change of
//! state goes through `Conn`'s methods here, so the rules between them
//! hold in one place:
//!
//! - leaving [`Life::Open`] ends reading for good ([`Reading::Done`]), so
//!   "reading is on" alone says a read may run;
//! - [`Life::Lost`] is entered once, and queues `connection_lost` once;
//! - [`WriteEnd::EofSent`] follows [`WriteEnd::EofRequested`], after the
//!   pending bytes are out.

use std::io;

use mio::event::Event;

use super::{Conn, ConnReady, IoReady};
use crate::event_loop::{Core, Ready};
use crate::source_table::SourceKey;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Life {
    /// Reads and writes.
    Open,
    /// `close()` was called, or a TLS failure is sending its alert: what is
    /// pending is flushed, then the connection is lost.
    Closing,
    /// `connection_lost` is queued (or delivered); the slot is freed when
    /// it runs.
    Lost,
}

/// Whether the connection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// Reads run on readable edges.
    On,
    /// `pause_reading()`: until `resume_reading()`.
    Paused,
    /// Never again: the peer's EOF, a close, a loss, or a write pipe,
    /// which has nothing to read.
    Done,
}

/// The write side's half-close (`write_eof`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteEnd {
    /// Writes are taken.
    Open,
    /// `write_eof()` was called: the write side shuts once the pending
    /// bytes are out; no more writes are taken.
    EofRequested,
    /// The write side is shut.
    EofSent,
}

/// The edges epoll reported that no read or write has used up yet
/// (invariant 1 of `io::conn`: edge triggered, registered once).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Readiness {
    /// An edge said readable and no read has hit `WouldBlock` (or come
    /// back short) since.
    readable: bool,
    /// An edge said writable and no write has hit `WouldBlock` since.
    writable: bool,
    /// An edge reported the peer's hang-up or an error: reads go on until
    /// they return 0 or fail, short or not.
    hung_up: bool,
}

impl Readiness {
    /// Notes what an epoll event says.
    #[inline]
    pub(super) fn note_event(&mut self, event: &Event) {
        let failed = event.is_error();
        if event.is_readable() || event.is_read_closed() || failed {
            self.readable = true;
        }
        if event.is_read_closed() || failed {
            self.hung_up = true;
        }
        if event.is_writable() || event.is_write_closed() || failed {
            self.writable = true;
        }
    }

    #[inline]
    pub(super) fn readable(&self) -> bool {
        self.readable
    }

    #[inline]
    pub(super) fn writable(&self) -> bool {
        self.writable
    }

    #[inline]
    pub(super) fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// A read found the socket drained: wait for the next readable edge.
    #[inline]
    pub(super) fn read_drained(&mut self) {
        self.readable = false;
    }

    /// A write hit `WouldBlock`: wait for the next writable edge.
    #[inline]
    pub(super) fn write_blocked(&mut self) {
        self.writable = false;
    }
}

impl Conn {
    /// Neither closing nor lost.
    #[inline]
    pub(in crate::io) fn is_open(&self) -> bool {
        self.life == Life::Open
    }

    /// `connection_lost` is queued or delivered: nothing more happens to
    /// the connection but its removal.
    #[inline]
    pub(in crate::io) fn is_lost(&self) -> bool {
        self.life == Life::Lost
    }

    /// Reads are on: open, not paused, no EOF seen.
    #[inline]
    pub(in crate::io) fn is_reading(&self) -> bool {
        self.reading == Reading::On
    }

    /// `pause_reading()`. Idempotent; no effect once reading is done.
    #[inline]
    pub(in crate::io) fn pause_reading(&mut self) {
        if self.reading == Reading::On {
            self.reading = Reading::Paused;
        }
    }

    /// `resume_reading()`: reads again, at once if an edge is waiting.
    /// Idempotent; no effect unless paused.
    pub(in crate::io) fn resume_reading(&mut self, core: &Core, key: SourceKey) {
        if self.reading != Reading::Paused {
            return;
        }
        self.reading = Reading::On;
        if self.readiness.readable() {
            self.queue_ready(core, key);
        }
    }

    /// The peer's EOF: nothing more to read.
    #[inline]
    pub(super) fn reading_done(&mut self) {
        self.reading = Reading::Done;
        self.readiness.read_drained();
    }

    /// Queues this connection's ready item unless one is queued.
    #[inline]
    pub(super) fn queue_ready(&mut self, core: &Core, key: SourceKey) {
        if !self.queued {
            self.queued = true;
            core.ready
                .borrow_mut()
                .push(Ready::Io(IoReady::Conn(ConnReady { key })));
        }
    }

    /// Starts a close: reading ends, the next flush sends what is pending
    /// and then loses the connection. False if it was not open.
    #[inline]
    pub(super) fn begin_close(&mut self) -> bool {
        if self.life != Life::Open {
            return false;
        }
        self.life = Life::Closing;
        self.reading = Reading::Done;
        true
    }

    /// A failure that still lets pending bytes (a TLS alert) leave:
    /// closes, and `connection_lost` will carry `error`.
    pub(in crate::io) fn close_with_error(
        &mut self,
        core: &Core,
        key: SourceKey,
        error: io::Error,
    ) {
        if self.life == Life::Lost {
            return;
        }
        self.life = Life::Closing;
        self.reading = Reading::Done;
        self.lost_error = Some(error);
        self.mark_dirty(core, key);
    }

    /// Marks the connection lost with `error`; false if it already was.
    /// The caller queues `connection_lost` (see [`lose`](Self::lose)).
    pub(super) fn mark_lost(&mut self, error: Option<io::Error>) -> bool {
        if self.life == Life::Lost {
            return false;
        }
        self.life = Life::Lost;
        self.reading = Reading::Done;
        self.lost_error = error;
        true
    }

    /// Loses the connection: `connection_lost(error)` is queued once
    /// (invariant 5 of `io::conn`). Pending bytes are kept only by the
    /// caller that wants them dropped first ([`fail`](Self::fail)).
    pub(in crate::io) fn lose(&mut self, core: &Core, key: SourceKey, error: Option<io::Error>) {
        if self.mark_lost(error) {
            core.ready
                .borrow_mut()
                .push(Ready::Io(IoReady::ConnLost(ConnReady { key })));
        }
    }

    /// A failure that ends the connection at once: what is pending is
    /// dropped and `connection_lost` gets the error.
    pub(in crate::io) fn fail(&mut self, core: &Core, key: SourceKey, error: io::Error) {
        self.drop_pending();
        self.lose(core, key, Some(error));
    }

    /// `write_eof()` was called (or the write side is shut).
    #[inline]
    pub(in crate::io) fn write_end_shut(&self) -> bool {
        self.write_end != WriteEnd::Open
    }

    /// Asks for the write side to shut once the pending bytes are out;
    /// false if it was asked before.
    #[inline]
    pub(super) fn request_eof(&mut self) -> bool {
        if self.write_end != WriteEnd::Open {
            return false;
        }
        self.write_end = WriteEnd::EofRequested;
        true
    }

    /// Shuts the write side if that was asked for (the pending bytes are
    /// out).
    #[inline]
    pub(super) fn send_eof_if_requested(&mut self) {
        if self.write_end == WriteEnd::EofRequested {
            self.write_end = WriteEnd::EofSent;
            let _ = self.stream.shutdown_write();
        }
    }
}
