//! What the monoio and mio-minimal servers share: loopcore's `http_plaintext`
//! answer, prebuilt, with its `Date` rewritten once a second, and the
//! pipelined request loop (every complete request in the buffer, one answer
//! each). may-minihttp writes its own answer (`may_plaintext.rs`).

#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the `Date` value starts in the answer: after `HTTP/1.1 200 OK\r\nDate: `.
const DATE_AT: usize = 23;
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;
/// Headers a request may have (may-minihttp allows 16 too).
const MAX_HEADERS: usize = 16;

/// The one answer, byte for byte as loopcore's `http_plaintext` writes it
/// (header order included) but for the `Server` value.
#[derive(Debug)]
pub struct Answer {
    bytes: Vec<u8>,
    second: u64,
}

impl Answer {
    /// The answer of the server named `server`, dated now.
    pub fn new(server: &str) -> Self {
        let bytes = format!(
            "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 13\r\n\
             Server: {server}\r\nContent-Type: text/plain\r\n\r\nHello, World!"
        )
        .into_bytes();
        debug_assert_eq!(&bytes[DATE_AT - 6..DATE_AT], b"Date: ");
        let mut answer = Self {
            bytes,
            second: u64::MAX,
        };
        answer.refresh();
        answer
    }

    /// Reads the clock once; rewrites the `Date` when a new second has begun.
    #[inline]
    pub fn refresh(&mut self) {
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if second != self.second {
            self.second = second;
            let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
            if date.len() == DATE_LEN {
                self.bytes[DATE_AT..DATE_AT + DATE_LEN].copy_from_slice(date.as_bytes());
            }
        }
    }

    /// The answer's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Parses every complete request at the start of `input` (httparse; no
/// request bodies: GET only), appending `answer` to `out` for each. Returns
/// how many bytes of `input` they took (what is left is an incomplete
/// request), or the parse error of a malformed one.
#[inline]
pub fn answer_all(
    input: &[u8],
    answer: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, httparse::Error> {
    let mut used = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&input[used..])? {
            httparse::Status::Complete(len) => {
                used += len;
                out.extend_from_slice(answer);
            }
            httparse::Status::Partial => return Ok(used),
        }
    }
}

/// The port, the first argument (default 8080).
pub fn port_arg() -> u16 {
    std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .unwrap_or(8080)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_every_complete_request_and_keeps_the_rest() {
        let answer = Answer::new("peer");
        let text = std::str::from_utf8(answer.bytes()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: "));
        assert!(text.ends_with("GMT\r\nContent-Length: 13\r\nServer: peer\r\nContent-Type: text/plain\r\n\r\nHello, World!"));
        let mut out = Vec::new();
        let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /plaintext HTTP/1.1\r\n\r\nGET / HT";
        let used = answer_all(input, answer.bytes(), &mut out).unwrap();
        assert_eq!(used, input.len() - 8);
        assert_eq!(out.len(), 2 * answer.bytes().len());
        assert!(answer_all(b"\x01\x02 / HTTP/1.1\r\n\r\n", answer.bytes(), &mut out).is_err());
    }
}
