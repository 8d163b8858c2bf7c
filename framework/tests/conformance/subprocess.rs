//! CPython 3.12 `Lib/test/test_asyncio/test_subprocess.py`: classes
//! `SubprocessTransportTests` and `SubprocessMixin`.
//!
//! asyncio's `create_subprocess_exec` maps to `EventLoop::spawn_child` (a
//! `Child` to `wait` or to collect with `output`), `loop.subprocess_exec` to
//! `EventLoop::subprocess_exec` with a `SubprocessProtocol`. asyncio's
//! `Process.communicate(input)` is written out: `input` to the stdin pipe
//! transport, `write_eof`, then `output()`. CPython's Python child programs
//! are replaced by `sh`, `cat`, `sleep`, `true` and `wc` doing the same.
//!
//! Longer than the ~800 lines of the style guide on purpose: one file per
//! CPython test file, so that `INDEX.md` and a reader of both go from one
//! to the other.

use std::cell::RefCell;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::{Child, ErrorKind, EventLoop, ProcessTransport, SubprocessProtocol};

use crate::{bounded, capture_exceptions};

/// Runs `lp` until `done()` holds, for at most 10 s.
fn run_until(lp: &EventLoop, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "condition not met in 10 s");
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(2)))
            .unwrap();
    }
}

/// asyncio's `Process.communicate(input)`: `input` (if any) to stdin, which
/// is then closed, and everything the child writes until it is done. A
/// stdin that is already gone is ignored, as asyncio's `communicate` does.
async fn communicate(child: Child, input: Option<&[u8]>) -> std::process::Output {
    if let Some(stdin) = child.transport().pipe_transport(0) {
        if let Some(input) = input {
            let _ = stdin.write(input);
        }
        let _ = stdin.write_eof();
    }
    bounded("communicate", child.output()).await.unwrap()
}

/// Everything a protocol heard, in order.
#[derive(Default)]
struct Seen {
    events: RefCell<Vec<String>>,
    stdout: RefCell<Vec<u8>>,
    stderr: RefCell<Vec<u8>>,
    pipe_errors: RefCell<Vec<(i32, std::io::ErrorKind)>>,
}

impl Seen {
    fn events(&self) -> Vec<String> {
        self.events.borrow().clone()
    }
}

struct Recorder(Rc<Seen>);

impl SubprocessProtocol for Recorder {
    fn connection_made(&mut self, _transport: ProcessTransport) {
        self.0.events.borrow_mut().push("connection_made".into());
    }
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        self.0
            .events
            .borrow_mut()
            .push(format!("pipe_data_received {fd}"));
        match fd {
            1 => self.0.stdout.borrow_mut().extend_from_slice(data),
            _ => self.0.stderr.borrow_mut().extend_from_slice(data),
        }
    }
    fn pipe_connection_lost(&mut self, fd: i32, error: Option<std::io::Error>) {
        if let Some(error) = error {
            self.0.pipe_errors.borrow_mut().push((fd, error.kind()));
        }
        self.0
            .events
            .borrow_mut()
            .push(format!("pipe_connection_lost {fd}"));
    }
    fn process_exited(&mut self) {
        self.0.events.borrow_mut().push("process_exited".into());
    }
    fn connection_lost(&mut self, error: Option<std::io::Error>) {
        let event = match error {
            None => "connection_lost None".to_owned(),
            Some(e) => format!("connection_lost {e}"),
        };
        self.0.events.borrow_mut().push(event);
    }
}

fn recorder() -> (Recorder, Rc<Seen>) {
    let seen = Rc::new(Seen::default());
    (Recorder(seen.clone()), seen)
}

fn finished(seen: &Seen) -> bool {
    seen.events
        .borrow()
        .iter()
        .any(|e| e.starts_with("connection_lost"))
}

/// `cat` with stdin and stdout piped (CPython's `PROGRAM_CAT`).
fn program_cat() -> Command {
    let mut cat = Command::new("cat");
    cat.stdin(Stdio::piped()).stdout(Stdio::piped());
    cat
}

/// CPython's `PROGRAM_BLOCKED`.
fn program_blocked() -> Command {
    let mut sleep = Command::new("sleep");
    sleep.arg("3600");
    sleep
}

/// CPython's `print(len(sys.stdin.read()))` child, with every stream piped.
fn len_message() -> Command {
    let mut wc = Command::new("wc");
    wc.arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wc
}

