//! [`ResponseReader`]: the client side of the HTTP/1.1 codec, incremental.
//! It is fed bytes as they arrive and says when each response is complete;
//! bodies are counted and skipped, never kept, whatever their framing
//! (`Content-Length`, chunked with trailers, or read until the connection
//! closes). Load generators and tests use it; it owns no socket.
//!
//! Invariants:
//! 1. `feed` consumes at most one response and never consumes part of a
//!    head: the caller keeps unconsumed bytes and feeds them again with
//!    what arrives next.
//! 2. A response head larger than [`MAX_HEAD`] is an error, so a peer
//!    cannot make the caller buffer without bound.

use super::http1::{Response, ResponseError, MAX_HEADERS};
use super::http1_chunked::{parse_chunk_size, MAX_CHUNK_LINE};

/// The largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;

/// Reads a stream of HTTP/1.1 responses (see the module docs).
///
/// ```
/// use loopcore::http1::ResponseReader;
/// let mut reader = ResponseReader::new();
/// let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
/// let (used, done) = reader.feed(&wire[..50], false).unwrap();
/// assert!(done.is_none());
/// let (rest, done) = reader.feed(&wire[used..], false).unwrap();
/// let response = done.expect("complete");
/// assert_eq!((response.status, response.body_len), (200, 5));
/// assert_eq!(used + rest, wire.len());
/// ```
#[derive(Debug, Default)]
pub struct ResponseReader {
    state: State,
    /// The head of the response being read.
    head: Option<Response>,
    /// Body bytes of it seen so far.
    body_seen: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Head,
    Fixed {
        remaining: usize,
    },
    ChunkSize,
    ChunkData {
        remaining: usize,
    },
    ChunkDataEnd,
    Trailers,
    UntilClose,
}

impl ResponseReader {
    /// A reader waiting for a response head.
    pub fn new() -> Self {
        Self::default()
    }

    /// True between responses (nothing of one has been consumed).
    pub fn is_idle(&self) -> bool {
        self.state == State::Head
    }

    /// Consumes what it can of `input` for the current response. Returns
    /// how many bytes it used and, once the response is complete, its head
    /// with `body_len` set to the body's length. `head_request`: the
    /// request this answers was `HEAD`, so no body follows.
    pub fn feed(
        &mut self,
        input: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Response>), ResponseError> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Head => {
                    let Some((response, head_len, framing)) = parse_head(rest, head_request)?
                    else {
                        return Ok((used, None));
                    };
                    used += head_len;
                    if (100..200).contains(&response.status) && response.status != 101 {
                        // Informational: the real response follows.
                        continue;
                    }
                    self.head = Some(response);
                    self.body_seen = 0;
                    self.state = framing;
                    if let State::Fixed { remaining: 0 } = framing {
                        return Ok((used, Some(self.complete())));
                    }
                }
                State::Fixed { remaining } => {
                    let take = remaining.min(rest.len());
                    used += take;
                    self.body_seen += take;
                    if take == remaining {
                        return Ok((used, Some(self.complete())));
                    }
                    self.state = State::Fixed {
                        remaining: remaining - take,
                    };
                    return Ok((used, None));
                }
                State::ChunkSize => {
                    let Some(line_len) = find_crlf(rest, MAX_CHUNK_LINE)? else {
                        return Ok((used, None));
                    };
                    let size =
                        parse_chunk_size(&rest[..line_len]).ok_or(ResponseError::Malformed)?;
                    used += line_len + 2;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::ChunkData { remaining: size }
                    };
                }
                State::ChunkData { remaining } => {
                    let take = remaining.min(rest.len());
                    used += take;
                    self.body_seen += take;
                    if take < remaining {
                        self.state = State::ChunkData {
                            remaining: remaining - take,
                        };
                        return Ok((used, None));
                    }
                    self.state = State::ChunkDataEnd;
                }
                State::ChunkDataEnd => {
                    if rest.len() < 2 {
                        return Ok((used, None));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ResponseError::Malformed);
                    }
                    used += 2;
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    let Some(line_len) = find_crlf(rest, MAX_HEAD)? else {
                        return Ok((used, None));
                    };
                    used += line_len + 2;
                    if line_len == 0 {
                        return Ok((used, Some(self.complete())));
                    }
                }
                State::UntilClose => {
                    self.body_seen += rest.len();
                    return Ok((input.len(), None));
                }
            }
        }
    }

    /// The connection reached end of file: completes a body read until
    /// close; `Err(Truncated)` if a response was cut short; `Ok(None)`
    /// between responses.
    pub fn eof(&mut self) -> Result<Option<Response>, ResponseError> {
        match self.state {
            State::Head if self.head.is_none() => Ok(None),
            State::UntilClose => Ok(Some(self.complete())),
            _ => {
                self.state = State::Head;
                self.head = None;
                Err(ResponseError::Truncated)
            }
        }
    }

    fn complete(&mut self) -> Response {
        self.state = State::Head;
        let mut response = self.head.take().unwrap_or(Response {
            status: 0,
            body_len: 0,
            keep_alive: false,
        });
        response.body_len = self.body_seen;
        response
    }
}

