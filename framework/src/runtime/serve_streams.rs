//! `Runtime::serve_streams`: [`Runtime::serve`](super::Runtime::serve) in
//! async style, each connection a task with a reader and a writer (what
//! [`EventLoop::start_server`](crate::EventLoop::start_server) is to
//! `create_server`), on every loop.

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use super::{Runtime, RuntimeHandle, ServeOptions};
use crate::{Result, StreamReader, StreamWriter};

impl RuntimeHandle {
    /// See [`Runtime::serve_streams`].
    pub fn serve_streams<A, F, Fut>(
        &self,
        addr: A,
        options: ServeOptions,
        client_connected: F,
    ) -> Result<Vec<SocketAddr>>
    where
        A: ToSocketAddrs,
        F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let client_connected = Arc::new(client_connected);
        self.serve(addr, options, move || {
            let client_connected = client_connected.clone();
            crate::io::spawning_protocol(move |reader, writer| client_connected(reader, writer))
        })
    }
}

impl Runtime {
    /// Serves `addr` on every loop, running `client_connected(reader,
    /// writer)` as a task on the loop that serves each connection. The
    /// handler is shared by the loops (`Send + Sync`); the futures it
    /// makes stay on their loop and need not be `Send`.
    ///
    /// ```
    /// use loopcore::{Runtime, ServeOptions};
    /// let runtime = Runtime::builder().loops(2).build()?;
    /// let addrs = runtime.serve_streams("127.0.0.1:0", ServeOptions::default(), |mut reader, writer| async move {
    ///     while let Ok(line) = reader.read_line().await {
    ///         if line.is_empty() || writer.write(&line).is_err() {
    ///             break;
    ///         }
    ///     }
    /// })?;
    /// # let _ = addrs;
    /// runtime.shutdown(std::time::Duration::ZERO);
    /// runtime.run()?;
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn serve_streams<A, F, Fut>(
        &self,
        addr: A,
        options: ServeOptions,
        client_connected: F,
    ) -> Result<Vec<SocketAddr>>
    where
        A: ToSocketAddrs,
        F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.handle().serve_streams(addr, options, client_connected)
    }
}
