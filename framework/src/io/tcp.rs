//! Listeners and their accepts (TCP and Unix), admission control, and
//! `connect_accepted_socket`. Creating servers and the `Server` handle
//! are in `io::server`, outgoing connections in `io::connect`.
//!
//! Invariants:
//! 1. A listener accepts until `WouldBlock`, at most `ACCEPT_BUDGET` per
//!    ready item; if still readable it is queued again (no lost edge).
//! 2. EMFILE/ENFILE/ENOBUFS/ENOMEM go to the exception handler and pause
//!    that listener for `ACCEPT_PAUSE`; it then tries again by itself, with
//!    no busy loop, and existing connections are not touched.
//! 3. `Server::wait_closed` (`io::server`) completes once the server is
//!    closed *and* every connection it accepted is gone.
//! 4. Admission control: a listener with `max_connections` stops accepting
//!    when the loop has that many live connections (the backlog holds the
//!    rest) and is queued again when a close brings the loop to the low
//!    mark; `IoDriver::full_listeners` counts the listeners waiting, so a close
//!    costs nothing when none is.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio::event::Event;
use mio::net::TcpStream;

use super::server_shared::ServerShared;
use super::stream::{ListenSocket, Stream};
use mio::Registry;
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use super::protocol::Protocol;
use super::ready::{AcceptReady, IoReady};
use super::transport::Transport;
use crate::event_loop::{Callback, Ready};
use crate::exception::ExceptionContext;
use crate::proto::ready_queue::ReadyQueue;
use crate::source_table::{SourceKey, SourceTable};
use crate::{Error, ErrorKind, EventLoop, Result};

pub use super::server_options::ServerOptions;

const ACCEPT_BUDGET: usize = 128;
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Makes one protocol per accepted connection.
pub(crate) type Factory = Rc<dyn Fn() -> Box<dyn Protocol>>;

/// Gives an accepted TCP connection to some loop.
pub(crate) type Give = Rc<dyn Fn(&EventLoop, std::net::TcpStream)>;

/// Admission control across loops, which no close on this loop alone can
/// end: while there is no room the listener stops accepting and the
/// kernel's backlog holds the connections.
pub(crate) trait Admission {
    /// Whether the runtime can take a connection now (`resuming`: whether
    /// the load is down to the low mark, so a paused listener does not
    /// churn at the limit).
    fn has_room(&self, resuming: bool) -> bool;

    /// Takes a place for one connection about to be accepted; false if
    /// there is none. Listeners on several loops race for the last
    /// places, so a plain look at the load is not enough where they do.
    fn reserve(&self) -> bool {
        self.has_room(false)
    }

    /// Gives the place back once the accepted connection counts on its
    /// loop, or when nothing was accepted.
    fn release(&self) {}
}

/// A shared [`Admission`] rule.
pub(crate) type Room = Rc<dyn Admission>;

/// A place taken with [`Admission::reserve`], given back on drop.
struct Reservation(Room);

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Takes an accepted TCP connection away from the accepting loop.
#[derive(Clone)]
pub(crate) struct HandOff {
    pub(crate) give: Give,
    /// Whether some loop can take a connection.
    pub(crate) has_room: Room,
}

/// How often a listener paused because every loop is full checks again.
const ROOM_CHECK_EVERY: Duration = Duration::from_millis(10);

/// What a listener does with an accepted connection.
#[derive(Clone)]
pub(crate) enum AcceptSink {
    /// Serve it on this loop with a protocol from the factory.
    Serve(Factory),
    /// Give it away: the runtime's `Balance::Acceptor` passes it to the
    /// least-loaded loop.
    HandOff(HandOff),
    /// Serve it here, while the runtime-wide cap allows
    /// (`ServeOptions::max_connections_total`).
    ServeIfRoom(Factory, Room),
}

