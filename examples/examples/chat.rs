//! Run: `cargo run --release -p loopcore-examples --example chat -- --port 7000 [--loops N]`,
//! then `nc 127.0.0.1 7000` from several terminals and type lines.
//!
//! A chat room over every loop of a runtime (`loopcore_examples::chat`):
//! each line is broadcast through the mailboxes to every loop, which
//! writes it to its own clients. Ctrl-C shuts it down gracefully.
#![forbid(unsafe_code)]

use loopcore::{Runtime, ServeOptions};
use loopcore_examples::chat::{self, ChatClient};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port: u16 = 7000;
    let mut loops = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--loops" => loops = Some(args.next().ok_or("--loops needs a value")?.parse()?),
            "-h" | "--help" => {
                println!("usage: chat [--port PORT] [--loops N]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let mut builder = Runtime::builder().thread_name("chat");
    if let Some(loops) = loops {
        builder = builder.loops(loops);
    }
    let runtime = builder.build()?;
    let handle = runtime.handle();
    let room = chat::room(&handle);
    let addrs = runtime.serve(("127.0.0.1", port), ServeOptions::default(), move || {
        ChatClient::new(room.clone(), handle.clone())
    })?;
    println!(
        "chat listening on {} ({} loops)",
        addrs[0],
        runtime.handles().len()
    );
    runtime.run()?;
    Ok(())
}
