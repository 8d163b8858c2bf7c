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
}
