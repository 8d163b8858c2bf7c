//! The commands beyond a single run: `merge` (reports of concurrent runs
//! combined exactly), `tune` (a server command over loop counts), and the
//! files a run can leave: `--plot` and `--hdr-log`.

mod common;

use std::process::Command;

use common::{http_server, num, ok, serial};

fn loadgen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("running loadgen")
}

fn temp(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("loadgen-test-{}-{name}", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn concurrent_runs_merge_into_one_exact_report() {
    let _serial = serial();
    let server = http_server(|_, _, stream| ok(stream));
    let url = format!("http://{}/", server.addr);
    let (a, b) = (temp("a.json"), temp("b.json"));
    let runs: Vec<_> = [&a, &b]
        .iter()
        .map(|path| {
            Command::new(env!("CARGO_BIN_EXE_loadgen"))
                .args(["-c", "2", "-t", "1", "-n", "300", "--json", path, &url])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut run in runs {
        assert!(run.wait().unwrap().success());
    }
    let merged = loadgen(&["merge", "--json", "-", &a, &b]);
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&merged.stdout).unwrap();
    assert_eq!(num(&report, "requests"), 600.0);
    assert_eq!(num(&report, "setup.connections"), 4.0);
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let max = num(&read(&a), "latency_us.max").max(num(&read(&b), "latency_us.max"));
    assert_eq!(
        num(&report, "latency_us.max"),
        max,
        "the merged maximum is the larger one"
    );
    let refused = loadgen(&["merge", "/nonexistent.json"]);
    assert_eq!(refused.status.code(), Some(2));
    let _ = std::fs::remove_file(a);
    let _ = std::fs::remove_file(b);
}

#[test]
fn a_run_writes_its_chart_and_its_interval_log() {
    let _serial = serial();
    let server = http_server(|_, _, stream| ok(stream));
    let url = format!("http://{}/", server.addr);
    let (svg, log) = (temp("chart.svg"), temp("intervals.hlog"));
    let output = loadgen(&[
        "-c",
        "2",
        "-t",
        "1",
        "-R",
        "200",
        "-d",
        "2500ms",
        "--plot",
        &svg,
        "--hdr-log",
        &log,
        &url,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("from intended send"));
    let text = std::fs::read_to_string(&log).unwrap();
    let intervals: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    // Two whole seconds and the last half one.
    assert_eq!(intervals.len(), 3, "{text}");
    assert!(intervals.iter().all(|l| l.contains("HIST")));
    let _ = std::fs::remove_file(svg);
    let _ = std::fs::remove_file(log);
}

#[test]
fn tune_measures_a_server_command_for_each_loop_count() {
    let _serial = serial();
    let port = common::free_port();
    let server = format!("python3 ../benches/scripts/slow_server.py {port} 10 # loops={{loops}}");
    let url = format!("http://127.0.0.1:{port}/");
    let output = loadgen(&[
        "tune", "--server", &server, "--loops", "1,2", "-c", "4", "-t", "1", "-d", "500ms",
        "--json", "-", &url,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, loops) in rows.iter().zip([1.0, 2.0]) {
        assert_eq!(num(row, "loops"), loops);
        assert!(num(row, "rps") > 100.0, "{row:#}");
        assert!(num(row, "server_cpu_us_per_req") > 0.0, "{row:#}");
    }
    // The server was stopped: the port is free again.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
