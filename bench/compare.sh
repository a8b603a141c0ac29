#!/usr/bin/env bash
# Runs the whole comparison on this machine, in one go, and writes
# docs/BENCHMARKS.md (between its markers) and docs/benchmarks.png. Three
# servers run side by side, each idle while another is measured:
#
#   cache on:  the service with Redis,
#   cache off: the same service with REDIS_URL=off (every read is SQL),
#   floor:     `bench floor`, a bare net/http handler answering a fixed
#              detail-sized body (a real detail answer, captured first),
#
# and the load generator (go run ./bench) takes each scenario to each server
# in turn, so that the figures a ratio compares were measured minutes, not
# quarters of an hour, apart: the machine's other load drifts less between
# them. The services run on PostgreSQL in a database of their own
# (catalog_bench, 100,000 products) and under a Redis key prefix of their
# own (bench:), so nothing collides with tests. Needs PostgreSQL and Redis on
# 127.0.0.1 (as .ci/run starts them); wrk, when installed, measures the
# floor too, as a reference for the load generator's own cost.
#
#   bash bench/compare.sh                 # about 5 minutes
#   DURATION=15s bash bench/compare.sh    # longer runs
#
# Server logs and the raw JSON stay in $OUT (default /tmp/catalog-bench).
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
PORT=${PORT:-18480} # and the two after it
OUT=${OUT:-/tmp/catalog-bench}
SCENARIOS=${SCENARIOS:-detail batch listing views mixed}
# Extra settings of both services. The default Redis deadline is 50 ms; on a
# machine shared with other work (load 10 and more on 2 cores), the OS
# stalls a process for longer than that now and then, whatever Redis does:
# the deadline trips, the breaker opens, reads are fenced and go to SQL, and
# the run measures the neighbours rather than the read path. 500 ms keeps
# the read path on Redis; SERVER_ENV= runs with the defaults.
# DB_MAX_CONNS=24: PostgreSQL's max_connections (100) is shared with other
# work; unbounded, the cache-off server alone opens up to ~96 at once.
# VIEW_RATE_LIMIT=0: the load generator is one client, and its views must
# count to measure the counter, not the per-client limit.
SERVER_ENV=${SERVER_ENV-REDIS_TIMEOUT=500ms DB_MAX_CONNS=24 VIEW_RATE_LIMIT=0}
TOKEN=bench-$RANDOM$RANDOM
DBURL="$PG/$DB?sslmode=disable"

rm -rf "$OUT" && mkdir -p "$OUT"
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap stop EXIT
log() { printf '\n== %s\n' "$*" >&2; }

log "build"
go build -o "$OUT/catalog-bff" .
go build -o "$OUT/bench" ./bench

log "database $DB with $PRODUCTS products"
if ! psql "$PG/postgres?sslmode=disable" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  psql "$PG/postgres?sslmode=disable" -qc "CREATE DATABASE $DB"
fi
have=$(psql "$DBURL" -tAc "SELECT count(*) FROM products" 2>/dev/null || echo 0)
if [ "$have" != "$PRODUCTS" ]; then
  DATABASE_URL=$DBURL REDIS_URL=$REDIS REDIS_PREFIX=$PREFIX "$OUT/catalog-bff" seed -products "$PRODUCTS" -reset
fi
psql "$DBURL" -qc "VACUUM ANALYZE"
# only this benchmark's keys
redis-cli -u "$REDIS" --scan --pattern "$PREFIX*" | xargs -r -n 500 redis-cli -u "$REDIS" DEL >/dev/null

wait_ready() {
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on :$1 did not start" >&2; return 1
}

# service NAME PORT REDIS_URL: starts the service in the background.
service() {
  DATABASE_URL=$DBURL REDIS_URL=$3 REDIS_PREFIX=$PREFIX ADMIN_TOKENS=$TOKEN PORT=$2 \
    DEMO_PRODUCTS=0 DEBUG_ENDPOINTS=on env $SERVER_ENV "$OUT/catalog-bff" >"$OUT/$1.log" 2>&1 &
  pids+=($!)
  wait_ready "$2"
}

