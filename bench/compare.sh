#!/usr/bin/env bash
# Runs the whole comparison on this machine, in one go, and writes
# docs/BENCHMARKS.md (between its markers) and docs/benchmarks.png. Five
# servers run side by side, each idle while another is measured:
#
#   defaults:       the service as it ships (Redis, near cache, response cache),
#   today's design: the same binary with NEAR_CACHE_SIZE=0 RESPONSE_CACHE_SIZE=0
#                   (Redis and the dataloaders only),
#   cache off:      the same binary with REDIS_URL=off (every read is SQL),
#   floor:          `bench floor`, a bare net/http handler answering a fixed
#                   detail-sized body (a real detail answer, captured first),
#   apollo:         the Apollo Server 5 + DataLoader + ioredis + pg peer
#                   (../shared/peers/apollo), 2 workers, on the same contract,
#
# and the load generator (go run ./bench) takes each scenario to each server
# in turn, so that the figures a ratio compares were measured minutes, not
# quarters of an hour, apart: the machine's other load drifts less between
# them. Server CPU a request is read from /proc for every server alike (the
# whole process tree: the peer's primary and workers together). The services
# run on PostgreSQL in a database of their own (catalog_bench, 100,000
# products) and under a Redis key prefix of their own (bench:); the peer in
# its own database (catalog_bench_apollo, the same number of products, seeded
# by its seed.js), Redis db 5 and prefix bench-apollo:v1:. Nothing flushes
# anything: only those prefixes' keys are deleted. Needs PostgreSQL and Redis
# on 127.0.0.1 (as .ci/run starts them) and node >= 20 with npm for the peer
# (PEER=off leaves it out); wrk, when installed, measures the floor too, as a
# reference for the load generator's own cost.
#
#   bash bench/compare.sh                 # about 11 minutes (the first run also seeds: +1)
#   DURATION=15s bash bench/compare.sh    # longer runs
#   PEER=off bash bench/compare.sh        # without node: four servers
#   DURATION=3s WARMUP=1s SCENARIOS="detail batch" bash bench/compare.sh   # a quick try
#
# Server logs and the raw JSON stay in $OUT (default /tmp/catalog-bench); the
# peer's working copy, node_modules and npm cache in $PEER_DIR (default
# /tmp/catalog-bench-peer), kept between runs: npm ci runs again only when its
# package-lock.json changed, seed.js only when the product count differs.
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
LOW_RATE=${LOW_RATE:-200}
PORT=${PORT:-18480} # and the four after it
OUT=${OUT:-/tmp/catalog-bench}
SCENARIOS=${SCENARIOS:-detail batch listing views mixed}
# Extra settings of the three services. The default Redis deadline is 50 ms;
# on a machine shared with other work (load 10 and more on 2 cores), the OS
# stalls a process for longer than that now and then, whatever Redis does:
# the deadline trips, the breaker opens, reads are fenced and go to SQL, and
# the run measures the neighbours rather than the read path. 500 ms keeps
# the read path on Redis; SERVER_ENV= runs with the defaults.
# DB_MAX_CONNS=20: PostgreSQL's max_connections (100) is shared with other
# work; unbounded, the cache-off server alone opens up to ~96 at once. Three
# services at 20 and the peer at 22 (10 a worker, 2 for its flusher) stay
# under 100 even if all fill their pools at once.
# VIEW_RATE_LIMIT=0: the load generator is one client, and its views must
# count to measure the counter, not the per-client limit.
# CATALOG_ENV=production: measured as deployed (JSON logs, 1 access log
# line in 100, no extensions.cost); /debug/costs stays on (DEBUG_ENDPOINTS).
SERVER_ENV=${SERVER_ENV-REDIS_TIMEOUT=500ms DB_MAX_CONNS=20 VIEW_RATE_LIMIT=0 CATALOG_ENV=production}
# What makes "today's design" of the same binary: the read path before the
# near cache and the response cache.
TODAY_ENV=${TODAY_ENV-NEAR_CACHE_SIZE=0 RESPONSE_CACHE_SIZE=0}
# The peer: PEER=off leaves it out.
PEER=${PEER:-on}
PEER_SRC=${PEER_SRC:-$PWD/../shared/peers/apollo}
PEER_DIR=${PEER_DIR:-/tmp/catalog-bench-peer}
PEER_DB=${PEER_DB:-catalog_bench_apollo}
PEER_REDIS=${PEER_REDIS:-redis://127.0.0.1:6379/5}
PEER_PREFIX=${PEER_PREFIX:-bench-apollo:v1:}
PEER_WORKERS=${PEER_WORKERS:-2}
TOKEN=bench-$RANDOM$RANDOM
DBURL="$PG/$DB?sslmode=disable"

log() { printf '\n== %s\n' "$*" >&2; }
fail() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

if [ "$PEER" != off ]; then
  command -v node >/dev/null && command -v npm >/dev/null ||
    fail "the Apollo peer needs node (>= 20) and npm, which are not installed; PEER=off runs without it"
  [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
    fail "the Apollo peer needs node >= 20, found $(node -v); PEER=off runs without it"
  [ -f "$PEER_SRC/run.sh" ] || fail "no peer at $PEER_SRC (PEER_SRC=…); PEER=off runs without it"
  PEER_SRC=$(cd "$PEER_SRC" && pwd)
fi

rm -rf "$OUT" && mkdir -p "$OUT"
# The servers: slug → label, port, process id (each server's CPU is read
# from /proc by that id).
declare -A label=([on]=defaults [today]="today's design" [off]="cache off" [floor]=floor [apollo]=apollo)
declare -A port=([on]=$PORT [today]=$((PORT + 1)) [off]=$((PORT + 2)) [floor]=$((PORT + 3)) [apollo]=$((PORT + 4)))
declare -A pid=()
stop() { for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pid=(); }
trap stop EXIT

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
# The view log went with those keys: SQL's position in it starts over too,
# or the services would rightly report a Redis that lost its data. (A
# database from before the view log has no such table until a service
# migrates it, and then nothing to reset.)
psql "$DBURL" -qc "UPDATE view_log SET position = '0-0', token = '', prev_token = ''" 2>/dev/null || true

# The peer's settings, for seed.js and run.sh.
peer_vars=(DATABASE_URL="$PG/$PEER_DB" N_PRODUCTS="$PRODUCTS" REDIS_URL="$PEER_REDIS" KEY_PREFIX="$PEER_PREFIX"
  SCHEMA_PATH="$PEER_SRC/../../contract/schema.graphqls" PORT="${port[apollo]}" WORKERS="$PEER_WORKERS")

# peer_prepare: the peer's working copy (its sources, fresh; node_modules
# kept unless package-lock.json changed) and its database, seeded by its own
# seed.js unless it already holds $PRODUCTS products.
peer_prepare() {
  log "apollo peer in $PEER_DIR, database $PEER_DB with $PRODUCTS products"
  mkdir -p "$PEER_DIR"
  rsync -a --delete --exclude node_modules "$PEER_SRC/" "$PEER_DIR/"
  if ! cmp -s "$PEER_DIR/package-lock.json" "$PEER_DIR/node_modules/.bench-lock.json"; then
    (cd "$PEER_DIR" && npm_config_cache="$PEER_DIR.npm-cache" npm ci --no-audit --no-fund --loglevel=error)
    cp "$PEER_DIR/package-lock.json" "$PEER_DIR/node_modules/.bench-lock.json"
  fi
  local have
  have=$(psql "$PG/$PEER_DB?sslmode=disable" -tAc "SELECT count(*) FROM products" 2>/dev/null || echo 0)
  if [ "$have" != "$PRODUCTS" ]; then
    (cd "$PEER_DIR" && env "${peer_vars[@]}" node seed.js)
  fi
  psql "$PG/$PEER_DB?sslmode=disable" -qc "VACUUM ANALYZE"
  redis-cli -u "$PEER_REDIS" --scan --pattern "$PEER_PREFIX*" | xargs -r -n 500 redis-cli -u "$PEER_REDIS" DEL >/dev/null
}

[ "$PEER" = off ] || peer_prepare

# wait_ready PORT: until the server there answers HTTP at all (the peer
# answers GET / with 400).
wait_ready() {
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null)" != 000 ] && return 0
    sleep 0.1
  done
  echo "server on :$1 did not start" >&2; return 1
}

# service SLUG REDIS_URL [NAME=VALUE...]: starts the service in the background.
service() {
  DATABASE_URL=$DBURL REDIS_URL=$2 REDIS_PREFIX=$PREFIX ADMIN_TOKENS=$TOKEN PORT=${port[$1]} \
    DEMO_PRODUCTS=0 DEBUG_ENDPOINTS=on env $SERVER_ENV "${@:3}" "$OUT/catalog-bff" >"$OUT/$1.log" 2>&1 &
  pid[$1]=$!
  wait_ready "${port[$1]}"
}

# peer_start: starts the peer's cluster (run.sh execs node: its pid is the
# primary's) and waits for every worker.
peer_start() {
  (cd "$PEER_DIR" && exec env SKIP_INSTALL=1 SKIP_SEED=1 "${peer_vars[@]}" ./run.sh) >"$OUT/apollo.log" 2>&1 &
  pid[apollo]=$!
  for _ in $(seq 1 200); do
    [ "$(grep -c 'listening on' "$OUT/apollo.log")" -ge "$PEER_WORKERS" ] && break
    kill -0 "${pid[apollo]}" 2>/dev/null || { cat "$OUT/apollo.log" >&2; fail "the peer did not start"; }
    sleep 0.1
  done
  wait_ready "${port[apollo]}"
}

log "servers"
service on "$REDIS"
# shellcheck disable=SC2086 # TODAY_ENV is a list of NAME=VALUE words
service today "$REDIS" $TODAY_ENV
service off off
curl -s -H 'Content-Type: application/json' "http://127.0.0.1:${port[on]}/query" \
  -d '{"query":"{ product(id: \"42\") { id name description price { amount currency } images { url alt } tags category { id name parent { id name } } seller { id name rating } hits } }"}' \
  >"$OUT/sample.json" # a real detail answer, for the floor to send
"$OUT/bench" floor -addr "127.0.0.1:${port[floor]}" -body "$OUT/sample.json" 2>"$OUT/floor.log" &
pid[floor]=$!
wait_ready "${port[floor]}"
servers="on today off floor"
if [ "$PEER" != off ]; then
  peer_start
  servers="$servers apollo"
fi

# measure SLUG SCENARIO [bench flags...]: one scenario against one server;
# the JSON goes to $OUT/SLUG-NAME.json, NAME being the scenario or $tagname.
measure() {
  local slug=$1 s=$2 costs=()
  [ "$slug" = apollo ] && costs=(-costs-url off) # the peer has no /debug/costs
  BENCH_ADMIN_TOKEN=$TOKEN "$OUT/bench" -url "http://127.0.0.1:${port[$slug]}/query" -products "$PRODUCTS" \
    -server-pid "${pid[$slug]}" "${costs[@]}" -label "${label[$slug]}" -json "$OUT/$slug-${name:-$s}.json" \
    "${@:3}" "$s" | tee -a "$OUT/$slug.txt"
  files+=("$OUT/$slug-${name:-$s}.json")
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u +%Y-%m-%dT%H:%MZ)
started=$SECONDS
files=()
for s in $SCENARIOS; do
  for slug in $servers; do
    [ "$slug" = floor ] && [ "$s" != detail ] && continue # the floor answers product pages only
    log "$s against ${label[$slug]}"
    name= measure "$slug" "$s" -duration "$DURATION" -warmup "$WARMUP" -connections "$CONNS"
  done
done
# The latency floor: product pages at a low fixed rate, far from saturation.
for slug in $servers; do
  log "detail at $LOW_RATE req/s against ${label[$slug]}"
  name=low measure "$slug" detail -mode open -rate "$LOW_RATE" -tag "@$LOW_RATE/s" -duration "$DURATION" -warmup 0s
done
wrk_line="wrk is not installed (apt-get install wrk)"
if command -v wrk >/dev/null; then
  rps=$(wrk -t2 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:${port[floor]}/query" | awk '/Requests\/sec/ {print $2}')
  wrk_line="wrk, 2 threads, $CONNS connections, against the same floor: **$(printf '%.0f' "$rps") req/s**"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
minutes=$(((SECONDS - started + 30) / 60))
stop

# warnings SLUG: how many warnings the service logged, and the commonest.
warnings() {
  local n
  n=$(grep -c 'level=WARN\|level=ERROR\|"level":"WARN"\|"level":"ERROR"' "$OUT/$1.log" || true)
  printf '%s' "$n"
  if [ "$n" -gt 0 ]; then
    printf ' (most: %s)' "$(grep 'level=WARN\|level=ERROR\|"level":"WARN"\|"level":"ERROR"' "$OUT/$1.log" |
      sed -e 's/.*msg="\([^"]*\)".*err="[^"]*: \([^":]*\)".*/\1: \2/' -e 's/.*msg="\([^"]*\)".*/\1/' \
        -e 's/.*"msg":"\([^"]*\)".*/\1/' |
      sort | uniq -c | sort -rn | head -3 | awk '{$1=$1 "×"; print}' | paste -sd '#' | sed 's/#/, /g')"
  fi
}

log "report"
{
  echo "Measured $start by \`bash bench/compare.sh\` in $minutes minutes: each scenario taken to each server in turn, each run $DURATION after a $WARMUP warm-up; closed loop $CONNS connections, open loop at half the closed loop's throughput, then \`detail\` at $LOW_RATE req/s."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) memory"
  echo "- $(go version | cut -d' ' -f3-4), PostgreSQL $(psql "$DBURL" -tAc 'SHOW server_version' | cut -d' ' -f1), Redis $(redis-cli -u "$REDIS" INFO server | awk -F: '/redis_version/ {print $2}' | tr -d '\r')$([ "$PEER" = off ] || echo ", node $(node -v)")"
  echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after. The servers, PostgreSQL, Redis and the load generator share these cores; a load above 2 means other work was running too, and the figures are lower and noisier than on a quiet machine."
  echo "- the three services ran with the defaults${SERVER_ENV:+ except $SERVER_ENV} (see bench/compare.sh for why); today's design with ${TODAY_ENV:-nothing else}"
  if [ "$PEER" = off ]; then
    echo "- apollo: not run (PEER=off)"
  else
    echo "- apollo: the peer of ../shared/peers/apollo as it ships, $PEER_WORKERS workers (node:cluster), its own database with the same number of products (its seed.js), Redis db ${PEER_REDIS##*/}; the same requests as the service gets (it ignores the admin token of \`mixed\`); its CPU is its primary's and workers' together"
  fi
  echo "- server warnings logged: defaults $(warnings on); today's design $(warnings today); cache off $(warnings off)$([ "$PEER" = off ] || echo "; apollo $(grep -ci 'error' "$OUT/apollo.log" || true) lines with an error")"
  echo "- floor reference: $wrk_line"
  echo
} >"$OUT/machine.md"
"$OUT/bench" report -out docs/BENCHMARKS.md -chart docs/benchmarks.png -machine "$OUT/machine.md" "${files[@]}"
echo "wrote docs/BENCHMARKS.md and docs/benchmarks.png; logs and JSON in $OUT" >&2
