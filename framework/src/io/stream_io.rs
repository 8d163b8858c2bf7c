//! The ecosystem's IO traits on loopcore's streams: `futures_io`'s
//! `AsyncRead`/`AsyncWrite` always, tokio's behind the `tokio-io` feature
//! (tokio with no runtime), hyper's `rt::Read`/`rt::Write` behind the
//! `hyper` feature; on the halves and on [`IoStream`], the two joined for
//! crates that want one IO object (hyper, tokio-util's `Framed`).
//!
//! Every read path copies once, from the stream's buffer straight into the
//! caller's (a `ReadBuf` or hyper's cursor included): no staging buffer.
//! Writes queue on the transport and are pending while it is above its
//! high-water mark; flush is `drain`; shutdown is a half-close where the
//! transport can (`write_eof`), else a close.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::stream_writer::StreamWriter;
use super::streams::StreamReader;
use super::transport::Transport;

/// A stream connection's reader and writer as one IO object.
///
/// ```
/// use futures_io::{AsyncRead, AsyncWrite};
/// fn is_io<T: AsyncRead + AsyncWrite + Unpin>() {}
/// is_io::<loopcore::IoStream>();
/// ```
#[derive(Debug)]
pub struct IoStream {
    reader: StreamReader,
    writer: StreamWriter,
}

impl IoStream {
    /// Joins the two halves of one connection.
    pub fn new(reader: StreamReader, writer: StreamWriter) -> Self {
        Self { reader, writer }
    }

    /// The halves again.
    pub fn into_split(self) -> (StreamReader, StreamWriter) {
        (self.reader, self.writer)
    }

    /// The transport underneath (addresses, TLS details, buffer limits).
    pub fn transport(&self) -> &Transport {
        self.writer.transport()
    }
}

impl From<(StreamReader, StreamWriter)> for IoStream {
    fn from((reader, writer): (StreamReader, StreamWriter)) -> Self {
        Self::new(reader, writer)
    }
}

fn copy_into(buf: &mut [u8]) -> impl FnOnce(&[u8]) + '_ {
    |bytes| buf[..bytes.len()].copy_from_slice(bytes)
}

/// `Ok(0)` at end of stream.
impl futures_io::AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let capacity = buf.len();
        self.get_mut().poll_read_into(cx, capacity, copy_into(buf))
    }
}

/// `poll_write` queues the bytes, `poll_flush` is
/// [`StreamWriter::drain`], `poll_close` closes and waits for the
/// connection to go.
impl futures_io::AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_bytes(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_drain(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_connection(cx)
    }
}

impl futures_io::AsyncRead for IoStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for IoStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writer.poll_write_bytes(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_drain(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_close_connection(cx)
    }
}

#[cfg(feature = "tokio-io")]
mod tokio_io {
    use super::*;
    use tokio::io::ReadBuf;

    fn poll_read_buf(
        reader: &mut StreamReader,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let capacity = buf.remaining();
        reader
            .poll_read_into(cx, capacity, |bytes| buf.put_slice(bytes))
            .map_ok(|_| ())
    }

    /// tokio's end of stream: a read that fills nothing.
    impl tokio::io::AsyncRead for StreamReader {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            poll_read_buf(self.get_mut(), cx, buf)
        }
    }

    /// `poll_shutdown` half-closes (`write_eof`) where the transport can,
    /// else closes.
    impl tokio::io::AsyncWrite for StreamWriter {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_bytes(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.poll_drain(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.poll_shutdown_write(cx)
        }
    }

    impl tokio::io::AsyncRead for IoStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            poll_read_buf(&mut self.get_mut().reader, cx, buf)
        }
    }

    impl tokio::io::AsyncWrite for IoStream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writer.poll_write_bytes(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.writer.poll_drain(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.writer.poll_shutdown_write(cx)
        }
    }
}

#[cfg(feature = "hyper")]
mod hyper_io {
    use super::*;
    use hyper::rt::ReadBufCursor;

    /// hyper's end of stream: a read that fills nothing.
    impl hyper::rt::Read for IoStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            let capacity = buf.remaining();
            self.get_mut()
                .reader
                .poll_read_into(cx, capacity, |bytes| buf.put_slice(bytes))
                .map_ok(|_| ())
        }
    }

    impl hyper::rt::Write for IoStream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writer.poll_write_bytes(cx, buf)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.writer.poll_drain(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.writer.poll_shutdown_write(cx)
        }
    }
}