impl AcceptSink {
    fn room(&self) -> Option<&Room> {
        match self {
            AcceptSink::Serve(_) => None,
            AcceptSink::HandOff(hand_off) => Some(&hand_off.has_room),
            AcceptSink::ServeIfRoom(_, room) => Some(room),
        }
    }
}

/// Starts serving an accepted connection on `lp`: plain, or behind a TLS
/// handshake when `options` says so.
pub(crate) fn serve_accepted(
    lp: &EventLoop,
    stream: Stream,
    protocol: Box<dyn Protocol>,
    server: Option<Rc<ServerShared>>,
    options: &ServerOptions,
) -> Result<()> {
    let tls = match &options.tls {
        None => None,
        Some(config) => Some(
            crate::tls::TlsSetup::server(config.clone())
                .handshake_timeout(options.tls_handshake_timeout)
                .shutdown_timeout(options.tls_shutdown_timeout)
                .into_layer(None)?,
        ),
    };
    let server = server.map(|server| server.clients.clone());
    let transport = lp.attach_stream_with(stream, protocol, server, tls)?;
    // The server's default, unless the protocol chose its own in
    // `connection_made` (which, without TLS, has run by now).
    if let (Some(timeout), None) = (options.idle_timeout, transport.idle_timeout()) {
        // A protocol may have closed it in `connection_made` already.
        if let Err(e) = transport.set_idle_timeout(Some(timeout)) {
            if !e.is_closed() {
                return Err(e);
            }
        }
    }
    Ok(())
}

pub(super) struct Listener {
    pub(super) socket: ListenSocket,
    server: Rc<ServerShared>,
    sink: AcceptSink,
    options: ServerOptions,
    /// An edge said acceptable and no accept has hit `WouldBlock` since.
    pub(super) readable: bool,
    queued: bool,
    /// Accepting is paused after EMFILE and the like (invariant 2).
    pub(super) paused: bool,
    /// The loop is at `max_connections`: not accepting until it is down
    /// to the low mark (invariant 4).
    full: bool,
}

impl Listener {
    pub(super) fn new(
        socket: ListenSocket,
        server: Rc<ServerShared>,
        sink: AcceptSink,
        options: ServerOptions,
    ) -> Self {
        Self {
            socket,
            server,
            sink,
            options,
            // Connections may already wait: check once when serving starts.
            readable: true,
            queued: false,
            paused: false,
            full: false,
        }
    }

    /// The server this listener serves.
    pub(super) fn server(&self) -> &Rc<ServerShared> {
        &self.server
    }
}

/// The listening sockets of one loop.
#[derive(Default)]
pub(crate) struct Listeners {
    pub(super) table: SourceTable<Listener>,
}

impl Listeners {
    pub(super) fn get_mut(&mut self, key: SourceKey) -> Option<&mut Listener> {
        self.table.get_mut(key)
    }

    pub(crate) fn on_event(
        &mut self,
        key: usize,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
    ) {
        let Some((key, listener)) = self.table.get_by_slot_mut(key) else {
            return;
        };
        if event.is_readable() || event.is_error() {
            listener.readable = true;
        }
        queue_accept(listener, key, ready);
    }

    pub(crate) fn deregister_all(&mut self, registry: &Registry) {
        for (_, listener) in self.table.iter_mut() {
            let _ = registry.deregister(&mut listener.socket);
        }
    }
}

