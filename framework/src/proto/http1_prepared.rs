//! [`PreparedResponse`]: an answer whose bytes are built once. Status,
//! headers and body are fixed; each answer fills in only the `Date` and the
//! `Connection` header its persistence calls for, so writing one is a copy
//! of the whole answer and a 29-byte patch, instead of a head written
//! header by header.

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
    /// The whole answer per persistence (keep-alive, keep-alive announced,
    /// close), with a placeholder where the date goes.
    whole: [Box<[u8]>; 3],
    /// Where the date starts: the same in all three (the `Connection`
    /// header comes after it).
    date_at: usize,
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
        let answers = [
            whole(Persistence::KeepAlive),
            whole(Persistence::KeepAliveAnnounced),
            whole(Persistence::Close),
        ];
        let date_at = |answer: &Vec<u8>| {
            answer
                .windows(HTTP_DATE_LEN)
                .position(|w| w == PLACEHOLDER)
                .expect("write_head_dated writes the date")
        };
        let first = date_at(&answers[0]);
        assert!(
            answers.iter().all(|answer| date_at(answer) == first),
            "the Date header moved with the Connection header"
        );
        Self {
            whole: answers.map(Vec::into_boxed_slice),
            date_at: first,
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
        let whole = &self.whole[match persistence.into() {
            Persistence::KeepAlive => 0,
            Persistence::KeepAliveAnnounced => 1,
            Persistence::Close => 2,
        }];
        let date_at = out.len() + self.date_at;
        out.extend_from_slice(whole);
        out[date_at..date_at + HTTP_DATE_LEN].copy_from_slice(date);
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
