//! A minimal sans-IO HTTP/1.1 codec on `httparse`: bytes in, parsed requests
//! (borrowing the input) and their framing out; responses written into a
//! caller's buffer; on the client side [`ResponseReader`] reads responses
//! of every framing incrementally. The examples' servers and the load
//! generator share it.
//!
//! Limits (defaults in [`Limits`]): at most 64 headers and 8 KiB of request
//! head; past either the request is refused as `431`. Request bodies are
//! framed by `Content-Length` or chunked (decoded, trailers skipped, at
//! most `max_body` bytes: else `413`). Other transfer codings are refused
//! with `501`; both `Content-Length` and `Transfer-Encoding`, or
//! `Transfer-Encoding` from an HTTP/1.0 client, with `400` (request
//! smuggling); so is an HTTP/1.1 request without `Host`, or any request
//! with two (RFC 9112, 3.2). [`serve_requests`] answers `Expect: 100-continue` with
//! `100 Continue` when the head has come and no body yet.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use super::http1_chunked::{decode_body, ChunkedError};
pub use super::http1_prepared::PreparedResponse;
pub use super::http1_reader::{ResponseReader, MAX_HEAD};
pub use super::http1_writer::{
    http_date, parse_http_date, reason, write_head_dated, write_response_dated, Persistence,
    HTTP_DATE_LEN,
};

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 64;

/// Bounds on what a request may make the server hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and headers), in bytes.
    pub max_head: usize,
    /// Largest request body, in bytes.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            max_body: 1024 * 1024,
        }
    }
}

/// Why a request was refused, with the status to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Malformed request: `400 Bad Request`.
    BadRequest,
    /// Too many headers or too large a head: `431 Request Header Fields Too Large`.
    HeadersTooLarge,
    /// Body larger than [`Limits::max_body`]: `413 Content Too Large`.
    BodyTooLarge,
    /// A request body framing the codec does not do: `501 Not Implemented`.
    Unsupported,
}

impl RequestError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            RequestError::BadRequest => 400,
            RequestError::HeadersTooLarge => 431,
            RequestError::BodyTooLarge => 413,
            RequestError::Unsupported => 501,
        }
    }
}

/// One parsed request, borrowing the bytes it came from.
#[derive(Debug)]
pub struct Request<'a> {
    /// The method (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The request target (`/plaintext`).
    pub path: &'a str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The body: borrowed from the input when framed by `Content-Length`
    /// (empty without one), decoded into its own buffer when chunked.
    pub body: Cow<'a, [u8]>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The request line and headers as received (for [`header`](Self::header)).
    pub head: &'a [u8],
}

impl<'a> Request<'a> {
    /// What the response must say about the connection: pass it to
    /// [`write_response_dated`] or [`write_head_dated`] so an HTTP/1.0 keep-alive
    /// client is told its connection stays open.
    ///
    /// ```
    /// use loopcore::http1::{parse_request, Limits, Persistence};
    /// let raw = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    /// let (req, _) = parse_request(raw, &Limits::default()).unwrap().unwrap();
    /// assert_eq!(req.persistence(), Persistence::KeepAliveAnnounced);
    /// ```
    pub fn persistence(&self) -> Persistence {
        match (self.keep_alive, self.version) {
            (false, _) => Persistence::Close,
            (true, 0) => Persistence::KeepAliveAnnounced,
            (true, _) => Persistence::KeepAlive,
        }
    }

    /// The value of the first header called `name` (any case), without
    /// surrounding whitespace.
    ///
    /// ```
    /// use loopcore::http1::{parse_request, Limits};
    /// let raw = b"GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n";
    /// let (req, _) = parse_request(raw, &Limits::default()).unwrap().unwrap();
    /// assert_eq!(req.header("range"), Some(&b"bytes=0-9"[..]));
    /// assert_eq!(req.header("cookie"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        // The head parsed already: lines end in CRLF (or LF), and the
        // first is the request line.
        self.head.split(|&b| b == b'\n').skip(1).find_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let (field, value) = line.split_at(colon);
            field
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| value[1..].trim_ascii())
        })
    }
}

