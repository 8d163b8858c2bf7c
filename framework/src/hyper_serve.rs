//! The hyper serving driver (feature `hyper`): [`serve_connection`] serves
//! one accepted connection with a hyper service, safe by default. It picks
//! HTTP/1.1 or HTTP/2 (ALPN over TLS; the connection preface, within a
//! deadline, on plain TCP), runs hyper's connection on the loop
//! ([`LoopExecutor`], [`LoopTimer`]) with [`HttpTimeouts`] applied, and
//! refuses HTTP/1 requests whose framing a proxy could read differently
//! (request smuggling) before they reach the service.
//! Re-exported from [`hyper_rt`](crate::hyper_rt), whose documentation
//! has the example.

use std::error::Error as StdError;

use http_body_util::{Either, Empty};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, CONNECTION, HOST, TRANSFER_ENCODING};
use hyper::server::conn::{http1, http2};
use hyper::service::{service_fn, Service};
use hyper::{Method, Request, Response, StatusCode, Version};

use crate::hyper_rt::{LoopExecutor, LoopTimer};
use crate::{HttpTimeouts, IoStream, StreamReader, StreamWriter};

/// What every HTTP/2 connection starts with (RFC 9113, section 3.4):
/// [`serve_connection`] speaks HTTP/2 on plain TCP to a connection that
/// opens with it (prior knowledge).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The response body [`serve_connection`] hands hyper: the service's own,
/// or the empty one of a request it refused.
type GuardedBody<B> = Either<B, Empty<<B as Body>::Data>>;

/// How [`serve_connection`] serves a connection. The defaults are the safe
/// ones: [`HttpTimeouts::default`] (header 30 s, idle 60 s) and HTTP/2 by
/// prior knowledge allowed.
///
/// ```
/// use std::time::Duration;
/// use loopcore::hyper_rt::HyperServeOptions;
/// use loopcore::HttpTimeouts;
///
/// let mut options = HyperServeOptions::default()
///     .timeouts(HttpTimeouts::default().idle(Some(Duration::from_secs(10))))
///     .h2_prior_knowledge(false);
/// // hyper's own settings, except the timer and the header timeout,
/// // which come from `timeouts`:
/// options.http2.max_concurrent_streams(64);
/// assert_eq!(options.timeouts.header, Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HyperServeOptions {
    /// The deadlines: `header` bounds the protocol sniff (from the start
    /// of [`serve_connection`], about the accept) and each HTTP/1 request
    /// head (hyper's `header_read_timeout`, which also closes an HTTP/1
    /// keep-alive connection that sends no new request for that long);
    /// `idle` closes a connection on which no byte moved, either way, for
    /// that long (HTTP/1 and HTTP/2 alike). `None` turns one off; an idle
    /// of `None` leaves the transport's own (`ServeOptions::idle_timeout`)
    /// alone.
    pub timeouts: HttpTimeouts,
    /// Whether a plain-TCP connection that opens with [`H2_PREFACE`] is
    /// served HTTP/2 (default `true`); with `false` every plain-TCP
    /// connection is HTTP/1 and nothing is sniffed. Over TLS, ALPN
    /// decides either way.
    pub h2_prior_knowledge: bool,
    /// hyper's HTTP/1 settings. The driver sets its timer ([`LoopTimer`])
    /// and `header_read_timeout` (from [`timeouts`](Self::timeouts)).
    pub http1: http1::Builder,
    /// hyper's HTTP/2 settings. The driver sets its timer ([`LoopTimer`]).
    pub http2: http2::Builder<LoopExecutor>,
}

impl Default for HyperServeOptions {
    fn default() -> Self {
        Self {
            timeouts: HttpTimeouts::default(),
            h2_prior_knowledge: true,
            http1: http1::Builder::new(),
            http2: http2::Builder::new(LoopExecutor),
        }
    }
}

