//! A monoio plaintext server: one runtime on one thread with the legacy
//! (epoll) driver, httparse, keep-alive and pipelining (every complete
//! request in the buffer answered in one write), loopcore's answer bytes
//! (`Server: monoio`). Each connection owns its read buffer, handed to the
//! kernel and back (`read(buf.slice_mut(len..))`), as monoio's owned-buffer
//! I/O has it. Usage: `monoio_plaintext PORT` (listens on 127.0.0.1:PORT).
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;

use loopcore_peers::{answer_all, Answer};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

/// A connection's read buffer: a request larger than this closes it.
const READ_BUFFER: usize = 8 * 1024;

async fn serve(mut stream: TcpStream, answer: Rc<RefCell<Answer>>) {
    let _ = stream.set_nodelay(true);
    let mut input: Vec<u8> = Vec::with_capacity(READ_BUFFER);
    let mut out: Vec<u8> = Vec::with_capacity(READ_BUFFER);
    loop {
        let len = input.len();
        if len == input.capacity() {
            return;
        }
        let (read, buffer) = stream.read(input.slice_mut(len..)).await;
        input = buffer.into_inner();
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let used = {
            let mut answer = answer.borrow_mut();
            answer.refresh();
            match answer_all(&input, answer.bytes(), &mut out) {
                Ok(used) => used,
                Err(_) => return,
            }
        };
        input.drain(..used);
        if !out.is_empty() {
            let (written, buffer) = stream.write_all(out).await;
            out = buffer;
            if written.is_err() {
                return;
            }
            out.clear();
        }
    }
}

fn main() {
    let port = loopcore_peers::port_arg();
    let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .expect("monoio_plaintext: runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("monoio_plaintext: bind");
        println!("monoio listening on 127.0.0.1:{port}");
        let answer = Rc::new(RefCell::new(Answer::new("monoio")));
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    monoio::spawn(serve(stream, answer.clone()));
                }
                Err(e) => eprintln!("monoio_plaintext: accept: {e}"),
            }
        }
    });
}