/// Parses a complete head at the front of `input`: the response, the
/// head's length and how its body is framed; `None` while incomplete.
fn parse_head(
    input: &[u8],
    head_request: bool,
) -> Result<Option<(Response, usize, State)>, ResponseError> {
    // Uninitialized, as in `http1::parse`: filling 64 empty headers costs
    // more than parsing a small head.
    let mut headers =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        input,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => return Err(ResponseError::Malformed),
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => {
            return Err(ResponseError::Malformed)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ResponseError::Malformed),
    };
    let status = parsed.code.ok_or(ResponseError::Malformed)?;
    let mut keep_alive = parsed.version == Some(1);
    let mut content_length = None;
    let mut chunked = false;
    for header in parsed.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(ResponseError::Malformed)?;
            if content_length.is_some_and(|n| n != value) {
                return Err(ResponseError::Malformed);
            }
            content_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // The last coding frames the body (RFC 9112, 6.3).
            let last = header.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if header.name.eq_ignore_ascii_case("connection") {
            super::http1::apply_connection_header(header.value, &mut keep_alive);
        }
    }
    let framing = if head_request || matches!(status, 100..=199 | 204 | 304) {
        State::Fixed { remaining: 0 }
    } else if chunked {
        State::ChunkSize
    } else if let Some(n) = content_length {
        State::Fixed { remaining: n }
    } else {
        // No length: the body runs to the end of the connection.
        keep_alive = false;
        State::UntilClose
    };
    let response = Response {
        status,
        body_len: 0,
        keep_alive,
    };
    Ok(Some((response, head_len, framing)))
}

/// [`super::http1_chunked::find_crlf`], failing as a malformed response.
fn find_crlf(input: &[u8], limit: usize) -> Result<Option<usize>, ResponseError> {
    super::http1_chunked::find_crlf(input, limit).map_err(|()| ResponseError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` in pieces of `step` bytes, as a socket might deliver it,
    /// and returns every completed response.
    fn feed_in_steps(wire: &[u8], step: usize) -> Result<Vec<Response>, ResponseError> {
        let mut reader = ResponseReader::new();
        let mut pending = Vec::new();
        let mut done = Vec::new();
        for piece in wire.chunks(step) {
            pending.extend_from_slice(piece);
            loop {
                let (used, response) = reader.feed(&pending, false)?;
                pending.drain(..used);
                match response {
                    Some(r) => done.push(r),
                    None => break,
                }
            }
        }
        if let Some(r) = reader.eof()? {
            done.push(r);
        }
        Ok(done)
    }

    #[test]
    fn every_framing_in_every_split() {
        let wire: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
            HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
            4;ext=1\r\nwxyz\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n\
            HTTP/1.1 204 No Content\r\n\r\n\
            HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n\
            HTTP/1.0 200 OK\r\n\r\nuntil the end";
        for step in [1, 2, 3, 7, 64, wire.len()] {
            let done = feed_in_steps(wire, step).unwrap();
            let summary: Vec<_> = done
                .iter()
                .map(|r| (r.status, r.body_len, r.keep_alive))
                .collect();
            assert_eq!(
                summary,
                [
                    (200, 3, true),
                    (200, 20, true),
                    (204, 0, true),
                    (404, 0, false),
                    (200, 13, false)
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn a_cut_response_is_truncated_and_garbage_is_malformed() {
        let mut reader = ResponseReader::new();
        let (used, done) = reader
            .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false)
            .unwrap();
        assert_eq!((used, done), (42, None));
        assert_eq!(reader.eof(), Err(ResponseError::Truncated));
        assert!(reader.is_idle());
        assert_eq!(
            ResponseReader::new().feed(b"SSH-2.0-x\r\n\r\n", false),
            Err(ResponseError::Malformed)
        );
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(
            ResponseReader::new().feed(bad_chunk, false),
            Err(ResponseError::Malformed)
        );
        let mut complete = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        complete.resize(MAX_HEAD + 10, b'a');
        complete.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            ResponseReader::new().feed(&complete, false),
            Err(ResponseError::Malformed),
            "a complete head over the limit is refused as a split one is"
        );
        let huge = vec![b'a'; MAX_HEAD + 10];
        let mut wire = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        wire.extend_from_slice(&huge);
        assert_eq!(
            ResponseReader::new().feed(&wire, false),
            Err(ResponseError::Malformed)
        );
    }

    #[test]
    fn a_head_request_has_no_body_whatever_the_length_says() {
        let mut reader = ResponseReader::new();
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nHTTP/1.1";
        let (used, done) = reader.feed(wire, true).unwrap();
        assert_eq!(used, wire.len() - 8);
        assert_eq!(done.unwrap().body_len, 0);
    }
}
