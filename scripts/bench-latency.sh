#!/usr/bin/env bash
# Latency of an unbounded run (issue 14), against the local broker (scripts/kafka.sh):
# tweet-producer generate --live --rate RATE (tweets stamped with the wall clock, 4 partitions)
# into a topic read by tweet-dataflow (1 s batches, 4 s windows sliding by 1 s, 1 s lateness,
# --output FILE and --output-topic), for SECONDS. Prints p50/p99/max of
#   - the window-close latency: from worker 0's sink seeing every partition's watermark pass a
#     window's end to its record written and flushed (the dataflow's own measurement, per window);
#   - end to end: from a consumer of the input topic having, on every partition, the tweet that
#     completes a window (at or after its end plus the lateness) to the record in the file and in
#     the topic (dataflow/examples/latency_probe.rs; the producer's linger.ms is before that).
#   scripts/bench-latency.sh [RATE] [SECONDS]      (default 10000 tweets/s, 60 s)
# RATE is fixed, so the job is not the bottleneck: on this 2-core machine the producer, the
# broker and the job share the cores, and 10k/s is under half of what the live generator and the
# job each sustain alone.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-10000}
seconds=${2:-60}
cargo build --release --workspace --bins
cargo build --release -p tweet-dataflow --example latency_probe
brokers="$(scripts/kafka.sh start | tail -n 1)"
topic="latency-$(date +%s)"
windows_topic="$topic-windows"
scripts/kafka.sh topic "$topic" 4
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
: >"$work/windows.jsonl"
RUST_LOG=info,tweetflow::latency=debug ./target/release/tweet-dataflow --brokers "$brokers" \
  --topic "$topic" --batch 1s --window 4s --slide 1s --lateness 1s --idle-timeout 5s \
  --output "$work/windows.jsonl" --output-topic "$windows_topic" --no-progress \
  --log-format json 2>"$work/dataflow.log" &
dataflow=$!
# The output topic exists once the job has started its producer. The probe takes the windows of
# the steady state (the last seconds' windows close only once the partitions go idle).
until grep -q '"starting"' "$work/dataflow.log" 2>/dev/null; do
  if ! kill -0 "$dataflow" 2>/dev/null; then
    echo "error: tweet-dataflow did not start:" >&2
    tail -n 20 "$work/dataflow.log" >&2
    exit 1
  fi
  sleep 0.2
done
windows=$((seconds - 8))
./target/release/examples/latency_probe "$brokers" "$topic" 4 "$work/windows.jsonl" \
  "$windows_topic" 1000 "$windows" >"$work/probe.txt" &
probe=$!
sleep 1
./target/release/tweet-producer generate --live --rate "$rate" --count $((rate * seconds)) \
  --brokers "$brokers" --topic "$topic" 2>"$work/producer.log"
wait "$probe" || true
kill -TERM "$dataflow"
wait "$dataflow" || true
echo "rate $rate tweets/s for $seconds s; $(wc -l <"$work/windows.jsonl") windows written"
python3 - "$work/dataflow.log" <<'PY'
import json, sys
lat = sorted(json.loads(l)["fields"]["latency_us"] / 1000 for l in open(sys.argv[1])
             if '"tweetflow::latency"' in l)
if not lat:
    sys.exit("window-close latency: no window written")
q = lambda p: lat[round((len(lat) - 1) * p)]
print(f"window-close latency: {len(lat)} windows, p50 {q(.5):.1f} ms, p99 {q(.99):.1f} ms, max {lat[-1]:.1f} ms")
PY
sed 's/^/end to end, /' "$work/probe.txt"
