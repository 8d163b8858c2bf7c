//! Sending what a write buffer holds beyond its copied bytes: buffers
//! handed over whole (`Transport::write_owned`) with one `writev`, and file
//! ranges (`Transport::sendfile`) with `sendfile(2)`, or with `pread` and
//! `write` where the kernel refuses that file or destination.

use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use super::stream::Stream;
use crate::proto::write_buffer::{FileRange, Head, WriteBuffer};

/// Slices per `writev`.
const MAX_SLICES: usize = 32;
/// Bytes read per call when a file cannot go through `sendfile(2)`.
pub(crate) const FILE_CHUNK: usize = 64 * 1024;

/// One system call's worth of `buffer` to `stream`; returns the bytes the
/// kernel took (for `WriteBuffer::consume`).
pub(crate) fn write_queued(stream: &Stream, buffer: &mut WriteBuffer) -> io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    match buffer.head(&mut slices) {
        Head::Slices {
            count,
            file_next: true,
        } if stream.is_tcp() => {
            // A response head before its body: let them share packets
            // (what nginx's `tcp_nopush` does with TCP_CORK).
            crate::sys::sendfile::send_more(stream.as_fd(), &slices[..count])
        }
        Head::Slices { count, .. } => stream.write_vectored(&slices[..count]),
        Head::File(range) => send_file_range(stream, range),
    }
}

fn send_file_range(stream: &Stream, range: &mut FileRange) -> io::Result<usize> {
    let out = stream.as_fd();
    let count = usize::try_from(range.remaining).unwrap_or(usize::MAX);
    if !range.read_fallback {
        match crate::sys::sendfile::sendfile(out, range.file.as_fd(), range.offset, count) {
            Ok(0) => return Err(file_ended()),
            Ok(sent) => return Ok(sent),
            Err(e) if crate::sys::sendfile::unsupported(&e) => range.read_fallback = true,
            Err(e) => return Err(e),
        }
    }
    let mut chunk = vec![0u8; count.min(FILE_CHUNK)];
    let read = read_file_chunk(range, &mut chunk)?;
    stream.write(&chunk[..read])
}

/// Reads the next bytes of `range` into `chunk` (not consuming them);
/// fails if the file ends before the range does.
pub(crate) fn read_file_chunk(range: &FileRange, chunk: &mut [u8]) -> io::Result<usize> {
    let want = chunk
        .len()
        .min(usize::try_from(range.remaining).unwrap_or(usize::MAX));
    loop {
        match range.file.read_at(&mut chunk[..want], range.offset) {
            Ok(0) => return Err(file_ended()),
            Ok(read) => return Ok(read),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn file_ended() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file ended before the range given to sendfile was sent (was it truncated?)",
    )
}
