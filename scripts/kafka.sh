#!/usr/bin/env bash
# A real Apache Kafka on loopback, from Maven Central (no Docker):
#   scripts/kafka.sh start [--brokers N] [--tls]
#                                          start; returns once the brokers answer metadata requests
#                                          and prints the bootstrap address as its last stdout line
#                                          (progress goes to stderr). Idempotent: with the brokers up it
#                                          only prints the address; it restarts nodes that died.
#                                          --tls adds, on each node i, an SSL listener on
#                                          KAFKA_PORT+10+i and a SASL_SSL listener (SCRAM-SHA-256/512
#                                          and PLAIN, user "tweetflow") on KAFKA_PORT+20+i; a CA, the
#                                          brokers' certificate (for 127.0.0.1) and the user's password
#                                          are made with openssl on the first --tls start, in
#                                          $KAFKA_DATA/tls/, with the client properties files
#                                          ssl.properties and sasl_ssl.properties (for -F).
#   scripts/kafka.sh tls-env               with --tls brokers up: KAFKA_TLS_DIR, KAFKA_SSL_BROKERS and
#                                          KAFKA_SASL_BROKERS as shell assignments (for eval)
#   scripts/kafka.sh stop                  stop every broker of $KAFKA_DATA: SIGTERM, up to 20 s, then
#                                          SIGKILL; no process is left. Fine when nothing runs.
#   scripts/kafka.sh status                "running ADDRESS" (exit 0), else "stopped ADDRESS" or
#                                          "degraded ADDRESS (...)" when some nodes are down (exit 1)
#   scripts/kafka.sh topic NAME PARTITIONS [REPLICATION]   create a topic unless it exists; replication
#                                          defaults to the number of brokers (at most 3)
#   scripts/kafka.sh tool CLASS [ARGS...]  run a Kafka command-line class with the broker's jars, e.g.
#                                          tool org.apache.kafka.tools.TopicCommand --bootstrap-server
#                                          127.0.0.1:9092 --describe --topic t
#
# Apache Kafka $KAFKA_VERSION (below) is fetched with Maven (scripts/kafka/pom.xml) the first time
# only, into ${TWEETFLOW_CACHE:-~/.cache/tweetflow}/kafka-VERSION/libs; a marker written last tells a
# complete download from a partial one.
# KRaft mode, every node a combined broker+controller. Ports, from KAFKA_PORT (default 9092): node i
# (0-based) serves clients on KAFKA_PORT+i and its controller on KAFKA_PORT+100+i, so one broker uses
# 9092 and 9192; `--brokers 3` uses 9092-9094 and 9192-9194 with a 3-voter quorum, replication factor
# 3 for the internal topics and min.insync.replicas=2.
# Everything else lives in ${KAFKA_DATA:-<repo>/target/kafka}: nodeI/ (server.properties, data/,
# broker.log for this run, broker.log.1 for the previous one, pid) and tools.log. It is formatted on
# the first start and kept afterwards; `start` without --brokers reuses the node count it was
# formatted with (1 when new), `--brokers N` with another count formats it anew (dropping its topics).
# KAFKA_HEAP (default 512m) is each broker's Java heap; KAFKA_START_TIMEOUT (default 60 s) bounds start.
# To use an existing cluster instead, skip this script and pass its address as --brokers.
set -euo pipefail

KAFKA_VERSION=4.4.0
CONTROLLER_OFFSET=100
STOP_TIMEOUT=20

