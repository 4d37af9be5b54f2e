#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the reference, the end-to-end file and cluster tests,
# and the property tests. The end-to-end tests start the built binaries, so they are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
