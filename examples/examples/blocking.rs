//! Run: `cargo run --release -p loopcore-examples --example blocking -- --port 7001 [--root DIR]`,
//! then `printf 'Cargo.toml\n' | nc -q1 127.0.0.1 7001`.
//!
//! Blocking work on the shared executor (`loopcore_examples::blocking`):
//! every line names a file under DIR (default: the current directory); the
//! server hashes it on the executor and answers on the loop.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::rc::Rc;

use loopcore::{Runtime, ServeOptions};
use loopcore_examples::blocking::FileHasher;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port: u16 = 7001;
    let mut root = std::env::current_dir()?;
    let mut loops = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--root" => root = PathBuf::from(args.next().ok_or("--root needs a value")?),
            "--loops" => loops = Some(args.next().ok_or("--loops needs a value")?.parse()?),
            "-h" | "--help" => {
                println!("usage: blocking [--port PORT] [--root DIR] [--loops N]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let mut builder = Runtime::builder().thread_name("blocking");
    if let Some(loops) = loops {
        builder = builder.loops(loops);
    }
    let runtime = builder.build()?;
    let addrs = runtime.serve(("127.0.0.1", port), ServeOptions::default(), move || {
        FileHasher::new(Rc::new(root.clone()))
    })?;
    println!("blocking listening on {}", addrs[0]);
    runtime.run()?;
    Ok(())
}
