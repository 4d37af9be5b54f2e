#!/usr/bin/env bash
# Launches a local timely cluster of N tweet-dataflow processes with W workers each on loopback.
#   scripts/cluster.sh N W [tweet-dataflow flags…]
# Process 0 writes the results (stdout or --output); the others only log to stderr. Ports come
# from CLUSTER_BASE_PORT (default 2101). Exits non-zero if any process fails.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 PROCESSES WORKERS [tweet-dataflow flags…]" >&2
  exit 2
fi
processes=$1 workers=$2
shift 2
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${TWEET_DATAFLOW:-$root/target/release/tweet-dataflow}"
if [[ ! -x "$bin" ]]; then
  (cd "$root" && cargo build --release --bin tweet-dataflow >&2)
fi
hostfile="$(mktemp)"
trap 'rm -f "$hostfile"' EXIT
base=${CLUSTER_BASE_PORT:-2101}
for ((p = 0; p < processes; p++)); do echo "127.0.0.1:$((base + p))" >>"$hostfile"; done

pids=()
for ((p = 1; p < processes; p++)); do
  "$bin" -n "$processes" -w "$workers" -p "$p" --hostfile "$hostfile" "$@" >/dev/null &
  pids+=($!)
done
status=0
"$bin" -n "$processes" -w "$workers" -p 0 --hostfile "$hostfile" "$@" || status=$?
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
