//! `Runtime::serve_listeners`: serving sockets that were bound elsewhere
//! (systemd socket activation through [`listen_fds`](crate::listen_fds),
//! or a predecessor in a zero-downtime restart) instead of binding.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{serve, Runtime, RuntimeHandle, ServeOptions};
use crate::{Protocol, Result};

impl RuntimeHandle {
    /// See [`Runtime::serve_listeners`].
    pub fn serve_listeners<F, P>(
        &self,
        listeners: Vec<std::net::TcpListener>,
        options: ServeOptions,
        factory: F,
    ) -> Result<Vec<SocketAddr>>
    where
        F: Fn() -> P + Send + Sync + 'static,
        P: Protocol,
    {
        let factory: serve::SendFactory =
            Arc::new(move || Box::new(factory()) as Box<dyn Protocol>);
        serve::serve_listeners(&self.shared, listeners, &options, factory)
    }
}

impl Runtime {
    /// Serves listening sockets bound elsewhere, on every loop, with
    /// protocols from `factory`; returns their addresses. With
    /// [`Balance::Acceptor`](super::Balance::Acceptor) one loop accepts and
    /// hands connections out; otherwise every loop accepts from the same
    /// socket. The options' backlog and `SO_REUSEPORT` do not apply (the
    /// socket is already listening); the rest does.
    ///
    /// ```no_run
    /// use std::net::TcpListener;
    /// use loopcore::{Runtime, ServeOptions};
    /// # #[derive(Default)] struct Echo;
    /// # impl loopcore::Protocol for Echo {
    /// #     fn connection_made(&mut self, _: loopcore::Transport) {}
    /// #     fn data_received(&mut self, _: &[u8]) {}
    /// # }
    /// // Under systemd with a .socket unit (docs/deploy.md):
    /// let listeners: Vec<TcpListener> =
    ///     loopcore::listen_fds()?.into_iter().map(TcpListener::from).collect();
    /// let runtime = Runtime::builder().build()?;
    /// runtime.serve_listeners(listeners, ServeOptions::default(), Echo::default)?;
    /// runtime.run()?;
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn serve_listeners<F, P>(
        &self,
        listeners: Vec<std::net::TcpListener>,
        options: ServeOptions,
        factory: F,
    ) -> Result<Vec<SocketAddr>>
    where
        F: Fn() -> P + Send + Sync + 'static,
        P: Protocol,
    {
        self.handle().serve_listeners(listeners, options, factory)
    }
}