fn trimmed(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[test]
fn test_proc_exited() {
    // CPython 3.12 test_subprocess.SubprocessTransportTests.test_proc_exited
    // (a real child exiting with 6 instead of a mocked Popen).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transport = lp
        .subprocess_exec(Command::new("sh").args(["-c", "exit 6"]), protocol)
        .unwrap();
    run_until(&lp, || finished(&seen));
    assert_eq!(transport.returncode().unwrap().code(), Some(6));
    assert_eq!(
        seen.events(),
        ["connection_made", "process_exited", "connection_lost None"]
    );
    assert!(!transport.is_closing());
    // asyncio's ProcessLookupError once the process exited.
    assert_eq!(
        transport.send_signal(libc::SIGTERM).unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(transport.terminate().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(transport.kill().unwrap_err().kind(), ErrorKind::Closed);
    transport.close();
}

#[test]
fn test_stdin_stdout() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_stdin_stdout
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(&mut program_cat()).unwrap();
    let output = lp
        .run_until_complete(async move {
            let stdin = child.transport().pipe_transport(0).unwrap();
            stdin.write(b"some data").unwrap();
            stdin.close();
            bounded("output", child.output()).await.unwrap()
        })
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, b"some data");
}

#[test]
fn test_communicate() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_communicate
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(&mut program_cat()).unwrap();
    let output = lp
        .run_until_complete(communicate(child, Some(b"some data")))
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, b"some data");
}

#[test]
fn test_communicate_none_input() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_communicate_none_input
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(&mut program_cat()).unwrap();
    let output = lp.run_until_complete(communicate(child, None)).unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, b"");
}

#[test]
fn test_shell() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_shell
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transport = lp.subprocess_shell("exit 7", protocol).unwrap();
    run_until(&lp, || finished(&seen));
    assert_eq!(transport.returncode().unwrap().code(), Some(7));
}

#[test]
fn test_start_new_session() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_start_new_session
    // (start_new_session=True is a setsid() in the child; the shell also
    // checks that it leads its own session: field 6 of /proc/$$/stat).
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell.args([
        "-c",
        "set -- $(cat /proc/$$/stat); [ \"$6\" = \"$$\" ] || exit 1; exit 8",
    ]);
    // SAFETY: setsid is async-signal-safe and touches no parent state.
    unsafe {
        shell.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = lp.spawn_child(&mut shell).unwrap();
    let status = lp
        .run_until_complete(async move { bounded("wait", child.wait()).await.unwrap() })
        .unwrap();
    assert_eq!(status.code(), Some(8));
}

fn killed_by(send: fn(&ProcessTransport) -> loopcore::Result<()>, signal: libc::c_int) {
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(&mut program_blocked()).unwrap();
    send(child.transport()).unwrap();
    let status = lp
        .run_until_complete(async move { bounded("wait", child.wait()).await.unwrap() })
        .unwrap();
    assert_eq!(status.signal(), Some(signal));
}

#[test]
fn test_kill() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_kill
    killed_by(ProcessTransport::kill, libc::SIGKILL);
}

#[test]
fn test_kill_issue43884() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_kill_issue43884
    // (the shell is killed while its own child sleeps and holds the stdout
    // pipe; waiting must still end with the shell's SIGKILL).
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell
        .args(["-c", "sleep 1; sleep 1"])
        .stdout(Stdio::piped());
    let child = lp.spawn_child(&mut shell).unwrap();
    let status = lp
        .run_until_complete(async move {
            loopcore::sleep(Duration::from_millis(300)).await;
            child.transport().kill().unwrap();
            bounded("wait", child.wait()).await.unwrap()
        })
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn test_terminate() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_terminate
    killed_by(ProcessTransport::terminate, libc::SIGTERM);
}

#[test]
fn test_send_signal() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_send_signal
    // (bpo-31034: the child gets SIGHUP's default disposition whatever the
    // parent's; the Python child is a shell that says "sleeping" and sleeps).
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell
        .args(["-c", "echo sleeping; exec sleep 3600"])
        .stdout(Stdio::piped());
    // SAFETY: signal() is async-signal-safe and touches no parent state.
    unsafe {
        shell.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let (protocol, seen) = recorder();
    let transport = lp.subprocess_exec(&mut shell, protocol).unwrap();
    run_until(&lp, || seen.stdout.borrow().ends_with(b"\n"));
    assert_eq!(*seen.stdout.borrow(), b"sleeping\n");
    transport.send_signal(libc::SIGHUP).unwrap();
    run_until(&lp, || finished(&seen));
    assert_eq!(transport.returncode().unwrap().signal(), Some(libc::SIGHUP));
}

