//! Helpers the example tests share: outside tools, and the example
//! binaries `cargo test` builds.

pub mod peer;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};

use loopcore::{EventLoop, LoopHandle, Protocol, ServerOptions};
use loopcore_examples::plaintext::{Plaintext, Timeouts};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Runs the tests that load the whole machine one at a time: those with
/// wrk or h2load, thousands of connections, the RSS measurements, and the
/// minute-long deadline check. Every module's tests share one binary and
/// run side by side, and two of these at once on a small machine make each
/// other miss deadlines (a flake, not a finding). Hold the guard for the
/// whole test: `let _heavy = common::heavy();`.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `tool` is installed; outside CI a missing tool skips the test
/// with a message, in CI (`CI` set) it fails: `.ci/run` installs it.
pub fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing in CI: .ci/run must install it"
        );
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

/// The example binary `cargo test` built next to the running test.
pub fn example(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join(name)
}

/// Starts an example and reads the address from its output.
pub fn start_example(name: &str, args: &[&str]) -> (Child, SocketAddr, BufReader<ChildStdout>) {
    let (child, addr, _, stdout) = start_example_with_lines(name, args);
    (child, addr, stdout)
}

/// Sends `signal` to the child.
pub fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) with a valid signal on our own child's pid.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill({}, {signal})", child.id());
}

/// Waits for the child to exit, killing it (and failing) after `limit`.
pub fn wait_with_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The request count of a wrk report.
pub fn wrk_requests(report: &str) -> u64 {
    report
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in: {report}"))
}

/// The `total: C connections, R requests` line of http_plaintext's
/// shutdown report, as (C, R).
pub fn report_totals(report: &str) -> (u64, u64) {
    let line = report
        .lines()
        .find_map(|l| l.strip_prefix("total: "))
        .unwrap_or_else(|| panic!("no total in {report:?}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

/// Starts an example and reads its output up to the first line with an
/// address; returns every line read so far too.
pub fn start_example_with_lines(
    name: &str,
    args: &[&str],
) -> (Child, SocketAddr, Vec<String>, BufReader<ChildStdout>) {
    let mut command = Command::new(example(name));
    command.args(args);
    start_command_with_lines(name, command)
}

/// [`start_example_with_lines`] for a command prepared by the caller
/// (`name` is for messages).
pub fn start_command_with_lines(
    name: &str,
    mut command: Command,
) -> (Child, SocketAddr, Vec<String>, BufReader<ChildStdout>) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the {name} example (built by `cargo test`): {e}"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let found = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break None;
        }
        let addr = line
            .split_whitespace()
            .find_map(|word| word.parse::<SocketAddr>().ok());
        lines.push(line);
        if addr.is_some() {
            break addr;
        }
    };
    match found {
        Some(addr) => (child, addr, lines, stdout),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} printed no address: {lines:?}");
        }
    }
}

/// A plaintext server on its own thread; stopped when dropped.
pub struct ServerThread {
    pub addr: SocketAddr,
    pub handle: LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    pub fn start() -> Self {
        Self::start_with(Timeouts::default())
    }

    pub fn start_with(timeouts: Timeouts) -> Self {
        Self::serve(ServerOptions::default(), move || {
            Plaintext::with_timeouts(timeouts)
        })
    }

    /// Serves `factory`'s protocol on 127.0.0.1 with `options` (backlog
    /// raised to 4096 for the connection floods).
    pub fn serve<P, F>(options: ServerOptions, factory: F) -> Self
    where
        P: Protocol,
        F: Fn() -> P + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let lp = EventLoop::new().unwrap();
            let server = lp
                .create_server("127.0.0.1:0", options.backlog(4096), factory)
                .unwrap();
            tx.send((server.sockets()[0], lp.handle())).unwrap();
            lp.run_forever().unwrap();
        });
        let (addr, handle) = rx.recv().unwrap();
        Self {
            addr,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Sends `request` on a fresh connection and reads until the server closes.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// Sends `request` on a fresh connection and reads until the server
/// closes it, which it must do within 10 s (only an answer that ends the
/// connection closes it this soon: the examples' deadlines are longer).
pub fn exchange_until_closed(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .unwrap_or_else(|e| panic!("the connection stayed open ({e}) after {response:?}"));
    String::from_utf8_lossy(&response).into_owned()
}

/// Waits until every connection the loop accepted is closed (lingering
/// closes included), failing after 10 s.
pub fn wait_until_all_closed(handle: &LoopHandle) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = handle.stats();
        if stats.connections_opened == stats.connections_closed {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} connections opened, {} closed",
            stats.connections_opened,
            stats.connections_closed
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the child when dropped, so a failing test leaves no server
/// behind (holding the test's stderr open, among other things).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Reads at least `count` HTTP answers from `stream`, each of which must be
/// `200`; fails if the stream ends or stalls first.
pub fn read_ok_answers(stream: &mut impl Read, count: usize) {
    let mut reader = loopcore::http1::ResponseReader::new();
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut answers = 0;
    while answers < count {
        let n = stream.read(&mut buf).expect("answers keep coming");
        assert!(n > 0, "closed after {answers} of {count} answers");
        pending.extend_from_slice(&buf[..n]);
        let mut used = 0;
        loop {
            let (consumed, response) = reader.feed(&pending[used..], false).unwrap();
            used += consumed;
            let Some(response) = response else { break };
            assert_eq!(response.status, 200);
            answers += 1;
        }
        pending.drain(..used);
    }
}

/// Opens `count` TCP connections to `addr` at once, then drops them all;
/// raises the fd limit first.
pub fn open_and_drop_connections(addr: SocketAddr, count: usize) {
    loopcore::raise_fd_limit(count as u64 * 2 + 2_000).unwrap();
    let streams: Vec<TcpStream> = (0..count)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    drop(streams);
}

/// The loop accepted at least `count` connections.
pub fn assert_opened_at_least(handle: &LoopHandle, count: u64) {
    let opened = handle.stats().connections_opened;
    assert!(
        opened >= count,
        "{opened} connections accepted, {count} expected"
    );
}
