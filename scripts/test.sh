#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the reference, the end-to-end file and cluster
# tests, the property tests, and the tests against a real Apache Kafka, which this script starts
# (scripts/kafka.sh, on KAFKA_PORT, default 19092, with SSL and SASL_SSL listeners, with fresh
# data) and stops at the end.
# The end-to-end tests start the built binaries, so those are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins --locked

export KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_DATA="$(mktemp -d)"
export KAFKA_DATA
cleanup() {
  scripts/kafka.sh stop || true
  rm -rf "$KAFKA_DATA"
}
trap cleanup EXIT
# With SSL and SASL_SSL listeners too, for the tests of secured clusters (tests/e2e/kafka_tls.rs).
KAFKA_BROKERS="$(scripts/kafka.sh start --tls | tail -n 1)"
export KAFKA_BROKERS
eval "$(scripts/kafka.sh tls-env)"
export KAFKA_TLS_DIR KAFKA_SSL_BROKERS KAFKA_SASL_BROKERS

cargo test --workspace --locked --features tweetflow-tests/kafka "$@"
