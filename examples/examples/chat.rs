//! Run: `cargo run --release -p loopcore-examples --example chat -- [--host H] [--port 7000] [--loops N]`,
//! then `nc 127.0.0.1 7000` from several terminals and type lines.
//!
//! A chat room over every loop of a runtime (`loopcore_examples::chat`):
//! each line is broadcast through the mailboxes to every loop, which
//! writes it to its own clients. Ctrl-C shuts it down gracefully.
#![forbid(unsafe_code)]

use loopcore::ServeOptions;
use loopcore_examples::chat::{self, ChatClient};
use loopcore_examples::cli::{run_main, Cli};

fn main() -> std::process::ExitCode {
    run_main("chat", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let Some(args) = Cli::new("chat").port(7000).parse(|_| Ok(false))? else {
        return Ok(());
    };
    let runtime = args.runtime_builder("chat").build()?;
    let handle = runtime.handle();
    let room = chat::room(&handle);
    let addrs = runtime.serve(args.addr(), ServeOptions::default(), move || {
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
