//! Socket activation: `http_plaintext --listen-fds` serves the socket it
//! was passed as fd 3 with `LISTEN_PID`/`LISTEN_FDS` (what systemd does),
//! on both loops, without binding one of its own.

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use crate::common::{
    example, raw_exchange, signal, start_command_with_lines, wait_with_timeout, KillOnDrop,
};

#[test]
fn http_plaintext_serves_the_socket_passed_with_listen_fds() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    // Let the shell inherit the socket (std opens it close-on-exec).
    // SAFETY: F_SETFD on an fd this test owns, clearing only FD_CLOEXEC.
    let cleared = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    assert_eq!(cleared, 0);
    // The shell puts it at fd 3 and names itself in LISTEN_PID, then
    // execs the server, which keeps the pid: systemd's hand-over.
    let script = if fd == 3 {
        "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" --listen-fds --loops 2".to_owned()
    } else {
        format!(
            "export LISTEN_PID=$$ LISTEN_FDS=1; exec 3<&{fd} {fd}<&-; exec \"$0\" --listen-fds --loops 2"
        )
    };
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).arg(example("http_plaintext"));
    let (child, served, _, _stdout) = start_command_with_lines("http_plaintext", command);
    let mut child = KillOnDrop(child);
    drop(listener);
    assert_eq!(served, addr, "the server bound a socket of its own");
    for _ in 0..20 {
        let answer = raw_exchange(
            addr,
            b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    }
    signal(&child.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child.0, Duration::from_secs(20)).success());
}

#[test]
fn http_plaintext_refuses_listen_fds_meant_for_another_process() {
    let output = Command::new(example("http_plaintext"))
        .args(["--listen-fds", "--loops", "1"])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no sockets were passed"), "{stderr}");
}
