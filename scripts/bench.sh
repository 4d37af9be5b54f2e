#!/usr/bin/env bash
# Kafka benchmark: generates N tweets (default 1M, ~3.6 KB each) into a 4-partition topic of a local
# broker once, then reports for --bounded runs of tweet-dataflow with 1 and 2 workers: tweets/s, MB/s
# and peak RSS, and, as the ceiling, the rate at which a bare rdkafka consumer drains the same topic.
# Everything runs on this machine, the broker included. Figures vary between runs: compare within one.
#   scripts/bench.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
cargo build --release --workspace --bins
cargo build --release -p tweet-dataflow --example kafka_drain
brokers="$(scripts/kafka.sh start | tail -n 1)"
topic="bench-$count"
if ! java -cp "${TWEETFLOW_CACHE:-$HOME/.cache/tweetflow}/kafka-4.4.0/libs/*" org.apache.kafka.tools.TopicCommand \
  --bootstrap-server "$brokers" --list 2>/dev/null | grep -qx "$topic"; then
  echo "generating $count tweets into $topic (once)" >&2
  target/release/tweet-producer generate --count "$count" --seed 7 --disorder 2s \
    --brokers "$brokers" --topic "$topic" --partitions 4 >&2
fi
echo "topic $topic on $brokers: $count tweets"
for workers in 1 2; do
  out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out.time" target/release/tweet-dataflow --brokers "$brokers" --topic "$topic" \
    --bounded --workers "$workers" --lateness 5s --output "$out" --summary "$out.summary" 2>/dev/null
  read -r secs rss_kb <"$out.time"
  # Rates come from what the run itself counted, not from what was asked for.
  field() { grep -o "\"$1\": [0-9]*" "$out.summary" | head -n 1 | grep -o '[0-9]*$'; }
  bytes=$(field bytes)
  tweets=$(field tweets)
  [ "$tweets" = "$count" ] || echo "warning: the run counted $tweets tweets, not $count" >&2
  awk -v w="$workers" -v s="$secs" -v n="$tweets" -v b="$bytes" -v r="$rss_kb" 'BEGIN {
    printf "tweet-dataflow --bounded, %d worker(s): %6.2f s  %8.0f tweets/s  %6.0f MB/s  peak RSS %5.0f MB\n", w, s, n / s, b / s / 1e6, r / 1024 }'
  rm -f "$out" "$out.time" "$out.summary"
done
echo -n "ceiling, bare rdkafka consumer: "
target/release/examples/kafka_drain "$brokers" "$topic"
