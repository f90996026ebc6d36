#!/usr/bin/env python3
"""Seed a running Bulkhead with the multi-tenant notes workload
(benches/peer/workload.md), check its access rules, and write the load
generator's inputs (target.env, fixtures.tsv) for benches/peer/measure.py.
Used by benches/compare.sh and benches/scale.sh.  Standard library only.

    bench_seed.py seed  --base URL --out-dir DIR [--tenants 100 --users 1000
                        --notes 100000 --pool 50 --concurrency 16]
    bench_seed.py login --base URL --out-dir DIR   # fresh pool tokens, rewrites fixtures.tsv
    bench_seed.py check --base URL --out-dir DIR   # access rules, before measuring

Data (workload.md): user j is user{j:04d}@bench.local; note i lives in tenant
i mod T, k = i div T, is created by member (k mod m) of that tenant (m = its
number of members), title "note {i}", the fixed 200-char body, n = k mod 1000.
Membership: with T <= U users, tenant t has the U/T users t*U/T ..; with
T > U (the scale series), tenant t's only member is user t mod U, so each user
belongs to about T/U tenants.  A tenant's first member signs up, creates it and
is its owner; the others join through an invitation they accept themselves.

Writes into --out-dir:
    seed.json      timings, method, counts (seed)
    state.json     the pool: emails, user ids, tenants, own and foreign note ids (seed)
    target.env     Bulkhead's URL scheme for workload.lua (seed)
    fixtures.tsv   token, user id, tenant slug, own note ids, foreign note ids (seed, login)
    check.json     results of the access checks (check)
"""
import argparse
import http.client
import json
import os
import queue
import random
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer")
PEER_TARGET = os.path.join(PEER, "target.env")
# target.env files are read exactly as the load generator reads them
sys.path.insert(0, PEER)
from measure import read_target  # noqa: E402
# 12+ characters and not on the common-password list (Bulkhead's policy)
PASSWORD = "bench-pass-123456"
# access tokens live 15 minutes; renew well before that so that a long seed
# never sends an expired one
TOKEN_MAX_AGE_S = 12 * 60
COLLECTION = "notes"
RECORDS = "/v1/tenants/{tenant}/collections/notes/records"
LIST_LIMIT = 20
FOREIGN_IDS = 200


def peer_body_text():
    """The 200-char note body, taken from PocketBase's target.env so that both
    servers store and send exactly the same text."""
    body = read_target(PEER_TARGET)["W_CREATE_BODY"]
    body = body.replace("{tenant}", "").replace("{user}", "").replace("{n}", "0")
    return json.loads(body)["body"]


BODY_TEXT = peer_body_text()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", file=sys.stderr, flush=True)


class ApiError(Exception):
    pass


