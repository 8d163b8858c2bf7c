//! Subprocesses and pipe transports: real children (`sh`, `cat`, `sleep`),
//! real pipes.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::rc::Rc;

use loopcore::{ErrorKind, EventLoop, ProcessTransport, Protocol, SubprocessProtocol, Transport};

use crate::support::run_until;

/// Records every call, in order.
#[derive(Default, Clone)]
struct Calls(Rc<RefCell<Vec<String>>>);

impl Calls {
    fn push(&self, s: String) {
        self.0.borrow_mut().push(s);
    }
    fn all(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    fn has(&self, s: &str) -> bool {
        self.0.borrow().iter().any(|c| c == s)
    }
}

struct Recorder {
    calls: Calls,
    output: Rc<RefCell<Vec<u8>>>,
    transport: Rc<RefCell<Option<ProcessTransport>>>,
}

impl Recorder {
    fn new() -> Self {
        Self {
            calls: Calls::default(),
            output: Rc::default(),
            transport: Rc::default(),
        }
    }
    fn handle(&self) -> Self {
        Self {
            calls: self.calls.clone(),
            output: self.output.clone(),
            transport: self.transport.clone(),
        }
    }
}

impl SubprocessProtocol for Recorder {
    fn connection_made(&mut self, transport: ProcessTransport) {
        let pipes: Vec<bool> = (0..3)
            .map(|fd| transport.pipe_transport(fd).is_some())
            .collect();
        self.calls.push(format!("made {pipes:?}"));
        *self.transport.borrow_mut() = Some(transport);
    }
    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        if fd == 1 {
            self.output.borrow_mut().extend_from_slice(data);
        }
    }
    fn pipe_connection_lost(&mut self, fd: i32, _error: Option<std::io::Error>) {
        self.calls.push(format!("pipe {fd} lost"));
    }
    fn process_exited(&mut self) {
        self.calls.push("exited".into());
    }
    fn connection_lost(&mut self, _error: Option<std::io::Error>) {
        self.calls.push("lost".into());
    }
}

#[test]
fn stdout_arrives_through_the_protocol_and_connection_lost_comes_last() {
    let lp = EventLoop::new().unwrap();
    let recorder = Recorder::new();
    let seen = recorder.handle();
    let process = lp
        .subprocess_exec(
            Command::new("sh")
                .args(["-c", "printf 'one\\ntwo\\n'; exit 3"])
                .stdout(Stdio::piped()),
            recorder,
        )
        .unwrap();
    assert!(process.pipe_transport(1).is_some());
    assert!(process.pipe_transport(0).is_none(), "stdin was not piped");
    run_until(&lp, || seen.calls.has("lost"));
    assert_eq!(*seen.output.borrow(), b"one\ntwo\n");
    assert_eq!(process.returncode().unwrap().code(), Some(3));
    let calls = seen.calls.all();
    assert_eq!(
        calls.first().map(String::as_str),
        Some("made [false, true, false]"),
        "the pipes exist from connection_made on"
    );
    assert_eq!(calls.last().map(String::as_str), Some("lost"));
    assert!(calls.contains(&"pipe 1 lost".to_owned()) && calls.contains(&"exited".to_owned()));
    assert_eq!(
        process.kill().unwrap_err().kind(),
        ErrorKind::Closed,
        "no signal to a reaped pid"
    );
}

#[test]
fn stdin_is_written_and_closed() {
    let lp = EventLoop::new().unwrap();
    let recorder = Recorder::new();
    let seen = recorder.handle();
    let process = lp
        .subprocess_exec(
            Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
            recorder,
        )
        .unwrap();
    let stdin = process.pipe_transport(0).unwrap();
    stdin.write(b"through cat\n").unwrap();
    stdin.write_eof().unwrap();
    run_until(&lp, || seen.calls.has("lost"));
    assert_eq!(*seen.output.borrow(), b"through cat\n");
    assert!(process.returncode().unwrap().success());
    assert!(seen.calls.has("pipe 0 lost"));
}