/// CPython's `support.PIPE_MAX_SIZE`: more than any pipe buffer holds.
const PIPE_MAX_SIZE: usize = 4 * 1024 * 1024 + 1;

#[test]
fn test_stdin_broken_pipe() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_stdin_broken_pipe
    // (the child waits for a line on a pipe of the test's, here its fd 2,
    // before exiting without reading stdin; asyncio's drain() raising
    // BrokenPipeError or ConnectionResetError is the stdin pipe lost with
    // that error).
    let lp = EventLoop::new().unwrap();
    let _messages = capture_exceptions(&lp);
    let (go_reader, mut go_writer) = std::io::pipe().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell
        .args(["-c", "read -r line <&2"])
        .stdin(Stdio::piped())
        .stderr(Stdio::from(go_reader));
    let (protocol, seen) = recorder();
    let transport = lp.subprocess_exec(&mut shell, protocol).unwrap();
    let stdin = transport.pipe_transport(0).unwrap();
    stdin.write(&vec![b'x'; PIPE_MAX_SIZE]).unwrap();
    // Only now may the child exit: the write buffer is full.
    std::io::Write::write_all(&mut go_writer, b"go\n").unwrap();
    run_until(&lp, || finished(&seen));
    let errors = seen.pipe_errors.borrow().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 0);
    assert!(
        matches!(
            errors[0].1,
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{errors:?}"
    );
    assert!(transport.returncode().unwrap().success());
}

#[test]
fn test_communicate_ignore_broken_pipe() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_communicate_ignore_broken_pipe
    let lp = EventLoop::new().unwrap();
    let _messages = capture_exceptions(&lp);
    let child = lp
        .spawn_child(Command::new("true").stdin(Stdio::piped()))
        .unwrap();
    let large = vec![b'x'; PIPE_MAX_SIZE];
    let output = lp
        .run_until_complete(communicate(child, Some(&large)))
        .unwrap();
    assert!(output.status.success());
}

#[test]
fn test_stdin_not_inheritable() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_stdin_not_inheritable
    // (asyncio issue #209: were the parent's end of the stdin pipe inherited,
    // the child would never see end of file and communicate would hang).
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(&mut len_message()).unwrap();
    let output = lp
        .run_until_complete(communicate(child, Some(b"abc")))
        .unwrap();
    assert_eq!(trimmed(&output.stdout), b"3");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn test_empty_input() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_empty_input
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(&mut len_message()).unwrap();
    let output = lp
        .run_until_complete(communicate(child, Some(b"")))
        .unwrap();
    assert_eq!(trimmed(&output.stdout), b"0");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn test_devnull_input() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_devnull_input
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(len_message().stdin(Stdio::null())).unwrap();
    assert!(child.transport().pipe_transport(0).is_none());
    let output = lp.run_until_complete(communicate(child, None)).unwrap();
    assert_eq!(trimmed(&output.stdout), b"0");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn test_devnull_output() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_devnull_output
    // (asyncio's stdout of None: no stdout pipe, nothing collected).
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(len_message().stdout(Stdio::null())).unwrap();
    assert!(child.transport().pipe_transport(1).is_none());
    let output = lp
        .run_until_complete(communicate(child, Some(b"abc")))
        .unwrap();
    assert_eq!(output.stdout, b"");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn test_devnull_error() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_devnull_error
    let lp = EventLoop::new().unwrap();
    let child = lp.spawn_child(len_message().stderr(Stdio::null())).unwrap();
    assert!(child.transport().pipe_transport(2).is_none());
    let output = lp
        .run_until_complete(communicate(child, Some(b"abc")))
        .unwrap();
    assert_eq!(output.stderr, b"");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn test_devstdin_input() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_devstdin_input
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell
        .args(["-c", "wc -c < /dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = lp.spawn_child(&mut shell).unwrap();
    let output = lp
        .run_until_complete(communicate(child, Some(b"abc")))
        .unwrap();
    assert_eq!(trimmed(&output.stdout), b"3");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn test_cancel_process_wait() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_cancel_process_wait
    // (issue #23140; cancelling is aborting the task, which drops its wait).
    let lp = EventLoop::new().unwrap();
    let child = Rc::new(lp.spawn_child(&mut program_blocked()).unwrap());
    let status = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let waiting = child.clone();
            let task = lp.spawn(async move { waiting.wait().await });
            // asyncio's call_soon(task.cancel): once the task waits.
            loopcore::sleep(Duration::from_millis(1)).await;
            assert!(!task.is_finished());
            task.abort();
            let joined = bounded("the cancelled wait", task).await;
            assert!(joined.unwrap_err().is_cancelled());
            child.transport().kill().unwrap();
            bounded("wait", child.wait()).await.unwrap()
        })
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn test_close_kill_running() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_close_kill_running
    // (that close() killed it is read from the exit status).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transport = lp
        .subprocess_exec(&mut program_blocked(), protocol)
        .unwrap();
    assert!(transport.returncode().is_none());
    transport.close();
    run_until(&lp, || finished(&seen));
    assert_eq!(
        transport.returncode().unwrap().signal(),
        Some(libc::SIGKILL)
    );
}

