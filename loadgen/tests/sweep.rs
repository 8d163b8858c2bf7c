//! `loadgen sweep` against a server of known capacity: one thread that
//! spins the CPU for 1 ms per request serves about 1,000 requests per
//! second, and the sweep's answer must be within 20 % of that.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{http_server, loadgen, num, ok, serial};

#[test]
fn the_sweep_finds_a_one_thousand_request_server_s_capacity() {
    let _serial = serial();
    // One request at a time over all connections: a lock makes the
    // thread-per-connection server a single worker.
    let worker = std::sync::Mutex::new(());
    let server = http_server(move |_, _, stream| {
        {
            let _one_at_a_time = worker.lock().unwrap();
            let until = Instant::now() + Duration::from_millis(1);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        ok(stream)
    });
    let url = format!("http://{}/", server.addr);
    // What this server manages on this machine now, closed loop: a busy
    // machine stretches its 1 ms of spinning, so the sweep is held to
    // this, not to the nominal 1,000.
    let (code, closed) = loadgen(&["-c", "8", "-t", "1", "-d", "1500ms", &url]);
    assert_eq!(code, 0, "{closed:#}");
    let capacity = num(&closed, "rps");
    assert!(
        capacity <= 1_050.0,
        "one request per ms at most: {closed:#}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "sweep",
            "--slo",
            "p99=100ms",
            "--tolerance",
            "0.1",
            "--max-steps",
            "6",
            "-c",
            "8",
            "-t",
            "1",
            "-d",
            "1500ms",
            "--json",
            "-",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let best = result["best_rate"].as_f64().unwrap();
    assert!(
        (0.8 * capacity..=1.15 * capacity).contains(&best),
        "best rate {best} against a closed-loop capacity of {capacity}: {result:#}"
    );
    let steps = result["steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.len() <= 6);
    assert!(
        steps.iter().any(|s| s["met"] == false),
        "some step past the capacity missed: {result:#}"
    );
}
