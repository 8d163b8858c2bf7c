//! The chunked transfer coding (RFC 9112, 7.1) for both sides of the HTTP/1
//! codec: chunk-size lines for [`ResponseReader`](super::http1::ResponseReader),
//! which skips bodies as they stream by, and a decoder of whole request
//! bodies for [`parse_request`](super::http1::parse_request).
//!
//! Invariant: nothing here buffers beyond the limits it is given: a size
//! line longer than [`MAX_CHUNK_LINE`], a body over `max_body` or framing
//! over `max_framing` is an error as soon as it is seen, complete or not.

/// The longest chunk-size line accepted (hex digits and extensions).
pub(super) const MAX_CHUNK_LINE: usize = 4 * 1024;

/// Why a chunked body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkedError {
    /// Not the chunked coding: a bad size line or a chunk without its CRLF.
    Malformed,
    /// The decoded body is over its limit.
    TooLarge,
    /// The size lines, their extensions and the trailers together are
    /// over their limit.
    FramingTooLarge,
}

/// The length of the line before the first CRLF; `None` if there is none
/// yet; `Err(())` once more than `limit` bytes came without one.
pub(super) fn find_crlf(input: &[u8], limit: usize) -> Result<Option<usize>, ()> {
    match input.windows(2).position(|w| w == b"\r\n") {
        Some(n) if n <= limit => Ok(Some(n)),
        Some(_) => Err(()),
        None if input.len() > limit => Err(()),
        None => Ok(None),
    }
}

/// The size a chunk-size line (without its CRLF) announces; extensions
/// after `;` are ignored. `None` if it is not a hexadecimal size.
pub(super) fn parse_chunk_size(line: &[u8]) -> Option<usize> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or(b"")
        .trim_ascii();
    // 15 hex digits stay below 2^60: no overflow in the sums below.
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    usize::from_str_radix(text, 16).ok()
}

/// Decodes a whole chunked body at the front of `input`: the body and how
/// many bytes of `input` it took (size lines, data, the last chunk and the
/// trailers, which are skipped); `Ok(None)` while incomplete.
///
/// The framing around the data (size lines with their extensions, CRLFs,
/// trailers) may take at most `max_framing` bytes, so neither the bytes a
/// caller buffers for one body nor the work of looking at them again as
/// more arrive grow beyond `max_body + max_framing` (a million one-byte
/// chunks with long extensions, say). Nothing is copied until the body is
/// complete.
pub(super) fn decode_body(
    input: &[u8],
    max_body: usize,
    max_framing: usize,
) -> Result<Option<(Vec<u8>, usize)>, ChunkedError> {
    let Some((body_len, used)) = walk(input, max_body, max_framing, |_| {})? else {
        return Ok(None);
    };
    let mut body = Vec::with_capacity(body_len);
    walk(input, max_body, max_framing, |data| {
        body.extend_from_slice(data)
    })?;
    Ok(Some((body, used)))
}

