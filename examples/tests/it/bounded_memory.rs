//! Bounded memory, measured from outside: `http_plaintext` runs in a child
//! process; after a warm-up, one peer pipelines requests for 10 s without
//! ever reading the answers, while other clients keep being answered, and
//! the server's resident memory must not grow past the documented
//! per-connection bound (docs/security.md) plus allocator slack.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::peer::{Peer, Security};
use crate::common::{
    self, raw_exchange, read_ok_answers, signal, start_example, wait_with_timeout, KillOnDrop,
};

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
const GET_CLOSE: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// What one connection may hold (docs/security.md: the 64 KiB high-water
/// mark plus the answers to one 64 KiB read, about 0.3 MiB for this
/// server's 37-byte requests), with room for the allocator's rounding.
const ALLOWED_GROWTH: u64 = 2 << 20;

/// Resident memory of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"));
    kib * 1024
}

/// Pipelines `count` requests on one connection and reads every answer.
fn pipelined_round(addr: SocketAddr, count: usize) {
    let mut peer = Peer::connect(addr, Security::Plain);
    peer.write_all(&GET.repeat(count)).unwrap();
    read_ok_answers(&mut peer, count);
}

#[test]
fn a_peer_that_never_reads_for_ten_seconds_does_not_grow_the_servers_memory() {
    let _heavy = common::heavy();
    let (child, addr, _stdout) = start_example("http_plaintext", &["--loops", "1", "--port", "0"]);
    let mut child = KillOnDrop(child);
    let pid = child.0.id();
    // Warm-up: the allocator's arenas, the slab, the buffers of ordinary
    // traffic, pipelined and not.
    for _ in 0..4 {
        pipelined_round(addr, 5_000);
    }
    for _ in 0..200 {
        assert!(raw_exchange(addr, GET_CLOSE).starts_with("HTTP/1.1 200 OK"));
    }
    // And one short non-reading peer first: the first time a connection's
    // buffers reach their bounds, the allocator may take more than it
    // keeps (CI once saw +4 MiB at the first sample); the bound is about
    // what a peer holds for ten seconds, not about that first step.
    {
        let mut first = Peer::connect(addr, Security::Plain);
        first.send_for(&GET.repeat(1000), Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = rss(pid);

    let hog = std::thread::spawn(move || {
        let mut hog = Peer::connect(addr, Security::Plain);
        let sent = hog.send_for(&GET.repeat(1000), Duration::from_secs(10));
        (hog, sent)
    });
    let started = Instant::now();
    let mut peak = before;
    let mut served = 0;
    while !hog.is_finished() {
        let answer = raw_exchange(addr, GET_CLOSE);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        served += 1;
        peak = peak.max(rss(pid));
        assert!(
            peak - before <= ALLOWED_GROWTH,
            "RSS grew by {} KiB within {:?} (allowed {} KiB)",
            (peak - before) >> 10,
            started.elapsed(),
            ALLOWED_GROWTH >> 10
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (mut hog, sent) = hog.join().unwrap();
    eprintln!(
        "RSS before {} KiB, peak {} KiB (+{} KiB); the peer sent {} KiB; {served} others served",
        before >> 10,
        peak >> 10,
        (peak - before) >> 10,
        sent >> 10
    );
    assert!(served >= 50, "only {served} other requests in 10 s");
    // The server held the peer back rather than reading all it could send.
    assert!(
        sent < 64 << 20,
        "{sent} bytes taken from a peer that never reads"
    );
    // And it still answers that peer once it reads.
    let first = hog.receive_exactly(17);
    assert_eq!(first, b"HTTP/1.1 200 OK\r\n");
    drop(hog);
    signal(&child.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child.0, Duration::from_secs(20)).success());
}

/// Peak resident memory of `pid` since it started, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    kib * 1024
}

/// The bound docs/security.md states for one plaintext connection whose
/// client pipelines: the 64 KiB high-water mark, the answers held back
/// above it (64 KiB), one read (64 KiB) and its incomplete tail.
const PER_PIPELINING_CONNECTION: u64 = 512 << 10;

/// A client that pipelines 100,000 requests on each of 4 connections and
/// reads the answers at full speed: the server's peak memory grows by at
/// most the documented bound per connection (plus allocator slack).
/// Before the driver held answers back and the read loop flushed between
/// reads, each connection could peak at 16 reads' answers (about 3.5 MiB):
/// the release build grew by 4.6 to 11 MiB here; a debug build is too slow
/// to let the kernel queue that much per wake-up and stays under the bound
/// either way.
#[test]
fn four_pipelining_clients_that_read_late_stay_within_the_documented_bound() {
    let _heavy = common::heavy();
    const REQUESTS: usize = 100_000;
    const CONNECTIONS: usize = 4;
    let (child, addr, _stdout) = start_example("http_plaintext", &["--loops", "1", "--port", "0"]);
    let mut child = KillOnDrop(child);
    let pid = child.0.id();
    // Warm-up: the same shape, smaller, so the allocator's first growth is
    // not counted.
    for _ in 0..2 {
        pipelined_round(addr, 20_000);
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = peak_rss(pid);
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut peer = Peer::connect(addr, Security::Plain);
                let mut writer = peer.socket().try_clone().unwrap();
                let requests = GET.repeat(REQUESTS);
                let writing = std::thread::spawn(move || writer.write_all(&requests));
                // At full speed: the kernel's buffers grow to megabytes
                // and every wake-up finds many reads' worth queued.
                read_ok_answers(&mut peer, REQUESTS);
                writing.join().unwrap().unwrap();
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let growth = peak_rss(pid).saturating_sub(before);
    let allowed = CONNECTIONS as u64 * PER_PIPELINING_CONNECTION + (2 << 20);
    eprintln!(
        "peak RSS grew by {} KiB for {CONNECTIONS} pipelining connections (allowed {} KiB)",
        growth >> 10,
        allowed >> 10
    );
    assert!(
        growth <= allowed,
        "peak RSS grew by {} KiB (allowed {} KiB)",
        growth >> 10,
        allowed >> 10
    );
    signal(&child.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child.0, Duration::from_secs(20)).success());
}
