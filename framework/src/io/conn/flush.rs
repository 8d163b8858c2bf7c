//! The one flush of a connection: after each ready item every connection
//! written to is flushed with one `write(2)` (invariant 2 of `io::conn`), a
//! requested EOF or close is finished, and flow control is checked
//! (invariant 3). `Conn::flush` does the writing; the loop delivers the
//! flow-control event it returns once the table is free.

use std::rc::Rc;

use super::state::Life;
use super::{Conn, ProtoEvent, WriteStep};
use crate::event_loop::Core;
use crate::io::queued_write::write_queued;
use crate::proto::write_buffer::FlowEvent;
use crate::source_table::SourceKey;
use crate::EventLoop;

impl EventLoop {
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

    /// Flushes the connection (`Conn::flush`) and delivers the flow-control
    /// event that comes of it.
    pub(in crate::io) fn flush_conn(&self, key: SourceKey) {
        let core = &self.core;
        let flow_event = {
            let mut conns = core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            conn.flush(core, key)
        };
        match flow_event {
            Some(FlowEvent::Pause) => self.deliver(key, ProtoEvent::PauseWriting),
            Some(FlowEvent::Resume) => self.deliver(key, ProtoEvent::ResumeWriting),
            None => {}
        }
    }
}

impl Conn {
    /// Writes what the kernel takes, finishes a requested EOF or close, and
    /// says what flow control makes of what is left (invariant 3).
    #[inline]
    fn flush(&mut self, core: &Rc<Core>, key: SourceKey) -> Option<FlowEvent> {
        self.dirty = false;
        if self.is_lost() {
            return None;
        }
        // Only a flush asked for inside `data_received` finds one.
        self.unborrow(core);
        loop {
            while !self.write.is_empty() {
                let written = if self.write.is_contiguous() {
                    self.stream.write(self.write.pending())
                } else {
                    write_queued(&self.stream, &mut self.write)
                };
                match self.wrote(core, key, written) {
                    WriteStep::Sent(n) => self.write.consume(n),
                    WriteStep::Blocked => break,
                    WriteStep::Failed => return None,
                }
            }
            // TLS sending a file: encrypt the next part once the
            // ciphertext is out.
            let more_plain = self.tls.as_ref().is_some_and(|tls| !tls.plain.is_empty());
            if !(more_plain && self.write.is_empty() && self.readiness.writable()) {
                break;
            }
            self.flush_tls(core, key);
            if self.is_lost() {
                return None;
            }
        }
        if self.pending_len() == 0 {
            self.send_eof_if_requested();
            if self.life == Life::Closing {
                // A TLS failure stored its error before closing.
                let error = self.lost_error.take();
                self.lose(core, key, error);
                return None;
            }
        }
        if self.tls.as_ref().is_some_and(|tls| tls.handshaking) {
            // Not announced yet: flow control starts with
            // `connection_made`.
            None
        } else {
            self.flow.check(self.pending_len())
        }
    }
}
