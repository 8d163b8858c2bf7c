//! The loop's read buffer while `data_received` holds it, and the writes
//! that borrow from it instead of copying (DESIGN.md "What makes it fast",
//! rule 2: a write on an empty buffer goes straight to the socket).
//!
//! An echo or a proxy writes back bytes it was just given. Copying them
//! into the connection's write buffer only to send them when the callback
//! returns costs a copy per read: for 1 KiB echoed, about 2% of a round
//! trip's CPU time (measured with `benches/scripts/run-paired.sh`). So
//! while a read is lent, a write of a slice of it to a connection with
//! nothing pending records only the range (`Conn::borrowed`); when
//! `data_received` returns, the range is sent straight from the read
//! buffer, and only what the kernel refuses is copied. Any other write to
//! that connection during the callback copies the range in first, so the
//! writes of one callback still leave in order and in one system call
//! (rule 3).

use std::cell::{Cell, RefCell};
use std::ops::Range;

use super::WriteStep;
use crate::proto::write_buffer::WriteBuffer;
use crate::source_table::SourceKey;
use crate::EventLoop;

/// A range of the lent read that a connection wrote (`Conn::borrowed`).
/// Two `u32`s: a read is at most `READ_BUFFER` long, and every connection
/// carries this field, so it costs 12 bytes, not a `Range<usize>`'s 24
/// (memory per connection is a feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LentRange {
    start: u32,
    end: u32,
}

impl LentRange {
    /// How many bytes.
    #[inline]
    pub(crate) fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// The range as an index of the lent slice.
    #[inline]
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[cfg(test)]
impl From<Range<usize>> for LentRange {
    fn from(range: Range<usize>) -> Self {
        Self {
            start: range.start as u32,
            end: range.end as u32,
        }
    }
}

/// The slice lent to `data_received`, if any, and the connections holding
/// a range of it. One per loop (in `Core`).
#[derive(Debug)]
pub(crate) struct LentRead {
    /// Start of the lent slice; null while none is lent. Only a live
    /// [`Lend`] sets it, and its drop clears it.
    start: Cell<*const u8>,
    len: Cell<usize>,
    /// `(key)` of every connection that borrowed a range.
    borrowers: RefCell<Vec<SourceKey>>,
}

impl Default for LentRead {
    fn default() -> Self {
        LentRead {
            start: Cell::new(std::ptr::null()),
            len: Cell::new(0),
            borrowers: RefCell::new(Vec::new()),
        }
    }
}

/// A lend in progress (inside [`LentRead::lend`] only): ends it when
/// dropped, on return or unwinding alike, settling every borrowed range
/// before the lent bytes can be touched again.
struct Lend<'a, S: Fn(&[u8], &[SourceKey])> {
    owner: &'a LentRead,
    data: &'a [u8],
    settle: S,
}

impl<S: Fn(&[u8], &[SourceKey])> Drop for Lend<'_, S> {
    fn drop(&mut self) {
        // Nothing can borrow from here on.
        self.owner.len.set(0);
        if !self.owner.borrowers.borrow().is_empty() {
            // Taken out so that `settle` may use the loop freely.
            let mut borrowers = self.owner.borrowers.take();
            (self.settle)(self.data, &borrowers);
            borrowers.clear();
            self.owner.borrowers.replace(borrowers);
        }
        self.owner.start.set(std::ptr::null());
    }
}

impl LentRead {
    /// Runs `deliver` with `data` lent: while it runs, writes of slices of
    /// `data` may borrow ranges of it ([`range_of`](Self::range_of)). Then
    /// (even if `deliver` unwinds) `settle` gets `data` and every borrower,
    /// to send or copy their ranges; it is not called when nobody
    /// borrowed. A nested call (a read inside a read), or one of more than
    /// 4 GiB (a range is two `u32`s), does not lend: only `deliver` runs.
    pub(crate) fn lend(
        &self,
        data: &[u8],
        deliver: impl FnOnce(),
        settle: impl Fn(&[u8], &[SourceKey]),
    ) {
        if !self.start.get().is_null() || data.is_empty() || data.len() > u32::MAX as usize {
            deliver();
            return;
        }
        self.start.set(data.as_ptr());
        self.len.set(data.len());
        let _lend = Lend {
            owner: self,
            data,
            settle,
        };
        deliver();
    }

    /// Where `data` lies in the lent slice, if it lies there entirely.
    /// Comparing addresses is enough: two live allocations never overlap,
    /// and both `data` and the lent slice are borrowed, so alive.
    #[inline]
    pub(crate) fn range_of(&self, data: &[u8]) -> Option<LentRange> {
        let len = self.len.get();
        if len == 0 || data.is_empty() {
            return None;
        }
        let start = (data.as_ptr() as usize).checked_sub(self.start.get() as usize)?;
        let end = start.checked_add(data.len())?;
        if end > len {
            return None;
        }
        // Exact: `lend` lends at most `u32::MAX` bytes, and `end <= len`.
        Some(LentRange {
            start: start as u32,
            end: end as u32,
        })
    }

    /// Remembers that a connection borrowed a range, to be sent (or
    /// copied) when the lend ends.
    // Always inlined: one `Vec::push` per echoed read, which LLVM left
    // out of line once `Transport::write` had grown (+26 instructions per
    // echo round trip under callgrind).
    #[inline(always)]
    pub(crate) fn note_borrower(&self, key: SourceKey) {
        self.borrowers.borrow_mut().push(key);
    }

