#!/usr/bin/env bash
# The cost of watching a run (issue 13): file mode on bench-file.sh's data, each run either bare
# (--no-progress) or watched (--metrics and --ui, progress on, Prometheus-style scrapes of
# /metrics and /api/status every second and a browser-like client on /api/events), interleaved,
# ROUNDS times per worker count. Prints each run and the median ratio watched / bare.
#   scripts/bench-observe.sh [COUNT] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500000}
rounds=${2:-5}
data="bench-data/tweets-$count.jsonl"
cargo build --release --workspace --bins
mkdir -p bench-data
if [[ ! -s "$data" ]]; then
  ./target/release/tweet-producer generate --out "$data" --count "$count" --seed 7 --disorder 2s
fi
cat "$data" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { # workers watched → seconds
  local workers=$1 watched=$2 out flags=(--no-progress) pids=()
  out=$(mktemp)
  if $watched; then
    local m u
    m=$(free_port) u=$(free_port)
    flags=(--metrics "127.0.0.1:$m" --ui "127.0.0.1:$u")
    (while sleep 1; do curl -s "127.0.0.1:$m/metrics" >/dev/null; curl -s "127.0.0.1:$u/api/status" >/dev/null; done) 2>/dev/null &
    pids+=($!)
    (sleep 0.2; curl -s -N "127.0.0.1:$u/api/events" >/dev/null) 2>/dev/null &
    pids+=($!)
  fi
  local start end
  start=$(date +%s.%N)
  ./target/release/tweet-dataflow --input "$data" --workers "$workers" --lateness 5s \
    --output "$out" "${flags[@]}" 2>/dev/null
  end=$(date +%s.%N)
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pkill -P $$ curl 2>/dev/null || true
  rm -f "$out"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

echo "input: $data, $count tweets; $rounds rounds, bare and watched interleaved"
for workers in 1 2; do
  bare=() watched=()
  for ((r = 0; r < rounds; r++)); do
    bare+=("$(run "$workers" false)")
    watched+=("$(run "$workers" true)")
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  mb=$(median "${bare[@]}") mw=$(median "${watched[@]}")
  awk -v w="$workers" -v n="$count" -v b="$mb" -v o="$mw" -v bs="${bare[*]}" -v os="${watched[*]}" 'BEGIN {
    printf "%d worker(s): bare %s s, watched %s s\n", w, bs, os
    printf "  median: bare %.3f s (%.0f tweets/s), watched %.3f s (%.0f tweets/s): %+.1f %%\n", b, n / b, o, n / o, 100 * (o / b - 1) }'
done
