#!/usr/bin/env bash
# Starts a Redis Cluster on loopback for the tests, unless it is up already:
# three masters and three replicas on ports FIRST..FIRST+5 (default
# 7001..7006), without persistence. Idempotent and safe to run concurrently
# (a lock serializes runs). Prints the cluster's URL on its last line.
#
#   .ci/redis-cluster.sh          # 7001..7006
#   .ci/redis-cluster.sh 7011     # 7011..7016, a second cluster
#
# Nodes that are running keep their data; a node that was stopped is started
# again with its cluster config and rejoins. Only a cluster that cannot
# reach a healthy state is reset (its own nodes only, never 6379).
set -euo pipefail

first=${1:-7001}
ports=$(seq "$first" $((first + 5)))
dir=${REDIS_CLUSTER_DIR:-/var/lib/redis-cluster}/$first
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

cli() { redis-cli -h 127.0.0.1 -p "$@"; }
info() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | grep "^$2:" | cut -d: -f2; }

# healthy: every node answers, sees six nodes and all slots, says ok, and
# every replica has its master link up.
healthy() {
  for p in $ports; do
    [ "$(info "$p" cluster_state)" = ok ] || return 1
    [ "$(info "$p" cluster_known_nodes)" = 6 ] || return 1
    [ "$(info "$p" cluster_slots_ok)" = 16384 ] || return 1
    if cli "$p" info replication 2>/dev/null | grep -q '^role:slave'; then
      cli "$p" info replication | grep -q '^master_link_status:up' || return 1
    fi
  done
}

wait_healthy() {
  for _ in $(seq 1 "$1"); do
    healthy && return 0
    sleep 0.5
  done
  return 1
}

url() {
  echo "redis+cluster://127.0.0.1:$first,127.0.0.1:$((first + 1)),127.0.0.1:$((first + 2))/"
}

if healthy; then
  echo "redis cluster on $first..$((first + 5)): up"
  url
  exit 0
fi

for p in $ports; do
  if ! cli "$p" ping >/dev/null 2>&1; then
    redis-server --port "$p" --bind 127.0.0.1 --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" --cluster-node-timeout 5000 \
      --save "" --appendonly no --dir "$dir" --logfile "$dir/$p.log" 9>&-
  fi
done
for p in $ports; do
  for _ in $(seq 1 50); do cli "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  cli "$p" ping >/dev/null
done

create() {
  # shellcheck disable=SC2046
  redis-cli --cluster create $(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done) \
    --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 || { cat "$dir/create.log"; return 1; }
}

if [ "$(info "$first" cluster_slots_assigned)" = 16384 ]; then
  # Restarted nodes rejoin from their config files.
  wait_healthy 40 || true
elif [ "$(info "$first" cluster_known_nodes)" = 1 ]; then
  create
fi

if ! wait_healthy 60; then
  echo "redis cluster on $first..$((first + 5)) is not healthy; resetting its nodes" >&2
  for p in $ports; do
    cli "$p" flushall >/dev/null 2>&1 || true
    cli "$p" cluster reset hard >/dev/null
  done
  create
  wait_healthy 60 || { for p in $ports; do cli "$p" cluster info | head -3; done; exit 1; }
fi
echo "redis cluster on $first..$((first + 5)): started"
url
