//! The crate's one error type: an opaque [`Error`] with a [`ErrorKind`] to
//! match on and, where an operating-system call failed, the `io::Error` as
//! its [`source`](std::error::Error::source).

use std::fmt;
use std::io;

/// What went wrong, for callers that want to react to a particular case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The event loop is closed; nothing can be scheduled or run on it.
    Closed,
    /// The loop is running and the operation needs it stopped (e.g. `close`).
    Running,
    /// A loop is already running on this thread (the same one or another).
    NestedRun,
    /// `stop()` ended `run_until_complete` before its future finished.
    StoppedBeforeComplete,
    /// A future's resolver was dropped, or the task was aborted.
    Cancelled,
    /// The signal number is invalid or cannot be caught.
    InvalidSignal,
    /// The loop's blocking executor was shut down or detached.
    ExecutorShutdown,
    /// The file descriptor cannot be watched (e.g. a regular file).
    InvalidFd,
    /// A deadline passed before the operation completed.
    TimedOut,
    /// A function was called outside a running event loop where one is needed.
    NoRunningLoop,
    /// An argument was out of range or inconsistent.
    InvalidInput,
    /// User code (a blocking job, for instance) panicked.
    Panicked,
    /// The feature exists in the API but is not implemented yet.
    Unsupported,
    /// A stream reader's buffer limit was reached before what it waits
    /// for arrived: a line longer than
    /// [`StreamReader::limit`](crate::StreamReader::limit) (asyncio's
    /// `LimitOverrunError`); `StreamReader::set_limit` raises it.
    LimitOverrun,
    /// The stream ended before what was asked for arrived (asyncio's
    /// `IncompleteReadError`): [`Error::partial`] holds the bytes that did.
    IncompleteRead,
    /// An operating-system call failed; see [`Error::io_error`].
    Io,
}

/// The error type of every fallible loopcore call.
///
/// Match on [`Error::kind`]; the message says what to do about it.
///
/// One pointer wide: the details are boxed, so a `Result<T>` on the hot
/// path (a write, a read) is no bigger than its value and travels in
/// registers; building an error allocates, which only failures do.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Box<str>,
    source: Option<io::Error>,
    /// The bytes read before the end of a stream (`IncompleteRead`).
    partial: Option<Vec<u8>>,
}

/// `Result` with loopcore's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error of `kind` with a message for the user.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::build(kind, message.into(), None, None)
    }

    #[cold]
    fn build(
        kind: ErrorKind,
        message: String,
        source: Option<io::Error>,
        partial: Option<Vec<u8>>,
    ) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into_boxed_str(),
                source,
                partial,
            }),
        }
    }

    /// An [`IncompleteRead`](ErrorKind::IncompleteRead) error carrying
    /// the `partial` bytes that arrived before the end of the stream.
    pub fn incomplete_read(message: impl Into<String>, partial: Vec<u8>) -> Self {
        Self::build(
            ErrorKind::IncompleteRead,
            message.into(),
            None,
            Some(partial),
        )
    }

    /// The bytes that arrived before the stream ended, for an
    /// [`IncompleteRead`](ErrorKind::IncompleteRead) error (asyncio's
    /// `IncompleteReadError.partial`); `None` for every other kind.
    pub fn partial(&self) -> Option<&[u8]> {
        self.inner.partial.as_deref()
    }

    /// Takes the [`partial`](Self::partial) bytes out of the error.
    pub fn into_partial(self) -> Option<Vec<u8>> {
        self.inner.partial
    }

    /// True when a stream ended before what was asked for arrived.
    pub fn is_incomplete_read(&self) -> bool {
        self.inner.kind == ErrorKind::IncompleteRead
    }

    /// Wraps an operating-system error, saying what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::build(ErrorKind::Io, context.into(), Some(source), None)
    }

    pub(crate) fn closed() -> Self {
        Self::new(ErrorKind::Closed, "the event loop is closed")
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The underlying operating-system error, if there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.inner.source.as_ref()
    }

    /// True when the loop (or the handle's loop) is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == ErrorKind::Closed
    }

    /// True when the operation was cancelled or aborted.
    pub fn is_cancelled(&self) -> bool {
        self.inner.kind == ErrorKind::Cancelled
    }

    /// True when a deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::TimedOut
    }

    /// True when a stream reader's limit was reached (a line too long).
    pub fn is_limit_overrun(&self) -> bool {
        self.inner.kind == ErrorKind::LimitOverrun
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        let inner = &self.inner;
        d.field("kind", &inner.kind)
            .field("message", &inner.message);
        if let Some(source) = &inner.source {
            d.field("source", source);
        }
        if let Some(partial) = &inner.partial {
            d.field("partial_len", &partial.len());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        let kind = match err.inner.kind {
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::InvalidInput | ErrorKind::InvalidSignal | ErrorKind::InvalidFd => {
                io::ErrorKind::InvalidInput
            }
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::LimitOverrun => io::ErrorKind::InvalidData,
            ErrorKind::IncompleteRead => io::ErrorKind::UnexpectedEof,
            ErrorKind::Io => match &err.inner.source {
                Some(source) => source.kind(),
                None => io::ErrorKind::Other,
            },
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_source_and_context() {
        let err = Error::io(
            "registering fd 7",
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().starts_with("registering fd 7: "));
        assert_eq!(err.io_error().unwrap().raw_os_error(), Some(libc::EPERM));
        assert!(std::error::Error::source(&err).is_some());
        let back: io::Error = err.into();
        assert_eq!(back.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn an_error_and_a_result_of_a_word_are_one_and_two_words() {
        use std::mem::size_of;
        assert_eq!(size_of::<Error>(), size_of::<usize>());
        assert_eq!(size_of::<Result<()>>(), size_of::<usize>());
        assert_eq!(size_of::<Result<usize>>(), 2 * size_of::<usize>());
    }

    #[test]
    fn kinds_have_predicates() {
        assert!(Error::closed().is_closed());
        assert!(Error::new(ErrorKind::Cancelled, "x").is_cancelled());
        assert!(Error::new(ErrorKind::TimedOut, "x").is_timeout());
        assert!(Error::new(ErrorKind::LimitOverrun, "x").is_limit_overrun());
    }
}