#[test]
fn test_close_dont_kill_finished() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_close_dont_kill_finished
    // (the test kills and reaps the child behind the loop's back; close()
    // before the loop notices must not signal a recycled pid: loopcore
    // signals through the pidfd. As asyncio's watchers, the loop then
    // reports the lost status as 255, through the exception handler).
    let lp = EventLoop::new().unwrap();
    let messages = capture_exceptions(&lp);
    let (protocol, seen) = recorder();
    let transport = lp
        .subprocess_exec(&mut program_blocked(), protocol)
        .unwrap();
    let pid = transport.pid() as libc::pid_t;
    let mut status = 0;
    // SAFETY: kill and waitpid on our own, not yet reaped child, with a
    // valid status pointer.
    unsafe {
        assert_eq!(libc::kill(pid, libc::SIGKILL), 0);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
    }
    assert!(libc::WIFSIGNALED(status));
    assert!(
        transport.returncode().is_none(),
        "the loop was not told yet"
    );
    transport.close();
    run_until(&lp, || finished(&seen));
    assert_eq!(transport.returncode().unwrap().code(), Some(255));
    assert_eq!(messages.borrow().len(), 1, "{:?}", messages.borrow());
}

fn popen_error(stdin: Stdio) {
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let mut command = Command::new("/nonexistent/loopcore-test-program");
    command.stdin(stdin);
    let error = lp.subprocess_exec(&mut command, protocol).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io, "{error}");
    // Nothing left behind: the protocol was dropped without a call.
    assert_eq!(Rc::strong_count(&seen), 1);
    assert!(seen.events().is_empty());
}

#[test]
fn test_popen_error() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_popen_error
    // (issue #24763; a program that does not exist makes Popen fail).
    popen_error(Stdio::inherit());
}

#[test]
fn test_popen_error_with_stdin_pipe() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_popen_error_with_stdin_pipe
    popen_error(Stdio::piped());
}

#[test]
fn test_read_stdout_after_process_exit() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_read_stdout_after_process_exit
    // (asyncio's reader sleeps 0.3 s after each read; here reading is paused
    // for 0.3 s after each delivery).
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell
        .args([
            "-c",
            "i=0; while [ $i -lt 64 ]; do printf '%4096s' ''; i=$((i+1)); done; exit 1",
        ])
        .stdout(Stdio::piped());
    let (protocol, seen) = recorder();
    let transport = lp.subprocess_exec(&mut shell, protocol).unwrap();
    let stdout = transport.pipe_transport(1).unwrap();
    let mut got = 0;
    while !finished(&seen) {
        run_until(&lp, || seen.stdout.borrow().len() > got || finished(&seen));
        got = seen.stdout.borrow().len();
        stdout.pause_reading();
        lp.run_until_complete(loopcore::sleep(Duration::from_millis(300)))
            .unwrap();
        stdout.resume_reading();
    }
    assert_eq!(seen.stdout.borrow().len(), 64 * 4096);
    assert_eq!(transport.returncode().unwrap().code(), Some(1));
}

#[test]
fn test_create_subprocess_exec_with_path() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_create_subprocess_exec_with_path
    // (os.PathLike: a `Path` as the program and as an argument).
    let lp = EventLoop::new().unwrap();
    let statuses = lp
        .run_until_complete(async {
            let lp = EventLoop::current();
            let first = lp
                .spawn_child(&mut Command::new(std::path::Path::new("/bin/true")))
                .unwrap();
            let first = bounded("wait", first.wait()).await.unwrap();
            let second = lp
                .spawn_child(Command::new("true").arg(std::path::Path::new(".")))
                .unwrap();
            let second = bounded("wait", second.wait()).await.unwrap();
            [first, second]
        })
        .unwrap();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
}

