//! The crates users know, on loopcore's loops: a tokio-util codec and a
//! `futures` combinator over the streams' IO traits, and hyper serving
//! HTTP/1.1 and HTTP/2 (prior knowledge, and ALPN over TLS) on two loops
//! to curl and h2load, refusing requests a proxy could frame differently.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::common::{
    self, exchange_until_closed, have, signal, start_example_with_lines, wait_with_timeout,
    KillOnDrop,
};
use futures_util::{SinkExt, StreamExt};
use loopcore::{EventLoop, IoStream, ServerOptions};
use tokio_util::codec::{Framed, LinesCodec};

/// Runs `server` on a loop on its own thread for one client; the client
/// (this thread) sends `lines` and returns what came back line by line.
fn exchange_lines<F, Fut>(server: F, lines: &[&str]) -> Vec<String>
where
    F: Fn(loopcore::StreamReader, loopcore::StreamWriter) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let listener = lp
            .start_server("127.0.0.1:0", ServerOptions::default(), server)
            .unwrap();
        tx.send((listener.sockets()[0], lp.handle())).unwrap();
        lp.run_forever().unwrap();
    });
    let (addr, handle) = rx.recv().unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let answers = lines
        .iter()
        .map(|line| {
            writeln!(writer, "{line}").unwrap();
            let mut answer = String::new();
            reader.read_line(&mut answer).unwrap();
            answer.trim_end().to_owned()
        })
        .collect();
    handle.stop().unwrap();
    thread.join().unwrap();
    answers
}

#[test]
fn a_tokio_util_codec_frames_lines_on_a_loop() {
    let answers = exchange_lines(
        |reader, writer| async move {
            let mut framed = Framed::new(IoStream::new(reader, writer), LinesCodec::new());
            while let Some(Ok(line)) = framed.next().await {
                if framed.send(line.to_uppercase()).await.is_err() {
                    break;
                }
            }
        },
        &["hello", "tokio-util on loopcore", ""],
    );
    assert_eq!(answers, ["HELLO", "TOKIO-UTIL ON LOOPCORE", ""]);
}

#[test]
fn a_futures_combinator_echoes_a_stream() {
    let answers = exchange_lines(
        |reader, mut writer| async move {
            let _ = futures_util::io::copy(reader, &mut writer).await;
        },
        &["copied by futures_util::io::copy", "twice"],
    );
    assert_eq!(answers, ["copied by futures_util::io::copy", "twice"]);
}

/// `curl ARGS URL`: the body, then the HTTP version on the last line.
fn curl(args: &[&str], url: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_version}"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl {args:?} {url}: {text} {output:?}"
    );
    let (body, version) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), version.to_owned())
}

/// The "requests: N total, ... S succeeded, F failed" line of h2load.
fn h2load_succeeded(args: &[&str], url: &str) -> (u64, u64) {
    let output = Command::new("h2load").args(args).arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "h2load: {text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_else(|| panic!("no requests line in {text}"));
    let number_before = |word: &str| -> u64 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words
            .iter()
            .position(|w| w.trim_end_matches(',') == word)
            .unwrap();
        words[i - 1].parse().unwrap()
    };
    (number_before("succeeded"), number_before("failed"))
}

#[test]
fn hyper_serves_http1_and_http2_on_two_loops_to_curl_and_h2load() {
    let _heavy = common::heavy();
    if !have("curl") || !have("h2load") {
        return;
    }
    let (child, addr, _, _stdout) =
        start_example_with_lines("hyper_hello", &["--loops", "2", "--port", "0"]);
    let mut child = KillOnDrop(child);
    let url = format!("http://{addr}/");
    assert_eq!(curl(&[], &url), ("Hello, World!".into(), "1.1".into()));
    assert_eq!(
        curl(&["--http2-prior-knowledge"], &url),
        ("Hello, World!".into(), "2".into())
    );
    // A request shorter than HTTP/2's preface is told apart at once.
    let short = common::raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(short.starts_with("HTTP/1.0 200 OK"), "{short}");
    assert!(short.ends_with("Hello, World!"), "{short}");
    // HTTP/2 with many streams on each connection, spread over both loops.
    let (succeeded, failed) = h2load_succeeded(&["-n", "4000", "-c", "8", "-m", "16"], &url);
    assert_eq!((succeeded, failed), (4000, 0));
    // And HTTP/1.1 through h2load.
    let (succeeded, failed) = h2load_succeeded(&["--h1", "-n", "2000", "-c", "8"], &url);
    assert_eq!((succeeded, failed), (2000, 0));
    signal(&child.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child.0, Duration::from_secs(20)).success());
}

#[test]
fn hyper_over_tls_picks_http2_or_http1_by_alpn() {
    let _heavy = common::heavy();
    if !have("curl") || !have("h2load") {
        return;
    }
    let (child, addr, lines, mut stdout) =
        start_example_with_lines("hyper_hello", &["--loops", "2", "--port", "0", "--tls"]);
    let mut child = KillOnDrop(child);
    let mut cert_line = lines.concat();
    if !cert_line.contains("--cacert") {
        stdout.read_line(&mut cert_line).unwrap();
    }
    let ca = cert_line.rsplit(": ").next().unwrap().trim().to_owned();
    let url = format!("https://localhost:{}/", addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let tls_args = ["--cacert", ca.as_str(), "--resolve", resolve.as_str()];
    let mut http2 = tls_args.to_vec();
    http2.push("--http2");
    assert_eq!(curl(&http2, &url), ("Hello, World!".into(), "2".into()));
    let mut http1 = tls_args.to_vec();
    http1.push("--http1.1");
    assert_eq!(curl(&http1, &url), ("Hello, World!".into(), "1.1".into()));
    let (succeeded, failed) = h2load_succeeded(
        &["-n", "1000", "-c", "4", "-m", "8"],
        &format!("https://{addr}/"),
    );
    assert_eq!((succeeded, failed), (1000, 0));
    signal(&child.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child.0, Duration::from_secs(20)).success());
}

/// The answer must be exactly one `status` with `Connection: close` and
/// nothing after it (a pipelined request behind it is not answered).
fn assert_one_refusal(answer: &str, status: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}\r\n")),
        "{answer}"
    );
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with("\r\n\r\n"), "no body expected: {answer}");
    assert!(!answer.contains("Hello, World!"), "{answer}");
}

#[test]
fn hyper_refuses_requests_a_proxy_could_frame_differently() {
    let (child, addr, _, _stdout) =
        start_example_with_lines("hyper_hello", &["--loops", "1", "--port", "0"]);
    let mut child = KillOnDrop(child);
    // Two `chunked`s (request smuggling: a proxy in front may read the
    // framing differently): one 400, then the connection ends, and the GET
    // pipelined behind it is never answered.
    let smuggled = exchange_until_closed(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n\
          0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_one_refusal(&smuggled, "400 Bad Request");
    // The same with two Transfer-Encoding fields.
    let two_fields = exchange_until_closed(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
          Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_one_refusal(&two_fields, "400 Bad Request");
    // HTTP/1.1 without Host, or with two (RFC 9112, section 3.2).
    let no_host = exchange_until_closed(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert_one_refusal(&no_host, "400 Bad Request");
    let two_hosts = exchange_until_closed(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    assert_one_refusal(&two_hosts, "400 Bad Request");
    // No tunnels.
    let connect = exchange_until_closed(
        addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert_one_refusal(&connect, "501 Not Implemented");
    // A well-formed pair on one connection: both answered.
    let fine = exchange_until_closed(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(fine.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{fine}");
    signal(&child.0, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child.0, Duration::from_secs(20)).success());
}
