//! A `CLOCK_MONOTONIC` timerfd: mio rounds poll timeouts up to whole
//! milliseconds, so deadlines are armed here instead, with nanosecond
//! resolution, and the fd wakes the poll like any other source.

use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::FromRawFd;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::cvt;

/// Whether an armed `TimerFd` wakes the poll by itself. Where it cannot
/// (no timerfd outside Linux), the loop passes the deadline as the poll's
/// timeout instead (kqueue takes nanoseconds).
pub(crate) const WAKES_POLL: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// An owned, non-blocking, close-on-exec timerfd.
#[derive(Debug)]
pub(crate) struct TimerFd {
    fd: OwnedFd,
}

/// Outside Linux: a source that never fires (the read end of a pipe
/// nobody writes), so the loop's registration stays the same.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl TimerFd {
    pub(crate) fn new() -> io::Result<Self> {
        let (read, _write) = super::pipe()?;
        Ok(Self { fd: read })
    }

    pub(crate) fn arm(&self, _after: Duration) -> io::Result<()> {
        Ok(())
    }

    pub(crate) fn clear(&self) {}
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl TimerFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall with constant flags; the returned fd is owned
        // by us alone and wrapped at once.
        let fd = cvt(unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned by timerfd_create and is not owned
        // by anything else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Arms a one-shot expiry `after` from now; zero disarms, so the
    /// smallest delay armed is one nanosecond.
    pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the fd is a valid timerfd we own; `spec` outlives the call
        // and the old-value pointer may be null.
        cvt(unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })?;
        Ok(())
    }

    /// Reads and discards the expiry count so the fd is no longer readable.
    pub(crate) fn clear(&self) {
        let mut ticks = 0u64;
        // SAFETY: reads at most 8 bytes into a live, properly aligned u64.
        // EAGAIN (nothing expired) is fine and ignored.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut ticks as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use crate::sys::{is_ready, Readiness};
    use std::time::Instant;

    #[test]
    fn expires_and_clears() {
        let timer = TimerFd::new().unwrap();
        assert!(!is_ready(timer.as_raw_fd(), Readiness::Readable));
        let start = Instant::now();
        timer.arm(Duration::from_micros(200)).unwrap();
        while !is_ready(timer.as_raw_fd(), Readiness::Readable) {
            std::thread::yield_now();
        }
        assert!(start.elapsed() >= Duration::from_micros(200));
        timer.clear();
        assert!(!is_ready(timer.as_raw_fd(), Readiness::Readable));
    }
}
