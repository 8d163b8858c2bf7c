//! The `static_files` example against curl and a raw client: a 10 MiB
//! file byte-exact over plain TCP and over TLS, `Range` requests (`206`,
//! suffix ranges, `416`), `HEAD`, pipelined requests answered in order,
//! and requests that must not reach a file (`..`, unknown files, other
//! methods).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{self, have, start_example_with_lines, KillOnDrop};

/// A directory with a 10 MiB file, a small one, and a sub-directory with
/// an index, unique to this test run.
fn site(tag: &str) -> (PathBuf, Vec<u8>) {
    let root = std::env::temp_dir().join(format!("loopcore-site-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(root.join("docs")).unwrap();
    let big: Vec<u8> = (0..10 * 1024 * 1024 + 3)
        .map(|i: usize| (i % 253) as u8 ^ (i >> 16) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello, static world\n").unwrap();
    std::fs::write(root.join("mid.bin"), vec![b'm'; 64 * 1024]).unwrap();
    std::fs::write(root.join("docs/index.html"), b"<h1>docs</h1>").unwrap();
    (root, big)
}

/// Runs curl and returns (HTTP status, body).
fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("running curl");
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    let mut body = output.stdout;
    let newline = body.iter().rposition(|&b| b == b'\n').unwrap();
    let status = std::str::from_utf8(&body[newline + 1..])
        .unwrap()
        .parse()
        .unwrap();
    body.truncate(newline);
    (status, body)
}

fn start(root: &Path, extra: &[&str]) -> (KillOnDrop, SocketAddr, Vec<String>) {
    let mut args = vec![
        "--root",
        root.to_str().unwrap(),
        "--port",
        "0",
        "--loops",
        "2",
    ];
    args.extend_from_slice(extra);
    let (child, addr, lines, _stdout) = start_example_with_lines("static_files", &args);
    (KillOnDrop(child), addr, lines)
}

#[test]
fn files_and_ranges_over_plain_tcp_with_curl() {
    if !have("curl") {
        return;
    }
    let (root, big) = site("tcp");
    let (_server, addr, _) = start(&root, &[]);
    let url = |path: &str| format!("http://{addr}{path}");

    let (status, body) = curl(&[&url("/big.bin")]);
    assert_eq!(status, 200);
    assert_eq!(body.len(), big.len());
    assert!(body == big, "the 10 MiB file arrived altered");

    let (status, body) = curl(&["-r", "1000-1999", &url("/big.bin")]);
    assert_eq!(status, 206);
    assert!(body == big[1000..2000]);
    let (status, body) = curl(&["-r", "-10", &url("/big.bin")]);
    assert_eq!(status, 206);
    assert!(body == big[big.len() - 10..]);
    let (status, _) = curl(&["-r", "20000000-", &url("/big.bin")]);
    assert_eq!(status, 416);

    let (status, body) = curl(&[&url("/docs/")]);
    assert_eq!((status, body.as_slice()), (200, &b"<h1>docs</h1>"[..]));
    // A directory without its slash is redirected to it; curl follows.
    let (status, _) = curl(&[&url("/docs?x=1")]);
    assert_eq!(status, 301);
    let (status, body) = curl(&["-L", &url("/docs")]);
    assert_eq!((status, body.as_slice()), (200, &b"<h1>docs</h1>"[..]));
    // The absolute form, as a proxy sends it.
    let (status, body) = curl(&["--request-target", &url("/hello.txt"), &url("/")]);
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"hello, static world\n"[..])
    );
    let (status, _) = curl(&[&url("/missing")]);
    assert_eq!(status, 404);
    let (status, _) = curl(&["--path-as-is", &url("/../../etc/passwd")]);
    assert_eq!(status, 400);
    let (status, _) = curl(&["--path-as-is", &url("/docs/%2e%2e/%2e%2e/etc/passwd")]);
    assert_eq!(status, 400);
    let (status, _) = curl(&["-X", "DELETE", &url("/hello.txt")]);
    assert_eq!(status, 405);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_10_mib_file_arrives_byte_exact_over_tls() {
    if !have("curl") {
        return;
    }
    let (root, big) = site("tls");
    let (_server, addr, lines) = start(&root, &["--tls"]);
    let ca = lines
        .iter()
        .find_map(|l| l.split("curl --cacert ").nth(1))
        .map(|rest| rest.trim().to_owned())
        .expect("the example printed its certificate");
    let url = format!("https://127.0.0.1:{}/big.bin", addr.port());
    let (status, body) = curl(&["--cacert", &ca, &url]);
    assert_eq!(status, 200);
    assert_eq!(body.len(), big.len());
    assert!(body == big, "the 10 MiB file arrived altered over TLS");
    let (status, body) = curl(&["--cacert", &ca, "-r", "5000000-5000099", &url]);
    assert_eq!(status, 206);
    assert!(body == big[5_000_000..5_000_100]);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn pipelined_requests_are_answered_in_order_and_head_has_no_body() {
    let (root, _) = site("pipe");
    let (_server, addr, _) = start(&root, &[]);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n\
              HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=7-12\r\n\r\n\
              GET /docs/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "206", "200"], "{text}");
    assert!(text.contains("\r\n\r\nhello, static world\n"), "{text}");
    assert!(
        text.contains("Content-Length: 10485763\r\n"),
        "HEAD announces the length"
    );
    assert!(
        text.contains("Content-Range: bytes 7-12/20\r\n\r\nstatic"),
        "{text}"
    );
    assert!(text.ends_with("<h1>docs</h1>"), "{text}");
    std::fs::remove_dir_all(root).unwrap();
}