impl HyperServeOptions {
    /// Sets the deadlines (see [`HttpTimeouts`]).
    pub fn timeouts(mut self, timeouts: HttpTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Allows (`true`, the default) or refuses HTTP/2 by prior knowledge
    /// on plain TCP.
    pub fn h2_prior_knowledge(mut self, allow: bool) -> Self {
        self.h2_prior_knowledge = allow;
        self
    }
}

/// Serves one connection with `service` until the client is done, the
/// connection fails, or a deadline passes; for
/// [`Runtime::serve_streams`](crate::Runtime::serve_streams) and
/// [`EventLoop::start_server`](crate::EventLoop::start_server) handlers
/// (see the example in [`hyper_rt`](crate::hyper_rt)).
///
/// - **Protocol.** Over TLS, ALPN's `h2` means HTTP/2, anything else
///   HTTP/1.1. On plain TCP, a connection that opens with [`H2_PREFACE`]
///   is HTTP/2 (when [`HyperServeOptions::h2_prior_knowledge`] allows it),
///   anything else HTTP/1.1, told apart at the first byte that differs.
///   The sniff must finish within `timeouts.header` of the call, however
///   the bytes trickle in; else the connection is closed.
/// - **Deadlines.** `timeouts.idle` goes on the transport
///   ([`Transport::set_idle_timeout`](crate::Transport::set_idle_timeout)):
///   a connection on which nothing moved for that long is closed. Each
///   HTTP/1 request head must arrive within `timeouts.header` (hyper's
///   `header_read_timeout`, counted from when hyper starts waiting for it:
///   the end of the sniff for the first, the previous answer for the
///   next, so a keep-alive connection that sends nothing more is closed
///   after `header` too); hyper closes the connection when it passes,
///   without an answer.
/// - **Requests refused before the service** (answered with an empty body,
///   and on HTTP/1 with `Connection: close`, so the connection ends after
///   the answer and nothing pipelined behind it is read): on HTTP/1,
///   `400 Bad Request` when `Transfer-Encoding` comes in several fields,
///   or names a coding twice or `chunked` anywhere but last (RFC 9112
///   §6.1, request smuggling: a proxy in front could frame the body
///   otherwise), and when an HTTP/1.1 request has no `Host` or several
///   (RFC 9112 §3.2; several for HTTP/1.0 too); on both HTTP versions,
///   `501 Not Implemented` for `CONNECT` (no tunnels).
///
/// Errors end the connection and are logged at debug level (`tracing`):
/// a client going away is routine.
pub async fn serve_connection<S, B>(
    mut reader: StreamReader,
    writer: StreamWriter,
    service: S,
    options: HyperServeOptions,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: 'static,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let HyperServeOptions {
        timeouts,
        h2_prior_knowledge,
        mut http1,
        mut http2,
    } = options;
    if let Some(idle) = timeouts.idle {
        let _ = writer.transport().set_idle_timeout(Some(idle));
    }
    let Some(h2) = speaks_h2(&mut reader, &writer, timeouts, h2_prior_knowledge).await else {
        writer.close();
        return;
    };
    let http1_framing = !h2;
    let guarded = service_fn(move |request: Request<Incoming>| {
        let answer = match refusal(&request, http1_framing) {
            None => Ok(service.call(request)),
            Some(status) => Err(status),
        };
        async move {
            match answer {
                Ok(response) => response.await.map(|r| r.map(Either::Left)),
                Err(status) => Ok(refused::<B>(status, http1_framing)),
            }
        }
    });
    let io = IoStream::new(reader, writer);
    let served = if h2 {
        http2.timer(LoopTimer).serve_connection(io, guarded).await
    } else {
        http1
            .timer(LoopTimer)
            .header_read_timeout(timeouts.header)
            .serve_connection(io, guarded)
            .await
    };
    if let Err(error) = served {
        tracing::debug!(%error, h2, "hyper connection ended with an error");
    }
}

/// Which HTTP a connection speaks (`Some(true)`: HTTP/2), or `None` when
/// it should be closed: the sniff's deadline passed, the connection failed,
/// or it ended before saying.
async fn speaks_h2(
    reader: &mut StreamReader,
    writer: &StreamWriter,
    timeouts: HttpTimeouts,
    h2_prior_knowledge: bool,
) -> Option<bool> {
    if let Some(info) = writer.transport().tls_info() {
        return Some(info.alpn_protocol.as_deref() == Some(b"h2"));
    }
    if !h2_prior_knowledge {
        return Some(false);
    }
    let sniff = reader.peek_with(|bytes| {
        // Undecided while what came so far could be the preface; an HTTP/1
        // request is told apart at its first byte.
        let open = bytes.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(bytes);
        (!open).then(|| bytes.starts_with(H2_PREFACE))
    });
    let sniffed = match timeouts.header {
        Some(limit) => match crate::timeout(limit, sniff).await {
            Ok(sniffed) => sniffed,
            Err(_) => {
                tracing::debug!(
                    ?limit,
                    "hyper connection: no protocol within the header timeout"
                );
                return None;
            }
        },
        None => sniff.await,
    };
    sniffed.ok().flatten()
}

