//! Run: `cargo run --release -p loopcore-examples --example blocking -- [--host H] [--port 7001] [--loops N] [--root DIR]`,
//! then `printf 'Cargo.toml\n' | nc -q1 127.0.0.1 7001`.
//!
//! Blocking work on the shared executor (`loopcore_examples::blocking`):
//! every line names a file under DIR (default: the current directory); the
//! server hashes it on the executor and answers on the loop.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::rc::Rc;

use loopcore::ServeOptions;
use loopcore_examples::blocking::FileHasher;
use loopcore_examples::cli::{run_main, Cli};

fn main() -> std::process::ExitCode {
    run_main("blocking", serve)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let mut root = std::env::current_dir()?;
    let cli = Cli::new("blocking").port(7001).flag(
        "[--root DIR]",
        "hash the files under DIR (default: the current directory)",
    );
    let parsed = cli.parse(|flag| {
        if flag.name() != "--root" {
            return Ok(false);
        }
        root = PathBuf::from(flag.value()?);
        Ok(true)
    })?;
    let Some(args) = parsed else {
        return Ok(());
    };
    let runtime = args.runtime_builder("blocking").build()?;
    let addrs = runtime.serve(args.addr(), ServeOptions::default(), move || {
        FileHasher::new(Rc::new(root.clone()))
    })?;
    println!("blocking listening on {}", addrs[0]);
    runtime.run()?;
    Ok(())
}
