#!/usr/bin/env bash
# Cost of exactly-once replay (issue 11), against the local broker (scripts/kafka.sh): the same
# file of COUNT generated tweets replayed as fast as possible into a new topic each time, with
# today's idempotent producer and with --resume (transactions carrying the position) at commit
# intervals of 1 s (the default) and 100 ms; ROUNDS rounds, the modes interleaved so that drift
# of the machine hits them alike. Figures vary between runs: compare within one.
#   scripts/bench-replay.sh [COUNT] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300000}
rounds=${2:-3}
cargo build --release -p tweet-producer >&2
brokers="$(scripts/kafka.sh start | tail -n 1)"
bin=target/release
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
$bin/tweet-producer generate --count "$count" --seed 7 --disorder 2s --out "$work/in.jsonl" >&2
echo "== replay of $count tweets ($(du -h "$work/in.jsonl" | cut -f1)), 4 partitions, tweets/s"
declare -A total
for round in $(seq "$rounds"); do
  for mode in idempotent resume-1s resume-100ms; do
    topic="bench-replay-$mode-$round-$$"
    flags=()
    case $mode in
      resume-1s) flags=(--resume "$topic") ;;
      resume-100ms) flags=(--resume "$topic" --commit-interval 100ms) ;;
    esac
    start=$(date +%s.%N)
    $bin/tweet-producer replay "$work/in.jsonl" --brokers "$brokers" --topic "$topic" \
      --partitions 4 "${flags[@]}" 2>/dev/null
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    rate=$(echo "$count / $secs" | bc)
    total[$mode]=$(( ${total[$mode]:-0} + rate ))
    printf "round %d  %-13s %8d tweets/s  (%.2f s)\n" "$round" "$mode" "$rate" "$secs"
  done
done
base=$(( total[idempotent] / rounds ))
for mode in idempotent resume-1s resume-100ms; do
  mean=$(( total[$mode] / rounds ))
  printf "mean %-13s %8d tweets/s  %+.1f %%\n" "$mode" "$mean" \
    "$(echo "($mean - $base) * 100 / $base" | bc -l)"
done
