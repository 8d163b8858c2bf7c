//! "Hello, World!" through hyper on loopcore's loops. The service is here,
//! shared by the `hyper_hello` example, its tests and the tokio baseline
//! (`benches`); serving (HTTP/1.1, HTTP/2 by prior knowledge or ALPN, the
//! deadlines, the refusal of ambiguous requests) is the framework's
//! driver, [`loopcore::hyper_rt::serve_connection`].

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// What every HTTP/2 connection starts with (RFC 9113, section 3.4).
pub use loopcore::hyper_rt::H2_PREFACE;

/// The service: `200 OK`, `Hello, World!`, whatever was asked.
pub async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}
