#!/usr/bin/env bash
# File-mode benchmark: generates ~500k realistic tweets once (bench-data/, ~1.8 GB), then reports
# tweets/s, MB/s and peak RSS of tweet-dataflow with 1 and 2 workers, and the parser alone on the
# same file (the ceiling). Figures vary ±30 % between runs: compare within one run.
#   scripts/bench-file.sh [COUNT] [extra tweet-dataflow flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500000}
shift || true
data="bench-data/tweets-$count.jsonl"
cargo build --release --workspace --bins
mkdir -p bench-data
if [[ ! -s "$data" ]]; then
  ./target/release/tweet-producer generate --out "$data" --count "$count" --seed 7 --disorder 2s
fi
bytes=$(stat -c %s "$data")
# Measure the job, not the disk: read the file once so it sits in the page cache.
cat "$data" >/dev/null
echo "input: $data, $count tweets, $((bytes / 1000000)) MB"
for workers in 1 2; do
  out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out.time" ./target/release/tweet-dataflow --input "$data" \
    --workers "$workers" --lateness 5s --output "$out" "$@" 2>/dev/null
  read -r secs rss_kb <"$out.time"
  awk -v w="$workers" -v s="$secs" -v n="$count" -v b="$bytes" -v r="$rss_kb" 'BEGIN {
    printf "tweet-dataflow %d worker(s): %6.2f s  %8.0f tweets/s  %6.0f MB/s  peak RSS %5.0f MB\n", w, s, n / s, b / s / 1e6, r / 1024 }'
  rm -f "$out" "$out.time"
done
echo "parser alone (first 200k lines in memory):"
cargo bench -q -p tweet --bench parse -- "$PWD/$data" 2>/dev/null | sed 's/^/  /'
