//! Socket activation: the listening sockets systemd (or any supervisor,
//! or the previous process of a restart) passed in, by its protocol:
//! `LISTEN_PID` names the process they are for, `LISTEN_FDS` how many
//! there are, from fd 3 on (`sd_listen_fds(3)`).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::cvt;

/// The first fd passed (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// Takes the sockets passed with `LISTEN_FDS` for this process, in order:
/// empty when there are none or they are for another process
/// (`LISTEN_PID`). They are marked close-on-exec, and the variables are
/// removed, so they are taken once and not passed on to children.
///
/// Convert with `std::net::TcpListener::from(fd)` (or `UnixListener`) and
/// serve with [`Runtime::serve_listeners`](crate::Runtime::serve_listeners).
///
/// # Errors
///
/// A clear error when the variables are malformed, or an fd they name is
/// not open.
pub fn listen_fds() -> crate::Result<Vec<OwnedFd>> {
    let error = |message: String| crate::Error::new(crate::ErrorKind::InvalidInput, message);
    let Ok(pid) = std::env::var("LISTEN_PID") else {
        return Ok(Vec::new());
    };
    let pid: u32 = pid
        .parse()
        .map_err(|_| error(format!("LISTEN_PID is not a process id: {pid:?}")))?;
    if pid != std::process::id() {
        return Ok(Vec::new());
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    let count: RawFd = count
        .parse()
        .ok()
        .filter(|&n| (0..=4096).contains(&n))
        .ok_or_else(|| error(format!("LISTEN_FDS is not a count of fds: {count:?}")))?;
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    (FIRST_FD..FIRST_FD + count)
        .map(|fd| {
            set_cloexec(fd).map_err(|e| {
                crate::Error::io(format!("LISTEN_FDS names fd {fd}, which is not usable"), e)
            })?;
            // SAFETY: the supervisor passed `fd` to this process for it to
            // own (LISTEN_PID is ours); it is open (F_SETFD just succeeded),
            // and removing the variables above means it is taken only once.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        })
        .collect()
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD only sets the fd's flags; an fd that is not open
    // fails with EBADF.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(drop)
}
