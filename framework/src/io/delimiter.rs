//! [`Delimiter`]: what [`StreamReader::read_until`](crate::StreamReader::read_until)
//! looks for, one byte or a byte sequence, and the search for it.

/// What [`StreamReader::read_until`](crate::StreamReader::read_until) reads
/// up to: one byte (`b'\n'`) or a sequence of bytes (`b"\r\n\r\n"`, a
/// `&[u8]`, a `Vec<u8>`), as asyncio's `readuntil(separator)` takes.
///
/// ```
/// fn takes(_: impl loopcore::Delimiter) {}
/// takes(b'\n');
/// takes(b"\r\n\r\n");
/// takes(&b"--boundary"[..]);
/// takes(vec![0u8, 0]);
/// ```
pub trait Delimiter {
    /// The bytes that end a read.
    fn as_bytes(&self) -> &[u8];
}

impl Delimiter for u8 {
    fn as_bytes(&self) -> &[u8] {
        std::slice::from_ref(self)
    }
}

impl<const N: usize> Delimiter for [u8; N] {
    fn as_bytes(&self) -> &[u8] {
        self
    }
}

impl<const N: usize> Delimiter for &[u8; N] {
    fn as_bytes(&self) -> &[u8] {
        &self[..]
    }
}

impl Delimiter for &[u8] {
    fn as_bytes(&self) -> &[u8] {
        self
    }
}

impl Delimiter for Vec<u8> {
    fn as_bytes(&self) -> &[u8] {
        self
    }
}

/// Where `needle` (not empty) first starts in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [byte] => haystack.iter().position(|b| b == byte),
        _ => haystack.windows(needle.len()).position(|w| w == needle),
    }
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_the_first_whole_occurrence() {
        assert_eq!(find(b"ab\r\n\r\ncd", b"\r\n\r\n"), Some(2));
        assert_eq!(find(b"ab\r\n\rcd", b"\r\n\r\n"), None);
        assert_eq!(find(b"xxaxab", b"ab"), Some(4));
        assert_eq!(find(b"line\n", b"\n"), Some(4));
        assert_eq!(find(b"", b"\n"), None);
    }
}
