//! `Runtime::serve`: one address served by every loop, either with one
//! `SO_REUSEPORT` listener per loop (the kernel spreads connections) or
//! with one accepting loop that hands each connection to the loop with the
//! fewest live connections ([`Balance::Acceptor`]).

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;

use super::context;
use super::RuntimeShared;
use crate::io::{bind_listener, probe_port_free, AcceptSink, Admission, Factory, HandOff};
use crate::{Error, ErrorKind, EventLoop, LoopHandle, Protocol, Result, ServerOptions};

/// How a [`Runtime::serve`](super::Runtime::serve) address spreads its
/// connections over the loops. See `docs/tuning.md` for when to pick which.
///
/// The default is `ReusePort` on Linux and `Acceptor { accept_on: 0 }`
/// elsewhere: macOS and the BSDs accept `SO_REUSEPORT` but do not balance
/// it (the last socket bound gets every connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Balance {
    /// Every loop has its own `SO_REUSEPORT` listener on the address and
    /// the kernel picks one per connection (by a hash of the 4-tuple). No
    /// cross-loop traffic at all; the spread is statistical.
    ReusePort,
    /// Loop `accept_on` alone listens and passes each connection, through
    /// the mailboxes, to the loop with the fewest live connections. Even
    /// spread and no `SO_REUSEPORT` needed, at the cost of one cross-thread
    /// message per connection and one loop's time spent accepting.
    Acceptor {
        /// The loop that accepts.
        accept_on: usize,
    },
    /// As `ReusePort`, but the group sends each connection to loop
    /// `cpu % loops`, where `cpu` is the CPU that processed its SYN (a
    /// classic BPF program, `SO_ATTACH_REUSEPORT_CBPF`): the connection
    /// stays on the core whose caches already hold it. Pair it with
    /// `Pinning::Cores` on CPUs `0..loops` and NIC queue IRQs pinned to
    /// those CPUs (see `docs/tuning.md`); elsewhere it is just another
    /// spread. Linux only.
    IncomingCpu,
}

impl Default for Balance {
    fn default() -> Self {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Balance::ReusePort
        } else {
            Balance::Acceptor { accept_on: 0 }
        }
    }
}

/// Options of [`Runtime::serve`](super::Runtime::serve): how connections
/// spread over the loops, plus the [`ServerOptions`] every loop's listener
/// gets (one source of truth: TLS, its handshake and shutdown timeouts,
/// the idle timeout, admission control, socket options).
///
/// Two fields of the inner `ServerOptions` are decided by `serve` itself:
/// `reuse_port` (the balance mode's internal detail: see
/// [`share_port`](Self::share_port) to share a port with another process)
/// and `start_serving` (always on). Its `backlog` defaults to the kernel's
/// cap (`/proc/sys/net/core/somaxconn`), not asyncio's 100, which drops
/// SYNs in bursts.
///
/// An address another socket listens on fails with an error whose
/// [`io_error`](crate::Error::io_error) is `AddrInUse`, whatever the balance
/// mode, unless [`share_port`](Self::share_port) is on.
///
/// ```
/// use std::time::Duration;
/// use loopcore::{Balance, ServeOptions};
///
/// let options = ServeOptions::default()
///     .balance(Balance::ReusePort)
///     .idle_timeout(Duration::from_secs(60))
///     .tls_handshake_timeout(Duration::from_secs(10));
/// assert_eq!(options.server.tls_handshake_timeout, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How connections are spread over the loops.
    pub balance: Balance,
    /// What each loop's listener and its connections get.
    pub server: ServerOptions,
    /// Admission control for the whole runtime (default: none): at this
    /// many live connections over all loops every listener of this
    /// `serve` stops accepting (they wait in the backlog) until the total
    /// is down to 90% of it. Works beside `server.max_connections` (per
    /// loop), with every balance mode.
    pub max_connections_total: Option<usize>,
    /// Join a port that another process (or another `serve`) already
    /// listens on with `SO_REUSEPORT`, and let the kernel split the
    /// connections between them (default off: such a port fails with
    /// `AddrInUse`). For operators who run two processes on one port on
    /// purpose; a restart that hands its sockets over
    /// ([`Runtime::serve_listeners`](super::Runtime::serve_listeners))
    /// does not need it.
    pub share_port: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            balance: Balance::default(),
            server: ServerOptions::default().backlog(somaxconn()),
            max_connections_total: None,
            share_port: false,
        }
    }
}

impl ServeOptions {
    /// Sets the balance mode.
    pub fn balance(mut self, balance: Balance) -> Self {
        self.balance = balance;
        self
    }

