//! The one write loop of a connection: after each ready item every
//! connection written to is flushed with one `write(2)` (invariant 2 of
//! `io::conn`), a requested EOF or close is finished, and flow control is
//! checked (invariant 3).

use super::state::Life;
use super::{ProtoEvent, WriteStep};
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

    /// Writes what the kernel takes, finishes a requested EOF or close, and
    /// checks flow control (invariant 3).
    pub(in crate::io) fn flush_conn(&self, key: SourceKey) {
        let core = &self.core;
        let flow_event = {
            let mut conns = core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            conn.dirty = false;
            if conn.is_lost() {
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
                if !(more_plain && conn.write.is_empty() && conn.readiness.writable()) {
                    break;
                }
                conn.flush_tls(core, key);
                if conn.is_lost() {
                    return;
                }
            }
            if conn.pending_len() == 0 {
                conn.send_eof_if_requested();
                if conn.life == Life::Closing {
                    // A TLS failure stored its error before closing.
                    let error = conn.lost_error.take();
                    conn.lose(core, key, error);
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