/// The value of header `name` in a response head.
fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} in {head}"))
}

#[test]
fn conditional_requests_get_304_and_if_range_guards_ranges() {
    let (root, _) = site("cond");
    let (_server, addr, _) = start(&root, &[]);
    let exchange = |request: String| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        String::from_utf8(all).unwrap()
    };
    let get = |extra: &str| {
        exchange(format!(
            "GET /hello.txt HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n"
        ))
    };
    let first = get("");
    assert!(first.starts_with("HTTP/1.1 200 "), "{first}");
    let etag = header(&first, "ETag").to_string();
    let last_modified = header(&first, "Last-Modified").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    // The client's copy is current: 304, validators again, no body.
    for extra in [
        format!("If-None-Match: {etag}\r\n"),
        format!("If-None-Match: \"other\", W/{etag}\r\n"),
        "If-None-Match: *\r\n".to_string(),
        format!("If-Modified-Since: {last_modified}\r\n"),
    ] {
        let answer = get(&extra);
        assert!(answer.starts_with("HTTP/1.1 304 "), "{extra}: {answer}");
        assert_eq!(header(&answer, "ETag"), etag);
        assert!(answer.ends_with("\r\n\r\n"), "a 304 has no body: {answer}");
        assert!(!answer.contains("Content-Length"), "{answer}");
    }
    // Changed since: the whole file. If-None-Match wins over a date.
    for extra in [
        "If-None-Match: \"other\"\r\n".to_string(),
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n".to_string(),
        format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {last_modified}\r\n"),
    ] {
        let answer = get(&extra);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{extra}: {answer}");
        assert!(answer.ends_with("hello, static world\n"), "{answer}");
    }
    // If-Range: the range holds for the current validator only.
    let range = get(&format!("Range: bytes=0-4\r\nIf-Range: {etag}\r\n"));
    assert!(range.starts_with("HTTP/1.1 206 "), "{range}");
    assert!(range.ends_with("\r\n\r\nhello"), "{range}");
    let range = get(&format!(
        "Range: bytes=0-4\r\nIf-Range: {last_modified}\r\n"
    ));
    assert!(range.starts_with("HTTP/1.1 206 "), "{range}");
    let stale = get("Range: bytes=0-4\r\nIf-Range: \"old\"\r\n");
    assert!(stale.starts_with("HTTP/1.1 200 "), "{stale}");
    assert!(stale.ends_with("hello, static world\n"), "{stale}");

    // A 304 keeps the connection for what follows.
    let both = exchange(format!(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n\
         GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ));
    assert!(both.starts_with("HTTP/1.1 304 "), "{both}");
    assert!(both.ends_with("hello, static world\n"), "{both}");
    std::fs::remove_dir_all(root).unwrap();
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn a_client_pipelining_hundreds_of_requests_without_reading_holds_few_files_open() {
    let (root, _) = site("flood");
    let (server, addr, _) = start(&root, &["--loops", "1"]);
    let pid = server.0.id();
    let idle_fds = open_fds(pid);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let count = 500;
    let mut requests = Vec::new();
    for i in 0..count {
        let close = if i == count - 1 {
            "Connection: close\r\n"
        } else {
            ""
        };
        requests.extend_from_slice(
            format!("GET /mid.bin HTTP/1.1\r\nHost: t\r\n{close}\r\n").as_bytes(),
        );
    }
    stream.write_all(&requests).unwrap();
    // Not reading: the answers pile up to the server's limit, and only a
    // few files are open for them at any time.
    std::thread::sleep(Duration::from_millis(500));
    let held = open_fds(pid);
    assert!(
        held < idle_fds + 32,
        "{held} fds open while answers are held back (idle: {idle_fds})"
    );
    // Reading them all: every request gets its whole answer, in order.
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), count);
    assert!(all.len() > count * 64 * 1024);
    assert!(all.ends_with(&[b'm'; 1024]));
    std::fs::remove_dir_all(root).unwrap();
}