    /// Replaces the listeners' options whole.
    pub fn server(mut self, server: ServerOptions) -> Self {
        self.server = server;
        self
    }

    /// Sets the listen backlog per listener.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.server.backlog = backlog;
        self
    }

    /// Sets `TCP_NODELAY` on accepted connections (default on).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.server.nodelay = on;
        self
    }

    /// Sets `SO_KEEPALIVE` on accepted connections (default off).
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.server.keep_alive = on;
        self
    }

    /// Serves TLS with `config` on every loop.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.server.tls = Some(config);
        self
    }

    /// Sets how long a TLS handshake may take (default 60 s): the guard
    /// against clients that open TLS connections and stall.
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.server.tls_handshake_timeout = timeout;
        self
    }

    /// Sets how long a TLS `close` may take to flush (default 30 s).
    pub fn tls_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.server.tls_shutdown_timeout = timeout;
        self
    }

    /// Closes connections on which nothing moved for `timeout`; see
    /// [`Transport::set_idle_timeout`](crate::Transport::set_idle_timeout).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.server.idle_timeout = Some(timeout);
        self
    }

    /// At most `max` live connections per loop; see
    /// [`ServerOptions::max_connections`]. With [`Balance::Acceptor`] the
    /// acceptor skips loops at the limit; when every loop is at it, it
    /// stops accepting (connections wait in the backlog) until one is down
    /// to 90% of it.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.server.max_connections = Some(max);
        self
    }

    /// Sets [`max_connections_total`](Self::max_connections_total).
    pub fn max_connections_total(mut self, max: usize) -> Self {
        self.max_connections_total = Some(max);
        self
    }

    /// Sets [`share_port`](Self::share_port).
    pub fn share_port(mut self, on: bool) -> Self {
        self.share_port = on;
        self
    }

    fn server_options(&self, reuse_port: bool) -> ServerOptions {
        let mut options = self.server.clone();
        options.reuse_port = reuse_port;
        options.start_serving = true;
        options
    }
}

/// The kernel's cap on listen backlogs, which is what a busy server wants.
fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// Makes protocols on any loop.
pub(crate) type SendFactory = Arc<dyn Fn() -> Box<dyn Protocol> + Send + Sync>;

fn local_factory(factory: &SendFactory) -> Factory {
    let factory = factory.clone();
    Rc::new(move || factory())
}

/// Binds and starts serving `addr` on the runtime's loops; returns the
/// bound addresses.
pub(crate) fn serve(
    runtime: &Arc<RuntimeShared>,
    addr: impl ToSocketAddrs,
    options: &ServeOptions,
    factory: SendFactory,
) -> Result<Vec<SocketAddr>> {
    if runtime.shutdown.is_requested() {
        return Err(Error::new(
            ErrorKind::Closed,
            "the runtime is shutting down: serve() must come before shutdown",
        ));
    }
    let handles = runtime.handles();
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Error::io("resolving the address to serve", e))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the address to serve resolved to nothing",
        ));
    }
    match options.balance {
        Balance::ReusePort => serve_reuse_port(runtime, &addrs, options, factory, false),
        Balance::IncomingCpu => serve_reuse_port(runtime, &addrs, options, factory, true),
        Balance::Acceptor { accept_on } => {
            if accept_on >= handles.len() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "Balance::Acceptor: accept_on is {accept_on} but the runtime has {} loops",
                        handles.len()
                    ),
                ));
            }
            serve_acceptor(runtime, accept_on, &addrs, options, factory)
        }
    }
}

/// With port 0, every address after the first gets the port the first one
/// was given, so a name resolving to `::1` and `127.0.0.1` serves one port.
fn with_shared_port(mut addr: SocketAddr, port: Option<u16>) -> SocketAddr {
    if addr.port() == 0 {
        if let Some(port) = port {
            addr.set_port(port);
        }
    }
    addr
}

