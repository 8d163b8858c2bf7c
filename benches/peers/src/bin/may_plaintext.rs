//! may-minihttp's TechEmpower plaintext server (its own
//! `examples/techempower_no_db.rs`) on one may worker: `200` with
//! `Hello, World!` whatever the path. may-minihttp writes the status line,
//! `Server: M`, the `Date` (a cached value its own coroutine refreshes every
//! 500 ms) and `Content-Length`; the handler adds `Content-Type`.
//! Usage: `may_plaintext PORT` (listens on 127.0.0.1:PORT).
#![forbid(unsafe_code)]

use std::io;

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};

struct Plaintext;

impl HttpService for Plaintext {
    fn call(&mut self, _request: Request, response: &mut Response) -> io::Result<()> {
        response
            .header("Content-Type: text/plain")
            .body("Hello, World!");
        Ok(())
    }
}

struct Server;

impl HttpServiceFactory for Server {
    type Service = Plaintext;

    fn new_service(&self, _id: usize) -> Plaintext {
        Plaintext
    }
}

fn main() {
    let port = loopcore_peers::port_arg();
    // One worker thread (one core); pool and stack as may-minihttp's example.
    may::config()
        .set_workers(1)
        .set_pool_capacity(500)
        .set_stack_size(0x1000);
    let server = Server
        .start(("127.0.0.1", port))
        .expect("may_plaintext: bind");
    println!("may_minihttp listening on 127.0.0.1:{port}");
    server.join().expect("may_plaintext: server coroutine");
}
