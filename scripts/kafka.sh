#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) on 127.0.0.1, for tests
# and for trying boxwatch's Kafka path locally. There is no Debian package or image of Kafka here, so the
# broker is assembled from Maven Central jars (scripts/kafka/pom.xml) and cached.
#
#   bash scripts/kafka.sh start    # idempotent: returns once an admin client can list topics
#   bash scripts/kafka.sh stop     # SIGTERM, waits for a clean shutdown (SIGKILL after 30 s)
#   bash scripts/kafka.sh status   # exit 0 ready, 1 not running, 2 running but not answering
#   bash scripts/kafka.sh restart
#   bash scripts/kafka.sh reset    # stop and delete the broker's data (topics, offsets)
#   bash scripts/kafka.sh logs     # tail of the broker log
#
# Environment:
#   BOXWATCH_KAFKA_PORT        client port (9092); the controller listens on port+1
#   BOXWATCH_KAFKA_DIR         state: data, pid file, log (/tmp/boxwatch-kafka)
#   BOXWATCH_CACHE             jar cache root (~/.cache/boxwatch); jars go to kafka-<version>/libs
#   BOXWATCH_KAFKA_HEAP        JVM heap (-Xmx512m)
#   BOXWATCH_KAFKA_READY_SECS  readiness deadline for start (120)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
kdir="$here/kafka"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$kdir/pom.xml")"
PORT="${BOXWATCH_KAFKA_PORT:-9092}"
CONTROLLER_PORT="$((PORT + 1))"
STATE="${BOXWATCH_KAFKA_DIR:-/tmp/boxwatch-kafka}"
CACHE="${BOXWATCH_CACHE:-$HOME/.cache/boxwatch}/kafka-$KAFKA_VERSION"
LIBS="$CACHE/libs"
HEAP="${BOXWATCH_KAFKA_HEAP:--Xmx512m}"
READY_SECS="${BOXWATCH_KAFKA_READY_SECS:-120}"
DATA="$STATE/data"
PIDFILE="$STATE/kafka.pid"
LOG="$STATE/server.log"
PROPS="$STATE/server.properties"

say() { echo "kafka.sh: $*" >&2; }

# The broker's pid if it is alive (and really is our JVM, not a recycled pid).
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ready() { node "$kdir/ready.mjs" "127.0.0.1:$PORT" "${1:-0}" >/dev/null 2>&1; }

need_tools() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v node >/dev/null || { say "node is required (readiness probe uses kafkajs)"; exit 1; }
  if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      say "installing ${missing[*]}"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      say "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})"
      exit 1
    fi
  fi
}

# Download the broker jars once. Copy into a scratch directory and rename it into place, so an
# interrupted download never leaves a half-filled cache that later runs would trust.
ensure_jars() {
  if [[ -f "$LIBS/.complete" ]]; then return; fi
  say "assembling Kafka $KAFKA_VERSION from Maven Central into $LIBS"
  mkdir -p "$CACHE"
  local tmp
  tmp="$(mktemp -d "$CACHE/libs.tmp.XXXXXX")"
  if ! mvn -q -B -f "$kdir/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CACHE/mvn.log" 2>&1; then
    say "mvn failed; see $CACHE/mvn.log"; tail -20 "$CACHE/mvn.log" >&2; rm -rf "$tmp"; exit 1
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
  touch "$tmp/.complete"
  chmod 755 "$tmp"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
}

# An array, so the classpath wildcard reaches java unexpanded (java expands `libs/*` itself).
JAVA=(java "$HEAP" -Xms128m -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j.configuration="file:$kdir/log4j.properties" -cp "$LIBS/*")

write_config() {
  mkdir -p "$STATE"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@DATA_DIR@|$DATA|g" \
    "$kdir/server.properties.in" >"$PROPS"
}

# KRaft needs its storage formatted with a cluster id once; keep the data across restarts so the
# fault tests (stop, produce, start) find their topics again.
format_storage() {
  if [[ -f "$DATA/meta.properties" ]]; then return; fi
  local cluster_id
  cluster_id="$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG" | tail -1)"
  [[ -n "$cluster_id" ]] || { say "StorageTool random-uuid failed; see $LOG"; tail -5 "$LOG" >&2; exit 1; }
  say "formatting KRaft storage in $DATA (cluster $cluster_id)"
  "${JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" >>"$LOG" 2>&1
}

start() {
  need_tools
  local pid
  if pid="$(running_pid)"; then
    if ready "$READY_SECS"; then say "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
    say "pid $pid is running but not answering; see $LOG"; exit 1
  fi
  if ready 0; then say "something else already serves Kafka on 127.0.0.1:$PORT; not starting another"; exit 1; fi
  ensure_jars
  write_config
  format_storage
  # setsid: the broker outlives the shell (and the test runner) that started it.
  echo "---- start $(date -Is)" >>"$LOG"
  # 9>&-: the broker must not inherit the lock (it would hold it for as long as it runs).
  setsid nohup "${JAVA[@]}" kafka.Kafka "$PROPS" >>"$LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  pid="$(cat "$PIDFILE")"
  # Probe in short rounds so a broker that dies while starting (bad storage, port taken) fails the
  # start at once instead of after the whole readiness deadline.
  local deadline=$((SECONDS + READY_SECS))
  until ready 2; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "broker (pid $pid) exited while starting; last log lines:"
      tail -30 "$LOG" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      say "broker (pid $pid) did not become ready in ${READY_SECS}s; last log lines:"
      tail -30 "$LOG" >&2
      kill "$pid" 2>/dev/null || true
      exit 1
    fi
  done
  say "started (pid $pid) on 127.0.0.1:$PORT, log $LOG"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then say "not running"; rm -f "$PIDFILE"; return 0; fi
  kill -TERM "$pid"
  # A clean shutdown flushes logs and writes the clean-shutdown marker, so the next start skips recovery.
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid still alive after 30 s; killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

status() {
  local pid
  if ! pid="$(running_pid)"; then echo "stopped"; return 1; fi
  if ready 0; then echo "ready pid=$pid broker=127.0.0.1:$PORT version=$KAFKA_VERSION"; return 0; fi
  echo "running pid=$pid but not answering on 127.0.0.1:$PORT"
  return 2
}

# Several test runs (and engineers) may call this at once: serialise everything that changes state,
# so two starts never launch two brokers on one data directory and a reset never races a start.
lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock 9
}

case "${1:-}" in
  start) lock; start ;;
  stop) lock; stop ;;
  restart) lock; stop; start ;;
  status) status ;;
  reset) lock; stop; rm -rf "$DATA"; say "data removed" ;;
  logs) tail -n "${2:-50}" "$LOG" ;;
  *) echo "usage: $0 start|stop|restart|status|reset|logs" >&2; exit 64 ;;
esac