/// CPython's `check_stdout_output`: the output, then a wait that is
/// answered at once with the same status.
fn check_stdout_output(lp: &EventLoop, command: &mut Command, expected: &[u8]) {
    command.stdout(Stdio::piped());
    let child = lp.spawn_child(command).unwrap();
    let transport = child.transport().clone();
    let output = lp.run_until_complete(communicate(child, None)).unwrap();
    assert_eq!(output.stdout, expected);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(transport.returncode(), Some(output.status));
}

#[test]
fn test_create_subprocess_env_shell() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_create_subprocess_env_shell
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell.args(["-c", "printf %s \"$FOO\""]).env("FOO", "bar");
    check_stdout_output(&lp, &mut shell, b"bar");
}

#[test]
fn test_create_subprocess_env_exec() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_create_subprocess_env_exec
    let lp = EventLoop::new().unwrap();
    let mut printenv = Command::new("printenv");
    printenv.arg("FOO").env("FOO", "baz");
    check_stdout_output(&lp, &mut printenv, b"baz\n");
}

#[test]
fn test_subprocess_concurrent_wait() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_subprocess_concurrent_wait
    // (ten waits at once, then the output: `output` takes the `Child`).
    let lp = EventLoop::new().unwrap();
    let child = Rc::new(lp.spawn_child(&mut program_cat()).unwrap());
    let (statuses, output) = lp
        .run_until_complete(async move {
            let lp = EventLoop::current();
            let stdin = child.transport().pipe_transport(0).unwrap();
            stdin.write(b"some data").unwrap();
            stdin.write_eof().unwrap();
            let waits: Vec<_> = (0..10)
                .map(|_| {
                    let child = child.clone();
                    lp.spawn(async move { child.wait().await.unwrap() })
                })
                .collect();
            let mut statuses = Vec::new();
            for wait in waits {
                statuses.push(bounded("wait", wait).await.unwrap());
            }
            let child = Rc::try_unwrap(child).unwrap();
            (statuses, bounded("output", child.output()).await.unwrap())
        })
        .unwrap();
    assert_eq!(output.stdout, b"some data");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(statuses, vec![output.status; 10]);
}