/// Goes over a chunked body, giving each chunk's data to `on_data`: the
/// body's length and the bytes it took once complete.
fn walk(
    input: &[u8],
    max_body: usize,
    max_framing: usize,
    mut on_data: impl FnMut(&[u8]),
) -> Result<Option<(usize, usize)>, ChunkedError> {
    let mut body_len = 0;
    let mut at = 0;
    // Where framing may still go, as a limit on the next line's length.
    let framing_left = |at: usize, body_len: usize| max_framing.checked_sub(at - body_len);
    loop {
        let rest = &input[at..];
        let limit = framing_left(at, body_len)
            .ok_or(ChunkedError::FramingTooLarge)?
            .min(MAX_CHUNK_LINE);
        let Some(line_len) = find_crlf(rest, limit).map_err(|()| {
            if limit < MAX_CHUNK_LINE {
                ChunkedError::FramingTooLarge
            } else {
                ChunkedError::Malformed
            }
        })?
        else {
            return Ok(None);
        };
        let size = parse_chunk_size(&rest[..line_len]).ok_or(ChunkedError::Malformed)?;
        if body_len + size > max_body {
            return Err(ChunkedError::TooLarge);
        }
        at += line_len + 2;
        if size == 0 {
            break;
        }
        let rest = &input[at..];
        if rest.len() < size + 2 {
            // Still arriving; a wrong delimiter already there is refused
            // now rather than after the rest came.
            return match rest.get(size..) {
                Some(end) if !b"\r\n".starts_with(end) => Err(ChunkedError::Malformed),
                _ => Ok(None),
            };
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(ChunkedError::Malformed);
        }
        on_data(&rest[..size]);
        body_len += size;
        at += size + 2;
    }
    // Trailer lines up to an empty one.
    loop {
        let rest = &input[at..];
        let limit = framing_left(at, body_len).ok_or(ChunkedError::FramingTooLarge)?;
        let Some(line_len) = find_crlf(rest, limit).map_err(|()| ChunkedError::FramingTooLarge)?
        else {
            return Ok(None);
        };
        at += line_len + 2;
        if line_len == 0 {
            return Ok(Some((body_len, at)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: &[u8] = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT";

    #[test]
    fn a_body_decodes_whole_with_extensions_and_trailers_skipped() {
        let (body, used) = decode_body(WIRE, 1024, 1024).unwrap().unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&WIRE[used..], b"NEXT");
    }

    #[test]
    fn every_prefix_asks_for_more() {
        let end = WIRE.len() - b"NEXT".len();
        for cut in 0..end {
            assert_eq!(decode_body(&WIRE[..cut], 1024, 1024), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn random_encodings_decode_to_their_body_and_every_prefix_waits() {
        // A small deterministic generator (xorshift): no dependency, and a
        // failure names its seed.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for round in 0..300 {
            let body: Vec<u8> = (0..next(600)).map(|_| next(256) as u8).collect();
            let mut wire = Vec::new();
            let mut at = 0;
            while at < body.len() {
                let size = (1 + next(80)).min(body.len() - at);
                let size_line = match next(3) {
                    0 => format!("{size:x}"),
                    1 => format!("{size:X};ext=\"v\""),
                    _ => format!("{size:04x} ; a=b"),
                };
                wire.extend_from_slice(size_line.as_bytes());
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(&body[at..at + size]);
                wire.extend_from_slice(b"\r\n");
                at += size;
            }
            wire.extend_from_slice(b"0\r\n");
            for trailer in 0..next(3) {
                wire.extend_from_slice(format!("T{trailer}: x\r\n").as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            let (decoded, used) = decode_body(&wire, 1 << 20, 1 << 16)
                .unwrap_or_else(|e| panic!("round {round}: {e:?}"))
                .unwrap_or_else(|| panic!("round {round}: incomplete"));
            assert_eq!((decoded, used), (body, wire.len()), "round {round}");
            let cut = next(wire.len());
            assert_eq!(
                decode_body(&wire[..cut], 1 << 20, 1 << 16),
                Ok(None),
                "round {round}, cut {cut}"
            );
        }
    }

    #[test]
    fn limits_and_bad_framing_are_errors_even_before_the_end() {
        assert_eq!(decode_body(WIRE, 10, 1024), Err(ChunkedError::TooLarge));
        // Announced over the limit: refused before the data comes.
        assert_eq!(
            decode_body(b"100000\r\n", 1024, 1024),
            Err(ChunkedError::TooLarge)
        );
        assert_eq!(
            decode_body(b"0\r\nX: 123456789\r\n\r\n", 1024, 8),
            Err(ChunkedError::FramingTooLarge)
        );
        // A thousand one-byte chunks: 5 bytes of framing each.
        let tiny: Vec<u8> = b"1\r\nx\r\n".repeat(1000);
        assert_eq!(
            decode_body(&tiny, 1 << 20, 4000),
            Err(ChunkedError::FramingTooLarge)
        );
        let mut whole = tiny.clone();
        whole.extend_from_slice(b"0\r\n\r\n");
        let (body, used) = decode_body(&whole, 1 << 20, 5100).unwrap().unwrap();
        assert_eq!((body.len(), used), (1000, whole.len()));
        for bad in [
            &b"zz\r\n"[..],
            b"-1\r\n",
            b"5\r\nhelloXY",
            b"5\r\nhello\rX",
            b"1234567890123456\r\n",
            b" \r\n",
        ] {
            assert_eq!(
                decode_body(bad, 1 << 40, 1024),
                Err(ChunkedError::Malformed),
                "{bad:?}"
            );
        }
        let long_line = [b'1'; MAX_CHUNK_LINE + 1];
        assert_eq!(
            decode_body(&long_line, 1024, 1 << 20),
            Err(ChunkedError::Malformed)
        );
        // Within the line limit but over what framing may take.
        assert_eq!(
            decode_body(&long_line, 1024, 1024),
            Err(ChunkedError::FramingTooLarge)
        );
    }
}
