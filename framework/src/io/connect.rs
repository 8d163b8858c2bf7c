//! Outgoing TCP connections: asyncio's `create_connection`, with an
//! optional local address and Happy Eyeballs (RFC 8305's connection race:
//! the next address is tried when the previous one has not connected
//! within a delay, and the first to connect wins).

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use super::protocol::Protocol;
use super::stream::Stream;
use super::tls::TlsSetup;
use super::transport::Transport;
use crate::{Error, ErrorKind, EventLoop, Result};

/// Options of [`EventLoop::create_connection_with`] (asyncio's keyword
/// arguments of `create_connection`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Bind the socket to this address before connecting (asyncio's
    /// `local_addr`); only addresses of its family are tried.
    pub local_addr: Option<SocketAddr>,
    /// Race the resolved addresses (Happy Eyeballs): start the next
    /// attempt when the previous one has not connected after this delay
    /// (RFC 8305 suggests 250 ms). `None` (the default) tries them one
    /// after the other, as asyncio does without `happy_eyeballs_delay`.
    pub happy_eyeballs_delay: Option<Duration>,
    /// Speak TLS with this configuration (asyncio's `ssl=`); see
    /// [`tls::client_config_from_ca_pem`](crate::tls::client_config_from_ca_pem).
    /// The connection is returned once the handshake has succeeded.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The name to verify the server's certificate against and send as SNI
    /// (asyncio's `server_hostname`); default: the host of the address
    /// given to `create_connection_with`, or the IP address. Setting it (or
    /// either TLS timeout) without `tls` makes the connect fail with
    /// [`ErrorKind::InvalidInput`] rather than connect in plaintext.
    pub server_hostname: Option<String>,
    /// How long the TLS handshake may take (default 60 s).
    pub tls_handshake_timeout: Option<Duration>,
    /// How long a TLS `close` may take to flush before it aborts (default
    /// 30 s; asyncio's `ssl_shutdown_timeout`).
    pub tls_shutdown_timeout: Option<Duration>,
}

impl ConnectOptions {
    /// Sets the local address.
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }

    /// Refuses TLS settings without [`tls`](Self::tls): a `server_hostname`
    /// set on a plaintext connection means TLS was forgotten, and a silent
    /// plaintext connection is the worst outcome (asyncio raises
    /// `ValueError` too).
    fn check_tls_fields(&self) -> Result<()> {
        if self.tls.is_some() {
            return Ok(());
        }
        let set = [
            ("server_hostname", self.server_hostname.is_some()),
            (
                "tls_handshake_timeout",
                self.tls_handshake_timeout.is_some(),
            ),
            ("tls_shutdown_timeout", self.tls_shutdown_timeout.is_some()),
        ];
        match set.iter().find(|(_, is_set)| *is_set) {
            Some((name, _)) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "ConnectOptions::{name} is only meaningful with TLS: set ConnectOptions::tls too, or leave it out"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Turns Happy Eyeballs on with `delay` between attempts.
    pub fn happy_eyeballs(mut self, delay: Duration) -> Self {
        self.happy_eyeballs_delay = Some(delay);
        self
    }

    /// Speaks TLS with `config`.
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Verifies the server as `name` (and sends it as SNI).
    pub fn server_hostname(mut self, name: impl Into<String>) -> Self {
        self.server_hostname = Some(name.into());
        self
    }

    /// Sets the TLS handshake timeout.
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = Some(timeout);
        self
    }

    /// Sets the TLS shutdown timeout.
    pub fn tls_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.tls_shutdown_timeout = Some(timeout);
        self
    }
}

type Attempt<'a> = Pin<Box<dyn Future<Output = Result<TcpStream>> + 'a>>;

