//! Turning a live stream into TLS: asyncio's `start_tls` (a plaintext
//! connection upgraded in place, as STARTTLS protocols do), and the
//! TLS forms of `connect_accepted_socket` and `create_unix_connection`.
//!
//! An upgrade gives the connection a new generation in the loop's table,
//! so the old [`Transport`] goes stale (its calls fail with
//! [`ErrorKind::Closed`]) and the old protocol hears nothing more; bytes it
//! wrote before the upgrade still leave first, in the clear.

use std::rc::Rc;

use super::protocol::Protocol;
use super::stream::Stream;
use super::transport::Transport;
use crate::tls::TlsSetup;
use crate::{Error, ErrorKind, EventLoop, Result};

impl EventLoop {
    /// Upgrades `transport`'s connection to TLS and returns the new
    /// transport once the handshake has succeeded (asyncio's `start_tls`).
    /// `protocol` takes over the connection: its `connection_made` gets the
    /// new transport when the handshake completes (asyncio calls no
    /// `connection_made` here; a Rust protocol moved into the loop has no
    /// other way to receive its transport). `transport` is unusable
    /// afterwards, whatever the outcome; a failed or timed-out handshake
    /// closes the connection and returns the error.
    ///
    /// ```no_run
    /// # async fn upgrade(lp: loopcore::EventLoop, plain: loopcore::Transport,
    /// #     config: std::sync::Arc<loopcore::rustls::ClientConfig>) -> loopcore::Result<()> {
    /// struct Secure;
    /// impl loopcore::Protocol for Secure {}
    /// let secure = lp.start_tls(&plain, Secure, loopcore::TlsSetup::client(config, "mail.example")).await?;
    /// secure.write(b"EHLO me\r\n")?;
    /// # Ok(()) }
    /// ```
    pub async fn start_tls<P: Protocol>(
        &self,
        transport: &Transport,
        protocol: P,
        setup: TlsSetup,
    ) -> Result<Transport> {
        let (handshake, waiter) = self.create_future::<Result<()>>();
        let (layer, timeout) = setup.into_layer(Some(waiter))?;
        let (core, old) = transport
            .parts()
            .filter(|(core, _)| Rc::ptr_eq(core, &self.core))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "start_tls needs a transport of the loop it is called on",
                )
            })?;
        let protocol: Box<dyn Protocol> = Box::new(protocol);
        let (key, replaced, idle_timeout) = {
            let Ok(mut conns) = core.io.conns.try_borrow_mut() else {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "start_tls was polled while the loop's connection table is in use",
                ));
            };
            conns
                .get_mut(old)
                .ok_or_else(|| Error::new(ErrorKind::Closed, "the transport is closed"))?
                .check_start_tls()?;
            let (key, conn) = conns.renumber(old).expect("looked up above");
            let switched = conn.switch_to_tls(&core, old, key, layer, protocol);
            (key, switched.replaced, switched.idle_timeout)
        };
        drop(replaced);
        if idle_timeout.is_some() {
            self.set_idle_timeout(key, idle_timeout);
        }
        self.start_handshake(key, timeout);
        handshake.await??;
        Ok(Transport::from_parts(&core, key))
    }

    /// [`connect_accepted_socket`](Self::connect_accepted_socket) speaking
    /// TLS (asyncio's `ssl=` argument): returns once the handshake has
    /// succeeded. Usually the server side, for a socket accepted elsewhere.
    pub async fn connect_accepted_socket_tls<P: Protocol>(
        &self,
        stream: std::net::TcpStream,
        protocol: P,
        setup: TlsSetup,
    ) -> Result<Transport> {
        let stream = self.adopt_stream(stream)?;
        self.attach_tls(stream, Box::new(protocol), setup).await
    }

    /// [`create_unix_connection`](Self::create_unix_connection) speaking
    /// TLS: returns once the handshake has succeeded.
    pub async fn create_unix_connection_tls<P: Protocol>(
        &self,
        name: &str,
        protocol: P,
        setup: TlsSetup,
    ) -> Result<Transport> {
        let stream = self.connect_unix_stream(name).await?;
        self.attach_tls(Stream::Unix(stream), Box::new(protocol), setup)
            .await
    }

    /// Puts `stream` under the loop's care behind a handshake and waits for
    /// it.
    pub(crate) async fn attach_tls(
        &self,
        stream: Stream,
        protocol: Box<dyn Protocol>,
        setup: TlsSetup,
    ) -> Result<Transport> {
        let (handshake, waiter) = self.create_future::<Result<()>>();
        let tls = setup.into_layer(Some(waiter))?;
        let transport = self.attach_stream_with(stream, protocol, None, Some(tls))?;
        handshake.await??;
        Ok(transport)
    }
}