/// Binds one listener per address and loop. With port 0 the first socket
/// gets a free port and every other one reuses it (PITFALLS 12).
fn serve_reuse_port(
    runtime: &Arc<RuntimeShared>,
    addrs: &[SocketAddr],
    options: &ServeOptions,
    factory: SendFactory,
    steer_by_cpu: bool,
) -> Result<Vec<SocketAddr>> {
    let handles = runtime.handles();
    let server_options = options.server_options(true);
    let mut per_loop: Vec<Vec<std::net::TcpListener>> =
        handles.iter().map(|_| Vec::new()).collect();
    let mut bound = Vec::with_capacity(addrs.len());
    let mut port = None;
    for &addr in addrs {
        let mut addr = with_shared_port(addr, port);
        if !options.share_port {
            // SO_REUSEPORT would let the group join a port another process
            // listens on, and the kernel would split the connections.
            ensure_port_free(addr)?;
        }
        for listeners in &mut per_loop {
            let listener = bind_listener(addr, &server_options)
                .map_err(|e| Error::io(format!("binding {addr} with SO_REUSEPORT"), e))?;
            if addr.port() == 0 {
                let local = listener
                    .local_addr()
                    .map_err(|e| Error::io("reading the bound address", e))?;
                addr = local;
            }
            listeners.push(listener);
        }
        if steer_by_cpu {
            let first = per_loop[0].last().expect("one listener per loop");
            crate::sys::reuseport::steer_by_cpu(first.as_fd(), handles.len() as u32)
                .map_err(|e| Error::io("attaching the steer-by-CPU reuseport program", e))?;
        }
        port.get_or_insert(addr.port());
        bound.push(addr);
    }
    // Loop by loop, so a restart passes them in an order a successor with
    // as many loops can give back one per loop.
    for listeners in &per_loop {
        runtime.listeners.record(listeners)?;
    }
    let cap = TotalCap::new(runtime, options);
    for (handle, listeners) in handles.iter().zip(per_loop) {
        serve_on_loop(handle, listeners, &factory, &server_options, cap.clone())?;
    }
    Ok(bound)
}

/// Has `handle`'s loop serve `listeners` with protocols from `factory`.
fn serve_on_loop(
    handle: &LoopHandle,
    listeners: Vec<std::net::TcpListener>,
    factory: &SendFactory,
    server_options: &ServerOptions,
    cap: Option<TotalCap>,
) -> Result<()> {
    let factory = factory.clone();
    let server_options = server_options.clone();
    handle.call_soon_threadsafe(move |lp| {
        for listener in listeners {
            let factory = local_factory(&factory);
            let sink = match cap.clone() {
                Some(cap) => AcceptSink::ServeIfRoom(factory, Rc::new(cap)),
                None => AcceptSink::Serve(factory),
            };
            start_listener(lp, listener, server_options.clone(), sink);
        }
    })
}

/// The load below which a paused listener resumes (exclusive bound).
fn resume_limit(max: u64) -> u64 {
    crate::io::admission_low_mark(max) + 1
}

/// `ServeOptions::max_connections_total`: live connections over every
/// loop, plus those on their way to one.
#[derive(Clone)]
struct TotalCap {
    runtime: Arc<RuntimeShared>,
    max: u64,
    /// Places taken by listeners between their look at the total and the
    /// accepted connection counting on its loop. Without them, loops that
    /// look at once could all see the last place free and all take it.
    reserved: Arc<AtomicU64>,
}

