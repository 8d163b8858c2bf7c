//! Socket activation and readiness: the listening sockets systemd (or any
//! supervisor, or the previous process of a restart) passed in, by its
//! protocol: `LISTEN_PID` names the process they are for, `LISTEN_FDS` how
//! many there are, from fd 3 on (`sd_listen_fds(3)`); and telling whoever
//! started us that we serve (`sd_notify(3)`'s `READY=1`, and a restart's
//! readiness pipe).

use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};

use super::cvt;
use super::spawn::FIRST_FD;

/// Set by a restarting predecessor instead of `LISTEN_PID`, which it cannot
/// know before its child exists: the fds are for a child of this pid.
pub(crate) const LISTEN_PPID_VAR: &str = "LOOPCORE_LISTEN_PPID";
/// The fd of the pipe a restarting predecessor waits on for readiness.
pub(crate) const READY_FD_VAR: &str = "LOOPCORE_READY_FD";

/// The predecessor's readiness pipe, taken by `listen_fds`, written by
/// `notify_ready`.
static READY_PIPE: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// Takes the sockets passed with `LISTEN_FDS` for this process, in order:
/// empty when there are none or they are for another process
/// (`LISTEN_PID`, or for a zero-downtime restart `LOOPCORE_LISTEN_PPID`
/// naming our parent). They are marked close-on-exec, and the variables are
/// removed, so they are taken once and not passed on to children.
///
/// After a restart by [`RuntimeHandle::upgrade`](crate::RuntimeHandle::upgrade)
/// the predecessor keeps serving until this process calls
/// [`notify_ready`].
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
    let parse_pid = |name: &str, value: String| {
        value
            .parse::<u32>()
            .map_err(|_| error(format!("{name} is not a process id: {value:?}")))
    };
    let for_us = if let Ok(pid) = std::env::var("LISTEN_PID") {
        parse_pid("LISTEN_PID", pid)? == std::process::id()
    } else if let Ok(ppid) = std::env::var(LISTEN_PPID_VAR) {
        parse_pid(LISTEN_PPID_VAR, ppid)? == std::os::unix::process::parent_id()
    } else {
        return Ok(Vec::new());
    };
    if !for_us {
        return Ok(Vec::new());
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    let count: RawFd = count
        .parse()
        .ok()
        .filter(|&n| (0..=4096).contains(&n))
        .ok_or_else(|| error(format!("LISTEN_FDS is not a count of fds: {count:?}")))?;
    let ready_fd = std::env::var(READY_FD_VAR).ok();
    for name in [
        "LISTEN_PID",
        "LISTEN_FDS",
        "LISTEN_FDNAMES",
        LISTEN_PPID_VAR,
        READY_FD_VAR,
    ] {
        std::env::remove_var(name);
    }
    if let Some(ready_fd) = ready_fd {
        let fd: RawFd = ready_fd
            .parse()
            .ok()
            .filter(|&fd| fd >= FIRST_FD + count && is_pipe(fd))
            .ok_or_else(|| error(format!("{READY_FD_VAR} is not a pipe's fd: {ready_fd:?}")))?;
        set_cloexec(fd).map_err(|e| crate::Error::io("taking the readiness pipe", e))?;
        // SAFETY: our parent passed this pipe to us alone (the variables
        // naming it were for us, and are gone now); it is open (F_SETFD
        // succeeded) and not one of the listeners (it lies after them).
        let pipe = unsafe { OwnedFd::from_raw_fd(fd) };
        *READY_PIPE.lock().unwrap_or_else(PoisonError::into_inner) = Some(pipe);
    }
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

fn is_pipe(fd: RawFd) -> bool {
    // SAFETY: fstat writes into `stat`, which is large enough; a closed fd
    // fails.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut stat) == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFIFO
    }
}

/// Tells whoever started this process that it now serves: the previous
/// process of a zero-downtime restart (which then stops accepting, drains
/// and exits; call [`listen_fds`] first, which takes the restart's
/// readiness pipe with the sockets), and systemd (`READY=1` and
/// `MAINPID` to `$NOTIFY_SOCKET`, for `Type=notify` units). Does nothing
/// where neither applies; call it once every listener is being served.
///
/// # Errors
///
/// The notice could not be delivered: the predecessor is gone (it then
/// drains anyway) or `$NOTIFY_SOCKET` does not accept datagrams.
pub fn notify_ready() -> crate::Result<()> {
    let pipe = READY_PIPE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(pipe) = pipe {
        std::fs::File::from(pipe)
            .write_all(b"R")
            .map_err(|e| crate::Error::io("telling the previous process that we serve", e))?;
    }
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        let message = format!("READY=1\nMAINPID={}\n", std::process::id());
        notify_systemd(&path, message.as_bytes())
            .map_err(|e| crate::Error::io(format!("notifying systemd at {path:?}"), e))?;
    }
    Ok(())
}

/// One datagram to `$NOTIFY_SOCKET`: a path, or (Linux) an abstract name
/// after `@`.
fn notify_systemd(path: &std::ffi::OsStr, message: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = path.as_bytes();
    let address = match bytes.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Some(_) => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract socket names exist on Linux only",
            ))
        }
        None => SocketAddr::from_pathname(path)?,
    };
    UnixDatagram::unbound()?.send_to_addr(message, &address)?;
    Ok(())
}
