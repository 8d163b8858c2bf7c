//! The writing side of the HTTP/1 codec: response heads and whole
//! responses serialized into a caller's buffer without allocating, with
//! the `Date` value the caller read from its clock (this module reads none:
//! `io::http_date` does), and the `Connection` header a response owes its
//! client ([`Persistence`]).

use std::time::SystemTime;

/// The length of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// `Date` a response carries.
pub const HTTP_DATE_LEN: usize = 29;

/// What a response says about its connection, from
/// [`Request::persistence`](super::http1::Request::persistence) or a plain `bool` (`true`: stays open, HTTP/1.1
/// style; `false`: closes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// The connection stays open and the response says nothing: the
    /// HTTP/1.1 default.
    KeepAlive,
    /// The connection stays open and the response says so with
    /// `Connection: keep-alive`: an HTTP/1.0 client that asked for it
    /// (ApacheBench's `-k`) assumes a close otherwise.
    KeepAliveAnnounced,
    /// The connection closes after this response: `Connection: close`.
    Close,
}

impl Persistence {
    /// Whether the connection stays open after the response.
    pub fn keeps_alive(self) -> bool {
        self != Persistence::Close
    }
}

impl From<bool> for Persistence {
    fn from(keep_alive: bool) -> Self {
        if keep_alive {
            Persistence::KeepAlive
        } else {
            Persistence::Close
        }
    }
}

/// The reason phrase of a status code: RFC 9110's, or `Unknown`.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Appends a complete response to `out`: status line, `Date` (`date`, an
/// IMF-fixdate such as [`http_date`] makes), `Content-Length`, the given
/// headers, the `Connection` header that `persistence` calls for (`false`
/// or [`Persistence::Close`]: `Connection: close`), and the body.
/// `loopcore::http1::write_response` is this with the current date.
///
/// ```
/// let mut out = Vec::new();
/// let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
/// loopcore::http1::write_response_dated(&mut out, date, 200, &[("Content-Type", "text/plain")], b"hi", true);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
/// assert!(text.contains("Content-Length: 2\r\n"));
/// assert!(text.ends_with("\r\n\r\nhi"));
/// ```
pub fn write_response_dated(
    out: &mut Vec<u8>,
    date: &[u8; HTTP_DATE_LEN],
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    persistence: impl Into<Persistence>,
) {
    write_head_dated(out, date, status, headers, body.len() as u64, persistence);
    out.extend_from_slice(body);
}

