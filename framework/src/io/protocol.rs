//! The [`Protocol`] trait: asyncio's `Protocol` callbacks as a Rust trait
//! with no-op defaults.

use std::io;

use super::Transport;

/// Callbacks for one stream connection. Every method runs on the loop that
/// owns the connection, never re-entrantly: a call that a method triggers on
/// its own connection (e.g. `pause_writing` after a large `write`) is
/// delivered after the method returns.
///
/// ```
/// use loopcore::{Protocol, Transport};
///
/// /// Echoes every byte back.
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
///
/// impl Protocol for Echo {
///     fn connection_made(&mut self, transport: Transport) {
///         self.0 = Some(transport);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         if let Some(t) = &self.0 {
///             let _ = t.write(data);
///         }
///     }
/// }
/// ```
pub trait Protocol: 'static {
    /// The connection is up; keep `transport` to write and close.
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// Bytes arrived. `data` borrows the loop's read buffer: copy what you
    /// keep.
    fn data_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The peer closed its sending side. Return `true` to keep the
    /// connection half-open (you may still write, then close); `false` (the
    /// default) closes the transport.
    fn eof_received(&mut self) -> bool {
        false
    }

    /// The connection is gone: `None` after `close`/`abort` or a clean end,
    /// `Some(error)` when it failed. Called exactly once.
    fn connection_lost(&mut self, error: Option<io::Error>) {
        let _ = error;
    }

    /// The transport's write buffer went above its high-water mark.
    fn pause_writing(&mut self) {}

    /// The write buffer drained to its low-water mark after a pause.
    fn resume_writing(&mut self) {}

    /// The runtime is shutting down gracefully (see `Runtime::shutdown`):
    /// finish what is in flight and close. An HTTP server answers the
    /// request it is reading (with `Connection: close`) and closes an idle
    /// keep-alive connection. The default does nothing; a connection still
    /// open at the shutdown deadline is aborted.
    fn shutdown_requested(&mut self) {}

    /// The buffered-reading side of this protocol, if it has one; see
    /// [`Buffered`]. Not meant to be implemented by hand.
    #[doc(hidden)]
    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        None
    }
}

/// asyncio's `BufferedProtocol`: the protocol lends its own buffer and the
/// transport reads straight into it, with no copy out of the loop's read
/// buffer. Serve one with [`Buffered`].
///
/// ```
/// use loopcore::{Buffered, BufferedProtocol, Transport};
///
/// /// Counts bytes without ever copying them.
/// struct Counter { buf: Vec<u8>, total: usize }
///
/// impl BufferedProtocol for Counter {
///     fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
///         &mut self.buf
///     }
///     fn buffer_updated(&mut self, nbytes: usize) {
///         self.total += nbytes;
///     }
/// }
/// let protocol = Buffered(Counter { buf: vec![0; 16 * 1024], total: 0 });
/// # let _ = protocol;
/// ```
pub trait BufferedProtocol: 'static {
    /// The connection is up.
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// A buffer to read into; `size_hint` is what the loop would read at
    /// most. An empty buffer aborts the connection.
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8];

    /// `nbytes` bytes were written at the start of the last buffer.
    fn buffer_updated(&mut self, nbytes: usize);

    /// As [`Protocol::eof_received`].
    fn eof_received(&mut self) -> bool {
        false
    }

    /// As [`Protocol::connection_lost`].
    fn connection_lost(&mut self, error: Option<io::Error>) {
        let _ = error;
    }

    /// As [`Protocol::pause_writing`].
    fn pause_writing(&mut self) {}

    /// As [`Protocol::resume_writing`].
    fn resume_writing(&mut self) {}

    /// As [`Protocol::shutdown_requested`].
    fn shutdown_requested(&mut self) {}
}

/// Serves a [`BufferedProtocol`] wherever a [`Protocol`] is expected.
#[derive(Debug)]
pub struct Buffered<P>(pub P);

impl<P: BufferedProtocol> Protocol for Buffered<P> {
    fn connection_made(&mut self, transport: Transport) {
        self.0.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        // Only reached if a caller feeds data by hand: copy it in.
        let mut rest = data;
        while !rest.is_empty() {
            let buf = self.0.get_buffer(rest.len());
            let n = buf.len().min(rest.len());
            if n == 0 {
                return;
            }
            buf[..n].copy_from_slice(&rest[..n]);
            self.0.buffer_updated(n);
            rest = &rest[n..];
        }
    }

    fn eof_received(&mut self) -> bool {
        self.0.eof_received()
    }

    fn connection_lost(&mut self, error: Option<io::Error>) {
        self.0.connection_lost(error);
    }

    fn pause_writing(&mut self) {
        self.0.pause_writing();
    }

    fn resume_writing(&mut self) {
        self.0.resume_writing();
    }

    fn shutdown_requested(&mut self) {
        self.0.shutdown_requested();
    }

    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        Some(&mut self.0)
    }
}
