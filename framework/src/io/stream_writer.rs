//! [`StreamWriter`], the writing half of a stream pair: writes through the
//! transport, `drain` (flow control), `write_eof`, `close` and
//! `wait_closed`. The reading half and the protocol under both are in
//! `io::streams`.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use super::streams::Shared;
use super::transport::Transport;
use crate::{Error, ErrorKind, Result};

/// The writing half of a stream connection.
pub struct StreamWriter {
    state: Shared,
    transport: Transport,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("transport", &self.transport)
            .finish()
    }
}

impl StreamWriter {
    pub(super) fn new(state: Shared, transport: Transport) -> Self {
        Self { state, transport }
    }
}

impl StreamWriter {
    /// Queues `data` (see [`Transport::write`]); await [`drain`](Self::drain)
    /// to respect flow control.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        self.transport.write(data)
    }

    /// Flushes what was written, then waits while the write buffer is above
    /// its high-water mark; fails if the connection was lost with an error.
    pub async fn drain(&self) -> Result<()> {
        // Writes are normally flushed when the current callback returns; a
        // task awaiting drain needs the flush (and its flow-control verdict)
        // now.
        self.transport.flush_now();
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            if state.lost || !state.write_paused {
                return Poll::Ready(());
            }
            state.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let state = self.state.borrow();
        if state.lost {
            if let Some(error) = &state.error {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("the connection was lost: {error}"),
                ));
            }
        }
        Ok(())
    }

    /// Half-closes after the buffer is flushed.
    pub fn write_eof(&self) -> Result<()> {
        self.transport.write_eof()
    }

    /// Closes the connection after flushing.
    pub fn close(&self) {
        self.transport.close();
    }

    /// Waits until the connection is gone.
    pub async fn wait_closed(&self) {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            if state.lost {
                return Poll::Ready(());
            }
            state.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The underlying transport (addresses, buffer limits).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The write path of the IO traits: queues `buf` unless the transport
    /// is above its high-water mark (then pending until it drains).
    pub(super) fn poll_write_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        {
            let mut state = self.state.borrow_mut();
            if state.write_paused && !state.lost {
                state.writers.push(cx.waker().clone());
                return Poll::Pending;
            }
        }
        Poll::Ready(
            self.transport
                .write(buf)
                .map(|()| buf.len())
                .map_err(io::Error::from),
        )
    }

    /// Flushes now, then waits while above the high-water mark; the
    /// connection's error once it is lost.
    pub(super) fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.flush_now();
        let mut state = self.state.borrow_mut();
        if state.lost {
            return Poll::Ready(match &state.error {
                Some(error) => Err(io::Error::new(error.kind(), error.to_string())),
                None => Ok(()),
            });
        }
        if state.write_paused {
            state.writers.push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// Closes (after flushing) and waits for the connection to go.
    pub(super) fn poll_close_connection(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.close();
        let mut state = self.state.borrow_mut();
        if state.lost {
            return Poll::Ready(Ok(()));
        }
        state.writers.push(cx.waker().clone());
        Poll::Pending
    }

    /// Ends the writing side: a half-close after what is queued where the
    /// transport can (`write_eof`), else a close (TLS sends `close_notify`).
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    pub(super) fn poll_shutdown_write(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.transport.can_write_eof() {
            return Poll::Ready(self.transport.write_eof().map_err(io::Error::from));
        }
        self.poll_close_connection(cx)
    }
}

impl Drop for StreamWriter {
    /// Dropping the writer closes the connection (after flushing), so a
    /// forgotten stream never leaks its socket.
    fn drop(&mut self) {
        self.transport.close();
    }
}
