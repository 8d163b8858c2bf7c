//! UDP endpoints: `create_datagram_endpoint`, [`DatagramProtocol`] and
//! [`DatagramTransport`].
//!
//! Invariants:
//! 1. A datagram is sent at once when nothing is queued; only what the
//!    kernel refuses (`WouldBlock`) is queued, in order, and sent on the
//!    next writable edge.
//! 2. Errors the socket reports (ICMP port unreachable on a connected
//!    endpoint, a failed send) go to `error_received`; the endpoint stays
//!    usable. Linux reports ICMP errors only on connected UDP sockets.
//! 3. Protocol methods never run re-entrantly: errors raised while one runs
//!    are delivered after it returns; `connection_lost` runs once, as its
//!    own ready item.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::{Rc, Weak};

use mio::event::Event;
use mio::net::UdpSocket;
use mio::{Interest, Registry};
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use super::ready::{DatagramReady, IoReady};
use crate::event_loop::{Callback, Core, Ready};
use crate::exception::{CaughtPanic, ExceptionContext};
use crate::proto::ready_queue::ReadyQueue;
use crate::source_table::{token, SourceKind};
use crate::source_table::{SourceKey, SourceTable};
use crate::{Error, ErrorKind, EventLoop, Result};

/// Reads per ready item before the endpoint yields to others.
const READ_BUDGET: usize = 64;

/// Callbacks for one UDP endpoint.
pub trait DatagramProtocol: 'static {
    /// The endpoint is ready; keep `transport` to send.
    fn connection_made(&mut self, transport: DatagramTransport) {
        let _ = transport;
    }

    /// A datagram arrived from `addr`; `data` borrows the loop's buffer.
    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        let _ = (data, addr);
    }

    /// A send failed, or the peer is unreachable (connected endpoints only).
    /// The endpoint stays usable.
    fn error_received(&mut self, error: io::Error) {
        let _ = error;
    }

    /// The endpoint was closed. Called exactly once.
    fn connection_lost(&mut self, error: Option<io::Error>) {
        let _ = error;
    }
}

/// Options of [`EventLoop::create_datagram_endpoint`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DatagramOptions {
    /// Bind here (default: an ephemeral port on the wildcard address of the
    /// remote's family, or 0.0.0.0).
    pub local_addr: Option<SocketAddr>,
    /// Connect to this peer: `send` without an address goes there, only its
    /// datagrams are received, and ICMP errors are reported.
    pub remote_addr: Option<SocketAddr>,
    /// `SO_REUSEPORT`.
    pub reuse_port: bool,
    /// `SO_BROADCAST`.
    pub allow_broadcast: bool,
}

impl DatagramOptions {
    /// Binds to `addr`.
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }
    /// Connects to `addr`.
    pub fn remote_addr(mut self, addr: SocketAddr) -> Self {
        self.remote_addr = Some(addr);
        self
    }
    /// Sets `SO_REUSEPORT`.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    /// Sets `SO_BROADCAST`.
    pub fn allow_broadcast(mut self, on: bool) -> Self {
        self.allow_broadcast = on;
        self
    }
}

pub(crate) struct Endpoint {
    socket: UdpSocket,
    protocol: Option<Box<dyn DatagramProtocol>>,
    /// Datagrams the kernel refused, oldest first (invariant 1).
    unsent: VecDeque<(Vec<u8>, Option<SocketAddr>)>,
    /// Errors waiting for `error_received` (invariant 3).
    errors: Vec<io::Error>,
    readable: bool,
    writable: bool,
    queued: bool,
    closing: bool,
    lost: bool,
    connected: bool,
}

/// The UDP endpoints of one loop.
#[derive(Default)]
pub(crate) struct Endpoints {
    table: SourceTable<Endpoint>,
}

impl Endpoints {
    fn get_mut(&mut self, key: SourceKey) -> Option<&mut Endpoint> {
        self.table.get_mut(key)
    }

    pub(crate) fn on_event(
        &mut self,
        key: usize,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
    ) {
        let Some((key, endpoint)) = self.table.get_by_slot_mut(key) else {
            return;
        };
        if event.is_readable() || event.is_error() {
            endpoint.readable = true;
        }
        if event.is_writable() {
            endpoint.writable = true;
        }
        queue(endpoint, key, ready);
    }