#[test]
fn signals_are_reported_as_the_exit_status() {
    let lp = EventLoop::new().unwrap();
    for (signal, send) in [
        (
            libc::SIGKILL,
            ProcessTransport::kill as fn(&ProcessTransport) -> loopcore::Result<()>,
        ),
        (libc::SIGTERM, ProcessTransport::terminate),
    ] {
        let recorder = Recorder::new();
        let seen = recorder.handle();
        let process = lp
            .subprocess_exec(Command::new("sleep").arg("30"), recorder)
            .unwrap();
        send(&process).unwrap();
        run_until(&lp, || seen.calls.has("lost"));
        assert_eq!(process.returncode().unwrap().signal(), Some(signal));
    }
    let output = lp
        .run_until_complete(
            lp.command_output(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 7"])),
        )
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(
        (output.stdout, output.stderr),
        (b"out\n".to_vec(), b"err\n".to_vec())
    );
}

#[test]
fn fifty_children_from_two_loops_are_all_reaped_and_std_children_are_not_stolen() {
    let loops: Vec<_> = (0..2)
        .map(|l| {
            std::thread::spawn(move || {
                let lp = EventLoop::new().unwrap();
                // They outlive the std child below: a loop that reaped any
                // child (waitpid(-1)) would take the std one's status.
                let children: Vec<_> = (0..25)
                    .map(|i| {
                        let code = (l * 25 + i) % 50;
                        let script = format!("sleep 0.3; exit {code}");
                        lp.spawn_child(Command::new("sh").args(["-c", &script]))
                            .unwrap()
                    })
                    .collect();
                let waited = lp.run_until_complete(loopcore::timeout(
                    std::time::Duration::from_secs(20),
                    async move {
                        let mut codes = Vec::new();
                        for child in &children {
                            codes.push(child.wait().await.unwrap().code().unwrap());
                        }
                        codes
                    },
                ));
                waited.unwrap().expect("every child reaped in time")
            })
        })
        .collect();
    // A std child, waited for by plain std code while the loops run.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let status = Command::new("sh").args(["-c", "exit 9"]).status().unwrap();
    assert_eq!(
        status.code(),
        Some(9),
        "std's own wait gets its child's status"
    );
    let mut codes: Vec<i32> = loops.into_iter().flat_map(|t| t.join().unwrap()).collect();
    codes.sort_unstable();
    assert_eq!(codes, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_child_reaped_by_someone_else_ends_with_status_255_without_spinning() {
    let lp = EventLoop::new().unwrap();
    lp.set_exception_handler(Some(|_: &EventLoop, _: &loopcore::ExceptionContext| {}));
    let recorder = Recorder::new();
    let seen = recorder.handle();
    let process = lp
        .subprocess_exec(&mut Command::new("true"), recorder)
        .unwrap();
    let mut status = 0;
    // SAFETY: waitpid on our own child's pid with a valid status pointer.
    let reaped = unsafe { libc::waitpid(process.pid() as libc::pid_t, &mut status, 0) };
    assert_eq!(reaped, process.pid() as libc::pid_t);
    run_until(&lp, || seen.calls.has("lost"));
    assert_eq!(process.returncode().unwrap().code(), Some(255));
    let before = lp.stats().callbacks;
    lp.run_until_complete(loopcore::sleep(std::time::Duration::from_millis(50)))
        .unwrap();
    assert!(
        lp.stats().callbacks - before < 10,
        "the pidfd is no longer watched"
    );
}

#[test]
fn a_dup_of_a_pipe_keeps_the_original_description_blocking() {
    let lp = EventLoop::new().unwrap();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let dup = reader.try_clone().unwrap();
    let seen = Rc::new(PipeSeen::default());
    let _transport = lp.connect_read_pipe(dup, PipeProbe(seen.clone())).unwrap();
    // SAFETY: F_GETFL on a valid fd we hold.
    let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&reader), libc::F_GETFL) };
    assert_eq!(
        flags & libc::O_NONBLOCK,
        0,
        "the shared description is untouched"
    );
    writer.write_all(b"still works").unwrap();
    drop(writer);
    run_until(&lp, || seen.lost.borrow().is_some());
    assert_eq!(*seen.data.borrow(), b"still works");
}

