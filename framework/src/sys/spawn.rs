//! Starting a process with some of ours fds at fixed numbers (3, 4, …), the
//! way socket activation passes them: what a zero-downtime restart needs to
//! hand its listening sockets to the new binary.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::cvt;

/// The first fd passed (`SD_LISTEN_FDS_START`).
pub(crate) const FIRST_FD: RawFd = 3;

/// Spawns `command` with `fds[i]` open as fd `3 + i` in the child (and not
/// close-on-exec there); every other fd of ours stays close-on-exec as
/// before. Nothing changes in this process's fd table once it returns.
pub(crate) fn spawn_with_fds(command: &mut Command, fds: &[BorrowedFd<'_>]) -> io::Result<Child> {
    let targets = FIRST_FD..FIRST_FD + fds.len() as RawFd;
    // Copies above the targets, so moving one into place never overwrites
    // another still to move.
    let sources = fds
        .iter()
        .map(|fd| dup_at_least(fd.as_raw_fd(), targets.end))
        .collect::<io::Result<Vec<OwnedFd>>>()?;
    // Fill every free number among the targets for the length of the
    // spawn: `Command` opens a close-on-exec pipe to report an `exec`
    // failure, and it must not land where the child's `dup2` would replace
    // it.
    let mut placeholders = Vec::new();
    for fd in targets.clone() {
        if !is_open(fd) {
            let placeholder = dup_at_least(sources[0].as_raw_fd(), fd)?;
            if placeholder.as_raw_fd() != fd {
                // Someone else took `fd` in between: it is open now.
                drop(placeholder);
                continue;
            }
            placeholders.push(placeholder);
        }
    }
    let raw_sources: Vec<RawFd> = sources.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: it calls `dup2` alone, on
    // fds that are open (the copies above live until `spawn` returns), and
    // it allocates nothing (`raw_sources` was built before the fork).
    unsafe {
        command.pre_exec(move || {
            for (target, &source) in (FIRST_FD..).zip(raw_sources.iter()) {
                // dup2 clears close-on-exec on the new fd.
                if libc::dup2(source, target) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = command.spawn();
    drop(placeholders);
    drop(sources);
    child
}

/// A close-on-exec copy of `fd` at the lowest free number `>= at_least`.
fn dup_at_least(fd: RawFd, at_least: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd and touches nothing else; a
    // closed `fd` fails with EBADF.
    let copy = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, at_least) })?;
    // SAFETY: `copy` was just made for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags; a closed fd fails.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

pub(crate) use super::pipe;

/// Waits up to `timeout` for `fd` to be readable (or hung up); false on
/// timeout.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: std::time::Duration) -> io::Result<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut poll_fd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd, for the length of the call.
        match cvt(unsafe { libc::poll(&mut poll_fd, 1, millis) }) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