    pub(crate) fn deregister_all(&mut self, registry: &Registry) {
        for (_, endpoint) in self.table.iter_mut() {
            let _ = registry.deregister(&mut endpoint.socket);
        }
    }
}

fn queue(endpoint: &mut Endpoint, key: SourceKey, ready: &mut ReadyQueue<Callback, Ready>) {
    let work = (endpoint.readable && !endpoint.closing)
        || !endpoint.errors.is_empty()
        || (endpoint.writable && !endpoint.unsent.is_empty());
    if work && !endpoint.queued && !endpoint.lost {
        endpoint.queued = true;
        ready.push(Ready::Io(IoReady::Datagram(DatagramReady { key })));
    }
}

/// A handle to a UDP endpoint; cheap to clone, usable from any callback on
/// its loop.
#[derive(Clone)]
pub struct DatagramTransport {
    core: Weak<Core>,
    key: SourceKey,
}

impl std::fmt::Debug for DatagramTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramTransport")
            .field("key", &self.key)
            .finish()
    }
}

fn closed_endpoint() -> Error {
    Error::new(ErrorKind::Closed, "the datagram transport is closed")
}

impl DatagramTransport {
    fn with_endpoint<R>(&self, f: impl FnOnce(&Core, &mut Endpoint) -> R) -> Result<R> {
        let core = self.core.upgrade().ok_or_else(closed_endpoint)?;
        let mut endpoints = core.io.endpoints.borrow_mut();
        let endpoint = endpoints
            .get_mut(self.key)
            .filter(|e| !e.lost)
            .ok_or_else(closed_endpoint)?;
        let result = f(&core, endpoint);
        drop(endpoints);
        Ok(result)
    }

    /// Sends `data` to `addr`, or to the connected peer with `None`.
    ///
    /// Errors: a closing transport, or `None` on an unconnected endpoint.
    /// A send that fails in the kernel is reported to `error_received`.
    pub fn sendto(&self, data: &[u8], addr: Option<SocketAddr>) -> Result<()> {
        let key = self.key;
        self.with_endpoint(|core, endpoint| {
            if endpoint.closing {
                return Err(closed_endpoint());
            }
            if addr.is_none() && !endpoint.connected {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "no address given and the endpoint has no remote_addr",
                ));
            }
            if endpoint.unsent.is_empty() {
                let sent = match addr {
                    Some(addr) => endpoint.socket.send_to(data, addr),
                    None => endpoint.socket.send(data),
                };
                match sent {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => endpoint.writable = false,
                    Err(e) => {
                        endpoint.errors.push(e);
                        queue(endpoint, key, &mut core.ready.borrow_mut());
                        return Ok(());
                    }
                }
            }
            endpoint.unsent.push_back((data.to_vec(), addr));
            Ok(())
        })?
    }

    /// Sends to the connected peer.
    pub fn send(&self, data: &[u8]) -> Result<()> {
        self.sendto(data, None)
    }

    /// Closes after queued datagrams are sent; `connection_lost(None)` follows.
    pub fn close(&self) {
        let key = self.key;
        let _ = self.with_endpoint(|core, endpoint| {
            endpoint.closing = true;
            if endpoint.unsent.is_empty() {
                schedule_lost(core, endpoint, key);
            }
        });
    }

    /// Closes at once, dropping queued datagrams.
    pub fn abort(&self) {
        let key = self.key;
        let _ = self.with_endpoint(|core, endpoint| {
            endpoint.unsent.clear();
            endpoint.closing = true;
            schedule_lost(core, endpoint, key);
        });
    }

    /// True once `close` or `abort` was called.
    pub fn is_closing(&self) -> bool {
        self.with_endpoint(|_, e| e.closing).unwrap_or(true)
    }

    /// The local address (`get_extra_info('sockname')`).
    pub fn sockname(&self) -> Result<SocketAddr> {
        self.with_endpoint(|_, e| e.socket.local_addr())?
            .map_err(|e| Error::io("getting the local address", e))
    }

    /// The connected peer (`get_extra_info('peername')`).
    pub fn peername(&self) -> Result<SocketAddr> {
        self.with_endpoint(|_, e| e.socket.peer_addr())?
            .map_err(|e| Error::io("getting the peer address", e))
    }

    /// Bytes queued because the kernel refused them.
    pub fn get_write_buffer_size(&self) -> usize {
        self.with_endpoint(|_, e| e.unsent.iter().map(|(d, _)| d.len()).sum())
            .unwrap_or(0)
    }
}