#[test]
fn test_subprocess_protocol_events() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_subprocess_protocol_events
    // (gh-108973: every protocol method is called; per pipe, data before
    // its loss; the order across pipes and the exit is not fixed).
    let lp = EventLoop::new().unwrap();
    let mut shell = Command::new("/bin/sh");
    shell
        .args(["-c", "printf stdout; printf stderr >&2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (protocol, seen) = recorder();
    let transport = lp.subprocess_exec(&mut shell, protocol).unwrap();
    run_until(&lp, || finished(&seen));
    transport.close();
    let events = seen.events();
    assert_eq!(events.first().map(String::as_str), Some("connection_made"));
    assert_eq!(
        events.last().map(String::as_str),
        Some("connection_lost None")
    );
    let mut middle: Vec<&str> = events[1..events.len() - 1]
        .iter()
        .map(String::as_str)
        .collect();
    for fd in [1, 2] {
        let per_fd: Vec<&str> = middle
            .iter()
            .copied()
            .filter(|e| e.ends_with(&format!(" {fd}")))
            .collect();
        let data = format!("pipe_data_received {fd}");
        let lost = format!("pipe_connection_lost {fd}");
        assert!(!per_fd.is_empty() && per_fd[..per_fd.len() - 1].iter().all(|e| *e == data));
        assert_eq!(per_fd.last().copied(), Some(lost.as_str()), "{events:?}");
    }
    middle.retain(|e| *e == "process_exited");
    assert_eq!(middle, ["process_exited"]);
    assert_eq!(*seen.stdout.borrow(), b"stdout");
    assert_eq!(*seen.stderr.borrow(), b"stderr");
}

#[test]
fn test_subprocess_communicate_stdout() {
    // CPython 3.12 test_subprocess.SubprocessMixin.test_subprocess_communicate_stdout
    // (gh-100133: ten children at once, each output whole).
    let lp = EventLoop::new().unwrap();
    let outputs = lp
        .run_until_complete(async {
            let lp = EventLoop::current();
            let tasks: Vec<_> = (0..10)
                .map(|i| {
                    let child = lp
                        .spawn_child(
                            Command::new("sh")
                                .args(["-c", &format!("echo foo{i}")])
                                .stdout(Stdio::piped()),
                        )
                        .unwrap();
                    lp.spawn(communicate(child, None))
                })
                .collect();
            let mut outputs = Vec::new();
            for task in tasks {
                let output = bounded("communicate", task).await.unwrap();
                outputs.push(String::from_utf8(output.stdout).unwrap().trim().to_owned());
            }
            outputs
        })
        .unwrap();
    let expected: Vec<String> = (0..10).map(|i| format!("foo{i}")).collect();
    assert_eq!(outputs, expected);
}

// CPython 3.12 `test_events.py`, class `SubprocessTestsMixin`: asyncio's
// `loop.subprocess_exec`/`subprocess_shell` with every stream piped (its
// default); CPython's `echo.py` is `cat`, `echo2.py` and `echo3.py` are
// shell scripts doing the same.

/// `cmd` with stdin, stdout and stderr piped (asyncio's defaults).
fn all_piped(mut cmd: Command) -> Command {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// CPython's `echo.py`, with every stream piped.
fn echo() -> Command {
    all_piped(Command::new("cat"))
}

fn exited(seen: &Seen) -> bool {
    seen.events.borrow().iter().any(|e| e == "process_exited")
}

fn pipe_lost(seen: &Seen, fd: i32) -> bool {
    let lost = format!("pipe_connection_lost {fd}");
    seen.events.borrow().contains(&lost)
}

#[test]
fn test_subprocess_exec() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_exec
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transp = lp.subprocess_exec(&mut echo(), protocol).unwrap();
    assert_eq!(seen.events()[0], "connection_made");
    let stdin = transp.pipe_transport(0).unwrap();
    stdin.write(b"Python The Winner").unwrap();
    run_until(&lp, || seen.stdout.borrow().len() >= 17);
    transp.close();
    run_until(&lp, || exited(&seen));
    assert_eq!(transp.returncode().unwrap().signal(), Some(libc::SIGKILL));
    assert_eq!(*seen.stdout.borrow(), b"Python The Winner");
}

#[test]
fn test_subprocess_interactive() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_interactive
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transp = lp.subprocess_exec(&mut echo(), protocol).unwrap();
    let stdin = transp.pipe_transport(0).unwrap();
    stdin.write(b"Python ").unwrap();
    run_until(&lp, || seen.stdout.borrow().len() >= 7);
    assert_eq!(*seen.stdout.borrow(), b"Python ");
    stdin.write(b"The Winner").unwrap();
    run_until(&lp, || seen.stdout.borrow().len() >= 17);
    assert_eq!(*seen.stdout.borrow(), b"Python The Winner");
    transp.close();
    run_until(&lp, || exited(&seen));
    assert_eq!(transp.returncode().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn test_subprocess_shell() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_shell
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transp = lp.subprocess_shell("echo Python", protocol).unwrap();
    transp.pipe_transport(0).unwrap().close();
    run_until(&lp, || finished(&seen));
    assert_eq!(transp.returncode().unwrap().code(), Some(0));
    assert!(pipe_lost(&seen, 0) && pipe_lost(&seen, 1) && pipe_lost(&seen, 2));
    assert_eq!(trimmed(&seen.stdout.borrow()), b"Python");
    assert_eq!(*seen.stderr.borrow(), b"");
    transp.close();
}

/// `exit 7` in a shell with no stream piped (asyncio's `stdin=None,
/// stdout=None, stderr=None`).
fn exit_7() -> Command {
    let mut sh = Command::new("/bin/sh");
    sh.args(["-c", "exit 7"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    sh
}

#[test]
fn test_subprocess_exitcode() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_exitcode
    // (subprocess_shell pipes all three streams: `sh -c` through
    // subprocess_exec with none piped).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transp = lp.subprocess_exec(&mut exit_7(), protocol).unwrap();
    run_until(&lp, || exited(&seen));
    assert_eq!(transp.returncode().unwrap().code(), Some(7));
    transp.close();
}

#[test]
fn test_subprocess_close_after_finish() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_close_after_finish
    // (as test_subprocess_exitcode).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let transp = lp.subprocess_exec(&mut exit_7(), protocol).unwrap();
    assert!(transp.pipe_transport(0).is_none());
    assert!(transp.pipe_transport(1).is_none());
    assert!(transp.pipe_transport(2).is_none());
    run_until(&lp, || exited(&seen));
    assert_eq!(transp.returncode().unwrap().code(), Some(7));
    transp.close();
}

/// The child (`echo.py`) ended by `send`, with the signal expected.
fn ended_by(send: impl FnOnce(&ProcessTransport) -> loopcore::Result<()>, signal: libc::c_int) {
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let mut cmd = echo();
    // SAFETY: signal() is async-signal-safe and touches no parent state.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let transp = lp.subprocess_exec(&mut cmd, protocol).unwrap();
    send(&transp).unwrap();
    run_until(&lp, || exited(&seen));
    assert_eq!(transp.returncode().unwrap().signal(), Some(signal));
    transp.close();
}

#[test]
fn test_subprocess_kill() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_kill
    ended_by(ProcessTransport::kill, libc::SIGKILL);
}

