#!/usr/bin/env bash
# The newcomer's first command: build, then run the windowed job on the committed fixtures as a
# local cluster of 2 processes x 2 workers, printing one table per window.
# Extra flags go to tweet-dataflow (e.g. --format jsonl, --top 3, --window 2m).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin tweet-dataflow
inputs=()
for f in fixtures/*.jsonl fixtures/*.jsonl.gz; do inputs+=(--input "$f"); done
exec scripts/cluster.sh 2 2 "${inputs[@]}" --lateness 2m --dead-letter target/demo-dead-letters.jsonl "$@"
