#!/usr/bin/env bash
# File-mode benchmark, on key shapes from concentrated to a long tail (issue 14).
#   scripts/bench-file.sh [COUNT] [extra tweet-dataflow flags…]
#
# 1. The realistic preset (tweet-producer generate --keys realistic: 470 tweets/s, 1.9 mentions
#    and 1.1 distinct mention names per tweet per 30 s slide): tweet-dataflow with 1 and 2
#    workers, tweets/s, MB/s, peak RSS, and the parser alone on the same file (sonic-rs, first
#    200k lines in memory: the ceiling), 1 and 2 threads; then 2 processes x 1 worker against
#    1 process x 2 workers (scripts/cluster.sh), medians of 5 interleaved runs.
# 2. A sweep of mention diversity from about 0.1 to 2 distinct names per tweet per slide: at each
#    point the file's measured diversity (cargo run -p tweet --example keys), the 1-worker rate,
#    the parser-alone rate on the same file and the share.
# Files are generated once into bench-data/ (COUNT tweets each, default 300k, ~1.1 GB) and read
# once into the page cache before timing. Figures vary ±20 % between runs: compare within one.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300000}
shift || true
cargo build --release --workspace --bins
cargo build --release -p tweet --example keys
mkdir -p bench-data

# name:generate flags
points=(
  "narrow:--keys realistic --mention-accounts 2000 --mention-zipf 1.2"
  "default:--keys default --rate 470"
  "steep:--keys realistic --mention-zipf 1.15"
  "realistic:--keys realistic"
  "flat:--keys realistic --mention-zipf 0.7"
  "flatter:--keys realistic --mention-zipf 0.3 --mentions-per-original 2.5"
)

file_of() { echo "bench-data/keys-$1-$count.jsonl"; }
generate() { # name flags…
  local data
  data=$(file_of "$1")
  shift
  if [[ ! -s "$data" ]]; then
    # shellcheck disable=SC2086 # the flags are words
    ./target/release/tweet-producer generate --out "$data" --count "$count" --seed 7 --disorder 2s $@ 2>/dev/null
  fi
  cat "$data" >/dev/null
}
dataflow() { # file workers → "secs rss_kb"
  local out
  out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out.time" ./target/release/tweet-dataflow --input "$1" \
    --workers "$2" --lateness 5s --output "$out" --no-progress ${extra[@]+"${extra[@]}"} 2>/dev/null
  cat "$out.time"
  rm -f "$out" "$out.time"
}
parser() { # file → "one-thread two-thread" tweets/s of sonic-rs
  local rates
  rates=$(cargo bench -q -p tweet --bench parse -- "$PWD/$1" |
    awk '/SonicRs 1 thread/ { one = $4 } /SonicRs 2 threads/ { two = $4 } END { print one, two }')
  if [[ -z "${rates// /}" ]]; then
    echo "error: the parser benchmark printed no rate for $1" >&2
    exit 1
  fi
  echo "$rates"
}
extra=("$@")

realistic=$(file_of realistic)
generate realistic --keys realistic
bytes=$(stat -c %s "$realistic")
echo "realistic preset: $realistic, $count tweets, $((bytes / 1000000)) MB"
echo "  $(./target/release/examples/keys "$realistic")"
read -r one two <<<"$(parser "$realistic")"
for workers in 1 2; do
  read -r secs rss <<<"$(dataflow "$realistic" "$workers")"
  awk -v w="$workers" -v s="$secs" -v n="$count" -v b="$bytes" -v r="$rss" -v p="$one" 'BEGIN {
    printf "  tweet-dataflow %d worker(s): %6.2f s %8.0f tweets/s %6.0f MB/s  peak RSS %4.0f MB  (%2.0f %% of the 1-thread parser)\n",
      w, s, n / s, b / s / 1e6, r / 1024, 100 * n / s / p }'
done
echo "  parser alone (sonic-rs): 1 thread $one tweets/s, 2 threads $two tweets/s"

# Two processes of one worker against one process of two (scripts/cluster.sh on loopback),
# interleaved so that drift hits both alike; medians of 5 (start-up and connection included).
cluster() { # processes workers → seconds
  local out start
  out=$(mktemp)
  start=$(date +%s%N)
  CLUSTER_BASE_PORT=${CLUSTER_BASE_PORT:-2601} scripts/cluster.sh "$1" "$2" --input "$realistic" \
    --lateness 5s --output "$out" --no-progress ${extra[@]+"${extra[@]}"} 2>/dev/null
  echo $((($(date +%s%N) - start) / 1000000))
  rm -f "$out"
}
one_two=() two_one=()
for _ in 1 2 3 4 5; do
  one_two+=("$(cluster 1 2)")
  two_one+=("$(cluster 2 1)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
awk -v a="$(median "${one_two[@]}")" -v b="$(median "${two_one[@]}")" -v n="$count" 'BEGIN {
  printf "  1 process x 2 workers: %.2f s (%.0f tweets/s); 2 processes x 1 worker: %.2f s (%.0f tweets/s): %.2fx as long\n",
    a / 1000, n / a * 1000, b / 1000, n / b * 1000, b / a }'

echo "sweep (1 worker; distinct mention names per tweet per 30 s slide):"
for point in "${points[@]}"; do
  name=${point%%:*} flags=${point#*:}
  # shellcheck disable=SC2086
  generate "$name" $flags
  data=$(file_of "$name")
  diversity=$(./target/release/examples/keys "$data" | sed -E 's/.*distinct names \(([0-9.]+) per tweet\).*/\1/')
  read -r one _ <<<"$(parser "$data")"
  read -r secs _ <<<"$(dataflow "$data" 1)"
  awk -v name="$name" -v d="$diversity" -v s="$secs" -v n="$count" -v p="$one" 'BEGIN {
    printf "  %-10s %4.2f names/tweet/slide: dataflow %8.0f tweets/s, parser %8.0f tweets/s: %3.0f %%\n", name, d, n / s, p, 100 * n / s / p }'
done
