#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the reference, the end-to-end file and cluster
# tests, the property tests, and the tests against a real Apache Kafka, which this script starts
# (scripts/kafka.sh, on KAFKA_PORT, default 19092, with SSL and SASL_SSL listeners, with fresh
# data) and stops at the end.
# The end-to-end tests start the built binaries, so those are built first.
# The live view's test (tests/e2e/live_view.rs) drives a real browser: Debian's chromium and
# chromium-driver, installed here when missing, while the workspace builds.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=""
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    echo "error: the browser test needs chromium and chromium-driver (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  as_root=()
  [[ $(id -u) -eq 0 ]] || as_root=(sudo)
  apt_log="$(mktemp)"
  ("${as_root[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium chromium-driver) \
    >"$apt_log" 2>&1 &
  browser=$!
fi
cargo build --workspace --bins --locked
if [[ -n "$browser" ]] && ! wait "$browser"; then
  echo "error: installing chromium and chromium-driver failed:" >&2
  tail -n 20 "$apt_log" >&2
  exit 1
fi

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
