//! The read side of a connection: reads into the loop's one buffer lent
//! to `data_received` (or into a `BufferedProtocol`'s own buffer), a read
//! budget per ready item, ciphertext handed to the TLS session, and the
//! end of the stream (invariant 4 of `io::conn`).

use std::io;

use super::IoReady;
use super::{ConnReady, READ_BUDGET, READ_BUFFER};
use crate::event_loop::Ready;
use crate::io::transport::Transport;
use crate::source_table::SourceKey;
use crate::EventLoop;

impl EventLoop {
    pub(in crate::io) fn read_conn(&self, key: SourceKey) {
        let core = &self.core;
        let mut buf = core
            .io
            .read_buffer
            .take()
            .unwrap_or_else(|| vec![0; READ_BUFFER].into_boxed_slice());
        let mut budget = READ_BUDGET;
        // What was pending after the last early flush: only answers made
        // since then call for another (a full kernel buffer does not
        // make this loop flush in vain).
        let mut pending_after_flush = 0;
        loop {
            let mut drained = false;
            let tls;
            let result = {
                let mut conns = core.io.conns.borrow_mut();
                let Some(conn) = conns.get_mut(key) else {
                    break;
                };
                // Not reading once closing or lost (see `state`).
                if !conn.is_reading() || !conn.readiness.readable() {
                    break;
                }
                if budget < READ_BUDGET
                    && conn.pending_len() > pending_after_flush
                    && conn.flow.is_above_high(conn.pending_len())
                {
                    // The answers to the reads so far passed the high-water
                    // mark: they are flushed and flow control checked
                    // before the next read, so a protocol that pauses
                    // reading on `pause_writing` holds one read's answers,
                    // not a whole budget's (a pipelining client that reads
                    // back). A protocol that does not pause reads on.
                    drop(conns);
                    self.flush_conn(key);
                    let mut conns = core.io.conns.borrow_mut();
                    pending_after_flush = conns.get_mut(key).map_or(0, |conn| conn.pending_len());
                    continue;
                }
                if budget == 0 {
                    // Still readable: yield to the others, come back next
                    // iteration (invariant 4).
                    if !conn.queued {
                        conn.queued = true;
                        core.ready
                            .borrow_mut()
                            .push(Ready::Io(IoReady::Conn(ConnReady { key })));
                    }
                    break;
                }
                budget -= 1;
                tls = conn.tls.is_some();
                if conn.buffered {
                    None
                } else {
                    let result = conn.stream.read(&mut buf);
                    conn.note_read(&result, buf.len());
                    if let Some(idle) = conn.idle.as_mut() {
                        idle.touch(core);
                    }
                    drained = !conn.readiness.readable();
                    Some(result)
                }
            };
            let (result, buffered) = match result {
                Some(result) => (result, false),
                None => {
                    let (result, now_drained) = self.read_buffered(key);
                    drained = now_drained;
                    (result, true)
                }
            };
            match result {
                Ok(0) => {
                    if tls && self.tls_handshaking(key) {
                        self.tls_failed(
                            key,
                            io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the peer closed during the TLS handshake",
                            ),
                        );
                    } else {
                        self.peer_eof(key);
                    }
                    break;
                }
                Ok(n) => {
                    core.shared.counters.bytes_received.add(n as u64);
                    if tls {
                        if !self.tls_received(key, &buf[..n]) {
                            break;
                        }
                    } else if !buffered {
                        self.deliver_read(key, &buf[..n]);
                    }
                    if drained {
                        // The socket is empty until its next edge: no need
                        // to look the connection up again to find that out.
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if tls && self.tls_handshaking(key) => {
                    self.tls_failed(key, e);
                    break;
                }
                Err(e) => {
                    let mut conns = core.io.conns.borrow_mut();
                    if let Some(conn) = conns.get_mut(key) {
                        conn.fail(core, key, e);
                    }
                    break;
                }
            }
        }
        core.io.read_buffer.set(Some(buf));
    }

    /// One read straight into a `BufferedProtocol`'s own buffer; also
    /// whether the socket is now known to be drained.
    pub(in crate::io) fn read_buffered(&self, key: SourceKey) -> (io::Result<usize>, bool) {
        let core = &self.core;
        // Built only if needed: an io::Error with a message allocates.
        let mut result = None;
        let mut drained = false;
        self.call_protocol(key, |p| {
            let Some(protocol) = p.as_buffered() else {
                return;
            };
            let buf = protocol.get_buffer(READ_BUFFER);
            if buf.is_empty() {
                result = Some(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "BufferedProtocol::get_buffer returned an empty buffer",
                )));
                return;
            }
            let read = {
                let mut conns = core.io.conns.borrow_mut();
                match conns.get_mut(key) {
                    Some(conn) => {
                        let read = conn.stream.read(buf);
                        conn.note_read(&read, buf.len());
                        if let Some(idle) = conn.idle.as_mut() {
                            idle.touch(core);
                        }
                        drained = !conn.readiness.readable();
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
            result = Some(read);
        });
        let result = result
            .unwrap_or_else(|| Err(io::Error::other("the connection went away during a read")));
        (result, drained)
    }

    pub(in crate::io) fn peer_eof(&self, key: SourceKey) {
        let core = &self.core;
        if let Some(conn) = core.io.conns.borrow_mut().get_mut(key) {
            conn.reading_done();
        }
        let mut keep_open = false;
        self.call_protocol(key, |p| keep_open = p.eof_received());
        if !keep_open {
            let transport = Transport::from_parts(core, key);
            transport.close();
        }
    }
}