fn schedule_lost(core: &Core, endpoint: &mut Endpoint, key: SourceKey) {
    if endpoint.lost {
        return;
    }
    endpoint.lost = true;
    core.ready
        .borrow_mut()
        .push(Ready::Io(IoReady::DatagramLost(DatagramReady { key })));
}

fn bind_socket(options: &DatagramOptions) -> io::Result<UdpSocket> {
    let local = options
        .local_addr
        .unwrap_or_else(|| match options.remote_addr {
            Some(SocketAddr::V6(_)) => "[::]:0".parse().expect("valid address"),
            _ => "0.0.0.0:0".parse().expect("valid address"),
        });
    let socket = Socket::new(
        Domain::for_address(local),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if options.allow_broadcast {
        socket.set_broadcast(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&local.into())?;
    if let Some(remote) = options.remote_addr {
        socket.connect(&remote.into())?;
    }
    Ok(UdpSocket::from_std(socket.into()))
}

impl EventLoop {
    /// Creates a UDP endpoint served by `protocol` (asyncio's
    /// `create_datagram_endpoint`).
    ///
    /// ```
    /// use loopcore::{DatagramOptions, DatagramProtocol, EventLoop};
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {}
    /// let lp = EventLoop::new()?;
    /// let options = DatagramOptions::default().local_addr("127.0.0.1:0".parse().unwrap());
    /// let endpoint = lp.create_datagram_endpoint(options, Quiet)?;
    /// assert!(endpoint.sockname()?.port() > 0);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn create_datagram_endpoint<P: DatagramProtocol>(
        &self,
        options: DatagramOptions,
        protocol: P,
    ) -> Result<DatagramTransport> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        let socket =
            bind_socket(&options).map_err(|e| Error::io("creating the UDP endpoint", e))?;
        self.register_endpoint(socket, options.remote_addr.is_some(), Box::new(protocol))
    }

    /// Serves an already-bound (and possibly connected) std UDP socket
    /// (asyncio's `sock=` argument): it is made non-blocking and used as is.
    ///
    /// ```
    /// use loopcore::{DatagramProtocol, EventLoop};
    /// struct Quiet;
    /// impl DatagramProtocol for Quiet {}
    /// let lp = EventLoop::new()?;
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let addr = socket.local_addr().unwrap();
    /// let endpoint = lp.create_datagram_endpoint_from_socket(socket, Quiet)?;
    /// assert_eq!(endpoint.sockname()?, addr);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn create_datagram_endpoint_from_socket<P: DatagramProtocol>(
        &self,
        socket: std::net::UdpSocket,
        protocol: P,
    ) -> Result<DatagramTransport> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        socket
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the UDP socket non-blocking", e))?;
        let connected = socket.peer_addr().is_ok();
        self.register_endpoint(UdpSocket::from_std(socket), connected, Box::new(protocol))
    }

    fn register_endpoint(
        &self,
        mut socket: UdpSocket,
        connected: bool,
        protocol: Box<dyn DatagramProtocol>,
    ) -> Result<DatagramTransport> {
        let key = {
            let mut endpoints = self.core.io.endpoints.borrow_mut();
            let key = endpoints.table.next_key();
            self.registry_poll()
                .registry()
                .register(
                    &mut socket,
                    token(SourceKind::Datagram, key.slot()),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| Error::io("registering a UDP endpoint with epoll", e))?;
            endpoints.table.insert(Endpoint {
                socket,
                protocol: Some(protocol),
                unsent: VecDeque::new(),
                errors: Vec::new(),
                readable: false,
                writable: true,
                queued: false,
                closing: false,
                lost: false,
                connected,
            })
        };
        let transport = DatagramTransport {
            core: Rc::downgrade(&self.core),
            key,
        };
        let for_protocol = transport.clone();
        self.call_datagram_protocol(key, move |p| p.connection_made(for_protocol));
        Ok(transport)
    }

    /// Like [`create_datagram_endpoint`](Self::create_datagram_endpoint),
    /// resolving `remote` (blocking: pass an IP address on a running loop).
    pub fn create_datagram_endpoint_to<A: ToSocketAddrs, P: DatagramProtocol>(
        &self,
        remote: A,
        protocol: P,
    ) -> Result<DatagramTransport> {
        let remote = remote
            .to_socket_addrs()
            .map_err(|e| Error::io("resolving the remote address", e))?
            .next()
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, "the address resolved to nothing")
            })?;
        self.create_datagram_endpoint(DatagramOptions::default().remote_addr(remote), protocol)
    }

    fn call_datagram_protocol(&self, key: SourceKey, f: impl FnOnce(&mut dyn DatagramProtocol)) {
        let core = &self.core;
        let taken = core
            .io
            .endpoints
            .borrow_mut()
            .get_mut(key)
            .and_then(|e| e.protocol.take());
        let Some(mut protocol) = taken else {
            return;
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *protocol)));
        let mut endpoints = core.io.endpoints.borrow_mut();
        let Some(endpoint) = endpoints.get_mut(key) else {
            return;
        };
        endpoint.protocol = Some(protocol);
        if let Err(payload) = outcome {
            endpoint.unsent.clear();
            endpoint.closing = true;
            schedule_lost(core, endpoint, key);
            drop(endpoints);
            self.report_panic(ExceptionContext::from_panic(
                "datagram protocol",
                CaughtPanic::from_payload(payload),
            ));
        }
    }
}