    /// Appends the bytes of `range` of the lent slice to `out`.
    ///
    /// # Panics
    ///
    /// If no slice is lent or `range` lies outside it: a borrowed range
    /// outlived its lend, which `Lend::end` rules out.
    // An exception to "unsafe only in sys/": the lend is a raw pointer so
    // the loop's read buffer is borrowed for the protocol's call without a
    // lifetime every transport would carry.
    #[allow(unsafe_code)]
    pub(crate) fn copy_into(&self, range: LentRange, out: &mut WriteBuffer) {
        let range = range.range();
        let start = self.start.get();
        assert!(
            !start.is_null() && range.end <= self.len.get(),
            "a borrowed range outlived the read it borrowed from"
        );
        // SAFETY: `start` is non-null only inside `lend` (set there, cleared
        // when its `Lend` drops, unwinding included; the `Lend` is private
        // to `lend`, so it cannot be forgotten), and all that while `lend`
        // holds a shared borrow of the `len` bytes from `start`: they are
        // alive and nobody writes them. The slice does not leave this
        // function, which runs no user code, so the lend outlives it.
        let lent = unsafe { std::slice::from_raw_parts(start, self.len.get()) };
        out.append(&lent[range]);
    }
}

impl EventLoop {
    /// Lends `data` to the protocol's `data_received`, then sends what
    /// writes borrowed from it (`io::conn::lent_read`) before the buffer is used
    /// again.
    pub(in crate::io) fn deliver_read(&self, key: SourceKey, data: &[u8]) {
        self.core.io.lent_read.lend(
            data,
            || self.call_protocol(key, |p| p.data_received(data)),
            |lent, borrowers| self.send_borrowed(lent, borrowers),
        );
    }

    /// Sends each borrowed range straight from the lent read; what the
    /// kernel does not take is copied into the connection's buffer. Each
    /// connection is already on the dirty list, whose flush then finishes
    /// an EOF or close and checks flow control (invariants 2 and 3).
    fn send_borrowed(&self, lent: &[u8], borrowers: &[SourceKey]) {
        let core = &self.core;
        // Free unless a panic escaped while the table was in use; its
        // connections' output is then lost with them.
        let Ok(mut conns) = core.io.conns.try_borrow_mut() else {
            return;
        };
        for &key in borrowers {
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            let Some(range) = conn.borrowed.take() else {
                continue;
            };
            if conn.is_lost() {
                continue;
            }
            let mut unsent = &lent[range.range()];
            while !unsent.is_empty() {
                let written = conn.stream.write(unsent);
                match conn.wrote(core, key, written) {
                    WriteStep::Sent(n) => unsent = &unsent[n..],
                    WriteStep::Blocked | WriteStep::Failed => break,
                }
            }
            if !conn.is_lost() {
                conn.write.append(unsent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source_table::SourceTable;

    /// A key such as a connection table gives.
    fn some_key() -> SourceKey {
        SourceTable::default().insert(())
    }

    #[test]
    fn only_slices_of_the_lent_bytes_are_found_and_only_while_lent() {
        let borrower = some_key();
        let lent_read = LentRead::default();
        let buffer = [7u8; 100];
        let other = [7u8; 100];
        assert_eq!(lent_read.range_of(&buffer[10..20]), None);
        let settled = RefCell::new(Vec::new());
        let mut delivered = false;
        lent_read.lend(
            &buffer[..50],
            || {
                delivered = true;
                assert_eq!(
                    lent_read.range_of(&buffer[10..20]),
                    Some(10..20).map(LentRange::from)
                );
                assert_eq!(
                    lent_read.range_of(&buffer[..50]),
                    Some(0..50).map(LentRange::from)
                );
                // Past the lent length, in another allocation, or empty.
                assert_eq!(lent_read.range_of(&buffer[40..60]), None);
                assert_eq!(lent_read.range_of(&other[10..20]), None);
                assert_eq!(lent_read.range_of(&buffer[10..10]), None);
                // A nested read delivers without lending.
                let mut nested = false;
                lent_read.lend(&other, || nested = true, |_, _| panic!("nothing to settle"));
                assert!(nested);
                assert_eq!(
                    lent_read.range_of(&buffer[10..20]),
                    Some(10..20).map(LentRange::from)
                );
                let mut copied = WriteBuffer::default();
                lent_read.copy_into(LentRange::from(10..20), &mut copied);
                assert_eq!(copied.pending(), &buffer[10..20]);
                lent_read.note_borrower(borrower);
            },
            |data, borrowers| {
                assert_eq!(data.len(), 50);
                assert_eq!(
                    lent_read.range_of(&buffer[10..20]),
                    None,
                    "no borrowing now"
                );
                settled.borrow_mut().extend_from_slice(borrowers);
            },
        );
        assert!(delivered);
        assert_eq!(*settled.borrow(), [borrower]);
        assert_eq!(lent_read.range_of(&buffer[10..20]), None);
        // The next lend starts with no borrowers.
        lent_read.lend(&other, || {}, |_, _| panic!("nobody borrowed"));
    }

    #[test]
    fn an_unwinding_delivery_still_settles_and_ends_the_lend() {
        let borrower = some_key();
        let lent_read = LentRead::default();
        let buffer = [1u8; 10];
        let settled = Cell::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lent_read.lend(
                &buffer,
                || {
                    lent_read.note_borrower(borrower);
                    panic!("a panic escaped");
                },
                |_, borrowers| settled.set(borrowers.len()),
            );
        }));
        assert!(result.is_err());
        assert_eq!(settled.get(), 1, "the borrower was settled while unwinding");
        assert_eq!(lent_read.range_of(&buffer[..5]), None);
        lent_read.lend(&buffer, || {}, |_, _| panic!("nobody borrowed"));
    }

    #[test]
    #[should_panic(expected = "outlived the read")]
    fn reading_a_range_without_a_lend_panics() {
        LentRead::default().copy_into(LentRange::from(0..1), &mut WriteBuffer::default());
    }
}