impl EventLoop {
    /// Connects to `addr` and serves the connection with `protocol`
    /// (asyncio's `create_connection`). Every address `addr` resolves to is
    /// tried in turn; name resolution runs on the blocking executor.
    ///
    /// ```
    /// use loopcore::{EventLoop, Protocol, ServerOptions};
    /// struct Quiet;
    /// impl Protocol for Quiet {}
    /// let lp = EventLoop::new()?;
    /// let server = lp.create_server("127.0.0.1:0", ServerOptions::default(), || Quiet)?;
    /// let addr = server.sockets()[0];
    /// let transport = lp.run_until_complete(lp.create_connection(addr.to_string(), Quiet))??;
    /// assert_eq!(transport.peername()?, addr);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub async fn create_connection<P: Protocol>(
        &self,
        addr: String,
        protocol: P,
    ) -> Result<Transport> {
        self.create_connection_with(addr, ConnectOptions::default(), protocol)
            .await
    }

    /// [`create_connection`](Self::create_connection) with options: a
    /// local address to bind, and Happy Eyeballs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopcore::{ConnectOptions, EventLoop, Protocol, ServerOptions};
    /// struct Quiet;
    /// impl Protocol for Quiet {}
    /// let lp = EventLoop::new()?;
    /// let server = lp.create_server("127.0.0.1:0", ServerOptions::default(), || Quiet)?;
    /// let options = ConnectOptions::default()
    ///     .local_addr("127.0.0.1:0".parse().unwrap())
    ///     .happy_eyeballs(Duration::from_millis(250));
    /// let addr = server.sockets()[0].to_string();
    /// let transport = lp.run_until_complete(lp.create_connection_with(addr, options, Quiet))??;
    /// assert_eq!(transport.sockname()?.ip().to_string(), "127.0.0.1");
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub async fn create_connection_with<P: Protocol>(
        &self,
        addr: String,
        mut options: ConnectOptions,
        protocol: P,
    ) -> Result<Transport> {
        if options.tls.is_some() && options.server_hostname.is_none() {
            options.server_hostname = Some(addr.clone());
        }
        let addrs: Vec<SocketAddr> = match addr.parse::<SocketAddr>() {
            Ok(addr) => vec![addr],
            Err(_) => self
                .run_in_executor(move || addr.to_socket_addrs().map(|a| a.collect::<Vec<_>>()))
                .await?
                .map_err(|e| Error::io("resolving the host name", e))?,
        };
        self.create_connection_to(&addrs, options, protocol).await
    }

    /// Connects to the first of `addrs` that answers (in order, or raced
    /// with Happy Eyeballs), for callers that resolved the name themselves.
    pub async fn create_connection_to<P: Protocol>(
        &self,
        addrs: &[SocketAddr],
        options: ConnectOptions,
        protocol: P,
    ) -> Result<Transport> {
        options.check_tls_fields()?;
        let mut addrs = addrs.to_vec();
        if let Some(local) = options.local_addr {
            addrs.retain(|a| a.is_ipv6() == local.is_ipv6());
            if addrs.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("no resolved address has the family of the local address {local}"),
                ));
            }
        }
        let stream = match options.happy_eyeballs_delay {
            None => self.connect_in_turn(addrs, options.local_addr).await?,
            Some(delay) => {
                self.connect_racing(interleave_families(addrs), options.local_addr, delay)
                    .await?
            }
        };
        let Some(config) = options.tls else {
            return self.attach_stream(Stream::Tcp(stream), Box::new(protocol));
        };
        let host = match options.server_hostname {
            Some(host) => host,
            None => stream
                .peer_addr()
                .map_err(|e| Error::io("reading the peer address", e))?
                .ip()
                .to_string(),
        };
        let mut setup = TlsSetup::client(config, host);
        if let Some(timeout) = options.tls_handshake_timeout {
            setup = setup.handshake_timeout(timeout);
        }
        if let Some(timeout) = options.tls_shutdown_timeout {
            setup = setup.shutdown_timeout(timeout);
        }
        let (handshake, waiter) = self.create_future::<Result<()>>();
        let tls = setup.into_layer(Some(waiter))?;
        let transport =
            self.attach_stream_with(Stream::Tcp(stream), Box::new(protocol), None, Some(tls))?;
        handshake.await??;
        Ok(transport)
    }

    async fn connect_in_turn(
        &self,
        addrs: Vec<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> Result<TcpStream> {
        let mut last_error = None;
        for addr in addrs {
            match self.connect_one(addr, local).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(no_address))
    }

    /// Starts an attempt, then another each time `delay` passes or an
    /// attempt fails, until one connects (the others are dropped, which
    /// closes their sockets) or all have failed.
    async fn connect_racing(
        &self,
        addrs: Vec<SocketAddr>,
        local: Option<SocketAddr>,
        delay: Duration,
    ) -> Result<TcpStream> {
        let mut waiting = addrs.into_iter();
        let mut running: Vec<Attempt<'_>> = Vec::new();
        let mut last_error = None;
        let mut next_start: Option<crate::Sleep> = None;
        std::future::poll_fn(|cx| loop {
            let due = match &mut next_start {
                None => true,
                Some(timer) => Pin::new(timer).poll(cx).is_ready(),
            };
            if due || running.is_empty() {
                if let Some(addr) = waiting.next() {
                    running.push(Box::pin(self.connect_one(addr, local)));
                    next_start = Some(crate::sleep(delay));
                    // Poll the new attempt and the new timer.
                    continue;
                }
                next_start = None;
            }
            let mut index = 0;
            let mut failed = false;
            while index < running.len() {
                match running[index].as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                    Poll::Ready(Err(e)) => {
                        last_error = Some(e);
                        drop(running.swap_remove(index));
                        failed = true;
                    }
                    Poll::Pending => index += 1,
                }
            }
            if running.is_empty() && waiting.len() == 0 {
                return Poll::Ready(Err(last_error.take().unwrap_or_else(no_address)));
            }
            if failed && waiting.len() > 0 {
                // A failure starts the next attempt at once.
                next_start = None;
                continue;
            }
            return Poll::Pending;
        })
        .await
    }

    async fn connect_one(&self, addr: SocketAddr, local: Option<SocketAddr>) -> Result<TcpStream> {
        let connect_error = |e| Error::io(format!("connecting to {addr}"), e);
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM,
            Some(SockProtocol::TCP),
        )
        .map_err(connect_error)?;
        socket.set_nonblocking(true).map_err(connect_error)?;
        socket.set_tcp_nodelay(true).map_err(connect_error)?;
        if let Some(local) = local {
            socket
                .bind(&local.into())
                .map_err(|e| Error::io(format!("binding the local address {local}"), e))?;
        }
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
                self.wait_fd(fd, crate::sys::Readiness::Writable).await?;
                if let Some(e) = socket.take_error().map_err(connect_error)? {
                    return Err(connect_error(e));
                }
            }
            Err(e) => return Err(connect_error(e)),
        }
        Ok(TcpStream::from_std(socket.into()))
    }
}

fn no_address() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "the host name resolved to no address",
    )
}

/// RFC 8305 order: alternate the families, starting with the first
/// resolved address's.
fn interleave_families(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return addrs;
    };
    let first_v6 = first.is_ipv6();
    let (mut preferred, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut ordered = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_alternate_starting_with_the_first() {
        let a: Vec<SocketAddr> = ["[::1]:1", "[::2]:1", "10.0.0.1:1", "[::3]:1", "10.0.0.2:1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let ordered: Vec<String> = interleave_families(a)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            ordered,
            ["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"]
        );
    }
}