/// Applies a `Connection` header's options (a comma-separated list, any
/// case) to `keep_alive`: `close` ends the connection whatever else the
/// list says; `keep-alive` keeps an HTTP/1.0 one open.
pub(crate) fn apply_connection_header(value: &[u8], keep_alive: &mut bool) {
    let mut close = false;
    for option in value.split(|&b| b == b',') {
        let option = option.trim_ascii();
        if option.eq_ignore_ascii_case(b"close") {
            close = true;
        } else if option.eq_ignore_ascii_case(b"keep-alive") {
            *keep_alive = true;
        }
    }
    if close {
        *keep_alive = false;
    }
}

/// Parses one request from the front of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or the request and how many
/// bytes of `buf` it used (head and body).
///
/// ```
/// use loopcore::http1::{parse_request, Limits};
/// let raw = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
/// let (req, used) = parse_request(raw, &Limits::default()).unwrap().unwrap();
/// assert_eq!((req.method, req.path, req.keep_alive), ("GET", "/plaintext", true));
/// assert_eq!(&raw[used..], b"GET /next");
///
/// // A chunked body is decoded into the request's own buffer.
/// let raw = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
/// let (req, used) = parse_request(raw, &Limits::default()).unwrap().unwrap();
/// assert_eq!((&req.body[..], used), (&b"abc"[..], raw.len()));
/// ```
pub fn parse_request<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, RequestError> {
    match parse(buf, limits)? {
        Parsed::Complete(request, used) => Ok(Some((request, used))),
        Parsed::AwaitingBody { .. } | Parsed::AwaitingHead => Ok(None),
    }
}

/// What [`parse`] found at the front of a buffer.
pub(crate) enum Parsed<'a> {
    /// A whole request and the bytes it used.
    Complete(Request<'a>, usize),
    /// The head is complete; its body is still arriving.
    AwaitingBody {
        /// The client sent `Expect: 100-continue` and waits for a
        /// `100 Continue` before it sends the body.
        expects_continue: bool,
        /// Bytes after the head so far.
        body_bytes: usize,
    },
    /// The head is not complete yet.
    AwaitingHead,
}

/// The most bytes a chunked body's framing (size lines, extensions,
/// trailers) may take: the head's limit, or an eighth of the body's if that
/// is more (a 1 MiB body in 4 KiB chunks takes about 2 KiB).
fn max_framing(limits: &Limits) -> usize {
    limits.max_head.max(limits.max_body / 8)
}

/// Whether a header name is `Host`, in any case: one 4-byte compare (every
/// request has one, so this runs on the hot path). Setting bit 5 maps each
/// of `HOST`'s letters to its lower case and no other byte onto `host`'s.
#[inline]
fn is_host(name: &str) -> bool {
    match name.as_bytes() {
        &[a, b, c, d] => {
            u32::from_le_bytes([a, b, c, d]) | 0x2020_2020 == u32::from_le_bytes(*b"host")
        }
        _ => false,
    }
}

/// How a request's body is framed.
enum Framing {
    Length(usize),
    Chunked,
}

