//! The loop's one seam with the I/O layer. [`IoDriver`] holds the tables
//! of connections, listeners and UDP endpoints and the buffers they share;
//! the loop hands it the epoll events of its sources
//! ([`on_event`](IoDriver::on_event)), runs the items it queues
//! ([`IoReady`], [`run`]), and flushes what an item wrote
//! (`EventLoop::flush_dirty`, when [`has_dirty`](IoDriver::has_dirty)).
//! `event_loop.rs` knows nothing else of connections, listeners or
//! endpoints.

use std::cell::{Cell, RefCell};

use mio::event::Event;
use mio::{Registry, Token};

use super::conn::LentRead;
use super::conn::{run_conn, run_conn_lost, Conns};
use super::ready::{ConnReady, IoReady};
use super::tcp::{run_accept, Listeners};
use super::udp::{run_datagram, run_datagram_lost, Endpoints};
use crate::event_loop::{Callback, Ready};
use crate::proto::ready_queue::ReadyQueue;
use crate::source_table::SourceKey;
use crate::source_table::{split_token, SourceKind};
use crate::EventLoop;

/// A loop's I/O state.
#[derive(Default)]
pub(crate) struct IoDriver {
    /// Stream connections (transports).
    pub(crate) conns: RefCell<Conns>,
    /// Listening sockets.
    pub(crate) listeners: RefCell<Listeners>,
    /// UDP endpoints.
    pub(crate) endpoints: RefCell<Endpoints>,
    /// Listeners paused at their `max_connections`.
    pub(crate) full_listeners: Cell<usize>,
    /// Connections written to since the last flush.
    pub(crate) conn_dirty_queue: RefCell<Vec<SourceKey>>,
    /// `conn_dirty_queue` is not empty (checked after every ready item).
    pub(crate) conns_have_dirty: Cell<bool>,
    /// The loop's one read buffer, lent to `data_received`.
    pub(crate) read_buffer: Cell<Option<Box<[u8]>>>,
    /// The read being lent to `data_received`, and the writes that borrow
    /// from it instead of copying (`io::conn::lent_read`).
    pub(crate) lent_read: LentRead,
    /// Decrypted bytes of the TLS read in progress, lent to `data_received`.
    pub(crate) tls_plaintext: Cell<Vec<u8>>,
    /// Where `Transport::write_with` builds plaintext for a TLS
    /// connection, kept to save an allocation per call.
    pub(crate) tls_scratch: Cell<Vec<u8>>,
    /// Connections this iteration's events made ready while the ready
    /// queue was empty, run ahead of the batch (`run_direct`).
    direct: RefCell<Vec<ConnReady>>,
}

impl IoDriver {
    /// Queues what an epoll event of one of this layer's sources makes
    /// ready. For any other token of the I/O space, the slot of a fd
    /// watched with `add_reader`/`add_writer` comes back, for the loop.
    ///
    /// With `direct` (the loop's ready queue was empty when its poll
    /// returned), a connection goes on a list of its own instead of the
    /// ready queue, and `run_direct` runs it ahead of the batch: the order
    /// the queue would have given (events first, then due timers; no
    /// callback was waiting), without the queue's per-item costs.
    #[inline]
    pub(crate) fn on_event(
        &self,
        token: Token,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
        direct: bool,
    ) -> Option<usize> {
        match split_token(token)? {
            (SourceKind::Conn, slot) => {
                let mut list = direct.then(|| self.direct.borrow_mut());
                self.conns
                    .borrow_mut()
                    .on_event(slot, event, ready, list.as_deref_mut())
            }
            (SourceKind::Listener, slot) => {
                self.listeners.borrow_mut().on_event(slot, event, ready)
            }
            (SourceKind::Datagram, slot) => {
                self.endpoints.borrow_mut().on_event(slot, event, ready)
            }
            (SourceKind::Watch, slot) => return Some(slot),
        }
        None
    }

    /// Connections waiting in the direct list.
    #[inline]
    pub(crate) fn direct_len(&self) -> usize {
        self.direct.borrow().len()
    }

    /// Runs the direct list from `*next` on (`*next` moves past each one
    /// before it runs, so after a panic the caller resumes with the rest),
    /// flushing after each as the batch does. `after` items of the batch
    /// wait behind it (`EventLoop::load`).
    pub(crate) fn run_direct(&self, lp: &EventLoop, next: &mut usize, after: usize) {
        let count = self.direct_len();
        while *next < count {
            let conn = self.direct.borrow()[*next];
            *next += 1;
            lp.set_batch_left(count - *next + after);
            lp.set_running_source("protocol");
            run_conn(lp, conn);
            if self.has_dirty() {
                lp.flush_dirty();
            }
        }
    }

    /// Empties the direct list once it ran.
    #[inline]
    pub(crate) fn clear_direct(&self) {
        self.direct.borrow_mut().clear();
    }

    /// Puts a connection on the dirty list, flushed after the current
    /// item. The caller holds `conns`, so the list is a RefCell of its own.
    #[inline]
    pub(super) fn conns_dirty_push(&self, key: SourceKey) {
        self.conns_have_dirty.set(true);
        self.conn_dirty_queue.borrow_mut().push(key);
    }

    /// A ready item wrote to a connection: the loop flushes after it.
    #[inline]
    pub(crate) fn has_dirty(&self) -> bool {
        self.conns_have_dirty.get()
    }

    /// Deregisters and drops every source without callbacks (loop close).
    pub(crate) fn close(&self, registry: &Registry) {
        let mut conns = std::mem::take(&mut *self.conns.borrow_mut());
        conns.deregister_all(registry);
        let mut listeners = std::mem::take(&mut *self.listeners.borrow_mut());
        listeners.deregister_all(registry);
        let mut endpoints = std::mem::take(&mut *self.endpoints.borrow_mut());
        endpoints.deregister_all(registry);
        drop((conns, listeners, endpoints));
    }
}

/// Runs one I/O item, saying first what kind of code runs (for panic
/// reports and slow-callback warnings).
#[inline]
pub(crate) fn run(lp: &EventLoop, item: IoReady) {
    match item {
        IoReady::Conn(conn) => {
            lp.set_running_source("protocol");
            run_conn(lp, conn);
        }
        IoReady::ConnLost(conn) => {
            lp.set_running_source("protocol");
            run_conn_lost(lp, conn);
        }
        IoReady::Accept(accept) => {
            lp.set_running_source("accept");
            run_accept(lp, accept);
        }
        IoReady::Datagram(endpoint) => {
            lp.set_running_source("datagram protocol");
            run_datagram(lp, endpoint);
        }
        IoReady::DatagramLost(endpoint) => {
            lp.set_running_source("datagram protocol");
            run_datagram_lost(lp, endpoint);
        }
    }
}
