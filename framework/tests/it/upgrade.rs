//! `RuntimeHandle::upgrade`: the successor gets every listening socket
//! from fd 3 on with the variables `listen_fds` reads, its readiness stops
//! this runtime, and a successor that fails or is never ready is killed
//! while this runtime goes on serving. The successors here are shell
//! scripts that check what they were given.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loopcore::{ErrorKind, Protocol, Runtime, ServeOptions, Transport, Upgrade};

#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        let _ = self.transport.as_ref().unwrap().write(data);
    }
}

fn serving_runtime(loops: usize) -> (Runtime, SocketAddr) {
    let runtime = Runtime::builder()
        .loops(loops)
        .handle_signals(false)
        .shutdown_grace(Duration::from_secs(1))
        .build()
        .unwrap();
    let addrs = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), Echo::default)
        .unwrap();
    (runtime, addrs[0])
}

fn echoes(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = [0u8; 4];
    stream.write_all(b"ping").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"ping"
}

/// A successor that checks it got `sockets` listening sockets at fds 3..,
/// `LISTEN_FDS`, and `LOOPCORE_LISTEN_PPID` naming its parent, then says
/// it is ready; it exits 1 without a word if anything is off.
fn checking_successor(sockets: usize) -> Upgrade {
    let mut script = format!(
        "[ \"$LISTEN_FDS\" = {sockets} ] && [ \"$LOOPCORE_LISTEN_PPID\" = \"$PPID\" ] \
         && [ \"$LOOPCORE_READY_FD\" = {} ] && [ -z \"$LISTEN_PID\" ]",
        3 + sockets
    );
    for fd in 3..3 + sockets {
        script.push_str(&format!(" && [ -S /proc/self/fd/{fd} ]"));
    }
    script.push_str(" || exit 1; printf R >&\"$LOOPCORE_READY_FD\"");
    Upgrade::new().program("/bin/sh").args(["-c", &script])
}

/// Runs `runtime` on a thread; the receiver hears when `run` returns.
fn run_in_background(runtime: Runtime) -> mpsc::Receiver<loopcore::Result<()>> {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(runtime.run());
    });
    done_rx
}

#[test]
fn a_ready_successor_gets_every_socket_and_this_runtime_drains_and_stops() {
    let (runtime, addr) = serving_runtime(3);
    let handle = runtime.handle();
    let done = run_in_background(runtime);
    assert!(echoes(addr));
    // One SO_REUSEPORT socket per loop: all three are handed over.
    let pid = handle.upgrade(checking_successor(3)).unwrap();
    assert!(pid > 0);
    let result = done
        .recv_timeout(Duration::from_secs(10))
        .expect("the runtime stopped once the successor was ready");
    assert!(result.is_ok(), "{result:?}");
    assert!(handle.is_stopped());
}

#[test]
fn a_failed_or_silent_successor_is_killed_and_this_runtime_goes_on_serving() {
    let (runtime, addr) = serving_runtime(2);
    let handle = runtime.handle();
    let done = run_in_background(runtime);

    // Exits at once without a word.
    handle
        .upgrade(Upgrade::new().program("/bin/sh").args(["-c", "exit 3"]))
        .unwrap();
    // Another upgrade is refused while one is under way.
    let busy = handle.upgrade(checking_successor(2));
    if let Err(e) = &busy {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    // `busy` may also have started (if the first had already failed): then
    // the runtime is stopping, which the rest of this test would not see.
    if busy.is_ok() {
        done.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        return;
    }
    wait_until_upgrade_allowed(&handle);
    assert!(!handle.shutdown_token().is_requested());
    assert!(
        echoes(addr),
        "the runtime stopped serving after a failed upgrade"
    );

    // Never ready: killed at the timeout.
    let started = Instant::now();
    handle
        .upgrade(
            Upgrade::new()
                .program("/bin/sh")
                .args(["-c", "exec sleep 30"])
                .ready_timeout(Duration::from_millis(200)),
        )
        .unwrap();
    wait_until_upgrade_allowed(&handle);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!handle.shutdown_token().is_requested());
    assert!(echoes(addr));
    assert!(
        done.try_recv().is_err(),
        "the runtime stopped after a failed upgrade"
    );
    handle.shutdown(Duration::ZERO);
    done.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
}

/// Waits until the upgrade under way has failed, by asking for one that
/// must be refused for another reason: a program that does not exist.
fn wait_until_upgrade_allowed(handle: &loopcore::RuntimeHandle) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = handle.upgrade(Upgrade::new().program("/nonexistent/loopcore-successor"));
        let e = probe.expect_err("a program that does not exist cannot start");
        if !e.to_string().contains("already under way") {
            assert!(e.to_string().contains("starting the successor"), "{e}");
            return;
        }
        assert!(Instant::now() < deadline, "the failed upgrade never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn upgrade_is_refused_without_a_socket_or_once_shutting_down() {
    let runtime = Runtime::builder()
        .loops(1)
        .handle_signals(false)
        .build()
        .unwrap();
    let handle = runtime.handle();
    let e = handle.upgrade(Upgrade::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("no socket"), "{e}");
    runtime
        .serve("127.0.0.1:0", ServeOptions::default(), Echo::default)
        .unwrap();
    handle.shutdown(Duration::ZERO);
    let e = handle.upgrade(Upgrade::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    runtime.run().unwrap();
}
