//! Calling a connection's protocol: the protocol is taken out of its slot
//! while one of its methods runs, events meanwhile wait and follow, and a
//! panic aborts that connection only (invariants 5 and 6 of `io::conn`).

use std::io;

use super::ProtoEvent;
use crate::exception::{CaughtPanic, ExceptionContext};
use crate::io::protocol::Protocol;
use crate::source_table::SourceKey;
use crate::EventLoop;

impl EventLoop {
    /// Runs `f` on the connection's protocol (invariant 5), then delivers
    /// what queued up meanwhile. A panic aborts the connection (invariant 6).
    pub(in crate::io) fn call_protocol(&self, key: SourceKey, f: impl FnOnce(&mut dyn Protocol)) {
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
            let error = io::Error::other(format!("the protocol panicked: {message}"));
            conn.fail(core, key, error);
        }
    }

    /// Delivers a flow-control event now, or after the running method.
    pub(super) fn deliver(&self, key: SourceKey, event: ProtoEvent) {
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
}
