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
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"
# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
WORK=$(mktemp -d)
trap 'stop_started; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# The probe gives every request its own client address through
# X-Forwarded-For, so the server trusts the local proxy.
export BULKHEAD_TRUSTED_PROXIES=127.0.0.1
install_wrk
build_bulkhead

measure() {
  local name=$1
  python3 benches/identity_probe.py "$BH_BASE" "$WORK/token-$name"
  local token
  token=$(cat "$WORK/token-$name")
  run_wrk -H "Authorization: Bearer $token" "$BH_BASE/v1/me"
  echo "GET /v1/me ($name, wrk -t2 -c$CONNECTIONS -d$DURATION): ${RPS} req/s, p50 ${P50}, p99 ${P99}, non-2xx ${NON2XX}"
}

machine_line
on_each_backend "$WORK" measure