class Client:
    """One keep-alive HTTP/1.1 connection; one per thread."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def req(self, method, path, body=None, token=None, extra_headers=None):
        headers = dict(extra_headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = raw.decode(errors="replace")
                return r.status, parsed
            except (http.client.HTTPException, ConnectionError, OSError):
                # a keep-alive connection the server closed while idle fails
                # on its next use, before the server saw the request: retry on
                # a fresh one (the final row counts catch a double create)
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)


def expect(status, body, what, ok=(200,)):
    if status not in ok:
        raise ApiError(f"{what}: HTTP {status}: {json.dumps(body)[:400]}")
    return body


def run_parallel(base, items, fn, workers, label=None, unit=1):
    """fn(client, item) over items with `workers` threads, each on its own
    keep-alive connection; results in item order.  The first error stops all
    workers and is raised.  With a label, progress is logged every 10 s,
    counting `unit` per item (an item may stand for a chunk of creates)."""
    results = [None] * len(items)
    todo = queue.Queue()
    for i, item in enumerate(items):
        todo.put((i, item))
    errors = []
    done = [0]
    t0 = time.time()

    def worker():
        client = Client(base)
        while not errors:
            try:
                i, item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = fn(client, item)
                done[0] += unit  # races only blur the progress line
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                errors.append(e)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, workers))]
    for t in threads:
        t.start()
    next_report = t0 + 10
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        if label and time.time() >= next_report:
            rate = done[0] / (time.time() - t0)
            log(f"  {label}: {done[0]}/{len(items) * unit} ({rate:.0f}/s)")
            next_report += 10
    if errors:
        raise errors[0]
    return results


class Tokens:
    """Access tokens by user index, renewed by a fresh login when they near
    their 15-minute expiry (a 1M-note seed outlasts one token)."""

    def __init__(self, base):
        self.base = base
        self.tokens = {}
        self.locks = {}
        self.guard = threading.Lock()

    def put(self, j, token):
        self.tokens[j] = (token, time.time())

    def get(self, client, j, force=False):
        token, at = self.tokens.get(j, (None, 0.0))
        if not force and token and time.time() - at < TOKEN_MAX_AGE_S:
            return token
        with self.guard:
            lock = self.locks.setdefault(j, threading.Lock())
        with lock:
            token2, at2 = self.tokens.get(j, (None, 0.0))
            if token2 and token2 != token and time.time() - at2 < TOKEN_MAX_AGE_S:
                return token2  # another thread renewed it meanwhile
            self.put(j, login(client, j))
            return self.tokens[j][0]


def email(j):
    return f"user{j:04d}@bench.local"


def slug(t):
    return f"tenant-{t}"


def login(client, j):
    st, b = client.req("POST", "/v1/auth/login", {"email": email(j), "password": PASSWORD})
    return expect(st, b, f"login {email(j)}")["access_token"]


def members_of(t, tenants, users):
    """User indexes of tenant t; the first is its owner (see the module doc)."""
    if tenants <= users:
        per = users // tenants
        return list(range(t * per, (t + 1) * per))
    return [t % users]


def tenant_of_pool_user(j, tenants, users):
    """The one tenant a pool user is listed with in the fixtures: its first."""
    if tenants <= users:
        return j // (users // tenants)
    return j  # tenant j's only member is user j mod users = j


def note_of(i, tenants, members):
    """(tenant, k, owner user, JSON body) of note i (workload.md)."""
    t, k = i % tenants, i // tenants
    body = {"title": f"note {i}", "body": BODY_TEXT, "n": k % 1000}
    return t, k, members[t][k % len(members[t])], body


def collection_definition():
    return {
        "name": COLLECTION, "visibility": "tenant", "indexes": [["n"]],
        "fields": [{"name": "title", "type": "text"}, {"name": "body", "type": "text"},
                   {"name": "n", "type": "integer"}],
    }


def write_target_env(out_dir):
    """Bulkhead's URL scheme for workload.lua; tenant and owner come from the
    path and the caller, so the create body carries the data fields only."""
    records = RECORDS
    body = json.dumps({"title": "bench note", "body": BODY_TEXT, "n": 0},
                      separators=(",", ":")).replace('"n":0', '"n":{n}')
    lines = [
        "# Bulkhead's URL scheme of the workload (read by measure.py; see peer/workload.md).",
        "# Written by benches/bench_seed.py. Default list order is newest first (-created_at);",
        "# list answers are cursor pages without a total count.",
        'W_AUTH_PREFIX="Bearer "',
        f"W_GET_PATH={records}/{{id}}",
        f"W_LIST_PATH={records}?limit={LIST_LIMIT}",
        f"W_LIST_FILTER_PATH={records}?limit={LIST_LIMIT}&filter="
        + urllib.parse.quote("n > 500", safe=""),
        f"W_CREATE_PATH={records}",
        f"W_CREATE_BODY={body}",
    ]
    with open(os.path.join(out_dir, "target.env"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_fixtures(out_dir, pool, tokens):
    """fixtures.tsv in workload.md's layout, replaced atomically."""
    path = os.path.join(out_dir, "fixtures.tsv")
    with open(path + ".tmp", "w") as f:
        for p, token in zip(pool, tokens):
            f.write("\t".join([token, p["user_id"], p["slug"], ",".join(p["own"]),
                               ",".join(fid for _, fid in p["foreign"])]) + "\n")
    os.replace(path + ".tmp", path)


