//! Zero-downtime restart: `http_plaintext --upgrade-on-sigusr2` under wrk
//! gets SIGUSR2, starts its successor with the listening sockets, drains
//! and exits once the successor serves; wrk sees no error, no refused
//! connection and no non-2xx answer, and the successor goes on serving.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{
    self, have, raw_exchange, report_totals, signal, start_example_with_lines, wait_with_timeout,
    wrk_requests, KillOnDrop,
};

/// Kills a process that is not our child (the successor belongs to the
/// server we started) when dropped.
struct KillPidOnDrop(libc::pid_t);

impl Drop for KillPidOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill(2) on a pid this test learned from the server's
        // output; the worst case is a signal to a process already gone.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

fn is_alive(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

fn pid_of(listening_line: &str) -> Option<libc::pid_t> {
    listening_line
        .trim()
        .rsplit_once(" pid ")
        .and_then(|(_, pid)| pid.parse().ok())
}

#[test]
fn sigusr2_hands_the_sockets_over_under_load_without_a_failed_request() {
    let _heavy = common::heavy();
    if !have("wrk") {
        return;
    }
    let (server, addr, lines, stdout) = start_example_with_lines(
        "http_plaintext",
        &["--port", "0", "--loops", "2", "--upgrade-on-sigusr2"],
    );
    let mut server = KillOnDrop(server);
    let old_pid = pid_of(lines.last().unwrap()).expect("the listening line names the pid");
    assert_eq!(old_pid, server.0.id() as libc::pid_t);
    // The successor inherits the server's stdout: read both from a thread,
    // since the pipe stays open as long as the successor lives.
    let (line_tx, line_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });

    let wrk = Command::new("wrk")
        .args(["-t1", "-c16", "-d4s", &format!("http://{addr}/plaintext")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting wrk");
    let wrk = KillOnDrop(wrk);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&server.0, libc::SIGUSR2);

    // The successor says where it listens (the same address) and its pid.
    let deadline = Instant::now() + Duration::from_secs(10);
    let successor = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = line_rx
            .recv_timeout(left)
            .expect("the successor announced itself within 10 s");
        if let Some(pid) = pid_of(&line).filter(|&pid| pid != old_pid) {
            assert!(line.contains(&addr.to_string()), "{line}");
            break pid;
        }
    };
    let _successor_guard = KillPidOnDrop(successor);

    // The old process drains its connections (wrk reconnects on each
    // `Connection: close`) and exits cleanly while wrk is still running.
    let status = wait_with_timeout(&mut server.0, Duration::from_secs(10));
    assert!(status.success(), "the old process exited with {status}");
    let old_report = read_report(&line_rx);
    let report = wait_with_timeout_output(wrk);
    assert!(
        !report.contains("Socket errors") && !report.contains("Non-2xx"),
        "wrk saw failures across the restart:\n{report}"
    );
    let measured = wrk_requests(&report);
    assert!(measured > 1000, "{report}");

    // Only the successor is left, and it serves.
    assert!(is_alive(successor));
    let answer = raw_exchange(
        addr,
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // SAFETY: kill(2) on the successor's pid, which is alive (above).
    assert_eq!(unsafe { libc::kill(successor, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_alive(successor) {
        assert!(Instant::now() < deadline, "the successor ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let successor_report = read_report(&line_rx);
    // Both processes answered part of the load, and between them every
    // request wrk counted (wrk does not count those in flight at its end).
    let (_, old_requests) = report_totals(&old_report);
    let (_, new_requests) = report_totals(&successor_report);
    assert!(
        old_requests > 0 && new_requests > 0,
        "{old_report}\n{successor_report}"
    );
    assert!(
        old_requests + new_requests > measured,
        "{old_requests} + {new_requests} answered, wrk counted {measured}"
    );
}

/// A server's shutdown report, up to its last line.
fn read_report(lines: &mpsc::Receiver<String>) -> String {
    let mut report = String::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        report.push_str(&line);
        report.push('\n');
        if line.starts_with("timeouts:") {
            break;
        }
    }
    report
}

/// wrk's report, once it ends by itself (its run is 4 s).
fn wait_with_timeout_output(mut wrk: KillOnDrop) -> String {
    let status = wait_with_timeout(&mut wrk.0, Duration::from_secs(15));
    assert!(status.success(), "wrk: {status}");
    let mut report = String::new();
    std::io::Read::read_to_string(&mut wrk.0.stdout.take().unwrap(), &mut report).unwrap();
    report
}
