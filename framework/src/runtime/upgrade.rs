//! Zero-downtime restart: the runtime's record of the sockets it listens
//! on, and handing them to a new process (usually a new binary at the same
//! path), which says when it serves; this one then drains and exits. The
//! sockets never close, so no SYN is refused and nothing queued is lost.

use std::ffi::OsString;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::RuntimeHandle;
use crate::sys::activation::{LISTEN_PPID_VAR, READY_FD_VAR};
use crate::sys::spawn::{pipe, spawn_with_fds, wait_readable, FIRST_FD};
use crate::{Error, ErrorKind, Result};

/// How to start the successor in [`RuntimeHandle::upgrade`]: by default
/// the program this process was started from (the path it had when the
/// runtime was built, so a binary replaced since is the one started), with
/// this process's arguments, given 30 s to become ready.
///
/// The successor takes the sockets with [`listen_fds`](crate::listen_fds),
/// serves them with [`Runtime::serve_listeners`](crate::Runtime::serve_listeners)
/// and then calls [`notify_ready`](crate::notify_ready).
#[derive(Clone, Debug)]
pub struct Upgrade {
    program: Option<PathBuf>,
    args: Option<Vec<OsString>>,
    ready_timeout: Duration,
}

impl Default for Upgrade {
    fn default() -> Self {
        Self {
            program: None,
            args: None,
            ready_timeout: Duration::from_secs(30),
        }
    }
}

impl Upgrade {
    /// The defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts this program instead of our own.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Passes these arguments instead of ours.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// How long the successor has to call `notify_ready` before it is
    /// killed and this process goes on serving.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }
}

/// Copies of every socket the runtime listens on, in the order served, for
/// a restart to pass on; dropped when shutdown begins (the loops' own
/// copies close then, and these must not keep the sockets listening).
#[derive(Default)]
pub(crate) struct Listeners {
    sockets: Mutex<Vec<TcpListener>>,
    closed: AtomicBool,
    upgrading: AtomicBool,
}

