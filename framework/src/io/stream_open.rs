//! Opening stream pairs: asyncio's `open_connection`, `start_server`,
//! `open_unix_connection` and `start_unix_server`, each a protocol-level
//! call (`create_connection`, `create_server`, ...) with a
//! [`StreamProtocol`] under it.

use std::future::Future;
use std::rc::Rc;

use super::connect::ConnectOptions;
use super::protocol::Protocol;
use super::server::Server;
use super::stream_writer::StreamWriter;
use super::streams::{pair, Shared, StreamProtocol, StreamReader};
use super::tcp::ServerOptions;
use super::tls::TlsSetup;
use crate::{EventLoop, Result};

impl EventLoop {
    /// Connects to `addr` and returns a stream pair (asyncio's
    /// `open_connection`).
    pub async fn open_connection(&self, addr: String) -> Result<(StreamReader, StreamWriter)> {
        self.open_connection_with(addr, ConnectOptions::default())
            .await
    }

    /// [`open_connection`](Self::open_connection) with the options of
    /// [`create_connection_with`](Self::create_connection_with): TLS, a
    /// local address, Happy Eyeballs.
    pub async fn open_connection_with(
        &self,
        addr: String,
        options: ConnectOptions,
    ) -> Result<(StreamReader, StreamWriter)> {
        let state: Shared = Rc::default();
        let protocol = StreamProtocol::new(state.clone(), None);
        let transport = self.create_connection_with(addr, options, protocol).await?;
        Ok(pair(&state, transport))
    }

    /// Serves each connection with `client_connected(reader, writer)`, run as
    /// a task on this loop (asyncio's `start_server`).
    ///
    /// ```
    /// use loopcore::{EventLoop, ServerOptions};
    /// let lp = EventLoop::new()?;
    /// let server = lp.start_server("127.0.0.1:0", ServerOptions::default(), |mut reader, writer| async move {
    ///     while let Ok(line) = reader.read_line().await {
    ///         if line.is_empty() || writer.write(&line).is_err() {
    ///             break;
    ///         }
    ///     }
    ///     writer.close();
    /// })?;
    /// let addr = server.sockets()[0];
    /// let echoed = lp.run_until_complete(async move {
    ///     let lp = EventLoop::current();
    ///     let (mut reader, writer) = lp.open_connection(addr.to_string()).await?;
    ///     writer.write(b"hello\n")?;
    ///     reader.read_line().await
    /// })??;
    /// assert_eq!(echoed, b"hello\n");
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn start_server<A, F, Fut>(
        &self,
        addr: A,
        options: ServerOptions,
        client_connected: F,
    ) -> Result<Server>
    where
        A: std::net::ToSocketAddrs,
        F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let client_connected = Rc::new(client_connected);
        self.create_server(addr, options, move || {
            let client_connected = client_connected.clone();
            spawning_protocol(move |reader, writer| client_connected(reader, writer))
        })
    }
}

/// The protocol of a stream server: once the connection is up, runs
/// `client_connected(reader, writer)` as a task on the connection's loop.
pub(crate) fn spawning_protocol<Fut>(
    client_connected: impl FnOnce(StreamReader, StreamWriter) -> Fut + 'static,
) -> impl Protocol
where
    Fut: Future<Output = ()> + 'static,
{
    StreamProtocol::new(
        Rc::default(),
        Some(Box::new(move |reader, writer| {
            if let Some(lp) = EventLoop::try_current() {
                lp.spawn(client_connected(reader, writer)).detach();
            }
        })),
    )
}

impl EventLoop {
    /// Connects to the Unix socket `name` (a path, or a Linux abstract
    /// name written `@name`) and returns a stream pair (asyncio's
    /// `open_unix_connection`).
    ///
    /// ```
    /// use loopcore::{EventLoop, ServerOptions};
    /// let lp = EventLoop::new()?;
    /// let name = format!("@loopcore-doc-{}", std::process::id());
    /// let _server = lp.start_unix_server(&name, ServerOptions::default(), |_reader, writer| async move {
    ///     writer.write(b"hello\n").ok();
    /// })?;
    /// let line = lp.run_until_complete(async {
    ///     let (mut reader, _writer) = EventLoop::current().open_unix_connection(&name).await?;
    ///     reader.read_line().await
    /// })??;
    /// assert_eq!(line, b"hello\n");
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub async fn open_unix_connection(&self, name: &str) -> Result<(StreamReader, StreamWriter)> {
        let state: Shared = Rc::default();
        let protocol = StreamProtocol::new(state.clone(), None);
        let transport = self.create_unix_connection(name, protocol).await?;
        Ok(pair(&state, transport))
    }

    /// [`open_unix_connection`](Self::open_unix_connection) speaking TLS
    /// (asyncio's `ssl=` and `server_hostname=`): returns once the
    /// handshake has succeeded.
    pub async fn open_unix_connection_tls(
        &self,
        name: &str,
        setup: TlsSetup,
    ) -> Result<(StreamReader, StreamWriter)> {
        let state: Shared = Rc::default();
        let protocol = StreamProtocol::new(state.clone(), None);
        let transport = self
            .create_unix_connection_tls(name, protocol, setup)
            .await?;
        Ok(pair(&state, transport))
    }

    /// Serves each connection to the Unix socket `name` with
    /// `client_connected(reader, writer)`, run as a task on this loop
    /// (asyncio's `start_unix_server`); the socket file is handled as by
    /// [`create_unix_server`](Self::create_unix_server).
    pub fn start_unix_server<F, Fut>(
        &self,
        name: &str,
        options: ServerOptions,
        client_connected: F,
    ) -> Result<Server>
    where
        F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let client_connected = Rc::new(client_connected);
        self.create_unix_server(name, options, move || {
            let client_connected = client_connected.clone();
            spawning_protocol(move |reader, writer| client_connected(reader, writer))
        })
    }
}
