//! The runtime examples' protocols on a real runtime (more loops than
//! cores): the chat room reaches clients on every loop, the blocking
//! server hashes files on the executor and refuses paths outside its root.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use loopcore::{Balance, Runtime, ServeOptions};
use loopcore_examples::blocking::{FileHasher, Fnv1a};
use loopcore_examples::chat::{self, ChatClient};

fn runtime(loops: usize) -> Runtime {
    Runtime::builder()
        .loops(loops)
        .handle_signals(false)
        .build()
        .unwrap()
}

fn line_reader(stream: &TcpStream) -> BufReader<TcpStream> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream.try_clone().unwrap())
}

fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn a_chat_line_reaches_every_client_on_every_loop() {
    let runtime = runtime(3);
    let handle = runtime.handle();
    let room = chat::room(&handle);
    // The acceptor places the six clients two per loop.
    let options = ServeOptions::default().balance(Balance::Acceptor { accept_on: 0 });
    let addr = runtime
        .serve("127.0.0.1:0", options, move || {
            ChatClient::new(room.clone(), handle.clone())
        })
        .unwrap()[0];
    // One at a time, so each placement sees the earlier ones.
    let mut clients = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..6 {
        let client = TcpStream::connect(addr).unwrap();
        let mut reader = line_reader(&client);
        assert!(read_line(&mut reader).starts_with("welcome, "));
        clients.push(client);
        readers.push(reader);
    }
    let per_loop: Vec<u64> = runtime
        .stats()
        .per_loop
        .iter()
        .map(|s| s.connections_opened)
        .collect();
    assert_eq!(per_loop, [2, 2, 2], "clients on every loop");
    let sender = clients[4].local_addr().unwrap();
    (&clients[4]).write_all(b"hello everyone\n").unwrap();
    for reader in &mut readers {
        assert_eq!(read_line(reader), format!("{sender}: hello everyone\n"));
    }
    drop(clients);
    runtime.shutdown(Duration::from_secs(2));
    runtime.run().unwrap();
}

#[test]
fn the_blocking_server_hashes_files_and_refuses_paths_outside_its_root() {
    let root = std::env::temp_dir().join(format!("loopcore-blocking-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("data.bin"), &content).unwrap();
    let mut expected = Fnv1a::default();
    expected.update(&content);

    let runtime = runtime(2);
    let served = root.clone();
    let addr = runtime
        .serve("127.0.0.1:0", ServeOptions::default(), move || {
            FileHasher::new(Rc::new(served.clone()))
        })
        .unwrap()[0];
    let stream = TcpStream::connect(addr).unwrap();
    let mut reader = line_reader(&stream);
    (&stream)
        .write_all(b"data.bin\n../../etc/passwd\nmissing.txt\n")
        .unwrap();
    let answers: HashSet<String> = (0..3).map(|_| read_line(&mut reader)).collect();
    assert!(
        answers.contains(&format!("{:016x} 200000 data.bin\n", expected.finish())),
        "{answers:?}"
    );
    assert!(
        answers.contains("error ../../etc/passwd: outside the served directory\n"),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|a| a.starts_with("error missing.txt: No such file")),
        "{answers:?}"
    );
    drop((stream, reader));
    runtime.shutdown(Duration::from_secs(2));
    runtime.run().unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}
