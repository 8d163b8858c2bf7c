# Everyday recipes; CI runs the same commands through .ci/run.

# Run the whole test suite (the README's test command).
test:
    cargo test --workspace

# Lints exactly as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The main job: loops on every core talking through their mailboxes.
demo:
    cargo run --release -p loopcore-examples --example demo

# Criterion micro-benchmarks, each against a bare baseline in the same run.
bench:
    cargo bench -p loopcore-benches

# Everything CI does.
ci:
    bash .ci/run
