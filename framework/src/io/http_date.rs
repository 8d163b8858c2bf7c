//! The wall clock's `Date` for HTTP/1 responses: read here, in the I/O
//! layer, formatted once per second per thread, and handed to the sans-IO
//! codec (`proto::http1`), which reads no clock. On a running loop the
//! cached date is checked against the time the loop's poll returned, so
//! an answer reads no clock; the wall clock is read once per second. The writers users call
//! without a date (`http1::write_response`, `write_head`, `serve_requests`)
//! are the codec's dated ones with this date.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::proto::http1::{
    serve_requests_closing_dated, serve_requests_dated, write_head_dated, Limits, Persistence,
    PreparedResponse, Request, HTTP_DATE_LEN as DATE_LEN,
};

/// The current `Date` header value, formatted once per second per thread.
struct DateCache {
    second: u64,
    value: [u8; DATE_LEN],
    /// On a running loop: the loop time (`clock::iteration_time`) before
    /// which `value` is still the current second, so answers in between
    /// read no clock at all.
    valid_until: Option<Instant>,
}

thread_local! {
    static DATE: RefCell<DateCache> = const {
        RefCell::new(DateCache { second: u64::MAX, value: [b' '; DATE_LEN], valid_until: None })
    };
}

impl DateCache {
    /// Reads the wall clock and formats the date if the second changed;
    /// on a loop, notes until when (on its clock) the second lasts.
    #[cold]
    fn refresh(&mut self, loop_time: Option<Instant>) {
        if loop_time.is_some() {
            // Once a second on a loop: counted as a read of its clock.
            if let Some(lp) = crate::EventLoop::try_current() {
                lp.core.shared.counters.clock_reads.add(1);
            }
        }
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let second = since_epoch.as_secs();
        if self.second != second {
            let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
            if text.len() == self.value.len() {
                self.value.copy_from_slice(text.as_bytes());
            }
            self.second = second;
        }
        // The loop time was read before the wall clock just now, so this
        // ends at or before the next second: never a stale date.
        let left = Duration::from_secs(1) - Duration::from_nanos(since_epoch.subsec_nanos().into());
        self.valid_until = loop_time.map(|time| time + left);
    }
}

/// Calls `f` with the current IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
///
/// ```
/// let date = loopcore::http1::with_date(|date| date.to_vec());
/// assert!(loopcore::http1::parse_http_date(&date).is_some());
/// ```
pub fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    with_fixed_date(|date| f(date))
}

/// [`with_date`] with the date as an array: its length is known where it
/// is copied, which keeps the copy inline on the hot path.
#[inline]
fn with_fixed_date<R>(f: impl FnOnce(&[u8; DATE_LEN]) -> R) -> R {
    // On a running loop the date is checked against the time its poll
    // returned, read once per iteration anyway; elsewhere against the
    // wall clock, read per call.
    let loop_time = crate::clock::iteration_time();
    DATE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let current = matches!(
            (loop_time, cache.valid_until),
            (Some(time), Some(until)) if time < until
        );
        if !current {
            cache.refresh(loop_time);
        }
        f(&cache.value)
    })
}

/// The current date, copied out (for callers that write more than one
/// response under it, and may call [`with_date`] meanwhile).
#[inline]
fn current_date() -> [u8; DATE_LEN] {
    with_fixed_date(|date| *date)
}

impl PreparedResponse {
    /// Appends the answer to `out` with the current `Date` and the
    /// `Connection` header `persistence` calls for.
    ///
    /// ```
    /// use loopcore::http1::PreparedResponse;
    /// let hello = PreparedResponse::new(200, &[("Content-Type", "text/plain")], b"hi");
    /// let mut out = Vec::new();
    /// hello.write(&mut out, true);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: "));
    /// assert!(text.ends_with("Content-Type: text/plain\r\n\r\nhi"));
    /// ```
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>, persistence: impl Into<Persistence>) {
        // The date copied out first: the answer's copy then sits in the
        // caller, not inside the thread-local's closure.
        self.write_dated(out, &current_date(), persistence);
    }
}

