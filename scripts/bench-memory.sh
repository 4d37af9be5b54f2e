#!/usr/bin/env bash
# Memory against the keys of the live windows (issue 14): peak RSS of tweet-dataflow (1 worker,
# 60 s windows sliding by 30 s) on files whose windows hold about 8k, 80k and 700k distinct
# mention names (a flat law over 2M accounts, a Poisson mean of 4 mentions per original tweet,
# capped: about 3.3 per tweet; collisions grow with the keys), and, at the middle point, on files
# twice and eight times as long with the same density: the state must follow the live windows'
# keys, not the tweets read. Prints the distinct names per window (cargo run -p tweet --example
# keys), peak RSS, and bytes per live (slide, key) over a run on a tiny file (the process's fixed
# cost).
#   scripts/bench-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
cargo build --release -p tweet --example keys
mkdir -p bench-data

# name:distinct names per window:slides of event time
points=("10k:10000:4" "100k:100000:4" "100k-long:100000:8" "100k-longer:100000:32" "1m:1000000:4")
rss() { # file → peak RSS in KB
  local out
  out=$(mktemp)
  /usr/bin/time -f "%M" -o "$out.time" ./target/release/tweet-dataflow --input "$1" \
    --lateness 5s --output "$out" --no-progress 2>/dev/null
  cat "$out.time"
  rm -f "$out" "$out.time"
}
file() { # name keys slides → path
  local data="bench-data/memory-$1.jsonl"
  # keys/8 tweets per 30 s slide: about `keys` mentions per window, most of them distinct.
  local per_slide=$(($2 / 8)) rate count
  rate=$(awk -v n="$per_slide" 'BEGIN { printf "%.3f", n / 30 }')
  count=$((per_slide * $3))
  if [[ ! -s "$data" ]]; then
    ./target/release/tweet-producer generate --out "$data" --count "$count" --seed 3 \
      --keys realistic --rate "$rate" --mention-accounts 2000000 --mention-zipf 0 \
      --mentions-per-original 4 2>/dev/null
  fi
  echo "$data"
}
base_file=$(file base 80 4)
base=$(rss "$base_file")
echo "fixed cost (a file of 40 tweets): peak RSS $((base / 1024)) MB"
for point in "${points[@]}"; do
  IFS=: read -r name keys slides <<<"$point"
  data=$(file "$name" "$keys" "$slides")
  window=$(./target/release/examples/keys "$data" 60 | sed -E 's/.* ([0-9]+) distinct names.*/\1/')
  slide=$(./target/release/examples/keys "$data" 30 | sed -E 's/.* ([0-9]+) distinct names.*/\1/')
  peak=$(rss "$data")
  # A window holds two slides; each slide's (key, count) is live from its first window to its
  # last, and the next slide's is being folded meanwhile: about three slides' keys at the peak.
  awk -v name="$name" -v w="$window" -v s="$slide" -v p="$peak" -v b="$base" -v n="$(wc -l <"$data")" 'BEGIN {
    live = 3 * s
    printf "  %-10s %8d tweets, %8d names per window (%d per slide): peak RSS %6.0f MB, %5.0f bytes per live (slide, key)\n",
      name, n, w, s, p / 1024, (p - b) * 1024 / live }'
done
