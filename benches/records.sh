#!/usr/bin/env bash
# Records over HTTP on this machine: single-record GET, list of 20, and
# create throughput, with wrk, after seeding records through the API.
#
#   benches/records.sh             # SQLite (a fresh file in a temp dir)
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benches/records.sh
#                                  # also PostgreSQL (a fresh database, served as the runtime role)
#
# Needs wrk (Debian package `wrk`). Stops only what it started; every load
# is bounded in time. SEED records are created first (default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
SEED=${SEED:-10000}
command -v wrk >/dev/null || { echo "install wrk first (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet
BIN=$PWD/target/release/bulkhead
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() {
  local log=$WORK/server-$1.log
  shift
  BULKHEAD_LOG=warn "$BIN" serve --addr 127.0.0.1:0 "$@" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    ADDR=$(grep -m1 -o 'http://[0-9.:]*' "$log" 2>/dev/null || true)
    [ -n "$ADDR" ] && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

run_wrk() {
  local label=$1
  shift
  local out rps p50 p99 non2xx
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

measure() {
  local name=$1
  python3 benches/records_seed.py "$ADDR" "$SEED" "$WORK/seed-$name"
  # shellcheck disable=SC1090
  source "$WORK/seed-$name"
  local auth="Authorization: Bearer $TOKEN"
  echo "== $name ($SEED records seeded; wrk -t2 -c$CONNECTIONS -d$DURATION)"
  run_wrk "GET one record" -H "$auth" "$ADDR/v1/tenants/bench/collections/notes/records/$RECORD_ID"
  run_wrk "GET list of 20 (newest first)" -H "$auth" "$ADDR/v1/tenants/bench/collections/notes/records?limit=20"
  run_wrk "GET list of 20, filter n > 500" -H "$auth" "$ADDR/v1/tenants/bench/collections/notes/records?limit=20&filter=n%20%3E%20500&sort=-n"
  cat >"$WORK/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"title":"bench note","n":42}'
LUA
  run_wrk "POST create" -s "$WORK/create.lua" "$ADDR/v1/tenants/bench/collections/notes/records"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
start_server sqlite --data-dir "$WORK/sqlite"
measure sqlite
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

if [ -n "${BULKHEAD_BENCH_DATABASE_URL:-}" ]; then
  db=bulkhead_bench_records_$$
  psql "$BULKHEAD_BENCH_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
  owner_url=${BULKHEAD_BENCH_DATABASE_URL%/*}/$db
  app_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(netloc="bulkhead_app@" + p.netloc.split("@")[-1])))' "$owner_url")
  "$BIN" migrate --database-url "$owner_url" >/dev/null
  start_server postgres --database-url "$app_url"
  measure postgres
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  psql "$BULKHEAD_BENCH_DATABASE_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
fi