root="$(cd "$(dirname "$0")/.." && pwd)"
pom="$root/scripts/kafka/pom.xml"
cache="${TWEETFLOW_CACHE:-$HOME/.cache/tweetflow}/kafka-$KAFKA_VERSION"
libs="$cache/libs"
data="${KAFKA_DATA:-$root/target/kafka}"
[[ "$data" == /* ]] || data="$PWD/$data"
data="${data%/}"
port="${KAFKA_PORT:-9092}"
heap="${KAFKA_HEAP:-512m}"
start_timeout="${KAFKA_START_TIMEOUT:-60}"

log() { echo "kafka.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1024 || port + CONTROLLER_OFFSET + 9 > 65535)); then
  die "KAFKA_PORT=$port: expected a port from 1024 to $((65535 - CONTROLLER_OFFSET - 9))"
fi
[[ "$start_timeout" =~ ^[0-9]+$ ]] || die "KAFKA_START_TIMEOUT=$start_timeout: expected seconds"

# Takes an exclusive lock on file $2 through file descriptor $1 (8 or 9), when flock exists: two
# starts sharing a cache or a data directory wait for each other instead of interleaving.
lock() {
  command -v flock >/dev/null || return 0
  case "$1" in
    8) exec 8>>"$2" ;;
    9) exec 9>>"$2" ;;
  esac
  flock -w 300 "$1" || die "timed out waiting for the lock $2"
}

fetch() {
  local stamp t=$SECONDS
  stamp="kafka $KAFKA_VERSION, pom $(cksum <"$pom")"
  [[ -f "$cache/complete" && "$(cat "$cache/complete")" == "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found: Maven fetches Kafka from Maven Central (e.g. apt-get install maven)"
  mkdir -p "$cache"
  lock 8 "$cache/.lock"
  if [[ -f "$cache/complete" && "$(cat "$cache/complete")" == "$stamp" ]]; then
    exec 8>&-
    return 0
  fi
  log "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $libs (once)"
  # Into a fresh directory, swapped in whole: a broker still running from older jars keeps its files.
  rm -rf "$cache/complete" "$libs.new" "$libs.old"
  if ! mvn -q -B -f "$pom" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.new" >"$cache/fetch.log" 2>&1; then
    cat "$cache/fetch.log" >&2
    die "fetching Kafka with Maven failed (is Maven Central reachable?); run start again to retry"
  fi
  [[ ! -d "$libs" ]] || mv "$libs" "$libs.old"
  mv "$libs.new" "$libs"
  rm -rf "$libs.old"
  echo "$stamp" >"$cache/complete" # written last: a partial download is fetched again
  exec 8>&-
  log "fetched $(find "$libs" -name '*.jar' | wc -l | tr -d ' ') jars in $((SECONDS - t)) s"
}

# A short-lived Kafka command-line tool; it logs warnings to $data/tools.log.
tool() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$libs/*" \
    -Dlog4j2.configurationFile="$data/log4j2-tools.properties" -Dkafka.logs.dir="$data" "$@" 9>&-
}

nodes() { cat "$data/nodes" 2>/dev/null || echo 1; }
cluster_port() { cat "$data/port" 2>/dev/null || echo "$port"; }
# The bootstrap address of the cluster (on port $1 when given, else where it last started).
address() {
  local n p i out=""
  n=$(nodes)
  p="${1:-$(cluster_port)}"
  for ((i = 0; i < n; i++)); do out+="${out:+,}127.0.0.1:$((p + i))"; done
  echo "$out"
}

# These functions are called as conditions, which turns set -e off inside them: every check in
# them returns explicitly.

# True while process $1 runs (a zombie, an exited child not yet reaped, does not count).
proc_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ "$state" != Z* ]]
}
any_alive() {
  local pid
  for pid in "$@"; do proc_alive "$pid" && return 0; done
  return 1
}
# Prints the pid of node $1's broker when it runs: its pid file names a live kafka.Kafka of that node.
node_pid() {
  local node="$data/node$1" pid
  pid=$(cat "$node/pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(ps -ww -o args= -p "$pid" 2>/dev/null)" == *" kafka.Kafka $node/server.properties" ]] || return 1
  echo "$pid"
}
up_count() {
  local i n count=0
  n=$(nodes)
  for ((i = 0; i < n; i++)); do
    if node_pid "$i" >/dev/null; then count=$((count + 1)); fi
  done
  echo "$count"
}
# Brokers of this data directory whatever their pid files say (a start interrupted before writing
# one, a pid file removed by hand): stop ends them too.
strays() {
  local pid
  command -v pgrep >/dev/null || return 0
  for pid in $(pgrep -f 'kafka\.Kafka ' || true); do
    if [[ "$(ps -ww -o args= -p "$pid" 2>/dev/null)" == *" kafka.Kafka $data/node"*"/server.properties" ]]; then
      echo "$pid"
    fi
  done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

SSL_OFFSET=10
SASL_OFFSET=20
tls_dir() { echo "$data/tls"; }
tls_on() { [[ -f "$data/tls-enabled" ]]; }
# The SSL and SASL_SSL bootstrap addresses of the cluster.
tls_address() {
  local n i off=$1 out=""
  n=$(nodes)
  for ((i = 0; i < n; i++)); do out+="${out:+,}127.0.0.1:$(($(cluster_port) + off + i))"; done
  echo "$out"
}

# Makes the CA, the brokers' key store and the SASL user's password, once; writes the client
# properties files. They stay in $data/tls (mode 700); the nodes' server.properties, which hold the
# key store's and the PLAIN user's passwords, are mode 600.
make_tls() {
  local dir
  dir=$(tls_dir)
  if [[ ! -f "$dir/complete" ]]; then
    command -v openssl >/dev/null || die "openssl not found: --tls makes its certificates with it"
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    (
      cd "$dir"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
        -subj "/CN=tweetflow local CA" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
        -subj "/CN=127.0.0.1" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
        -days 3650 -extfile san.ext 2>/dev/null
      openssl rand -hex 16 >store.password
      openssl rand -hex 16 >sasl.password
      openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
        -out broker.p12 -passout "pass:$(cat store.password)"
      chmod 600 ./*
    ) || die "making the TLS certificates with openssl failed"
    touch "$dir/complete"
    log "made a CA, the brokers' certificate and the SASL user's password in $dir"
  fi
  printf 'security.protocol=SSL\nssl.ca.location=%s/ca.pem\n' "$dir" >"$dir/ssl.properties"
  printf 'security.protocol=SASL_SSL\nssl.ca.location=%s/ca.pem\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=tweetflow\nsasl.password=%s\n' \
    "$dir" "$(cat "$dir/sasl.password")" >"$dir/sasl_ssl.properties"
  chmod 600 "$dir"/*.properties
}

# The broker settings of the SSL and SASL_SSL listeners of node $1.
tls_properties() {
  local dir i=$1
  dir=$(tls_dir)
  cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$((port + i)),CONTROLLER://127.0.0.1:$((port + CONTROLLER_OFFSET + i)),SSL://127.0.0.1:$((port + SSL_OFFSET + i)),SASL_SSL://127.0.0.1:$((port + SASL_OFFSET + i))
advertised.listeners=PLAINTEXT://127.0.0.1:$((port + i)),SSL://127.0.0.1:$((port + SSL_OFFSET + i)),SASL_SSL://127.0.0.1:$((port + SASL_OFFSET + i))
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/broker.p12
ssl.keystore.password=$(cat "$dir/store.password")
ssl.key.password=$(cat "$dir/store.password")
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_tweetflow="$(cat "$dir/sasl.password")";
PROPS
}

# The SCRAM credentials of user "tweetflow" (kept in the cluster's metadata; set again, idempotent).
add_scram_user() {
  local pw out mechanism
  pw=$(cat "$(tls_dir)/sasl.password")
  # One mechanism per request: the broker refuses two changes of one user's credentials in one.
  # The password is on ConfigCommand's command line for the second it runs (its --add-config-file
  # refuses SCRAM entries): acceptable for this local test cluster's random password only.
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    out=$(tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$(address)" \
      --command-config "$data/admin.properties" --alter --entity-type users \
      --entity-name tweetflow --add-config "$mechanism=[password=$pw]" 2>&1) || {
      echo "${out//$pw/[redacted]}" >&2
      die "adding the SCRAM user ($mechanism) failed"
    }
  done
}

# One log4j2 configuration: LEVEL, FILE (under kafka.logs.dir), and what it is for.
log_config() {
  cat <<LOG
# Written by scripts/kafka.sh: $3
rootLogger.level = $1
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:kafka.logs.dir}/$2
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
LOG
}

# Logging for the brokers and the tools, and the admin client settings of the readiness probe.
write_logging() {
  log_config INFO broker.log "each broker logs to broker.log in its node directory." \
    >"$data/log4j2.properties"
  log_config WARN tools.log "command-line tools log warnings to tools.log." \
    >"$data/log4j2-tools.properties"
  # Bounds each probe: the admin client's defaults wait a minute for a broker that is not there.
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$data/admin.properties"
}

# Writes the configuration of $1 nodes whose ports start at $port.
configure() {
  local n=$1 i voters="" node
  for ((i = 0; i < n; i++)); do voters+="${voters:+,}$((i + 1))@127.0.0.1:$((port + CONTROLLER_OFFSET + i))"; done
  local replication=$((n < 3 ? n : 3)) min_isr=$((n < 3 ? 1 : 2))
  write_logging
  for ((i = 0; i < n; i++)); do
    node="$data/node$i"
    mkdir -p "$node"
    {
      cat <<PROPS
# Written by scripts/kafka.sh on each start.
process.roles=broker,controller
node.id=$((i + 1))
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
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
      if tls_on; then
        tls_properties "$i"
      else
        cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$((port + i)),CONTROLLER://127.0.0.1:$((port + CONTROLLER_OFFSET + i))
advertised.listeners=PLAINTEXT://127.0.0.1:$((port + i))
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
      fi
    } >"$node/server.properties"
    # With --tls it holds the key store's and the PLAIN user's passwords.
    chmod 600 "$node/server.properties"
  done
  echo "$n" >"$data/nodes"
  echo "$port" >"$data/port"
}

# Formats $data for $1 nodes, all with one new cluster id.
format() {
  local n=$1 id i out
  rm -rf "$data"/node* "$data/formatted"
  configure "$n"
  id=$(tool kafka.tools.StorageTool random-uuid 2>"$data/format.log") || {
    cat "$data/format.log" >&2
    die "StorageTool random-uuid failed"
  }
  for ((i = 0; i < n; i++)); do
    out=$(tool kafka.tools.StorageTool format -t "$id" -c "$data/node$i/server.properties" 2>&1) || {
      echo "$out" >&2
      die "formatting node $((i + 1)) failed"
    }
  done
  rm -f "$data/format.log"
  echo "$id" >"$data/formatted" # written last: a half-formatted directory is formatted again
  log "formatted $data for $n broker(s), cluster id $id"
}

# True once every node is up: each logged its start (cheap to poll), then one metadata request lists
# all of them unfenced (BrokerApiVersionsCommand then asks each broker for its API versions).
ready() {
  local n i listed
  n=$(nodes)
  for ((i = 0; i < n; i++)); do
    grep -q "Kafka Server started" "$data/node$i/broker.log" 2>/dev/null || return 1
  done
  listed=$(tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$(address)" \
    --command-config "$data/admin.properties" 2>/dev/null |
    grep -cE '^127\.0\.0\.1:[0-9]+ \(id: [0-9]+ .*isFenced: false\)') || true
  ((listed == n))
}

# Fails when a port of a node of $1 that is not running is taken.
check_ports() {
  local i p
  for ((i = 0; i < $1; i++)); do
    if node_pid "$i" >/dev/null; then continue; fi
    local ports=($((port + i)) $((port + CONTROLLER_OFFSET + i)))
    if tls_on; then ports+=($((port + SSL_OFFSET + i)) $((port + SASL_OFFSET + i))); fi
    for p in "${ports[@]}"; do
      if port_busy "$p"; then
        die "127.0.0.1:$p is already in use (another Kafka? KAFKA_PORT chooses other ports)"
      fi
    done
  done
}

show_logs() {
  local i n
  n=$(nodes)
  for ((i = 0; i < n; i++)); do
    log "node $((i + 1)): last lines of $data/node$i/broker.log"
    tail -n 25 "$data/node$i/broker.log" >&2 2>/dev/null || true
    if [[ -s "$data/node$i/stdout.log" ]]; then
      log "node $((i + 1)): $data/node$i/stdout.log"
      tail -n 15 "$data/node$i/stdout.log" >&2
    fi
  done
}

start() {
  local want="" n i node up t=$SECONDS tls=0
  while (($#)); do
    case "$1" in
      --tls)
        tls=1
        shift
        ;;
      --brokers)
        [[ $# -ge 2 ]] || die "--brokers expects a number from 1 to 9"
        want="$2"
        shift 2
        ;;
      --brokers=*)
        want="${1#--brokers=}"
        shift
        ;;
      *) die "start: unknown argument $1 (usage: start [--brokers N] [--tls])" ;;
    esac
  done
  [[ -z "$want" || "$want" =~ ^[1-9]$ ]] || die "--brokers expects a number from 1 to 9"
  command -v java >/dev/null || die "java not found: Kafka $KAFKA_VERSION needs Java 17 or later"
  fetch
  mkdir -p "$data"
  lock 9 "$data/.lock"

  up=0
  if [[ -f "$data/formatted" ]]; then up=$(up_count); fi
  if ((up > 0)); then
    n=$(nodes)
    [[ -z "$want" || "$want" == "$n" ]] ||
      die "already running with $n broker(s) at $(address); run stop first to start $want"
    [[ -z "${KAFKA_PORT:-}" || "$KAFKA_PORT" == "$(cluster_port)" ]] ||
      die "already running at $(address), not on KAFKA_PORT=$KAFKA_PORT; run stop first"
    port=$(cluster_port)
    if ((tls)) && ! tls_on; then
      die "already running without --tls at $(address); run stop first"
    fi
    if ((up == n)); then
      log "already running"
      if tls_on; then
        add_scram_user
        tls_report
      fi
      address
      return 0
    fi
    log "$up of $n broker(s) running; starting the others"
    check_ports "$n"
  else
    n="${want:-$(nodes)}"
    if ((tls)); then
      make_tls
      touch "$data/tls-enabled"
    else
      rm -f "$data/tls-enabled"
    fi
    check_ports "$n"
    if [[ ! -f "$data/formatted" ]]; then
      format "$n"
    elif [[ "$n" != "$(nodes)" ]]; then
      log "$data holds a $(nodes)-broker cluster: formatting it anew for $n broker(s) (its topics are dropped)"
      format "$n"
    else
      configure "$n" # the same cluster, perhaps on other ports
    fi
  fi

  for ((i = 0; i < n; i++)); do
    if node_pid "$i" >/dev/null; then continue; fi
    node="$data/node$i"
    if [[ -f "$node/broker.log" ]]; then mv -f "$node/broker.log" "$node/broker.log.1"; fi
    log "starting broker $((i + 1)) of $n on 127.0.0.1:$((port + i)) (controller :$((port + CONTROLLER_OFFSET + i)); log $node/broker.log)"
    nohup java "-Xmx$heap" -XX:+ExitOnOutOfMemoryError -cp "$libs/*" \
      -Dlog4j2.configurationFile="$data/log4j2.properties" -Dkafka.logs.dir="$node" \
      kafka.Kafka "$node/server.properties" >"$node/stdout.log" 2>&1 9>&- </dev/null &
    echo $! >"$node/pid"
  done

  local deadline=$((SECONDS + start_timeout))
  until ready; do
    if (($(up_count) < n)); then
      show_logs
      stop
      die "a broker exited during start (logs above, all in $data)"
    fi
    if ((SECONDS >= deadline)); then
      show_logs
      stop
      die "the brokers did not answer within $start_timeout s (logs above, all in $data)"
    fi
    sleep 0.5
  done
  if tls_on; then
    add_scram_user
    tls_report
  fi
  log "up in $((SECONDS - t)) s"
  address
}

# What a client needs for the TLS listeners (the properties files hold the secret, not the log).
tls_report() {
  log "SSL at $(tls_address $SSL_OFFSET): -F $(tls_dir)/ssl.properties (security.protocol=SSL, ssl.ca.location=$(tls_dir)/ca.pem)"
  log "SASL_SSL at $(tls_address $SASL_OFFSET): -F $(tls_dir)/sasl_ssl.properties (SCRAM-SHA-512, user tweetflow; PLAIN and SCRAM-SHA-256 work too)"
}

stop() {
  local pids=() i n pid t=$SECONDS
  [[ -d "$data" ]] || {
    log "not running (no $data)"
    return 0
  }
  lock 9 "$data/.lock"
  n=$(nodes)
  for ((i = 0; i < n; i++)); do
    if pid=$(node_pid "$i"); then pids+=("$pid"); fi
  done
  for pid in $(strays); do
    [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid")
  done
  if ((${#pids[@]} == 0)); then
    rm -f "$data"/node*/pid
    log "not running"
    return 0
  fi
  log "stopping ${#pids[@]} broker(s)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while any_alive "${pids[@]}" && ((SECONDS - t < STOP_TIMEOUT)); do sleep 0.2; done
  if any_alive "${pids[@]}"; then
    log "still running after $STOP_TIMEOUT s: SIGKILL"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    while any_alive "${pids[@]}"; do sleep 0.1; done
  fi
  rm -f "$data"/node*/pid
  log "stopped in $((SECONDS - t)) s"
}

status() {
  local n up=0
  n=$(nodes)
  if [[ -f "$data/formatted" ]]; then up=$(up_count); fi
  if ((up == n)); then
    echo "running $(address)"
  elif ((up > 0)); then
    echo "degraded $(address) ($up of $n brokers up)"
    return 1
  else
    echo "stopped $(address "$port")"
    return 1
  fi
}

case "${1:-}" in
  start)
    shift
    start "$@"
    ;;
  stop) stop ;;
  status) status ;;
  tls-env)
    tls_on || die "the brokers of $data were not started with --tls"
    printf 'KAFKA_TLS_DIR=%s\nKAFKA_SSL_BROKERS=%s\nKAFKA_SASL_BROKERS=%s\n' \
      "$(tls_dir)" "$(tls_address $SSL_OFFSET)" "$(tls_address $SASL_OFFSET)"
    ;;
  topic)
    [[ $# -ge 3 ]] || die "usage: $0 topic NAME PARTITIONS [REPLICATION]"
    state=$(status) || die "not running ($state): scripts/kafka.sh start"
    n=$(nodes)
    tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(address)" --create --if-not-exists \
      --topic "$2" --partitions "$3" --replication-factor "${4:-$((n < 3 ? n : 3))}" \
      --config retention.ms=-1 --config max.message.bytes=16777216 >&2
    ;;
  tool)
    [[ $# -ge 2 ]] || die "usage: $0 tool CLASS [ARGS...]"
    [[ -f "$cache/complete" ]] || die "Kafka is not fetched yet: scripts/kafka.sh start"
    shift
    mkdir -p "$data"
    [[ -f "$data/log4j2-tools.properties" ]] || write_logging
    tool "$@"
    ;;
  *)
    echo "usage: $0 start [--brokers N] [--tls] | tls-env | stop | status | topic NAME PARTITIONS [REPLICATION] | tool CLASS [ARGS...]" >&2
    exit 2
    ;;
esac
