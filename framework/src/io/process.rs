//! Subprocesses: asyncio's `subprocess_exec` / `subprocess_shell` with a
//! [`SubprocessProtocol`] and a [`ProcessTransport`], and the async
//! convenience [`EventLoop::command_output`] / [`Child`].
//!
//! Each child's piped stdin/stdout/stderr become pipe transports on the
//! loop. Its exit is seen through a pidfd watched by the loop (readable
//! when the child exits), then reaped with `waitpid(pid)` for that pid
//! only: no `SIGCHLD` handler, no `waitpid(-1)`, so children of other
//! loops and of plain `std::process` code are never stolen. Kernels without
//! pidfds fall back to polling that one pid every 20 ms.
//!
//! Order of calls on the protocol: `connection_made`, then any number of
//! `pipe_data_received` / `pipe_connection_lost` and one `process_exited`,
//! then `connection_lost` once the process has exited and every pipe is
//! closed.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Command, ExitStatus, Stdio};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use mio::unix::pipe;

use super::protocol::Protocol;
use super::stream::Stream;
use super::transport::Transport;
use crate::{Error, ErrorKind, EventLoop, Result};

/// How often a child is polled where the kernel has no pidfds.
const POLL_EXIT_EVERY: Duration = Duration::from_millis(20);

/// Callbacks for one subprocess (asyncio's `SubprocessProtocol`). Every
/// method runs on the loop that spawned the process, never re-entrantly.
pub trait SubprocessProtocol: 'static {
    /// The process started; keep `transport` to signal it and reach its
    /// pipes.
    fn connection_made(&mut self, transport: ProcessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` to its stdout (`fd` 1) or stderr (`fd` 2).
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let _ = (fd, data);
    }

    /// Pipe `fd` (0, 1 or 2) closed: `None` for a clean end.
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<io::Error>) {
        let _ = (fd, error);
    }

    /// The process exited; [`ProcessTransport::returncode`] has its status.
    fn process_exited(&mut self) {}

    /// The process exited and all its pipes are closed. Called once.
    fn connection_lost(&mut self, error: Option<io::Error>) {
        let _ = error;
    }
}

type ProtocolCall = Box<dyn FnOnce(&mut dyn SubprocessProtocol)>;

struct ProcessState {
    pid: u32,
    /// Until reaped: `try_wait` on it reaps this pid and no other.
    child: RefCell<Option<std::process::Child>>,
    pidfd: RefCell<Option<OwnedFd>>,
    status: Cell<Option<ExitStatus>>,
    pipes: RefCell<[Option<Transport>; 3]>,
    open_pipes: Cell<usize>,
    /// `None` while one of its methods runs, and for good after
    /// `connection_lost` (which also breaks the protocol → transport →
    /// state cycle).
    protocol: RefCell<Option<Box<dyn SubprocessProtocol>>>,
    /// Calls made while a protocol method ran, delivered in order after it.
    deferred: RefCell<std::collections::VecDeque<ProtocolCall>>,
    lost: Cell<bool>,
    closing: Cell<bool>,
}

impl ProcessState {
    /// Runs `f` on the protocol, or after the protocol method that is
    /// running (a call that method triggered), in order. A panic in `f`
    /// propagates (the caller's callback reports it) once the protocol is
    /// back in place.
    fn with_protocol(&self, f: impl FnOnce(&mut dyn SubprocessProtocol) + 'static) {
        let taken = self.protocol.borrow_mut().take();
        let Some(mut protocol) = taken else {
            // After `connection_lost` nothing more is delivered.
            if !self.lost.get() {
                self.deferred.borrow_mut().push_back(Box::new(f));
            }
            return;
        };
        let mut next: Option<ProtocolCall> = Some(Box::new(f));
        let mut panic = None;
        while let Some(call) = next {
            if let Err(payload) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&mut *protocol)))
            {
                panic.get_or_insert(payload);
            }
            next = self.deferred.borrow_mut().pop_front();
        }
        if !self.lost.get() {
            *self.protocol.borrow_mut() = Some(protocol);
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }

    fn exited(&self, lp: &EventLoop, status: ExitStatus) {
        if self.status.get().is_some() {
            return;
        }
        self.status.set(Some(status));
        self.child.borrow_mut().take();
        if let Some(pidfd) = self.pidfd.borrow_mut().take() {
            lp.remove_reader(pidfd.as_raw_fd());
        }
        let told = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with_protocol(|p| p.process_exited());
        }));
        self.maybe_finish();
        if let Err(payload) = told {
            std::panic::resume_unwind(payload);
        }
    }

    fn pipe_closed(&self, fd: i32, error: Option<io::Error>) {
        self.pipes.borrow_mut()[fd as usize] = None;
        self.open_pipes.set(self.open_pipes.get().saturating_sub(1));
        let told = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with_protocol(move |p| p.pipe_connection_lost(fd, error));
        }));
        self.maybe_finish();
        if let Err(payload) = told {
            std::panic::resume_unwind(payload);
        }
    }

    fn maybe_finish(&self) {
        if self.status.get().is_some() && self.open_pipes.get() == 0 && !self.lost.get() {
            self.lost.set(true);
            // Delivered after anything deferred; the protocol is then
            // dropped (see `protocol`).
            let taken = self.protocol.borrow_mut().take();
            match taken {
                Some(mut protocol) => {
                    let mut pending: Vec<ProtocolCall> =
                        self.deferred.borrow_mut().drain(..).collect();
                    pending.push(Box::new(|p| p.connection_lost(None)));
                    for call in pending {
                        call(&mut *protocol);
                    }
                }
                None => self
                    .deferred
                    .borrow_mut()
                    .push_back(Box::new(|p| p.connection_lost(None))),
            }
        }
    }

    /// Reaps the child if it has exited; true once it is done with.
    fn poll_exit(&self, lp: &EventLoop) -> bool {
        let waited = match self.child.borrow_mut().as_mut() {
            Some(child) => child.try_wait(),
            None => return true,
        };
        match waited {
            Ok(Some(status)) => {
                self.exited(lp, status);
                true
            }
            Ok(None) => false,
            Err(e) => {
                // Someone else reaped it (SIGCHLD ignored, a waitpid(-1)
                // elsewhere): its status is lost. Report 255, as asyncio
                // does, instead of watching a pidfd that stays readable.
                lp.call_exception_handler(
                    &crate::ExceptionContext::new(format!(
                        "process {} was reaped by someone else; reporting exit status 255",
                        self.pid
                    ))
                    .with_error(Error::io("waitpid", e))
                    .with_source("subprocess"),
                );
                self.exited(
                    lp,
                    std::os::unix::process::ExitStatusExt::from_raw(255 << 8),
                );
                true
            }
        }
    }
}

/// The handle to a subprocess (asyncio's `SubprocessTransport`). Cheap to
/// clone; usable from any callback on its loop.
#[derive(Clone)]
pub struct ProcessTransport {
    state: Rc<ProcessState>,
}

impl std::fmt::Debug for ProcessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTransport")
            .field("pid", &self.state.pid)
            .field("status", &self.state.status.get())
            .finish()
    }
}

impl ProcessTransport {
    /// The process id (asyncio's `get_pid`).
    pub fn pid(&self) -> u32 {
        self.state.pid
    }

    /// The exit status once the process has exited (asyncio's
    /// `get_returncode`): `code()` for an exit, `signal()` (through
    /// `std::os::unix::process::ExitStatusExt`) for a death by signal.
    pub fn returncode(&self) -> Option<ExitStatus> {
        self.state.status.get()
    }

    /// The transport of pipe `fd` (0 stdin, 1 stdout, 2 stderr) while it is
    /// open (asyncio's `get_pipe_transport`).
    pub fn pipe_transport(&self, fd: i32) -> Option<Transport> {
        let index = usize::try_from(fd).ok().filter(|&i| i < 3)?;
        self.state.pipes.borrow()[index].clone()
    }

    /// Sends `signal` to the process. Fails with [`ErrorKind::Closed`]
    /// once it has exited (its pid may already name another process).
    pub fn send_signal(&self, signal: libc::c_int) -> Result<()> {
        if self.state.status.get().is_some() {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("process {} has exited", self.state.pid),
            ));
        }
        if let Some(pidfd) = self.state.pidfd.borrow().as_ref() {
            return crate::sys::pidfd::send_signal(pidfd.as_fd(), signal)
                .map_err(|e| Error::io(format!("signalling process {}", self.state.pid), e));
        }
        // Without a pidfd: the child is not reaped yet (we would know), so
        // its pid is still its own.
        crate::sys::signal::send_signal_to_pid(self.state.pid as libc::pid_t, signal)
            .map_err(|e| Error::io(format!("signalling process {}", self.state.pid), e))
    }

    /// `SIGTERM`.
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(libc::SIGTERM)
    }

    /// `SIGKILL`.
    pub fn kill(&self) -> Result<()> {
        self.send_signal(libc::SIGKILL)
    }

    /// Closes the pipes and kills the process if it is still running
    /// (asyncio's `close`). The protocol still hears `process_exited` and
    /// `connection_lost`.
    pub fn close(&self) {
        if self.state.closing.replace(true) {
            return;
        }
        let pipes: Vec<Transport> = self
            .state
            .pipes
            .borrow()
            .iter()
            .flatten()
            .cloned()
            .collect();
        for pipe in pipes {
            pipe.close();
        }
        let _ = self.kill();
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        self.state.closing.get()
    }
}

/// Feeds one pipe's events to the process protocol.
struct PipeProtocol {
    fd: i32,
    state: Weak<ProcessState>,
}

impl Protocol for PipeProtocol {
    fn data_received(&mut self, data: &[u8]) {
        if let Some(state) = self.state.upgrade() {
            let (fd, data) = (self.fd, data.to_vec());
            state.with_protocol(move |p| p.pipe_data_received(fd, &data));
        }
    }

    fn connection_lost(&mut self, error: Option<io::Error>) {
        if let Some(state) = self.state.upgrade() {
            state.pipe_closed(self.fd, error);
        }
    }
}

impl EventLoop {
    /// Spawns `command` and serves it with `protocol` (asyncio's
    /// `subprocess_exec`). Its stdin, stdout and stderr are whatever
    /// `command` says (`Stdio::piped()` gives a pipe transport,
    /// `inherit()` and `null()` none); std's default for `spawn` is
    /// inherit.
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use loopcore::{EventLoop, SubprocessProtocol};
    /// struct Quiet;
    /// impl SubprocessProtocol for Quiet {}
    /// let lp = EventLoop::new()?;
    /// let process = lp.subprocess_exec(Command::new("true").stdout(Stdio::null()), Quiet)?;
    /// assert!(process.pid() > 0);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn subprocess_exec<P: SubprocessProtocol>(
        &self,
        command: &mut Command,
        protocol: P,
    ) -> Result<ProcessTransport> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::io(format!("spawning {:?}", command.get_program()), e))?;
        let pid = child.id();
        let stdin = child.stdin.take().map(OwnedFd::from);
        let stdout = child.stdout.take().map(OwnedFd::from);
        let stderr = child.stderr.take().map(OwnedFd::from);
        // Without pidfds (an old kernel, or a seccomp filter refusing the
        // call) this pid is polled instead.
        let pidfd = crate::sys::pidfd::open(pid).ok();
        let state = Rc::new(ProcessState {
            pid,
            child: RefCell::new(Some(child)),
            pidfd: RefCell::new(pidfd),
            status: Cell::new(None),
            pipes: RefCell::new([None, None, None]),
            open_pipes: Cell::new(0),
            protocol: RefCell::new(Some(Box::new(protocol))),
            deferred: RefCell::new(std::collections::VecDeque::new()),
            lost: Cell::new(false),
            closing: Cell::new(false),
        });
        if let Err(e) = self.connect_process(&state, [stdin, stdout, stderr]) {
            // Leave nothing behind: no pipes, no running child, no zombie.
            let pipes: Vec<Transport> = state
                .pipes
                .borrow_mut()
                .iter_mut()
                .filter_map(Option::take)
                .collect();
            for pipe in pipes {
                pipe.abort();
            }
            if let Some(pidfd) = state.pidfd.borrow_mut().take() {
                self.remove_reader(pidfd.as_raw_fd());
            }
            let child = state.child.borrow_mut().take();
            if let Some(mut child) = child {
                let _ = child.kill();
                let _ = child.wait();
            }
            state.lost.set(true);
            state.protocol.borrow_mut().take();
            return Err(e);
        }
        let transport = ProcessTransport {
            state: state.clone(),
        };
        // Last: the protocol sees its pipes from `connection_made` on; every
        // pipe or exit event arrives as a later ready item.
        state.with_protocol({
            let transport = transport.clone();
            move |p| p.connection_made(transport)
        });
        Ok(transport)
    }

    fn connect_process(&self, state: &Rc<ProcessState>, ends: [Option<OwnedFd>; 3]) -> Result<()> {
        for (fd, end) in (0i32..).zip(ends) {
            let Some(end) = end else { continue };
            crate::sys::set_nonblocking(end.as_fd())
                .map_err(|e| Error::io(format!("making pipe {fd} non-blocking"), e))?;
            let stream = if fd == 0 {
                Stream::PipeWriter(pipe::Sender::from(end))
            } else {
                Stream::PipeReader(pipe::Receiver::from(end))
            };
            let protocol = PipeProtocol {
                fd,
                state: Rc::downgrade(state),
            };
            let pipe = self.attach_pipe(stream, Box::new(protocol))?;
            state.pipes.borrow_mut()[fd as usize] = Some(pipe);
            state.open_pipes.set(state.open_pipes.get() + 1);
        }
        self.watch_exit(state)
    }

    /// Runs `command` through `/bin/sh -c` (asyncio's `subprocess_shell`);
    /// stdio as [`subprocess_exec`](Self::subprocess_exec) with all three
    /// piped.
    pub fn subprocess_shell<P: SubprocessProtocol>(
        &self,
        command: &str,
        protocol: P,
    ) -> Result<ProcessTransport> {
        let mut shell = Command::new("/bin/sh");
        shell
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.subprocess_exec(&mut shell, protocol)
    }

    fn watch_exit(&self, state: &Rc<ProcessState>) -> Result<()> {
        let pidfd = state.pidfd.borrow().as_ref().map(|fd| fd.as_raw_fd());
        match pidfd {
            Some(fd) => {
                let state = state.clone();
                self.add_reader(fd, move |lp| {
                    state.poll_exit(lp);
                })
            }
            None => {
                fn poll(lp: &EventLoop, state: Rc<ProcessState>) {
                    if !state.poll_exit(lp) {
                        lp.call_later(POLL_EXIT_EVERY, move |lp| poll(lp, state));
                    }
                }
                let state = state.clone();
                self.call_soon(move |lp| poll(lp, state));
                Ok(())
            }
        }
    }

    /// Runs `command` to completion with stdout and stderr captured and
    /// stdin null (whatever `command` said for them), like
    /// `std::process::Command::output` but without blocking the loop.
    ///
    /// ```
    /// use std::process::Command;
    /// let lp = loopcore::EventLoop::new()?;
    /// let output = lp.run_until_complete(lp.command_output(Command::new("echo").arg("hi")))??;
    /// assert!(output.status.success());
    /// assert_eq!(output.stdout, b"hi\n");
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn command_output(
        &self,
        command: &mut Command,
    ) -> impl Future<Output = Result<std::process::Output>> + 'static {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = self.spawn_child(command);
        async move { child?.output().await }
    }

    /// Spawns `command` as a [`Child`] to await.
    pub fn spawn_child(&self, command: &mut Command) -> Result<Child> {
        let collected = Rc::new(Collected::default());
        let transport = self.subprocess_exec(
            command,
            Collector {
                collected: collected.clone(),
            },
        )?;
        Ok(Child {
            transport,
            collected,
        })
    }
}

