//! Does loadgen measure right? Open-loop latency against a server that
//! stalls for a known second must match what the stall implies (and the
//! uncorrected figures must hide it); a fixed 2 ms server must read 2 ms.
//! Tolerances allow for a noisy 2-core machine; nothing here times
//! loopcore itself.

mod common;

use std::time::{Duration, Instant};

use common::{http_server, loadgen, num, ok, serial};

#[test]
fn open_loop_latency_counts_a_stall_from_each_request_s_intended_send_time() {
    let _serial = serial();
    // Every response between 1 s and 2 s after the first request waits
    // until 2 s: the server stalls for one second of a four-second run.
    let first = std::sync::OnceLock::<Instant>::new();
    let server = http_server(move |_, at, stream| {
        let start = *first.get_or_init(|| at);
        let stall_from = start + Duration::from_secs(1);
        let stall_until = start + Duration::from_secs(2);
        if at >= stall_from && at < stall_until {
            std::thread::sleep(stall_until - at);
        }
        ok(stream)
    });
    let url = format!("http://{}/", server.addr);
    let (code, report) = loadgen(&["-c", "8", "-t", "1", "-R", "400", "-d", "4s", &url]);
    assert_eq!(code, 0);
    // A quarter of the requests fall due in the stall and wait until its
    // end: their latencies spread evenly over (0, 1 s]. So the top 10 %
    // of all requests start at 0.6 s and the top 1 % at 0.96 s.
    let p90 = num(&report, "latency_us.p90") / 1e6;
    let p99 = num(&report, "latency_us.p99") / 1e6;
    let p999 = num(&report, "latency_us.p999") / 1e6;
    assert!(
        (p90 - 0.60).abs() <= 0.06,
        "corrected p90 {p90} s, expected 0.60 s"
    );
    assert!(
        (p99 - 0.96).abs() <= 0.096,
        "corrected p99 {p99} s, expected 0.96 s"
    );
    assert!(
        (p999 - 0.996).abs() <= 0.0996,
        "corrected p99.9 {p999} s, expected 1.0 s"
    );
    // Measured from the actual sends, only the 8 requests in flight when
    // the stall began see it: the 90th percentile shows nothing.
    let uncorrected_p90 = num(&report, "uncorrected_latency_us.p90") / 1e6;
    assert!(
        uncorrected_p90 < 0.05,
        "uncorrected p90 {uncorrected_p90} s"
    );
    let requested = num(&report, "rate.requested");
    let achieved = num(&report, "rate.achieved");
    assert_eq!(requested, 400.0);
    assert!(achieved > 360.0, "sent {achieved} req/s of 400");
    assert_eq!(num(&report, "errors.timeout"), 0.0);
}

#[test]
fn a_fixed_two_millisecond_server_reads_two_milliseconds_over_the_round_trip() {
    let _serial = serial();
    // Answers exactly `delay` after each request arrived: sleep most of
    // it, spin the rest (a plain sleep overshoots by 50-100 us here).
    let server = |delay: Duration| {
        http_server(move |_, at, stream| {
            let until = at + delay;
            if delay > Duration::from_micros(300) {
                std::thread::sleep(delay - Duration::from_micros(300));
            }
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            ok(stream)
        })
    };
    let instant = server(Duration::ZERO);
    let delayed = server(Duration::from_millis(2));
    let p50_ms = |addr: std::net::SocketAddr| {
        let url = format!("http://{addr}/");
        let (code, report) = loadgen(&["-c", "4", "-t", "1", "-R", "200", "-d", "2s", &url]);
        assert_eq!(code, 0);
        assert!(num(&report, "requests") >= 350.0);
        num(&report, "latency_us.p50") / 1e3
    };
    // What loadgen must read is the 2 ms the server adds to the machine's
    // own round trip (100-250 us on this VM, and more while it is busy),
    // measured back to back. Noise only adds, so up to five tries.
    let mut added = Vec::new();
    for _ in 0..5 {
        let round_trip = p50_ms(instant.addr);
        let total = p50_ms(delayed.addr);
        added.push(total - round_trip);
        if (total - round_trip - 2.0).abs() <= 0.2 {
            return;
        }
    }
    panic!("the server added 2 ms; loadgen read {added:?} ms over the round trip");
}