impl Listeners {
    pub(crate) fn record(&self, listeners: &[TcpListener]) -> Result<()> {
        let copies = listeners
            .iter()
            .map(TcpListener::try_clone)
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io("keeping a copy of a listener for restarts", e))?;
        if !self.closed.load(Ordering::Acquire) {
            self.lock().extend(copies);
        }
        Ok(())
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TcpListener>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RuntimeHandle {
    /// Zero-downtime restart: starts a successor process with every
    /// listening socket of this runtime (from fd 3 on, as socket activation
    /// passes them) and returns its pid. A thread waits for the successor
    /// to call [`notify_ready`](crate::notify_ready); then this runtime
    /// shuts down gracefully (stops accepting, drains its connections
    /// within the grace period) and [`Runtime::run`](super::Runtime::run)
    /// returns. Both processes accept in between. If the successor exits,
    /// or is not ready within the timeout, it is killed, the failure is
    /// logged (`tracing`, target `loopcore::runtime`), and this runtime
    /// goes on serving as if nothing happened.
    ///
    /// [`Builder::upgrade_on_sigusr2`](super::Builder::upgrade_on_sigusr2)
    /// calls this on `SIGUSR2`, the way nginx upgrades its binary.
    ///
    /// ```no_run
    /// use loopcore::{Runtime, Upgrade};
    /// let runtime = Runtime::builder().build()?;
    /// // ... serve, then when a new binary is in place:
    /// let successor = runtime.handle().upgrade(Upgrade::new())?;
    /// println!("handing over to {successor}");
    /// runtime.run()?; // returns once this process has drained
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The runtime serves no socket or is shutting down, another upgrade is
    /// under way, or the successor cannot be started.
    pub fn upgrade(&self, upgrade: Upgrade) -> Result<u32> {
        let listeners = &self.shared.listeners;
        if self.shared.shutdown.is_requested() {
            return Err(Error::new(
                ErrorKind::Closed,
                "the runtime is shutting down: nothing to hand over",
            ));
        }
        if listeners.upgrading.swap(true, Ordering::AcqRel) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "an upgrade is already under way: wait for its outcome",
            ));
        }
        let started = self.start_successor(&upgrade);
        match started {
            Ok((child, ready)) => {
                let pid = child.id();
                let runtime = self.clone();
                let waiter = std::thread::Builder::new()
                    .name("loopcore-upgrade".into())
                    .spawn(move || runtime.await_successor(child, ready, upgrade.ready_timeout));
                if let Err(e) = waiter {
                    listeners.upgrading.store(false, Ordering::Release);
                    return Err(Error::io(
                        "starting the thread that awaits the successor",
                        e,
                    ));
                }
                Ok(pid)
            }
            Err(e) => {
                listeners.upgrading.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    fn start_successor(&self, upgrade: &Upgrade) -> Result<(Child, OwnedFd)> {
        let sockets = self
            .shared
            .listeners
            .lock()
            .iter()
            .map(TcpListener::try_clone)
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io("copying the listeners to hand over", e))?;
        if sockets.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the runtime listens on no socket: nothing to hand over (serve first)",
            ));
        }
        let program = match (&upgrade.program, &self.shared.program) {
            (Some(program), _) | (None, Some(program)) => program.clone(),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "this process's program path is unknown: name one with Upgrade::program",
                ))
            }
        };
        let args = upgrade
            .args
            .clone()
            .unwrap_or_else(|| std::env::args_os().skip(1).collect());
        let (ready_read, ready_write) =
            pipe().map_err(|e| Error::io("making the readiness pipe", e))?;
        let count = sockets.len() as i32;
        let mut command = Command::new(&program);
        command
            .args(args)
            .env("LISTEN_FDS", count.to_string())
            .env(LISTEN_PPID_VAR, std::process::id().to_string())
            .env(READY_FD_VAR, (FIRST_FD + count).to_string())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES");
        let mut fds: Vec<_> = sockets.iter().map(AsFd::as_fd).collect();
        fds.push(ready_write.as_fd());
        let child = spawn_with_fds(&mut command, &fds)
            .map_err(|e| Error::io(format!("starting the successor {}", program.display()), e))?;
        tracing::info!(
            target: "loopcore::runtime",
            pid = child.id(),
            sockets = sockets.len(),
            "upgrade: started the successor {}; waiting for it to serve",
            program.display()
        );
        // Only the child holds the write end now: its exit reads as EOF.
        drop(ready_write);
        Ok((child, ready_read))
    }

    /// On the upgrade thread: shut down once the successor is ready, or
    /// kill it and go on serving.
    fn await_successor(&self, mut child: Child, ready: OwnedFd, timeout: Duration) {
        let pid = child.id();
        let outcome = match wait_readable(ready.as_fd(), timeout) {
            Ok(true) => {
                let mut byte = [0u8; 1];
                match std::fs::File::from(ready).read(&mut byte) {
                    Ok(1) => Ok(()),
                    Ok(_) => {
                        Err("it exited or closed the readiness pipe before it was ready".into())
                    }
                    Err(e) => Err(format!("reading its readiness pipe failed: {e}")),
                }
            }
            Ok(false) => Err(format!("it was not ready within {timeout:?}")),
            Err(e) => Err(format!("waiting for it failed: {e}")),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(
                    target: "loopcore::runtime",
                    pid,
                    "upgrade: the successor serves; this process stops accepting and drains"
                );
                // The successor outlives us: not waited for, not killed.
                drop(child);
                self.shutdown(self.shared.grace);
            }
            Err(why) => {
                let _ = child.kill();
                let status = child.wait();
                tracing::error!(
                    target: "loopcore::runtime",
                    pid,
                    ?status,
                    "upgrade failed, this process goes on serving: the successor was killed: {why}"
                );
                self.shared
                    .listeners
                    .upgrading
                    .store(false, Ordering::Release);
            }
        }
    }
}
