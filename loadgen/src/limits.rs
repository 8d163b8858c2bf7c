//! Making room for the connections: every connection is a file
//! descriptor, so the soft open-file limit is raised first, and a run that
//! still would not fit is refused with a clear error instead of failing
//! connection by connection.

use anyhow::{bail, Context, Result};

/// Descriptors the process needs besides its connections (epoll, wakers,
/// timers, the standard streams, the executor).
const SPARE_FDS: u64 = 64;

/// Raises the open-file limit for `connections` connections or explains
/// why it cannot.
pub fn ensure_fds(connections: usize) -> Result<()> {
    let wanted = connections as u64 + SPARE_FDS;
    let limit = loopcore::raise_fd_limit(wanted).with_context(|| {
        format!("raising the limit of open files to {wanted} for {connections} connections")
    })?;
    if limit < wanted {
        bail!(
            "{connections} connections need about {wanted} open files, but the limit is {limit}: \
             raise the hard limit (ulimit -Hn, LimitNOFILE=) or use fewer connections"
        );
    }
    Ok(())
}
