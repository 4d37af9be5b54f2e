#!/usr/bin/env bash
# Crash-safety benchmark (issue 10), against the local broker (scripts/kafka.sh):
#   1. throughput of --bounded runs without checkpoints, with one every slide (--checkpoint-interval
#      0s) and with the default interval, on bench.sh's topic (1M generated tweets, 4 partitions);
#   2. checkpoint size and write time against the distinct keys of the live windows (small tweets,
#      one mention each, drawn from K names);
#   3. recovery time: a 60 s window at 100k tweets/s of event time, the job killed with SIGKILL right
#      after a window, then the time from the restart to the next window.
# Figures vary between runs: compare within one.
#   scripts/bench-recovery.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
cargo build --release --workspace --bins >&2
brokers="$(scripts/kafka.sh start | tail -n 1)"
bin=target/release
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

field() { grep -o "\"$1\": [0-9]*" "$2" | head -n 1 | grep -o '[0-9]*$'; }

topic="bench-$count"
if ! scripts/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$brokers" --list \
  2>/dev/null | grep -qx "$topic"; then
  echo "generating $count tweets into $topic (once)" >&2
  $bin/tweet-producer generate --count "$count" --seed 7 --disorder 2s \
    --brokers "$brokers" --topic "$topic" --partitions 4 >&2
fi
echo "== 1. throughput, $topic ($count tweets), --bounded, 2 workers"
for mode in none every-slide default; do
  rm -rf "$work/ckpt" "$work/out"
  flags=()
  case $mode in
    every-slide) flags=(--checkpoint "$work/ckpt" --checkpoint-interval 0s) ;;
    default) flags=(--checkpoint "$work/ckpt") ;;
  esac
  start=$(date +%s.%N)
  $bin/tweet-dataflow --brokers "$brokers" --topic "$topic" --bounded -w 2 --lateness 5s \
    --output "$work/out" --summary "$work/summary" "${flags[@]}" 2>/dev/null
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  tweets=$(field tweets "$work/summary")
  ckpts=$(field checkpoints "$work/summary")
  bytes=$(field checkpoint_bytes "$work/summary")
  ms=$(field checkpoint_ms "$work/summary")
  awk -v m="$mode" -v s="$secs" -v n="$tweets" -v c="$ckpts" -v b="$bytes" -v t="$ms" 'BEGIN {
    printf "  checkpoints %-11s %6.2f s  %8.0f tweets/s  %4d checkpoints, %8.0f bytes and %5.1f ms each\n",
      m, s, n / s, c, (c ? b / c : 0), (c ? t / c : 0) }'
done

# Small tweets: one mention drawn from K names, `rate` per second of event time.
small() { # file count rate keys
  python3 - "$@" <<'PY'
import json, random, sys
path, count, rate, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(keys)
base = 1480817220000
with open(path, "w") as out:
    for i in range(count):
        ms = base + i * 1000 // rate
        out.write(json.dumps({"id_str": str(i), "timestamp_ms": str(ms),
                              "user": {"location": "L%d" % (i % 50)},
                              "entities": {"user_mentions": [{"screen_name": "k%d" % rng.randrange(keys)}]}},
                             separators=(",", ":")) + "\n")
PY
}

echo "== 2. checkpoint size and write time against distinct keys (slides of 30 s, 5000 tweets/s)"
for keys in 1000 10000 100000; do
  t="bench-keys-$keys"
  if ! scripts/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$brokers" \
    --list 2>/dev/null | grep -qx "$t"; then
    small "$work/keys.jsonl" 600000 5000 "$keys"
    $bin/tweet-producer replay "$work/keys.jsonl" --brokers "$brokers" --topic "$t" --partitions 4 >&2
  fi
  rm -rf "$work/ckpt"
  $bin/tweet-dataflow --brokers "$brokers" --topic "$t" --bounded -w 2 --checkpoint "$work/ckpt" \
    --checkpoint-interval 0s --output "$work/out" --summary "$work/summary" 2>/dev/null
  ckpts=$(field checkpoints "$work/summary")
  bytes=$(field checkpoint_bytes "$work/summary")
  ms=$(field checkpoint_ms "$work/summary")
  awk -v k="$keys" -v c="$ckpts" -v b="$bytes" -v t="$ms" 'BEGIN {
    printf "  %6d names: %3d checkpoints, %9.0f bytes and %6.1f ms each on average\n",
      k, c, b / c, t / c }'
done

echo "== 3. recovery: window 60 s, slide 30 s, 100k tweets/s of event time, 2 workers"
t="bench-recovery-100k"
if ! scripts/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$brokers" --list \
  2>/dev/null | grep -qx "$t"; then
  small "$work/fast.jsonl" 10000000 100000 100000
  $bin/tweet-producer replay "$work/fast.jsonl" --brokers "$brokers" --topic "$t" --partitions 4 >&2
  rm -f "$work/fast.jsonl"
fi
rm -rf "$work/ckpt" "$work/out"
run() {
  $bin/tweet-dataflow --brokers "$brokers" --topic "$t" -w 2 --checkpoint "$work/ckpt" \
    --output "$work/out" --idle-timeout 5m >/dev/null 2>>"$work/log" &
  echo $!
}
lines() { [[ -f "$work/out" ]] && wc -l <"$work/out" || echo 0; }
pid=$(run)
while [[ $(lines) -lt 1 ]]; do sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
written=$(lines)
start=$(date +%s.%N)
pid=$(run)
# The restart cuts the output back to the checkpoint, then writes the windows after it.
while [[ $(lines) -le $written ]]; do sleep 0.02; done
secs=$(echo "$(date +%s.%N) - $start" | bc)
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "  restart to the next window: $secs s (checkpoint with $(ls "$work/ckpt" | wc -l) file(s), $(du -b "$work/ckpt" | cut -f1) bytes)"