/// Appends a response head announcing `content_length` body bytes, which
/// the caller sends next (with `Transport::sendfile`, say); otherwise as
/// [`write_response_dated`].
///
/// ```
/// let mut out = Vec::new();
/// let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
/// loopcore::http1::write_head_dated(&mut out, date, 206, &[("Content-Range", "bytes 0-9/100")], 10, true);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\n"));
/// assert!(text.contains("Content-Length: 10\r\n") && text.ends_with("\r\n\r\n"));
/// ```
#[inline]
pub fn write_head_dated(
    out: &mut Vec<u8>,
    date: &[u8; HTTP_DATE_LEN],
    status: u16,
    headers: &[(&str, &str)],
    content_length: u64,
    persistence: impl Into<Persistence>,
) {
    let persistence = persistence.into();
    let connection: &[u8] = match persistence {
        Persistence::KeepAlive => b"",
        Persistence::KeepAliveAnnounced => b"Connection: keep-alive\r\n",
        Persistence::Close => b"Connection: close\r\n",
    };
    // These never have a body, and RFC 9110 (8.6) forbids the header on
    // 1xx and 204; on 304 it could only mislead.
    let with_length = !matches!(status, 100..=199 | 204 | 304);
    let mut length_digits = Decimal::new();
    if with_length {
        length_digits.set(content_length);
    }
    // One reservation for the whole head, then plain appends: a head is
    // written per answer, so a growth check per piece adds up.
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    out.reserve(
        STATUS_LINE_MAX
            + DATE_LINE_LEN
            + CONTENT_LENGTH_LINE_LEN
            + length_digits.len()
            + headers_len
            + connection.len()
            + 2,
    );
    match common_status_line(status) {
        Some(line) => out.extend_from_slice(line),
        None => {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(Decimal::of(u64::from(status)).as_bytes());
            out.push(b' ');
            out.extend_from_slice(reason(status).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    if with_length {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(length_digits.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(connection);
    out.extend_from_slice(b"\r\n");
}

/// Room for any status line: `HTTP/1.1 `, three digits, a space, the
/// longest reason phrase and CRLF.
const STATUS_LINE_MAX: usize = 9 + 3 + 1 + 40 + 2;
/// `Date: `, the date and CRLF.
const DATE_LINE_LEN: usize = 6 + HTTP_DATE_LEN + 2;
/// `Content-Length: ` and CRLF, without the digits.
const CONTENT_LENGTH_LINE_LEN: usize = 16 + 2;

/// The status lines answered most, whole, so the common head is written
/// without formatting its status.
#[inline]
fn common_status_line(status: u16) -> Option<&'static [u8]> {
    Some(match status {
        200 => b"HTTP/1.1 200 OK\r\n",
        204 => b"HTTP/1.1 204 No Content\r\n",
        206 => b"HTTP/1.1 206 Partial Content\r\n",
        304 => b"HTTP/1.1 304 Not Modified\r\n",
        400 => b"HTTP/1.1 400 Bad Request\r\n",
        404 => b"HTTP/1.1 404 Not Found\r\n",
        _ => return None,
    })
}

/// A number in decimal, formatted on the stack.
struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    fn new() -> Self {
        Self {
            digits: [0; 20],
            start: 20,
        }
    }

    fn of(n: u64) -> Self {
        let mut decimal = Self::new();
        decimal.set(n);
        decimal
    }

    #[inline]
    fn set(&mut self, mut n: u64) {
        let mut i = self.digits.len();
        loop {
            i -= 1;
            self.digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.start = i;
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }

    fn len(&self) -> usize {
        self.digits.len() - self.start
    }
}

/// `time` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), for
/// `Last-Modified` and the like.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let time = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(loopcore::http1::http_date(time), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn http_date(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

/// Reads an HTTP date (`If-Modified-Since` and the like) in any of the
/// three forms RFC 9110 (5.6.7) makes recipients accept; `None` if it is
/// none of them.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let time = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// let parse = loopcore::http1::parse_http_date;
/// assert_eq!(parse(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(time));
/// assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT"), Some(time));
/// assert_eq!(parse(b"yesterday"), None);
/// ```
pub fn parse_http_date(value: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(value).ok()?;
    httpdate::parse_http_date(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; HTTP_DATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    #[test]
    fn the_response_says_what_the_connection_does() {
        let head = |persistence: Persistence| {
            let mut out = Vec::new();
            write_response_dated(&mut out, DATE, 200, &[], b"", persistence);
            String::from_utf8(out).unwrap()
        };
        assert!(!head(Persistence::KeepAlive).contains("Connection:"));
        assert!(head(Persistence::KeepAliveAnnounced).contains("\r\nConnection: keep-alive\r\n"));
        assert!(head(Persistence::Close).contains("\r\nConnection: close\r\n"));
        // Statuses that never have a body say nothing of its length.
        for status in [204, 304] {
            let mut out = Vec::new();
            write_response_dated(&mut out, DATE, status, &[("ETag", "\"x\"")], b"", true);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("Content-Length"), "{text}");
            assert!(text.ends_with("ETag: \"x\"\r\n\r\n"), "{text}");
        }
    }

    #[test]
    fn responses_are_framed_and_dated_as_told() {
        let mut out = Vec::new();
        write_response_dated(&mut out, DATE, 431, &[], b"", false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        assert!(text.contains("Content-Length: 0\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        for n in [0u64, 7, 10, 1234567, u64::MAX] {
            assert_eq!(Decimal::of(n).as_bytes(), n.to_string().as_bytes());
            assert_eq!(Decimal::of(n).len(), n.to_string().len());
        }
        for status in [200, 204, 206, 304, 400, 404] {
            let mut out = Vec::new();
            write_response_dated(&mut out, DATE, status, &[], b"", true);
            let line = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            assert!(String::from_utf8(out).unwrap().starts_with(&line));
        }
    }
}
