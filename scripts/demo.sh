#!/usr/bin/env bash
# The newcomer's first command: builds everything, starts a local Apache Kafka (scripts/kafka.sh),
# replays the committed fixtures into a fresh topic with tweet-producer, and runs the windowed job on
# it as a local cluster of 2 processes x 2 workers, printing one table per window.
# Extra flags go to tweet-dataflow (e.g. --format jsonl, --top 3, --window 2m).
# The broker keeps running afterwards (scripts/kafka.sh stop ends it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
brokers="$(scripts/kafka.sh start | tail -n 1)"
topic="tweets-demo-$(date +%s)"
target/release/tweet-producer replay fixtures/*.jsonl fixtures/*.jsonl.gz \
  --brokers "$brokers" --topic "$topic" --partitions 4 --dead-letter target/demo-producer-dead-letters.jsonl
# The files are replayed one after the other, up to five minutes of event time apart: a lateness
# of ten minutes keeps every tweet.
exec scripts/cluster.sh 2 2 --brokers "$brokers" --topic "$topic" --bounded --lateness 10m \
  --dead-letter target/demo-dead-letters.jsonl "$@"