/// Appends a complete response to `out`: status line, `Date` (now),
/// `Content-Length`, the given headers, the `Connection` header that
/// `persistence` calls for (`false` or [`Persistence::Close`]:
/// `Connection: close`), and the body.
///
/// ```
/// let mut out = Vec::new();
/// loopcore::http1::write_response(&mut out, 200, &[("Content-Type", "text/plain")], b"hi", true);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(text.contains("Content-Length: 2\r\n"));
/// assert!(text.ends_with("\r\n\r\nhi"));
/// ```
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    persistence: impl Into<Persistence>,
) {
    write_head(out, status, headers, body.len() as u64, persistence);
    out.extend_from_slice(body);
}

/// Appends a response head announcing `content_length` body bytes, which
/// the caller sends next (with `Transport::sendfile`, say); otherwise as
/// [`write_response`].
///
/// ```
/// let mut out = Vec::new();
/// loopcore::http1::write_head(&mut out, 206, &[("Content-Range", "bytes 0-9/100")], 10, true);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\n"));
/// assert!(text.contains("Content-Length: 10\r\n") && text.ends_with("\r\n\r\n"));
/// ```
#[inline]
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    content_length: u64,
    persistence: impl Into<Persistence>,
) {
    let date = current_date();
    write_head_dated(out, &date, status, headers, content_length, persistence);
}

/// Answers every complete request at the front of `input`: `respond` writes
/// the response to each into `out`; a malformed request gets its error
/// status with `Connection: close`. Returns how many bytes of `input` were
/// used and whether the connection must close after `out` is sent (an error,
/// or a request without keep-alive, which ends the loop).
///
/// ```
/// use loopcore::http1::{serve_requests, write_response, Limits};
/// let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c";
/// let mut out = Vec::new();
/// let (used, close) = serve_requests(&mut out, input, &Limits::default(), |req, out| {
///     write_response(out, 200, &[], req.path.as_bytes(), req.keep_alive)
/// });
/// assert_eq!((&input[used..], close), (&b"GET /c"[..], false));
/// assert!(String::from_utf8(out).unwrap().ends_with("/b"));
/// ```
pub fn serve_requests(
    out: &mut Vec<u8>,
    input: &[u8],
    limits: &Limits,
    respond: impl FnMut(&Request<'_>, &mut Vec<u8>),
) -> (usize, bool) {
    serve_requests_dated(out, input, limits, &current_date(), respond)
}

/// As [`serve_requests`], for a connection that is to close (a server
/// shutting down): every complete request is still answered, the last one
/// with `keep_alive` false so its response says `Connection: close`.
/// Returns `close` true once a request was answered.
///
/// ```
/// use loopcore::http1::{serve_requests_closing, write_response, Limits};
/// let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
/// let mut out = Vec::new();
/// let (used, close) = serve_requests_closing(&mut out, input, &Limits::default(), |req, out| {
///     write_response(out, 200, &[], req.path.as_bytes(), req.keep_alive)
/// });
/// assert_eq!((used, close), (input.len(), true));
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.matches("Connection: close").count(), 1);
/// assert!(text.ends_with("/b"));
/// ```
pub fn serve_requests_closing(
    out: &mut Vec<u8>,
    input: &[u8],
    limits: &Limits,
    respond: impl FnMut(&Request<'_>, &mut Vec<u8>),
) -> (usize, bool) {
    serve_requests_closing_dated(out, input, limits, &current_date(), respond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_the_current_date() {
        let mut out = Vec::new();
        write_response(&mut out, 431, &[], b"", false);
        let text = String::from_utf8(out).unwrap();
        let date = text
            .split("Date: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        let date = httpdate::parse_http_date(date).expect("an IMF-fixdate");
        let skew = SystemTime::now()
            .duration_since(date)
            .unwrap_or(Duration::ZERO);
        assert!(skew < Duration::from_secs(60), "{skew:?} old");
    }
}