/// Point 5 of "safe by default": `Expect: 100-continue` is answered
/// before the body is sent, range units match in any case, and a file
/// path with a trailing slash is not found.
#[test]
fn continue_range_units_and_trailing_slashes() {
    let (root, _) = site("semantics");
    let (_server, addr, _) = start(&root, &[]);

    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream
        .write_all(b"abcdeGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest);
    assert_eq!(rest.matches("HTTP/1.1 200").count(), 2, "{rest}");

    let ranged = common::exchange_until_closed(
        addr,
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nRange: BYTES=0-4\r\nConnection: close\r\n\r\n",
    );
    assert!(ranged.starts_with("HTTP/1.1 206"), "{ranged}");
    assert!(ranged.ends_with("\r\n\r\nhello"), "{ranged}");

    let slash = common::exchange_until_closed(
        addr,
        b"GET /hello.txt/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(slash.starts_with("HTTP/1.1 404"), "{slash}");
    let _ = std::fs::remove_dir_all(&root);
}

/// An error answer reaches a client that is still sending: the server
/// answers `413` to a body over its limit, sends its FIN and reads what
/// still comes (lingering close), where a close with unread input would
/// reset the connection and could destroy the answer. The same for a
/// request without `Host` (`400`) and `CONNECT` (`501`).
#[test]
fn error_answers_reach_a_client_that_is_still_sending() {
    let (root, _) = site("errors");
    let (_server, addr, _) = start(&root, &[]);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n")
        .unwrap();
    let mut sender = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        // 1 MiB more of the body, which the server will not read as a
        // request.
        let chunk = vec![b'b'; 64 * 1024];
        for _ in 0..16 {
            if sender.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the answer was lost: {e} after {answer:?}"),
        }
    }
    sending.join().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let no_host = common::exchange_until_closed(addr, b"GET /hello.txt HTTP/1.1\r\n\r\n");
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    let two_hosts = common::exchange_until_closed(
        addr,
        b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    );
    assert!(two_hosts.starts_with("HTTP/1.1 400"), "{two_hosts}");
    let connect = common::exchange_until_closed(
        addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(connect.starts_with("HTTP/1.1 501"), "{connect}");
    assert_eq!(
        connect.matches("HTTP/1.1").count(),
        1,
        "nothing after: {connect}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
