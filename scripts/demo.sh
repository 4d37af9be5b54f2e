#!/usr/bin/env bash
# The newcomer's first command: builds everything, starts a local Apache Kafka (scripts/kafka.sh),
# replays the committed fixtures into a fresh topic with tweet-producer, and runs the windowed job on
# it as a local cluster of 2 processes x 2 workers, printing one table per window, with the live
# view of the windows at the URL it prints (on a terminal it stays up after the run until Ctrl-C).
#
#   scripts/demo.sh [tweet-dataflow flags…]          (e.g. --format jsonl, --top 3, --window 2m)
#   scripts/demo.sh --live [tweet-dataflow flags…]
#
# --live: a synthetic stream stamped with the wall clock (tweet-producer generate --live, 200
# tweets/s) into Kafka, read by an unbounded job with 20 s windows sliding by 5 s, so windows close
# in real time in the live view, until Ctrl-C stops both cleanly.
# DEMO_UI sets the live view's address (default 127.0.0.1:8080). The broker keeps running
# afterwards (scripts/kafka.sh stop ends it).
set -euo pipefail
cd "$(dirname "$0")/.."
live=false
if [[ "${1:-}" == "--live" ]]; then
  live=true
  shift
fi
ui="${DEMO_UI:-127.0.0.1:8080}"
cargo build --release --bins
brokers="$(scripts/kafka.sh start | tail -n 1)"
topic="tweets-demo-$(date +%s)"

if ! $live; then
  target/release/tweet-producer replay fixtures/*.jsonl fixtures/*.jsonl.gz \
    --brokers "$brokers" --topic "$topic" --partitions 4 --dead-letter target/demo-producer-dead-letters.jsonl
  echo "live view: http://$ui/" >&2
  linger=()
  # On a terminal the page stays up after the run, to look at; unattended runs just end.
  if [[ -t 0 && -t 2 ]]; then linger=(--ui-linger 1h); fi
  # The files are replayed one after the other, up to five minutes of event time apart: a lateness
  # of ten minutes keeps every tweet.
  exec scripts/cluster.sh 2 2 --brokers "$brokers" --topic "$topic" --bounded --lateness 10m \
    --dead-letter target/demo-dead-letters.jsonl --ui "$ui" ${linger[@]+"${linger[@]}"} "$@"
fi

# The topic exists before the job starts reading it.
scripts/kafka.sh topic "$topic" 4
target/release/tweet-producer generate --live --rate 200 --noise \
  --brokers "$brokers" --topic "$topic" 2>target/demo-producer.log &
producer=$!
stop() {
  # Ctrl-C reached the producer too: give it time to flush before asking again (a second signal
  # would cut its flush short).
  for _ in $(seq 100); do kill -0 "$producer" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$producer" 2>/dev/null || true
  wait "$producer" 2>/dev/null || true
  tail -n 2 target/demo-producer.log >&2 || true
}
trap stop EXIT
echo "live view: http://$ui/  (Ctrl-C stops the stream and the job)" >&2
# Ctrl-C reaches both (one process group): the job writes its complete windows and exits 0.
status=0
target/release/tweet-dataflow -w 2 --brokers "$brokers" --topic "$topic" \
  --batch 1s --window 20s --slide 5s --lateness 2s --idle-timeout 5s \
  --dead-letter target/demo-dead-letters.jsonl --ui "$ui" "$@" || status=$?
exit "$status"