log "servers"
service on "$PORT" "$REDIS"
service off "$((PORT + 1))" off
curl -s -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/query" \
  -d '{"query":"{ product(id: \"42\") { id name description price { amount currency } images { url alt } tags category { id name parent { id name } } seller { id name rating } hits } }"}' \
  >"$OUT/sample.json" # a real detail answer, for the floor to send
"$OUT/bench" floor -addr "127.0.0.1:$((PORT + 2))" -body "$OUT/sample.json" 2>"$OUT/floor.log" &
pids+=($!)
wait_ready "$((PORT + 2))"

# measure LABEL PORT SCENARIO
measure() {
  log "$3 against $1"
  BENCH_ADMIN_TOKEN=$TOKEN "$OUT/bench" -url "http://127.0.0.1:$2/query" -products "$PRODUCTS" \
    -duration "$DURATION" -warmup "$WARMUP" -connections "$CONNS" -label "$1" \
    -json "$OUT/$1-$3.json" "$3" | tee -a "$OUT/$1.txt"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u +%Y-%m-%dT%H:%MZ)
files=()
for s in $SCENARIOS; do
  measure "cache on" "$PORT" "$s"
  measure "cache off" "$((PORT + 1))" "$s"
  files+=("$OUT/cache on-$s.json" "$OUT/cache off-$s.json")
  if [ "$s" = detail ]; then
    measure floor "$((PORT + 2))" detail
    files+=("$OUT/floor-detail.json")
  fi
done
# The latency floor: product pages at a low fixed rate, far from saturation.
for target in "cache on:$PORT" "cache off:$((PORT + 1))" "floor:$((PORT + 2))"; do
  label=${target%%:*} port=${target##*:}
  log "detail at ${LOW_RATE:-200} req/s against $label"
  "$OUT/bench" -url "http://127.0.0.1:$port/query" -products "$PRODUCTS" -mode open -rate "${LOW_RATE:-200}" \
    -tag "@${LOW_RATE:-200}/s" -duration "$DURATION" -warmup 0s -label "$label" -json "$OUT/$label-low.json" detail |
    tee -a "$OUT/$label.txt"
  files+=("$OUT/$label-low.json")
done
wrk_line="wrk is not installed (apt-get install wrk)"
if command -v wrk >/dev/null; then
  rps=$(wrk -t2 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$((PORT + 2))/query" | awk '/Requests\/sec/ {print $2}')
  wrk_line="wrk, 2 threads, $CONNS connections, against the same floor: **$(printf '%.0f' "$rps") req/s**"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stop

# warnings NAME: how many warnings the server logged, and the commonest.
warnings() {
  local n
  n=$(grep -c 'level=WARN\|level=ERROR' "$OUT/$1.log" || true)
  printf '%s' "$n"
  if [ "$n" -gt 0 ]; then
    printf ' (most: %s)' "$(grep 'level=WARN\|level=ERROR' "$OUT/$1.log" |
      sed -e 's/.*msg="\([^"]*\)".*err="[^"]*: \([^":]*\)".*/\1: \2/' -e 's/.*msg="\([^"]*\)".*/\1/' |
      sort | uniq -c | sort -rn | head -3 | awk '{$1=$1 "×"; print}' | paste -sd '#' | sed 's/#/, /g')"
  fi
}

log "report"
{
  echo "Measured $start by \`bash bench/compare.sh\`: each scenario taken to each server in turn, each run $DURATION after a $WARMUP warm-up; closed loop $CONNS connections, open loop at half the closed loop's throughput."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) memory"
  echo "- $(go version | cut -d' ' -f3-4), PostgreSQL $(psql "$DBURL" -tAc 'SHOW server_version' | cut -d' ' -f1), Redis $(redis-cli -u "$REDIS" INFO server | awk -F: '/redis_version/ {print $2}' | tr -d '\r')"
  echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after. The servers, PostgreSQL, Redis and the load generator share these cores; a load above 2 means other work was running too, and the figures are lower and noisier than on a quiet machine."
  echo "- both services ran with the defaults${SERVER_ENV:+ except $SERVER_ENV} (see bench/compare.sh for why)"
  echo "- server warnings logged: cache on $(warnings on); cache off $(warnings off)"
  echo "- floor reference: $wrk_line"
  echo
} >"$OUT/machine.md"
"$OUT/bench" report -out docs/BENCHMARKS.md -chart docs/benchmarks.png -machine "$OUT/machine.md" "${files[@]}"
echo "wrote docs/BENCHMARKS.md and docs/benchmarks.png; logs and JSON in $OUT" >&2