/// Why `request` is answered without the service, if it is.
fn refusal(request: &Request<Incoming>, http1_framing: bool) -> Option<StatusCode> {
    if request.method() == Method::CONNECT {
        return Some(StatusCode::NOT_IMPLEMENTED);
    }
    if !http1_framing {
        // HTTP/2 frames its bodies itself, and h2 refuses connection
        // headers such as `Transfer-Encoding`.
        return None;
    }
    // One pass over the fields: two `get_all` lookups hash both names,
    // which cost more than walking the few fields of a request.
    let mut hosts = 0usize;
    let mut codings = TransferCodings::default();
    for (name, value) in request.headers() {
        if name == HOST {
            hosts += 1;
        } else if name == TRANSFER_ENCODING {
            codings.note(value);
        }
    }
    if !codings.unambiguous() {
        return Some(StatusCode::BAD_REQUEST);
    }
    if hosts > 1 || (hosts == 0 && request.version() == Version::HTTP_11) {
        return Some(StatusCode::BAD_REQUEST);
    }
    None
}

/// The `Transfer-Encoding` fields of a request, as seen one by one.
#[derive(Default)]
struct TransferCodings<'a> {
    fields: usize,
    first: Option<&'a HeaderValue>,
}

impl<'a> TransferCodings<'a> {
    fn note(&mut self, field: &'a HeaderValue) {
        self.fields += 1;
        self.first.get_or_insert(field);
    }

    /// Whether the body's length can be read only one way: no
    /// `Transfer-Encoding`, or one field that names no coding twice and
    /// has `chunked` last if at all. (hyper itself refuses a last coding
    /// other than `chunked` and conflicting `Content-Length`s, and reads a
    /// request with both `Transfer-Encoding` and `Content-Length` by the
    /// former, drops the latter, and closes the connection after it.)
    fn unambiguous(&self) -> bool {
        match (self.fields, self.first) {
            (0, _) | (_, None) => true,
            (1, Some(field)) => coding_list_is_unambiguous(field),
            _ => false,
        }
    }
}

/// [`TransferCodings::unambiguous`] of a whole header map.
#[cfg(test)]
fn framing_is_unambiguous(headers: &hyper::header::HeaderMap) -> bool {
    let mut codings = TransferCodings::default();
    for field in headers.get_all(TRANSFER_ENCODING) {
        codings.note(field);
    }
    codings.unambiguous()
}

/// One `Transfer-Encoding` field names no coding twice and has `chunked`
/// last if at all.
fn coding_list_is_unambiguous(field: &HeaderValue) -> bool {
    let Ok(field) = field.to_str() else {
        return false;
    };
    // Coding names without their parameters; empty list elements are
    // allowed and ignored (RFC 9110 §5.6.1).
    let codings = || {
        field
            .split(',')
            .map(|coding| coding.split(';').next().unwrap_or("").trim())
            .filter(|name| !name.is_empty())
    };
    let count = codings().count();
    for (i, name) in codings().enumerate() {
        if name.eq_ignore_ascii_case("chunked") && i + 1 != count {
            return false;
        }
        if codings()
            .skip(i + 1)
            .any(|later| later.eq_ignore_ascii_case(name))
        {
            return false;
        }
    }
    true
}

/// The answer to a refused request: `status`, no body, and on HTTP/1
/// `Connection: close` (hyper then closes after writing it).
fn refused<B: Body>(status: StatusCode, http1_framing: bool) -> Response<GuardedBody<B>> {
    let mut response = Response::new(Either::Right(Empty::new()));
    *response.status_mut() = status;
    if http1_framing {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderMap;

    fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for &(name, value) in fields {
            map.append(name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn framing_with_one_reading_passes() {
        assert!(framing_is_unambiguous(&headers(&[])));
        assert!(framing_is_unambiguous(&headers(&[("content-length", "5")])));
        assert!(framing_is_unambiguous(&headers(&[(
            "transfer-encoding",
            "chunked"
        )])));
        assert!(framing_is_unambiguous(&headers(&[(
            "transfer-encoding",
            "gzip, chunked"
        )])));
        assert!(framing_is_unambiguous(&headers(&[(
            "transfer-encoding",
            "gzip;q=1 , , Chunked"
        )])));
    }

    #[test]
    fn framing_a_proxy_could_read_differently_is_refused() {
        for value in [
            "chunked, chunked",
            "chunked,chunked",
            "CHUNKED, chunked",
            "chunked, gzip",
            "gzip, gzip, chunked",
            "chunked;x=1, chunked",
        ] {
            let map = headers(&[("transfer-encoding", value)]);
            assert!(!framing_is_unambiguous(&map), "{value}");
        }
        let two_fields = headers(&[
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked"),
        ]);
        assert!(!framing_is_unambiguous(&two_fields));
    }

    #[test]
    fn defaults_are_the_safe_ones() {
        let options = HyperServeOptions::default();
        assert_eq!(options.timeouts, HttpTimeouts::default());
        assert!(options.h2_prior_knowledge);
        let off = options
            .timeouts(HttpTimeouts::none())
            .h2_prior_knowledge(false);
        assert_eq!(off.timeouts, HttpTimeouts::none());
        assert!(!off.h2_prior_knowledge);
    }
}
