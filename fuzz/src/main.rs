//! `loopcore-fuzz TARGET SECONDS [SEED]`: a small mutational fuzzer that
//! runs on stable Rust (cargo-fuzz needs nightly, which this project's
//! machines do not have). It mutates seed inputs (bit flips, inserted and
//! deleted bytes, tokens of the format spliced in) and feeds them to a
//! target for SECONDS; a panic or a broken invariant saves the input under
//! `fuzz/crashes/` and exits 1, so it can become a regression test.
//!
//! Targets: `http_request` (`http1::parse_request`, `serve_requests`),
//! `http_response` (`ResponseReader`, whole and split at random points,
//! must agree), `pem` (the TLS configuration loaders on mutated PEM files).
#![forbid(unsafe_code)]

mod rng;
mod targets;

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use rng::Rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(target), Some(seconds)) = (args.first(), args.get(1)) else {
        eprintln!("usage: loopcore-fuzz http_request|http_response|pem SECONDS [SEED]");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().unwrap_or_else(|_| {
        eprintln!("SECONDS must be a number");
        std::process::exit(2)
    });
    let seed: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let Some(target) = targets::by_name(target) else {
        eprintln!("unknown target {target:?}: http_request, http_response or pem");
        std::process::exit(2);
    };
    let mut rng = Rng::new(seed);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let seeds = target.seeds();
    let mut runs = 0u64;
    // Panics are findings, not noise: keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    while Instant::now() < until {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(base, target.tokens(), &mut rng);
        let split = rng.next();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| target.run(&input, split)));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(broken)) => Some(broken),
            Err(panic) => Some(
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned()),
            ),
        };
        if let Some(failure) = failure {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{}-{seed}-{runs}.bin", target.name()));
            let _ = std::fs::write(&path, &input);
            eprintln!(
                "{}: FAILED after {runs} runs (seed {seed}): {failure}\ninput saved to {}",
                target.name(),
                path.display()
            );
            std::process::exit(1);
        }
        runs += 1;
    }
    println!(
        "{}: {runs} runs in {seconds} s, no failure (seed {seed})",
        target.name()
    );
}

/// One to eight mutations of `base`.
fn mutate(base: &[u8], tokens: &[&[u8]], rng: &mut Rng) -> Vec<u8> {
    let mut input = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = if input.is_empty() {
            0
        } else {
            rng.below(input.len() + 1)
        };
        match rng.below(6) {
            0 if !input.is_empty() => {
                let i = at.min(input.len() - 1);
                input[i] ^= 1 << rng.below(8);
            }
            1 => input.insert(at, rng.next() as u8),
            2 if at < input.len() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at..end);
            }
            3 | 4 => {
                let token = tokens[rng.below(tokens.len())];
                input.splice(at..at, token.iter().copied());
            }
            _ if !input.is_empty() => {
                // Repeat a slice (long headers, many chunks).
                let start = rng.below(input.len());
                let end = (start + 1 + rng.below(64)).min(input.len());
                let copy = input[start..end].repeat(1 + rng.below(64));
                input.splice(at..at, copy);
            }
            _ => input.push(b'\n'),
        }
    }
    input
}
