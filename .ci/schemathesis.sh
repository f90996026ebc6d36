#!/usr/bin/env bash
# A bounded schemathesis run against a freshly seeded server: every answer
# must be documented (status, content type, schema) and none may be a 5xx.
#
# Starts the debug binary on a free port with a temporary SQLite data
# directory, signs up three users, each owning a tenant with a collection,
# and runs schemathesis over /openapi.json three times, each with its own
# bearer token:
#   1. every operation but those below, as st-first;
#   2. the ones that delete the seeded tenant or collection, as st-second;
#   3. the ones that end the caller's session (logout, and revoking a
#      session, whose id schemathesis learns from GET /v1/me/sessions), as
#      st-third.
# Otherwise a run would lose its data or its token part-way and test little
# but 401 and 404 from then on.
# Schemathesis comes from PyPI into a venv under target/ when it is not on
# PATH. Under CI=true a schemathesis that cannot be had fails the run;
# elsewhere the run is skipped with a message.
#
# Bounds: at most ST_MAX_EXAMPLES cases per operation, ST_MAX_TIME seconds
# for run 1 and ST_MAX_TIME_SMALL for runs 2 and 3 (defaults below; the
# fuzzing phase repeats until its time is spent): about four minutes.
set -euo pipefail
# A failed seeding step inside $(...) must stop the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

ST_VERSION=${ST_VERSION:-4.32.5}
ST_MAX_EXAMPLES=${ST_MAX_EXAMPLES:-40}
ST_MAX_TIME=${ST_MAX_TIME:-120}
# Runs 2 and 3 cover two operations each: less time does.
ST_MAX_TIME_SMALL=${ST_MAX_TIME_SMALL:-40}
venv=${ST_VENV:-target/schemathesis-venv}

skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "schemathesis: $*" >&2
    exit 1
  fi
  echo "schemathesis: $*; skipped (outside CI only)" >&2
  exit 0
}

find_schemathesis() {
  if [ -x "$venv/bin/schemathesis" ]; then
    echo "$venv/bin/schemathesis"
  elif command -v schemathesis >/dev/null 2>&1; then
    command -v schemathesis
  else
    return 1
  fi
}

if ! st=$(find_schemathesis); then
  echo "installing schemathesis $ST_VERSION into $venv"
  python3 -m venv "$venv" >/dev/null 2>&1 || skip_or_fail "python3 cannot make a venv"
  "$venv/bin/pip" install -q "schemathesis==$ST_VERSION" || skip_or_fail "pip install failed"
  st="$venv/bin/schemathesis"
fi

cargo build --locked --quiet --bin bulkhead
bin=${CARGO_TARGET_DIR:-target}/debug/bulkhead

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A clean settings environment, as the end-to-end tests use.
for name in $(env | sed -n 's/^\(BULKHEAD_[A-Z0-9_]*\)=.*/\1/p'); do unset "$name"; done

# Generous limits: schemathesis sends hundreds of requests a minute as one
# user from one address. They are still counted, so the RateLimit-*
# headers are sent and checked against the document.
BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS=1000000 BULKHEAD_RATE_LIMIT_PER_PRINCIPAL=1000000 \
  "$bin" serve --addr 127.0.0.1:0 --data-dir "$work/data" --log warn >"$work/server.log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 1 600); do
  base=$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/server.log" | head -n 1)
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "schemathesis: the server did not start" >&2; exit 1; }
echo "server at $base"

# Prints the access token of a new user who owns tenant $2 with a
# collection `tasks`.
seed() {
  local email=$1 tenant=$2 token
  token=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"schemathesis passphrase 1\"}" \
    "$base/v1/auth/signup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -fsS -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"slug\":\"$tenant\",\"name\":\"Schemathesis\"}" "$base/v1/tenants"
  curl -fsS -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name":"tasks","visibility":"tenant","fields":[{"name":"title","type":"text","required":true},{"name":"n","type":"integer"}]}' \
    "$base/v1/tenants/$tenant/collections"
  echo "$token"
}

first=$(seed st-first@example.com st-first)
second=$(seed st-second@example.com st-second)
third=$(seed st-third@example.com st-third)

deleting='DELETE /v1/tenants/\{t\}|DELETE /v1/tenants/\{t\}/collections/\{name\}'
ending='POST /v1/auth/logout|DELETE /v1/me/sessions/\{id\}'

run() {
  local token=$1 tenant=$2 max_time=$3 report=$4
  shift 4
  BULKHEAD_ST_TENANT=$tenant BULKHEAD_ST_COLLECTION=tasks \
    "$st" --config-file .ci/schemathesis.toml run "$base/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$ST_MAX_EXAMPLES" --max-time "$max_time" \
    --workers 2 --seed 17 --no-color \
    --report junit --report-junit-path "$work/$report.xml" \
    "$@"
}

status=0
echo "== schemathesis 1/3: every operation but those of runs 2 and 3, as st-first"
run "$first" st-first "$ST_MAX_TIME" run1 --exclude-name-regex "^($deleting|$ending)\$" || status=$?
echo "== schemathesis 2/3: deleting the tenant and the collection, as st-second"
run "$second" st-second "$ST_MAX_TIME_SMALL" run2 --include-name-regex "^($deleting)\$" || status=$?
echo "== schemathesis 3/3: ending the session, as st-third"
run "$third" st-third "$ST_MAX_TIME_SMALL" run3 --include-name-regex "^($ending)\$" || status=$?
if grep -q 'panicked' "$work/server.log"; then
  echo "schemathesis: the server panicked:" >&2
  grep 'panicked' "$work/server.log" >&2
  status=1
fi
exit "$status"
