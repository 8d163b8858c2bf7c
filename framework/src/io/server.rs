//! [`Server`], the handle of a listening server (asyncio's `Server`):
//! serving on and off, closing (its listeners, then, on request, its
//! clients), `wait_closed`, and the state it shares with its listeners and
//! the connections they accepted ([`ServerShared`]). Listening and
//! accepting are in `io::tcp`.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::ready::AcceptReady;
use super::tcp::{accept_some, queue_accept, UnixPath};
use super::transport::Transport;
use crate::source_table::SourceKey;
use crate::EventLoop;

/// State shared by a [`Server`], its listeners and its connections.
pub(crate) struct ServerShared {
    pub(super) listeners: RefCell<Vec<SourceKey>>,
    pub(super) addresses: Vec<SocketAddr>,
    /// The socket file of a Unix server, removed on close if still ours.
    pub(super) unix_path: Option<UnixPath>,
    pub(super) serving: Cell<bool>,
    pub(super) closed: Cell<bool>,
    pub(super) clients: RefCell<HashSet<SourceKey>>,
    pub(super) waiters: RefCell<Vec<Waker>>,
    pub(super) loop_core: std::rc::Weak<crate::event_loop::Core>,
}

impl ServerShared {
    pub(crate) fn client_added(&self, key: SourceKey) {
        self.clients.borrow_mut().insert(key);
    }

    /// The client took a new key (`start_tls`).
    pub(crate) fn client_renumbered(&self, old: SourceKey, new: SourceKey) {
        let mut clients = self.clients.borrow_mut();
        if clients.remove(&old) {
            clients.insert(new);
        }
    }

    pub(crate) fn client_gone(&self, key: SourceKey) {
        self.clients.borrow_mut().remove(&key);
        self.wake_waiters();
    }

    fn wake_waiters(&self) {
        if self.closed.get() && self.clients.borrow().is_empty() {
            for waker in std::mem::take(&mut *self.waiters.borrow_mut()) {
                waker.wake();
            }
        }
    }

    fn transports(&self) -> Vec<Transport> {
        let Some(core) = self.loop_core.upgrade() else {
            return Vec::new();
        };
        self.clients
            .borrow()
            .iter()
            .map(|&key| Transport::from_parts(&core, key))
            .collect()
    }
}

/// A listening server (asyncio's `Server`), returned by
/// [`EventLoop::create_server`].
#[derive(Clone)]
pub struct Server {
    pub(super) shared: Rc<ServerShared>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addresses", &self.shared.addresses)
            .field("serving", &self.shared.serving.get())
            .field("clients", &self.shared.clients.borrow().len())
            .finish()
    }
}

impl Server {
    /// The addresses listened on (asyncio's `sockets`); the bound port when 0
    /// was asked for. Empty once the server is closed, as asyncio's.
    pub fn sockets(&self) -> Vec<SocketAddr> {
        if self.shared.closed.get() {
            return Vec::new();
        }
        self.shared.addresses.clone()
    }

    /// The socket path of a Unix server (`None` for TCP or abstract names).
    pub fn unix_path(&self) -> Option<std::path::PathBuf> {
        self.shared.unix_path.as_ref().map(|p| p.path().to_owned())
    }

    /// True while accepting connections.
    pub fn is_serving(&self) -> bool {
        self.shared.serving.get()
    }

    /// Starts accepting (when created with `start_serving: false`).
    pub fn start_serving(&self) {
        if self.shared.closed.get() || self.shared.serving.replace(true) {
            return;
        }
        let Some(core) = self.shared.loop_core.upgrade() else {
            return;
        };
        let mut listeners = core.io.listeners.borrow_mut();
        for &key in self.shared.listeners.borrow().iter() {
            if let Some(listener) = listeners.get_mut(key) {
                queue_accept(listener, key, &mut core.ready.borrow_mut());
            }
        }
    }

    /// Stops listening and closes the listening sockets; connections already
    /// accepted go on. Idempotent.
    pub fn close(&self) {
        if self.shared.closed.replace(true) {
            return;
        }
        self.shared.serving.set(false);
        if let Some(core) = self.shared.loop_core.upgrade() {
            let keys = std::mem::take(&mut *self.shared.listeners.borrow_mut());
            let mut listeners = core.io.listeners.borrow_mut();
            for key in keys {
                if let Some(mut listener) = listeners.table.remove(key) {
                    let _ = core
                        .poll
                        .borrow()
                        .registry()
                        .deregister(&mut listener.socket);
                }
            }
        }
        if let Some(path) = &self.shared.unix_path {
            path.remove_if_ours();
        }
        self.shared.wake_waiters();
    }

    /// Accepts every connection already queued on the listeners, then
    /// closes them: closing a listener resets the connections still in its
    /// accept queue, and with `SO_REUSEPORT` those were routed to this
    /// socket and no other. Must run on the server's loop.
    pub(crate) fn drain_and_close(&self, lp: &EventLoop) {
        let keys = self.shared.listeners.borrow().clone();
        for key in keys {
            if let Some(listener) = lp.core.io.listeners.borrow_mut().get_mut(key) {
                listener.readable = true;
                listener.paused = false;
            }
            accept_some(lp, AcceptReady { key }, usize::MAX);
        }
        self.close();
    }

    /// Closes every connection this server accepted (flushing first).
    pub fn close_clients(&self) {
        for transport in self.shared.transports() {
            transport.close();
        }
    }

    /// Aborts every connection this server accepted.
    pub fn abort_clients(&self) {
        for transport in self.shared.transports() {
            transport.abort();
        }
    }

    /// Connections accepted and not yet lost.
    pub fn client_count(&self) -> usize {
        self.shared.clients.borrow().len()
    }

    /// Completes once the server is closed and every connection it accepted
    /// is gone (invariant 3).
    pub async fn wait_closed(&self) {
        std::future::poll_fn(|cx| {
            if self.shared.closed.get() && self.shared.clients.borrow().is_empty() {
                return Poll::Ready(());
            }
            self.shared.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}
