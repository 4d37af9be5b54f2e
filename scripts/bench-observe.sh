#!/usr/bin/env bash
# The cost of watching a run (issue 13): file mode on bench-file.sh's data, each run bare
# (--no-progress), served (--metrics and --ui, progress on, nobody looking) or watched (the same,
# with Prometheus-style scrapes of /metrics and /api/status every second and a browser-like
# client on /api/events, whose own CPU competes with the workers on a small machine),
# interleaved, ROUNDS times per worker count. Prints each run and the medians' ratios to bare.
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

run() { # workers mode(bare|served|watched) → seconds
  local workers=$1 mode=$2 out flags=(--no-progress) pids=()
  out=$(mktemp)
  if [[ $mode != bare ]]; then
    local m u
    m=$(free_port) u=$(free_port)
    flags=(--metrics "127.0.0.1:$m" --ui "127.0.0.1:$u")
  fi
  if [[ $mode == watched ]]; then
    (while sleep 1; do curl -s "127.0.0.1:$m/metrics" >/dev/null; curl -s "127.0.0.1:$u/api/status" >/dev/null; done) 2>/dev/null &
    pids+=($!)
    (sleep 0.2; curl -s -N "127.0.0.1:$u/api/events" >/dev/null) 2>/dev/null &
    pids+=($!)
  fi
  /usr/bin/time -f "%e %U %S" -o "$out.time" ./target/release/tweet-dataflow --input "$data" \
    --workers "$workers" --lateness 5s --output "$out" "${flags[@]}" 2>/dev/null
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  pkill -P $$ curl 2>/dev/null || true
  # Wall seconds, and CPU seconds (user + system), which the machine's other load disturbs less.
  awk '{ printf "%.2f/%.2f\n", $1, $2 + $3 }' "$out.time"
  rm -f "$out" "$out.time"
}

echo "input: $data, $count tweets; $rounds rounds, bare, served and watched interleaved"
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall() { printf '%s\n' "$@" | cut -d/ -f1; }
cpu() { printf '%s\n' "$@" | cut -d/ -f2; }
for workers in 1 2; do
  bare=() served=() watched=()
  for ((r = 0; r < rounds; r++)); do
    bare+=("$(run "$workers" bare)")
    served+=("$(run "$workers" served)")
    watched+=("$(run "$workers" watched)")
  done
  echo "$workers worker(s), wall/CPU s: bare ${bare[*]}; served ${served[*]}; watched ${watched[*]}"
  for what in wall cpu; do
    mb=$(median $($what "${bare[@]}")) ms=$(median $($what "${served[@]}")) mw=$(median $($what "${watched[@]}"))
    awk -v what="$what" -v n="$count" -v b="$mb" -v s="$ms" -v o="$mw" 'BEGIN {
      printf "  %s medians: bare %.2f s (%.0f tweets/s), served %.2f s (%+.1f %%), watched %.2f s (%+.1f %%)\n", what, b, n / b, s, 100 * (s / b - 1), o, 100 * (o / b - 1) }'
  done
done
