//! The open-file limit: servers with many connections and load generators
//! raise the soft limit towards the hard one before they open sockets.

use std::io;

/// Raises this process's soft limit on open files (`RLIMIT_NOFILE`) to at
/// least `wanted`, as far as the hard limit allows, and returns the soft
/// limit now in force. It never lowers the limit.
///
/// ```
/// let limit = loopcore::raise_fd_limit(256)?;
/// assert!(limit >= 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn raise_fd_limit(wanted: u64) -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    super::cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    let wanted: libc::rlim_t = wanted;
    if limit.rlim_cur >= wanted {
        return Ok(limit.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: wanted.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: `raised` is a valid rlimit that keeps the hard limit as it
    // is and a soft limit no higher than it.
    super::cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) })?;
    Ok(raised.rlim_cur)
}
