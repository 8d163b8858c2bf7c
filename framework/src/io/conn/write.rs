//! The write side of a connection, owned by [`Conn`]: queueing bytes
//! (copied, built in place, owned, a file range), the half-close and the
//! close, each checking first that the connection still takes writes.
//! `Transport` only finds the connection and calls these; what TLS does
//! instead is in `io::tls::conn` (`tls_*`), the one place the write side
//! meets rustls.

use std::rc::Rc;

use super::Conn;
use crate::event_loop::Core;
use crate::proto::write_buffer::{BadLimits, FileRange};
use crate::source_table::SourceKey;
use crate::{Error, ErrorKind, Result};

impl Conn {
    /// Puts the connection on the loop's dirty list: flushed after the
    /// current item.
    #[inline]
    pub(in crate::io) fn mark_dirty(&mut self, core: &Core, key: SourceKey) {
        if !self.dirty {
            self.dirty = true;
            core.io.conns_dirty_push(key);
        }
    }

    /// Fails unless the connection takes writes (not a read pipe, not
    /// half-closed, not closing).
    #[inline]
    pub(in crate::io) fn check_writable(&self) -> Result<()> {
        if self.stream.is_pipe_reader() || self.write_end_shut() || !self.is_open() {
            return Err(self.not_writable());
        }
        Ok(())
    }

    /// Why the connection takes no writes. Out of line, so that the
    /// inlined check on every write stays small.
    #[cold]
    #[inline(never)]
    fn not_writable(&self) -> Error {
        if self.stream.is_pipe_reader() {
            Error::new(
                ErrorKind::InvalidInput,
                "cannot write to a read pipe transport",
            )
        } else if self.write_end_shut() {
            Error::new(ErrorKind::InvalidInput, "cannot write after write_eof()")
        } else {
            Error::new(ErrorKind::Closed, "cannot write to a closing transport")
        }
    }

    /// `Transport::write`: bytes of the read being lent to `data_received`
    /// are kept as a range of it when nothing else is pending
    /// (`io::conn::lent_read`); others are copied into the buffer.
    #[inline]
    pub(in crate::io) fn queue(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        data: &[u8],
    ) -> Result<()> {
        self.check_writable()?;
        if data.is_empty() {
            return Ok(());
        }
        if self.tls.is_some() {
            return self.tls_queue(core, key, data);
        }
        if self.write.is_empty() && self.borrowed.is_none() {
            // Bytes of the read being handled (an echo, a proxy): sent
            // from where they are when the callback returns.
            if let Some(range) = core.io.lent_read.range_of(data) {
                self.borrowed = Some(range);
                core.io.lent_read.note_borrower(key);
                self.mark_dirty(core, key);
                return Ok(());
            }
        }
        self.unborrow(core);
        self.write.append(data);
        self.mark_dirty(core, key);
        Ok(())
    }

    /// `Transport::write_with`: `fill` appends straight into the buffer.
    #[inline]
    pub(in crate::io) fn queue_with<R>(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        fill: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> Result<R> {
        self.check_writable()?;
        if self.tls.is_some() {
            return self.tls_queue_with(core, key, fill);
        }
        self.unborrow(core);
        let (before, result) = self.write.append_with(fill);
        assert!(
            self.write.len() >= before,
            "Transport::write_with: the closure removed pending bytes; it may only append"
        );
        if self.write.len() > before {
            self.mark_dirty(core, key);
        }
        Ok(result)
    }

    /// `Transport::write_owned`: the buffer is kept and sent from.
    pub(in crate::io) fn queue_owned(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        data: impl AsRef<[u8]> + 'static,
    ) -> Result<()> {
        self.check_writable()?;
        if self.tls.is_some() {
            return self.tls_queue_owned(core, key, data);
        }
        self.unborrow(core);
        self.write.push_owned(Box::new(data));
        self.mark_dirty(core, key);
        Ok(())
    }

    /// `Transport::sendfile`: the range is sent in order with the rest.
    pub(in crate::io) fn queue_file(
        &mut self,
        core: &Rc<Core>,
        key: SourceKey,
        range: FileRange,
    ) -> Result<()> {
        self.check_writable()?;
        if self.tls.is_some() {
            self.tls_queue_file(core, key, range);
            return Ok(());
        }
        self.unborrow(core);
        self.write.push_file(range);
        self.mark_dirty(core, key);
        Ok(())
    }

    /// `Transport::set_write_buffer_limits`: the marks, re-checked by the
    /// flush that follows.
    pub(in crate::io) fn set_write_limits(
        &mut self,
        core: &Core,
        key: SourceKey,
        high: Option<usize>,
        low: Option<usize>,
    ) -> std::result::Result<(), BadLimits> {
        self.flow.set_limits(high, low)?;
        self.mark_dirty(core, key);
        Ok(())
    }

    /// The write buffer's marks (high, low).
    pub(in crate::io) fn write_limits(&self) -> (usize, usize) {
        self.flow.limits()
    }

    /// Whether a half-close is possible: sockets and write pipes, not read
    /// pipes or TLS.
    pub(in crate::io) fn can_write_eof(&self) -> bool {
        !self.stream.is_pipe_reader() && self.tls.is_none()
    }

    /// `Transport::write_eof`: the sending side shuts once the buffer is
    /// out. True for a write pipe, which has no half-close: the caller
    /// closes it instead.
    pub(in crate::io) fn request_write_eof(&mut self, core: &Core, key: SourceKey) -> Result<bool> {
        if self.stream.is_pipe_reader() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a read pipe transport cannot write_eof (can_write_eof is false)",
            ));
        }
        if self.tls.is_some() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a TLS transport cannot half-close (can_write_eof is false): close it",
            ));
        }
        if self.request_eof() {
            self.mark_dirty(core, key);
        }
        Ok(self.stream.is_pipe_writer())
    }

    /// `Transport::close`: stops reading; the flush that follows finishes
    /// the close (after `close_notify` for TLS). Idempotent.
    pub(in crate::io) fn close(&mut self, core: &Rc<Core>, key: SourceKey) {
        if !self.begin_close() {
            return;
        }
        if self.tls.is_some() {
            self.tls_close(core, key);
        }
        // The flush (now empty or not) finishes the close.
        self.mark_dirty(core, key);
    }

    /// `Transport::abort`: drops what is pending and loses the connection.
    pub(in crate::io) fn abort(&mut self, core: &Core, key: SourceKey) {
        self.drop_pending();
        // A TLS failure waiting for its alert to leave keeps its error.
        let error = self.lost_error.take();
        self.lose(core, key, error);
    }
}