impl TotalCap {
    fn new(runtime: &Arc<RuntimeShared>, options: &ServeOptions) -> Option<Self> {
        options.max_connections_total.map(|max| Self {
            runtime: runtime.clone(),
            max: max as u64,
            reserved: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Live and in-flight connections over all loops, plus reservations.
    fn load(&self) -> u64 {
        // Reservations first: one given back after its connection counted
        // on its loop (`release`, Release ordering) means that count is
        // visible to the live-connection reads after this Acquire load.
        let reserved = self.reserved.load(Ordering::Acquire);
        let handles = self.runtime.handles();
        let live: u64 = (0..handles.len())
            .map(|i| handles[i].live_connections() + self.runtime.slots[i].handoff.in_flight_hint())
            .sum();
        reserved + live
    }
}

impl Admission for TotalCap {
    fn has_room(&self, resuming: bool) -> bool {
        let limit = if resuming {
            resume_limit(self.max)
        } else {
            self.max
        };
        self.load() < limit
    }

    fn reserve(&self) -> bool {
        if !self.has_room(false) {
            return false;
        }
        self.reserved.fetch_add(1, Ordering::AcqRel);
        // Counting its own place: when several loops reserve the last one
        // at once, every one of them sees the others and backs off (to
        // try again on the next room check) rather than all accepting.
        if self.load() > self.max {
            self.release();
            return false;
        }
        true
    }

    fn release(&self) {
        self.reserved.fetch_sub(1, Ordering::Release);
    }
}

/// Fails with `AddrInUse` (and a message saying what to do) when a
/// socket listens on `addr` already; see `probe_port_free`.
fn ensure_port_free(addr: SocketAddr) -> Result<()> {
    probe_port_free(addr).map_err(|e| {
        let context = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "{addr} is in use: another process (or another serve) listens on it; \
                 stop it, pick another port, or set ServeOptions::share_port to share it on purpose"
            )
        } else {
            format!("checking that {addr} is free")
        };
        Error::io(context, e)
    })
}

fn serve_acceptor(
    runtime: &Arc<RuntimeShared>,
    accept_on: usize,
    addrs: &[SocketAddr],
    options: &ServeOptions,
    factory: SendFactory,
) -> Result<Vec<SocketAddr>> {
    // Without SO_REUSEPORT the bind itself fails on a port in use.
    let server_options = options.server_options(options.share_port);
    let mut bound = Vec::with_capacity(addrs.len());
    let mut listeners = Vec::with_capacity(addrs.len());
    let mut port = None;
    for &addr in addrs {
        let addr = with_shared_port(addr, port);
        let listener = bind_listener(addr, &server_options)
            .map_err(|e| Error::io(format!("binding {addr}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        port.get_or_insert(local.port());
        bound.push(local);
        listeners.push(listener);
    }
    runtime.listeners.record(&listeners)?;
    start_acceptor(runtime, accept_on, listeners, options, factory)?;
    Ok(bound)
}

/// Starts `listeners` on loop `accept_on`, handing each connection to the
/// least-loaded loop.
fn start_acceptor(
    runtime: &Arc<RuntimeShared>,
    accept_on: usize,
    listeners: Vec<std::net::TcpListener>,
    options: &ServeOptions,
    factory: SendFactory,
) -> Result<()> {
    let balanced_options = options.server_options(false);
    // The acceptor's own connection count is not the limit: the balancer
    // applies `max_connections` to each loop it hands to.
    let mut server_options = balanced_options.clone();
    server_options.max_connections = None;
    let balancer = Arc::new(Balancer {
        runtime: runtime.clone(),
        next: AtomicUsize::new(0),
        factory,
        options: balanced_options,
        total: TotalCap::new(runtime, options),
    });
    runtime.handles()[accept_on].call_soon_threadsafe(move |lp| {
        for listener in listeners {
            let balancer = balancer.clone();
            let room = balancer.clone();
            let sink = AcceptSink::HandOff(HandOff {
                give: Rc::new(move |lp, stream| balancer.hand_off(lp, stream)),
                has_room: Rc::new(BalancerRoom(room)),
            });
            start_listener(lp, listener, server_options.clone(), sink);
        }
    })?;
    Ok(())
}

/// `Runtime::serve_listeners`: sockets bound elsewhere (socket activation,
/// a restart's predecessor). With `Balance::Acceptor` one loop accepts;
/// otherwise every loop accepts from the same socket (each polls its own
/// duplicate; the kernel wakes them all and one wins each connection).
pub(crate) fn serve_listeners(
    runtime: &Arc<RuntimeShared>,
    listeners: Vec<std::net::TcpListener>,
    options: &ServeOptions,
    factory: SendFactory,
) -> Result<Vec<SocketAddr>> {
    if listeners.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "serve_listeners needs at least one listening socket",
        ));
    }
    let mut bound = Vec::with_capacity(listeners.len());
    for listener in &listeners {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making an inherited listener non-blocking", e))?;
        bound.push(
            listener
                .local_addr()
                .map_err(|e| Error::io("reading an inherited listener's address", e))?,
        );
    }
    runtime.listeners.record(&listeners)?;
    let handles = runtime.handles();
    if let Balance::Acceptor { accept_on } = options.balance {
        if accept_on >= handles.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "Balance::Acceptor: accept_on is {accept_on} but the runtime has {} loops",
                    handles.len()
                ),
            ));
        }
        start_acceptor(runtime, accept_on, listeners, options, factory)?;
        return Ok(bound);
    }
    let server_options = options.server_options(false);
    if one_per_loop(&listeners, &bound, handles.len()) {
        // A restart's predecessor with as many loops bound one
        // SO_REUSEPORT socket per loop: keep the kernel's balancing.
        let cap = TotalCap::new(runtime, options);
        for (handle, listener) in handles.iter().zip(listeners) {
            serve_on_loop(
                handle,
                vec![listener],
                &factory,
                &server_options,
                cap.clone(),
            )?;
        }
        return Ok(bound);
    }
    for handle in handles {
        let copies = listeners
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io("duplicating an inherited listener", e))?;
        serve_on_loop(
            handle,
            copies,
            &factory,
            &server_options,
            TotalCap::new(runtime, options),
        )?;
    }
    Ok(bound)
}

/// As many listeners as loops, all on one address with `SO_REUSEPORT`: one
/// group of the kernel's balancing, so each loop can take one.
fn one_per_loop(listeners: &[std::net::TcpListener], bound: &[SocketAddr], loops: usize) -> bool {
    listeners.len() == loops
        && loops > 1
        && bound.iter().all(|addr| *addr == bound[0])
        && listeners.iter().all(|listener| {
            socket2::SockRef::from(listener)
                .reuse_port()
                .unwrap_or(false)
        })
}