pub(super) fn queue_accept(
    listener: &mut Listener,
    key: SourceKey,
    ready: &mut ReadyQueue<Callback, Ready>,
) {
    if listener.readable
        && !listener.queued
        && !listener.paused
        && !listener.full
        && listener.server.serving.get()
    {
        listener.queued = true;
        ready.push(Ready::Io(IoReady::Accept(AcceptReady { key })));
    }
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Accepts what is waiting on one listener (invariants 1-2).
pub(crate) fn run_accept(lp: &EventLoop, ready: AcceptReady) {
    if accept_some(lp, ready, ACCEPT_BUDGET) {
        // Budget spent: come back next iteration if there may be more.
        let core = &lp.core;
        let mut listeners = core.io.listeners.borrow_mut();
        if let Some(listener) = listeners.get_mut(ready.key) {
            queue_accept(listener, ready.key, &mut core.ready.borrow_mut());
        }
    }
}

/// Accepts up to `budget` connections; true if the budget ran out first.
pub(super) fn accept_some(lp: &EventLoop, ready: AcceptReady, budget: usize) -> bool {
    let core = &lp.core;
    for _ in 0..budget {
        let accepted = {
            let mut listeners = core.io.listeners.borrow_mut();
            let Some(listener) = listeners.get_mut(ready.key) else {
                return false;
            };
            listener.queued = false;
            if !listener.server.serving.get() || listener.paused || listener.full {
                return false;
            }
            if let Some(max) = listener.options.max_connections {
                if lp.conn_count() >= max {
                    listener.full = true;
                    core.io.full_listeners.set(core.io.full_listeners.get() + 1);
                    core.shared.counters.admission_pauses.add(1);
                    return false;
                }
            }
            let mut reservation = None;
            if let Some(room) = listener.sink.room() {
                if room.reserve() {
                    reservation = Some(Reservation(room.clone()));
                } else {
                    // Every loop, or the runtime, is at its limit: wait
                    // in the backlog.
                    listener.full = true;
                    core.shared.counters.admission_pauses.add(1);
                    watch_for_room(lp, ready, room.clone());
                    return false;
                }
            }
            match listener.socket.accept() {
                Ok(stream) => Ok((
                    stream,
                    listener.sink.clone(),
                    listener.server.clone(),
                    listener.options.clone(),
                    reservation,
                )),
                Err(e) => {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        listener.readable = false;
                    }
                    Err(e)
                }
            }
        };
        match accepted {
            Ok((stream, sink, server, options, reservation)) => {
                core.shared.counters.accepts.add(1);
                if let Stream::Tcp(tcp) = &stream {
                    if options.nodelay {
                        let _ = tcp.set_nodelay(true);
                    }
                    if options.keep_alive {
                        let _ = socket2::SockRef::from(tcp).set_keepalive(true);
                    }
                }
                let attached = match (sink, stream) {
                    (AcceptSink::HandOff(hand_off), Stream::Tcp(tcp)) => {
                        (hand_off.give)(
                            lp,
                            std::net::TcpStream::from(std::os::fd::OwnedFd::from(tcp)),
                        );
                        Ok(())
                    }
                    (AcceptSink::HandOff(_), _) => Err(Error::new(
                        ErrorKind::Unsupported,
                        "handing off Unix socket connections is not implemented",
                    )),
                    (AcceptSink::Serve(factory) | AcceptSink::ServeIfRoom(factory, _), stream) => {
                        serve_accepted(lp, stream, factory(), Some(server), &options)
                    }
                };
                // Counted on its loop now (or gone): the place is its own.
                drop(reservation);
                if let Err(e) = attached {
                    lp.call_exception_handler(
                        &ExceptionContext::new("could not set up an accepted connection")
                            .with_error(e)
                            .with_source("accept"),
                    );
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if is_resource_exhaustion(&e) => {
                pause_accepting(lp, ready, e);
                return false;
            }
            // The peer gave up before we accepted (ECONNABORTED) and the
            // like: that connection is gone, the listener is fine.
            Err(_) => {}
        }
    }
    true
}

fn pause_accepting(lp: &EventLoop, ready: AcceptReady, error: io::Error) {
    lp.call_exception_handler(
        &ExceptionContext::new(format!(
            "accept failed ({error}); pausing this listener for {ACCEPT_PAUSE:?}"
        ))
        .with_error(error)
        .with_source("accept"),
    );
    if let Some(listener) = lp.core.io.listeners.borrow_mut().get_mut(ready.key) {
        listener.paused = true;
    }
    lp.call_later(ACCEPT_PAUSE, move |lp| {
        let core = &lp.core;
        let mut listeners = core.io.listeners.borrow_mut();
        if let Some(listener) = listeners.get_mut(ready.key) {
            listener.paused = false;
            // No edge will come for connections already queued: assume
            // there are some (an accept finds out).
            listener.readable = true;
            queue_accept(listener, ready.key, &mut core.ready.borrow_mut());
        }
    });
}

/// A hand-off listener waits for a loop with room (below its low mark),
/// checking every `ROOM_CHECK_EVERY`: the connections that make room close
/// on other loops, so no close on this one says when.
fn watch_for_room(lp: &EventLoop, listener: AcceptReady, has_room: Room) {
    lp.call_later(ROOM_CHECK_EVERY, move |lp| {
        let core = &lp.core;
        let mut listeners = core.io.listeners.borrow_mut();
        let Some(entry) = listeners.get_mut(listener.key) else {
            // Closed meanwhile: nothing to resume.
            return;
        };
        if !entry.full {
            return;
        }
        if !has_room.has_room(true) {
            drop(listeners);
            return watch_for_room(lp, listener, has_room);
        }
        entry.full = false;
        // Connections waited in the backlog without a new edge.
        entry.readable = true;
        queue_accept(entry, listener.key, &mut core.ready.borrow_mut());
    });
}

/// A connection closed: listeners waiting at `max_connections` accept
/// again once the loop is down to their low mark (invariant 4).
pub(crate) fn resume_full_listeners(lp: &EventLoop) {
    let core = &lp.core;
    let live = lp.conn_count();
    let mut listeners = core.io.listeners.borrow_mut();
    let mut ready = core.ready.borrow_mut();
    for (key, listener) in listeners.table.iter_mut() {
        let Some(max) = listener.options.max_connections else {
            continue;
        };
        let low_mark = super::server_options::admission_low_mark(max as u64);
        if listener.full && live as u64 <= low_mark {
            listener.full = false;
            core.io.full_listeners.set(core.io.full_listeners.get() - 1);
            // Connections waited in the backlog without a new edge.
            listener.readable = true;
            queue_accept(listener, key, &mut ready);
        }
    }
}

/// Fails with `AddrInUse` when a socket listens on `addr` already, in this
/// process or another, `SO_REUSEPORT` or not: a socket bound with
/// `SO_REUSEADDR` but not `SO_REUSEPORT` (and the same `IPV6_V6ONLY` as
/// [`bind_listener`]) cannot share the port with a listener, and can with
/// anything else (connections in `TIME_WAIT`, bound but idle sockets). The
/// probe is closed before it returns.
///
/// What it cannot do: Linux has no exclusive reuseport group, so a process
/// of the same user that sets `SO_REUSEPORT` itself can still join after
/// this check, and two processes probing in the same microseconds can both
/// pass. Port 0 has nothing to probe.
pub(crate) fn probe_port_free(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let probe = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    probe.set_reuse_address(true)?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    probe.bind(&addr.into())
}

pub(crate) fn bind_listener(
    addr: SocketAddr,
    options: &ServerOptions,
) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    if options.reuse_address {
        socket.set_reuse_address(true)?;
    }
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(options.backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

impl EventLoop {
    /// Wraps a connected std stream in a transport for `protocol` (asyncio's
    /// `connect_accepted_socket`).
    pub fn connect_accepted_socket<P: Protocol>(
        &self,
        stream: std::net::TcpStream,
        protocol: P,
    ) -> Result<Transport> {
        let stream = self.adopt_stream(stream)?;
        self.attach_stream(stream, Box::new(protocol))
    }

    /// A connected std stream made ready for this loop.
    pub(crate) fn adopt_stream(&self, stream: std::net::TcpStream) -> Result<Stream> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        stream
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the stream non-blocking", e))?;
        Ok(Stream::Tcp(TcpStream::from_std(stream)))
    }
}
