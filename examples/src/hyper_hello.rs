//! "Hello, World!" through hyper on loopcore's loops: HTTP/1.1, and
//! HTTP/2 with prior knowledge (plain TCP, sniffed from the connection
//! preface) or by ALPN (TLS). The service and the per-connection code are
//! here, shared by the `hyper_hello` example and its tests.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response};
use loopcore::hyper_rt::{LoopExecutor, LoopTimer};
use loopcore::{IoStream, StreamReader, StreamWriter};

/// What every HTTP/2 connection starts with (RFC 9113, section 3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The service: `200 OK`, `Hello, World!`, whatever was asked.
pub async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

/// Which HTTP a connection speaks: ALPN's word over TLS, else HTTP/2 if
/// it opens with the preface (prior knowledge), else HTTP/1.1.
async fn speaks_h2(reader: &mut StreamReader, writer: &StreamWriter) -> bool {
    match writer.transport().tls_info() {
        Some(info) => info.alpn_protocol.as_deref() == Some(b"h2"),
        None => reader
            .peek_with(|bytes| {
                // Undecided while what came so far could be the preface; a
                // short HTTP/1 request is told apart at its first byte.
                let open = bytes.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(bytes);
                (!open).then(|| bytes.starts_with(H2_PREFACE))
            })
            .await
            .is_ok_and(|h2| h2 == Some(true)),
    }
}

/// Serves one connection with [`hello`] until the client is done.
pub async fn serve_connection(mut reader: StreamReader, writer: StreamWriter) {
    let h2 = speaks_h2(&mut reader, &writer).await;
    let io = IoStream::new(reader, writer);
    let served = if h2 {
        http2::Builder::new(LoopExecutor)
            .timer(LoopTimer)
            .serve_connection(io, service_fn(hello))
            .await
    } else {
        http1::Builder::new()
            .timer(LoopTimer)
            .serve_connection(io, service_fn(hello))
            .await
    };
    if let Err(e) = served {
        // A client going away mid-request is routine; say so only in debug.
        tracing::debug!(error = %e, "hyper_hello: connection ended with an error");
    }
}