/// Serves `listener` on the calling runtime loop (shutdown finds it among
/// the loop's servers); a loop already shutting down drops it.
fn start_listener(
    lp: &EventLoop,
    listener: std::net::TcpListener,
    options: ServerOptions,
    sink: AcceptSink,
) {
    let Some(context) = context::current() else {
        return;
    };
    if context.deadline.get().is_some() {
        return;
    }
    match lp.serve_listener_with(listener, options, sink) {
        Ok(_server) => {}
        Err(e) => lp.call_exception_handler(
            &crate::ExceptionContext::new("could not start a Runtime::serve listener")
                .with_error(e)
                .with_source("runtime"),
        ),
    }
}

/// Picks the least-loaded loop for each accepted connection.
struct Balancer {
    runtime: Arc<RuntimeShared>,
    /// Where the search for the least-loaded loop starts, so ties rotate.
    next: AtomicUsize,
    factory: SendFactory,
    /// TLS and the like, for the loop that serves each connection.
    options: ServerOptions,
    /// `ServeOptions::max_connections_total`.
    total: Option<TotalCap>,
}

impl Balancer {
    /// The loop with the fewest live and in-flight connections among
    /// those not stopping; `None` if all are.
    fn pick(&self) -> Option<usize> {
        let handles = self.runtime.handles();
        let n = handles.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut best = None;
        let mut best_load = u64::MAX;
        for offset in 0..n {
            let i = (start + offset) % n;
            let slot = &self.runtime.slots[i];
            if slot.handoff.is_stopping_hint() {
                continue;
            }
            let load = handles[i].live_connections() + slot.handoff.in_flight_hint();
            if self
                .options
                .max_connections
                .is_some_and(|max| load >= max as u64)
            {
                continue;
            }
            if load < best_load {
                best = Some(i);
                best_load = load;
            }
        }
        best
    }

    /// Whether a loop can take a connection: one under `max_connections`
    /// (with `resuming`, at or under the low mark, 90% of it, so a paused
    /// acceptor does not churn at the limit). One acceptor thread takes
    /// every connection of its listeners, so a look needs no reservation.
    fn has_room(&self, resuming: bool) -> bool {
        if self
            .total
            .as_ref()
            .is_some_and(|total| !total.has_room(resuming))
        {
            return false;
        }
        let Some(max) = self.options.max_connections else {
            return true;
        };
        let max = max as u64;
        let limit = if resuming { resume_limit(max) } else { max };
        let handles = self.runtime.handles();
        (0..handles.len()).any(|i| {
            let slot = &self.runtime.slots[i];
            !slot.handoff.is_stopping_hint()
                && handles[i].live_connections() + slot.handoff.in_flight_hint() < limit
        })
    }

    fn hand_off(self: &Arc<Self>, lp: &EventLoop, stream: std::net::TcpStream) {
        let Some(target) = self.pick() else {
            return attach(lp, &self.factory, &self.options, stream);
        };
        let gate = &self.runtime.slots[target].handoff;
        // Either the stopping loop (shutdown::check) sees this connection
        // on its way and waits for it, or this sees it stopping.
        if !gate.try_enter() {
            return attach(lp, &self.factory, &self.options, stream);
        }
        let balancer = self.clone();
        let posted = self.runtime.handles()[target].call_soon_threadsafe(move |lp| {
            attach(lp, &balancer.factory, &balancer.options, stream);
            balancer.runtime.slots[target].handoff.leave();
        });
        if posted.is_err() {
            // The target loop is closed: the stream went down with the
            // message; nothing is in flight any more.
            gate.leave();
        }
    }
}

/// The acceptor's look for a loop with room.
struct BalancerRoom(Arc<Balancer>);

impl Admission for BalancerRoom {
    fn has_room(&self, resuming: bool) -> bool {
        self.0.has_room(resuming)
    }
}

/// Serves a handed-off connection on `lp`.
fn attach(
    lp: &EventLoop,
    factory: &SendFactory,
    options: &ServerOptions,
    stream: std::net::TcpStream,
) {
    let attached = crate::io::serve_accepted(
        lp,
        crate::io::Stream::Tcp(TcpStream::from_std(stream)),
        factory(),
        None,
        options,
    );
    if let Err(e) = attached {
        lp.call_exception_handler(
            &crate::ExceptionContext::new("could not set up a handed-off connection")
                .with_error(e)
                .with_source("runtime"),
        );
    }
}