/// Delivers errors, sends what was queued, and reads (invariants 1-3).
pub(crate) fn run_datagram(lp: &EventLoop, ready: DatagramReady) {
    let core = &lp.core;
    let key = ready.key;
    let errors = {
        let mut endpoints = core.io.endpoints.borrow_mut();
        let Some(endpoint) = endpoints.get_mut(key) else {
            return;
        };
        endpoint.queued = false;
        while endpoint.writable {
            let Some((data, addr)) = endpoint.unsent.front() else {
                break;
            };
            let sent = match addr {
                Some(addr) => endpoint.socket.send_to(data, *addr),
                None => endpoint.socket.send(data),
            };
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => endpoint.writable = false,
                Err(e) => {
                    endpoint.unsent.pop_front();
                    endpoint.errors.push(e);
                }
                Ok(_) => {
                    endpoint.unsent.pop_front();
                }
            }
        }
        if endpoint.closing && endpoint.unsent.is_empty() {
            schedule_lost(core, endpoint, key);
        }
        std::mem::take(&mut endpoint.errors)
    };
    for error in errors {
        lp.call_datagram_protocol(key, |p| p.error_received(error));
    }
    let mut buf = core
        .io
        .read_buffer
        .take()
        .unwrap_or_else(|| vec![0; 64 * 1024].into_boxed_slice());
    for _ in 0..READ_BUDGET {
        let received = {
            let mut endpoints = core.io.endpoints.borrow_mut();
            let Some(endpoint) = endpoints.get_mut(key) else {
                break;
            };
            if !endpoint.readable || endpoint.closing {
                break;
            }
            let received = endpoint.socket.recv_from(&mut buf);
            if matches!(&received, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                endpoint.readable = false;
            }
            received
        };
        match received {
            Ok((n, addr)) => {
                lp.call_datagram_protocol(key, |p| p.datagram_received(&buf[..n], addr))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => lp.call_datagram_protocol(key, |p| p.error_received(e)),
        }
    }
    core.io.read_buffer.set(Some(buf));
    let mut endpoints = core.io.endpoints.borrow_mut();
    if let Some(endpoint) = endpoints.get_mut(key) {
        queue(endpoint, key, &mut core.ready.borrow_mut());
    }
}

/// Delivers `connection_lost` and frees the endpoint.
pub(crate) fn run_datagram_lost(lp: &EventLoop, ready: DatagramReady) {
    let core = &lp.core;
    let removed = {
        let mut endpoints = core.io.endpoints.borrow_mut();
        let Some(removed) = endpoints.table.remove(ready.key) else {
            return;
        };
        removed
    };
    let Endpoint {
        mut socket,
        protocol,
        ..
    } = removed;
    let _ = lp.registry_poll().registry().deregister(&mut socket);
    drop(socket);
    if let Some(mut protocol) = protocol {
        lp.guarded("datagram protocol", || protocol.connection_lost(None));
    }
}
