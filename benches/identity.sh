#!/usr/bin/env bash
# Identity figures on this machine: login latency (median of 100, Argon2id
# m=19456 KiB, t=2, p=1), unknown-email vs wrong-password timing (A4), and
# authenticated GET /v1/me throughput with wrk.
#
#   benches/identity.sh            # SQLite (a fresh file in a temp dir)
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benches/identity.sh
#                                  # also PostgreSQL: a fresh database, migrated, served as the runtime role
#
# Needs wrk (Debian package `wrk`; installed when missing and we are root).
# Stops only the processes it started; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk first" >&2; exit 1; fi
fi
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

# Starts the server with the given extra arguments; sets ADDR.
start_server() {
  local log=$WORK/server-$1.log
  shift
  BULKHEAD_TRUSTED_PROXIES=127.0.0.1 BULKHEAD_LOG=warn "$BIN" serve --addr 127.0.0.1:0 "$@" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    ADDR=$(grep -m1 -o 'http://[0-9.:]*' "$log" 2>/dev/null || true)
    [ -n "$ADDR" ] && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "server did not start" >&2
  return 1
}

measure() {
  local name=$1
  python3 benches/identity_probe.py "$ADDR" "$WORK/token-$name"
  local token
  token=$(cat "$WORK/token-$name")
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$ADDR/v1/me")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "GET /v1/me ($name, wrk -t2 -c$CONNECTIONS -d$DURATION): ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${non2xx:-0}"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
start_server sqlite --data-dir "$WORK/sqlite"
measure sqlite

if [ -n "${BULKHEAD_BENCH_DATABASE_URL:-}" ]; then
  db=bulkhead_bench_$$
  psql "$BULKHEAD_BENCH_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
  owner_url=${BULKHEAD_BENCH_DATABASE_URL%/*}/$db
  app_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(netloc="bulkhead_app@" + p.netloc.split("@")[-1])))' "$owner_url")
  "$BIN" migrate --database-url "$owner_url" >/dev/null
  start_server postgres --database-url "$app_url"
  measure postgres
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  psql "$BULKHEAD_BENCH_DATABASE_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
fi
