//! Servers: creating them (`create_server`, `create_server_from_listener`;
//! the Unix forms in `io::unix`) and [`Server`], the handle of a listening
//! server (asyncio's `Server`): serving on and off, closing (its listeners,
//! then, on request, its clients), `wait_closed`. What a server shares
//! with its listeners and connections is in `io::server_shared`; the
//! listeners and their accepts are in `io::tcp`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::task::Poll;

use super::ready::AcceptReady;
use super::server_shared::{ServerShared, UnixPath};
use mio::net::TcpListener;
use mio::Interest;

use super::protocol::Protocol;
use super::stream::ListenSocket;
use super::tcp::{
    accept_some, bind_listener, queue_accept, AcceptSink, Factory, Listener, ServerOptions,
};
use crate::source_table::{token, SourceKind};
use crate::{Error, ErrorKind, EventLoop, Result};

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
            .field("clients", &self.shared.clients.len())
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
        self.shared.clients.server_closed();
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
        self.shared.clients.len()
    }

    /// Completes once the server is closed and every connection it accepted
    /// is gone (invariant 3).
    pub async fn wait_closed(&self) {
        std::future::poll_fn(|cx| {
            if self.shared.clients.is_done() {
                return Poll::Ready(());
            }
            self.shared.clients.wake_when_done(cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl EventLoop {
    /// Every server with a listener on this loop (the runtime closes them
    /// all at shutdown).
    pub(crate) fn servers(&self) -> Vec<Server> {
        let mut servers: Vec<Server> = Vec::new();
        for (_, listener) in self.core.io.listeners.borrow().table.iter() {
            if !servers
                .iter()
                .any(|s| Rc::ptr_eq(&s.shared, listener.server()))
            {
                servers.push(Server {
                    shared: listener.server().clone(),
                });
            }
        }
        servers
    }

    /// Listens on every address `addr` resolves to and serves each
    /// connection with a protocol from `factory` (asyncio's `create_server`).
    ///
    /// A list of addresses (`&[SocketAddr]`, asyncio's list of hosts) is
    /// served by one [`Server`]; an address given or resolved twice is
    /// bound once. With port 0 and several addresses, the first gets a free
    /// port and the others reuse it. `addr` is resolved with the system resolver,
    /// blocking: pass IP addresses (`"127.0.0.1:0"`, `"[::1]:8080"`) on a
    /// running loop.
    ///
    /// ```
    /// use loopcore::{EventLoop, Protocol, ServerOptions};
    /// struct Hello;
    /// impl Protocol for Hello {
    ///     fn connection_made(&mut self, t: loopcore::Transport) {
    ///         let _ = t.write(b"hello\n");
    ///         t.close();
    ///     }
    /// }
    /// let lp = EventLoop::new()?;
    /// let server = lp.create_server("127.0.0.1:0", ServerOptions::default(), || Hello)?;
    /// assert!(server.sockets()[0].port() > 0);
    /// server.close();
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn create_server<A, F, P>(
        &self,
        addr: A,
        options: ServerOptions,
        factory: F,
    ) -> Result<Server>
    where
        A: ToSocketAddrs,
        F: Fn() -> P + 'static,
        P: Protocol,
    {
        let mut addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| Error::io("resolving the server address", e))?
            .collect();
        // A name can resolve to one address twice, and a list can repeat
        // one: bound twice it would fail with "address in use".
        let mut seen = std::collections::HashSet::new();
        addrs.retain(|addr| seen.insert(*addr));
        if addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the address resolved to nothing",
            ));
        }
        let mut sockets = Vec::with_capacity(addrs.len());
        let mut port = None;
        for mut addr in addrs {
            if addr.port() == 0 {
                if let Some(port) = port {
                    addr.set_port(port);
                }
            }
            let socket = bind_listener(addr, &options)
                .map_err(|e| Error::io(format!("binding {addr}"), e))?;
            let local = socket
                .local_addr()
                .map_err(|e| Error::io("reading the bound address", e))?;
            port.get_or_insert(local.port());
            sockets.push((socket, local));
        }
        let factory: Factory = Rc::new(move || Box::new(factory()) as Box<dyn Protocol>);
        self.serve_listeners(sockets, options, AcceptSink::Serve(factory))
    }

    /// Serves connections accepted on an already-bound std listener (asyncio's
    /// `sock=` argument).
    pub fn create_server_from_listener<F, P>(
        &self,
        listener: std::net::TcpListener,
        options: ServerOptions,
        factory: F,
    ) -> Result<Server>
    where
        F: Fn() -> P + 'static,
        P: Protocol,
    {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the listener non-blocking", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listener's address", e))?;
        let factory: Factory = Rc::new(move || Box::new(factory()) as Box<dyn Protocol>);
        self.serve_listeners(vec![(listener, local)], options, AcceptSink::Serve(factory))
    }

    /// Serves an already-bound std listener whose connections go to
    /// `sink` (the runtime's listeners).
    pub(crate) fn serve_listener_with(
        &self,
        listener: std::net::TcpListener,
        options: ServerOptions,
        sink: AcceptSink,
    ) -> Result<Server> {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the listener non-blocking", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listener's address", e))?;
        self.serve_listeners(vec![(listener, local)], options, sink)
    }

    fn serve_listeners(
        &self,
        sockets: Vec<(std::net::TcpListener, SocketAddr)>,
        options: ServerOptions,
        sink: AcceptSink,
    ) -> Result<Server> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        let addresses = sockets.iter().map(|(_, a)| *a).collect();
        let sockets = sockets
            .into_iter()
            .map(|(socket, _)| ListenSocket::Tcp(TcpListener::from_std(socket)))
            .collect();
        self.serve_sockets(sockets, addresses, None, options, sink)
    }

    /// Registers listening sockets and wraps them in a [`Server`].
    pub(crate) fn serve_sockets(
        &self,
        sockets: Vec<ListenSocket>,
        addresses: Vec<SocketAddr>,
        unix_path: Option<UnixPath>,
        options: ServerOptions,
        sink: AcceptSink,
    ) -> Result<Server> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        let shared = Rc::new(ServerShared {
            listeners: RefCell::new(Vec::new()),
            addresses,
            unix_path,
            serving: Cell::new(false),
            closed: Cell::new(false),
            clients: Rc::default(),
            loop_core: Rc::downgrade(&self.core),
        });
        for mut socket in sockets {
            let mut listeners = self.core.io.listeners.borrow_mut();
            let key = listeners.table.next_key();
            self.registry_poll()
                .registry()
                .register(
                    &mut socket,
                    token(SourceKind::Listener, key.slot()),
                    Interest::READABLE,
                )
                .map_err(|e| Error::io("registering a listener with epoll", e))?;
            let key = listeners.table.insert(Listener::new(
                socket,
                shared.clone(),
                sink.clone(),
                options.clone(),
            ));
            shared.listeners.borrow_mut().push(key);
        }
        let server = Server { shared };
        if options.start_serving {
            server.start_serving();
        }
        Ok(server)
    }
}
