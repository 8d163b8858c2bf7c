//! The write side of a connection, owned by [`Conn`]: queueing bytes
//! (copied, built in place, owned, a file range), the half-close and the
//! close, each checking first that the connection still takes writes.
//! `Transport` only finds the connection and calls these; what TLS does
//! instead is in `io::tls::conn` (`tls_*`), the one place the write side
//! meets rustls.

use std::rc::Rc;

use super::conn::{schedule_lost, Conn};
use crate::event_loop::Core;
use crate::proto::write_buffer::FileRange;
use crate::source_table::SourceKey;
use crate::{Error, ErrorKind, Result};

impl Conn {
    /// Puts the connection on the loop's dirty list: flushed after the
    /// current item.
    #[inline]
    pub(super) fn mark_dirty(&mut self, core: &Core, key: SourceKey) {
        if !self.dirty {
            self.dirty = true;
            core.io.conns_dirty_push(key);
        }
    }

    /// Fails unless the connection takes writes (not a read pipe, not
    /// half-closed, not closing).
    #[inline]
    pub(super) fn check_writable(&self) -> Result<()> {
        if self.stream.is_pipe_reader() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "cannot write to a read pipe transport",
            ));
        }
        if self.eof_requested {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "cannot write after write_eof()",
            ));
        }
        if self.closing {
            return Err(Error::new(
                ErrorKind::Closed,
                "cannot write to a closing transport",
            ));
        }
        Ok(())
    }

    /// `Transport::write`: bytes of the read being lent to `data_received`
    /// are kept as a range of it when nothing else is pending
    /// (`io::lent_read`); others are copied into the buffer.
    #[inline]
    pub(super) fn queue(&mut self, core: &Rc<Core>, key: SourceKey, data: &[u8]) -> Result<()> {
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
    pub(super) fn queue_with<R>(
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
    pub(super) fn queue_owned(
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
    pub(super) fn queue_file(
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

    /// Whether a half-close is possible: sockets and write pipes, not read
    /// pipes or TLS.
    pub(super) fn can_write_eof(&self) -> bool {
        !self.stream.is_pipe_reader() && self.tls.is_none()
    }

    /// `Transport::write_eof`: the sending side shuts once the buffer is
    /// out. True for a write pipe, which has no half-close: the caller
    /// closes it instead.
    pub(super) fn request_write_eof(&mut self, core: &Core, key: SourceKey) -> Result<bool> {
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
        if !self.eof_requested {
            self.eof_requested = true;
            self.mark_dirty(core, key);
        }
        Ok(self.stream.is_pipe_writer())
    }

    /// `Transport::close`: stops reading; the flush that follows finishes
    /// the close (after `close_notify` for TLS). Idempotent.
    pub(super) fn close(&mut self, core: &Rc<Core>, key: SourceKey) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.reading = false;
        if self.tls.is_some() {
            self.tls_close(core, key);
        }
        // The flush (now empty or not) finishes the close.
        self.mark_dirty(core, key);
    }

    /// `Transport::abort`: drops what is pending and loses the connection.
    pub(super) fn abort(&mut self, core: &Core, key: SourceKey) {
        self.drop_pending();
        self.closing = true;
        self.reading = false;
        schedule_lost(core, self, key, None);
    }
}