def login_pool(base, pool, workers=8):
    """Fresh tokens for the pool, so a measured run never meets an expiry."""
    return run_parallel(base, pool, lambda c, p: login(c, p["j"]), workers)


# ---------------------------------------------------------------- seed --

def seed(args):
    T, U, R = args.tenants, args.users, args.notes
    if T <= U and U % T:
        sys.exit(f"--users ({U}) must be a multiple of --tenants ({T}) when tenants <= users")
    if R < T:
        sys.exit(f"--notes ({R}) must be at least --tenants ({T}): every tenant needs a note")
    if U < args.pool or U % args.pool:
        sys.exit(f"--users ({U}) must be a multiple of --pool ({args.pool})")
    os.makedirs(args.out_dir, exist_ok=True)
    members = [members_of(t, T, U) for t in range(T)]
    tokens = Tokens(args.base)
    timings = {}
    t_all = time.time()
    W = args.concurrency

    log(f"seeding {T} tenants, {U} users, {R} notes with {W} connections")
    t0 = time.time()

    def signup(c, j):
        st, b = c.req("POST", "/v1/auth/signup",
                      {"email": email(j), "password": PASSWORD, "display_name": f"user {j}"})
        b = expect(st, b, f"signup {email(j)}", ok=(201,))
        tokens.put(j, b["access_token"])
        return b["user"]["id"]

    user_ids = run_parallel(args.base, list(range(U)), signup, W, "signups")
    timings["users_s"] = time.time() - t0
    timings["users_per_s"] = U / timings["users_s"]
    log(f"  users: {timings['users_s']:.1f} s ({timings['users_per_s']:.0f}/s)")

    t0 = time.time()

    def create_tenant(c, t):
        owner = members[t][0]
        st, b = c.req("POST", "/v1/tenants", {"slug": slug(t), "name": f"tenant {t}"},
                      token=tokens.get(c, owner))
        expect(st, b, f"create tenant {t}", ok=(201,))

    run_parallel(args.base, list(range(T)), create_tenant, W, "tenants")
    timings["tenants_s"] = time.time() - t0

    t0 = time.time()

    def join(c, tj):
        t, j = tj
        st, b = c.req("POST", f"/v1/tenants/{slug(t)}/invitations",
                      {"email": email(j), "role": "member"}, token=tokens.get(c, members[t][0]))
        invite = expect(st, b, f"invite {email(j)} to tenant {t}", ok=(201,))
        st, b = c.req("POST", "/v1/invitations/accept", {"token": invite["token"]},
                      token=tokens.get(c, j))
        expect(st, b, f"accept invitation of {email(j)} to tenant {t}")

    joins = [(t, j) for t in range(T) for j in members[t][1:]]
    run_parallel(args.base, joins, join, W, "memberships")
    timings["memberships_s"] = time.time() - t0
    timings["memberships"] = len(joins)

    t0 = time.time()

    def create_collection(c, t):
        st, b = c.req("POST", f"/v1/tenants/{slug(t)}/collections", collection_definition(),
                      token=tokens.get(c, members[t][0]))
        expect(st, b, f"create collection in tenant {t}", ok=(201,))

    run_parallel(args.base, list(range(T)), create_collection, W, "collections")
    timings["collections_s"] = time.time() - t0

    # notes: ids land in ids[t][k], so every tenant's list is in creation order
    t0 = time.time()
    ids = [[None] * ((R - t + T - 1) // T) for t in range(T)]
    chunk = 200  # a queue item per 200 notes keeps the queue cheap at 1M

    def create_notes(c, start):
        for i in range(start, min(start + chunk, R)):
            t, k, owner, body = note_of(i, T, members)
            path = RECORDS.format(tenant=slug(t))
            st, b = c.req("POST", path, body, token=tokens.get(c, owner))
            if st == 401:  # an expired token: log in again once
                st, b = c.req("POST", path, body, token=tokens.get(c, owner, force=True))
            ids[t][k] = expect(st, b, f"create note {i}", ok=(201,))["id"]
        return min(start + chunk, R) - start

    run_parallel(args.base, list(range(0, R, chunk)), create_notes, W, "notes", unit=chunk)
    timings["notes_s"] = time.time() - t0
    timings["notes_per_s"] = R / timings["notes_s"] if timings["notes_s"] else 0
    log(f"  notes: {timings['notes_s']:.1f} s ({timings['notes_per_s']:.0f}/s)")

    # the pool: user j = (U/pool)*k, listed with its first tenant; 200 foreign
    # ids, each from a tenant drawn among those user j is not a member of
    # (with T > U a user belongs to T/U tenants, which are not foreign to it)
    rnd = random.Random(42)
    step = U // args.pool
    pool = []
    for k in range(args.pool):
        j = k * step
        t = tenant_of_pool_user(j, T, U)
        foreign = []
        while len(foreign) < FOREIGN_IDS:
            ft = rnd.randrange(T)
            if j in members_of(ft, T, U):
                continue
            foreign.append((ft, rnd.choice(ids[ft])))
        pool.append({"j": j, "email": email(j), "user_id": user_ids[j], "tenant": t,
                     "slug": slug(t), "own": ids[t], "foreign": foreign})
    t0 = time.time()
    pool_tokens = login_pool(args.base, pool)
    timings["pool_login_s"] = time.time() - t0
    timings["seed_total_s"] = time.time() - t_all

    with open(os.path.join(args.out_dir, "state.json"), "w") as f:
        json.dump({"tenants": T, "users": U, "notes": R, "pool": pool}, f)
    write_target_env(args.out_dir)
    write_fixtures(args.out_dir, pool, pool_tokens)
    out = {
        "method": (f"HTTP API, {W} concurrent keep-alive connections: single signups, tenant "
                   "creates, invitation + accept per extra member, one collection per "
                   "tenant, single record creates"),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "counts": {"tenants": T, "users": U, "notes": R, "pool": args.pool,
                   "memberships": sum(len(m) for m in members)},
        "concurrency": W,
    }
    with open(os.path.join(args.out_dir, "seed.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({"timings": out["timings"], "counts": out["counts"]}))


# --------------------------------------------------------------- login --

def load_state(out_dir):
    with open(os.path.join(out_dir, "state.json")) as f:
        return json.load(f)


def relogin(args):
    state = load_state(args.out_dir)
    t0 = time.time()
    write_fixtures(args.out_dir, state["pool"], login_pool(args.base, state["pool"]))
    log(f"  pool of {len(state['pool'])} logged in afresh in {time.time() - t0:.1f} s")


# --------------------------------------------------------------- check --

def list_all_ids(c, tenant_slug, token):
    """Every record id of a tenant's notes, through the cursor pages."""
    seen, cursor = [], ""
    while True:
        path = RECORDS.format(tenant=tenant_slug) + "?limit=100"
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor, safe="")
        st, b = c.req("GET", path, token=token)
        b = expect(st, b, "page through the list")
        seen += [it["id"] for it in b["items"]]
        cursor = b.get("next_cursor")
        if not cursor or not b["items"]:
            return seen


def check_pool_user(c, p, token, problems):
    """The reads of the workload, with what each must answer."""
    own = set(p["own"])
    records = RECORDS.format(tenant=p["slug"])
    want = min(LIST_LIMIT, len(own))
    st, b = c.req("GET", records + f"?limit={LIST_LIMIT}", token=token)
    items = expect(st, b, "list")["items"]
    if len(items) != want:
        problems.append(f"{p['email']}: list has {len(items)} items, want {want}")
    if any(it["id"] not in own for it in items):
        problems.append(f"{p['email']}: list holds a note of another tenant")
    stamps = [it["created_at"] for it in items]
    if stamps != sorted(stamps, reverse=True):
        problems.append(f"{p['email']}: the default list order is not newest first")
    st, b = c.req("GET", records + f"?limit={LIST_LIMIT}&filter="
                  + urllib.parse.quote("n > 500", safe=""), token=token)
    items = expect(st, b, "filtered list")["items"]
    k_max = len(own)  # notes of a tenant have k = 0..len-1, n = k mod 1000
    want_f = min(LIST_LIMIT, sum(1 for k in range(k_max) if k % 1000 > 500))
    if len(items) != want_f or any(it["data"]["n"] <= 500 or it["id"] not in own
                                   for it in items):
        problems.append(f"{p['email']}: filtered list wrong ({len(items)} items, want {want_f})")
    st, _ = c.req("GET", f"{records}/{p['own'][0]}", token=token)
    if st != 200:
        problems.append(f"{p['email']}: own note -> {st}")
    for ft, fid in p["foreign"][:5]:
        st, _ = c.req("GET", f"{records}/{fid}", token=token)
        if st != 404:
            problems.append(f"{p['email']}: foreign note -> {st} (want 404)")
        st, _ = c.req("GET", RECORDS.format(tenant=slug(ft)) + f"/{fid}", token=token)
        if st != 404:
            problems.append(f"{p['email']}: foreign note through its tenant -> {st} (want 404)")
    return p["foreign"][0][0]


def check_writes(c, p, token, foreign_tenant, problems):
    """Create rules, once: into another tenant is refused, an own create works
    (and is deleted again, so the reads keep seeing exactly R notes)."""
    body = {"title": "check", "body": "x", "n": 1}
    st, _ = c.req("POST", RECORDS.format(tenant=slug(foreign_tenant)), body, token=token)
    if st not in (403, 404):
        problems.append(f"create into another tenant -> {st} (want 404)")
    st, _ = c.req("GET", RECORDS.format(tenant=slug(foreign_tenant)), token=token)
    if st != 404:
        problems.append(f"list of another tenant -> {st} (want 404)")
    st, _ = c.req("GET", RECORDS.format(tenant=p["slug"]))
    if st != 401:
        problems.append(f"anonymous list -> {st} (want 401)")
    st, b = c.req("POST", RECORDS.format(tenant=p["slug"]), body, token=token)
    if st != 201:
        problems.append(f"own create -> {st}")
        return
    st, _ = c.req("DELETE", RECORDS.format(tenant=p["slug"]) + f"/{b['id']}", token=token)
    if st not in (200, 204):
        problems.append(f"delete of the check note -> {st}; the tenant now has one note more")


def check(args):
    state = load_state(args.out_dir)
    c = Client(args.base)
    problems = []
    pool = state["pool"]
    tokens = login_pool(args.base, pool)
    foreign_tenant = None
    for p, token in zip(pool, tokens):
        foreign_tenant = check_pool_user(c, p, token, problems)
    check_writes(c, pool[0], tokens[0], foreign_tenant, problems)
    # row count of one tenant, by paging (the list has no total count)
    listed = list_all_ids(c, pool[0]["slug"], tokens[0])
    if sorted(listed) != sorted(pool[0]["own"]):
        problems.append(f"tenant {pool[0]['slug']} lists {len(listed)} notes, "
                        f"seeded {len(pool[0]['own'])}")
    out = {"ok": not problems, "problems": problems, "pool_users_checked": len(pool)}
    with open(os.path.join(args.out_dir, "check.json"), "w") as f:
        json.dump(out, f, indent=1)
    if problems:
        sys.exit("access checks failed: " + "; ".join(problems[:10]))
    log(f"  access checks passed ({len(pool)} pool users)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["seed", "login", "check"])
    ap.add_argument("--base", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--pool", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    try:
        {"seed": seed, "login": relogin, "check": check}[args.command](args)
    except ApiError as e:
        sys.exit(f"bench_seed.py {args.command}: {e}")


if __name__ == "__main__":
    main()
