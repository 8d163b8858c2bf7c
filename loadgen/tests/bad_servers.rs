//! Servers that misbehave: loadgen finishes on time, names each failure by
//! its kind, and exits non-zero only when nothing succeeded.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{free_port, http_server, loadgen, num, ok, serial};

fn run(url: &str, extra: &[&str]) -> (i32, serde_json::Value, Duration) {
    let started = Instant::now();
    let mut args = vec!["-c", "4", "-t", "1", "-d", "1s", "--timeout", "300ms"];
    args.extend_from_slice(extra);
    args.push(url);
    let (code, report) = loadgen(&args);
    (code, report, started.elapsed())
}

#[test]
fn a_server_that_closes_mid_response_gives_read_errors() {
    let _serial = serial();
    // Every other answer is cut in half and the connection closed.
    let server = http_server(|n, _, stream| {
        if n % 2 == 0 {
            return ok(stream);
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf");
        false
    });
    let (code, report, took) = run(&format!("http://{}/", server.addr), &[]);
    assert_eq!(code, 0, "some requests succeeded: {report:#}");
    assert!(num(&report, "errors.read") > 0.0);
    assert_eq!(
        num(
            &report,
            "error_reasons.read: the server closed the connection mid-response"
        ),
        num(&report, "errors.read"),
        "{report:#}"
    );
    assert!(num(&report, "requests") > 0.0);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn garbage_is_a_parse_error_and_nothing_succeeding_exits_non_zero() {
    let _serial = serial();
    let server = http_server(|_, _, stream| {
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
        true
    });
    let (code, report, took) = run(&format!("http://{}/", server.addr), &[]);
    assert_eq!(code, 1);
    assert!(num(&report, "errors.parse") > 0.0, "{report:#}");
    assert_eq!(num(&report, "requests"), 0.0);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_server_that_never_answers_gives_timeouts_and_the_run_ends_on_time() {
    let _serial = serial();
    let server = http_server(|_, _, _| {
        std::thread::sleep(Duration::from_secs(3));
        false
    });
    let (code, report, took) = run(&format!("http://{}/", server.addr), &[]);
    assert_eq!(code, 1);
    assert!(num(&report, "errors.timeout") >= 4.0, "{report:#}");
    // A timed-out request's latency is at least the timeout.
    assert!(num(&report, "latency_us.min") >= 300_000.0, "{report:#}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn refused_connections_are_connect_errors() {
    let _serial = serial();
    let port = free_port();
    let (code, report, took) = run(&format!("http://127.0.0.1:{port}/"), &[]);
    assert_eq!(code, 1);
    assert!(num(&report, "errors.connect") >= 4.0, "{report:#}");
    // Each counted with its reason.
    let reasons = report["error_reasons"].as_object().expect("error_reasons");
    let refused: f64 = reasons
        .iter()
        .filter(|(reason, _)| reason.starts_with("connect: ") && reason.contains("refused"))
        .map(|(_, count)| count.as_f64().unwrap())
        .sum();
    assert_eq!(refused, num(&report, "errors.connect"), "{report:#}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn a_chunked_body_split_over_many_writes_is_read_whole() {
    let _serial = serial();
    let server = http_server(|_, _, stream| {
        let parts: [&[u8]; 7] = [
            b"HTTP/1.1 200 OK\r\nTransfer-",
            b"Encoding: chunked\r\n\r\n",
            b"5\r\nhel",
            b"lo\r\n",
            b"6;x=y\r\n world\r",
            b"\n0\r\n",
            b"\r\n",
        ];
        for part in parts {
            if stream.write_all(part).is_err() {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    });
    let (code, report, _) = run(&format!("http://{}/", server.addr), &[]);
    assert_eq!(code, 0);
    assert!(num(&report, "requests") > 10.0, "{report:#}");
    assert_eq!(
        num(&report, "errors.parse") + num(&report, "errors.read"),
        0.0
    );
}

#[test]
fn error_statuses_are_counted_by_class() {
    let _serial = serial();
    let server = http_server(|_, _, stream| {
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            .is_ok()
    });
    let (code, report, _) = run(&format!("http://{}/", server.addr), &[]);
    assert_eq!(code, 1, "only errors");
    let requests = num(&report, "requests");
    assert!(requests > 0.0);
    assert_eq!(num(&report, "errors.status"), requests);
    assert_eq!(num(&report, "status.server_error"), requests);
}

#[test]
fn a_request_count_run_against_nothing_gives_up_after_the_timeout() {
    let _serial = serial();
    let port = free_port();
    let started = Instant::now();
    let (code, report) = loadgen(&[
        "-c",
        "2",
        "-t",
        "1",
        "-n",
        "100",
        "--timeout",
        "300ms",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(code, 1);
    assert!(num(&report, "errors.connect") >= 2.0, "{report:#}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn pipelined_requests_a_closing_server_left_unanswered_are_sent_again() {
    let _serial = serial();
    // Every fifth answer says `Connection: close` and ends the connection
    // (nginx's `keepalive_requests`), with requests still in flight.
    let server = http_server(|n, _, stream| {
        if n % 5 != 4 {
            return ok(stream);
        }
        let closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        if stream.write_all(closing).is_ok() {
            // A lingering close, as servers do: no reset for the requests
            // that were sent meanwhile.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = std::io::copy(stream, &mut std::io::sink());
        }
        false
    });
    let url = format!("http://{}/", server.addr);
    let args = ["-c", "2", "-t", "1", "-n", "500", "--pipeline", "8"];
    let (code, report) = loadgen(&[&args[..], &[url.as_str()]].concat());
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(num(&report, "requests"), 500.0, "{report:#}");
    assert_eq!(num(&report, "status.success"), 500.0, "{report:#}");
    for kind in ["connect", "read", "write", "timeout", "status", "parse"] {
        assert_eq!(num(&report, &format!("errors.{kind}")), 0.0, "{report:#}");
    }
    assert_eq!(num(&report, "unfinished"), 0.0, "{report:#}");
}
