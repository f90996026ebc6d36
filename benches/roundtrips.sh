#!/usr/bin/env bash
# Round trips from Bulkhead to PostgreSQL per record create and per record
# read, counted on the wire.
#
#   benches/roundtrips.sh
#   CREATES=500 READS=500 benches/roundtrips.sh
#
# Makes a fresh database bulkhead_bench_roundtrips_<pid> on
# BULKHEAD_BENCH_DATABASE_URL's server (migrated as its owner, as compare.sh
# does), starts benches/pg_roundtrips.py's counting proxy in front of that
# server and Bulkhead (release build) on the database as the runtime role
# bulkhead_app through the proxy, with sslmode=disable so that the protocol
# can be read. Then pg_roundtrips.py signs up, creates a tenant and a
# collection, warms up, and counts CREATES creates and READS reads made one at
# a time: a round trip is a Sync or a simple Query the server sends (see
# pg_roundtrips.py). Prints the figures and the round trips of one create
# with their statements; the JSON goes to the run directory under the bench
# cache.
#
# Knobs (environment):
#   CREATES=200  READS=200  WARMUP=50
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (owner)
#   BENCH_CACHE=<repo>/target/bench-cache
#
# Stops only the processes it started and drops the database it created.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CREATES="${CREATES:-200}"
READS="${READS:-200}"
WARMUP="${WARMUP:-50}"
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"

# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
trap stop_started EXIT
trap 'stop_started; exit 130' INT TERM

pg_reachable || { log "PostgreSQL at ${PG_BASE_URL%%\?*} is unreachable"; exit 1; }
build_bulkhead
RUN_DIR="$CACHE/roundtrips/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"

DB="bulkhead_bench_roundtrips_$$"
pg_create_db "$DB"

# the proxy, in front of the database's server; it writes its addresses when it listens
read -r pg_host pg_port <<<"$(url_server "$PG_APP_URL")"
python3 "$ROOT/benches/pg_roundtrips.py" proxy --upstream "$pg_host:$pg_port" \
  --ready "$RUN_DIR/proxy.addr" >"$RUN_DIR/proxy.log" 2>&1 &
PROXY_PID=$!
STARTED_PIDS+=("$PROXY_PID")
for _ in $(seq 1 100); do
  [ -s "$RUN_DIR/proxy.addr" ] && break
  kill -0 "$PROXY_PID" 2>/dev/null || { cat "$RUN_DIR/proxy.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$RUN_DIR/proxy.addr" ] || { log "the proxy did not start within 10 s"; exit 1; }
read -r proxy_addr _ control_addr <"$RUN_DIR/proxy.addr"

# the runtime role's URL, through the proxy and in plain text
url="$(url_with "$PG_APP_URL" "" "${proxy_addr%:*}" "${proxy_addr##*:}" "")"
if [[ "$url" == *\?* ]]; then url+="&sslmode=disable"; else url+="?sslmode=disable"; fi
start_bulkhead "$RUN_DIR/server.log" --database-url "$url"
log "Bulkhead: pid $BH_PID at $BH_BASE, PostgreSQL through the counting proxy at $proxy_addr"

run_child python3 "$ROOT/benches/pg_roundtrips.py" count --base "$BH_BASE" \
  --control "$control_addr" --creates "$CREATES" --reads "$READS" --warmup "$WARMUP" \
  --json "$RUN_DIR/roundtrips.json"
log "figures in $RUN_DIR/roundtrips.json; commit $(git -C "$ROOT" rev-parse --short HEAD)"