#[test]
fn test_subprocess_terminate() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_terminate
    ended_by(ProcessTransport::terminate, libc::SIGTERM);
}

#[test]
fn test_subprocess_send_signal() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_send_signal
    // (bpo-31034: the child gets SIGHUP's default disposition, set in the
    // child instead of the parent, whose dispositions are shared by tests).
    ended_by(|t| t.send_signal(libc::SIGHUP), libc::SIGHUP);
}

#[test]
fn test_subprocess_stderr() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_stderr
    // (`echo2.py`: one read of stdin, echoed as OUT: on stdout and ERR: on
    // stderr).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let mut sh = all_piped(Command::new("/bin/sh"));
    sh.args([
        "-c",
        "buf=$(head -c 4); printf 'OUT:%s' \"$buf\"; printf 'ERR:%s' \"$buf\" >&2",
    ]);
    let transp = lp.subprocess_exec(&mut sh, protocol).unwrap();
    transp.pipe_transport(0).unwrap().write(b"test").unwrap();
    run_until(&lp, || finished(&seen));
    transp.close();
    assert_eq!(*seen.stdout.borrow(), b"OUT:test");
    assert!(
        seen.stderr.borrow().starts_with(b"ERR:test"),
        "{:?}",
        seen.stderr.borrow()
    );
    assert_eq!(transp.returncode().unwrap().code(), Some(0));
}

#[test]
fn test_subprocess_close_client_stream() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_close_client_stream
    // (`echo3.py` as a shell loop ignoring SIGPIPE: each read echoed as
    // OUT:, a failed write reported on stderr; the class name of Python's
    // exception is the shell's text).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let mut sh = all_piped(Command::new("/bin/sh"));
    sh.args([
        "-c",
        "trap '' PIPE; while buf=$(head -c 4) && [ -n \"$buf\" ]; do \
         printf 'OUT:%s' \"$buf\" 2>/dev/null || printf 'ERR:BrokenPipeError' >&2; done",
    ]);
    let transp = lp.subprocess_exec(&mut sh, protocol).unwrap();
    let stdin = transp.pipe_transport(0).unwrap();
    let stdout = transp.pipe_transport(1).unwrap();
    stdin.write(b"test").unwrap();
    run_until(&lp, || seen.stdout.borrow().len() >= 8);
    assert_eq!(*seen.stdout.borrow(), b"OUT:test");
    stdout.close();
    run_until(&lp, || pipe_lost(&seen, 1));
    stdin.write(b"xxxx").unwrap();
    run_until(&lp, || !seen.stderr.borrow().is_empty());
    assert_eq!(*seen.stderr.borrow(), b"ERR:BrokenPipeError");
    transp.close();
}

#[test]
fn test_subprocess_wait_no_same_group() {
    // CPython 3.12 test_events.SubprocessTestsMixin.test_subprocess_wait_no_same_group
    // (`start_new_session=True` is a `setsid` in the child).
    let lp = EventLoop::new().unwrap();
    let (protocol, seen) = recorder();
    let mut sh = exit_7();
    // SAFETY: setsid() is async-signal-safe and touches no parent state.
    unsafe {
        sh.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let transp = lp.subprocess_exec(&mut sh, protocol).unwrap();
    run_until(&lp, || exited(&seen));
    assert_eq!(transp.returncode().unwrap().code(), Some(7));
    transp.close();
}
