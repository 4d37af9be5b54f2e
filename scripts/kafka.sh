#!/usr/bin/env bash
# A real Apache Kafka on loopback, from Maven Central (no Docker):
#   scripts/kafka.sh start [--brokers 3]   start (idempotent); prints the bootstrap address last
#   scripts/kafka.sh stop                  stop every broker started here; no process is left
#   scripts/kafka.sh status                running or not; exit 0 when running
#   scripts/kafka.sh topic NAME PARTITIONS [REPLICATION]   create a topic unless it exists
# The broker jars are fetched with Maven once, into $TWEETFLOW_CACHE (default ~/.cache/tweetflow).
# KRaft, combined broker+controller nodes: node i listens on KAFKA_PORT+i (default 9092) and its
# controller on KAFKA_PORT+100+i. Data and logs live in $KAFKA_DATA (default target/kafka).
# To use an existing cluster instead, skip this script and pass its address as --brokers.
set -euo pipefail

KAFKA_VERSION=4.4.0
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${TWEETFLOW_CACHE:-$HOME/.cache/tweetflow}/kafka-$KAFKA_VERSION"
libs="$cache/libs"
data="${KAFKA_DATA:-$root/target/kafka}"
port="${KAFKA_PORT:-9092}"

log() { echo "kafka.sh: $*" >&2; }

fetch() {
  [[ -f "$cache/complete" ]] && return
  log "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $cache (once)"
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -f "$root/scripts/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$cache/complete" # written last: a partial download is fetched again
}

# Tools (format, topics) log beside the brokers, under data/tools.
java_cp() { java -Xmx512m -cp "$libs/*" -Dlog4j2.configurationFile="$data/log4j2.properties" -Dkafka.logs.dir="$data/tools" "$@"; }

nodes() { cat "$data/nodes" 2>/dev/null || echo 1; }
address() {
  local n i out=""
  n=$(nodes)
  for ((i = 0; i < n; i++)); do out+="${out:+,}127.0.0.1:$((port + i))"; done
  echo "$out"
}

running() {
  local pidfile found=1
  for pidfile in "$data"/node*/pid; do
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null && found=0
  done
  return $found
}

answers() { java_cp org.apache.kafka.tools.TopicCommand --bootstrap-server "$(address)" --list >/dev/null 2>&1; }

configure() {
  local n=$1 i voters="" node
  for ((i = 0; i < n; i++)); do voters+="${voters:+,}$((i + 1))@127.0.0.1:$((port + 100 + i))"; done
  local replication=$((n < 3 ? n : 3)) min_isr=$((n < 3 ? 1 : 2))
  cat >"$data/log4j2.properties" <<LOG
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:kafka.logs.dir}/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
LOG
  for ((i = 0; i < n; i++)); do
    node="$data/node$i"
    mkdir -p "$node"
    cat >"$node/server.properties" <<PROPS
process.roles=broker,controller
node.id=$((i + 1))
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$((port + i)),CONTROLLER://127.0.0.1:$((port + 100 + i))
advertised.listeners=PLAINTEXT://127.0.0.1:$((port + i))
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$node/data
num.partitions=1
offsets.topic.replication.factor=$replication
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
min.insync.replicas=$min_isr
group.initial.rebalance.delay.ms=0
message.max.bytes=16777216
PROPS
  done
  echo "$n" >"$data/nodes"
}

start() {
  local n=1
  if [[ "${1:-}" == "--brokers" ]]; then n=${2:?--brokers needs a number}; fi
  fetch
  if running; then
    log "already running"
    address
    return
  fi
  mkdir -p "$data"
  if [[ ! -f "$data/formatted" || "$(nodes)" != "$n" ]]; then
    rm -rf "$data"/node* "$data/formatted"
    configure "$n"
    local id i
    id=$(java_cp kafka.tools.StorageTool random-uuid 2>/dev/null)
    for ((i = 0; i < n; i++)); do
      java_cp kafka.tools.StorageTool format -t "$id" -c "$data/node$i/server.properties" >/dev/null 2>&1
    done
    touch "$data/formatted"
  fi
  local i node
  for ((i = 0; i < n; i++)); do
    node="$data/node$i"
    log "starting node $((i + 1)) on 127.0.0.1:$((port + i)) (logs: $node/broker.log)"
    nohup java -Xmx512m -cp "$libs/*" -Dlog4j2.configurationFile="$data/log4j2.properties" \
      -Dkafka.logs.dir="$node" kafka.Kafka "$node/server.properties" >"$node/stdout.log" 2>&1 &
    echo $! >"$node/pid"
  done
  local deadline=$((SECONDS + 90))
  until answers; do
    if ((SECONDS > deadline)) || ! running; then
      log "Kafka did not come up; last lines of its log:"
      tail -n 30 "$data"/node0/broker.log "$data"/node0/stdout.log >&2 || true
      stop
      exit 1
    fi
    sleep 1
  done
  log "up"
  address
}

stop() {
  local pidfile pid waited
  for pidfile in "$data"/node*/pid; do
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      waited=0
      while kill -0 "$pid" 2>/dev/null && ((waited < 200)); do sleep 0.1; waited=$((waited + 1)); done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  log "stopped"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status)
    if running; then echo "running $(address)"; else echo "stopped"; exit 1; fi ;;
  topic)
    running || { log "not running: scripts/kafka.sh start"; exit 1; }
    java_cp org.apache.kafka.tools.TopicCommand --bootstrap-server "$(address)" --create --if-not-exists \
      --topic "${2:?topic name}" --partitions "${3:?partitions}" --replication-factor "${4:-1}" \
      --config retention.ms=-1 --config max.message.bytes=16777216 >&2 ;;
  *)
    echo "usage: $0 start [--brokers 3] | stop | status | topic NAME PARTITIONS [REPLICATION]" >&2
    exit 2 ;;
esac
