//! Splitting a byte stream into `\n`-terminated lines, for the line-based
//! examples (`chat`, `blocking`).

/// A line longer than the limit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// Buffers a partial line between reads.
#[derive(Debug)]
pub struct Lines {
    partial: Vec<u8>,
    max: usize,
}

impl Lines {
    /// Lines of at most `max` bytes (without the `\n`).
    pub fn new(max: usize) -> Self {
        Self {
            partial: Vec::new(),
            max,
        }
    }

    /// Feeds `data`; calls `line` with each complete line, without its
    /// `\n` (and a `\r` before it). Errors once a line exceeds the limit.
    ///
    /// ```
    /// let mut lines = loopcore_examples::lines::Lines::new(16);
    /// let mut got = Vec::new();
    /// lines.push(b"one\r\ntw", |l| got.push(l.to_vec())).unwrap();
    /// lines.push(b"o\n", |l| got.push(l.to_vec())).unwrap();
    /// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    /// assert!(lines.push(&[b'x'; 18], |_| ()).is_err());
    /// ```
    pub fn push(
        &mut self,
        mut data: &[u8],
        mut line: impl FnMut(&[u8]),
    ) -> Result<(), LineTooLong> {
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            let (head, rest) = (&data[..end], &data[end + 1..]);
            if self.partial.is_empty() {
                line(trim_cr(check(head, self.max)?));
            } else {
                self.partial.extend_from_slice(head);
                check(&self.partial, self.max)?;
                line(trim_cr(&self.partial));
                self.partial.clear();
            }
            data = rest;
        }
        self.partial.extend_from_slice(data);
        check(&self.partial, self.max).map(drop)
    }
}

fn check(line: &[u8], max: usize) -> Result<&[u8], LineTooLong> {
    // One byte of slack for the `\r` of a `\r\n`.
    if line.len() > max + 1 {
        Err(LineTooLong)
    } else {
        Ok(line)
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}
