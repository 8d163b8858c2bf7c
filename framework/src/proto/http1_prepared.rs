//! [`PreparedResponse`]: an answer whose bytes are built once. Status,
//! headers and body are fixed; each answer fills in only the `Date` and the
//! `Connection` header its persistence calls for, so writing one is three
//! copies instead of a head written header by header.

use super::http1_writer::{write_head_dated, Persistence, HTTP_DATE_LEN};

/// An answer that does not change (a health check, a fixed error page, a
/// benchmark's `Hello, World!`), prepared once and written per request with
/// the current `Date`: the same bytes as
/// [`write_response_dated`](super::http1_writer::write_response_dated) with
/// the same arguments, at a fraction of the cost.
/// `loopcore::http1::PreparedResponse::write` writes it with the current
/// date.
///
/// ```
/// use loopcore::http1::{write_response_dated, PreparedResponse};
/// let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
/// let headers = [("Content-Type", "text/plain")];
/// let hello = PreparedResponse::new(200, &headers, b"Hello, World!");
/// let (mut prepared, mut written) = (Vec::new(), Vec::new());
/// hello.write_dated(&mut prepared, date, true);
/// write_response_dated(&mut written, date, 200, &headers, b"Hello, World!", true);
/// assert_eq!(prepared, written);
/// ```
#[derive(Debug, Clone)]
pub struct PreparedResponse {
    /// Up to the date: the status line and `Date: `.
    before_date: Box<[u8]>,
    /// After the date, per persistence (keep-alive, keep-alive announced,
    /// close): the rest of the head and the body.
    after_date: [Box<[u8]>; 3],
}

impl PreparedResponse {
    /// Prepares the answer `status` with `headers` and `body`
    /// (`Content-Length` is added, as by `write_response`).
    pub fn new(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        const PLACEHOLDER: [u8; HTTP_DATE_LEN] = [b'-'; HTTP_DATE_LEN];
        let whole = |persistence: Persistence| {
            let mut out = Vec::new();
            write_head_dated(
                &mut out,
                &PLACEHOLDER,
                status,
                headers,
                body.len() as u64,
                persistence,
            );
            out.extend_from_slice(body);
            out
        };
        let keep_alive = whole(Persistence::KeepAlive);
        let date_at = keep_alive
            .windows(HTTP_DATE_LEN)
            .position(|w| w == PLACEHOLDER)
            .expect("write_head_dated writes the date");
        let after = |whole: Vec<u8>| whole[date_at + HTTP_DATE_LEN..].into();
        Self {
            before_date: keep_alive[..date_at].into(),
            after_date: [
                after(keep_alive),
                after(whole(Persistence::KeepAliveAnnounced)),
                after(whole(Persistence::Close)),
            ],
        }
    }

    /// Appends the answer to `out` with `date` (an IMF-fixdate) and the
    /// `Connection` header `persistence` calls for.
    #[inline]
    pub fn write_dated(
        &self,
        out: &mut Vec<u8>,
        date: &[u8; HTTP_DATE_LEN],
        persistence: impl Into<Persistence>,
    ) {
        let after_date = &self.after_date[match persistence.into() {
            Persistence::KeepAlive => 0,
            Persistence::KeepAliveAnnounced => 1,
            Persistence::Close => 2,
        }];
        out.reserve(self.before_date.len() + HTTP_DATE_LEN + after_date.len());
        out.extend_from_slice(&self.before_date);
        out.extend_from_slice(date);
        out.extend_from_slice(after_date);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::http1_writer::write_response_dated;

    const DATE: &[u8; HTTP_DATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    #[test]
    fn prepared_answers_are_the_bytes_write_response_writes() {
        let headers = [("Server", "loopcore"), ("Content-Type", "text/plain")];
        for status in [200, 204, 404, 418, 503] {
            let prepared = PreparedResponse::new(status, &headers, b"Hello, World!");
            for persistence in [
                Persistence::KeepAlive,
                Persistence::KeepAliveAnnounced,
                Persistence::Close,
            ] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                prepared.write_dated(&mut a, DATE, persistence);
                write_response_dated(
                    &mut b,
                    DATE,
                    status,
                    &headers,
                    b"Hello, World!",
                    persistence,
                );
                assert_eq!(a, b, "status {status}, {persistence:?}");
            }
        }
    }
}