pub(crate) fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, RequestError> {
    // Left uninitialized: httparse writes the headers it finds and hands
    // back only those. Filling 64 empty headers first cost more than the
    // parse of a small request.
    let mut headers = [const { MaybeUninit::<httparse::Header<'a>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head {
                return Err(RequestError::HeadersTooLarge);
            }
            return Ok(Parsed::AwaitingHead);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::HeadersTooLarge),
        Err(_) => return Err(RequestError::BadRequest),
    };
    if head_len > limits.max_head {
        return Err(RequestError::HeadersTooLarge);
    }
    let version = req.version.unwrap_or(1);
    let mut keep_alive = version == 1;
    let mut content_length: Option<usize> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut expects_continue = false;
    let mut hosts = 0;
    for header in req.headers.iter() {
        if is_host(header.name) {
            hosts += 1;
            continue;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .filter(|v| !v.trim().starts_with('+'))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(RequestError::BadRequest)?;
            if content_length.is_some_and(|previous| previous != value) {
                return Err(RequestError::BadRequest);
            }
            content_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding.is_some() {
                // Codings spread over several fields: not worth the risk
                // of reading them differently from a proxy in front.
                return Err(RequestError::BadRequest);
            }
            transfer_encoding = Some(header.value.trim_ascii());
        } else if header.name.eq_ignore_ascii_case("connection") {
            apply_connection_header(header.value, &mut keep_alive);
        } else if header.name.eq_ignore_ascii_case("expect") {
            expects_continue = header
                .value
                .trim_ascii()
                .eq_ignore_ascii_case(b"100-continue");
        }
    }
    // RFC 9112, 3.2: an HTTP/1.1 request without Host, or any with two,
    // is refused: a proxy in front may have routed it by another one.
    if hosts > 1 || (hosts == 0 && version == 1) {
        return Err(RequestError::BadRequest);
    }
    let framing = match (transfer_encoding, content_length) {
        (None, length) => Framing::Length(length.unwrap_or(0)),
        // Both: the request smuggling of RFC 9112, 6.1; and an HTTP/1.0
        // client cannot mean chunked. Refused, and the connection closes.
        (Some(_), Some(_)) => return Err(RequestError::BadRequest),
        (Some(_), None) if version == 0 => return Err(RequestError::BadRequest),
        (Some(coding), None) if coding.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
        // gzip and the like: a body the codec cannot hand over as sent.
        (Some(_), None) => return Err(RequestError::Unsupported),
    };
    let method = req.method.ok_or(RequestError::BadRequest)?;
    let path = req.path.ok_or(RequestError::BadRequest)?;
    let rest = &buf[head_len..];
    let awaiting = Parsed::AwaitingBody {
        expects_continue,
        body_bytes: rest.len(),
    };
    let (body, body_used) = match framing {
        Framing::Length(length) => {
            if length > limits.max_body {
                return Err(RequestError::BodyTooLarge);
            }
            if rest.len() < length {
                return Ok(awaiting);
            }
            (Cow::Borrowed(&rest[..length]), length)
        }
        Framing::Chunked => match decode_body(rest, limits.max_body, max_framing(limits)) {
            Ok(Some((body, used))) => (Cow::Owned(body), used),
            Ok(None) => return Ok(awaiting),
            Err(ChunkedError::TooLarge | ChunkedError::FramingTooLarge) => {
                return Err(RequestError::BodyTooLarge)
            }
            Err(ChunkedError::Malformed) => return Err(RequestError::BadRequest),
        },
    };
    let request = Request {
        method,
        path,
        version,
        body,
        keep_alive,
        head: &buf[..head_len],
    };
    Ok(Parsed::Complete(request, head_len + body_used))
}

/// A parsed response head (the client side of the codec, for load
/// generators and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body's length (`Content-Length`; 0 without one).
    pub body_len: usize,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
}

/// Why a response could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not HTTP/1.x, or a malformed head.
    Malformed,
    /// Chunked or otherwise length-less bodies are not supported (by
    /// [`parse_response`]; [`ResponseReader`] reads them).
    Unsupported,
    /// The connection ended in the middle of a response.
    Truncated,
}

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ResponseError::Malformed => "malformed HTTP response",
            ResponseError::Unsupported => {
                "HTTP responses without Content-Length (chunked, read-to-close) are not supported \
                 by parse_response: use ResponseReader"
            }
            ResponseError::Truncated => "the connection closed in the middle of an HTTP response",
        })
    }
}

impl std::error::Error for ResponseError {}

/// Parses one response from the front of `buf`: `Ok(Some((response,
/// total_len)))` once its head and body are complete, `Ok(None)` while
/// more bytes are needed.
///
/// ```
/// use loopcore::http1::parse_response;
/// let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1";
/// let (response, used) = parse_response(raw).unwrap().unwrap();
/// assert_eq!((response.status, response.body_len, used), (200, 2, 40));
/// assert!(parse_response(&raw[..30]).unwrap().is_none());
/// ```
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, ResponseError> {
    // Uninitialized, as in `parse`: a load generator parses every answer.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ResponseError::Malformed),
    };
    let status = response.code.ok_or(ResponseError::Malformed)?;
    let mut keep_alive = response.version == Some(1);
    let mut body_len = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(ResponseError::Malformed)?;
            body_len = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ResponseError::Unsupported);
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep_alive = !header.value.eq_ignore_ascii_case(b"close");
        }
    }
    // 1xx, 204 and 304 have no body.
    let body_len = match (status, body_len) {
        (100..=199 | 204 | 304, _) => 0,
        (_, Some(n)) => n,
        (_, None) => return Err(ResponseError::Unsupported),
    };
    let total = head_len + body_len;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some((
        Response {
            status,
            body_len,
            keep_alive,
        },
        total,
    )))
}

