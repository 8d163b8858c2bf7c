//! [`ClientSet`]: the connections one server accepted, as they report
//! themselves (attached, renumbered by `start_tls`, gone), and the tasks
//! waiting for it to empty once the server is closed
//! (`Server::wait_closed`). It lives with the connection core, so that a
//! connection points at it with a thin `Rc` (memory per connection is a
//! feature) and the core does not depend on servers.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::task::Waker;

use crate::source_table::SourceKey;

/// The connections one server accepted.
#[derive(Default)]
pub(crate) struct ClientSet {
    keys: RefCell<HashSet<SourceKey>>,
    /// The server is closed: the waiters are woken once the set is empty.
    server_closed: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl ClientSet {
    /// A connection is attached under `key`.
    pub(super) fn added(&self, key: SourceKey) {
        self.keys.borrow_mut().insert(key);
    }

    /// A connection took a new key (`start_tls`).
    pub(super) fn renumbered(&self, old: SourceKey, new: SourceKey) {
        let mut keys = self.keys.borrow_mut();
        if keys.remove(&old) {
            keys.insert(new);
        }
    }

    /// A connection is gone (after its `connection_lost`).
    pub(super) fn gone(&self, key: SourceKey) {
        self.keys.borrow_mut().remove(&key);
        self.wake_if_done();
    }

    /// The server closed: the waiters wake once the set is empty (now, if
    /// it is).
    pub(crate) fn server_closed(&self) {
        self.server_closed.set(true);
        self.wake_if_done();
    }

    /// The server is closed and every connection it accepted is gone.
    pub(crate) fn is_done(&self) -> bool {
        self.server_closed.get() && self.keys.borrow().is_empty()
    }

    /// Wakes `waker` once [`is_done`](Self::is_done).
    pub(crate) fn wake_when_done(&self, waker: &Waker) {
        self.waiters.borrow_mut().push(waker.clone());
    }

    /// How many connections are in the set.
    pub(crate) fn len(&self) -> usize {
        self.keys.borrow().len()
    }

    /// The keys of the connections in the set.
    pub(crate) fn keys(&self) -> Vec<SourceKey> {
        self.keys.borrow().iter().copied().collect()
    }

    fn wake_if_done(&self) {
        if self.is_done() {
            for waker in std::mem::take(&mut *self.waiters.borrow_mut()) {
                waker.wake();
            }
        }
    }
}
