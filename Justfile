# Everyday recipes; CI runs the same commands through .ci/run.

# Run the whole test suite (the README's test command).
test:
    cargo test --workspace

# Lints exactly as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

# The main job: http_plaintext on half the CPUs, loadgen on the other half.
demo:
    cargo run --release -p loopcore-examples --example demo

# The load generator, e.g. `just loadgen -c 64 -d 5s --latency http://127.0.0.1:8080/`.
loadgen *ARGS:
    cargo run --release -p loopcore-loadgen -- {{ARGS}}

# Soak: http_plaintext under keep-alive and churning loadgen runs for SECONDS;
# checks RSS and fds are flat and no request was lost.
soak SECONDS="60":
    bash benches/scripts/soak.sh {{SECONDS}}

# Fuzz every parser target for SECONDS each (a stable-Rust mutational
# fuzzer; a failing input lands in fuzz/crashes/).
fuzz SECONDS="60":
    cargo build --release --manifest-path fuzz/Cargo.toml
    for t in http_request http_response pem; do fuzz/target/release/loopcore-fuzz $t {{SECONDS}} || exit 1; done

# The cross-thread handshakes (framework/src/sync: mailbox wake-ups, task
# aborts, connection hand-over at shutdown, the shutdown notice) under the
# loom model checker, every interleaving.
loom:
    CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loopcore_loom" cargo test -p loopcore --lib loom_tests

# The framework compiles for macOS, and with the declared rust-version.
platforms:
    bash .ci/macos-check
    bash .ci/msrv-check

# static_files vs nginx on the same file (needs wrk; installs nginx).
bench-static ROUNDS="5" DURATION="5s":
    bash benches/scripts/run-static.sh {{ROUNDS}} {{DURATION}}

# Criterion micro-benchmarks, each against a bare baseline in the same run.
bench:
    cargo bench -p loopcore-benches

# Everything CI does.
ci:
    bash .ci/run
