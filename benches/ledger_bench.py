#!/usr/bin/env python3
"""The ledger workloads of benches/ledger.sh: seeds a running Bulkhead with
one tenant's accounts, measures transfers with wrk (benches/ledger.lua), and
writes the report. Standard library only; the HTTP client and the wrk
conventions are benches/bench_seed.py's and benches/peer/measure.py's.

    ledger_bench.py seed    --base URL --out-dir DIR [--accounts 100 --concurrency 16]
    ledger_bench.py measure --base URL --pid PID --out-dir DIR --mode pairs|hot
                            --out FILE [--threads 2 --conns 32 --duration 20
                            --warmup 5 --timeout 30]
    ledger_bench.py report  --run-dir DIR --out-md FILE --out-json FILE
                            --started T --command C --commit C

seed: an owner (ledger@bench.local), tenant `ledger`, a house account (which
may go negative) and ACCOUNTS + 2 wallets in USD, each funded from the house
with 1,000,000.00, so that no transfer of the workloads lacks funds. Writes
into DIR: accounts.txt (the ACCOUNTS wallets of `pairs`), hot.txt (the two
wallets of `hot`), state.json (slug, house).

measure: a fresh token, a warm-up, a wait until the server is idle, the
measured run, and a wait until it is idle again. Every request has a key of
its own (the run's prefix, wrk's thread, its number), so each is a transfer.
Every answer but 201 counts as an error, and so does a socket error.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peer"))
from bench_seed import PASSWORD, Client, expect, log, run_parallel  # noqa: E402
from measure import drain, proc_cpu_s  # noqa: E402

OWNER = "ledger@bench.local"
TENANT = "ledger"
FUNDING = "1000000.00"
TRANSFERS = f"/v1/tenants/{TENANT}/ledger/transfers"


def login(client):
    st, b = client.req("POST", "/v1/auth/login", {"email": OWNER, "password": PASSWORD})
    return expect(st, b, f"login {OWNER}")["access_token"]


def seed(args):
    os.makedirs(args.out_dir, exist_ok=True)
    c = Client(args.base)
    st, b = c.req("POST", "/v1/auth/signup", {"email": OWNER, "password": PASSWORD})
    token = expect(st, b, "signup", ok=(200, 201))["access_token"]
    st, b = c.req("POST", "/v1/tenants", {"slug": TENANT, "name": "Ledger bench"}, token)
    expect(st, b, "tenant", ok=(200, 201))
    accounts = f"/v1/tenants/{TENANT}/ledger/accounts"

    def account(client, name, allow_negative=False):
        body = {"name": name, "currency": "USD", "scale": 2, "allow_negative": allow_negative}
        st, b = client.req("POST", accounts, body, token)
        return expect(st, b, f"account {name}", ok=(201,))["id"]

    house = account(c, "House", allow_negative=True)
    t0 = time.time()

    def funded_wallet(client, i):
        wallet = account(client, f"Wallet {i}")
        body = {"from": house, "to": wallet, "amount": FUNDING}
        st, b = client.req("POST", TRANSFERS, body, token, {"Idempotency-Key": f"fund-{i}"})
        expect(st, b, f"funding wallet {i}", ok=(201,))
        return wallet

    wallets = run_parallel(args.base, list(range(args.accounts + 2)), funded_wallet,
                           args.concurrency)
    with open(os.path.join(args.out_dir, "accounts.txt"), "w") as f:
        f.write("\n".join(wallets[: args.accounts]) + "\n")
    with open(os.path.join(args.out_dir, "hot.txt"), "w") as f:
        f.write("\n".join(wallets[args.accounts:]) + "\n")
    with open(os.path.join(args.out_dir, "state.json"), "w") as f:
        json.dump({"tenant": TENANT, "house": house, "accounts": args.accounts}, f)
    log(f"ledger: {args.accounts} + 2 wallets opened and funded in {time.time() - t0:.1f} s")


def run_wrk(args, env, seconds, out_path):
    """wrk for `seconds` (bounded: killed a minute after, should it hang);
    its CPU time in seconds."""
    e = dict(os.environ, **env, L_OUT=out_path)
    cmd = ["wrk", f"-t{min(args.threads, args.conns)}", f"-c{args.conns}", f"-d{seconds}s",
           f"--timeout={args.timeout}s", "-s", os.path.join(HERE, "ledger.lua"), args.base]
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timer = threading.Timer(seconds + 60, p.kill)
    timer.start()
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    timer.cancel()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"wrk failed: {out.decode(errors='replace')}")
    return ru.ru_utime + ru.ru_stime


def measure(args):
    accounts = os.path.join(args.out_dir, "hot.txt" if args.mode == "hot" else "accounts.txt")
    env = {"L_MODE": args.mode, "L_ACCOUNTS": accounts, "L_TOKEN": login(Client(args.base)),
           "L_PATH": TRANSFERS}
    # keys are the tenant's: each run, warm-up or not, has a prefix of its own
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    scratch = os.path.dirname(os.path.abspath(args.out))
    if args.warmup > 0:
        env["L_KEY_PREFIX"] = f"{args.mode}-warmup-{stamp}"
        run_wrk(args, env, args.warmup, os.path.join(scratch, f"{args.mode}.warmup.json"))
        drain(args.pid)
    env["L_KEY_PREFIX"] = f"{args.mode}-{stamp}"
    wrk_out = os.path.join(scratch, f"{args.mode}.wrk.json")
    cpu0 = proc_cpu_s(args.pid)
    gen_cpu = run_wrk(args, env, args.duration, wrk_out)
    drain(args.pid)
    cpu = proc_cpu_s(args.pid) - cpu0
    with open(wrk_out) as f:
        w = json.load(f)
    secs = w["duration_us"] / 1e6
    statuses = {k: int(v) for k, v in w["statuses"].items()}
    created = statuses.get("201", 0)
    sock = sum(w["socket_errors"].values())
    lat = w["latency"]
    res = {
        "workload": args.mode, "conns": args.conns, "requests": w["requests"],
        "seconds": round(secs, 3), "rps": round(w["requests"] / secs, 1),
        "ok_rps": round(created / secs, 1),
        "p50_ms": round(lat["p50_us"] / 1000, 2), "p99_ms": round(lat["p99_us"] / 1000, 2),
        "statuses": statuses, "ok": created,
        "errors": (w["requests"] - created) + sock, "socket_errors": w["socket_errors"],
        "server_cpu_ms_per_req": round(1000 * cpu / max(1, w["requests"]), 3),
        "loadgen_cpu_s": round(gen_cpu, 2),
    }
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{args.mode:6} {res['ok_rps']:>9.1f} transfers/s  p50 {res['p50_ms']} ms  "
          f"p99 {res['p99_ms']} ms  errors {res['errors']}  statuses {statuses}", flush=True)


WHAT = {
    "pairs": "transfer between a random pair of {accounts} accounts",
    "hot": "transfer back and forth within one pair",
    "W3": "create a note in own tenant (compare.sh's W3, the yardstick)",
}
BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def report(args):
    rows = []
    for backend in ("sqlite", "postgres"):
        d = os.path.join(args.run_dir, backend)
        if not os.path.isdir(d):
            continue
        with open(os.path.join(d, "state.json")) as f:
            accounts = json.load(f)["accounts"]
        for w in ("pairs", "hot", "W3"):
            path = os.path.join(d, f"{w}.json")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                r = json.load(f)
            if w == "W3":  # measure.py's report: the workload under its name
                r = r["workloads"]["W3"]
            rows.append({"workload": w, "what": WHAT[w].format(accounts=accounts),
                         "backend": BACKENDS[backend], **r})
    lines = [
        "# Ledger transfers (benches/ledger.sh)", "",
        f"Started {args.started}, commit {args.commit}, {os.cpu_count()} cores; "
        f"command `{args.command}`.", "",
        "| workload | what | backend | 201/s | req/s | p50 ms | p99 ms | errors | statuses "
        "| server CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(f"| {r['workload']} | {r['what']} | {r['backend']} | {r['ok_rps']} "
                     f"| {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} "
                     f"| {statuses} | {r.get('server_cpu_ms_per_req', '')} |")
    lines += ["", "201/s counts transfers (or creates) answered 201; errors are every other "
              "answer and every socket error."]
    errors = [r for r in rows if r["errors"]]
    for r in errors:
        lines.append(f"- **{r['workload']} on {r['backend']}: {r['errors']} errors** "
                     f"(statuses {r['statuses']}, socket {r.get('socket_errors')})")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out_md, "w") as f:
        f.write(text)
    with open(args.out_json, "w") as f:
        json.dump({"started": args.started, "commit": args.commit, "command": args.command,
                   "rows": rows}, f, indent=1)
    # a run with errors is not a measurement to cite
    return 1 if errors else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["seed", "measure", "report"])
    ap.add_argument("--base")
    ap.add_argument("--out-dir")
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--mode", choices=["pairs", "hot"])
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--run-dir")
    ap.add_argument("--out-md")
    ap.add_argument("--out-json")
    ap.add_argument("--started", default="")
    ap.add_argument("--command", dest="command_line", default="")
    ap.add_argument("--commit", default="")
    args = ap.parse_args()
    if args.command == "seed":
        seed(args)
    elif args.command == "measure":
        measure(args)
    else:
        args.command = args.command_line
        sys.exit(report(args))


if __name__ == "__main__":
    main()
