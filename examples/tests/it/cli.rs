//! The command line the server examples share (`examples/src/cli.rs`):
//! every one of them takes `--host` and `--port` and says so in `--help`;
//! those on a runtime take `--loops`, those on a single event loop refuse
//! it with a message their `--help` gives too; a positional address is
//! refused with the flags to use instead.

use std::net::TcpStream;
use std::process::{Command, Output};

use crate::common::{example, start_example_with_lines, KillOnDrop};

/// The examples that listen on an address, and whether each runs several
/// loops.
const SERVERS: &[(&str, bool)] = &[
    ("echo", false),
    ("echo_streams", false),
    ("udp_echo", false),
    ("chat", true),
    ("blocking", true),
    ("tls_echo", true),
    ("http_plaintext", true),
    ("https_plaintext", true),
    ("hyper_hello", true),
    ("static_files", true),
    ("tokio_bridge", true),
];

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting the {name} example (built by `cargo test`): {e}"))
}

#[test]
fn every_server_example_documents_the_shared_flags_in_its_help() {
    for &(name, several_loops) in SERVERS {
        let out = run(name, &["--help"]);
        assert!(out.status.success(), "{name} --help: {out:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        let usage = help.lines().next().unwrap_or_default();
        assert!(
            usage.starts_with(&format!("usage: {name} [--host H] [--port P]")),
            "{name}: {help}"
        );
        assert_eq!(
            usage.contains("[--loops N]"),
            several_loops,
            "{name}: {help}"
        );
        assert_eq!(
            help.contains("runs a single event loop: --loops is refused"),
            !several_loops,
            "{name}: {help}"
        );
    }
}

#[test]
fn single_loop_examples_refuse_loops_with_a_message() {
    for &(name, several_loops) in SERVERS {
        if several_loops {
            continue;
        }
        let out = run(name, &["--loops", "2", "--port", "0"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim_end(),
            format!("{name}: {name} runs a single event loop: --loops is refused (try --help)")
        );
    }
}

#[test]
fn a_positional_address_is_refused_with_the_flags_to_use() {
    let out = run("echo", &["127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("give the address as --host 127.0.0.1 --port 0"),
        "{stderr}"
    );
}

#[test]
fn host_port_and_loops_choose_where_and_how_chat_listens() {
    let (child, addr, lines, _stdout) = start_example_with_lines(
        "chat",
        &["--host", "127.0.0.1", "--port", "0", "--loops", "2"],
    );
    let _child = KillOnDrop(child);
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    assert!(lines.concat().contains("(2 loops)"), "{lines:?}");
    TcpStream::connect(addr).unwrap();
}