/// Counts flow-control calls and reads, for the pipe tests.
#[derive(Default)]
struct PipeSeen {
    data: RefCell<Vec<u8>>,
    pauses: std::cell::Cell<u32>,
    resumes: std::cell::Cell<u32>,
    eof: std::cell::Cell<bool>,
    lost: RefCell<Option<Option<std::io::ErrorKind>>>,
}

struct PipeProbe(Rc<PipeSeen>);

impl Protocol for PipeProbe {
    fn data_received(&mut self, data: &[u8]) {
        self.0.data.borrow_mut().extend_from_slice(data);
    }
    fn eof_received(&mut self) -> bool {
        self.0.eof.set(true);
        false
    }
    fn pause_writing(&mut self) {
        self.0.pauses.set(self.0.pauses.get() + 1);
    }
    fn resume_writing(&mut self) {
        self.0.resumes.set(self.0.resumes.get() + 1);
    }
    fn connection_lost(&mut self, error: Option<std::io::Error>) {
        *self.0.lost.borrow_mut() = Some(error.map(|e| e.kind()));
    }
}

#[test]
fn a_read_pipe_delivers_data_then_eof() {
    let lp = EventLoop::new().unwrap();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let seen = Rc::new(PipeSeen::default());
    let transport = lp
        .connect_read_pipe(reader, PipeProbe(seen.clone()))
        .unwrap();
    assert_eq!(
        transport.write(b"x").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    writer.write_all(b"down the pipe").unwrap();
    drop(writer);
    run_until(&lp, || seen.lost.borrow().is_some());
    assert_eq!(*seen.data.borrow(), b"down the pipe");
    assert!(seen.eof.get());
    assert_eq!(*seen.lost.borrow(), Some(None));
}

#[test]
fn a_write_pipe_applies_flow_control_and_reports_a_vanished_reader() {
    let lp = EventLoop::new().unwrap();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let seen = Rc::new(PipeSeen::default());
    let transport: Transport = lp
        .connect_write_pipe(writer, PipeProbe(seen.clone()))
        .unwrap();
    transport
        .set_write_buffer_limits(Some(64 * 1024), Some(16 * 1024))
        .unwrap();
    // The pipe holds 64 KiB; nobody reads yet.
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..8 {
        transport.write(&chunk).unwrap();
    }
    run_until(&lp, || seen.pauses.get() == 1);
    assert!(transport.get_write_buffer_size() > 64 * 1024);
    let drain = std::thread::spawn(move || {
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while total < 8 * 64 * 1024 {
            total += reader.read(&mut buf).unwrap();
        }
        reader // dropped by the test once the resume is seen
    });
    run_until(&lp, || seen.resumes.get() == 1 && drain.is_finished());
    assert_eq!(seen.pauses.get(), 1);
    drop(drain.join().unwrap());
    run_until(&lp, || seen.lost.borrow().is_some());
    assert_eq!(
        *seen.lost.borrow(),
        Some(Some(std::io::ErrorKind::BrokenPipe))
    );
}

#[test]
fn a_regular_file_is_refused_with_a_clear_error() {
    let lp = EventLoop::new().unwrap();
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let seen = Rc::new(PipeSeen::default());
    let error = lp.connect_read_pipe(file, PipeProbe(seen)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidFd);
    assert!(error.to_string().contains("run_in_executor"), "{error}");
}

#[test]
fn subprocess_shell_runs_through_sh() {
    let lp = EventLoop::new().unwrap();
    let recorder = Recorder::new();
    let seen = recorder.handle();
    let process = lp.subprocess_shell("echo $((6 * 7))", recorder).unwrap();
    run_until(&lp, || seen.calls.has("lost"));
    assert_eq!(*seen.output.borrow(), b"42\n");
    assert!(process.returncode().unwrap().success());
}