#[derive(Default)]
struct Collected {
    stdout: RefCell<Vec<u8>>,
    stderr: RefCell<Vec<u8>>,
    exited: Cell<bool>,
    finished: Cell<bool>,
    wakers: RefCell<Vec<Waker>>,
}

impl Collected {
    fn wake(&self) {
        for waker in self.wakers.take() {
            waker.wake();
        }
    }

    fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.borrow_mut();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

struct Collector {
    collected: Rc<Collected>,
}

impl SubprocessProtocol for Collector {
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let buffer = if fd == 2 {
            &self.collected.stderr
        } else {
            &self.collected.stdout
        };
        buffer.borrow_mut().extend_from_slice(data);
    }

    fn process_exited(&mut self) {
        self.collected.exited.set(true);
        self.collected.wake();
    }

    fn connection_lost(&mut self, _error: Option<io::Error>) {
        self.collected.finished.set(true);
        self.collected.wake();
    }
}

/// A spawned process to await (see [`EventLoop::spawn_child`]).
#[derive(Debug)]
pub struct Child {
    transport: ProcessTransport,
    collected: Rc<Collected>,
}

impl std::fmt::Debug for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collected")
            .field("exited", &self.exited.get())
            .field("finished", &self.finished.get())
            .finish_non_exhaustive()
    }
}

impl Child {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.transport.pid()
    }

    /// Its transport: stdin as `pipe_transport(0)`, signals.
    pub fn transport(&self) -> &ProcessTransport {
        &self.transport
    }

    /// Waits for the process to exit.
    pub async fn wait(&self) -> Result<ExitStatus> {
        std::future::poll_fn(|cx| {
            if let Some(status) = self.transport.returncode() {
                return Poll::Ready(Ok(status));
            }
            self.collected.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Waits for the process to exit and its pipes to close; returns its
    /// status and what it wrote to its piped stdout and stderr.
    pub async fn output(self) -> Result<std::process::Output> {
        std::future::poll_fn(|cx| {
            if self.collected.finished.get() {
                return Poll::Ready(());
            }
            self.collected.register(cx.waker());
            Poll::Pending
        })
        .await;
        let status = self.transport.returncode().ok_or_else(|| {
            Error::new(
                ErrorKind::Closed,
                "the process ended without an exit status",
            )
        })?;
        Ok(std::process::Output {
            status,
            stdout: self.collected.stdout.take(),
            stderr: self.collected.stderr.take(),
        })
    }
}