/// Answers every complete request at the front of `input`: `respond` writes
/// the response to each into `out`; a malformed request gets its error
/// status with `Connection: close`, dated `date` (the caller's clock: this
/// codec reads none). Returns how many bytes of `input` were used and
/// whether the connection must close after `out` is sent (an error, or a
/// request without keep-alive, which ends the loop).
/// `loopcore::http1::serve_requests` is this with the current date.
///
/// ```
/// use loopcore::http1::{serve_requests_dated, write_response_dated, Limits};
/// let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
/// let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c";
/// let mut out = Vec::new();
/// let (used, close) = serve_requests_dated(&mut out, input, &Limits::default(), date, |req, out| {
///     write_response_dated(out, date, 200, &[], req.path.as_bytes(), req.keep_alive)
/// });
/// assert_eq!((&input[used..], close), (&b"GET /c"[..], false));
/// assert!(String::from_utf8(out).unwrap().ends_with("/b"));
/// ```
pub fn serve_requests_dated(
    out: &mut Vec<u8>,
    input: &[u8],
    limits: &Limits,
    date: &[u8; HTTP_DATE_LEN],
    respond: impl FnMut(&Request<'_>, &mut Vec<u8>),
) -> (usize, bool) {
    serve(out, input, limits, date, false, respond)
}

/// As [`serve_requests_dated`], for a connection that is to close (a
/// server shutting down): every complete request is still answered, the
/// last one with `keep_alive` false so its response says
/// `Connection: close`. Returns `close` true once a request was answered.
///
/// ```
/// use loopcore::http1::{serve_requests_closing_dated, write_response_dated, Limits};
/// let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
/// let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
/// let mut out = Vec::new();
/// let limits = loopcore::http1::Limits::default();
/// let (used, close) = serve_requests_closing_dated(&mut out, input, &limits, date, |req, out| {
///     write_response_dated(out, date, 200, &[], req.path.as_bytes(), req.keep_alive)
/// });
/// assert_eq!((used, close), (input.len(), true));
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.matches("Connection: close").count(), 1);
/// assert!(text.ends_with("/b"));
/// ```
pub fn serve_requests_closing_dated(
    out: &mut Vec<u8>,
    input: &[u8],
    limits: &Limits,
    date: &[u8; HTTP_DATE_LEN],
    respond: impl FnMut(&Request<'_>, &mut Vec<u8>),
) -> (usize, bool) {
    serve(out, input, limits, date, true, respond)
}

fn serve(
    out: &mut Vec<u8>,
    input: &[u8],
    limits: &Limits,
    date: &[u8; HTTP_DATE_LEN],
    closing: bool,
    mut respond: impl FnMut(&Request<'_>, &mut Vec<u8>),
) -> (usize, bool) {
    let mut used = 0;
    loop {
        match parse(&input[used..], limits) {
            Ok(Parsed::Complete(mut request, n)) => {
                used += n;
                if closing && !matches!(parse_request(&input[used..], limits), Ok(Some(_))) {
                    // The last complete request: its answer ends the
                    // connection.
                    request.keep_alive = false;
                }
                respond(&request, out);
                if !request.keep_alive {
                    return (used, true);
                }
            }
            Ok(Parsed::AwaitingBody {
                expects_continue,
                body_bytes,
            }) => {
                // Said once: the call where the head is complete and no
                // body byte is there yet (the next call has some, or the
                // client gave up waiting and sent it anyway).
                if expects_continue && body_bytes == 0 {
                    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                return (used, false);
            }
            Ok(Parsed::AwaitingHead) => return (used, false),
            Err(error) => {
                write_response_dated(out, date, error.status(), &[], b"", false);
                return (input.len(), true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; HTTP_DATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    const LIMITS: Limits = Limits {
        max_head: 8 * 1024,
        max_body: 1024,
    };

    #[test]
    fn pipelined_requests_parse_one_after_another() {
        let raw = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.0\r\n\r\n";
        let (a, n1) = parse_request(raw, &LIMITS).unwrap().unwrap();
        assert_eq!((a.method, a.path, a.keep_alive), ("GET", "/a", true));
        let (b, n2) = parse_request(&raw[n1..], &LIMITS).unwrap().unwrap();
        assert_eq!((b.method, &b.body[..]), ("POST", &b"abc"[..]));
        let (c, n3) = parse_request(&raw[n1 + n2..], &LIMITS).unwrap().unwrap();
        assert_eq!((c.path, c.version, c.keep_alive), ("/c", 0, false));
        assert_eq!(n1 + n2 + n3, raw.len());
    }

    #[test]
    fn chunked_bodies_are_decoded_and_pipelining_goes_on_after_them() {
        let raw = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n\
            4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n\
            GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let (a, n) = parse_request(raw, &LIMITS).unwrap().unwrap();
        assert_eq!(&a.body[..], b"Wikipedia");
        let (b, m) = parse_request(&raw[n..], &LIMITS).unwrap().unwrap();
        assert_eq!((b.path, n + m), ("/b", raw.len()));
        for cut in 0..n {
            assert!(
                parse_request(&raw[..cut], &LIMITS).unwrap().is_none(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn expect_continue_is_answered_once_before_the_body() {
        let head =
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
        let respond = |req: &Request<'_>, out: &mut Vec<u8>| {
            write_response_dated(out, DATE, 200, &[], &req.body, req.persistence())
        };
        let mut out = Vec::new();
        let (used, close) = serve_requests_dated(&mut out, head, &LIMITS, DATE, respond);
        assert_eq!((used, close), (0, false));
        assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
        // Part of the body: nothing more to say yet.
        let mut partial = head.to_vec();
        partial.extend_from_slice(b"he");
        out.clear();
        assert_eq!(
            serve_requests_dated(&mut out, &partial, &LIMITS, DATE, respond),
            (0, false)
        );
        assert!(out.is_empty());
        partial.extend_from_slice(b"llo");
        serve_requests_dated(&mut out, &partial, &LIMITS, DATE, respond);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with("hello"),
            "{text}"
        );
        // Too large a body is refused at once, without a 100.
        let big =
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n";
        let mut out = Vec::new();
        serve_requests_dated(&mut out, big, &LIMITS, DATE, respond);
        assert!(out.starts_with(b"HTTP/1.1 413 "), "{out:?}");
    }

    #[test]
    fn partial_requests_ask_for_more_byte_by_byte() {
        let raw = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
        for cut in 0..raw.len() {
            assert!(
                parse_request(&raw[..cut], &LIMITS).unwrap().is_none(),
                "cut {cut}"
            );
        }
        assert!(parse_request(raw, &LIMITS).unwrap().is_some());
    }

    #[test]
    fn bad_input_maps_to_the_right_status() {
        assert_eq!(
            parse_request(b"\x00\x01garbage\r\n\r\n", &LIMITS)
                .unwrap_err()
                .status(),
            400
        );
        let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_eq!(
            parse_request(raw.as_bytes(), &LIMITS).unwrap_err().status(),
            431
        );
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n", "a".repeat(9000));
        assert_eq!(
            parse_request(long.as_bytes(), &LIMITS)
                .unwrap_err()
                .status(),
            431
        );
        let big = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
        assert_eq!(parse_request(big, &LIMITS).unwrap_err().status(), 413);
        let gzip = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(parse_request(gzip, &LIMITS).unwrap_err().status(), 501);
        // Request smuggling: both framings, several codings fields, or
        // chunked from HTTP/1.0.
        for smuggled in [
            &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
        ] {
            assert_eq!(
                parse_request(smuggled, &LIMITS).unwrap_err().status(),
                400,
                "{}",
                String::from_utf8_lossy(smuggled)
            );
        }
        let big_chunks = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n";
        assert_eq!(
            parse_request(big_chunks, &LIMITS).unwrap_err().status(),
            413
        );
        // Framing beyond the head's limit (one-byte chunks, long
        // extensions): 413 before it is all buffered.
        let mut tiny = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        tiny.extend_from_slice(&b"1;pad=xxxxxxxxxxxxxxxxxxxxxxxx\r\nx\r\n".repeat(1000));
        assert_eq!(parse_request(&tiny, &LIMITS).unwrap_err().status(), 413);
        let conflicting =
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(
            parse_request(conflicting, &LIMITS).unwrap_err().status(),
            400
        );
        let bad_length = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n";
        assert_eq!(
            parse_request(bad_length, &LIMITS).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn connection_header_overrides_the_version_default() {
        let close = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        assert!(!parse_request(close, &LIMITS).unwrap().unwrap().0.keep_alive);
        let keep = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        assert!(parse_request(keep, &LIMITS).unwrap().unwrap().0.keep_alive);
        // A list of options, any case; close wins.
        for value in ["TE, close", "Keep-Alive, CLOSE", "close,keep-alive"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: {value}\r\n\r\n");
            let (req, _) = parse_request(raw.as_bytes(), &LIMITS).unwrap().unwrap();
            assert_eq!(req.persistence(), Persistence::Close, "{value}");
        }
        let listed = b"GET / HTTP/1.0\r\nConnection: Keep-Alive, TE\r\n\r\n";
        let (req, _) = parse_request(listed, &LIMITS).unwrap().unwrap();
        assert_eq!(req.persistence(), Persistence::KeepAliveAnnounced);
        let plain = b"GET / HTTP/1.0\r\n\r\n";
        let (req, _) = parse_request(plain, &LIMITS).unwrap().unwrap();
        assert_eq!(req.persistence(), Persistence::Close);
    }

    #[test]
    fn http11_without_host_is_a_bad_request() {
        let raw = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(
            parse_request(raw, &LIMITS).unwrap_err(),
            RequestError::BadRequest
        );
        assert_eq!(parse_request(raw, &LIMITS).unwrap_err().status(), 400);
        // Other headers do not stand in for it.
        let raw = b"GET / HTTP/1.1\r\nX-Host: x\r\nHosts: x\r\nConnection: close\r\n\r\n";
        assert_eq!(parse_request(raw, &LIMITS).unwrap_err().status(), 400);
        // Answered 400 and closed by serve_requests.
        let mut out = Vec::new();
        let input = b"GET / HTTP/1.1\r\n\r\n";
        let (used, close) = serve_requests_dated(&mut out, input, &LIMITS, DATE, |_, _| {
            panic!("a request without Host was answered")
        });
        assert_eq!((used, close), (input.len(), true));
        assert!(out.starts_with(b"HTTP/1.1 400 "), "{out:?}");
    }

    #[test]
    fn two_host_headers_are_a_bad_request_in_either_version() {
        for raw in [
            &b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nhost: y\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n",
            b"GET / HTTP/1.0\r\nHOST: x\r\nhost: x\r\n\r\n",
        ] {
            assert_eq!(
                parse_request(raw, &LIMITS).unwrap_err(),
                RequestError::BadRequest,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn http10_without_host_parses() {
        let raw = b"GET /old HTTP/1.0\r\n\r\n";
        let (req, used) = parse_request(raw, &LIMITS).unwrap().unwrap();
        assert_eq!((req.path, req.version, used), ("/old", 0, raw.len()));
        // And with one.
        let raw = b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n";
        let (req, used) = parse_request(raw, &LIMITS).unwrap().unwrap();
        assert_eq!((req.path, req.version, used), ("/old", 0, raw.len()));
        assert_eq!(req.header("host"), Some(&b"x"[..]));
    }

    #[test]
    fn host_counts_in_any_case() {
        for name in ["Host", "host", "HOST", "hOsT"] {
            let raw = format!("GET / HTTP/1.1\r\n{name}: x\r\n\r\n");
            let (req, used) = parse_request(raw.as_bytes(), &LIMITS)
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: incomplete"));
            assert_eq!((req.path, req.version, used), ("/", 1, raw.len()), "{name}");
            let twice = format!("GET / HTTP/1.1\r\n{name}: x\r\nHost: x\r\n\r\n");
            assert_eq!(
                parse_request(twice.as_bytes(), &LIMITS).unwrap_err(),
                RequestError::BadRequest,
                "{name}"
            );
        }
    }
}
