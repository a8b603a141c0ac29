#!/usr/bin/env bash
# Runs the whole comparison on this machine, in one go, and writes
# docs/BENCHMARKS.md (between its markers) and docs/benchmarks.png:
#
#   1. the service with Redis (cache on),
#   2. the same service with REDIS_URL=off (cache off: every read is SQL),
#   3. the floor: `bench floor`, a bare net/http handler answering a fixed
#      detail-sized body (and wrk against it, when wrk is installed),
#
# each under the same load generator (go run ./bench), one after the other,
# so that ratios are taken within one run. The services run on PostgreSQL in
# a database of their own (catalog_bench, seeded with 100,000 products) and
# under a Redis key prefix of their own (bench:), so nothing collides with
# tests. Needs PostgreSQL and Redis on 127.0.0.1 (as .ci/run starts them).
#
#   bash bench/compare.sh                 # about 5 minutes
#   DURATION=15s bash bench/compare.sh    # longer runs
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-catalog_bench}
REDIS=${REDIS:-redis://127.0.0.1:6379/0}
PREFIX=${BENCH_PREFIX:-bench:}
PRODUCTS=${PRODUCTS:-100000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
PORT=${PORT:-18480}
TOKEN=bench-$RANDOM$RANDOM
DBURL="$PG/$DB?sslmode=disable"

work=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$work"' EXIT
log() { printf '\n== %s\n' "$*" >&2; }

log "build"
go build -o "$work/catalog-bff" .
go build -o "$work/bench" ./bench

log "database $DB with $PRODUCTS products"
if ! psql "$PG/postgres?sslmode=disable" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  psql "$PG/postgres?sslmode=disable" -qc "CREATE DATABASE $DB"
fi
have=$(psql "$DBURL" -tAc "SELECT count(*) FROM products" 2>/dev/null || echo 0)
if [ "$have" != "$PRODUCTS" ]; then
  DATABASE_URL=$DBURL REDIS_URL=$REDIS REDIS_PREFIX=$PREFIX "$work/catalog-bff" seed -products "$PRODUCTS" -reset
fi
psql "$DBURL" -qc "VACUUM ANALYZE"

purge() { # only this benchmark's keys
  redis-cli -u "$REDIS" --scan --pattern "$PREFIX*" | xargs -r -n 500 redis-cli -u "$REDIS" DEL >/dev/null
}

wait_ready() {
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && return 0
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$PORT/query" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on :$PORT did not start" >&2; return 1
}

# serve LABEL REDIS_URL: runs the service and the load generator against it.
serve() {
  local label=$1 redis=$2 out=$3
  log "$label"
  purge
  DATABASE_URL=$DBURL REDIS_URL=$redis REDIS_PREFIX=$PREFIX ADMIN_TOKENS=$TOKEN PORT=$PORT \
    DEMO_PRODUCTS=0 DEBUG_ENDPOINTS=on "$work/catalog-bff" >"$work/$out.log" 2>&1 &
  pid=$!
  wait_ready
  BENCH_ADMIN_TOKEN=$TOKEN "$work/bench" -url "http://127.0.0.1:$PORT/query" -products "$PRODUCTS" \
    -duration "$DURATION" -warmup "$WARMUP" -connections "$CONNS" -label "$label" -json "$work/$out.json"
  if [ "$out" = on ]; then # a real detail answer, for the floor to send
    curl -s -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/query" \
      -d '{"query":"{ product(id: \"42\") { id name description price { amount currency } images { url alt } tags category { id name parent { id name } } seller { id name rating } hits } }"}' \
      >"$work/sample.json"
  fi
  stop
  warnings["$label"]=$(grep -c 'level=WARN\|level=ERROR' "$work/$out.log" || true)
}

declare -A warnings
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u +%Y-%m-%dT%H:%MZ)
serve "cache on" "$REDIS" on
serve "cache off" off off

log "floor"
"$work/bench" floor -addr "127.0.0.1:$PORT" -body "$work/sample.json" 2>"$work/floor.log" &
pid=$!
wait_ready
"$work/bench" -url "http://127.0.0.1:$PORT/query" -products "$PRODUCTS" \
  -duration "$DURATION" -warmup "$WARMUP" -connections "$CONNS" -label floor -json "$work/floor.json" detail
wrk_line="wrk is not installed (apt-get install wrk)"
if command -v wrk >/dev/null; then
  rps=$(wrk -t2 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PORT/query" | awk '/Requests\/sec/ {print $2}')
  wrk_line="wrk, 2 threads, $CONNS connections, against the same floor: **$(printf '%.0f' "$rps") req/s**"
fi
stop
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

log "report"
{
  echo "Measured $start by \`bash bench/compare.sh\` (each run $DURATION after a $WARMUP warm-up; closed loop $CONNS connections; open loop at half the closed loop's throughput):"
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) memory"
  echo "- $(go version | cut -d' ' -f3-4), PostgreSQL $(psql "$DBURL" -tAc 'SHOW server_version' | cut -d' ' -f1), Redis $(redis-cli -u "$REDIS" INFO server | awk -F: '/redis_version/ {print $2}' | tr -d '\r')"
  echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after. The service, PostgreSQL, Redis and the load generator share these cores; a load above 2 before the run means other work was running too, and the figures are lower and noisier than on a quiet machine."
  echo "- server warnings logged: cache on ${warnings[cache on]}, cache off ${warnings[cache off]}"
  echo "- floor reference: $wrk_line"
  echo
} >"$work/machine.md"
"$work/bench" report -out docs/BENCHMARKS.md -chart docs/benchmarks.png -machine "$work/machine.md" \
  "$work/on.json" "$work/off.json" "$work/floor.json"
echo "wrote docs/BENCHMARKS.md and docs/benchmarks.png" >&2
