//! The command line: bad arguments get a clear message and exit code 2,
//! the JSON report has every documented key, `-n` stops on the count,
//! and tcp:// echo mode counts round trips.

mod common;

use std::io::{Read, Write};
use std::process::Command;

use common::{http_server, loadgen, num, ok, serial};

fn refused(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    assert!(refused(&["ftp://127.0.0.1/"]).contains("unsupported scheme"));
    assert!(refused(&["-R", "0", "http://127.0.0.1:1/"]).contains("--rate"));
    assert!(refused(&["-c", "0", "http://127.0.0.1:1/"]).contains("--connections"));
    assert!(refused(&["-d", "fast", "http://127.0.0.1:1/"]).contains("not a duration"));
    assert!(refused(&["-H", "no colon", "http://127.0.0.1:1/"]).contains("no colon"));
    assert!(refused(&["tcp://127.0.0.1/"]).contains("needs a port"));
    assert!(refused(&["-c", "100000000", "http://127.0.0.1:1/"]).contains("open files"));
}

#[test]
fn the_json_report_has_every_documented_key_and_n_stops_on_the_count() {
    let _serial = serial();
    let server = http_server(|_, _, stream| ok(stream));
    let url = format!("http://{}/", server.addr);
    let (code, report) = loadgen(&["-c", "4", "-t", "2", "-n", "500", "--pipeline", "2", &url]);
    assert_eq!(code, 0);
    for key in ["connect", "read", "write", "timeout", "status"] {
        assert_eq!(num(&report, &format!("errors.{key}")), 0.0);
    }
    for key in [
        "min", "mean", "stdev", "p50", "p75", "p90", "p99", "p999", "p9999", "max",
    ] {
        assert!(num(&report, &format!("latency_us.{key}")) >= 0.0);
    }
    assert_eq!(num(&report, "requests"), 500.0);
    assert!(num(&report, "duration_s") > 0.0);
    assert!(num(&report, "rps") > 0.0);
    assert_eq!(num(&report, "bytes"), 500.0 * common::OK.len() as f64);
    assert_eq!(report["per_loop"].as_array().unwrap().len(), 2);
    assert!(report["latency_hdr"].as_str().unwrap().len() > 10);
    assert!(report["rate"].is_null(), "closed loop has no rate");
}

#[test]
fn tcp_mode_counts_echoed_round_trips() {
    let _serial = serial();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let url = format!("tcp://{addr}");
    let (code, report) = loadgen(&["-c", "2", "-t", "1", "-n", "300", "--payload", "1000", &url]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(num(&report, "requests"), 300.0);
    assert_eq!(num(&report, "bytes"), 300_000.0);
}

#[test]
fn reconnect_every_and_no_keepalive_open_new_connections() {
    let _serial = serial();
    let server = http_server(|_, _, stream| ok(stream));
    let url = format!("http://{}/", server.addr);
    let (code, report) = loadgen(&[
        "-c",
        "2",
        "-t",
        "1",
        "-n",
        "100",
        "--reconnect-every",
        "10",
        &url,
    ]);
    assert_eq!(code, 0);
    assert_eq!(num(&report, "requests"), 100.0);
    assert_eq!(num(&report, "errors.read"), 0.0, "{report:#}");
    // At most 10 requests per connection; a slot may re-open once more
    // just as the other one takes the last of the -n budget.
    let after_churn = server.accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (10..=12).contains(&after_churn),
        "{after_churn} connections for 100 requests"
    );
    // One request per connection: the server sees Connection: close and
    // closes, which is no error.
    let closing = http_server(|_, _, stream| {
        let _ = std::io::Write::write_all(
            stream,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        false
    });
    let url = format!("http://{}/", closing.addr);
    let (code, report) = loadgen(&["-c", "2", "-t", "1", "-n", "40", "--no-keepalive", &url]);
    assert_eq!(code, 0);
    assert_eq!(num(&report, "requests"), 40.0);
    assert_eq!(num(&report, "errors.read"), 0.0, "{report:#}");
    let opened = closing.accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (40..=42).contains(&opened),
        "{opened} connections for 40 requests"
    );
}
